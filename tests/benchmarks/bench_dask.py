"""Throughput of ``ecuscan scan --dask`` against the single-process scan, and a portfolio estimate.

    /work/venv/bin/python tests/benchmarks/bench_dask.py [--sample 300] [--all] [--corpus DIR]

Images: ELF files of at least 8 KiB under the development corpus' ``root/`` (Debian trixie
armhf/arm64/riscv64 packages), a deterministic sample (every k-th path in sorted order) unless
``--all``. Every configuration analyses every image (no cache) and writes into a fresh SQLite
store through the one writer, exactly as ``ecuscan scan`` does:

1. single process (``Scanner`` with no pool),
2. a LocalCluster with 1 worker process (1 thread), 3. the same with 2 worker processes.

Cluster start-up (including each worker importing ecuscan and loading the catalog) is measured
apart from the scan: it is paid once per batch, not per image.

The 10,000-image / 16-worker estimate is built from measured per-image costs, not guessed:

- ``c`` = mean analysis cost per image in the single-process run (hash, load, identify,
  provenance; measured per image from the observer's timestamps minus the store write),
- ``w`` = mean time the parent spends writing one image's results (``Store.put_many``),
- ``o`` = dask overhead per image = (1-worker wall - single-process wall) / n: scheduling,
  task/result serialisation and transfer. This is per image on the *worker* side of the
  pipeline (the worker is idle while it waits for its next task),
- ``r`` = the parent's cost to receive one result: unpickling it (measured on the sample).

With W workers the workers finish ``N * (c + o) / W`` seconds of work; the one parent must
keep up with ``N * (w + r)`` seconds of writing; the batch cannot end before its largest
image (``c_max``). Estimate = start-up + max(N (c + o) / W, N (w + r), c_max). It is printed
for images like the sample and for a portfolio of ``--portfolio-mib`` (default 4 MiB) mean
size, scaling ``c`` linearly with size (the signature scan and hashing over the bytes
dominate; the writer's cost follows the number of results, not the bytes).

Measured on the shared 2-core development machine (all 1676 corpus ELFs, 242 MiB, mean
148 KiB): single process 57 images/s; LocalCluster 1 worker 42 images/s, 2 workers 53
images/s (x1.26 over 1 worker: the parent, the scheduler and other users share the two
cores). c = 16.8 ms, w = 0.8 ms, o = 6.2 ms, largest image 1.2 s. Estimate for 10,000
such images on 16 workers: ~0.4 min, worker-bound; for 10,000 images of 4 MiB mean:
10,000 x (0.47 s + 0.006 s) / 16 = ~4.9 min of worker time, the writer needs ~9 s, so
about 5 min with start-up. ``o`` is mostly the scheduler round trip before a worker gets
its next task: clusters ecuscan starts use worker-saturation 1.0 (no prefetch) so that a
dying worker takes only its own image; with images of seconds each the round trip is noise.
The 2-worker run on this 2-core machine checks the scaling assumption: its speed-up over
1 worker is printed next to the ideal 2.0 (the machine is shared, so it is a lower bound).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from distributed import Client

from ecuscan.model import ScanFailure, ScanOutcome
from ecuscan.scan.dask import local_cluster
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner
from ecuscan.store import Store

CORPUS = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache" / "ecuscan" / "dev-corpus"))


class TimedStore(Store):
    """The real store, timing the writer."""

    write_seconds = 0.0

    def put_many(self, results: Any) -> None:
        t = time.perf_counter()
        super().put_many(results)
        TimedStore.write_seconds += time.perf_counter() - t


class Stamps:
    """Observer recording when each image finished."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.failures = 0

    def planned(self, total: int) -> None:
        self.start = time.perf_counter()

    def finished(self, outcome: ScanOutcome, cached: bool) -> None:
        self.times.append(time.perf_counter())
        self.failures += isinstance(outcome, ScanFailure)


def _warm() -> None:
    """Import the analysis stack and load the catalog on a worker (paid once per worker process)."""
    from ecuscan import formats, identify, provenance  # noqa: F401
    from ecuscan.catalog import load_catalog

    load_catalog()


def elf_files(root: Path, min_size: int = 8 * 1024) -> list[Path]:
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file() or p.stat().st_size < min_size:
                continue
            with p.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    out.append(p)
    return sorted(out)


