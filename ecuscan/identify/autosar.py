"""AUTOSAR Classic basic-software modules: presence, and each module's version where the image keeps it.

Presence: the AUTOSAR SWS documents fix each BSW module's short name and API names
(``Can_Init``, ``CanIf_Transmit``, ``<Module>_GetVersionInfo``). When an unstripped image
defines such symbols for at least :data:`MIN_MODULES` modules, the stack is reported as
``autosar-classic-bsw`` (CONTAINS), with the module list as evidence.

Module versions: each module found with a version becomes its own component
``autosar-<module>`` (``autosar-canif`` at ``6.2.1``; the catalog lists one per module of
``ecuscan/data/autosar_modules.yaml``), because one stack holds dozens of independently
versioned modules. The evidence text carries what an auditor asks for: ``CanIf 6.2.1, vendor
ID 451 (0x01c3), module ID 60, AUTOSAR 4.4.0``; the ``autosar-classic-bsw`` component gets one
summary line per source (``vendor ID 0x01c3: CanIf 6.2.1, Com 5.11.0, ...``). Three sources:

* ``Std_VersionInfoType`` records (SWS Standard Types: ``uint16 vendorID, uint16 moduleID,
  uint8 sw_major/minor/patch_version``, 8 bytes with padding) kept as data, read through a
  defined object symbol named ``*VersionInfo*`` (8 bytes, or a table of 8-byte records) in the
  image's byte order. A record counts only when its module ID is an AUTOSAR module ID (and, for
  a ``<Module>_...`` record of 8 bytes, that module's own). Confidence 0.9.
* The same records in stripped images (and in raw/HEX payloads, both byte orders when unknown):
  version-info *tables*, i.e. arrays of at least :data:`TABLE_MIN_MODULES` plausible records
  of distinct module IDs and one vendor ID (rules in :func:`_table_records`). Confidence 0.75.
  Records kept one by one apart from each other are not found this way. Measured false
  positives: none on the development corpus (1800 Debian armhf/arm64/riscv64 ELF files and the
  bare-metal ``fw/`` images, 246 MiB), nor on 12127 host files (x86-64 programs and libraries,
  Python extensions, newlib ARM objects, the demo firmware; 1.8 GiB) -- after rules were added
  for the patterns the first runs over both sets turned up; cost about 2 s per 250 MiB. Dynamically
  linked programs and libraries are searched only when their symbols name BSW APIs (a virtual ECU
  built as a shared object): Classic BSW is linked statically into flash images.
* DWARF macro information (``gcc -g3``, read by :mod:`.dwarf_macros`): ``<MOD>_SW_MAJOR/MINOR/PATCH_VERSION``,
  ``<MOD>_AR_RELEASE_MAJOR/MINOR/REVISION_VERSION`` (or the R3 ``<MOD>_AR_*_VERSION``) and
  ``<MOD>_VENDOR_ID`` from ``.debug_macro`` (DWARF 5 and the GNU version-4 extension) or
  ``.debug_macinfo`` (DWARF 2-4). A macro only proves that a header was compiled in: the
  module is CONTAINS (0.9) when its code is evidenced too (a defined ``<Module>_`` function, a
  compile unit ``<Module>*.c`` or a version record), else USES (0.7).

Not covered: versions that only live in code immediates (``GetVersionInfo`` storing constants
into the caller's record, common in optimised builds) need disassembly, which is not done;
symbols and macros of relocatable objects (``.o``/``.a`` members: unrelocated addresses and
string offsets; their data is still searched for tables); ``DW_MACRO_define_strx`` when
``.debug_str_offsets`` holds more than one contribution (its base comes from each compile unit;
clang output); initialised non-const records whose load address differs from their run
address; mapping vendor IDs to company names (AUTOSAR's vendor ID list is not shipped).
"""

from __future__ import annotations

import posixpath
import re
import struct
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import IO, Any, cast

import yaml

