"""ELF loader: any architecture, executables, shared objects and relocatable objects.

LIEF's C++ parser reads the structure: header (arch, bits, endianness, type, entry), sections,
PT_LOAD program headers as segments (or allocated sections for relocatable objects),
``.symtab``/``.dynsym`` with GNU symbol versions, dynamic entries (SONAME, NEEDED) and notes
(GNU build-id). pyelftools is imported only for files that carry DWARF (``.debug_info``), and
only to walk their compile units. :attr:`Image.data` *is* the caller's buffer (an ``mmap`` for
large files): it is never copied by this module.

Hostile input, bounded before anything is spent:

- the ELF header and the program/section header tables are checked by hand against the file
  size before LIEF sees the file (a table that does not fit is a :class:`FormatError`);
- LIEF gets its one copy of the bytes through :class:`~._util.LiefFeed`, which copies an ``mmap`` in
  chunks and drops each chunk's pages from this process right after (so the image is not
  resident twice); relocations and the overlay are not parsed, the dynamic symbol count comes
  from the section header (never from a hash table's claim);
- an image of :data:`IN_PLACE_FROM` bytes or more is not copied at all: its tables are read in
  place (:mod:`._elf_tables`), so loading it costs no memory in proportion to its size;
- every compressed section (``SHF_COMPRESSED`` with a zlib/zstd ``Elf_Chdr``, or GNU ``.zdebug_*``
  with its ``ZLIB`` header) is inflated by :func:`_inflate`: the declared size is checked against
  a decoded-bytes budget *before* inflating, and the inflater is fed with ``max_length`` so it
  never produces more than the budget, whatever the header claims;
- DWARF is handed to pyelftools only after the total it would inflate or materialise
  (compressed, ``.zdebug`` and ``SHT_NOBITS`` debug sections) has been measured against
  :attr:`Limits.max_decoded_bytes`; units are bounded in count and time.

A broken header is a :class:`~ecuscan.errors.FormatError`; a broken optional part (symbols,
notes, DWARF ...) becomes a :class:`~ecuscan.model.Diagnostic` and the image still loads.
"""

from __future__ import annotations

import io
import itertools
import struct
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any, TypeVar, cast

from ecuscan.errors import FormatError
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.mapped import LARGE_MAP
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

from ._elf_tables import MAX_SECTIONS, InPlaceElf
from ._util import BufferStream, LiefFeed, as_view, check_file_size, decode_text, sha256_of
from .base import FormatInfo, LoaderFormat, OffsetMap

__all__ = ["IN_PLACE_FROM", "load_elf", "preload"]

_T = TypeVar("_T")

#: e_machine name (pyelftools' names, kept for stable metadata) -> ecuscan arch name.
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
#: Extra e_machine numbers the name table does not name.
_ARCH_BY_NUMBER = {106: "blackfin", 113: "nios2", 183: "aarch64", 243: "riscv", 258: "loongarch"}
_ELF_TYPE = {0: "none", 1: "rel", 2: "exec", 3: "dyn", 4: "core"}
_MAX_DYN_TAGS = 100_000
_MAX_NOTES = 10_000
_MAX_COMMENT_BYTES = 1 << 20
#: Images of this many bytes or more are not handed to LIEF (which parses only its own whole copy
#: of the file) but read in place: the size from which every pass over a map gives its pages
#: back, so that loading is not the one step that holds the whole image.
IN_PLACE_FROM = LARGE_MAP

# section types / flags (ELF gABI)
_SHT_SYMTAB, _SHT_NOBITS, _SHT_DYNSYM = 2, 8, 11
_SHT_ARM_ATTRIBUTES = 0x70000003
_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR, _SHF_COMPRESSED = 0x1, 0x2, 0x4, 0x800
_PT_LOAD = 1
_ELFCOMPRESS_ZLIB, _ELFCOMPRESS_ZSTD = 1, 2
_DEBUG_SECTIONS = frozenset({".debug_info", ".zdebug_info"})


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
    except Exception as exc:  # parsers raise many exception types on corrupt input
        diag.add(code, f"{what}: {type(exc).__name__}: {str(exc)[:200]}")
        return default


@lru_cache(maxsize=1)
def _lief() -> Any:
    """LIEF, imported on first use (about a second: the CLI must not pay it unless an ELF is loaded),
    with its logger silenced (a library never prints)."""
    import lief

    lief.logging.disable()
    return lief


