"""The tables of an ELF file read in place, for images too large to hand LIEF a copy of.

LIEF parses only from its own copy of the whole file: for a large image that copy is the scan's
peak memory (a 262 MiB image peaked at 1.39x its size, the target is 1.2x). pyelftools reads in
place, but it turns every type, tag and flag into a per-architecture name (to be mapped back to the
numbers LIEF gives) and parses each record through ``construct`` (tens of microseconds a symbol).
The records needed here are the gABI's fixed-size ones (section and program headers, ``Elf_Sym``,
``Elf_Dyn``, ``Elf_Versym``, ``Elf_Verdef``/``Elf_Verdaux``, ``Elf_Verneed``/``Elf_Vernaux``,
``Elf_Nhdr``), so they are unpacked here with :mod:`struct`, straight from the caller's buffer,
giving the numbers and names LIEF gives (``tests/unit/formats/test_elf.py`` loads every ELF file of
the development corpus both ways and compares).

Every table is bounded by the file before it is read: a record past the end is not read, a count
is cut to what the file can hold, chains (``vd_next``, ``vn_next``, note lists) are walked a bounded
number of steps. The header and the header tables were checked by the caller (``elf._header``).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ecuscan.model import Buffer

from ._util import as_view

__all__ = ["MAX_SECTIONS", "InPlaceElf", "Row"]

# section and program header types, dynamic tags (ELF gABI and the GNU extensions)
_SHT_DYNAMIC, _SHT_NOTE, _SHT_SYMTAB, _SHT_DYNSYM = 6, 7, 2, 11
_SHT_GNU_VERDEF, _SHT_GNU_VERNEED, _SHT_GNU_VERSYM = 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
_PT_LOAD, _PT_DYNAMIC, _PT_NOTE = 1, 2, 4
_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_STRSZ, _DT_SONAME = 0, 1, 5, 10, 14
_NT_GNU_BUILD_ID = 3
#: Longest chain of version definitions or requirements walked (a version index is 15 bits).
_MAX_VERSIONS = 0x7FFF
#: Section headers read at most (a relocatable object built with -ffunction-sections has tens of
#: thousands; the file size alone would allow 67 million in a 4 GiB file, each a Python object).
MAX_SECTIONS = 1 << 18
#: Longest name read from a string table.
_MAX_NAME = 1 << 16
#: Bytes of names one image may have read in all (far above any real library's string tables; a
#: hostile table of names without a NUL would otherwise be read again for each of its symbols).
_NAME_BUDGET = 256 << 20


@dataclass(frozen=True, slots=True)
class Row:
    """One symbol as the loader reads it (the field names are LIEF's, so one loop serves both)."""

    information: int
    name: str | bytes
    shndx: int
    value: int
    size: int
    version: str | bytes | None


@dataclass(frozen=True, slots=True)
class _Shdr:
    name: int
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int


def _name(raw: bytes) -> str | bytes:
    """A name as LIEF hands it out: text when it is UTF-8, else the bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


class InPlaceElf:
    """Sections, program headers, symbols, dynamic entries and the GNU build-id of an ELF file,
    read from ``data`` without copying it."""

    def __init__(self, data: Buffer, *, bits: int, little: bool, shoff: int, shnum: int, shstrndx: int,
                 phoff: int, phnum: int) -> None:
        mv = self._mv = as_view(data)
        self._size = len(mv)
        # bytes and maps find a NUL in place; a memoryview has no find()
        self._find = data.find if isinstance(data, (bytes, bytearray, mmap.mmap)) else None
        self._name_budget = _NAME_BUDGET
        self._order = "<" if little else ">"
        self._bits = bits
        order = self._order
        if bits == 32:
            shdr, phdr = order + "IIIIIIIIII", order + "IIIIIIII"
            self._sym, self._dyn = struct.Struct(order + "IIIBBH"), struct.Struct(order + "iI")
        else:
            shdr, phdr = order + "IIQQQQIIQQ", order + "IIQQQQQQ"
            self._sym, self._dyn = struct.Struct(order + "IBBHQQ"), struct.Struct(order + "qQ")
        count, width = min(shnum, MAX_SECTIONS), struct.calcsize(shdr)
        # (name, type, flags, addr, offset, size, link, info, addralign, entsize)
        self._shdrs = [_Shdr(*f[:8]) for f in struct.iter_unpack(shdr, mv[shoff:shoff + count * width])]
        if shstrndx == 0xFFFF and self._shdrs:  # SHN_XINDEX: the index is sh_link of section 0
            shstrndx = self._shdrs[0].link
        self._shstr = self._linked(shstrndx) if shstrndx else None
        self._phdrs: list[tuple[int, int, int, int, int, int, int]] = []
        for f in struct.iter_unpack(phdr, mv[phoff:phoff + phnum * struct.calcsize(phdr)]):
            if bits == 32:  # type offset vaddr paddr filesz memsz flags align
                self._phdrs.append((f[0], f[1], f[4], f[2], f[3], f[6], f[7]))
            else:  # type flags offset vaddr paddr filesz memsz align
                self._phdrs.append((f[0], f[2], f[5], f[3], f[4], f[1], f[7]))

    # --- what the loader asks -------------------------------------------------------------------

    def sections(self) -> Iterator[tuple[str | bytes, int, int, int, int, int]]:
        """``(name, type, flags, offset, size, address)`` of every section header, index 0 included."""
        for s in self._shdrs:
            yield self._string(self._shstr, s.name), s.type, s.flags, s.offset, s.size, s.addr

    def program_headers(self) -> list[tuple[int, int, int, int, int, int]]:
        """``(type, offset, file size, virtual address, physical address, flags)`` of each entry."""
        return [(t, off, fsz, vaddr, paddr, flags) for t, off, fsz, vaddr, paddr, flags, _ in self._phdrs]

    def symbols(self, dynamic: bool) -> Iterator[Row]:
        """The first ``.dynsym`` (``dynamic``) or ``.symtab`` table, entry 0 included; dynamic symbols
        carry the name of their GNU version (``None`` for local, global or unnamed versions)."""
        kind = _SHT_DYNSYM if dynamic else _SHT_SYMTAB
        table = next((s for s in self._shdrs if s.type == kind), None)
        if table is None:
            return
        strtab = self._linked(table.link)
        rows = self._records(table, self._sym.size)
        versym, names = self._versions(len(rows) // self._sym.size) if dynamic else (None, {})
        for i, f in enumerate(self._sym.iter_unpack(rows)):
            if self._bits == 32:
                st_name, value, size, info, _other, shndx = f
            else:
                st_name, info, _other, shndx, value, size = f
            version = None
            if versym is not None and 2 * i + 2 <= len(versym):
                index = struct.unpack_from(self._order + "H", versym, 2 * i)[0] & 0x7FFF
                if index > 1:
                    version = names.get(index)
            yield Row(info, self._string(strtab, st_name), shndx, value, size, version)

    @staticmethod
    def version(row: Row) -> str | bytes | None:
        """The name of a dynamic symbol's GNU version (as ``_LiefTables.version`` gives it)."""
        return row.version

    def dynamic(self, max_entries: int) -> Iterator[tuple[int, str | bytes | None]]:
        """``(tag, name)`` of the first ``max_entries`` dynamic entries (``name`` for DT_NEEDED and
        DT_SONAME), from PT_DYNAMIC (else the ``SHT_DYNAMIC`` section), up to DT_NULL."""
        dyn = next(((off, fsz) for t, off, fsz, *_ in self._phdrs if t == _PT_DYNAMIC), None)
        section = next((s for s in self._shdrs if s.type == _SHT_DYNAMIC), None)
        if dyn is None:
            if section is None:
                return
            dyn = (section.offset, section.size)
        raw = self._slice(*dyn)
        raw = raw[:min(len(raw) - len(raw) % self._dyn.size, max_entries * self._dyn.size)]
        strtab_at = strsz = None
        for tag, val in self._dyn.iter_unpack(raw):
            if tag == _DT_NULL:
                break
            if tag == _DT_STRTAB:
                strtab_at = self._offset_of(val)
            elif tag == _DT_STRSZ:
                strsz = val
        strtab: tuple[int, int] | None
        if strtab_at is not None:
            strtab = (strtab_at, strsz if strsz is not None else self._size)
        else:
            strtab = self._linked(section.link) if section is not None else None
        for tag, val in self._dyn.iter_unpack(raw):
            yield tag, (self._string(strtab, val) if tag in (_DT_NEEDED, _DT_SONAME) else None)
            if tag == _DT_NULL:
                return

    def build_id(self, max_notes: int) -> str | None:
        """The GNU build-id note's description in hex: from the PT_NOTE segments, else (no such
        segment) from the ``SHT_NOTE`` sections."""
        places = [(off, fsz, 8 if align == 8 else 4) for t, off, fsz, _v, _p, _f, align in self._phdrs
                  if t == _PT_NOTE]
        if not places:
            places = [(s.offset, s.size, 4) for s in self._shdrs if s.type == _SHT_NOTE]
        left = max_notes
        for off, size, align in places:
            raw = self._slice(off, size)
            pos = 0
            while pos + 12 <= len(raw) and left > 0:
                left -= 1
                namesz, descsz, ntype = struct.unpack_from(self._order + "III", raw, pos)
                name_at = pos + 12
                desc_at = name_at + -(-namesz // align) * align
                end = desc_at + -(-descsz // align) * align
                if desc_at + descsz > len(raw):
                    break
                if ntype == _NT_GNU_BUILD_ID and bytes(raw[name_at:name_at + namesz]).rstrip(b"\0") == b"GNU":
                    return bytes(raw[desc_at:desc_at + descsz]).hex() or None
                pos = end
        return None

    # --- helpers --------------------------------------------------------------------------------

    def _slice(self, offset: int, size: int) -> memoryview:
        """``size`` bytes at ``offset``, cut by the end of the file."""
        if offset >= self._size:
            return self._mv[0:0]
        return self._mv[offset:min(self._size, offset + size)]

    def _records(self, sec: _Shdr, width: int) -> memoryview:
        """A section's whole records of ``width`` bytes (what the file holds of them)."""
        raw = self._slice(sec.offset, sec.size)
        return raw[:len(raw) - len(raw) % width]

    def _linked(self, index: int) -> tuple[int, int] | None:
        """``(offset, size)`` of the string table in section ``index`` (``None`` when there is none)."""
        if index >= len(self._shdrs):
            return None
        sec = self._shdrs[index]
        return sec.offset, sec.size

    def _string(self, table: tuple[int, int] | None, index: int) -> str | bytes:
        """The NUL-terminated name at ``index`` of a string table ``(offset, size)`` ('' when out of it)."""
        if table is None or index >= table[1]:
            return ""
        start = table[0] + index
        end = min(self._size, table[0] + table[1], start + _MAX_NAME)
        if start >= end:
            return ""
        if self._find is not None:
            stop = self._find(b"\0", start, end)
            stop = end if stop < 0 else stop
        else:  # a view of a container's member: looked for in growing windows
            stop, step = -1, 256
            while stop < 0:
                window = bytes(self._mv[start:min(end, start + step)])
                stop = window.find(b"\0")
                stop = start + stop if stop >= 0 else (end if start + step >= end else -1)
                step *= 16
        self._name_budget -= stop - start + 1
        if self._name_budget < 0:
            raise ValueError(f"names of more than {_NAME_BUDGET} bytes in all (a string table without ends?)")
        return _name(bytes(self._mv[start:stop]))

    def _offset_of(self, address: int) -> int | None:
        """The file offset of a virtual address, through the PT_LOAD segments."""
        for t, off, fsz, vaddr, *_ in self._phdrs:
            if t == _PT_LOAD and vaddr <= address < vaddr + fsz:
                return off + (address - vaddr)
        return None

    def _versions(self, count: int) -> tuple[memoryview | None, dict[int, str | bytes]]:
        """The ``Elf_Versym`` entries and version index -> name, from the verdef (the first
        auxiliary entry names the version) and verneed (each auxiliary entry) sections."""
        versym_sec = next((s for s in self._shdrs if s.type == _SHT_GNU_VERSYM), None)
        if versym_sec is None:
            return None, {}
        versym = self._slice(versym_sec.offset, min(versym_sec.size, 2 * count))
        names: dict[int, str | bytes] = {}
        o = self._order
        for sec in self._shdrs:
            if sec.type not in (_SHT_GNU_VERDEF, _SHT_GNU_VERNEED):
                continue
            strtab = self._linked(sec.link)
            raw = self._slice(sec.offset, sec.size)
            pos = 0
            for _ in range(min(sec.info, _MAX_VERSIONS)):
                if sec.type == _SHT_GNU_VERDEF:
                    if pos + 20 > len(raw):
                        break
                    _ver, _flags, ndx, cnt, _hash, aux, nxt = struct.unpack_from(o + "HHHHIII", raw, pos)
                    if cnt and pos + aux + 8 <= len(raw):
                        vda_name = struct.unpack_from(o + "I", raw, pos + aux)[0]
                        names.setdefault(ndx & 0x7FFF, self._string(strtab, vda_name))
                else:
                    if pos + 16 > len(raw):
                        break
                    _ver, cnt, _file, aux, nxt = struct.unpack_from(o + "HHIII", raw, pos)
                    at = pos + aux
                    for _ in range(min(cnt, _MAX_VERSIONS)):
                        if at + 16 > len(raw):
                            break
                        _hash, _flags, other, name, anext = struct.unpack_from(o + "IHHII", raw, at)
                        names.setdefault(other & 0x7FFF, self._string(strtab, name))
                        if not anext:
                            break
                        at += anext
                if not nxt:
                    break
                pos += nxt
        return versym, names
