"""AUTOSAR BSW module versions, read from real compiler output of our own small BSW modules.

``tests/fixtures/autosar`` holds five AUTOSAR-style modules (README there lists their versions);
they are built here with the system gcc (x86-64) and, when installed, arm-none-eabi-gcc
(Cortex-M little-endian, Cortex-R big-endian), with and without ``-g3``, stripped and not.
"""

from __future__ import annotations

import mmap
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from elftools.elf.elffile import ELFFile

from ecuscan.catalog import load_catalog
from ecuscan.formats import load
from ecuscan.identify import autosar, identify
from ecuscan.limits import DEFAULT_LIMITS
from ecuscan.model import Component, Image, Relation

SRC = Path(__file__).resolve().parents[2] / "fixtures" / "autosar"
SOURCES = ["Det.c", "CanIf.c", "PduR.c", "Com.c", "Dcm.c", "EcuMain.c"]
EXPECTED = {"autosar-canif": "6.2.1", "autosar-com": "5.11.0", "autosar-pdur": "4.0.17",
            "autosar-dcm": "9.3.2", "autosar-det": "2.1.0"}
#: module -> (SW version, vendor ID, AUTOSAR release) as the headers define them
MACROS = {"CanIf": ((6, 2, 1), 451, (4, 4, 0)), "Com": ((5, 11, 0), 451, (4, 4, 0)),
          "PduR": ((4, 0, 17), 451, (4, 4, 0)), "Dcm": ((9, 3, 2), 451, (4, 4, 0)),
          "Det": ((2, 1, 0), 451, (4, 3, 1))}
