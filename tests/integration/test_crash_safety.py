"""Crash safety: a batch scan killed with SIGKILL at random points leaves a sound store, and a
rerun analyses exactly the images that were not stored yet.

The scan runs as a real subprocess (``python -m ecuscan scan DIR --store sqlite:///...``). Kill
points are drawn from a seeded RNG: one during start-up/schema creation, the others after a
random number of images has been stored plus a random delay of up to ~60 ms, so they land
inside analysis, inside a transaction or between images. The store promises that an image
and its path (and a container with all its members) are written in one transaction.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ecuscan.model import ImageFormat, ScanOutcome
from ecuscan.scan.cache import sha256_file
from ecuscan.scan.pipeline import Scanner
from ecuscan.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "scan"))  # scan_images
from scan_images import make_images

pytestmark = pytest.mark.slow

N_IMAGES = 200
RUNS = 6


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    # 512 KiB raw dumps: a full scan in one process takes several seconds, so it spans several of the
    # store's one-second write batches and a kill lands between them
    return make_images(tmp_path_factory.mktemp("crash") / "imgs", N_IMAGES, seed=7, raw_size=512 * 1024)


def _stored_top_level(db: Path) -> int:
    """Top-level paths stored so far, read without disturbing the writer (-1: no tables yet)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            return int(conn.execute("SELECT count(*) FROM paths WHERE path NOT LIKE '%!%'").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


def _killed_scan(directory: Path, db: Path, rng: random.Random, early: bool) -> tuple[int | None, float]:
    """Start a scan and SIGKILL it at a random point; returns (exit status, seconds it ran)."""
    env = {**os.environ, "ECUSCAN_STORE": str(db)}
    proc = subprocess.Popen([sys.executable, "-m", "ecuscan", "scan", str(directory), "--jobs", "1", "--store",
                             f"sqlite:///{db}", "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    start = time.monotonic()
    if early:
        time.sleep(rng.uniform(0.05, 0.5))  # imports, store creation and migration, first image
    else:
        # results are written in batches (at most a second apart): wait for the first batch, then kill
        # at a random point soon after it, before the last batch (a whole scan of these images takes
        # two or more seconds: waiting for a count of stored paths instead could wait for the last batch)
        while proc.poll() is None and _stored_top_level(db) < 1 and time.monotonic() - start < 60:
            time.sleep(0.003)
        time.sleep(rng.uniform(0.0, 0.25))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return proc.returncode, time.monotonic() - start


class CountingObserver:
    """Counts top-level files analysed vs served from the store."""

    def __init__(self) -> None:
        self.analysed = 0
        self.cached = 0

    def planned(self, total: int) -> None:
        """Not needed here."""

    def finished(self, outcome: ScanOutcome, cached: bool) -> None:
        if cached:
            self.cached += 1
        else:
            self.analysed += 1


def _assert_sound(store: Store, images: list[Path]) -> None:
    report = store.check()
    assert report.ok, report.problems
    by_path: dict[str, Any] = {}
    results = list(store.results())  # every stored document parses
    for r in results:
        by_path[r.path] = r
    on_disk = {str(p): sha256_file(p) for p in images}
    for r in results:
        if r.parent is None:
            assert on_disk[r.path] == r.sha256  # a stored top-level image is the file's real content
            got = store.for_path(r.path)
            assert got is not None and got.sha256 == r.sha256  # its path row was written with it
        if r.format is ImageFormat.ARCHIVE:
            members = [m for m in results if m.parent == r.path]
            assert len(members) == int(r.metadata["members"]) == 3, f"container {r.path} stored without its members"
        if r.parent is not None:
            assert r.parent in by_path, f"member {r.path} stored without its container"


def test_sigkill_at_random_points_never_corrupts_and_rerun_finishes(images: list[Path], tmp_path: Path) -> None:
    rng = random.Random(20240611)
    directory = images[0].parent
    mid_run_kills = 0
    log = []
    for run in range(RUNS):
        db = tmp_path / f"run{run}.sqlite"
        status, ran = _killed_scan(directory, db, rng, early=(run == 0))
        if not db.exists():
            log.append((run, status, round(ran, 2), "no store yet"))
            continue
        with Store.open(f"sqlite:///{db}") as store:
            _assert_sound(store, images)
            held = store.hashes()
            missing = [p for p in images if sha256_file(p) not in held]
            if status == -signal.SIGKILL and 0 < len(missing) < N_IMAGES:
                mid_run_kills += 1
            obs = CountingObserver()
            outcomes = list(Scanner(store, observer=obs).scan_paths([directory]))
            assert not [o for o in outcomes if not hasattr(o, "components")], "the rerun had failures"
            assert obs.analysed == len(missing), (run, obs.analysed, len(missing))
            assert obs.cached == N_IMAGES - len(missing)
            _assert_sound(store, images)
            assert all(sha256_file(p) in store.hashes() for p in images)
        log.append((run, status, round(ran, 2), f"{N_IMAGES - len(missing)} stored before the rerun"))
    print("crash-safety runs:", log)
    # the kills must really have interrupted scans, or this test proved nothing
    assert mid_run_kills >= RUNS - 2, log
