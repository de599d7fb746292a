"""ELF loader tests over files compiled with the system gcc, plus corrupt variants."""

from __future__ import annotations

import hashlib
import mmap
import re
import shutil
import struct
import subprocess
import tracemalloc
import warnings
import zlib
from pathlib import Path
from typing import Any

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


# --- compressed sections: every inflation is bounded by a decoded-bytes budget ----------------------

def _bomb(inflated: int) -> bytes:
    """A zlib stream of ``inflated`` zero bytes (about 1/1000 of that size)."""
    comp = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [comp.compress(chunk) for _ in range(inflated >> 20)]
    return b"".join(parts) + comp.flush()


def _elf_with_sections(sections: list[tuple[str, int, int, bytes]]) -> bytes:
    """A minimal ELF64 little-endian relocatable x86-64 object holding ``(name, type, flags, data)`` sections."""
    names = b"\0" + b"".join(n.encode() + b"\0" for n, *_ in sections) + b".shstrtab\0"
    body = bytearray(64)
    headers = [bytes(64)]  # SHN_UNDEF
    name_off = 1
    for name, stype, flags, data in [*sections, (".shstrtab", 3, 0, names)]:
        offset = len(body)
        body += data
        headers.append(struct.pack("<IIQQQQIIQQ", name_off, stype, flags, 0, offset, len(data), 0, 0, 1, 0))
        name_off += len(name) + 1
    while len(body) % 8:
        body += b"\0"
    shoff = len(body)
    body[:64] = (b"\x7fELF\x02\x01\x01" + bytes(9)
                 + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, len(headers),
                               len(headers) - 1))
    return bytes(body) + b"".join(headers)


