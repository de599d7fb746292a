"""Robustness: mutated inputs (truncation, bit flips, huge length fields) to every loader.

Only EcuscanError subclasses may come out, and nothing may hang (hypothesis deadline).
"""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import zipfile
from pathlib import Path

import bincopy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecuscan.errors import EcuscanError
from ecuscan.formats import load
from ecuscan.formats.archive import iter_members
from ecuscan.formats.elf import load_elf
from ecuscan.formats.hexsrec import load_hexsrec
from ecuscan.formats.vbf import load_vbf, write_vbf
from ecuscan.limits import Limits

LIMITS = Limits(max_unpacked_bytes=16 * 1024 * 1024, max_member_bytes=4 * 1024 * 1024, max_dwarf_seconds=2.0)
SETTINGS = settings(max_examples=200, deadline=3000, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)


@st.composite
def mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    """Truncate, flip bits, and/or overwrite 1/2/4/8-byte fields with extreme values."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "field", "byte"]))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[pos] = draw(st.integers(0, 255))
        else:
            width = draw(st.sampled_from([1, 2, 4, 8]))
            value = draw(st.sampled_from([0, 1, 2**(8 * width) - 1, 2**(8 * width - 1), 0x7FFF, 0x10000]))
            value &= 2**(8 * width) - 1
            order = draw(st.sampled_from(["little", "big"]))
            data[pos:pos + width] = value.to_bytes(width, order)
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def _only_ecuscan_errors(fn, data: bytes) -> None:
    try:
        fn(data)
    except EcuscanError:
        pass


@pytest.fixture(scope="module")
def elf_seed(elf_dir: Path) -> bytes:
    return (elf_dir / "hello_g").read_bytes()


@pytest.mark.slow
def test_elf_mutations(elf_seed: bytes) -> None:
    @SETTINGS
    @given(mutations(elf_seed))
    def run(data: bytes) -> None:
        _only_ecuscan_errors(lambda d: load_elf(d, "fuzz.elf", limits=LIMITS), data)

    run()


@pytest.mark.slow
def test_elf_header_region_mutations(elf_seed: bytes) -> None:
    # concentrate on the ELF header and program headers, where offsets/counts live
    @SETTINGS
    @given(st.lists(st.tuples(st.integers(4, 0x1FF), st.integers(0, 255)), min_size=1, max_size=8))
    def run(edits: list[tuple[int, int]]) -> None:
        data = bytearray(elf_seed)
        for pos, val in edits:
            data[pos] = val
        _only_ecuscan_errors(lambda d: load(d, "hdr.elf", limits=LIMITS), bytes(data))

    run()


def _hex_seed(fmt: str) -> bytes:
    bf = bincopy.BinFile()
    bf.add_binary(bytes(range(256)), address=0x08000000)
    bf.add_binary(b"tail" * 8, address=0x08001000)
    bf.execution_start_address = 0x08000001
    return (bf.as_ihex() if fmt == "ihex" else bf.as_srec()).encode()


@pytest.mark.parametrize("fmt", ["ihex", "srec"])
def test_hexsrec_mutations(fmt: str) -> None:
    @SETTINGS
    @given(mutations(_hex_seed(fmt)))
    def run(data: bytes) -> None:
        _only_ecuscan_errors(lambda d: load_hexsrec(d, "fuzz.hex", limits=LIMITS), data)

    run()


def test_vbf_mutations() -> None:
    seed = write_vbf([(0x1000, bytes(range(64))), (0x2000, b"abc" * 10)],
                     {"sw_part_number": "1234", "erase": "{{0x1000,0x100},{0x2000,0x100}}"})

    @SETTINGS
    @given(mutations(seed))
    def run(data: bytes) -> None:
        _only_ecuscan_errors(lambda d: load_vbf(d, "fuzz.vbf", limits=LIMITS), data)

    run()


def _archive_seeds() -> dict[str, bytes]:
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w") as tf:
        for name, blob in (("a/b.bin", b"x" * 300), ("c.txt", b"hello")):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/b.bin", b"x" * 300)
        zf.writestr("c.txt", b"hello")
    cpio = bytearray()
    for ino, (name, mode, blob) in enumerate([("bin/x", stat.S_IFREG | 0o755, b"data" * 10), ("TRAILER!!!", 0, b"")]):
        nb = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(blob), 0, 0, 0, 0, len(nb), 0]
        cpio += b"070701" + b"".join(f"{v:08X}".encode() for v in fields) + nb
        cpio += b"\0" * ((4 - len(cpio) % 4) % 4) + blob + b"\0" * ((4 - len(blob) % 4) % 4)
    ar = b"!<arch>\n" + b"debian-binary   0           0     0     100644  4         `\n2.0\n"
    return {"tar": tbuf.getvalue(), "tgz": gzip.compress(tbuf.getvalue()), "zip": zbuf.getvalue(),
            "cpio": bytes(cpio), "ar": ar}


@pytest.mark.parametrize("kind", ["tar", "tgz", "zip", "cpio", "ar"])
def test_archive_mutations(kind: str) -> None:
    seed = _archive_seeds()[kind]

    @settings(max_examples=100, deadline=3000, derandomize=True)
    @given(mutations(seed))
    def run(data: bytes) -> None:
        _only_ecuscan_errors(lambda d: list(iter_members(d, f"fuzz.{kind}", limits=LIMITS)), data)

    run()


@SETTINGS
@given(st.binary(max_size=2048))
def test_load_random_bytes(data: bytes) -> None:
    _only_ecuscan_errors(lambda d: load(d, "random.bin", limits=LIMITS), data)


@pytest.mark.slow
def test_odx_mutations() -> None:
    from .test_odx import ODX_F

    @settings(max_examples=40, deadline=5000, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(mutations(ODX_F.encode()))
    def run(data: bytes) -> None:
        from ecuscan.formats.odx import load_odx
        _only_ecuscan_errors(lambda d: load_odx(d, "fuzz.odx-f", limits=LIMITS), data)

    run()
