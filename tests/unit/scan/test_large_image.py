"""A large image is scanned from its map without holding it in memory, with the same results.

From :data:`ecuscan.mapped.LARGE_MAP` bytes on, every pass over a mapped file reads it a chunk at a
time and gives the pages back (:mod:`ecuscan.mapped`), the ELF tables are read in place
(:mod:`ecuscan.formats._elf_tables`), and the pattern pass scans chunk by chunk with an overlap.
These tests put evidence of each kind across the chunk boundaries of such an image and check that
the scan of the map finds exactly what the scan of the same bytes in memory finds, and that its
peak memory does not grow with the image.
"""

from __future__ import annotations

import dataclasses
import json
import mmap
import subprocess
import sys
from pathlib import Path

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.mapped import CHUNK, LARGE_MAP, Behind, chunks, drop_pages, is_large_map
from ecuscan.provenance import PREFILTER_GROUPS, prefilter
from ecuscan.scan.analysis import analyze_bytes, scan_path
from ecuscan.scan.options import ScanOptions

#: Evidence of each pass that reads the bytes: a version string (signature scan), a marker, a
#: package-metadata note, an identification table, a compiler banner, a build path, a GNU build-id
#: note found by its layout.
PIECES = (
    b"\x00\x00 inflate 1.2.13 Copyright 1995-2022 Mark Adler \x00",
    b"\x00OpenSSL 3.0.13 30 Jan 2024\x00",
    b'\x00{"type":"deb","name":"zlib","version":"1.2.13-1","architecture":"armhf"}\x00',
    b"\x00ECUSCAN-DID:F189=2.4.1;F18C=SN0001;\x00",
    b"\x00GCC: (GNU) 12.2.0\x00",
    b"\x00/home/alice/src/ecu/main.c\x00",
    b"\x04\x00\x00\x00\x08\x00\x00\x00\x03\x00\x00\x00GNU\x00\x01\x02\x03\x04\x05\x06\x07\x08",
)