def preload() -> None:
    """Import LIEF now (a process about to fork workers does this once for all of them)."""
    _lief()


@lru_cache(maxsize=1)
def _machine_names() -> dict[int, str]:
    """e_machine number -> ``EM_*`` name (pyelftools' table: the names stored in results so far)."""
    from elftools.elf.enums import ENUM_E_MACHINE

    return {int(v): k for k, v in ENUM_E_MACHINE.items() if k != "_default_"}


def _num(value: Any) -> int:
    """The number behind a LIEF enum field. ``.value``, not ``int()`` (which costs microseconds on
    LIEF's enums); a value the enum does not name comes as a plain ``int``."""
    return value if isinstance(value, int) else int(value.value)


def _str(value: str | bytes) -> str:
    """A name from LIEF as text: LIEF hands out ``bytes`` for a name that is not UTF-8 (hostile or
    legacy input), decoded here the way every other string of an image is (replacement characters)."""
    return decode_text(value) if isinstance(value, bytes) else value


# --- the header, checked by hand before LIEF sees the file -------------------------------------


@dataclass(frozen=True)
class _Header:
    bits: int
    little: bool
    etype: int
    machine: int
    entry: int
    flags: int
    phoff: int
    phnum: int
    shoff: int
    shnum: int
    shstrndx: int


