"""The one windowed submit loop (local process pool and dask share it), ``--jobs auto``, and one read per file."""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from ecuscan.model import ScanFailure, ScanResult
from ecuscan.scan.executors import LocalPool, auto_workers, run_windowed
from ecuscan.scan.options import JOBS_AUTO, ScanOptions
from ecuscan.scan.pipeline import Scanner

sys.path.insert(0, str(Path(__file__).parent))
from scan_images import make_images


def test_window_bounds_what_is_in_flight_and_every_item_comes_back() -> None:
    lock = threading.Lock()
    live = peak = 0

    def work(x: int) -> int:
        nonlocal live, peak
        with lock:
            live += 1
            peak = max(peak, live)
        time.sleep(0.002)
        with lock:
            live -= 1
        if x % 7 == 0:
            raise ValueError(f"bad {x}")
        return x * 2

    with ThreadPoolExecutor(8) as pool:
        got = dict(run_windowed(lambda x: pool.submit(work, x), range(100), 3, lambda x, e: -x))
    assert peak <= 3
    assert got == {x: (-x if x % 7 == 0 else 2 * x) for x in range(100)}


def test_retry_on_only_retries_that_error_and_only_so_often() -> None:
    calls: dict[int, int] = {}

    def work(x: int) -> int:
        calls[x] = calls.get(x, 0) + 1
        if x == 1:
            raise BrokenProcessPool("pool died")
        if x == 2:
            raise KeyError("not retried")
        return x

    with ThreadPoolExecutor(2) as pool:
        got = dict(run_windowed(lambda x: pool.submit(work, x), [0, 1, 2], 2, lambda x, e: type(e).__name__,
                                retries=2, retry_on=(BrokenProcessPool,)))
    assert got == {0: 0, 1: "BrokenProcessPool", 2: "KeyError"}
    assert calls == {0: 1, 1: 3, 2: 1}


def die_on_three(x: int) -> int:
    if x == 3:
        os._exit(17)  # a worker killed mid-task (OOM kill, segfault in a native parser)
    return x + 100


def test_local_pool_survives_a_dying_worker() -> None:
    with LocalPool(2) as pool:
        got = dict(run_windowed(lambda x: pool.submit(die_on_three, x), range(8), 4,
                                lambda x, e: f"failed: {type(e).__name__}", retries=1,
                                retry_on=(BrokenProcessPool,)))
    assert got[3] == "failed: BrokenProcessPool"
    # everything else finished: items in flight when the pool broke were run again on a new pool
    assert {x: got[x] for x in got if x != 3} == {x: x + 100 for x in range(8) if x != 3}


def test_auto_workers() -> None:
    assert auto_workers(1, cpus=4) == 1 and auto_workers(15, cpus=4) == 1
    assert auto_workers(32, cpus=4) == 2 and auto_workers(10_000, cpus=4) == 4


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_images(tmp_path_factory.mktemp("exec") / "imgs", 40)


def _by_path(outcomes: list[object]) -> dict[str, dict[str, object]]:
    assert not [o for o in outcomes if isinstance(o, ScanFailure)]
    return {o.path: o.to_dict() for o in outcomes if isinstance(o, ScanResult)}


