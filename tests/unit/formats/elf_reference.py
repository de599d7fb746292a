"""Reference ELF loader for the tests: ecuscan's pyelftools loader as it was before LIEF.

Kept only so that tests can check the LIEF loader (ecuscan.formats.elf) loads the same facts.
Not part of the package.

Built on pyelftools, which parses lazily from a stream: the loader hands it a
:class:`~ecuscan.formats._util.BufferStream` over the caller's buffer (an ``mmap`` for large
files), so the file is never copied and :attr:`Image.data` *is* the caller's buffer.

What is read: the header (arch, bits, endianness, type, entry), PT_LOAD program headers as
segments (or allocated sections for relocatable objects), ``.symtab``/``.dynsym`` with GNU
symbol versions, the dynamic section (SONAME, NEEDED), notes (GNU build-id), ``.comment``,
``.gnu_debuglink``, ``.ARM.attributes`` CPU name, and DWARF compile units.

Hostile input: every table is checked against the file size before it is walked, every loop
is bounded by :class:`~ecuscan.limits.Limits`, and pyelftools raises a wide range of
exceptions on corrupt input (its own ELFError/DWARFError, but also struct, construct,
Key/Index/Value/ZeroDivision errors), so each call into it is wrapped: a broken header is a
:class:`~ecuscan.errors.FormatError`; a broken optional part (symbols, notes, DWARF ...) becomes a
:class:`~ecuscan.model.Diagnostic` and the image still loads. LIEF is not used: pyelftools
covers everything needed here and parses lazily over the mmap.
"""

from __future__ import annotations

import itertools
import struct
import time
from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar, cast

from elftools.dwarf.enums import ENUM_DW_LANG
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection, GNUVerSymSection
from elftools.elf.sections import NoteSection, Section, SymbolTableSection

from ecuscan.errors import FormatError
from ecuscan.formats._util import BufferStream, check_file_size, decode_text, sha256_of
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import (
    Buffer,
    Diagnostic,
    DwarfUnit,
    Endianness,
    Image,
    ImageFormat,
    Segment,
    SegmentKind,
    Severity,
    Symbol,
)

__all__ = ["load_elf"]

_T = TypeVar("_T")

#: e_machine (pyelftools name) -> ecuscan arch name. Unknown machines become "em<n>" / lower-cased name.
_ARCH = {
    "EM_ARM": "arm", "EM_AARCH64": "aarch64", "EM_RISCV": "riscv", "EM_386": "x86",
    "EM_X86_64": "x86_64", "EM_PPC": "powerpc", "EM_PPC64": "powerpc64", "EM_TRICORE": "tricore",
    "EM_MIPS": "mips", "EM_MIPS_RS3_LE": "mips", "EM_SH": "sh", "EM_V850": "v850", "EM_V800": "v850",
    "EM_68K": "m68k", "EM_XTENSA": "xtensa", "EM_AVR": "avr", "EM_MSP430": "msp430",
    "EM_S390": "s390", "EM_SPARC": "sparc", "EM_SPARCV9": "sparc64", "EM_ARC": "arc",
    "EM_ARC_COMPACT": "arc", "EM_ARC_COMPACT2": "arc", "EM_LOONGARCH": "loongarch",
    "EM_RH850": "rh850", "EM_RL78": "rl78", "EM_RX": "rx", "EM_NDS32": "nds32",
    "EM_BPF": "bpf", "EM_IA_64": "ia64", "EM_ALPHA": "alpha", "EM_HEXAGON": "hexagon",
    "EM_C166": "c166", "EM_ST10": "st10", "EM_HCS12": "hcs12", "EM_68HC12": "hc12",
    "EM_COLDFIRE": "coldfire", "EM_H8_300": "h8300", "EM_M32R": "m32r", "EM_MICROBLAZE": "microblaze",
    "EM_NIOS32": "nios2", "EM_ALTERA_NIOS2": "nios2", "EM_TI_C6000": "c6000", "EM_BLACKFIN": "blackfin",
}
#: Extra e_machine numbers pyelftools does not name.
_ARCH_BY_NUMBER = {106: "blackfin", 113: "nios2", 183: "aarch64", 243: "riscv", 258: "loongarch"}
_ELF_TYPE = {"ET_EXEC": "exec", "ET_DYN": "dyn", "ET_REL": "rel", "ET_CORE": "core"}
_LANG_NAMES = {v: k.removeprefix("DW_LANG_") for k, v in ENUM_DW_LANG.items()}
_MAX_DYN_TAGS = 100_000
_MAX_NOTES = 10_000
_MAX_VERSIONS = 100_000
_MAX_COMMENT_BYTES = 1 << 20
#: pyelftools needs these to parse; anything escaping from it on corrupt input is caught as one of them.
_PARSE_ERRORS = (Exception,)