def _header(mv: memoryview, size: int) -> _Header:
    """The ELF header, with the program and section header tables checked to fit in the file."""
    if size < 16 or bytes(mv[:4]) != b"\x7fELF":
        raise FormatError("no ELF magic")
    ei_class, ei_data = mv[4], mv[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise FormatError(f"bad ELF class/data bytes ({ei_class}, {ei_data})")
    bits, order = (32 if ei_class == 1 else 64), ("<" if ei_data == 1 else ">")
    layout = order + ("HHIIIIIHHHHHH" if bits == 32 else "HHIQQQIHHHHHH")
    need = 16 + struct.calcsize(layout)
    if size < need:
        raise FormatError(f"ELF header needs {need} bytes, the file has {size}")
    (etype, machine, _version, entry, phoff, shoff, flags, _ehsize, phentsize, phnum, shentsize, shnum,
     shstrndx) = struct.unpack_from(layout, mv, 16)
    shdr_size, phdr_size = (40, 32) if bits == 32 else (64, 56)
    if shnum == 0 and shoff and shentsize >= shdr_size and shoff + shentsize <= size:
        # more than 0xff00 sections: the count is sh_size of section 0 (gABI extended numbering)
        first = struct.unpack_from(order + ("IIIIIIIIII" if bits == 32 else "IIQQQQIIQQ"), mv, shoff)
        shnum = int(first[5])
    if phnum == 0xFFFF and shoff and shentsize >= shdr_size and shoff + shentsize <= size:
        first = struct.unpack_from(order + ("IIIIIIIIII" if bits == 32 else "IIQQQQIIQQ"), mv, shoff)
        phnum = int(first[7])  # PN_XNUM: the count is sh_info of section 0
    if phnum and (phentsize < phdr_size or phoff + phnum * phentsize > size):
        raise FormatError(f"program header table ({phnum} entries at {phoff:#x}) "
                          f"does not fit in the {size}-byte file")
    if shnum and (shentsize < shdr_size or shoff + shnum * shentsize > size):
        raise FormatError(f"section header table ({shnum} entries at {shoff:#x}) "
                          f"does not fit in the {size}-byte file")
    return _Header(bits=bits, little=ei_data == 1, etype=etype, machine=machine, entry=entry, flags=flags,
                   phoff=phoff, phnum=phnum, shoff=shoff, shnum=shnum, shstrndx=shstrndx)


class _LiefTables:
    """The tables of an ELF file as LIEF parsed them (the interface :class:`InPlaceElf` has too)."""

    def __init__(self, binary: Any) -> None:
        self.binary = binary

    def sections(self) -> Iterator[tuple[str | bytes, int, int, int, int, int]]:
        for sec in self.binary.sections:
            yield sec.name, _num(sec.type) & 0xFFFFFFFF, int(sec.flags), sec.offset, sec.size, sec.virtual_address

    def program_headers(self) -> list[tuple[int, int, int, int, int, int]]:
        return [(_num(ph.type) & 0xFFFFFFFF, ph.file_offset, ph.physical_size, ph.virtual_address,
                 ph.physical_address, _num(ph.flags)) for ph in self.binary.segments]

    def symbols(self, dynamic: bool) -> Iterable[Any]:
        return cast("Iterable[Any]", self.binary.dynamic_symbols if dynamic else self.binary.symtab_symbols)

    @staticmethod
    def version(sym: Any) -> str | bytes | None:
        ver = sym.symbol_version
        if ver is not None and ver.value & 0x7FFF > 1 and ver.has_auxiliary_version:
            return cast("str | bytes", ver.symbol_version_auxiliary.name)
        return None

    def dynamic(self, max_entries: int) -> Iterator[tuple[int, str | bytes | None]]:
        for entry in itertools.islice(self.binary.dynamic_entries, max_entries):
            tag = _num(entry.tag)
            yield tag, (entry.name if tag in (1, 14) else None)  # DT_NEEDED, DT_SONAME

    def build_id(self, max_notes: int) -> str | None:
        gnu_build_id = _lief().ELF.Note.TYPE.GNU_BUILD_ID
        for note in itertools.islice(self.binary.notes, max_notes):
            if note.type == gnu_build_id and _str(note.name) == "GNU":
                return bytes(note.description).hex() or None
        return None


_Tables = _LiefTables | InPlaceElf


def _in_place(data: Buffer, hdr: _Header) -> InPlaceElf:
    return InPlaceElf(data, bits=hdr.bits, little=hdr.little, shoff=hdr.shoff, shnum=hdr.shnum,
                      shstrndx=hdr.shstrndx, phoff=hdr.phoff, phnum=hdr.phnum)


def _parse(data: Buffer) -> Any:
    """The LIEF binary of ``data``, or None when LIEF refuses it."""
    lief = _lief()
    config = lief.ELF.ParserConfig()
    config.parse_relocations = False
    config.parse_overlay = False
    config.count_mtd = lief.ELF.ParserConfig.DYNSYM_COUNT.SECTION
    feed = LiefFeed(data)
    try:
        return lief.ELF.parse(feed, config)
    finally:
        feed.close()


# --- loading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Section:
    """The fields of one section header this loader uses (copied out of LIEF)."""

    index: int
    name: str
    type: int
    flags: int
    offset: int
    size: int
    addr: int


def load_elf(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS) -> Image:
    """Load an ELF file of any architecture into an :class:`Image`.

    ``data`` is kept as :attr:`Image.data` (pass an ``mmap`` for large files; it is not copied).
    Raises :class:`FormatError` when the ELF header or section/program header tables are
    unreadable; damaged optional parts (symbols, dynamic, notes, DWARF) become diagnostics.
    """
    size = check_file_size(data, path, limits)
    mv = as_view(data)
    try:
        hdr = _header(mv, size)
    except FormatError as exc:
        raise FormatError(f"corrupt ELF: {exc.message}", source=path) from exc
    except (struct.error, ValueError, IndexError) as exc:
        raise FormatError(f"corrupt ELF header: {type(exc).__name__}: {str(exc)[:200]}", source=path) from exc
    if size >= IN_PLACE_FROM:
        try:
            tables: _Tables = _in_place(data, hdr)
        except (struct.error, ValueError, IndexError) as exc:
            raise FormatError(f"corrupt ELF: {type(exc).__name__}: {str(exc)[:200]}", source=path) from exc
        return _load(tables, hdr, data, mv, path, size, limits)
    try:
        binary = _parse(data)
    except Exception as exc:  # LIEF's bindings may raise on input they cannot represent
        raise FormatError(f"corrupt ELF: {type(exc).__name__}: {str(exc)[:200]}", source=path) from exc
    if binary is None:
        raise FormatError("corrupt ELF: the parser could not read its headers", source=path)
    try:
        with warnings.catch_warnings():
            # LIEF's enums warn (RuntimeWarning) on values they do not name (a vendor p_type, an
            # unknown e_machine); the raw value is what is used, and a library does not print
            warnings.simplefilter("ignore", RuntimeWarning)
            return _load(_LiefTables(binary), hdr, data, mv, path, size, limits)
    finally:
        del binary  # LIEF's copy of the file is freed before the caller scans the bytes


def _load(tables: _Tables, hdr: _Header, data: Buffer, mv: memoryview, path: str, size: int,
          limits: Limits) -> Image:
    diag = _Diag()
    # the header's fields as checked by hand (LIEF reads the same ones: tests compare them)
    machine, entry, etype = hdr.machine, hdr.entry, hdr.etype
    name = _machine_names().get(machine)
    arch = (_ARCH.get(name, name.removeprefix("EM_").lower()) if name
            else _ARCH_BY_NUMBER.get(machine, f"em{machine}"))
    elf_type = _ELF_TYPE.get(etype, str(etype))
    metadata: dict[str, str] = {"e_machine": name or str(machine), "e_flags": hex(hdr.flags)}

    sections = _sections(tables, hdr, diag)
    segments = _segments(tables, data, hdr, size, sections, limits, diag)
    symbols = _symbols(tables, sections, limits, diag)
    soname, needed = _dynamic(tables, diag)
    build_id = _build_id(tables, diag)
    budget = _Budget(limits.max_decoded_bytes)
    comments = _comments(mv, sections, hdr, limits, budget, diag)
    has_dwarf, units = _dwarf(data, hdr, sections, limits, budget, diag)

    for sec in sections:
        if sec.name == ".gnu_debuglink":
            metadata["debuglink"] = decode_text(_section_bytes(mv, sec, 4096, hdr, budget, diag).split(b"\0", 1)[0])
        elif sec.name == ".interp":
            metadata["interp"] = decode_text(_section_bytes(mv, sec, 4096, hdr, budget, diag).split(b"\0", 1)[0])
    if arch == "arm":
        cpu = _arm_cpu(mv, sections, hdr, budget, diag)
        if cpu:
            metadata["arm_cpu_arch"] = cpu
        if entry & 1:
            metadata["isa"] = "thumb"

    stripped = not any(sec.type == _SHT_SYMTAB for sec in sections)
    return Image(
        path=path, format=ImageFormat.ELF, data=data, segments=tuple(segments), arch=arch,
        bits=hdr.bits, endianness=Endianness.LITTLE if hdr.little else Endianness.BIG,
        entry=None if (elf_type == "rel" and entry == 0) else entry, elf_type=elf_type,
        symbols=tuple(symbols), soname=soname, needed=tuple(needed), build_id=build_id,
        comments=tuple(comments), dwarf_units=tuple(units), has_dwarf=has_dwarf, stripped=stripped,
        metadata=metadata, diagnostics=tuple(diag.items),
    )


def _sections(tables: _Tables, hdr: _Header, diag: _Diag) -> list[_Section]:
    out: list[_Section] = []
    try:
        for i, (name, stype, flags, offset, ssize, addr) in enumerate(tables.sections()):
            out.append(_Section(index=i, name=_str(name), type=stype, flags=flags, offset=offset,
                                size=ssize, addr=addr))
    except Exception as exc:  # a name that does not decode, a type the bindings cannot represent
        diag.add("elf-sections", f"section headers unreadable after {len(out)} of {hdr.shnum}: "
                 f"{type(exc).__name__}: {str(exc)[:200]}")
    if isinstance(tables, InPlaceElf) and hdr.shnum > MAX_SECTIONS:
        diag.add("elf-too-many-sections", f"{hdr.shnum} section headers, more than the {MAX_SECTIONS} read "
                 "of a large image; the rest are not read")
    elif len(out) < hdr.shnum and not diag.items:
        diag.add("elf-sections", f"section headers unreadable after {len(out)} of {hdr.shnum}")
    return out


def _kind_from_flags(executable: bool, writable: bool) -> SegmentKind:
    if executable:
        return SegmentKind.CODE
    return SegmentKind.DATA if writable else SegmentKind.RODATA


def _segments(tables: _Tables, data: Buffer, hdr: _Header, size: int, sections: list[_Section],
              limits: Limits, diag: _Diag) -> list[Segment]:
    out: list[Segment] = []
    loads = 0
    try:
        phdrs = tables.program_headers()
    except Exception as exc:
        diag.add("elf-program-headers", f"program headers unreadable: {type(exc).__name__}: {str(exc)[:200]}")
        phdrs = []
    for i, (ptype, off, fsz, vaddr, paddr, flags) in enumerate(phdrs):
        if ptype != _PT_LOAD:
            continue
        loads += 1
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
        name = f"load{i}" if vaddr == paddr else f"load{i} vma={vaddr:#x}"
        out.append(Segment(name=name, address=paddr, offset=off, size=fsz,
                           kind=_kind_from_flags(bool(flags & 1), bool(flags & 2)),
                           file_offset=off, sha256=sha256_of(data, off, fsz)))
    if loads or hdr.etype != 1:  # ET_REL
        return out
    # relocatable object: no program headers; the allocated sections are what would be loaded
    for sec in sections:
        off, ssz = sec.offset, sec.size
        if not sec.flags & _SHF_ALLOC or sec.type == _SHT_NOBITS or ssz == 0:
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
        out.append(Segment(name=sec.name or f"section@{off:#x}", address=sec.addr, offset=off, size=ssz,
                           kind=_kind_from_flags(bool(sec.flags & _SHF_EXECINSTR), bool(sec.flags & _SHF_WRITE)),
                           file_offset=off, sha256=sha256_of(data, off, ssz)))
    return out


_STT_KIND = {1: "object", 2: "func", 5: "object", 6: "object", 10: "func"}  # OBJECT FUNC COMMON TLS GNU_IFUNC


def _symbols(tables: _Tables, sections: list[_Section], limits: Limits, diag: _Diag) -> list[Symbol]:
    """``.dynsym`` and ``.symtab`` (in section order), one entry per (name, defined, address)."""
    order = [s.type for s in sections if s.type in (_SHT_SYMTAB, _SHT_DYNSYM)]
    if not order:
        return []
    seen: dict[tuple[str, bool, int | None], int] = {}
    out: list[Symbol] = []
    budget = limits.max_symbols

    kinds = _STT_KIND
    version_of = tables.version

    def read(table: Iterable[Any], is_dyn: bool) -> None:
        # the hot loop of loading a big library: each LIEF attribute is read once, and a Symbol is
        # made only when it is kept (positional arguments: a frozen dataclass's keywords cost more)
        nonlocal budget
        for sym in table:
            if budget <= 0:
                diag.add("elf-too-many-symbols", f"more than max_symbols={limits.max_symbols}; rest ignored")
                return
            budget -= 1
            stype = sym.information & 0xF  # st_info: the raw int is far cheaper than LIEF's enum
            if stype == 3 or stype == 4:  # SECTION, FILE
                continue
            name = sym.name
            if not name:
                continue
            if not isinstance(name, str):
                name = _str(name)
                if not name:
                    continue
            defined = sym.shndx != 0  # SHN_UNDEF
            version = None
            if is_dyn:
                raw = version_of(sym)
                if raw is not None:
                    version = _str(raw) or None
            key = (name, defined, sym.value if defined else None)
            at = seen.get(key)
            if at is not None:
                if version and not out[at].version:
                    out[at] = Symbol(name, key[2], sym.size, kinds.get(stype, "other"), defined, version)
                continue
            seen[key] = len(out)
            out.append(Symbol(name, key[2], sym.size, kinds.get(stype, "other"), defined, version))

    for stype in dict.fromkeys(order):
        is_dyn = stype == _SHT_DYNSYM

        def table(is_dyn: bool = is_dyn) -> None:
            read(tables.symbols(is_dyn), is_dyn)

        _guard(diag, "elf-symbols", f"symbol table {'.dynsym' if is_dyn else '.symtab'!r} unreadable", table, None)
    return out


def _dynamic(tables: _Tables, diag: _Diag) -> tuple[str | None, list[str]]:
    soname: str | None = None
    needed: list[str] = []

    def walk() -> None:
        nonlocal soname
        for tag, name in tables.dynamic(_MAX_DYN_TAGS):
            if tag == 14 and name is not None:  # DT_SONAME
                soname = _str(name)
            elif tag == 1 and name is not None:  # DT_NEEDED
                lib = _str(name)
                if lib not in needed:
                    needed.append(lib)
            elif tag == 0:  # DT_NULL
                break

    _guard(diag, "elf-dynamic", "dynamic section unreadable", walk, None)
    return soname, needed


def _build_id(tables: _Tables, diag: _Diag) -> str | None:
    return _guard(diag, "elf-notes", "notes unreadable", lambda: tables.build_id(_MAX_NOTES), None)


# --- section contents, compressed or not, within a decoded-bytes budget ---------------------------


class _Budget:
    """Decoded bytes one image may still produce by inflating sections."""

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, n: int) -> None:
        self.left = max(0, self.left - n)


