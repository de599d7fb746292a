"""Benchmark: provenance extraction over a 256 MiB memory-mapped image (run on demand).

    /work/venv/bin/python tests/benchmarks/bench_provenance.py [size_mib]

Builds a file of random bytes with zero-filled stretches, text and a few findings spread
through it, maps it read-only and times :func:`ecuscan.provenance.extract` and
:func:`segment_hashes`. The peak of Python allocations (tracemalloc) shows whether the
buffer was copied: it stays at a few MiB for a 256 MiB image.
"""

from __future__ import annotations

import mmap
import os
import sys
import tempfile
import time
import tracemalloc

from ecuscan.model import Image, ImageFormat, Segment
from ecuscan.provenance import extract, segment_hashes

MiB = 1 << 20


def _make(path: str, size: int) -> None:
    note = bytes([4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0]) + b"GNU\0" + bytes(range(20))
    text = (b"\0GCC: (Arm GNU Toolchain 12.2) 12.2.1 20221205\0/home/alice/fw/src/main.c\0"
            b"Nov 27 2026\0" b"20:14:03\0Build date and Date with text for the keyword triggers\0")
    with open(path, "wb") as f:
        written = 0
        while written < size:
            chunk = os.urandom(4 * MiB) if (written // (4 * MiB)) % 4 else bytes(4 * MiB)
            chunk = chunk[: 4 * MiB - 4096] + (text * 40)[:4096 - len(note)] + note
            f.write(chunk[: size - written])
            written += len(chunk)


def main() -> None:
    size = int(sys.argv[1]) * MiB if len(sys.argv) > 1 else 256 * MiB
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "big.bin")
        _make(path, size)
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            tracemalloc.start()
            segs = tuple(Segment(f"s{i}", i * 16 * MiB, i * 16 * MiB, 16 * MiB) for i in range(size // (16 * MiB)))
            img = Image(path=path, format=ImageFormat.RAW, data=mm, segments=segs)
            t0 = time.perf_counter()
            prov = extract(img)
            t1 = time.perf_counter()
            segment_hashes(img)
            t2 = time.perf_counter()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            del img
    print(f"size {size // MiB} MiB: extract {t1 - t0:.2f} s ({size / MiB / (t1 - t0):.0f} MiB/s), "
          f"segment_hashes {t2 - t1:.2f} s; peak Python allocations {peak / MiB:.1f} MiB")
    print(f"found: build_id={prov.build_id} toolchains={len(prov.toolchains)} paths={len(prov.build_paths)} "
          f"users={prov.users} timestamps={prov.timestamps}")


if __name__ == "__main__":
    main()