class _Diag:
    """Collects diagnostics while loading one image."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, code: str, message: str, severity: Severity = Severity.WARNING,
            offset: int | None = None) -> None:
        if len(self.items) < 1000:
            self.items.append(Diagnostic(code=code, message=message, severity=severity, offset=offset))


def _guard(diag: _Diag, code: str, what: str, fn: Callable[[], _T], default: _T) -> _T:
    """Run ``fn``; on any parse failure record a diagnostic and return ``default``."""
    try:
        return fn()
    except _PARSE_ERRORS as exc:  # pyelftools raises many exception types on corrupt input
        diag.add(code, f"{what}: {type(exc).__name__}: {str(exc)[:200]}")
        return default


def _section_bytes(diag: _Diag, sec: Section, limit: int) -> bytes:
    """The first ``limit`` bytes of a section's contents ('' with a diagnostic when unreadable)."""
    try:
        return bytes(sec.data()[:limit])
    except _PARSE_ERRORS as exc:
        diag.add("elf-section-data", f"cannot read section {sec.name!r}: {type(exc).__name__}: {str(exc)[:200]}")
        return b""


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return decode_text(value)
    return str(value)


def load_elf(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS) -> Image:
    """Load an ELF file of any architecture into an :class:`Image`.

    ``data`` is kept as :attr:`Image.data` (pass an ``mmap`` for large files; it is not copied).
    Raises :class:`FormatError` when the ELF header or section/program header tables are
    unreadable; damaged optional parts (symbols, dynamic, notes, DWARF) become diagnostics.
    """
    size = check_file_size(data, path, limits)
    stream = BufferStream(data)
    try:
        return _load(stream, data, path, size, limits)
    finally:
        stream.close()  # drop our view of the buffer so the caller can close its mmap