def test_jobs_auto_gives_the_one_process_results(images: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import ecuscan.scan.executors

    monkeypatch.setattr(ecuscan.scan.executors, "available_cpus", lambda: 2)  # a pool even on a 1-CPU runner
    used: list[int] = []
    real = ecuscan.scan.executors.LocalPool.__init__

    def spy(self: LocalPool, workers: int, *args: object) -> None:
        used.append(workers)
        real(self, workers, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ecuscan.scan.executors.LocalPool, "__init__", spy)
    one = list(Scanner(None, options=ScanOptions(use_cache=False, jobs=1)).scan_paths([images[0].parent]))
    auto = list(Scanner(None, options=ScanOptions(use_cache=False, jobs=JOBS_AUTO)).scan_paths([images[0].parent]))
    assert used == [2], "40 files with --jobs auto on 2 CPUs should use a pool of 2"
    assert _by_path(auto) == _by_path(one)


def _read_bytes_so_far() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
def test_a_file_is_read_once_through_its_map(tmp_path: Path) -> None:
    big = tmp_path / "tree" / "flash.bin"
    big.parent.mkdir()
    big.write_bytes(os.urandom(1 << 20) * 24)  # 24 MiB
    scanner = Scanner(None, options=ScanOptions(use_cache=False))
    before = _read_bytes_so_far()
    (result,) = scanner.scan_paths([big.parent])
    read = _read_bytes_so_far() - before
    assert isinstance(result, ScanResult) and result.size == 24 << 20
    # hashing, detection, loading and identification all used the one mmap: no read() of the file
    assert read < 4 << 20, f"{read} bytes read through read() for a 24 MiB file"


def _pool_workers(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(c) for c in f.read().split()]
    except OSError:
        return []
    out = []
    for kid in kids:
        try:
            with open(f"/proc/{kid}/cmdline", "rb") as f:
                if b"ecuscan" in f.read():  # forked workers share the parent's command line
                    out.append(kid)
        except OSError:
            pass
    return out


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_pool_workers_exit_when_the_scan_is_killed(images: list[Path], tmp_path: Path) -> None:
    import signal
    import subprocess

    env = {**os.environ, "ECUSCAN_STORE": f"sqlite:///{tmp_path / 's.sqlite'}"}
    proc = subprocess.Popen([sys.executable, "-m", "ecuscan", "scan", "--no-cache", "--json", "--jobs", "2",
                             str(images[0].parent)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while len(workers) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            workers = _pool_workers(proc.pid)
        if len(workers) < 2:
            pytest.skip("the scan ended before its pool could be observed")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [w for w in workers if Path(f"/proc/{w}/cmdline").exists()
                and b"ecuscan" in Path(f"/proc/{w}/cmdline").read_bytes()]
        assert not left, f"pool workers {left} outlived the killed scan"
    finally:
        if proc.poll() is None:
            proc.kill()


def _dies_on_killer(path: str, *args: object, **kwargs: object) -> object:
    import ecuscan.scan.analysis

    if path.endswith("killer.bin"):
        os._exit(17)  # a native parser's segfault or an OOM kill, in the worker
    return ecuscan.scan.analysis.scan_path(path, *args, **kwargs)  # type: ignore[arg-type]


def test_a_file_that_kills_its_worker_fails_alone(images: list[Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Pool tasks carry chunks of files: the chunk in flight with a file that kills its worker
    (and every chunk lost with the pool) is run again file by file, so that file alone fails."""
    import shutil

    import ecuscan.scan.pipeline

    tree = tmp_path / "tree"
    shutil.copytree(images[0].parent, tree)
    (tree / "killer.bin").write_bytes(b"boom")
    one = _by_path(list(Scanner(None, options=ScanOptions(use_cache=False, jobs=1)).scan_paths([images[0].parent])))
    monkeypatch.setattr(ecuscan.scan.pipeline, "scan_path", _dies_on_killer)  # inherited by the forked workers
    outcomes = list(Scanner(None, options=ScanOptions(use_cache=False, jobs=2)).scan_paths([tree]))
    failures = [o for o in outcomes if isinstance(o, ScanFailure)]
    assert [f.path for f in failures] == [str(tree / "killer.bin")]
    assert "worker failed" in failures[0].reason
    got = _by_path([o for o in outcomes if not isinstance(o, ScanFailure)])
    rename = {p: p.replace(str(images[0].parent), str(tree), 1) for p in one}
    assert set(got) == set(rename.values())
    assert all(got[rename[p]]["sha256"] == d["sha256"] and got[rename[p]]["components"] == d["components"]
               for p, d in one.items())
