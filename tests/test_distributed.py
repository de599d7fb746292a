"""Distributed scanning on a real dask LocalCluster: same results as one process, dead workers lose nothing."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

import cloudpickle
from click.testing import CliRunner
from distributed import Client, LocalCluster

from ecuscan.cli.scan import command as scan_command
from ecuscan.distributed import (
    DaskError,
    DaskSpec,
    local_cluster,
    open_client,
    parse_spec,
    scan_distributed,
)
from ecuscan.model import ScanFailure, ScanResult
from ecuscan.scanner import Scanner, ScanOptions, scan_task, sha256_file
from ecuscan.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from scan_images import make_images

pytestmark = [pytest.mark.slow,
              # the scheduler's health endpoint moves off port 8787 when another cluster holds it
              pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")]

# The test tasks below are shipped to the worker processes by value (they cannot import tests/).
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def die_once_on(path: str, options: Any, sha256: Any) -> Any:
    """Kill the worker process the first time it is handed the marked file; scan normally after."""
    victim = os.environ.get("ECUSCAN_TEST_VICTIM", "")
    marker = Path(path).parent.parent / "killed.marker"
    if Path(path).name == Path(victim).name and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(17)
    return scan_task(path, options, sha256)


def always_die_on(path: str, options: Any, sha256: Any) -> Any:
    """Kill every worker that is handed a file named poison*."""
    if Path(path).name.startswith("poison"):
        os._exit(17)
    return scan_task(path, options, sha256)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster(2, worker_deaths=2) as lc:
        yield lc


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_images(tmp_path_factory.mktemp("dist") / "imgs", 10)


def _by_path(outcomes: list[Any]) -> dict[str, dict[str, Any]]:
    assert not [o for o in outcomes if isinstance(o, ScanFailure)]
    return {o.path: o.to_dict() for o in outcomes}


def test_parse_spec() -> None:
    assert parse_spec("local:2") == DaskSpec(workers=2)
    assert parse_spec("local").workers == max(1, os.cpu_count() or 1)
    assert parse_spec("tcp://sched:8786") == DaskSpec(address="tcp://sched:8786")
    for bad in ("local:0", "local:x", "sched:8786", "tcp://", ""):
        with pytest.raises(DaskError):
            parse_spec(bad)


def test_cluster_scan_equals_single_process_and_is_stored(cluster: LocalCluster, images: list[Path],
                                                          tmp_path: Path) -> None:
    single = list(Scanner(None, options=ScanOptions(use_cache=False)).scan_paths([images[0].parent]))

    class Count:
        def __init__(self) -> None:
            self.total = 0
            self.done: list[tuple[str, bool]] = []

        def planned(self, total: int) -> None:
            self.total = total

        def finished(self, outcome: Any, cached: bool) -> None:
            self.done.append((outcome.path, cached))

    obs = Count()
    url = f"sqlite:///{tmp_path / 'inv.sqlite'}"
    with Store.open(url) as store:
        scanner = Scanner(store, options=ScanOptions(dask=cluster.scheduler_address), observer=obs)
        distributed = list(scanner.scan_paths([images[0].parent]))
        assert _by_path(distributed) == _by_path(single)
        assert obs.total == len(images)
        assert sorted(p for p, _ in obs.done) == sorted(str(p) for p in images)
        assert not any(cached for _, cached in obs.done)
        # the one writer stored every image and every container member
        assert store.hashes() == {o.sha256 for o in single}
        assert store.check().ok
        # a second distributed run is served from the cache in the parent: nothing is submitted
        obs.done.clear()
        again = list(scanner.scan_paths([images[0].parent]))
        assert all(cached for _, cached in obs.done) and len(obs.done) == len(images)
        assert {o.path for o in again} == {str(p) for p in images}
    assert any(o.components for o in single)  # the images really identify something


def test_worker_killed_mid_run_loses_nothing(cluster: LocalCluster, images: list[Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    victim = images[len(images) // 2]
    monkeypatch.setenv("ECUSCAN_TEST_VICTIM", str(victim))
    # workers were started before the variable was set: hand it over through the task environment
    client = Client(cluster)
    try:
        client.run(lambda: os.environ.__setitem__("ECUSCAN_TEST_VICTIM", str(victim)))
        marker = images[0].parent.parent / "killed.marker"
        marker.unlink(missing_ok=True)
        pending = [(str(p), sha256_file(p)) for p in images]
        got = list(scan_distributed(pending, ScanOptions(use_cache=False), client, task=die_once_on))
        client.run(lambda: os.environ.pop("ECUSCAN_TEST_VICTIM", None))
    finally:
        client.close()
    assert marker.exists(), "the victim's worker was not killed: the test proved nothing"
    assert sorted(p for p, _ in got) == sorted(str(p) for p in images)
    flat = [r for _, res in got for r in (res if isinstance(res, list) else [res])]
    single = list(Scanner(None, options=ScanOptions(use_cache=False)).scan_paths(images))
    assert _by_path(flat) == _by_path(single)


def test_image_that_kills_every_worker_becomes_a_failure(cluster: LocalCluster, images: list[Path],
                                                         tmp_path: Path) -> None:
    poison = tmp_path / "poison.bin"
    poison.write_bytes(images[1].read_bytes() + b"poison")
    batch = [images[1], poison, images[2]]
    with Client(cluster) as client:
        got = dict(scan_distributed([(str(p), sha256_file(p)) for p in batch], ScanOptions(), client,
                                    task=always_die_on))
    assert isinstance(got[str(poison)], ScanFailure)
    assert "died" in got[str(poison)].reason
    assert all(isinstance(got[str(p)], list) and isinstance(got[str(p)][0], ScanResult) for p in batch if p != poison)


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(DaskError, match="cannot reach the dask scheduler"):
        with open_client("tcp://127.0.0.1:9", connect_timeout="1s"):
            pass


def test_worker_refuses_a_path_with_other_bytes(images: list[Path]) -> None:
    wrong = scan_task(str(images[1]), ScanOptions(), sha256_file(images[2]))
    assert isinstance(wrong, ScanFailure) and "other bytes" in wrong.reason


def test_cli_local_cluster_end_to_end(images: list[Path], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    res = CliRunner().invoke(scan_command, [str(images[0].parent), "--store", url, "--json", "--dask", "local:2",
                                            "--no-cache"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert {r["path"] for r in doc["results"]} == {str(p) for p in images}
    assert doc["errors"] == []
    with Store.open(url) as store:
        assert store.check().ok
        assert all(store.for_path(str(p)) is not None for p in images)


def test_cli_rejects_bad_dask_options(images: list[Path], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.sqlite'}"
    res = CliRunner().invoke(scan_command, [str(images[0]), "--store", url, "--dask", "nowhere"])
    assert res.exit_code == 2 and "local:N" in res.output
    res = CliRunner().invoke(scan_command, [str(images[0]), "--store", url, "--dask", "local:2", "-j", "2"])
    assert res.exit_code == 2 and "alternatives" in res.output