def _peak_bytes(fn: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


_SHF_COMPRESSED = 0x800
_BUDGET = Limits(max_decoded_bytes=16 << 20)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _bomb(160 << 20)  # 160 MiB of zeros in ~160 KB


@pytest.mark.parametrize("declared", [160 << 20, 4096], ids=["honest-header", "lying-header"])
def test_zdebug_bomb_is_refused_within_the_budget(bomb: bytes, declared: int) -> None:
    # GNU .zdebug_*: "ZLIB" + big-endian inflated size; pyelftools inflates such sections whole
    zdebug = b"ZLIB" + struct.pack(">Q", declared) + bomb
    data = _elf_with_sections([(".zdebug_info", 1, 0, zdebug), (".zdebug_abbrev", 1, 0, zdebug)])
    img, peak = _peak_bytes(lambda: load_elf(data, "zbomb.o", limits=_BUDGET))
    assert img.has_dwarf and img.dwarf_units == ()
    assert any(d.code == "elf-dwarf-limit" and "max_decoded_bytes" in d.message for d in img.diagnostics)
    assert peak < 2 * _BUDGET.max_decoded_bytes, f"{peak} bytes allocated for a 16 MiB budget"


def test_compressed_comment_with_lying_ch_size_is_not_inflated(bomb: bytes) -> None:
    # Elf64_Chdr: ch_type ZLIB, reserved, ch_size (claims 8 GiB), ch_addralign
    chdr = struct.pack("<IIQQ", 1, 0, 8 << 30, 1)
    data = _elf_with_sections([(".comment", 1, _SHF_COMPRESSED, chdr + bomb)])
    img, peak = _peak_bytes(lambda: load_elf(data, "comment.o", limits=_BUDGET))
    assert img.comments == ()
    assert any(d.code == "elf-decompress-limit" and ".comment" in d.message for d in img.diagnostics)
    assert peak < 2 * _BUDGET.max_decoded_bytes, f"{peak} bytes allocated for a 16 MiB budget"


def test_compressed_comment_inflates_no_more_than_it_declares(bomb: bytes) -> None:
    # ch_size within the budget, but the stream holds far more: only ch_size bytes are produced
    text = b"GCC: (GNU) 13.2.0\0"
    stream = zlib.compress(text + bytes(64 << 20))
    chdr = struct.pack("<IIQQ", 1, 0, len(text), 1)
    data = _elf_with_sections([(".comment", 1, _SHF_COMPRESSED, chdr + stream)])
    img, peak = _peak_bytes(lambda: load_elf(data, "comment.o", limits=_BUDGET))
    assert img.comments == ("GCC: (GNU) 13.2.0",)
    assert peak < 8 << 20


def test_compressed_dwarf_within_the_budget_still_loads(elf_dir: Path) -> None:
    objcopy = shutil.which("objcopy")
    if objcopy is None:
        pytest.skip("objcopy (binutils) not installed")
    gabi = elf_dir / "hello_gabi"
    res = subprocess.run([objcopy, "--compress-debug-sections=zlib-gabi", str(elf_dir / "hello_g"), str(gabi)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"this objcopy cannot compress debug sections: {res.stderr.strip()[:200]}")
    img, _ = _load(gabi)
    assert any(u.name.endswith("hello.c") for u in img.dwarf_units)
    assert not [d for d in img.diagnostics if d.code.startswith("elf-d")]


# --- LIEF loader against the pyelftools reference over the development corpus ----------------------

_FACTS = ("arch", "bits", "endianness", "entry", "elf_type", "segments", "symbols", "soname", "needed",
          "build_id", "comments", "dwarf_units", "has_dwarf", "stripped", "metadata")


@pytest.mark.corpus
@pytest.mark.slow
def test_lief_loader_equals_pyelftools_reference_on_the_corpus(corpus: Path) -> None:
    from .elf_reference import load_elf as reference_load

    files = [p for p in sorted((corpus / "root").rglob("*"))
             if p.is_file() and not p.is_symlink() and p.open("rb").read(4) == b"\x7fELF"]
    if len(files) < 100:
        pytest.skip(f"only {len(files)} ELF files under {corpus / 'root'}")
    differ: list[str] = []
    for path in files:
        data = path.read_bytes()
        new, old = load_elf(data, str(path)), reference_load(data, str(path))
        for fact in _FACTS:
            if getattr(new, fact) != getattr(old, fact):
                differ.append(f"{path.relative_to(corpus)}: {fact}")
        if [d.code for d in new.diagnostics] != [d.code for d in old.diagnostics]:
            differ.append(f"{path.relative_to(corpus)}: diagnostics")
    assert not differ, f"{len(differ)} differences over {len(files)} files, first: {differ[:10]}"


_RSS_SCRIPT = r"""
import mmap, sys
from ecuscan.formats.elf import load_elf, preload
from ecuscan.scan.cache import sha256_of_buffer

def kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))

preload()
with open(sys.argv[1], "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
    base = kib("VmRSS:")
    sha256_of_buffer(mm)  # the scanner hashes the map first, as a scan does
    img = load_elf(mm, "big.elf")
    assert img.symbols and img.build_id
    print(kib("VmHWM:") - base)
    del img
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("pad_mib", "most"), [(24, 1.4), (96, 0.25)])
def test_loading_a_large_image_costs_no_second_copy(elf_dir: Path, tmp_path: Path, pad_mib: int,
                                                    most: float) -> None:
    """Under :data:`IN_PLACE_FROM` LIEF holds one copy (the map's pages are dropped as it copies, so
    the image is not resident twice); from it on the tables are read in place: no copy at all."""
    import sys

    from ecuscan.formats.elf import IN_PLACE_FROM

    big = tmp_path / "big.elf"
    with big.open("wb") as f:
        f.write((elf_dir / "hello").read_bytes())
        f.write(bytes(pad_mib << 20))
    size = big.stat().st_size
    assert (size >= IN_PLACE_FROM) == (pad_mib == 96)
    res = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(big)], capture_output=True, text=True,
                         timeout=300, check=True)
    grown = int(res.stdout.split()[-1]) * 1024
    assert grown < most * size, f"peak RSS grew by {grown / size:.2f}x the image while loading it"


def _both_ways(data: bytes, path: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """The image LIEF loads and the one read in place (each a FormatError's message when refused)."""
    from ecuscan.formats import elf

    def load() -> object:
        try:
            return load_elf(data, path)
        except FormatError as exc:
            return exc.message

    lief_image = load()
    with monkeypatch.context() as m:
        m.setattr(elf, "IN_PLACE_FROM", 0)
        return lief_image, load()


def _differences(a: object, b: object) -> list[str]:
    if isinstance(a, str) or isinstance(b, str):
        return [] if a == b else [f"refused: {a!r} / {b!r}"]
    out = [f for f in _FACTS if getattr(a, f) != getattr(b, f)]
    if [(d.code, d.message) for d in a.diagnostics] != [(d.code, d.message) for d in b.diagnostics]:  # type: ignore[attr-defined]
        out.append("diagnostics")
    return out


def test_tables_read_in_place_equal_lief(elf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fixture (a library with symbol versions, needed libraries and a build-id, programs
    stripped or not, with DWARF, an object file) loads to the same image both ways."""
    files = sorted(p for p in elf_dir.iterdir() if p.read_bytes()[:4] == b"\x7fELF")
    assert len(files) >= 6
    for path in files:
        lief_image, in_place = _both_ways(path.read_bytes(), path.name, monkeypatch)
        assert not isinstance(in_place, str)
        assert not _differences(lief_image, in_place), (path.name, _differences(lief_image, in_place))
    lib = _both_ways((elf_dir / "libfoo.so").read_bytes(), "libfoo.so", monkeypatch)[1]
    assert {s.version for s in lib.symbols if s.version} >= {"FOO_1.0"}  # type: ignore[attr-defined]
    assert lib.needed and lib.soname == "libfoo.so.3" and lib.build_id  # type: ignore[attr-defined]


@pytest.mark.corpus
@pytest.mark.slow
def test_tables_read_in_place_equal_lief_on_the_corpus(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [p for p in sorted((corpus / "root").rglob("*"))
             if p.is_file() and not p.is_symlink() and p.open("rb").read(4) == b"\x7fELF"]
    if len(files) < 100:
        pytest.skip(f"only {len(files)} ELF files under {corpus / 'root'}")
    differ = []
    for path in files:
        found = _differences(*_both_ways(path.read_bytes(), str(path), monkeypatch))
        differ += [f"{path.relative_to(corpus)}: {d}" for d in found]
    assert not differ, f"{len(differ)} differences over {len(files)} files, first: {differ[:10]}"


def test_tables_read_in_place_survive_damaged_headers(elf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random bytes over the tables the in-place reader walks: a FormatError or an image with
    diagnostics, never another exception, never long."""
    import random
    import time

    from ecuscan.formats import elf

    monkeypatch.setattr(elf, "IN_PLACE_FROM", 0)
    rng = random.Random(7)
    for name in ("libfoo.so", "hello", "hello.o"):
        clean = (elf_dir / name).read_bytes()
        for _ in range(300):
            data = bytearray(clean)
            for _ in range(rng.randint(1, 16)):
                at = rng.randrange(len(data)) if rng.random() < 0.5 else rng.randrange(min(len(data), 4096))
                data[at] = rng.randrange(256)
            t = time.monotonic()
            try:
                load_elf(bytes(data), name)
            except FormatError:
                pass
            assert time.monotonic() - t < 2.0


def test_a_string_table_without_ends_is_read_within_a_budget(elf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ecuscan.formats import _elf_tables, elf

    monkeypatch.setattr(elf, "IN_PLACE_FROM", 0)
    monkeypatch.setattr(_elf_tables, "_NAME_BUDGET", 64)
    img = load_elf((elf_dir / "libfoo.so").read_bytes(), "libfoo.so")
    assert [d.code for d in img.diagnostics if d.code == "elf-symbols"]
    assert "more than 64 bytes" in " ".join(d.message for d in img.diagnostics)


def test_names_that_are_not_utf8_are_text(elf_dir: Path) -> None:
    from .elf_reference import load_elf as reference_load

    data = bytearray((elf_dir / "libfoo.so").read_bytes())
    for name in (b"foo_api", b"libdep.so.2", b"FOO_1.0"):  # a symbol, a DT_NEEDED entry, a version
        at = data.find(name)
        assert at > 0
        data[at + 1] = 0xFF
    img = load_elf(bytes(data), "latin.so")
    assert all(isinstance(s.name, str) and (s.version is None or isinstance(s.version, str)) for s in img.symbols)
    assert all(isinstance(n, str) for n in img.needed)
    old = reference_load(bytes(data), "latin.so")
    assert (img.symbols, img.needed, img.soname) == (old.symbols, old.needed, old.soname)
    assert "f\ufffdo_api" in {s.name for s in img.symbols}


@pytest.mark.parametrize(("e_type", "e_machine"), [(0x1234, 62), (2, 0x9999), (0xFE00, 0xFF00)])
def test_header_values_no_enum_names_load_as_numbers(elf_dir: Path, e_type: int, e_machine: int) -> None:
    from .elf_reference import load_elf as reference_load

    data = bytearray((elf_dir / "hello").read_bytes())
    struct.pack_into("<HH", data, 16, e_type, e_machine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a library does not print (LIEF's enums warn on unnamed values)
        img = load_elf(bytes(data), "odd.elf")
    old = reference_load(bytes(data), "odd.elf")
    assert (img.elf_type, img.arch, img.metadata) == (old.elf_type, old.arch, old.metadata)
    assert img.symbols == old.symbols


def test_section_headers_read_in_place_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A large image's section header table is read up to MAX_SECTIONS entries (the file size alone
    would allow millions, each a Python object), and says so."""
    from ecuscan.formats import _elf_tables, elf

    count, shoff = 64, 4096
    data = bytearray(shoff + count * 64)
    data[:16] = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    struct.pack_into("<HHIQQQIHHHHHH", data, 16, 3, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64, count, 0)
    for i in range(1, count):
        struct.pack_into("<IIQQQQIIQQ", data, shoff + 64 * i, 0, 1, 2, 0x1000 * i, 0, 16, 0, 0, 1, 0)
    monkeypatch.setattr(elf, "IN_PLACE_FROM", 0)
    monkeypatch.setattr(elf, "MAX_SECTIONS", 16)
    monkeypatch.setattr(_elf_tables, "MAX_SECTIONS", 16)
    img = load_elf(bytes(data), "many.so")
    assert [d.code for d in img.diagnostics] == ["elf-too-many-sections"]
    assert "64 section headers" in img.diagnostics[0].message
