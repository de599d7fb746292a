"""Throughput of identification over the development corpus, and peak memory on a 256 MB image.

    /work/venv/bin/python tests/benchmarks/bench_identify_throughput.py [--corpus DIR] [--no-big]

Prints MB/s of the signature scan alone (the part that reads every byte), of the full
``identify`` (all methods, on images loaded beforehand) and of loading + identify (format
detection and parsing from the file's bytes included: what a scan of one file costs before the
provenance and the store), one process. Each line gives wall-clock MB/s and CPU MB/s (process
time): on a shared machine the CPU figure is the one that does not depend on the other jobs.
Then builds a ~256 MB raw image by concatenating corpus files into a temporary file, maps it
with mmap and runs ``identify`` on it in a child process, reporting that process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ecuscan.catalog import load_catalog
from ecuscan.formats import load
from ecuscan.identify import identify
from ecuscan.identify.signatures import compile_signatures, scan
from ecuscan.limits import DEFAULT_LIMITS

DEFAULT_CORPUS = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache/ecuscan/dev-corpus"))

# The peak is VmHWM, this process's own: ru_maxrss of a child keeps the high-water mark of the
# process it was forked from across exec (this benchmark, holding the whole corpus in memory).
_CHILD = """
import mmap, sys, time
from ecuscan.catalog import load_catalog

def peak_rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

from ecuscan.identify import identify
from ecuscan.model import Image, ImageFormat
cat = load_catalog()
with open(sys.argv[1], "rb") as fh:
    mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    t = time.perf_counter()
    comps = identify(Image(path=sys.argv[1], format=ImageFormat.RAW, data=mm), cat)
    dt = time.perf_counter() - t
    print(len(mm), dt, peak_rss(), len(comps))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--no-big", action="store_true", help="skip the 256 MB peak-memory run")
    args = ap.parse_args()
    doc_path = args.corpus / "dev-corpus.json"
    if not doc_path.exists():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    doc = json.loads(doc_path.read_text())
    files = [args.corpus / f["file"] for f in doc["files"]]
    files += sorted((args.corpus / "fw").glob("*")) if (args.corpus / "fw").is_dir() else []
    catalog = load_catalog()
    compile_signatures(catalog)
    blobs = [(p.read_bytes(), str(p)) for p in files]
    images = [load(data, name) for data, name in blobs]
    total = sum(len(i.data) for i in images)
    mb = total / 1e6

    def timed(label: str, run: Callable[[], object]) -> None:
        t, c = time.perf_counter(), time.process_time()
        run()
        dt, dc = time.perf_counter() - t, time.process_time() - c
        print(f"{label}: {dt:.2f} s = {mb / dt:.1f} MB/s wall, {dc:.2f} s CPU = {mb / dc:.1f} MB/s CPU")

    print(f"corpus: {len(images)} images, {mb:.1f} MB")
    timed("signature scan", lambda: [scan(img, catalog, DEFAULT_LIMITS) for img in images])
    timed("identify (all methods)", lambda: [identify(img, catalog) for img in images])
    timed("load + identify", lambda: [identify(load(data, name), catalog) for data, name in blobs])
    if args.no_big:
        return 0
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as tmp:
        target, written = 256 * 1024 * 1024, 0
        while written < target:
            for p in files:
                chunk = p.read_bytes()[: target - written]
                tmp.write(chunk)
                written += len(chunk)
                if written >= target:
                    break
    try:
        out = subprocess.run([sys.executable, "-c", _CHILD, tmp.name], capture_output=True,
                             text=True, check=True).stdout.split()
        size, secs, rss, n = int(out[0]), float(out[1]), int(out[2]), int(out[3])
        print(f"256 MB image (mmap): {secs:.2f} s = {size / 1e6 / secs:.1f} MB/s, "
              f"peak RSS {rss / 2**20:.0f} MiB = {rss / size:.2f}x image size, {n} components")
    finally:
        os.unlink(tmp.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