from ..catalog import Catalog
from ..formats._util import BufferStream
from ..limits import Limits
from ..mapped import Behind
from ..model import ComponentId, Endianness, EvidenceMethod, Image, ImageFormat, Relation, SegmentKind
from ._hits import Hit, make_evidence
from .dwarf_macros import walk_debug_macinfo, walk_debug_macro

#: Short names of AUTOSAR Classic BSW modules whose API names prove presence.
MODULES = (
    "Can", "CanIf", "CanTp", "CanSM", "CanNm", "CanTrcv", "Lin", "LinIf", "LinSM", "Fr", "FrIf",
    "Eth", "EthIf", "EthSM", "SoAd", "TcpIp", "DoIP", "Sd", "PduR", "Com", "ComM", "Nm", "Dcm",
    "Dem", "Det", "Dlt", "FiM", "NvM", "MemIf", "Fee", "Ea", "Fls", "Eep", "EcuM", "BswM",
    "SchM", "WdgM", "WdgIf", "Wdg", "Mcu", "Port", "Dio", "Adc", "Pwm", "Icu", "Gpt", "Spi",
    "Crc", "Csm", "CryIf", "Crypto", "SecOC", "KeyM", "StbM", "Xcp", "J1939Tp", "IpduM", "LdCom",
)
_API = re.compile(r"^(" + "|".join(sorted(MODULES, key=len, reverse=True)) +
                  r")_(?:Init|DeInit|MainFunction\w*|GetVersionInfo|Transmit|RxIndication|"
                  r"TxConfirmation|(?:SW|AR)_(?:MAJOR|MINOR|PATCH)_VERSION\w*)$")
#: Modules that must be evidenced (API symbols) before the stack is reported from names alone.
MIN_MODULES = 3
#: Distinct known module IDs a version-info table in a stripped image must hold.
TABLE_MIN_MODULES = 3
#: Module IDs below this (Os 1, Rte 2) are too common in other data to count towards a table.
TABLE_MIN_ID = 10
#: Largest version-info table read through one symbol (records of 8 bytes).
MAX_TABLE_RECORDS = 256
#: Most record-shaped rows examined per image in the stripped-image search (then it stops).
MAX_CANDIDATES = 200_000
#: Largest DWARF macro / string section read for macros.
MAX_MACRO_SECTION = 256 * 1024 * 1024
_STACK = ComponentId("autosar-classic-bsw")


@dataclass(frozen=True)
class BswModule:
    """One AUTOSAR BSW module: short name, AUTOSAR module ID and title."""

    name: str
    id: int
    title: str

    @property
    def component(self) -> ComponentId:
        """The catalog id of this module (``autosar-canif``)."""
        return ComponentId(f"autosar-{self.name.lower()}")


@lru_cache(maxsize=1)
def module_table() -> tuple[BswModule, ...]:
    """The modules of ``ecuscan/data/autosar_modules.yaml``."""
    text = resources.files("ecuscan.data").joinpath("autosar_modules.yaml").read_text("utf-8")
    return tuple(BswModule(str(m["name"]), int(m["id"]), str(m["title"]))
                 # libyaml's loader where PyYAML has it: this table is read at every scan's start
                 for m in yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["modules"])  # noqa: S506


@lru_cache(maxsize=1)
def _by_id() -> dict[int, BswModule]:
    return {m.id: m for m in module_table()}


@lru_cache(maxsize=1)
def _by_upper() -> dict[str, BswModule]:
    return {m.name.upper(): m for m in module_table()}