def _load(stream: BufferStream, data: Buffer, path: str, size: int, limits: Limits) -> Image:
    try:
        elf = ELFFile(cast(IO[bytes], stream))
        header = elf.header
        machine = header["e_machine"]
        etype = header["e_type"]
        entry = int(header["e_entry"])
        phnum, shnum = _table_counts(elf, size)
    except FormatError as exc:
        raise FormatError(f"corrupt ELF: {exc.message}", source=path) from exc
    except _PARSE_ERRORS as exc:
        raise FormatError(f"corrupt ELF header: {type(exc).__name__}: {str(exc)[:200]}", source=path) from exc

    diag = _Diag()
    if isinstance(machine, int):
        arch = _ARCH_BY_NUMBER.get(machine, f"em{machine}")
    else:
        arch = _ARCH.get(machine, machine.removeprefix("EM_").lower())
    elf_type = _ELF_TYPE.get(etype, str(etype).removeprefix("ET_").lower())
    metadata: dict[str, str] = {"e_machine": str(machine), "e_flags": hex(int(header["e_flags"]))}

    sections = _sections(elf, shnum, limits, diag)
    segments = _segments(elf, data, phnum, size, sections, limits, diag, metadata)

    symbols = _symbols(elf, sections, limits, diag, data)
    soname, needed = _dynamic(elf, sections, phnum, diag)
    build_id = _build_id(elf, sections, phnum, diag)
    comments = _comments(sections, limits, diag)
    has_dwarf, units = _dwarf(elf, sections, limits, diag)

    for sec in sections:
        name = sec.name
        if name == ".gnu_debuglink":
            raw = _section_bytes(diag, sec, 4096)
            metadata["debuglink"] = decode_text(raw.split(b"\0", 1)[0])
        elif name == ".interp":
            raw = _section_bytes(diag, sec, 4096)
            metadata["interp"] = decode_text(raw.split(b"\0", 1)[0])
    if arch == "arm":
        cpu = _arm_cpu(sections, diag)
        if cpu:
            metadata["arm_cpu_arch"] = cpu
        if entry & 1:
            metadata["isa"] = "thumb"

    stripped = not any(sec["sh_type"] == "SHT_SYMTAB" for sec in sections)
    return Image(
        path=path, format=ImageFormat.ELF, data=data, segments=tuple(segments), arch=arch,
        bits=elf.elfclass, endianness=Endianness.LITTLE if elf.little_endian else Endianness.BIG,
        entry=None if (elf_type == "rel" and entry == 0) else entry, elf_type=elf_type,
        symbols=tuple(symbols), soname=soname, needed=tuple(needed), build_id=build_id,
        comments=tuple(comments), dwarf_units=tuple(units), has_dwarf=has_dwarf, stripped=stripped,
        metadata=metadata, diagnostics=tuple(diag.items),
    )


def _table_counts(elf: ELFFile, size: int) -> tuple[int, int]:
    """Program/section header counts, checked to fit in the file (refuses absurd counts)."""
    h = elf.header
    phnum = elf.num_segments()
    shnum = elf.num_sections()
    if phnum:
        end = int(h["e_phoff"]) + phnum * int(h["e_phentsize"])
        if int(h["e_phentsize"]) < elf.structs.Elf_Phdr.sizeof() or end > size:
            raise FormatError(f"program header table ({phnum} entries at {h['e_phoff']:#x}) "
                              f"does not fit in the {size}-byte file")
    if shnum:
        end = int(h["e_shoff"]) + shnum * int(h["e_shentsize"])
        if int(h["e_shentsize"]) < elf.structs.Elf_Shdr.sizeof() or end > size:
            raise FormatError(f"section header table ({shnum} entries at {h['e_shoff']:#x}) "
                              f"does not fit in the {size}-byte file")
    return phnum, shnum


def _sections(elf: ELFFile, shnum: int, limits: Limits, diag: _Diag) -> list[Section]:
    out: list[Section] = []
    try:
        for i in range(shnum):
            sec = elf.get_section(i)
            out.append(sec)
    except _PARSE_ERRORS as exc:
        diag.add("elf-sections", f"section headers unreadable after {len(out)} of {shnum}: "
                 f"{type(exc).__name__}: {str(exc)[:200]}")
    # name resolution can fail separately (bad e_shstrndx): check it once, fall back to no names
    try:
        for sec in out:
            _ = sec.name
    except _PARSE_ERRORS as exc:
        diag.add("elf-section-names", f"section names unreadable: {type(exc).__name__}: {str(exc)[:200]}")
        for sec in out:
            sec.name = ""
    return out


def _kind_from_flags(executable: bool, writable: bool) -> SegmentKind:
    if executable:
        return SegmentKind.CODE
    return SegmentKind.DATA if writable else SegmentKind.RODATA


