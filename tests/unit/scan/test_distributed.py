"""Distributed scanning on a real dask LocalCluster: same results as one process, dead workers lose nothing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

import cloudpickle
from click.testing import CliRunner
from distributed import Client, LocalCluster

from ecuscan.cli.scan import command as scan_command
from ecuscan.model import ScanFailure, ScanResult
from ecuscan.scan.analysis import scan_task
from ecuscan.scan.cache import sha256_file
from ecuscan.scan.dask import (
    DaskError,
    DaskSpec,
    local_cluster,
    open_client,
    parse_spec,
    scan_distributed,
)
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner
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


# --- a real multi-process cluster: `dask scheduler` and two `dask worker` processes ---------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def dask_cli_cluster(tmp_path: Path) -> Iterator[str]:
    """``dask scheduler`` and two single-threaded ``dask worker`` processes on 127.0.0.1; always torn down."""
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask is None:
        pytest.skip("the dask command line (dask[distributed]) is not installed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        with (logs / f"{name}.log").open("wb") as log:
            procs.append(subprocess.Popen([dask, *args], stdout=log, stderr=subprocess.STDOUT,
                                          env={**os.environ, "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}))

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
        for n in (1, 2):
            start(f"worker{n}", "worker", address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
                  "--no-dashboard", "--name", f"ecuscan-test-{n}")
        deadline = time.monotonic() + 120
        with Client(address, timeout="60s") as client:
            while len(client.nthreads()) < 2:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    text = "\n".join((logs / f).read_text(errors="replace")[-1500:] for f in sorted(os.listdir(logs)))
                    pytest.fail(f"the dask cluster did not come up with two workers:\n{text}")
                time.sleep(0.5)
        yield address
    finally:
        _stop(procs)


def _fresh_pg_database() -> str:
    import sqlalchemy as sa

    base = os.environ["ECUSCAN_TEST_PG"]
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def _scan_json(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    res = subprocess.run([sys.executable, "-m", "ecuscan", "scan", "--json", "--no-cache", *args],
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    doc: dict[str, Any] = json.loads(res.stdout)
    assert doc["errors"] == []
    return doc


@pytest.mark.postgres
def test_scan_on_a_multiprocess_cluster_equals_local_and_workers_write_postgres(
        dask_cli_cluster: str, images: list[Path], tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(images[0].parent, tree)
    (tree / "same-bytes-twice.bin").write_bytes((tree / images[1].name).read_bytes())  # two workers, one hash
    env = {**os.environ, "ECUSCAN_STORE": f"sqlite:///{tmp_path / 'unused.sqlite'}"}
    local = _scan_json([str(tree), "--jobs", "1", "--store", f"sqlite:///{tmp_path / 'local.sqlite'}"], env)
    url = _fresh_pg_database()
    remote = _scan_json([str(tree), "--dask", dask_cli_cluster, "--store", url], env)

    def by_path(doc: dict[str, Any]) -> dict[str, Any]:
        return {r["path"]: r for r in doc["results"]}

    assert by_path(remote).keys() == by_path(local).keys() == {str(p) for p in tree.iterdir()}
    for path, want in by_path(local).items():
        got = by_path(remote)[path]
        assert got["components"] == want["components"], path  # the analysis, not only the hash
        assert got == want, path
    assert any(r["components"] for r in local["results"])  # the images really identify something

    # the workers wrote PostgreSQL themselves, both of them, and the parent did not
    with Client(dask_cli_cluster, timeout="30s") as client:
        from ecuscan.scan.dask import worker_writes

        writes = client.run(worker_writes)
    per_worker = [w.get(url, 0) for w in writes.values()]
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker), writes
    with Store.open(url) as store:
        assert store.check().ok
        with Store.open(f"sqlite:///{tmp_path / 'local.sqlite'}") as reference:
            assert store.hashes() == reference.hashes()
        assert sum(per_worker) >= len(store.hashes())
        for path in tree.iterdir():
            assert store.for_path(str(path)) is not None