def run(files: list[Path], dask: str | None, db: Path) -> tuple[float, Stamps, list[ScanOutcome], float]:
    TimedStore.write_seconds = 0.0
    stamps = Stamps()
    with TimedStore.open(f"sqlite:///{db}") as store:
        scanner = Scanner(store, options=ScanOptions(use_cache=False, dask=dask), observer=stamps)
        t = time.perf_counter()
        outcomes = list(scanner.scan_paths(files))
        wall = time.perf_counter() - t
    return wall, stamps, outcomes, TimedStore.write_seconds


def main() -> int:
    ap = argparse.ArgumentParser(description="dask throughput benchmark")
    ap.add_argument("--corpus", type=Path, default=CORPUS / "root")
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--portfolio", type=int, default=10_000)
    ap.add_argument("--portfolio-workers", type=int, default=16)
    ap.add_argument("--portfolio-mib", type=float, default=4.0,
                    help="mean image size of a second, ECU-application-like portfolio, MiB")
    args = ap.parse_args()
    files = elf_files(args.corpus)
    if not files:
        print(f"no ELF files under {args.corpus}: fetch the development corpus first")
        return 2
    if not args.all and len(files) > args.sample:
        step = len(files) / args.sample
        files = [files[int(i * step)] for i in range(args.sample)]
    n = len(files)
    mib = sum(p.stat().st_size for p in files) / 2**20
    print(f"{n} ELF images, {mib:.1f} MiB (mean {1024 * mib / n:.0f} KiB), cpu count {os.cpu_count()}")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        wall1, st, outcomes, write1 = run(files, None, Path(d) / "single.sqlite")
        gaps = [b - a for a, b in zip([st.start, *st.times[:-1]], st.times)]
        c = (wall1 - write1) / n
        c_max = max(gaps)
        tops = [o for o in outcomes if not isinstance(o, ScanFailure) and o.parent is None]
        t = time.perf_counter()
        pickle.loads(pickle.dumps(outcomes))
        r = (time.perf_counter() - t) / n
        rows.append(("single process", 0.0, wall1, st.failures))
        walls = {}
        for workers in (1, 2):
            t = time.perf_counter()
            with local_cluster(workers) as cluster:
                with Client(cluster) as client:
                    client.run(_warm)
                startup = time.perf_counter() - t
                wall, st2, outs, _w = run(files, cluster.scheduler_address, Path(d) / f"dask{workers}.sqlite")
            walls[workers] = wall
            same = sorted(o.sha256 for o in outs if not isinstance(o, ScanFailure)) == sorted(
                o.sha256 for o in outcomes if not isinstance(o, ScanFailure))
            rows.append((f"dask LocalCluster {workers} worker(s)" + ("" if same else " (RESULTS DIFFER)"),
                         startup, wall, st2.failures))
    print(f"\n{'configuration':<34} {'start-up s':>10} {'scan s':>8} {'images/s':>9} {'MiB/s':>7} {'failed':>6}")
    for name, startup, wall, failed in rows:
        print(f"{name:<34} {startup:>10.1f} {wall:>8.1f} {n / wall:>9.1f} {mib / wall:>7.2f} {failed:>6}")
    w = write1 / n
    o = max(0.0, (walls[1] - wall1) / n)
    print(f"\nper image: analysis c = {1000 * c:.1f} ms (largest {c_max:.2f} s), store write w = {1000 * w:.2f} ms, "
          f"result unpickle r = {1000 * r:.2f} ms, dask overhead o = {1000 * o:.1f} ms; "
          f"{len(tops)} top-level results")
    print(f"2 workers vs 1 worker: x{walls[1] / walls[2]:.2f} (ideal 2.0 on 2 otherwise idle cores); "
          f"2 workers vs single process: x{wall1 / walls[2]:.2f}")
    big_n, big_w = args.portfolio, args.portfolio_workers
    mean_kib = 1024 * mib / n
    sizes = (("like these", mean_kib), (f"of {args.portfolio_mib} MiB mean", 1024 * args.portfolio_mib))
    for label, target_kib in sizes:
        scale = target_kib / mean_kib
        workers_s = big_n * (c * scale + o) / big_w
        writer_s = big_n * (w + r)
        est = 10 + max(workers_s, writer_s, c_max * scale)
        print(f"estimate: {big_n} images {label} on {big_w} workers: workers {workers_s / 60:.1f} min, "
              f"one writer {writer_s / 60:.1f} min, largest image {c_max * scale:.1f} s -> about {est / 60:.1f} min "
              f"({'worker' if workers_s >= writer_s else 'writer'}-bound; ~10 s cluster start-up; "
              f"analysis cost scaled x{scale:.1f} by size)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