def _segments(elf: ELFFile, data: Buffer, phnum: int, size: int, sections: list[Section],
              limits: Limits, diag: _Diag, metadata: dict[str, str]) -> list[Segment]:
    out: list[Segment] = []
    loads = 0
    for i in range(phnum):
        try:
            ph = elf._get_segment_header(i)  # header only: avoids building Segment objects (notes, dynamic)
        except _PARSE_ERRORS as exc:
            diag.add("elf-program-headers", f"program header {i} unreadable: {type(exc).__name__}: {exc}")
            break
        if ph["p_type"] != "PT_LOAD":
            continue
        loads += 1
        off, fsz, vaddr, paddr = int(ph["p_offset"]), int(ph["p_filesz"]), int(ph["p_vaddr"]), int(ph["p_paddr"])
        if fsz == 0:
            continue  # .bss-only: no bytes in the file
        if off >= size:
            diag.add("elf-segment-truncated", f"PT_LOAD {i} at file offset {off:#x} lies beyond the file",
                     Severity.ERROR, off)
            continue
        if off + fsz > size:
            diag.add("elf-segment-truncated", f"PT_LOAD {i} ({fsz} bytes at {off:#x}) is cut by the end of file",
                     Severity.ERROR, off)
            fsz = size - off
        if len(out) >= limits.max_segments:
            diag.add("elf-too-many-segments", f"more than max_segments={limits.max_segments} PT_LOAD; rest ignored")
            break
        flags = int(ph["p_flags"])
        name = f"load{i}" if vaddr == paddr else f"load{i} vma={vaddr:#x}"
        out.append(Segment(name=name, address=paddr, offset=off, size=fsz,
                           kind=_kind_from_flags(bool(flags & 1), bool(flags & 2)),
                           file_offset=off, sha256=sha256_of(data, off, fsz)))
    if loads or elf.header["e_type"] != "ET_REL":
        return out
    # relocatable object: no program headers; the allocated sections are what would be loaded
    for sec in sections:
        try:
            flags, stype = int(sec["sh_flags"]), sec["sh_type"]
            off, ssz, addr = int(sec["sh_offset"]), int(sec["sh_size"]), int(sec["sh_addr"])
        except _PARSE_ERRORS:
            continue
        if not flags & 0x2 or stype == "SHT_NOBITS" or ssz == 0:  # SHF_ALLOC
            continue
        if off + ssz > size:
            diag.add("elf-section-truncated", f"section {sec.name!r} ({ssz} bytes at {off:#x}) is cut by end of file",
                     Severity.ERROR, off)
            if off >= size:
                continue
            ssz = size - off
        if len(out) >= limits.max_segments:
            diag.add("elf-too-many-segments", f"more than max_segments={limits.max_segments} sections; rest ignored")
            break
        out.append(Segment(name=sec.name or f"section@{off:#x}", address=addr, offset=off, size=ssz,
                           kind=_kind_from_flags(bool(flags & 0x4), bool(flags & 0x1)),
                           file_offset=off, sha256=sha256_of(data, off, ssz)))
    return out


def _version_names(sections: list[Section], diag: _Diag) -> dict[int, str]:
    """Version index -> version name, from .gnu.version_r (needed) and .gnu.version_d (defined)."""
    names: dict[int, str] = {}

    def walk() -> None:
        for sec in sections:
            if isinstance(sec, GNUVerNeedSection):
                for _vn, auxs in itertools.islice(sec.iter_versions(), _MAX_VERSIONS):
                    for aux in itertools.islice(auxs, _MAX_VERSIONS):
                        names[int(aux["vna_other"]) & 0x7FFF] = _text(aux.name)
            elif isinstance(sec, GNUVerDefSection):
                for vd, auxs in itertools.islice(sec.iter_versions(), _MAX_VERSIONS):
                    first = next(iter(auxs), None)
                    if first is not None and not int(vd["vd_flags"]) & 0x1:  # skip VER_FLG_BASE (the soname)
                        names[int(vd["vd_ndx"]) & 0x7FFF] = _text(first.name)

    _guard(diag, "elf-symbol-versions", "GNU symbol versions unreadable", walk, None)
    return names


_STT_KIND = {1: "object", 2: "func", 5: "object", 6: "object", 10: "func"}  # OBJECT FUNC COMMON TLS GNU_IFUNC


def _raw_table(table: Section, data: Buffer, size: int) -> memoryview | None:
    """The bytes of a section, or None when its header points outside the file."""
    off, length = int(table["sh_offset"]), int(table["sh_size"])
    if off < 0 or length < 0 or off + length > size:
        return None
    return memoryview(data)[off:off + length]