def _chdr(mv: memoryview, sec: _Section, hdr: _Header) -> tuple[int, int, int]:
    """``(ch_type, ch_size, header size)`` of an ``SHF_COMPRESSED`` section."""
    order = "<" if hdr.little else ">"
    layout = order + ("III" if hdr.bits == 32 else "IIQQ")
    need = struct.calcsize(layout)
    if sec.size < need or sec.offset + need > len(mv):
        raise FormatError(f"section {sec.name!r}: compression header cut short")
    fields = struct.unpack_from(layout, mv, sec.offset)
    return int(fields[0]), int(fields[1] if hdr.bits == 32 else fields[2]), need


def _inflate(raw: memoryview, kind: int, declared: int, want: int, budget: _Budget, what: str) -> bytes:
    """At most ``want`` bytes of a compressed stream that says it inflates to ``declared`` bytes.

    The declared size is checked against the budget before anything is inflated, and the
    inflater is fed with ``max_length``, so neither a lying header nor a bomb produces more than
    ``min(want, declared, budget)`` bytes.
    """
    if declared > budget.left:
        raise _OverBudget(f"{what} declares {declared} decoded bytes, more than the "
                          f"{budget.left} left of max_decoded_bytes")
    cap = min(want, declared)
    if kind == _ELFCOMPRESS_ZLIB:
        inflater = zlib.decompressobj()
        out = bytearray()
        pos = 0
        step = 1 << 16
        while len(out) < cap:
            chunk = inflater.unconsumed_tail or bytes(raw[pos:pos + step])
            if not inflater.unconsumed_tail:
                pos += step
            if not chunk:
                break
            out += inflater.decompress(chunk, cap - len(out))
            if inflater.eof:
                break
        result = bytes(out)
    elif kind == _ELFCOMPRESS_ZSTD:
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True)
        result = reader.read(cap) if cap else b""
    else:
        raise FormatError(f"{what}: unknown compression type {kind}")
    budget.take(len(result))
    return result


