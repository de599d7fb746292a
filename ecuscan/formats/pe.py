"""PE/COFF loader (LIEF): UEFI applications and drivers, Windows programs and DLLs.

The scanned bytes are the file itself, so identification runs over every section and the
evidence offsets are file offsets. What the headers state is kept:

- sections as segments at ``image base + RVA`` (the load address);
- imported DLLs as ``needed`` (like ELF ``DT_NEEDED``: the image *uses* them), imported
  functions as undefined symbols, exported functions as defined symbols, the export name of a
  DLL as ``soname``;
- build provenance: the CodeView PDB path (``build_paths``) and its GUID/age (``build_id``),
  the link timestamp (unless zero or a reproducible-build hash), the linker version
  (``toolchains``), machine and subsystem (``EFI_APPLICATION``, ``EFI_BOOT_SERVICE_DRIVER`` ...);
- the Authenticode signature: present or not, and its signers;
- version resources (``VS_VERSIONINFO``: ``ProductName``, ``FileVersion``, ``CompanyName`` ...)
  as ``pe:version:<key>`` metadata.

The fixed headers are checked by hand before LIEF sees the bytes (a section count or header size
that lies is refused with a clear :class:`~ecuscan.errors.FormatError`); LIEF parses sections,
exports, resources and the Authenticode signature. Imports, delay imports and the debug directory
are read by hand, bounded, and hidden from LIEF: their tables may be shared by any number of
descriptors, and LIEF reads each share again (a 425 KB file cost it 33 s and 2.5 GB). Counts are
bounded by :class:`~ecuscan.limits.Limits` (``max_segments``, ``max_symbols``,
``max_items_per_kind``, ``max_pe_bytes``).
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ecuscan.errors import FormatError
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.mapped import hash_range
from ecuscan.model import (
    Buffer,
    Diagnostic,
    Endianness,
    Image,
    ImageFormat,
    Segment,
    SegmentKind,
    Symbol,
    Toolchain,
)
from ecuscan.textsafe import printable

from ._util import LiefFeed, as_view, check_file_size, sha256_of
from .base import FormatInfo, LoaderFormat, OffsetMap

__all__ = ["FORMATS", "PeHeaders", "is_pe", "load_pe", "read_headers"]

_LIEF: Any = None


def _lief() -> Any:
    """LIEF, imported on the first PE image: its import takes over a second, and every input is
    probed by this module (the probe itself needs no LIEF)."""
    global _LIEF
    if _LIEF is None:
        import lief

        lief.logging.disable()
        _LIEF = lief
    return _LIEF

#: COFF machine numbers (PE format specification) -> ecuscan architecture names.
MACHINES: dict[int, str] = {
    0x014C: "x86", 0x8664: "x86_64", 0xAA64: "aarch64", 0x01C0: "arm", 0x01C2: "arm", 0x01C4: "arm",
    0x5032: "riscv", 0x5064: "riscv64", 0x5128: "riscv128", 0x6232: "loongarch32",
    0x6264: "loongarch64", 0x0EBC: "ebc", 0x0200: "ia64", 0x01F0: "powerpc",
}

#: Optional-header subsystem numbers -> names.
SUBSYSTEMS: dict[int, str] = {
    1: "NATIVE", 2: "WINDOWS_GUI", 3: "WINDOWS_CUI", 9: "WINDOWS_CE_GUI", 10: "EFI_APPLICATION",
    11: "EFI_BOOT_SERVICE_DRIVER", 12: "EFI_RUNTIME_DRIVER", 13: "EFI_ROM", 16: "WINDOWS_BOOT_APPLICATION",
}

#: The Windows loader refuses more sections than this (PE format specification); so do we.
MAX_PE_SECTIONS = 96

_SCN_CNT_CODE, _SCN_CNT_UNINIT, _SCN_MEM_EXECUTE, _SCN_MEM_WRITE = 0x20, 0x80, 0x20000000, 0x80000000
_FILE_DLL = 0x2000
_DEBUG_CODEVIEW, _DEBUG_REPRO = 2, 16
#: Data directories LIEF is not given: import 1, debug 6, load config 10, bound import 11, IAT 12, delay import 13.
_BLANKED = (1, 6, 10, 11, 12, 13)
#: 1993-01-01: no PE image was linked before Windows NT 3.1; an earlier stamp is a placeholder (iPXE's).
_PE_EPOCH = 725846400


@dataclass(frozen=True)
class PeHeaders:
    """The fixed headers of a PE image, checked against the file size."""

    pe_offset: int
    machine: int
    sections: int
    timestamp: int
    characteristics: int
    bits: int
    optional_size: int
    subsystem: int


def is_pe(head: bytes) -> bool:
    """True if ``head`` starts with an MZ header whose ``e_lfanew`` points at ``PE\\0\\0``.

    >>> is_pe(b"MZ" + bytes(58) + (64).to_bytes(4, "little") + b"PE\\0\\0")
    True
    >>> is_pe(b"MZ" + bytes(100))
    False
    """
    if len(head) < 64 or head[:2] != b"MZ":
        return False
    lfanew = int.from_bytes(head[60:64], "little")
    return 64 <= lfanew <= len(head) - 4 and head[lfanew:lfanew + 4] == b"PE\0\0"


def read_headers(data: Buffer, path: str) -> PeHeaders:
    """Check the DOS, COFF and optional headers against the file; raise :class:`FormatError` if they lie.

    Hand-written: these fixed fields decide whether LIEF is handed the bytes at all, and LIEF
    accepts counts a loader would refuse.
    """
    mv = as_view(data)
    size = len(mv)
    if size < 64 or bytes(mv[:2]) != b"MZ":
        raise FormatError("not a PE image (no MZ header)", source=path)
    lfanew = int.from_bytes(mv[60:64], "little")
    if lfanew < 4 or lfanew + 24 > size or bytes(mv[lfanew:lfanew + 4]) != b"PE\0\0":
        raise FormatError(f"PE header offset 0x{lfanew:x} does not point at a PE signature inside the "
                          f"{size}-byte file", source=path)
    machine, nsect, stamp, _symptr, _nsym, optsize, chars = struct.unpack_from("<HHIIIHH", mv, lfanew + 4)
    if nsect == 0 or nsect > MAX_PE_SECTIONS:
        raise FormatError(f"PE header states {nsect} sections (1..{MAX_PE_SECTIONS} allowed)", source=path)
    opt = lfanew + 24
    if optsize < 2 or opt + optsize > size:
        raise FormatError(f"PE optional header of {optsize} bytes runs past the end of the file", source=path)
    magic = int.from_bytes(mv[opt:opt + 2], "little")
    if magic not in (0x10B, 0x20B):
        raise FormatError(f"PE optional header magic 0x{magic:x} is neither PE32 nor PE32+", source=path)
    if opt + optsize + 40 * nsect > size:
        raise FormatError(f"PE section table ({nsect} sections) runs past the end of the file", source=path)
    subsystem = int.from_bytes(mv[opt + 68:opt + 70], "little") if optsize >= 70 else 0
    return PeHeaders(lfanew, machine, nsect, stamp, chars, 64 if magic == 0x20B else 32, optsize, subsystem)


def _config() -> Any:
    cfg = _lief().PE.ParserConfig()
    cfg.parse_imports = False  # read by hand, bounded: see _imports and _for_lief
    cfg.parse_reloc = False
    cfg.parse_exceptions = False
    if hasattr(cfg, "parse_arm64x_binary"):  # LIEF >= 0.16
        cfg.parse_arm64x_binary = False
    return cfg


def _text(value: object, limit: int) -> str:
    """A name from the image (LIEF gives ``str`` or ``bytes``), NULs dropped, made printable."""
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).split(b"\0", 1)[0].decode("utf-8", "replace")
    return printable(str(value or "").split("\0", 1)[0], limit)



def _segments(binary: Any, base: int, size: int, limits: Limits,
              notes: list[Diagnostic], data: Buffer) -> tuple[Segment, ...]:
    out: list[Segment] = []
    for i, sec in enumerate(binary.sections):
        if i >= limits.max_segments:
            notes.append(Diagnostic("pe-too-many-sections", f"more than {limits.max_segments} sections"))
            break
        name = _text(sec.name, 64) or f"section{i}"
        chars = int(sec.characteristics)
        off, raw = int(sec.pointerto_raw_data), int(sec.sizeof_raw_data)
        vsize = int(sec.virtual_size)
        length = min(raw, vsize) if vsize else raw
        if chars & (_SCN_CNT_CODE | _SCN_MEM_EXECUTE):
            kind = SegmentKind.CODE
        elif chars & _SCN_CNT_UNINIT and raw == 0:
            kind = SegmentKind.BSS
        else:
            kind = SegmentKind.DATA if chars & _SCN_MEM_WRITE else SegmentKind.RODATA
        if length and off + length > size:
            notes.append(Diagnostic("pe-truncated-section", f"section {name} states {length} bytes at "
                                    f"0x{off:x}, past the end of the {size}-byte file", offset=off))
            length = max(0, size - off)
        addr = base + int(sec.virtual_address)
        if not length:
            out.append(Segment(name=name, address=addr, offset=off if off <= size else 0, size=0, kind=kind))
            continue
        out.append(Segment(name=name, address=addr, offset=off, size=length, kind=kind, file_offset=off,
                           sha256=sha256_of(data, off, length)))
    return tuple(out)


class _Rva:
    """RVA -> file offset through the section table, read by hand from the checked headers."""

    def __init__(self, mv: memoryview, hdr: PeHeaders) -> None:
        table = hdr.pe_offset + 24 + hdr.optional_size
        self.mv = mv
        self.sections = [struct.unpack_from("<8xIIII", mv, table + 40 * i) for i in range(hdr.sections)]

    def offset(self, rva: int) -> int | None:
        for vsize, va, raw, ptr in self.sections:
            if va <= rva < va + max(vsize, raw) and rva - va < raw and ptr + rva - va < len(self.mv):
                return int(ptr + rva - va)
        return None

    def cstring(self, rva: int, limit: int) -> str:
        off = self.offset(rva)
        if off is None:
            return ""
        raw = bytes(self.mv[off:off + limit]).split(b"\0", 1)[0]
        return printable(raw.decode("latin-1"), limit)

    def word(self, rva: int, size: int) -> int | None:
        off = self.offset(rva)
        if off is None or off + size > len(self.mv):
            return None
        return int.from_bytes(self.mv[off:off + size], "little")


def _directory(mv: memoryview, hdr: PeHeaders, index: int) -> tuple[int, int]:
    """(RVA, size) of data directory ``index`` (0 export, 1 import, 13 delay import), (0, 0) when absent."""
    opt = hdr.pe_offset + 24
    first = opt + (112 if hdr.bits == 64 else 96)
    count = int.from_bytes(mv[first - 4:first], "little")
    at = first + 8 * index
    if index >= count or at + 8 > opt + hdr.optional_size:
        return 0, 0
    rva, size = struct.unpack_from("<II", mv, at)
    return rva, size


def _imports(mv: memoryview, hdr: PeHeaders, limits: Limits) -> tuple[tuple[str, ...], list[Symbol]]:
    """Imported DLLs and functions, from the import and delay-import directories.

    Hand-written: LIEF materialises every entry of every descriptor, and descriptors may share one
    lookup table: a 425 KB file made LIEF build 20 million entries (33 s, 2.5 GB). Here a lookup
    table is read once, at most ``max_items_per_kind`` descriptors and ``max_symbols`` names.
    """
    rvas = _Rva(mv, hdr)
    width = 8 if hdr.bits == 64 else 4
    ordinal_flag = 1 << (width * 8 - 1)
    dlls: dict[str, None] = {}
    syms: list[Symbol] = []
    tables: set[int] = set()
    for index, desc_size, name_at, table_at in ((1, 20, 12, 0), (13, 32, 4, 16)):  # import, delay import
        rva, _size = _directory(mv, hdr, index)
        for i in range(limits.max_items_per_kind if rva else 0):
            start = rvas.offset(rva + desc_size * i)
            if start is None or start + desc_size > len(mv) or not any(mv[start:start + desc_size]):
                break
            dll = rvas.cstring(int.from_bytes(mv[start + name_at:start + name_at + 4], "little"), 128)
            if not dll or len(dlls) >= limits.max_items_per_kind:
                continue
            dlls.setdefault(dll, None)
            table = int.from_bytes(mv[start + table_at:start + table_at + 4], "little")
            if index == 1 and not table:  # no lookup table: the address table holds the names
                table = int.from_bytes(mv[start + 16:start + 20], "little")
            if not table or table in tables:
                continue
            tables.add(table)
            for j in range(limits.max_symbols - len(syms)):
                thunk = rvas.word(table + width * j, width)
                if not thunk:
                    break
                name = (f"{dll}#{thunk & 0xFFFF}" if thunk & ordinal_flag
                        else rvas.cstring((thunk & 0x7FFFFFFF) + 2, 256))
                if name:
                    syms.append(Symbol(name=name, address=None, defined=False))
    return tuple(dlls), syms


def _exports(binary: Any, base: int, limits: Limits) -> tuple[str | None, list[Symbol]]:
    if not binary.has_exports:
        return None, []
    exp = binary.get_export()
    syms = []
    for i, entry in enumerate(exp.entries):
        if i >= limits.max_symbols:
            break
        if entry.name:
            syms.append(Symbol(name=_text(entry.name, 256), address=base + int(entry.address), defined=True))
    return (_text(exp.name, 128) or None), syms


def _debug(mv: memoryview, hdr: PeHeaders, meta: dict[str, str]) -> tuple[str | None, tuple[str, ...], bool]:
    """(build id from the CodeView GUID and age, PDB paths, whether the build is reproducible).

    Hand-written and bounded (64 entries, 4 KiB of CodeView data each): debug entries may all
    point at the same large payload, which LIEF would read once per entry.
    """
    build_id, paths, repro = None, [], False
    rva, size = _directory(mv, hdr, 6)
    start = _Rva(mv, hdr).offset(rva) if rva else None
    for i in range(min(size // 28, 64) if start is not None else 0):
        at = start + 28 * i  # type: ignore[operator]
        if at + 28 > len(mv):
            break
        kind, data_size, _addr, ptr = struct.unpack_from("<12xIIII", mv, at)
        if kind == _DEBUG_REPRO:
            repro = True
        if kind != _DEBUG_CODEVIEW or ptr + 24 > len(mv):
            continue
        blob = bytes(mv[ptr:ptr + min(data_size, 4096)])
        if blob[:4] == b"RSDS" and len(blob) >= 24:
            guid, age, name = blob[4:20], int.from_bytes(blob[20:24], "little"), blob[24:]
            if any(guid):  # as symbol servers key a PDB: GUID (Windows order), age
                build_id = build_id or f"{uuid.UUID(bytes_le=guid).hex.upper()}{age:X}"
        elif blob[:4] == b"NB10" and len(blob) >= 16:
            name = blob[16:]
        else:
            continue
        pdb = _text(name, 512)
        if pdb:
            paths.append(pdb)
            meta.setdefault("pe:pdb", pdb)
    return build_id, tuple(paths), repro


def _rich_entries(binary: Any) -> int:
    """How many tool records the Rich header (Microsoft's linker) lists; 0 when there is none."""
    return len(binary.rich_header.entries) if binary.has_rich_header else 0


_HASHES = {"SHA_256": "sha256", "SHA_1": "sha1", "MD5": "md5", "SHA_384": "sha384", "SHA_512": "sha512"}


def _signed_digest(data: Buffer, hdr: PeHeaders, binary: Any) -> str | None:
    """``ok`` when the file still hashes to the digest its Authenticode signature signed,
    ``mismatch`` when it was changed after signing, ``None`` when unsigned or not checkable.

    The Authenticode hash covers the file except the checksum field, the certificate-table
    directory entry and the certificate table (computed here: LIEF is given blanked directories).
    """
    if not binary.has_signatures:
        return None
    info = next(iter(binary.signatures)).content_info
    name = _HASHES.get(str(info.digest_algorithm).rsplit(".", 1)[-1])
    if name is None:
        return None
    mv = as_view(data)
    opt = hdr.pe_offset + 24
    cert_off, cert_size = _directory(mv, hdr, _SECURITY)  # a file offset, not an RVA
    skip = sorted([(opt + 64, 4), (opt + (112 if hdr.bits == 64 else 96) + 32, 8), (cert_off, cert_size)])
    digest = hashlib.new(name)
    for start, stop in _gaps(skip, len(mv)):
        hash_range(digest, data, start, stop)  # a large map's pages are given back as it goes
    return "ok" if digest.digest() == bytes(info.digest) else "mismatch"


def _gaps(skip: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """The ``(start, stop)`` ranges of ``[0, size)`` outside the sorted ``(offset, length)`` ranges."""
    out, pos = [], 0
    for start, length in skip:
        if start > pos:
            out.append((pos, min(start, size)))
        pos = max(pos, start + length)
    if pos < size:
        out.append((pos, size))
    return [(a, b) for a, b in out if a < b]


def _signature(binary: Any, meta: dict[str, str], limits: Limits) -> None:
    meta["pe:signed"] = "true" if binary.has_signatures else "false"
    signers: list[str] = []
    for sig in binary.signatures:
        for signer in sig.signers:
            if len(signers) >= limits.max_items_per_kind:
                break
            cert = signer.cert
            subject = cert.subject if cert is not None else f"issuer {signer.issuer}"
            signers.append(printable(subject, 300))
    for i, subject in enumerate(signers[:8]):
        meta[f"pe:signer{'' if i == 0 else i + 1}"] = subject


def _version_info(binary: Any, meta: dict[str, str], limits: Limits) -> None:
    if not binary.has_resources:
        return
    manager = binary.resources_manager
    if not manager.has_version:
        return
    count = 0
    for version in manager.version:
        info = version.string_file_info
        if info is None:
            continue
        for table in info.children:
            for entry in table.entries:
                if count >= limits.max_items_per_kind:
                    return
                key, value = _text(entry.key, 64), _text(entry.value, 300)
                if key and value:
                    meta.setdefault(f"pe:version:{key}", value)
                    count += 1


def _guarded(part: str, notes: list[Diagnostic], default: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """Read one directory; a corrupt one (LIEF hands out undecodable strings) becomes a diagnostic."""
    try:
        return fn(*args)
    except (UnicodeDecodeError, ValueError, RuntimeError, OverflowError) as exc:
        notes.append(Diagnostic(f"pe-bad-{part.replace(' ', '-')}", f"{part} unreadable: "
                                f"{type(exc).__name__}: {printable(str(exc), 160)}"))
        return default


def _for_lief(data: Buffer, hdr: PeHeaders) -> LiefFeed:
    """What LIEF parses: the file, with the directories read by hand here (imports, delay imports,
    bound imports, IAT, debug, load configuration) blanked, so LIEF spends nothing on them. LIEF's
    copy is the only one made (:class:`LiefFeed`), and a long overlay is left out of it
    (:func:`_without_overlay`)."""
    first = hdr.pe_offset + 24 + (112 if hdr.bits == 64 else 96)
    blank = [(first + 8 * index, 8) for index in _BLANKED
             if first + 8 * index + 8 <= hdr.pe_offset + 24 + hdr.optional_size]
    trimmed = _without_overlay(as_view(data), hdr, blank)
    return LiefFeed(trimmed) if trimmed is not None else LiefFeed(data, blank)


#: An overlay (bytes past the headers and sections, outside the COFF symbol and string tables and
#: the certificate table) of this many bytes or more is not handed to LIEF: it reads nothing in it,
#: and would keep a copy of it beside its copy of the file (an installer's payload, a firmware
#: bundle's blobs).
OVERLAY_KEPT = 1 << 20
_SECURITY = 4  # data directory index of the certificate table (its "RVA" is a file offset)


def _without_overlay(mv: memoryview, hdr: PeHeaders, blank: list[tuple[int, int]]) -> bytearray | None:
    """The file without a long overlay, for LIEF: the headers and section data, then the COFF
    symbol and string tables (they hold long section names) and the certificate table (8-byte
    aligned), each pointer set to its new place, ``blank`` applied. ``None`` (the file as it is)
    when the overlay is short, or when one of those tables overlaps the section data or runs past
    the end of the file."""
    size = len(mv)
    opt = hdr.pe_offset + 24
    end = min(size, int.from_bytes(mv[opt + 60:opt + 64], "little"))  # SizeOfHeaders
    table = opt + hdr.optional_size
    end = max(end, table + 40 * hdr.sections)
    for i in range(hdr.sections):
        raw_size, raw_ptr = struct.unpack_from("<II", mv, table + 40 * i + 16)
        if raw_size and raw_ptr < size:
            end = max(end, min(size, raw_ptr + raw_size))
    kept: list[tuple[int, int, int, int]] = []  # (offset, size, where its pointer is, alignment)
    sym_off, sym_count = struct.unpack_from("<II", mv, hdr.pe_offset + 12)  # PointerToSymbolTable
    if sym_off:
        strings = sym_off + 18 * sym_count  # the string table follows the symbols, led by its size
        if strings + 4 > size:
            return None
        kept.append((sym_off, strings - sym_off + int.from_bytes(mv[strings:strings + 4], "little"),
                     hdr.pe_offset + 12, 1))
    cert_off, cert_size = _directory(mv, hdr, _SECURITY)
    if cert_size:
        kept.append((cert_off, cert_size, opt + (112 if hdr.bits == 64 else 96) + 8 * _SECURITY, 8))
    if any(not (end <= off and off + length <= size) for off, length, _, _ in kept):
        return None
    if size - end - sum(length for _, length, _, _ in kept) < OVERLAY_KEPT:
        return None
    out = bytearray(mv[:end])
    for at, length in blank:
        out[at:at + length] = bytes(length)
    for off, length, pointer, align in sorted(kept):
        out += bytes(-len(out) % align)  # WIN_CERTIFICATE entries are 8-byte aligned
        struct.pack_into("<I", out, pointer, len(out))
        out += mv[off:off + length]
    return out


def load_pe(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS) -> Image:
    """Load a PE/COFF image (``.efi``, ``.exe``, ``.dll``, ``.sys``, an EDK2 driver).

    Raises :class:`FormatError` (naming ``path``) when the headers lie or LIEF cannot read it.
    A PE larger than ``max_pe_bytes`` is scanned as its bytes only, with a warning.
    """
    size = check_file_size(data, path, limits)
    hdr = read_headers(data, path)
    arch = MACHINES.get(hdr.machine)
    meta: dict[str, str] = {"pe:machine": arch or f"0x{hdr.machine:04x}"}
    notes: list[Diagnostic] = []
    if size > limits.max_pe_bytes:
        notes.append(Diagnostic("pe-too-large", f"{size} bytes, more than max_pe_bytes={limits.max_pe_bytes}: "
                                "headers, imports and resources not read, bytes scanned as they are"))
        seg = Segment(name="file", address=None, offset=0, size=size, file_offset=0, sha256=sha256_of(data))
        return Image(path=path, format=ImageFormat.PE, data=data, segments=(seg,), arch=arch, bits=hdr.bits,
                     endianness=Endianness.LITTLE, metadata=meta, diagnostics=tuple(notes))
    feed = _for_lief(data, hdr)
    try:
        binary = _lief().PE.parse(feed, _config())
    finally:
        feed.close()
    if binary is None:
        raise FormatError("LIEF cannot read this PE image", source=path)
    opt = binary.optional_header
    base = int(opt.imagebase)
    meta["pe:subsystem"] = SUBSYSTEMS.get(hdr.subsystem, str(hdr.subsystem))
    meta["pe:image_base"] = f"0x{base:x}"
    linker = f"{int(opt.major_linker_version)}.{int(opt.minor_linker_version)}"
    meta["pe:linker_version"] = linker
    if hdr.characteristics & _FILE_DLL:
        meta["pe:dll"] = "true"
    segments = _segments(binary, base, size, limits, notes, data)
    needed, imported = _guarded("imports", notes, ((), []), _imports, as_view(data), hdr, limits)
    soname, exported = _guarded("exports", notes, (None, []), _exports, binary, base, limits)
    build_id, pdbs, repro = _guarded("debug directory", notes, (None, (), False), _debug, as_view(data), hdr, meta)
    if hdr.timestamp >= _PE_EPOCH and not repro:
        meta["pe:link_time"] = datetime.fromtimestamp(hdr.timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _guarded("signature", notes, None, _signature, binary, meta, limits)
    checked = _guarded("signature digest", notes, None, _signed_digest, data, hdr, binary)
    if checked:
        meta["pe:signature_digest"] = checked
        if checked == "mismatch":
            notes.append(Diagnostic("pe-signature-mismatch", "the file was changed after it was signed: its "
                                    "Authenticode hash differs from the signed digest"))
    _guarded("version resource", notes, None, _version_info, binary, meta, limits)
    entry_rva = int(opt.addressof_entrypoint)
    rich = _guarded("rich header", notes, 0, _rich_entries, binary)
    if rich:  # only Microsoft's linker writes a Rich header: the linker version is the MSVC toolset's
        meta["pe:rich_entries"] = str(rich)
    name = "MSVC linker" if rich else "PE linker"
    tools = () if linker == "0.0" else (  # EDK2's GenFw writes 0.0: no linker is named
        Toolchain(name=name, version=linker, source="pe-header", text=f"{name} version {linker}"),)
    return Image(
        path=path, format=ImageFormat.PE, data=data, segments=segments, arch=arch, bits=hdr.bits,
        endianness=Endianness.LITTLE, entry=base + entry_rva if entry_rva else None,
        symbols=tuple([*exported, *imported][:limits.max_symbols]),
        soname=soname if hdr.characteristics & _FILE_DLL else None, needed=needed, build_id=build_id,
        build_paths=pdbs, toolchains=tools, metadata=meta, diagnostics=tuple(notes))


def _probe(head: bytes, _data: Buffer) -> bool:
    return is_pe(head)


#: Registration (ecuscan.formats.registry).
FORMATS = (LoaderFormat(
    FormatInfo(ImageFormat.PE, "PE/COFF: UEFI application or driver, Windows program or DLL",
               "application/vnd.microsoft.portable-executable", "`MZ`, and `PE\\0\\0` at `e_lfanew`",
               OffsetMap.FILE),
    _probe, load_pe),)