_Row = tuple[int, int, int, int, int, int]


def _bulk_symbols(elf: ELFFile, table: SymbolTableSection, data: Buffer) -> Iterator[_Row] | None:
    """``(index, name offset, value, size, info, shndx)`` for every entry, read in bulk.

    Written by hand because pyelftools parses each symbol through its generic record parser
    (about 40 µs a symbol, most of a scan's time on large libraries); ELF symbol entries are
    fixed-size records, so ``struct.iter_unpack`` reads a whole table at once. Returns None when
    the table is not in the standard layout, and the caller falls back to pyelftools.
    """
    bits, little = elf.elfclass, elf.little_endian
    entsize = 16 if bits == 32 else 24
    if int(table["sh_entsize"]) != entsize:
        return None
    raw = _raw_table(table, data, len(data))
    if raw is None or len(raw) % entsize:
        return None
    order = "<" if little else ">"
    if bits == 32:  # Elf32_Sym: name, value, size, info, other, shndx
        return ((i, name, value, size, info, shndx) for i, (name, value, size, info, _other, shndx)
                in enumerate(struct.iter_unpack(order + "IIIBBH", raw)))
    # Elf64_Sym: name, info, other, shndx, value, size
    return ((i, name, value, size, info, shndx) for i, (name, info, _other, shndx, value, size)
            in enumerate(struct.iter_unpack(order + "IBBHQQ", raw)))


def _symbols(elf: ELFFile, sections: list[Section], limits: Limits, diag: _Diag,
             data: Buffer | None = None) -> list[Symbol]:
    tables = [s for s in sections if isinstance(s, SymbolTableSection)]
    if not tables:
        return []
    versions = _version_names(sections, diag)
    versym = next((s for s in sections if isinstance(s, GNUVerSymSection)), None)
    seen: dict[tuple[str, bool, int | None], int] = {}
    out: list[Symbol] = []
    budget = limits.max_symbols
    little = elf.little_endian
    vers_ndx: list[int] | None = None
    if versym is not None and data is not None:
        vraw = _raw_table(versym, data, len(data))
        if vraw is not None and len(vraw) % 2 == 0:
            vers_ndx = [v for (v,) in struct.iter_unpack("<H" if little else ">H", vraw)]

    def add(name: str, defined: bool, addr: int | None, size: int, kind: str, version: str | None) -> None:
        key = (name, defined, addr)
        new = Symbol(name=name, address=addr, size=size, kind=kind, defined=defined, version=version)
        if key in seen:
            if version and not out[seen[key]].version:
                out[seen[key]] = new
            return
        seen[key] = len(out)
        out.append(new)

    for table in tables:
        is_dyn = table["sh_type"] == "SHT_DYNSYM"
        bulk = _bulk_symbols(elf, table, data) if data is not None else None
        strtab = sections[int(table["sh_link"])] if 0 < int(table["sh_link"]) < len(sections) else None
        strings = _raw_table(strtab, data, len(data)) if (bulk is not None and strtab is not None
                                                           and data is not None) else None

        def read_bulk(table: SymbolTableSection = table, is_dyn: bool = is_dyn,
                      rows: Any = bulk, strings: memoryview | None = strings) -> None:
            nonlocal budget
            blob = bytes(strings) if strings is not None else b""
            for idx, name_off, value, size, info, shndx in rows:
                if budget <= 0:
                    diag.add("elf-too-many-symbols", f"more than max_symbols={limits.max_symbols}; rest ignored")
                    return
                budget -= 1
                stype = info & 0xF
                if stype in (3, 4) or name_off <= 0 or name_off >= len(blob):  # SECTION, FILE, nameless
                    continue
                end = blob.find(b"\0", name_off)
                name = decode_text(blob[name_off:end if end >= 0 else len(blob)])
                if not name:
                    continue
                defined = shndx != 0  # SHN_UNDEF
                version = None
                if is_dyn and vers_ndx is not None and idx < len(vers_ndx):
                    ndx = vers_ndx[idx] & 0x7FFF
                    version = versions.get(ndx) if ndx > 1 else None
                add(name, defined, value if defined else None, size, _STT_KIND.get(stype, "other"), version)

        def read_table(table: SymbolTableSection = table, is_dyn: bool = is_dyn) -> None:
            nonlocal budget
            if int(table["sh_entsize"]) <= 0:
                raise FormatError(f"symbol table {table.name!r} has sh_entsize 0")
            count = table.num_symbols()
            for idx in range(count):
                if budget <= 0:
                    diag.add("elf-too-many-symbols", f"more than max_symbols={limits.max_symbols}; rest ignored")
                    return
                budget -= 1
                sym = table.get_symbol(idx)
                name = _text(sym.name)
                stype = sym["st_info"]["type"]
                if not name or stype in ("STT_SECTION", "STT_FILE"):
                    continue
                defined = sym["st_shndx"] != "SHN_UNDEF"
                addr = int(sym["st_value"]) if defined else None
                kind = ("func" if stype in ("STT_FUNC", "STT_GNU_IFUNC", "STT_LOOS")
                        else "object" if stype in ("STT_OBJECT", "STT_TLS", "STT_COMMON") else "other")
                version = None
                if is_dyn and versym is not None and idx < versym.num_symbols():
                    entry = versym.get_symbol(idx)["ndx"]
                    ndx = int(entry) if isinstance(entry, int) else 0
                    version = versions.get(ndx & 0x7FFF) if ndx & 0x7FFF > 1 else None
                add(name, defined, addr, int(sym["st_size"]), kind, version)

        if bulk is not None and strings is not None:
            _guard(diag, "elf-symbols", f"symbol table {table.name!r} unreadable", read_bulk, None)
        else:
            _guard(diag, "elf-symbols", f"symbol table {table.name!r} unreadable", read_table, None)
    return out