class _OverBudget(Exception):
    """A section would inflate past the image's decoded-bytes budget."""


def _section_bytes(mv: memoryview, sec: _Section, want: int, hdr: _Header, budget: _Budget,
                   diag: _Diag) -> bytes:
    """The first ``want`` bytes of a section's contents, inflated if compressed ('' with a diagnostic
    when unreadable or over budget)."""
    if sec.type == _SHT_NOBITS:
        return b""
    end = min(len(mv), sec.offset + sec.size)
    if sec.offset >= end:
        return b""
    try:
        if sec.flags & _SHF_COMPRESSED:
            kind, declared, skip = _chdr(mv, sec, hdr)
            return _inflate(mv[sec.offset + skip:end], kind, declared, want, budget, f"section {sec.name!r}")
        if sec.name.startswith(".zdebug_"):
            raw = mv[sec.offset:end]
            if len(raw) < 12 or bytes(raw[:4]) != b"ZLIB":
                raise FormatError(f"section {sec.name!r}: no ZLIB header")
            declared = struct.unpack(">Q", raw[4:12])[0]
            return _inflate(raw[12:], _ELFCOMPRESS_ZLIB, declared, want, budget, f"section {sec.name!r}")
        return bytes(mv[sec.offset:min(end, sec.offset + want)])
    except _OverBudget as exc:
        diag.add("elf-decompress-limit", str(exc), Severity.WARNING, sec.offset)
    except (FormatError, zlib.error, struct.error, ValueError) as exc:
        text = exc.message if isinstance(exc, FormatError) else f"{type(exc).__name__}: {str(exc)[:200]}"
        diag.add("elf-section-data", f"cannot read section {sec.name!r}: {text}")
    except Exception as exc:  # zstandard's own error type
        diag.add("elf-section-data", f"cannot read section {sec.name!r}: {type(exc).__name__}: {str(exc)[:200]}")
    return b""