VENDOR = "vendor ID 451 (0x01c3)"
ARM_GCC = shutil.which("arm-none-eabi-gcc")
ARM_STRIP = shutil.which("arm-none-eabi-strip")
needs_arm = pytest.mark.skipif(ARM_GCC is None or ARM_STRIP is None, reason="arm-none-eabi-gcc not installed")


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The test stack built in every variant the tests use (ARM ones only when the compiler exists)."""
    out = tmp_path_factory.mktemp("autosar")
    src = [str(SRC / s) for s in SOURCES]
    b = {name: out / name for name in ("x86-g3", "x86-O2", "x86-stripped", "x86-macinfo", "x86-gz", "plain",
                                        "plain-stripped", "header-only")}
    _run("gcc", "-O2", "-g3", "-I", str(SRC), *src, "-o", str(b["x86-g3"]))
    _run("gcc", "-O2", "-I", str(SRC), *src, "-o", str(b["x86-O2"]))
    # a stripped image the way ECU software is linked: statically
    _run("gcc", "-O2", "-static", "-I", str(SRC), *src, "-o", str(out / "x86-static"))
    _run("strip", "-o", str(b["x86-stripped"]), str(out / "x86-static"))
    # a virtual ECU built as a shared object (its BSW APIs stay in the dynamic symbol table)
    b["x86-vecu"], b["x86-dyn-stripped"] = out / "vecu.so", out / "x86-dyn-stripped"
    exports = out / "vecu.map"  # the APIs are exported, the version-info data is not
    exports.write_text("{ global: *_Init; *_Transmit; *_MainFunction; local: *; };\n")
    _run("gcc", "-O2", "-shared", "-fPIC", "-Wl,-soname,libvecu.so.1", f"-Wl,--version-script={exports}",
         "-I", str(SRC), *src, "-o", str(out / "vecu-full.so"))
    _run("strip", "-o", str(b["x86-vecu"]), str(out / "vecu-full.so"))
    _run("strip", "-o", str(b["x86-dyn-stripped"]), str(b["x86-g3"]))
    _run("gcc", "-O2", "-g3", "-gdwarf-4", "-gstrict-dwarf", "-I", str(SRC), *src, "-o", str(b["x86-macinfo"]))
    _run("gcc", "-O2", "-g3", "-gz=zlib", "-I", str(SRC), *src, "-o", str(b["x86-gz"]))  # compressed DWARF
    _run("gcc", "-O2", "-g3", str(SRC / "plain.c"), "-o", str(b["plain"]))
    _run("strip", "-o", str(b["plain-stripped"]), str(b["plain"]))
    header_only = out / "header_only.c"
    header_only.write_text('#include "CanIf.h"\nint main(void) { return (int)CANIF_SW_MAJOR_VERSION; }\n')
    _run("gcc", "-g3", "-I", str(SRC), str(header_only), "-o", str(b["header-only"]))
    if ARM_GCC is not None and ARM_STRIP is not None:
        arm = [ARM_GCC, "-O2", "-nostdlib", "-Wl,-e,main", "-I", str(SRC)]
        b["arm-g3"], b["arm-stripped"], b["armbe-stripped"] = out / "arm-g3", out / "arm-stripped", out / "armbe"
        _run(*arm, "-mcpu=cortex-m4", "-mthumb", "-g3", *src, "-o", str(b["arm-g3"]))
        _run(ARM_STRIP, "-o", str(b["arm-stripped"]), str(b["arm-g3"]))
        _run(*arm, "-mcpu=cortex-r4", "-mbig-endian", *src, "-o", str(out / "armbe-full"))
        _run(ARM_STRIP, "-o", str(b["armbe-stripped"]), str(out / "armbe-full"))
    return b


def _image(path: Path) -> Image:
    return load(path.read_bytes(), str(path))


def _components(path: Path) -> dict[tuple[str, Relation], Component]:
    return {(c.id, c.relation): c for c in identify(_image(path)) if c.id.startswith("autosar")}


def _module_versions(comps: dict[tuple[str, Relation], Component]) -> dict[str, str | None]:
    return {cid: c.version for (cid, rel), c in comps.items()
            if rel is Relation.CONTAINS and cid != "autosar-classic-bsw"}


def _check_records(path: Path, detail: str) -> None:
    comps = _components(path)
    assert _module_versions(comps) == EXPECTED
    for cid in EXPECTED:
        ev = comps[(cid, Relation.CONTAINS)].evidence
        assert any(detail in e.detail and VENDOR in e.text for e in ev), (cid, ev)
        assert all(e.offset is not None and e.address is not None for e in ev if "version-info" in e.detail)
    stack = comps[("autosar-classic-bsw", Relation.CONTAINS)]
    assert any(e.text == "vendor ID 0x01c3: CanIf 6.2.1, Com 5.11.0, Dcm 9.3.2, Det 2.1.0, PduR 4.0.17"
               for e in stack.evidence), stack.evidence


def test_records_read_through_symbols_x86(builds: dict[str, Path]) -> None:
    img = _image(builds["x86-O2"])
    assert not img.has_dwarf and any(s.name == "CanIf_VersionInfo" for s in img.symbols)
    _check_records(builds["x86-O2"], "version-info symbol")
    canif = _components(builds["x86-O2"])[("autosar-canif", Relation.CONTAINS)]
    assert canif.purl == "pkg:generic/autosar-canif@6.2.1"
    assert {e.detail for e in canif.evidence} == {"autosar: version-info symbol CanIf_VersionInfo",
                                                 "autosar: version-info symbol Dcm_ModuleVersionInfo"}


def test_stripped_image_version_table_x86(builds: dict[str, Path]) -> None:
    img = _image(builds["x86-stripped"])
    assert img.stripped and not img.has_dwarf and not any("VersionInfo" in s.name for s in img.symbols)
    assert not img.needed  # statically linked, as ECU software is
    _check_records(builds["x86-stripped"], "version-info table")


def test_dynamically_linked_images_are_searched_only_when_they_name_bsw_apis(builds: dict[str, Path]) -> None:
    vecu = _image(builds["x86-vecu"])
    assert vecu.soname == "libvecu.so.1" and any(s.name == "CanIf_Init" for s in vecu.symbols)
    assert not any("VersionInfo" in s.name for s in vecu.symbols)
    _check_records(builds["x86-vecu"], "version-info table")
    # a stripped dynamically linked program that exports nothing of the BSW: Linux userland,
    # where the table search is skipped (it costs a third of identification on such files)
    dyn = _image(builds["x86-dyn-stripped"])
    assert dyn.needed and not any(s.name.startswith("CanIf_") for s in dyn.symbols)
    assert not [mv for mv, _, _ in autosar.module_versions(dyn, DEFAULT_LIMITS) if mv.source == "version-info table"]


@needs_arm
def test_records_arm_little_and_big_endian(builds: dict[str, Path]) -> None:
    _check_records(builds["arm-g3"], "version-info symbol")
    _check_records(builds["arm-stripped"], "version-info table")
    img = _image(builds["armbe-stripped"])
    assert img.endianness is not None and img.endianness.value == "big" and img.stripped
    _check_records(builds["armbe-stripped"], "version-info table")


@pytest.mark.parametrize("variant,section", [("x86-g3", ".debug_macro"), ("x86-macinfo", ".debug_macinfo"),
                                             ("x86-gz", ".debug_macro"),
                                             pytest.param("arm-g3", ".debug_macro", marks=needs_arm)])
def test_dwarf_macros(builds: dict[str, Path], variant: str, section: str) -> None:
    img = _image(builds[variant])
    with builds[variant].open("rb") as fh:
        assert ELFFile(fh).get_section_by_name(section) is not None
    found = {mv.module.name: (mv.sw, mv.vendor_id, mv.ar_release)
             for mv, rel, _ in autosar.module_versions(img, DEFAULT_LIMITS)
             if mv.source == section and rel is Relation.CONTAINS}
    assert found == MACROS  # CANIF_CFG_SW_MAJOR_VERSION (17) and STD_TYPES_* are not modules
    comps = _components(builds[variant])
    com = comps[("autosar-com", Relation.CONTAINS)]
    assert com.version == "5.11.0"
    assert any(e.text == "Com 5.11.0, vendor ID 451 (0x01c3), module ID 50, AUTOSAR 4.4.0"
               and e.detail == f"autosar: {section}" and e.confidence == 0.9 for e in com.evidence)
    assert _module_versions(comps) == EXPECTED


def test_macro_of_an_included_header_only_is_uses(builds: dict[str, Path]) -> None:
    comps = _components(builds["header-only"])
    assert set(comps) == {("autosar-canif", Relation.USES)}
    assert comps[("autosar-canif", Relation.USES)].version == "6.2.1"


@pytest.mark.parametrize("variant", ["plain", "plain-stripped"])
def test_no_autosar_in_other_programs(builds: dict[str, Path], variant: str) -> None:
    # plain.c holds near-miss tables: known module IDs with three vendor IDs, and only two records
    assert _components(builds[variant]) == {}


def test_every_module_has_a_catalog_entry() -> None:
    catalog = load_catalog()
    table = autosar.module_table()
    assert len({m.id for m in table}) == len(table) == len({m.name.upper() for m in table})
    for m in table:
        entry = catalog.get(m.component)
        assert entry is not None and m.name in entry.name, m
    raw = yaml.safe_load((SRC.parents[2] / "ecuscan" / "data" / "autosar_modules.yaml").read_text())
    ids = {m["name"]: m["id"] for m in raw["modules"]}
    # spot checks against AUTOSAR's List of Basic Software Modules
    assert (ids["Det"], ids["EcuM"], ids["CanIf"], ids["Com"], ids["PduR"], ids["Dcm"], ids["Dem"],
            ids["CanTp"], ids["Can"], ids["NvM"], ids["Fr"]) == (15, 10, 60, 50, 51, 53, 54, 35, 80, 20, 81)


def test_scan_json_carries_versions_and_vendor(builds: dict[str, Path]) -> None:
    comps = [c.to_dict() for c in identify(_image(builds["x86-g3"])) if c.id == "autosar-pdur"]
    assert len(comps) == 1 and comps[0]["version"] == "4.0.17"
    texts = [e["text"] for e in comps[0]["evidence"]]
    assert "PduR 4.0.17, vendor ID 451 (0x01c3), module ID 51, AUTOSAR 4.4.0" in texts
    assert "PduR 4.0.17, vendor ID 451 (0x01c3), module ID 51" in texts


# ------------------------------------------------------------------ hostile macro sections

def _walk(sec: bytes, strs: bytes = b"", offsets: bytes = b"", deadline: float | None = None,
          max_ops: int = 1_000_000) -> list[tuple[bytes, int]]:
    end = time.monotonic() + 5 if deadline is None else deadline
    return list(autosar.walk_debug_macro(sec, strs, offsets, False, end, max_ops))


def test_debug_macro_reader_decodes_a_hand_made_unit() -> None:
    strs = b"\0CANIF_SW_MAJOR_VERSION 6U\0"
    unit = (b"\x05\x00\x00"  # version 5, no flags
            + b"\x03\x00\x01"  # start_file line 0 file 1
            + b"\x01\x05CANIF_SW_MINOR_VERSION 2U\0"  # define (inline)
            + b"\x05\x06\x01\x00\x00\x00"  # define_strp offset 1
            + b"\x07\x00\x00\x00\x00"  # import of itself: not followed
            + b"\x04\x00")  # end_file, end of unit
    assert _walk(unit, strs) == [(b"CANIF_SW_MINOR_VERSION 2U", 6), (b"CANIF_SW_MAJOR_VERSION 6U", 34)]


def test_debug_macro_reader_resolves_strx_with_one_str_offsets_contribution() -> None:
    strs = b"\0DCM_SW_MAJOR_VERSION 9U\0DCM_SW_MINOR_VERSION 3U\0"
    offsets = (12).to_bytes(4, "little") + b"\x05\x00\x00\x00" + (1).to_bytes(4, "little") + (25).to_bytes(4, "little")
    unit = b"\x05\x00\x00" + b"\x0b\x01\x01" + b"\x0b\x02\x00" + b"\x00"  # define_strx index 1, then 0
    assert _walk(unit, strs, offsets) == [(b"DCM_SW_MINOR_VERSION 3U", 3), (b"DCM_SW_MAJOR_VERSION 9U", 6)]
    two = offsets + offsets  # two contributions: the base is per compile unit, not known here
    assert _walk(unit, strs, two) == []


@pytest.mark.parametrize("sec", [
    b"\x05\x00\x00\x01" + b"\xff" * 64,  # over-long LEB128 line number
    b"\x05\x00\x00\x01\x00CANIF_SW_MAJOR_VERSION 6U",  # unterminated string
    b"\x05\x00\x00\x05\x00\xff\xff\xff\x7f\x00",  # string offset far outside .debug_str
    b"\x05\x00\x04\x01\xe0\xff\xff\xff\xff\x0f",  # opcode table: operand count 2**32
    b"\x05\x00\x04\x01\xe0\x01\x99\xe0\x00",  # vendor opcode with an unknown operand form
    b"\x2a\x00\x00\x00",  # unknown version
    b"\x05\x00\x00\x42\x00",  # unknown opcode
    b"\x05\x00",  # truncated header
    b"",
])
def test_debug_macro_reader_survives_malformed_units(sec: bytes) -> None:
    assert _walk(sec, b"\0") == []


def test_debug_macro_reader_is_bounded() -> None:
    loop = b"\x05\x00\x00" + b"\x07\x00\x00\x00\x00" * 400_000 + b"\x00"  # 400k self-imports
    start = time.monotonic()
    assert _walk(loop, max_ops=1000) == []
    assert _walk(loop) == []
    assert time.monotonic() - start < 5
    many = b"\x05\x00\x00" + b"\x01\x00A 1\0" * 100_000 + b"\x00"
    assert len(_walk(many, max_ops=10)) == 10
    assert _walk(many, deadline=time.monotonic() - 1) == _walk(many)[:4095]


def test_debug_macinfo_reader_is_bounded_and_safe() -> None:
    end = time.monotonic() + 5
    good = b"\x03\x00\x01\x01\x01CANIF_SW_MAJOR_VERSION 6U\0\xff\x01vendor\0\x04\x00"
    assert list(autosar.walk_debug_macinfo(good, end, 100)) == [(b"CANIF_SW_MAJOR_VERSION 6U", 3)]
    for bad in (b"\x01" + b"\xff" * 40, b"\x01\x00unterminated", b"\x07", b"\x03\x80"):
        assert list(autosar.walk_debug_macinfo(bad, end, 100)) == []


def test_random_macro_sections_never_raise() -> None:
    rng = random.Random(1234)
    start = time.monotonic()
    for _ in range(2000):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        _walk(rng.choice([b"\x05\x00", b"\x04\x00", b""]) + body, bytes(rng.randrange(256) for _ in range(64)))
        list(autosar.walk_debug_macinfo(body, start + 10, 10_000))
    assert time.monotonic() - start < 10


def test_corrupted_debug_macro_in_an_elf(builds: dict[str, Path], tmp_path: Path) -> None:
    path = builds["x86-g3"]
    with path.open("rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".debug_macro")
        off, size = int(sec["sh_offset"]), int(sec["sh_size"])
    rng = random.Random(7)
    data = bytearray(path.read_bytes())
    for fill in (b"\xff" * size, bytes(rng.randrange(256) for _ in range(size)),
                 b"\x05\x00\x02" + b"\xff" * (size - 3)):
        data[off:off + size] = fill
        bad = tmp_path / "bad.elf"
        bad.write_bytes(bytes(data))
        versions = _module_versions(_components(bad))
        assert versions == EXPECTED  # the records still give the versions; the macros are skipped


# ------------------------------------------------------------------ development corpus

@pytest.mark.corpus
@pytest.mark.slow
def test_no_module_versions_on_the_corpus(corpus: Path) -> None:
    """False positives of the version search on Linux userland and bare-metal images: none."""
    files = [p for p in sorted((corpus / "root").rglob("*")) if p.is_file() and not p.is_symlink()]
    files = [p for p in files if p.open("rb").read(4) == b"\x7fELF"] + sorted((corpus / "fw").glob("*"))
    assert len(files) > 500
    found = []
    for p in files:
        if p.stat().st_size == 0:
            continue
        with p.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            img = load(mm, str(p))
            found += [(p.name, mv.text()) for mv, _, _ in autosar.module_versions(img, DEFAULT_LIMITS)]
            del img
    assert found == []