def _dynamic(elf: ELFFile, sections: list[Section], phnum: int, diag: _Diag) -> tuple[str | None, list[str]]:
    soname: str | None = None
    needed: list[str] = []

    def tags() -> Iterator[Any]:
        dyn = next((s for s in sections if isinstance(s, DynamicSection)), None)
        if dyn is not None:
            yield from itertools.islice(dyn.iter_tags(), _MAX_DYN_TAGS)
            return
        for i in range(phnum):  # section headers stripped: fall back to PT_DYNAMIC
            seg = elf.get_segment(i)
            if isinstance(seg, DynamicSegment):
                yield from itertools.islice(seg.iter_tags(), _MAX_DYN_TAGS)
                return

    def walk() -> None:
        nonlocal soname
        for tag in tags():
            if tag.entry.d_tag == "DT_SONAME":
                soname = _text(tag.soname)
            elif tag.entry.d_tag == "DT_NEEDED":
                lib = _text(tag.needed)
                if lib not in needed:
                    needed.append(lib)
            elif tag.entry.d_tag == "DT_NULL":
                break

    _guard(diag, "elf-dynamic", "dynamic section unreadable", walk, None)
    return soname, needed


def _build_id(elf: ELFFile, sections: list[Section], phnum: int, diag: _Diag) -> str | None:
    found: list[str] = []

    def notes() -> Iterator[Any]:
        note_secs = [s for s in sections if isinstance(s, NoteSection)]
        if note_secs:
            for sec in note_secs:
                yield from itertools.islice(sec.iter_notes(), _MAX_NOTES)
            return
        for i in range(phnum):
            seg = elf.get_segment(i)
            if seg["p_type"] == "PT_NOTE":
                yield from itertools.islice(cast(Any, seg).iter_notes(), _MAX_NOTES)

    def walk() -> None:
        for note in notes():
            if note["n_type"] == "NT_GNU_BUILD_ID" and note["n_name"] == "GNU":
                found.append(str(note["n_desc"]))
                return

    _guard(diag, "elf-notes", "notes unreadable", walk, None)
    return found[0] if found and found[0] else None