@dataclass(frozen=True)
class ModuleVersion:
    """A module version read from the image, with where and how it was found."""

    module: BswModule
    sw: tuple[int, int, int]
    vendor_id: int | None
    source: str  # "version-info symbol <name>", "version-info table", ".debug_macro" ...
    offset: int | None = None
    ar_release: tuple[int, int, int] | None = None
    note: str = ""

    @property
    def version(self) -> str:
        """``major.minor.patch`` of the module's software."""
        return ".".join(map(str, self.sw))

    def text(self) -> str:
        """One line for the evidence: module, version, vendor ID, module ID, AUTOSAR release."""
        out = f"{self.module.name} {self.version}"
        if self.vendor_id is not None:
            out += f", vendor ID {self.vendor_id} ({self.vendor_id:#06x})"
        out += f", module ID {self.module.id}"
        if self.ar_release is not None:
            out += f", AUTOSAR {'.'.join(map(str, self.ar_release))}"
        return out + (f" ({self.note})" if self.note else "")


# ------------------------------------------------------------------ Std_VersionInfoType records

_RECORD = {Endianness.LITTLE: struct.Struct("<HHBBBB"), Endianness.BIG: struct.Struct(">HHBBBB")}


def _read_at(image: Image, address: int, size: int) -> tuple[int, bytes] | None:
    """(offset in data, bytes) of ``size`` bytes at load ``address``, when one segment holds them."""
    for seg in image.segments:
        if seg.address is not None and seg.address <= address and address + size <= seg.address + seg.size:
            off = seg.offset + (address - seg.address)
            if off + size <= len(image.data):
                return off, bytes(image.data[off:off + size])
    return None


def _symbol_records(image: Image, limits: Limits) -> list[ModuleVersion]:
    """Records read through defined ``*VersionInfo*`` object symbols (8 bytes, or tables of them)."""
    if image.endianness is None or image.elf_type == "rel":
        return []
    rec = _RECORD[image.endianness]
    out: list[ModuleVersion] = []
    for sym in image.symbols[: limits.max_symbols]:
        if (not sym.defined or sym.kind != "object" or "VersionInfo" not in sym.name
                or sym.address is None or sym.size % 8 or not 8 <= sym.size <= 8 * MAX_TABLE_RECORDS):
            continue
        own = _by_upper().get(sym.name.split("_", 1)[0].upper()) if "_" in sym.name else None
        found = _read_at(image, sym.address, sym.size)
        if found is None:
            continue
        off, raw = found
        for i in range(0, sym.size, 8):
            vid, mid, major, minor, patch, _pad = rec.unpack_from(raw, i)
            module = _by_id().get(mid)
            if module is None or (sym.size == 8 and own is not None and module is not own):
                continue
            out.append(ModuleVersion(module, (major, minor, patch), vid,
                                     f"version-info symbol {sym.name}", off + i))
    return out


def _byte_class(ok: Callable[[int], bool]) -> bytes:
    return bytes(1 if ok(b) else 0 for b in range(256))


_IS_ZERO, _IS_MAJOR, _IS_VERSION = _byte_class(lambda b: b == 0), _byte_class(lambda b: b <= 31), \
    _byte_class(lambda b: b <= 99)
_MODULE_IDS = frozenset(m.id for m in module_table())
_IS_ID = _byte_class(_MODULE_IDS.__contains__)
#: Byte classes of the 8 bytes of a record, by byte order: (vendor ID), module ID, versions, pad.
_SHAPE = {Endianness.LITTLE: {2: _IS_ID, 3: _IS_ZERO, 4: _IS_MAJOR, 5: _IS_VERSION, 6: _IS_VERSION, 7: _IS_ZERO},
          Endianness.BIG: {2: _IS_ZERO, 3: _IS_ID, 4: _IS_MAJOR, 5: _IS_VERSION, 6: _IS_VERSION, 7: _IS_ZERO}}
_ROWS3 = re.compile(b"\x01{%d,}" % TABLE_MIN_MODULES)
_CHUNK = 8 * 1024 * 1024
_Rec = tuple[int, int, int, tuple[int, int, int]]  # (offset in segment, vendor ID, module ID, version)


