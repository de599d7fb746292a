"""A small PE32+ writer for tests: headers, sections, imports, exports, CodeView debug entry and
a VS_VERSIONINFO resource, laid out as the PE/COFF specification says (written here so that the
tests need no Windows toolchain). ``build_pe`` returns the bytes plus the offsets of each header
field a hostile test wants to corrupt."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

FILE_ALIGN, SECT_ALIGN = 0x200, 0x1000
IMAGE_BASE = 0x140000000
LFANEW = 0x80


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _utf16z(s: str) -> bytes:
    return s.encode("utf-16-le") + b"\0\0"


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def _ver_block(key: str, value: bytes, wtype: int, value_len: int, children: list[bytes]) -> bytes:
    """One VS_VERSIONINFO-style node: wLength, wValueLength, wType, key, padding, value, children."""
    body = _pad4(struct.pack("<HHH", 0, value_len, wtype) + _utf16z(key))
    body = _pad4(body + value) + b"".join(_pad4(c) for c in children)
    return struct.pack("<H", len(body)) + body[2:]


def version_info(strings: dict[str, str], file_version: tuple[int, int, int, int] = (1, 2, 3, 4)) -> bytes:
    """A VS_VERSIONINFO resource with a fixed file info and one 040904b0 string table."""
    ms, ls = (file_version[0] << 16) | file_version[1], (file_version[2] << 16) | file_version[3]
    fixed = struct.pack("<13I", 0xFEEF04BD, 0x00010000, ms, ls, ms, ls, 0x3F, 0, 0x40004, 1, 0, 0, 0)
    entries = [_ver_block(k, _utf16z(v), 1, len(v) + 1, []) for k, v in strings.items()]
    table = _ver_block("040904b0", b"", 1, 0, entries)
    sfi = _ver_block("StringFileInfo", b"", 1, 0, [table])
    var = _ver_block("Translation", struct.pack("<HH", 0x409, 1200), 0, 4, [])
    vfi = _ver_block("VarFileInfo", b"", 1, 0, [var])
    return _ver_block("VS_VERSION_INFO", fixed, 0, len(fixed), [sfi, vfi])


@dataclass
class PeSpec:
    machine: int = 0x8664
    subsystem: int = 10  # EFI_APPLICATION
    timestamp: int = 0x65000000
    linker: tuple[int, int] = (14, 36)
    dll: bool = False
    code: bytes = b"\xc3" * 64
    rodata: bytes = b""
    imports: dict[str, list[str]] = field(default_factory=dict)
    exports: list[str] = field(default_factory=list)
    export_name: str = ""
    pdb: str | None = None
    pdb_guid: bytes = bytes(range(1, 17))
    version: dict[str, str] | None = None
    resource_loop: bool = False


@dataclass
class BuiltPe:
    data: bytes
    nsections_at: int
    optsize_at: int
    section_table_at: int
    rsrc_rva: int | None


def build_pe(spec: PeSpec) -> BuiltPe:
    """The bytes of a PE32+ image with .text, .rdata (imports/exports/debug) and .rsrc sections."""
    text_rva = SECT_ALIGN
    rdata_rva = text_rva + _align(len(spec.code), SECT_ALIGN)
    rdata, dirs = _rdata(spec, rdata_rva)
    sections = [(".text", text_rva, spec.code, 0x60000020), (".rdata", rdata_rva, rdata, 0x40000040)]
    rsrc_rva = None
    if spec.version is not None or spec.resource_loop:
        rsrc_rva = rdata_rva + _align(max(len(rdata), 1), SECT_ALIGN)
        rsrc = _rsrc(spec, rsrc_rva)
        sections.append((".rsrc", rsrc_rva, rsrc, 0x40000040))
        dirs[2] = (rsrc_rva, len(rsrc))
    headers_size = _align(LFANEW + 24 + 240 + 40 * len(sections), FILE_ALIGN)
    raw_off, table, body = headers_size, b"", b""
    for name, rva, content, chars in sections:
        raw = _align(max(len(content), 1), FILE_ALIGN)
        table += struct.pack("<8sIIIIIIHHI", name.encode(), max(len(content), 1), rva, raw, raw_off, 0, 0, 0, 0, chars)
        body += content.ljust(raw, b"\0")
        raw_off += raw
    image_size = sections[-1][1] + _align(max(len(sections[-1][2]), 1), SECT_ALIGN)
    dos = bytearray(LFANEW)
    dos[:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, LFANEW)
    chars = 0x22 | (0x2000 if spec.dll else 0)
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", spec.machine, len(sections), spec.timestamp, 0, 0, 240, chars)
    opt = struct.pack("<HBBIIIIIQIIHHHHHHIIIIHHQQQQII", 0x20B, spec.linker[0], spec.linker[1], len(spec.code), 0, 0,
                      text_rva, text_rva, IMAGE_BASE, SECT_ALIGN, FILE_ALIGN, 6, 0, 0, 0, 6, 0, 0, image_size,
                      headers_size, 0, spec.subsystem, 0x8160, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    opt += b"".join(struct.pack("<II", *dirs.get(i, (0, 0))) for i in range(16))
    head = (bytes(dos) + coff + opt + table).ljust(headers_size, b"\0")
    return BuiltPe(head + body, LFANEW + 6, LFANEW + 20, LFANEW + 24 + 240, rsrc_rva)


def _rdata(spec: PeSpec, rva: int) -> tuple[bytes, dict[int, tuple[int, int]]]:
    buf = bytearray()
    dirs: dict[int, tuple[int, int]] = {}

    def put(b: bytes, align: int = 8) -> int:
        buf.extend(b"\0" * (-len(buf) % align))
        at = rva + len(buf)
        buf.extend(b)
        return at

    if spec.imports:
        # names and hint/name entries first, then ILT/IAT, then the descriptors
        descs = []
        for dll, funcs in spec.imports.items():
            name_rva = put(dll.encode() + b"\0", 2)
            hints = [put(struct.pack("<H", 0) + f.encode() + b"\0", 2) for f in funcs]
            ilt = put(b"".join(struct.pack("<Q", h) for h in hints) + bytes(8))
            iat = put(b"".join(struct.pack("<Q", h) for h in hints) + bytes(8))
            descs.append(struct.pack("<IIIII", ilt, 0, 0, name_rva, iat))
        table = b"".join(descs) + bytes(20)
        dirs[1] = (put(table, 4), len(table))
    if spec.exports:
        name_rva = put(spec.export_name.encode() + b"\0", 2)
        fn_names = [put(n.encode() + b"\0", 2) for n in spec.exports]
        eat = put(b"".join(struct.pack("<I", 0x1000 + 16 * i) for i in range(len(spec.exports))), 4)
        npt = put(b"".join(struct.pack("<I", r) for r in fn_names), 4)
        ordt = put(b"".join(struct.pack("<H", i) for i in range(len(spec.exports))), 4)
        n = len(spec.exports)
        edir = struct.pack("<IIHHIIIIIII", 0, 0, 0, 0, name_rva, 1, n, n, eat, npt, ordt)
        dirs[0] = (put(edir, 4), len(edir))
    if spec.pdb is not None:
        cv = b"RSDS" + spec.pdb_guid + struct.pack("<I", 7) + spec.pdb.encode() + b"\0"
        cv_rva = put(cv, 4)
        # the file offset of .rdata's raw data is patched by the caller's layout: .rdata is the
        # second section and starts right after .text's raw data
        dbg_rva = put(bytes(28), 4)
        dirs[6] = (dbg_rva, 28)
        buf_off = dbg_rva - rva
        text_raw = _align(max(len(spec.code), 1), FILE_ALIGN)
        headers = _align(LFANEW + 24 + 240 + 40 * (3 if spec.version is not None or spec.resource_loop else 2),
                         FILE_ALIGN)
        cv_file = headers + text_raw + (cv_rva - rva)
        buf[buf_off:buf_off + 28] = struct.pack("<IIHHIIII", 0, spec.timestamp, 0, 0, 2, len(cv), cv_rva, cv_file)
    if spec.rodata:
        put(spec.rodata, 1)
    return bytes(buf), dirs


def _rsrc(spec: PeSpec, rva: int) -> bytes:
    """Resource tree: type 16 (RT_VERSION) / id 1 / language 0x409 -> the VS_VERSIONINFO data."""
    def directory(entries: list[tuple[int, int]]) -> bytes:
        return struct.pack("<IIHHHH", 0, 0, 0, 0, 0, len(entries)) + b"".join(
            struct.pack("<II", i, o) for i, o in entries)

    if spec.resource_loop:  # every directory entry points back at the root directory
        return directory([(16, 0x80000000), (3, 0x80000000)])
    data = version_info(spec.version or {})
    root = directory([(16, 0x80000000 | 24)])  # -> level 2 at 24
    level2 = directory([(1, 0x80000000 | 48)])  # -> level 3 at 48
    level3 = directory([(0x409, 72)])  # -> data entry at 72
    entry = struct.pack("<IIII", rva + 88, len(data), 1200, 0)
    return root + level2 + level3 + entry + data


def to_te(pe: bytes) -> bytes:
    """The TE form of a PE32+ image (PI spec): a 40-byte header replaces the DOS, COFF and optional
    headers; everything from the section table on is kept, so file offsets shift by 40 - stripped."""
    lfanew = struct.unpack_from("<I", pe, 0x3C)[0]
    machine, nsect = struct.unpack_from("<HH", pe, lfanew + 4)
    opt = lfanew + 24
    entry, base_of_code = struct.unpack_from("<II", pe, opt + 16)
    image_base = struct.unpack_from("<Q", pe, opt + 24)[0]
    subsystem = struct.unpack_from("<H", pe, opt + 68)[0]
    dirs = opt + 112
    reloc = struct.unpack_from("<II", pe, dirs + 5 * 8)
    debug = struct.unpack_from("<II", pe, dirs + 6 * 8)
    stripped = opt + 240
    head = struct.pack("<2sHBBHIIQIIII", b"VZ", machine, nsect, subsystem, stripped, entry, base_of_code,
                       image_base, *reloc, *debug)
    return head + pe[stripped:]


def import_bomb(ndesc: int, nfunc: int, delay: bool = False) -> bytes:
    """A PE whose ``ndesc`` import (or delay-import) descriptors all share one lookup table of
    ``nfunc`` names: read naively that is ndesc * nfunc entries from a file of ndesc * 20 bytes."""
    built = build_pe(PeSpec(imports={"A.dll": [f"f{i}" for i in range(nfunc)]}))
    data = bytearray(built.data)
    dirs = LFANEW + 24 + 112
    imp_rva = struct.unpack_from("<I", data, dirs + 8)[0]
    _, _vsize, rva, _raw, ptr = struct.unpack_from("<8sIIII", data, built.section_table_at + 40)
    ilt, _, _, name_rva, iat = struct.unpack_from("<IIIII", data, ptr + imp_rva - rva)
    if delay:
        table = struct.pack("<8I", 1, name_rva, 0, iat, ilt, 0, 0, 0) * ndesc + bytes(32)
    else:
        table = struct.pack("<5I", ilt, 0, 0, name_rva, iat) * ndesc + bytes(20)
    new_rva, raw = 0x100000, _align(len(table), FILE_ALIGN)
    nsect = struct.unpack_from("<H", data, LFANEW + 6)[0]
    struct.pack_into("<8sIIIIIIHHI", data, built.section_table_at + 40 * nsect, b".idata2", len(table), new_rva,
                     raw, len(data), 0, 0, 0, 0, 0x40000040)
    struct.pack_into("<H", data, LFANEW + 6, nsect + 1)
    struct.pack_into("<I", data, LFANEW + 24 + 56, new_rva + _align(len(table), SECT_ALIGN))  # SizeOfImage
    struct.pack_into("<II", data, dirs + 8 * (13 if delay else 1), new_rva, len(table))
    if delay:
        struct.pack_into("<II", data, dirs + 8, 0, 0)
    return bytes(data) + table.ljust(raw, b"\0")


def with_rich_header(pe: bytes, tools: list[tuple[int, int, int]], key: int = 0x5A5A1234) -> bytes:
    """Insert a Rich header (Microsoft linker's tool records: product id, build, count) in the DOS
    stub: "DanS" and three zero words, then the records, all XORed with ``key``, then "Rich", key."""
    words = [0x536E6144, 0, 0, 0]  # "DanS"
    for product, build, count in tools:
        words += [(product << 16) | build, count]
    body = b"".join(struct.pack("<I", w ^ key) for w in words) + b"Rich" + struct.pack("<I", key)
    assert 0x40 + len(body) <= LFANEW
    return pe[:0x40] + body + pe[0x40 + len(body):]