def _comments(sections: list[Section], limits: Limits, diag: _Diag) -> list[str]:
    out: list[str] = []
    for sec in sections:
        if sec.name != ".comment" or sec["sh_type"] == "SHT_NOBITS":
            continue
        raw = _section_bytes(diag, sec, _MAX_COMMENT_BYTES)
        for part in raw.split(b"\0"):
            text = decode_text(part).strip()
            if text and text not in out and len(out) < limits.max_items_per_kind:
                out.append(text)
    return out


def _arm_cpu(sections: list[Section], diag: _Diag) -> str | None:
    """The Tag_CPU_name / Tag_CPU_arch of .ARM.attributes, if present."""
    sec: Any = next((s for s in sections if s["sh_type"] == "SHT_ARM_ATTRIBUTES"), None)
    if sec is None:
        return None

    def read() -> str | None:
        arch = None
        for sub in itertools.islice(sec.iter_subsections(), 64):
            for subsub in itertools.islice(sub.iter_subsubsections(), 64):
                for attr in itertools.islice(subsub.iter_attributes(), 256):
                    if attr.tag == "TAG_CPU_NAME":
                        return _text(attr.value)
                    if attr.tag == "TAG_CPU_ARCH":
                        arch = str(attr.value)
        return arch

    return _guard(diag, "elf-arm-attributes", ".ARM.attributes unreadable", read, None)


def _dwarf(elf: ELFFile, sections: list[Section], limits: Limits, diag: _Diag) -> tuple[bool, list[DwarfUnit]]:
    names = {s.name for s in sections}
    if not names & {".debug_info", ".zdebug_info"}:
        return False, []
    # compressed debug sections are inflated in memory by pyelftools: refuse bombs first
    for sec in sections:
        if sec.name.startswith((".debug_", ".zdebug_")) and int(sec["sh_flags"]) & 0x800:  # SHF_COMPRESSED
            try:
                declared = int(sec.data_size)
            except _PARSE_ERRORS:
                declared = limits.max_decoded_bytes + 1
            if declared > limits.max_decoded_bytes:
                diag.add("elf-dwarf-limit", f"compressed section {sec.name} inflates to {declared} bytes, "
                         f"more than max_decoded_bytes={limits.max_decoded_bytes}; DWARF skipped")
                return True, []
    units: list[DwarfUnit] = []
    start = time.monotonic()

    def walk() -> None:
        dwarf = elf.get_dwarf_info(relocate_dwarf_sections=elf.header["e_type"] == "ET_REL",
                                   follow_links=False)
        for cu in dwarf.iter_CUs():
            if len(units) >= limits.max_dwarf_units:
                diag.add("elf-dwarf-limit", f"more than max_dwarf_units={limits.max_dwarf_units}; rest skipped",
                         Severity.INFO)
                return
            if time.monotonic() - start > limits.max_dwarf_seconds:
                diag.add("elf-dwarf-limit", f"DWARF reading took more than max_dwarf_seconds="
                         f"{limits.max_dwarf_seconds}; {len(units)} units read, rest skipped", Severity.INFO)
                return
            attrs = cu.get_top_DIE().attributes

            def attr(key: str, attrs: Any = attrs) -> str | None:
                a = attrs.get(key)
                return _text(a.value) if a is not None and isinstance(a.value, (bytes, str)) else None

            lang = attrs.get("DW_AT_language")
            language = _LANG_NAMES.get(lang.value, str(lang.value)) if lang is not None else None
            units.append(DwarfUnit(name=attr("DW_AT_name") or "", comp_dir=attr("DW_AT_comp_dir"),
                                   producer=attr("DW_AT_producer"), language=language))

    try:
        walk()
    except _PARSE_ERRORS as exc:  # pyelftools raises many exception types on corrupt DWARF
        diag.add("elf-dwarf", f"DWARF unreadable after {len(units)} units: {type(exc).__name__}: {str(exc)[:200]}")
    return True, units
