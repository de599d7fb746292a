"""ELF loader tests over files compiled with the system gcc, plus corrupt variants."""

from __future__ import annotations

import hashlib
import mmap
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ecuscan.errors import FormatError
from ecuscan.formats import detect, load
from ecuscan.formats.elf import load_elf
from ecuscan.limits import Limits
from ecuscan.model import Endianness, ImageFormat, SegmentKind


def _readelf(args: list[str], path: Path) -> str:
    if shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) not installed")
    return subprocess.run(["readelf", *args, str(path)], capture_output=True, text=True, check=True).stdout


def _load(path: Path):
    data = path.read_bytes()
    return load(data, str(path)), data


def test_shared_object_soname_needed_versions(elf_dir: Path) -> None:
    img, data = _load(elf_dir / "libfoo.so")
    assert detect(data) is ImageFormat.ELF
    assert img.format is ImageFormat.ELF
    assert img.arch == "x86_64" and img.bits == 64 and img.endianness is Endianness.LITTLE
    assert img.elf_type == "dyn"
    assert img.soname == "libfoo.so.3"
    assert "libdep.so.2" in img.needed and "libc.so.6" in img.needed
    by_name = {s.name: s for s in img.symbols}
    assert by_name["foo_api"].defined and by_name["foo_api"].version == "FOO_1.0"
    assert by_name["foo_api"].kind == "func" and by_name["foo_api"].address
    assert by_name["foo_banner"].kind == "object"
    assert not by_name["dep_value"].defined and by_name["dep_value"].address is None
    printf = by_name.get("printf") or by_name.get("__printf_chk")
    assert printf is not None and not printf.defined
    assert printf.version is not None and printf.version.startswith("GLIBC_")
    # build-id equals the one readelf reports
    m = re.search(r"Build ID: ([0-9a-f]+)", _readelf(["-n"], elf_dir / "libfoo.so"))
    assert m and img.build_id == m.group(1)
    assert any(c.startswith("GCC:") for c in img.comments)


def test_segments_are_pt_load_bytes(elf_dir: Path) -> None:
    path = elf_dir / "hello"
    img, data = _load(path)
    out = _readelf(["-lW"], path)
    loads = [line.split() for line in out.splitlines() if line.strip().startswith("LOAD")]
    expected = [(int(f[1], 16), int(f[3], 16), int(f[4], 16)) for f in loads if int(f[4], 16) > 0]
    got = [(s.offset, s.address, s.size) for s in img.segments]
    assert got == expected
    assert any(s.kind is SegmentKind.CODE for s in img.segments)
    for seg in img.segments:
        assert seg.file_offset == seg.offset
        assert seg.sha256 == hashlib.sha256(data[seg.offset:seg.offset + seg.size]).hexdigest()
    entry = int(re.search(r"Entry point address:\s+(0x[0-9a-f]+)", _readelf(["-h"], path)).group(1), 16)
    assert img.entry == entry
    assert img.metadata.get("interp", "").startswith("/lib")
    assert img.stripped is False and not img.has_dwarf
    assert {"main", "helper"} <= {s.name for s in img.symbols if s.defined}


def test_stripped(elf_dir: Path) -> None:
    img, _ = _load(elf_dir / "hello_stripped")
    assert img.stripped is True
    assert "main" not in {s.name for s in img.symbols}
    assert any(not s.defined for s in img.symbols)  # .dynsym imports are still there


def test_dwarf_units(elf_dir: Path) -> None:
    img, _ = _load(elf_dir / "hello_g")
    assert img.has_dwarf
    unit = next(u for u in img.dwarf_units if u.name.endswith("hello.c"))
    assert unit.comp_dir == str(elf_dir)
    assert unit.producer and unit.producer.startswith("GNU C")
    assert unit.language and unit.language.startswith("C")
    limited = load(img.data, "x", limits=Limits(max_dwarf_units=0))
    assert limited.dwarf_units == () and any(d.code == "elf-dwarf-limit" for d in limited.diagnostics)


def test_relocatable_object_uses_sections(elf_dir: Path) -> None:
    img, _ = _load(elf_dir / "hello.o")
    assert img.elf_type == "rel" and img.entry is None
    names = {s.name for s in img.segments}
    assert ".text" in names and not any(n.startswith(".debug") for n in names)
    text = next(s for s in img.segments if s.name == ".text")
    assert text.kind is SegmentKind.CODE and text.size > 0
    assert img.has_dwarf and img.dwarf_units[0].name == "hello.c"


def test_mmap_is_kept_not_copied(elf_dir: Path) -> None:
    with open(elf_dir / "hello", "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        img = load(mm, "hello")
        assert img.data is mm
        assert img.symbols
        del img


def test_truncated_elf_is_format_error(elf_dir: Path) -> None:
    data = (elf_dir / "hello").read_bytes()
    for cut in (10, 40, 63, len(data) - 100):
        with pytest.raises(FormatError) as exc:
            load_elf(data[:cut], "cut.elf")
        assert "cut.elf" in str(exc.value)


def test_huge_section_count_refused(elf_dir: Path) -> None:
    data = bytearray((elf_dir / "hello").read_bytes())
    struct.pack_into("<H", data, 0x3C, 0xFFFF)  # e_shnum
    with pytest.raises(FormatError, match="section header table"):
        load_elf(bytes(data), "many.elf")
    data = bytearray((elf_dir / "hello").read_bytes())
    struct.pack_into("<Q", data, 0x20, 2**62)  # e_phoff far outside
    with pytest.raises(FormatError, match="program header table"):
        load_elf(bytes(data), "phoff.elf")


def test_broken_dwarf_is_diagnostic(elf_dir: Path) -> None:
    path = elf_dir / "hello_g"
    data = bytearray(path.read_bytes())
    out = _readelf(["-SW"], path)
    m = re.search(r"\.debug_info\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)", out)
    assert m
    off, size = int(m.group(1), 16), int(m.group(2), 16)
    data[off:off + size] = b"\xff" * size  # unit_length 0xffffffff -> 64-bit DWARF with garbage length
    img = load_elf(bytes(data), "badg.elf")
    assert img.has_dwarf and img.symbols
    assert any(d.code == "elf-dwarf" for d in img.diagnostics) or img.dwarf_units == ()


def test_symbol_limit(elf_dir: Path) -> None:
    data = (elf_dir / "hello").read_bytes()
    img = load_elf(data, "h", limits=Limits(max_symbols=5))
    assert len(img.symbols) <= 5
    assert any(d.code == "elf-too-many-symbols" for d in img.diagnostics)


def test_big_endian_and_other_arch_header() -> None:
    # a minimal hand-made ELF32 big-endian PowerPC executable header with no tables
    hdr = bytearray(52)
    hdr[:16] = b"\x7fELF\x01\x02\x01" + bytes(9)
    struct.pack_into(">HHIIIIIHHHHHH", hdr, 16, 2, 20, 1, 0x100, 0, 0, 0, 52, 32, 0, 40, 0, 0)
    img = load_elf(bytes(hdr), "ppc.elf")
    assert img.arch == "powerpc" and img.endianness is Endianness.BIG and img.bits == 32
    assert img.entry == 0x100 and img.elf_type == "exec" and img.segments == ()
    assert img.stripped is True