def _large_image(path: Path, head: bytes = b"", size: int = LARGE_MAP + 2 * CHUNK) -> bytes:
    """``head``, then filler with each piece once in the middle of a chunk and once across the
    boundary of two chunks (a few bytes before it), ``size`` bytes in all."""
    data = bytearray(head)
    data += (bytes(range(251)) * (size // 251 + 1))[:size - len(data)]
    for k, piece in enumerate(PIECES):
        middle = (k % 4) * CHUNK + CHUNK // 2 + 4096 * k
        across = (k % 4 + 1) * CHUNK - len(piece) // 2
        for at in (middle, across):
            data[at:at + len(piece)] = piece
    path.write_bytes(bytes(data))
    return bytes(data)


def test_chunks_and_the_large_map_threshold(tmp_path: Path) -> None:
    assert list(chunks(0, 10, 4)) == [(0, 4), (4, 8), (8, 10)]
    assert list(chunks(3, 3)) == []
    small, large = tmp_path / "small", tmp_path / "large"
    small.write_bytes(b"x" * 4096)
    with large.open("wb") as f:
        f.truncate(LARGE_MAP)
    with small.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert not is_large_map(m)
    with large.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert is_large_map(m) == hasattr(mmap, "MADV_DONTNEED")
    assert not is_large_map(bytes(LARGE_MAP))  # bytes in memory are not the file's pages


def _rss_file_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssFile:"))


@pytest.mark.skipif(not Path("/proc/self/status").exists() or not hasattr(mmap, "MADV_DONTNEED"),
                    reason="needs Linux /proc and madvise")
def test_dropped_pages_leave_the_process_and_read_the_same(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = _large_image(path)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        before = _rss_file_kib()
        assert bytes(m[:]) == data  # every page mapped
        touched = _rss_file_kib() - before
        assert touched * 1024 > 0.9 * len(data)
        drop_pages(m, 0, len(m))
        assert (_rss_file_kib() - before) * 1024 < 0.1 * len(data)
        assert bytes(m[CHUNK - 10:CHUNK + 10]) == data[CHUNK - 10:CHUNK + 10]  # read again from the page cache
        behind = Behind(m)
        for pos in range(0, len(m), 4096):
            _ = m[pos]  # a read maps the page
            behind.at(pos)
        assert (_rss_file_kib() - before) * 1024 <= 2 * CHUNK + (4 << 20)  # at most two chunks behind the pass
        behind.done()
        assert (_rss_file_kib() - before) * 1024 < 0.1 * len(data)


def test_pattern_pass_in_chunks_finds_what_one_block_scan_finds(tmp_path: Path) -> None:
    from ecuscan.identify.signatures import prefilter_pass

    passes = prefilter_pass(load_catalog())
    path = tmp_path / "big.bin"
    data = _large_image(path)
    whole = prefilter.run(passes, data)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        in_chunks = prefilter.run(passes, m)
    assert whole is not None and in_chunks is not None
    assert in_chunks.starts == whole.starts
    for group, _patterns, _literal in PREFILTER_GROUPS[:1]:
        assert len(whole.starts[group]) >= 2  # the banners were found, across the boundaries too
    boundary = 4 * CHUNK - len(PIECES[3]) // 2 + 1  # the identification table across a boundary
    assert whole.starts["did-table"] == [3 * CHUNK + CHUNK // 2 + 4096 * 3 + 1, boundary]


def _comparable(results: list) -> list[dict]:
    out = []
    for r in results:
        d = json.loads(json.dumps(dataclasses.asdict(r), default=str))
        d.pop("scanner_version", None)
        out.append(d)
    return out


def test_scan_of_a_large_map_equals_the_scan_of_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = _large_image(path)
    options = ScanOptions()
    mapped = scan_path(str(path), options).outcome
    in_memory = analyze_bytes(data, str(path), catalog=load_catalog(), options=options)
    assert isinstance(mapped, list)
    assert _comparable(mapped) == _comparable(in_memory)
    top = mapped[0]
    found = {(c.id, c.version) for c in top.components}
    assert {("zlib", "1.2.13"), ("openssl", "3.0.13")} <= found
    assert top.metadata["did:F189"] == "2.4.1"
    assert top.provenance.build_id == "0102030405060708"
    assert "alice" in top.provenance.users


_PEAK = r"""
import sys
from ecuscan.scan.analysis import scan_path, preload
from ecuscan.scan.options import ScanOptions

def kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))

preload()
scan_path(sys.argv[1], ScanOptions())  # everything a scan loads, loaded on a small file first
base = kib("VmHWM:")
out = scan_path(sys.argv[2], ScanOptions()).outcome
assert isinstance(out, list) and out[0].components, out
print(kib("VmHWM:") - base)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists() or not hasattr(mmap, "MADV_DONTNEED"),
                    reason="needs Linux /proc and madvise")
@pytest.mark.parametrize("kind", ["raw", "elf"])
def test_peak_memory_of_a_large_scan_does_not_grow_with_the_image(tmp_path: Path, kind: str) -> None:
    """The peak of a scan of an image 3 times larger is not larger: what a scan holds of a large
    image is a few chunks at a time, whatever its size (before, the whole image was resident)."""
    head = Path(sys.executable).resolve().read_bytes() if kind == "elf" else b""
    assert not head or head[:4] == b"\x7fELF"
    small = tmp_path / "small.bin"
    small.write_bytes(PIECES[0] * 4)
    grown = {}
    for size in (LARGE_MAP + 2 * CHUNK, 3 * (LARGE_MAP + 2 * CHUNK)):
        path = tmp_path / "big.bin"
        _large_image(path, head, size)
        res = subprocess.run([sys.executable, "-c", _PEAK, str(small), str(path)], capture_output=True,
                             text=True, timeout=600, check=True)
        grown[size] = int(res.stdout.split()[-1]) * 1024
        path.unlink()
    (a, ga), (b, gb) = sorted(grown.items())
    assert gb - ga < 0.1 * (b - a), (f"peak RSS grew by {ga >> 20} MiB for {a >> 20} MiB, "
                                     f"{gb >> 20} MiB for {b >> 20} MiB")
    assert gb < 0.5 * b