def _comments(mv: memoryview, sections: list[_Section], hdr: _Header, limits: Limits, budget: _Budget,
              diag: _Diag) -> list[str]:
    out: list[str] = []
    for sec in sections:
        if sec.name != ".comment" or sec.type == _SHT_NOBITS:
            continue
        raw = _section_bytes(mv, sec, _MAX_COMMENT_BYTES, hdr, budget, diag)
        for part in raw.split(b"\0"):
            text = decode_text(part).strip()
            if text and text not in out and len(out) < limits.max_items_per_kind:
                out.append(text)
    return out


def _uleb(raw: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(raw) and shift < 64:
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
    raise ValueError("ULEB128 cut short")


def _ntbs(raw: bytes, pos: int, end: int) -> tuple[bytes, int]:
    stop = raw.find(b"\0", pos, end)
    if stop < 0:
        raise ValueError("string cut short")
    return raw[pos:stop], stop + 1


def _arm_cpu(mv: memoryview, sections: list[_Section], hdr: _Header, budget: _Budget,
             diag: _Diag) -> str | None:
    """The Tag_CPU_name (else Tag_CPU_arch) of ``.ARM.attributes``.

    Decoded by hand: LIEF does not decode this section, and pyelftools would need a whole
    ELFFile (milliseconds a file) for a few bytes. Layout (ARM IHI 0044 "Build attributes"):
    ``'A'``, then subsections (u32 length, vendor NTBS), each of sub-subsections (u8 tag,
    u32 length, attributes: ULEB tag then a ULEB or NTBS value).
    """
    sec = next((s for s in sections if s.type == _SHT_ARM_ATTRIBUTES), None)
    if sec is None:
        return None
    raw = _section_bytes(mv, sec, 1 << 16, hdr, budget, diag)
    order = "<" if hdr.little else ">"

    def read() -> str | None:
        if not raw or raw[0] != 0x41:  # 'A'
            return None
        arch: str | None = None
        pos = 1
        for _ in range(64):
            if pos + 4 > len(raw):
                break
            length = struct.unpack_from(order + "I", raw, pos)[0]
            sub_end = min(len(raw), pos + length)
            if length < 5:
                break
            vendor, inner = _ntbs(raw, pos + 4, sub_end)
            if vendor == b"aeabi":
                for _ in range(64):
                    if inner + 5 > sub_end:
                        break
                    tag = raw[inner]
                    size = struct.unpack_from(order + "I", raw, inner + 1)[0]
                    if size < 5:
                        break
                    end = min(sub_end, inner + size)
                    at = inner + 5
                    if tag == 2 or tag == 3:  # Tag_Section / Tag_Symbol: a list of indices first
                        while at < end:
                            idx, at = _uleb(raw, at)
                            if idx == 0:
                                break
                    for _ in range(256):
                        if at >= end:
                            break
                        atag, at = _uleb(raw, at)
                        if atag in (4, 5, 67) or (atag > 32 and atag % 2 == 1):  # NTBS-valued tags
                            text, at = _ntbs(raw, at, end)
                            if atag == 5:  # Tag_CPU_name
                                return decode_text(text)
                        elif atag == 32:  # Tag_compatibility: ULEB then NTBS
                            _, at = _uleb(raw, at)
                            _, at = _ntbs(raw, at, end)
                        else:
                            value, at = _uleb(raw, at)
                            if atag == 6:  # Tag_CPU_arch
                                arch = str(value)
                    inner += size
            pos += length
        return arch

    return _guard(diag, "elf-arm-attributes", ".ARM.attributes unreadable", read, None)


# --- DWARF (pyelftools), only when the file has it -------------------------------------------------


def _dwarf(data: Buffer, hdr: _Header, sections: list[_Section], limits: Limits, budget: _Budget,
           diag: _Diag) -> tuple[bool, list[DwarfUnit]]:
    if not any(s.name in _DEBUG_SECTIONS for s in sections):
        return False, []
    mv = as_view(data)
    # what pyelftools would inflate or materialise, measured within the budget before it runs
    for sec in sections:
        if not sec.name.startswith((".debug_", ".zdebug_")):
            continue
        try:
            if sec.type == _SHT_NOBITS:
                cost = sec.size  # pyelftools hands out sh_size zero bytes for these
            elif sec.flags & _SHF_COMPRESSED or sec.name.startswith(".zdebug_"):
                cost = _inflated_size(mv, sec, hdr, budget)
            else:
                continue
        except _OverBudget as exc:
            diag.add("elf-dwarf-limit", f"{exc}; DWARF skipped")
            return True, []
        except (FormatError, zlib.error, struct.error, ValueError) as exc:
            text = exc.message if isinstance(exc, FormatError) else f"{type(exc).__name__}: {exc}"
            diag.add("elf-dwarf", f"DWARF unreadable: {text[:200]}")
            return True, []
        if cost > budget.left:
            diag.add("elf-dwarf-limit", f"section {sec.name} holds {cost} bytes, more than the {budget.left} "
                     f"left of max_decoded_bytes={limits.max_decoded_bytes}; DWARF skipped")
            return True, []
        budget.take(cost)
    units: list[DwarfUnit] = []
    try:
        _walk_units(data, hdr, limits, units, diag)
    except Exception as exc:  # pyelftools raises many exception types on corrupt DWARF
        diag.add("elf-dwarf", f"DWARF unreadable after {len(units)} units: {type(exc).__name__}: {str(exc)[:200]}")
    return True, units


def _inflated_size(mv: memoryview, sec: _Section, hdr: _Header, budget: _Budget) -> int:
    """How many bytes a compressed debug section really inflates to, counted within the budget
    (the output is discarded as it comes; raises :class:`_OverBudget` past the budget)."""
    end = min(len(mv), sec.offset + sec.size)
    if sec.flags & _SHF_COMPRESSED:
        kind, declared, skip = _chdr(mv, sec, hdr)
        if declared > budget.left:
            raise _OverBudget(f"section {sec.name} declares {declared} decoded bytes, more than the "
                              f"{budget.left} left of max_decoded_bytes")
        if kind != _ELFCOMPRESS_ZLIB:
            raise FormatError(f"section {sec.name}: compression type {kind} is not read for DWARF")
        raw = mv[sec.offset + skip:end]
        cap = declared
    else:
        raw = mv[sec.offset:end]
        if len(raw) < 12 or bytes(raw[:4]) != b"ZLIB":
            raise FormatError(f"section {sec.name}: no ZLIB header")
        raw = raw[12:]
        cap = budget.left  # pyelftools inflates .zdebug sections whole, whatever their header says
    inflater = zlib.decompressobj()
    total, pos, step = 0, 0, 1 << 16
    while True:
        chunk = inflater.unconsumed_tail or bytes(raw[pos:pos + step])
        if not inflater.unconsumed_tail:
            pos += step
        if not chunk:
            break
        total += len(inflater.decompress(chunk, 1 << 20))
        if total > cap:
            raise _OverBudget(f"section {sec.name} inflates to more than {cap} bytes "
                              f"(the budget left of max_decoded_bytes)")
        if inflater.eof:
            break
    return total


def _walk_units(data: Buffer, hdr: _Header, limits: Limits, units: list[DwarfUnit], diag: _Diag) -> None:
    from elftools.dwarf.enums import ENUM_DW_LANG
    from elftools.elf.elffile import ELFFile

    lang_names = {v: k.removeprefix("DW_LANG_") for k, v in ENUM_DW_LANG.items()}
    start = time.monotonic()
    stream = BufferStream(data)
    try:
        elf = ELFFile(cast(IO[bytes], stream))
        dwarf = elf.get_dwarf_info(relocate_dwarf_sections=hdr.etype == 1, follow_links=False)
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
                if a is None or not isinstance(a.value, (bytes, str)):
                    return None
                return decode_text(a.value) if isinstance(a.value, bytes) else str(a.value)

            lang = attrs.get("DW_AT_language")
            language = lang_names.get(lang.value, str(lang.value)) if lang is not None else None
            units.append(DwarfUnit(name=attr("DW_AT_name") or "", comp_dir=attr("DW_AT_comp_dir"),
                                   producer=attr("DW_AT_producer"), language=language))
    finally:
        stream.close()


#: Registration (ecuscan.formats.registry).
FORMATS = (LoaderFormat(
    FormatInfo(ImageFormat.ELF, "ELF program, shared library, object or core file", "application/x-elf",
               "`7f 45 4c 46` at 0", OffsetMap.FILE),
    lambda head, _data: head.startswith(b"\x7fELF"), load_elf),)