def _shaped_runs(buf: bytes, phases: list[int], order: Endianness) -> Iterator[tuple[int, int]]:
    """(offset, records) of every run of record-shaped 8-byte rows in ``buf``, per phase.

    Hand-vectorised because a regex over every offset costs more than the rest of identification:
    the 8 byte columns (``buf[r::8]``) are classified with ``bytes.translate`` and combined as
    big integers, so only runs of :data:`TABLE_MIN_MODULES` rows reach Python code.
    """
    cols = [buf[r::8] for r in range(8)]
    for phase in phases:
        rows = (len(buf) - phase) // 8
        mask = -1
        for k, table in _SHAPE[order].items():
            r = phase + k
            mask &= int.from_bytes(cols[r % 8][r // 8:r // 8 + rows].translate(table), "big")
        for m in _ROWS3.finditer(mask.to_bytes(rows, "big")):
            yield phase + 8 * m.start(), m.end() - m.start()


def _table_records(image: Image, limits: Limits) -> list[ModuleVersion]:
    """Version-info tables found by their shape (stripped images).

    A table is an array (stride 8) of plausible records (major <= 31, minor and patch <= 99,
    zero padding byte, vendor ID not 0 or 0xFFFF, version not 0.0.0) with one vendor ID,
    holding at least :data:`TABLE_MIN_MODULES` distinct module IDs of :data:`TABLE_MIN_ID` or
    more, major version 0 in at most half of them, not all minor versions 0, no version field
    that is the module ID plus one constant in three records; the 8 bytes on either side must
    not carry the same vendor ID (else it is a longer table of something else that happens to
    hold module IDs). A module found with different versions keeps only its most frequent one
    (all on a tie): a compiler's constant pool can hold a partial copy of a record (``6.2.0``
    beside ``6.2.1``).
    """
    orders = [image.endianness] if image.endianness is not None else list(Endianness)
    out: list[ModuleVersion] = []
    budget = MAX_CANDIDATES
    segments = image.segments[: limits.max_segments]
    behind = Behind(image.data)  # a large map: the pages of the chunks read are given back
    if any(seg.kind is SegmentKind.RODATA for seg in segments):
        # the linker put constants in a segment of their own: code segments hold no tables
        segments = tuple(seg for seg in segments if seg.kind is not SegmentKind.CODE)
    for seg in segments:
        end = min(seg.offset + seg.size, len(image.data))
        if end - seg.offset < 8 * TABLE_MIN_MODULES:
            continue
        base = seg.address if seg.address is not None else seg.offset
        phases = [p for p in range(8) if (base + p) % 2 == 0]
        view = memoryview(cast(Any, image.data))[seg.offset:end]
        try:
            seen: set[int] = set()
            for order in orders:
                rec = _RECORD[order]
                for chunk in range(0, len(view), _CHUNK - 4096):  # tables across a boundary: in the overlap
                    behind.at(seg.offset + chunk)
                    for start, count in _shaped_runs(bytes(view[chunk:chunk + _CHUNK]), phases, order):
                        budget -= count
                        if budget < 0:
                            return _most_frequent(out)
                        run: list[_Rec] = []
                        for rel in range(chunk + start, chunk + start + 8 * count, 8):
                            vid, mid, major, minor, patch, _ = rec.unpack_from(view, rel)
                            if run and (vid != run[-1][1] or vid in (0, 0xFFFF) or major == minor == patch == 0):
                                out += _close_run(view, rec, run, seg.offset, seen)
                                run = []
                            if vid not in (0, 0xFFFF) and (major, minor, patch) != (0, 0, 0):
                                run.append((rel, vid, mid, (major, minor, patch)))
                        out += _close_run(view, rec, run, seg.offset, seen)
                behind.done()  # the next byte order reads the segment again from its start
        finally:
            view.release()
            behind.done()
    return _most_frequent(out)


def _most_frequent(found: list[ModuleVersion]) -> list[ModuleVersion]:
    counts = Counter((r.module, r.sw) for r in found)
    best = {m: max(n for (mm, _), n in counts.items() if mm is m) for m, _ in counts}
    return [r for r in found if counts[(r.module, r.sw)] == best[r.module]]


def _close_run(view: memoryview, rec: struct.Struct, run: list[_Rec], seg_offset: int,
               seen: set[int]) -> list[ModuleVersion]:
    """The records of ``run`` (offset, vendor ID, module ID, version) when it is a version-info table."""
    if len({mid for _, _, mid, _ in run if mid >= TABLE_MIN_ID}) < TABLE_MIN_MODULES or run[0][0] in seen:
        return []
    vid = run[0][1]
    modules = {mid: ver for _, _, mid, ver in run}  # one version per module ID
    if 2 * sum(ver[0] == 0 for ver in modules.values()) > len(modules) or all(ver[1] == 0 for ver in modules.values()):
        return []  # code and other data read as 0.x.y records; arrays of small 16-bit numbers as x.0.y
    if any(Counter(ver[i] - mid for mid, ver in modules.items()).most_common(1)[0][1] >= 3 for i in range(3)):
        return []  # a version field that follows the module ID: a generated sequence, not versions
    for edge in (run[0][0] - 8, run[-1][0] + 8):
        if 0 <= edge and edge + 8 <= len(view) and rec.unpack_from(view, edge)[0] == vid:
            return []
    seen.add(run[0][0])
    return [ModuleVersion(_by_id()[mid], ver, vid, "version-info table", seg_offset + rel)
            for rel, _, mid, ver in run]


# ------------------------------------------------------------------ DWARF macro information

_MACRO = re.compile(rb"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*?)_(SW_(?:MAJOR|MINOR|PATCH)_VERSION|"
                    rb"AR_RELEASE_(?:MAJOR|MINOR|REVISION|PATCH)_VERSION|AR_(?:MAJOR|MINOR|PATCH)_VERSION|"
                    rb"VENDOR_ID)[ \t]+(.{1,60})$")
_CAST = re.compile(r"\(\s*(?:const\s+)?(?:u?int(?:8|16|32)(?:_t)?|unsigned(?:\s+(?:char|short|int|long))?)\s*\)")
_NUMBER = re.compile(r"(0[xX][0-9A-Fa-f]+|\d+)[uUlL]*")


def macro_value(text: str) -> int | None:
    """The integer of a version macro body (``4U``, ``(0x04u)``, ``((uint8)4)``), else ``None``.

    >>> [macro_value(v) for v in ("4U", "(0x1EU)", "((uint8)12u)", "FOO + 1")]
    [4, 30, 12, None]
    """
    m = _NUMBER.fullmatch(_CAST.sub("", text).replace("(", "").replace(")", "").strip())
    return int(m.group(1), 0) if m else None


def _macro_sections(image: Image, limits: Limits) -> dict[str, tuple[bytes, int | None]]:
    """Bytes (and file offset when stored uncompressed) of the DWARF sections the macro walk needs."""
    # imported here: pyelftools' ELF and DWARF modules (~25 ms) are needed only for macro sections
    from elftools.elf.elffile import ELFFile

    out: dict[str, tuple[bytes, int | None]] = {}
    stream = BufferStream(image.data)
    try:
        elf = ELFFile(cast(IO[bytes], stream))
        for name in (".debug_macro", ".debug_macinfo", ".debug_str", ".debug_str_offsets"):
            if name == ".debug_str" and not out:
                return {}  # no macro information (built without -g3): the strings are not needed
            sec = elf.get_section_by_name(name)
            if sec is None or sec["sh_type"] == "SHT_NOBITS":
                continue
            if int(sec.data_size) > min(MAX_MACRO_SECTION, limits.max_decoded_bytes):
                return {}
            compressed = bool(int(sec["sh_flags"]) & 0x800)
            out[name] = (bytes(sec.data()), None if compressed else int(sec["sh_offset"]))
    except Exception:  # pyelftools raises many exception types on corrupt input; no macros then
        return {}
    finally:
        stream.close()
    return out


def _macro_versions(image: Image, limits: Limits) -> list[ModuleVersion]:
    """Module versions from ``-g3`` macro information (linked ELF images only)."""
    if image.format is not ImageFormat.ELF or not image.has_dwarf or image.elf_type == "rel":
        return []
    secs = _macro_sections(image, limits)
    if not any(b"_SW_MAJOR_VERSION" in secs.get(n, (b"", None))[0]
               for n in (".debug_str", ".debug_macro", ".debug_macinfo")):
        return []
    deadline = time.monotonic() + limits.max_dwarf_seconds
    max_ops = limits.max_symbols * 20
    strs, offsets = secs.get(".debug_str", (b"", None))[0], secs.get(".debug_str_offsets", (b"", None))[0]
    found: list[tuple[str, bytes, int | None]] = []
    for name in (".debug_macro", ".debug_macinfo"):
        if name not in secs:
            continue
        data, file_off = secs[name]
        walk = (walk_debug_macro(data, strs, offsets, image.endianness is Endianness.BIG, deadline, max_ops)
                if name == ".debug_macro" else walk_debug_macinfo(data, deadline, max_ops))
        found += [(name, text, None if file_off is None else file_off + at) for text, at in walk
                  if len(text) <= 200 and (b"_VERSION" in text or b"_VENDOR_ID" in text)]
    fields: dict[BswModule, dict[str, Counter[int]]] = defaultdict(lambda: defaultdict(Counter))
    where: dict[BswModule, tuple[str, int | None]] = {}
    for sec_name, text, off in found:
        m = _MACRO.match(text)
        module = _by_upper().get(m.group(1).decode()) if m else None
        if m is None or module is None:
            continue
        value = macro_value(m.group(3).decode("latin-1"))
        if value is not None:
            fields[module][m.group(2).decode()][value] += 1
            where.setdefault(module, (sec_name, off))

    def pick(f: dict[str, Counter[int]], *keys: str) -> tuple[int, ...] | None:
        vals = [f[k].most_common(1)[0][0] for k in keys if f.get(k)]
        return tuple(vals) if len(vals) == len(keys) else None

    out: list[ModuleVersion] = []
    for module, f in fields.items():
        sw = pick(f, "SW_MAJOR_VERSION", "SW_MINOR_VERSION", "SW_PATCH_VERSION")
        if sw is None:
            continue
        ar = (pick(f, "AR_RELEASE_MAJOR_VERSION", "AR_RELEASE_MINOR_VERSION", "AR_RELEASE_REVISION_VERSION")
              or pick(f, "AR_RELEASE_MAJOR_VERSION", "AR_RELEASE_MINOR_VERSION", "AR_RELEASE_PATCH_VERSION")
              or pick(f, "AR_MAJOR_VERSION", "AR_MINOR_VERSION", "AR_PATCH_VERSION"))
        vendor = pick(f, "VENDOR_ID")
        clash = sorted({v for k in ("SW_MAJOR_VERSION", "SW_MINOR_VERSION", "SW_PATCH_VERSION")
                        for v in f[k] if len(f[k]) > 1})
        note = f"other SW version values also defined: {clash}" if clash else ""
        sec_name, off = where[module]
        out.append(ModuleVersion(module, (sw[0], sw[1], sw[2]), vendor[0] if vendor else None,
                                 sec_name, off, (ar[0], ar[1], ar[2]) if ar else None, note))
    return out


# ------------------------------------------------------------------ hits

def _code_modules(image: Image, limits: Limits) -> set[str]:
    """Upper-case prefixes of defined symbols and of compile-unit file names (code evidence)."""
    out = {s.name.split("_", 1)[0].upper() for s in image.symbols[: limits.max_symbols]
           if s.defined and s.kind == "func" and "_" in s.name}
    for unit in image.dwarf_units[: limits.max_dwarf_units]:
        base = posixpath.basename(unit.name).rsplit(".", 1)[0]
        out.add(base.split("_", 1)[0].upper())
    return out


def _may_hold_bsw(image: Image, limits: Limits) -> bool:
    """Whether the by-shape table search is worth its cost on ``image``.

    Classic AUTOSAR basic software is linked statically into an ECU's flash image. A
    dynamically linked program or library (Linux userland: DT_NEEDED or a SONAME) is searched
    only when its symbols name BSW APIs, as a virtual ECU built as a shared object exports them;
    an ordinary Linux binary has no such tables, and the search would cost a third of the time
    of identification.
    """
    if not image.needed and image.soname is None:
        return True
    return any(_API.match(s.name) for s in image.symbols[: limits.max_symbols])


def module_versions(image: Image, limits: Limits) -> list[tuple[ModuleVersion, Relation, float]]:
    """Every module version the image shows, with its relation and the evidence confidence."""
    records = _symbol_records(image, limits)
    named = {r.module for r in records}
    if _may_hold_bsw(image, limits):
        records += [r for r in _table_records(image, limits) if r.module not in named]
    out = [(r, Relation.CONTAINS, 0.9 if r.source.startswith("version-info symbol") else 0.75)
           for r in records]
    macros = _macro_versions(image, limits)
    code = (_code_modules(image, limits) | {r.module.name.upper() for r in records}) if macros else set()
    for mv in macros:
        contains = mv.module.name.upper() in code
        out.append((mv, Relation.CONTAINS if contains else Relation.USES, 0.9 if contains else 0.7))
    return out


def identify_autosar(image: Image, catalog: Catalog, limits: Limits) -> list[Hit]:
    """Hits for ``autosar-classic-bsw`` (presence) and for each ``autosar-<module>`` with its version."""
    hits: list[Hit] = []
    if catalog.get(_STACK) is not None:
        modules: dict[str, str] = {}
        for sym in image.symbols[: limits.max_symbols]:
            m = _API.match(sym.name) if sym.defined else None
            if m is not None:
                modules.setdefault(m.group(1), sym.name)
        if len(modules) >= MIN_MODULES:
            text = ", ".join(f"{k} ({v})" for k, v in sorted(modules.items()))
            hits.append(Hit(_STACK, None, Relation.CONTAINS, make_evidence(
                image, EvidenceMethod.SYMBOL, text, limits=limits,
                detail=f"autosar: {len(modules)} BSW modules")))
    summary: dict[str, dict[tuple[str, str], ModuleVersion]] = defaultdict(dict)
    for mv, relation, confidence in module_versions(image, limits):
        if catalog.get(mv.module.component) is None:
            continue
        hits.append(Hit(mv.module.component, mv.version, relation, make_evidence(
            image, EvidenceMethod.CONSTANT, mv.text(), limits=limits, offset=mv.offset,
            confidence=confidence, detail=f"autosar: {mv.source}")))
        if relation is Relation.CONTAINS:
            source = "Std_VersionInfoType records" if mv.source.startswith("version-info") else mv.source
            summary[source].setdefault((mv.module.name, mv.version), mv)
    if catalog.get(_STACK) is not None:
        for source, found in sorted(summary.items()):
            mvs = [found[k] for k in sorted(found)]
            vendors = sorted({f"{m.vendor_id:#06x}" for m in mvs if m.vendor_id is not None})
            text = (f"vendor ID {', '.join(vendors) or 'unknown'}: "
                    + ", ".join(f"{m.module.name} {m.version}" for m in mvs))
            first = min((m.offset for m in mvs if m.offset is not None), default=None)
            hits.append(Hit(_STACK, None, Relation.CONTAINS, make_evidence(
                image, EvidenceMethod.CONSTANT, text, limits=limits, offset=first,
                confidence=0.9, detail=f"autosar: {len(mvs)} module versions from {source}")))
    return hits
