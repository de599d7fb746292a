"""UEFI firmware volumes (PI specification): OVMF/AAVMF flash images, BIOS regions.

A flash device image holds firmware volumes (``_FVH`` header, checksummed); a volume holds FFS
files (GUID-named, typed: driver, PEIM, application ...); a file holds sections: code (PE32, TE,
PIC), raw data, a user-interface name, a version, and encapsulations — compressed sections, GUID-
defined sections (LZMA, Tiano, CRC32) and whole volumes nested inside (``FIRMWARE_VOLUME_IMAGE``).

:func:`walk` walks that tree (hand-written from the PI specification's layouts: the one maintained
Python parser, ``uefi_firmware``, walks without limits and raises on corrupt input; its C
decompressors are used here, bounded). LZMA sections are decompressed with :mod:`lzma`;
EFI/Tiano-compressed ones with ``uefi_firmware.efi_compressor`` when it is installed, otherwise a
``uefi-compression-unsupported`` diagnostic says what was not looked into.

- :func:`load_uefi` gives one :class:`Image` whose scanned bytes are every code and data section
  after decompression, one segment each (``file_offset`` set when stored as is in the file);
- :func:`iter_uefi_members` yields each PE32/TE/raw section as a member (``DxeCore.efi``), which
  the PE loader then reads with its imports and build provenance.

Every offset is checked against its volume, every walk moves forward, and nesting
(``max_uefi_depth``), entries (``max_members``, ``max_segments``) and decompressed bytes
(``max_decoded_bytes``) are bounded.
"""

from __future__ import annotations

import lzma
import struct
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ecuscan.errors import EcuscanError, FormatError, LimitExceeded
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Diagnostic, Endianness, Image, ImageFormat, Segment, SegmentKind, Severity
from ecuscan.textsafe import printable

from ._util import as_view, check_file_size, sha256_of
from .base import FormatInfo, LoaderFormat, Member, OffsetMap, Skipped, UnpackBudget
from .pe import MACHINES, is_pe

__all__ = ["FORMATS", "Leaf", "efi_decompress", "find_volumes", "iter_uefi_members", "load_uefi", "walk"]

FV_SIGNATURE = b"_FVH"
#: How far into a file the first volume is looked for (flash images put a reset vector or a
#: descriptor before it), and how many candidate signatures are checked there.
_SEARCH_BYTES, _SEARCH_CANDIDATES = 16 << 20, 4096

_FFS2 = uuid.UUID("8c8ce578-8a3d-4f1c-9935-896185c32dd3")
_FFS3 = uuid.UUID("5473c07a-3dcb-4dca-bd6f-1e9689e7349a")
_NVRAM = uuid.UUID("fff12b8d-7696-4c8b-a985-2747075b4f50")

_LZMA = uuid.UUID("ee4e5898-3914-4259-9d6e-dc7bd79403cf")
_LZMA_F86 = uuid.UUID("d42ae6bd-1352-4bfb-909a-ca72a6eaae73")
_TIANO = uuid.UUID("a31280ad-481e-41b6-95e8-127f4c984779")
_CRC32 = uuid.UUID("fc1bcdb0-7d31-49aa-936a-a4600d9dd083")
_BROTLI = uuid.UUID("3d532050-5cda-4fd0-879e-0f7f630d5afb")

#: FFS file types (PI spec vol. 3) whose body is a section stream; RAW (0x01) and PAD (0xF0) are not.
_FILE_TYPES = {
    0x01: "raw", 0x02: "freeform", 0x03: "sec-core", 0x04: "pei-core", 0x05: "dxe-core", 0x06: "peim",
    0x07: "driver", 0x08: "combined-peim-driver", 0x09: "application", 0x0A: "mm", 0x0B: "fv-image",
    0x0C: "combined-mm-dxe", 0x0D: "mm-core", 0x0E: "mm-standalone", 0x0F: "mm-core-standalone",
    0xF0: "pad",
}

#: Leaf section types kept (code and data), with the name suffix of their member.
_LEAVES = {0x10: ("pe32", ".efi"), 0x11: ("pic", ".pic"), 0x12: ("te", ".te"),
           0x16: ("compatibility16", ".bin"), 0x18: ("freeform", ".bin"), 0x19: ("raw", ".raw")}
_SECTION_COMPRESSION, _SECTION_GUID, _SECTION_DISPOSABLE = 0x01, 0x02, 0x03
_SECTION_VERSION, _SECTION_UI, _SECTION_FV = 0x14, 0x15, 0x17


@dataclass(frozen=True)
class Leaf:
    """A code or data section found in a volume.

    ``name`` is its member name (``fv0/fv1/DxeCore.efi``), ``kind`` its section type, ``data``
    its bytes (decompressed when it was inside a compressed section), ``file_offset`` where
    those bytes are stored as is in the input, else ``None``.
    """

    name: str
    kind: str
    data: bytes
    file_offset: int | None
    file_guid: str
    ui_name: str | None = None
    version: str | None = None


@dataclass
class _Walk:
    path: str
    limits: Limits
    notes: list[Diagnostic] = field(default_factory=list)
    entries: int = 0
    decoded: int = 0
    volumes: int = 0
    names: set[str] = field(default_factory=set)

    def note(self, code: str, message: str, offset: int | None = None,
             severity: Severity = Severity.WARNING) -> None:
        if len(self.notes) < self.limits.max_items_per_kind:
            self.notes.append(Diagnostic(code, printable(message, 300), severity, offset))

    def count(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_members:
            raise LimitExceeded(f"more than max_members={self.limits.max_members} files and sections "
                                "in the firmware volumes", source=self.path)

    def charge(self, size: int) -> int:
        """Bytes still allowed for decompression after charging ``size``; raises past the limit."""
        self.decoded += size
        if self.decoded > self.limits.max_decoded_bytes:
            raise LimitExceeded(f"firmware volume sections decompress to more than max_decoded_bytes="
                                f"{self.limits.max_decoded_bytes}", source=self.path)
        return self.limits.max_decoded_bytes - self.decoded

    def unique(self, name: str) -> str:
        base, n = name, 1
        while name in self.names:
            n += 1
            name = f"{base}~{n}"
        self.names.add(name)
        return name


def _guid(raw: bytes | memoryview) -> uuid.UUID:
    return uuid.UUID(bytes_le=bytes(raw))


def _fv_header_ok(mv: memoryview, pos: int) -> bool:
    """A checksummed volume header at ``pos`` whose length fits in the buffer."""
    if pos < 0 or pos + 56 > len(mv) or bytes(mv[pos + 40:pos + 44]) != FV_SIGNATURE:
        return False
    fv_len, = struct.unpack_from("<Q", mv, pos + 32)
    hdr_len, = struct.unpack_from("<H", mv, pos + 48)
    if hdr_len < 56 or hdr_len % 2 or hdr_len > fv_len or pos + fv_len > len(mv):
        return False
    words = struct.unpack_from(f"<{hdr_len // 2}H", mv, pos)
    return bool(sum(words) & 0xFFFF == 0)


def find_volumes(data: Buffer, limit: int = 1 << 16) -> list[tuple[int, int]]:
    """``(offset, length)`` of the top-level volumes: the first valid header found by searching
    the first 16 MiB (8-byte aligned), then the next one after each volume's end."""
    mv = as_view(data)
    out: list[tuple[int, int]] = []
    pos = _next_volume(mv, 0)
    while pos is not None and len(out) < limit:
        fv_len, = struct.unpack_from("<Q", mv, pos + 32)
        out.append((pos, fv_len))
        pos = _next_volume(mv, pos + fv_len)
    return out


def _next_volume(mv: memoryview, start: int, span: int = _SEARCH_BYTES) -> int | None:
    """The offset of the next valid volume header in ``span`` bytes from ``start`` (bounded search)."""
    end = min(len(mv), start + span)
    tried, chunk = 0, 1 << 20
    for base in range(start, end, chunk):
        window = bytes(mv[base:min(end, base + chunk + 4)])
        hit = window.find(FV_SIGNATURE)
        while hit >= 0:
            pos = base + hit - 40
            if pos >= start and (pos - start) % 8 == 0 and _fv_header_ok(mv, pos):
                return pos
            tried += 1
            if tried > _SEARCH_CANDIDATES:
                return None
            hit = window.find(FV_SIGNATURE, hit + 1)
    return None


def efi_decompress(blob: bytes, allowed: int, tiano: bool = False) -> bytes | None:
    """Decompress EFI (UEFI spec "standard") or Tiano compressed bytes; ``None`` when no
    decompressor is installed. Refuses a stated size above ``allowed`` before inflating."""
    try:
        # imported for compressed UEFI sections only (start-up)
        from uefi_firmware import efi_compressor
    except ImportError:
        return None
    if len(blob) < 8:
        raise ValueError("compressed data shorter than its 8-byte header")
    packed, original = struct.unpack_from("<II", blob, 0)
    if original > allowed:
        raise LimitExceeded(f"a section states {original} decompressed bytes, more than the "
                            f"{allowed} left of max_decoded_bytes")
    if packed + 8 > len(blob):
        raise ValueError(f"compressed data states {packed} bytes, only {len(blob) - 8} present")
    fn: Callable[[bytes, int], bytes] = efi_compressor.TianoDecompress if tiano else efi_compressor.EfiDecompress
    out = bytes(fn(bytes(blob), len(blob)))
    if len(out) != original:
        raise ValueError(f"decompressed {len(out)} bytes, the header states {original}")
    return out


def _lzma(blob: bytes, allowed: int, x86: bool) -> bytes:
    """EDK2's LZMA: the LZMA-alone layout (5 property bytes, 8-byte size); F86 adds the x86 BCJ filter."""
    if len(blob) < 13:
        raise ValueError("LZMA section shorter than its 13-byte header")
    size, = struct.unpack_from("<Q", blob, 5)
    if size != 0xFFFFFFFFFFFFFFFF and size > allowed:
        raise LimitExceeded(f"an LZMA section states {size} decompressed bytes, more than the "
                            f"{allowed} left of max_decoded_bytes")
    if x86:
        props = blob[0]
        lc, rest = props % 9, props // 9
        lp, pb = rest % 5, rest // 5
        dict_size, = struct.unpack_from("<I", blob, 1)
        filters = [{"id": lzma.FILTER_X86},
                   {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}]
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=filters)
        out = dec.decompress(blob[13:], max_length=min(size, allowed + 1))
    else:
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
        out = dec.decompress(blob, max_length=allowed + 1)
    if len(out) > allowed:
        raise LimitExceeded(f"an LZMA section decompresses to more than the {allowed} bytes left of "
                            "max_decoded_bytes")
    return out


def walk(data: Buffer, path: str, limits: Limits = DEFAULT_LIMITS,
         notes: list[Diagnostic] | None = None) -> Iterator[Leaf]:
    """Every code/data section of every volume in ``data``, depth first, in file order."""
    w = _Walk(path, limits)
    try:
        mv = as_view(data)
        volumes = find_volumes(mv, limits.max_segments)
        if not volumes:
            raise FormatError("no valid UEFI firmware volume header (_FVH, checksummed) found", source=path)
        end = 0
        for i, (pos, length) in enumerate(volumes):
            yield from _gap(w, mv, end, pos)
            yield from _volume(w, mv[pos:pos + length], pos, f"fv{i}", 0)
            end = pos + length
        yield from _gap(w, mv, end, len(mv))
    except EcuscanError as exc:
        if exc.source is None:  # raised by a decompressor helper: name the file
            raise type(exc)(exc.message, source=path) from exc
        raise
    finally:
        if notes is not None:
            notes.extend(w.notes)


def _gap(w: _Walk, mv: memoryview, start: int, end: int) -> Iterator[Leaf]:
    """Bytes of the flash image outside every volume (reset vector, descriptor, other regions),
    scanned as data unless erased (all 0xFF or 0x00)."""
    if end > start and not _erased(mv, start, end):
        w.count()
        yield Leaf(name=w.unique(f"gap@0x{start:x}.bin"), kind="data", data=bytes(mv[start:end]),
                   file_offset=start, file_guid="")


_ERASED = (b"\xff" * (1 << 20), bytes(1 << 20))


def _erased(mv: memoryview, start: int, end: int) -> bool:
    """True when every MiB of ``mv[start:end]`` is all 0xFF or all 0x00 (compared, not copied)."""
    for pos in range(start, end, 1 << 20):
        chunk = mv[pos:min(end, pos + (1 << 20))]
        if chunk != _ERASED[0][:len(chunk)] and chunk != _ERASED[1][:len(chunk)]:
            return False
    return True


def _volume(w: _Walk, fv: memoryview, file_pos: int | None, name: str, depth: int) -> Iterator[Leaf]:
    if depth > w.limits.max_uefi_depth:
        raise LimitExceeded(f"UEFI volumes and sections nest deeper than max_uefi_depth={w.limits.max_uefi_depth}",
                            source=w.path)
    w.volumes += 1
    fs = _guid(fv[16:32])
    attrs, hdr_len, ext_off = struct.unpack_from("<IHH", fv, 44)[0], *struct.unpack_from("<HxxH", fv, 48)
    if fs not in (_FFS2, _FFS3):  # a variable store (keys, certificates) or another file system: its bytes
        w.count()
        if fs == _NVRAM:
            w.note("uefi-nvram-volume", f"{name}: variable store volume, scanned as data", file_pos, Severity.INFO)
        else:
            w.note("uefi-unknown-filesystem", f"{name}: volume file system {fs} is not FFS; scanned as data",
                   file_pos)
        yield _leaf(w, name, "volume", "nvram" if fs == _NVRAM else "data", ".bin", bytes(fv[hdr_len:]),
                    _at(file_pos, hdr_len), {})
        return
    pos = hdr_len
    if ext_off and ext_off + 20 <= len(fv):
        ext_size, = struct.unpack_from("<I", fv, ext_off + 16)
        if ext_off + ext_size <= len(fv):
            pos = max(pos, ext_off + ext_size)
    erased = 0xFF if attrs & 0x800 else 0x00
    pos = (pos + 7) & ~7
    while pos + 24 <= len(fv):
        head = bytes(fv[pos:pos + 24])
        if head == bytes([erased]) * 24:
            break  # free space
        w.count()
        guid, ftype, fattrs = _guid(head[:16]), head[18], head[19]
        size = int.from_bytes(head[20:23], "little")
        hsize = 24
        if fattrs & 0x01 and pos + 32 <= len(fv):  # FFS_ATTRIB_LARGE_FILE: 64-bit size after the header
            size, hsize = struct.unpack_from("<Q", fv, pos + 24)[0], 32
        if size < hsize or pos + size > len(fv):
            w.note("uefi-bad-file", f"{name}: file {guid} states {size} bytes at 0x{pos:x}, outside its "
                   f"{len(fv)}-byte volume; rest of the volume skipped", _at(file_pos, pos))
            return
        # the highest state bit set wins: DATA_VALID (0x04) or MARKED_FOR_UPDATE (0x08) is a live file,
        # DELETED (0x10) / HEADER_INVALID (0x20) / under construction are not
        deleted = (head[23] ^ erased).bit_length() not in (3, 4)
        if not deleted and ftype not in (0x01, 0xF0):
            yield from _sections(w, fv[pos + hsize:pos + size], _at(file_pos, pos + hsize),
                                 name, str(guid).upper(), depth, {})
        elif ftype == 0x01 and not deleted:
            body = bytes(fv[pos + hsize:pos + size])
            yield _leaf(w, name, str(guid).upper(), "raw", ".raw", body, _at(file_pos, pos + hsize), {})
        pos = (pos + size + 7) & ~7


def _at(base: int | None, rel: int) -> int | None:
    return None if base is None else base + rel


def _leaf(w: _Walk, where: str, guid: str, kind: str, suffix: str, body: bytes, file_pos: int | None,
          info: dict[str, str]) -> Leaf:
    ui = info.get("ui")
    stem = ui if ui and ui.replace("-", "").replace("_", "").replace(".", "").isalnum() else guid
    return Leaf(name=w.unique(f"{where}/{stem}{suffix}"), kind=kind, data=body, file_offset=file_pos,
                file_guid=guid, ui_name=ui, version=info.get("version"))


def _sections(w: _Walk, stream: memoryview, file_pos: int | None, where: str, guid: str, depth: int,
              info: dict[str, str]) -> Iterator[Leaf]:
    """The leaves of a section stream; names (UI sections) apply to the leaves of their file."""
    if depth > w.limits.max_uefi_depth:
        raise LimitExceeded(f"UEFI sections nest deeper than max_uefi_depth={w.limits.max_uefi_depth}",
                            source=w.path)
    items: list[tuple[int, int, int, int]] = []  # (type, start, header size, size)
    pos = 0
    while pos + 4 <= len(stream):
        w.count()
        size = int.from_bytes(stream[pos:pos + 3], "little")
        stype, hsize = stream[pos + 3], 4
        if size == 0xFFFFFF and pos + 8 <= len(stream):
            size, hsize = struct.unpack_from("<I", stream, pos + 4)[0], 8
        if size < hsize or pos + size > len(stream):
            if any(b != 0xFF for b in stream[pos:pos + 4]):
                w.note("uefi-bad-section", f"{where}/{guid}: section of {size} bytes at 0x{pos:x} runs past "
                       "its file; rest of the file skipped", _at(file_pos, pos))
            break
        items.append((stype, pos, hsize, size))
        pos = (pos + size + 3) & ~3
    for stype, start, hsize, size in items:  # names first: a UI section may follow the code it names
        body = stream[start + hsize:start + size]
        if stype == _SECTION_UI:
            info = {**info, "ui": printable(bytes(body).decode("utf-16-le", "replace").split("\0")[0], 80)}
        elif stype == _SECTION_VERSION and len(body) > 2:
            info = {**info, "version": printable(bytes(body[2:]).decode("utf-16-le", "replace").split("\0")[0], 80)}
    for stype, start, hsize, size in items:
        body = stream[start + hsize:start + size]
        body_pos = _at(file_pos, start + hsize)
        if stype in _LEAVES:
            kind, suffix = _LEAVES[stype]
            yield _leaf(w, where, guid, kind, suffix, bytes(body), body_pos, info)
        elif stype == _SECTION_FV:
            if _fv_header_ok(body, 0):
                fv_len, = struct.unpack_from("<Q", body, 32)
                yield from _volume(w, body[:fv_len], body_pos, f"{where}/fv{w.volumes}", depth + 1)
        elif stype == _SECTION_COMPRESSION:
            yield from _compressed(w, body, body_pos, where, guid, depth, info)
        elif stype == _SECTION_GUID:
            yield from _guided(w, stream[start:start + size], hsize, body_pos, where, guid, depth, info)
        elif stype == _SECTION_DISPOSABLE:
            continue


def _compressed(w: _Walk, body: memoryview, file_pos: int | None, where: str, guid: str, depth: int,
                info: dict[str, str]) -> Iterator[Leaf]:
    if len(body) < 5:
        w.note("uefi-bad-section", f"{where}/{guid}: compression section header truncated", file_pos)
        return
    length, ctype = struct.unpack_from("<IB", body, 0)
    payload = bytes(body[5:])
    if ctype == 0:
        yield from _sections(w, memoryview(payload[:length]), _at(file_pos, 5), where, guid, depth + 1, info)
        return
    try:
        out = efi_decompress(payload, w.charge(0))
    except LimitExceeded:
        raise
    except Exception as exc:  # the C decompressor's errors, a lying header: a corrupt section
        w.note("uefi-decompress-failed", f"{where}/{guid}: EFI-compressed section: {exc}", file_pos)
        return
    yield from _decoded(w, out, "EFI/Tiano", file_pos, where, guid, depth, info)


def _decoded(w: _Walk, out: bytes | None, label: str, file_pos: int | None, where: str, guid: str, depth: int,
             info: dict[str, str]) -> Iterator[Leaf]:
    """The sections inside a decompressed payload, charged to the budget; ``None`` (no
    decompressor for the format) is a diagnostic saying the contents were not scanned."""
    if out is None:
        w.note("uefi-compression-unsupported", f"{where}/{guid}: {label}-compressed section not decompressed "
               "(install uefi-firmware); its contents were not scanned", file_pos)
        return
    w.charge(len(out))
    yield from _sections(w, memoryview(out), None, where, guid, depth + 1, info)


def _guided(w: _Walk, section: memoryview, hsize: int, file_pos: int | None, where: str, guid: str,
            depth: int, info: dict[str, str]) -> Iterator[Leaf]:
    if len(section) < hsize + 20:
        w.note("uefi-bad-section", f"{where}/{guid}: GUID-defined section header truncated", file_pos)
        return
    kind = _guid(section[hsize:hsize + 16])
    data_off, attrs = struct.unpack_from("<HH", section, hsize + 16)
    if data_off < hsize + 20 or data_off > len(section):
        w.note("uefi-bad-section", f"{where}/{guid}: GUID-defined section data offset {data_off} is "
               "outside the section", file_pos)
        return
    payload = section[data_off:]
    pos = _at(file_pos, data_off - hsize)
    if kind == _CRC32 or not attrs & 0x01:  # no processing needed: the payload is a section stream
        yield from _sections(w, payload, pos, where, guid, depth + 1, info)
        return
    try:
        if kind in (_LZMA, _LZMA_F86):
            out: bytes | None = _lzma(bytes(payload), w.charge(0), x86=kind == _LZMA_F86)
        elif kind == _TIANO:
            out = efi_decompress(bytes(payload), w.charge(0), tiano=True)
        else:
            label = "Brotli" if kind == _BROTLI else str(kind)
            w.note("uefi-compression-unsupported", f"{where}/{guid}: {label}-encoded section not decoded; "
                   "its contents were not scanned", file_pos)
            return
    except LimitExceeded:
        raise
    except Exception as exc:  # lzma.LZMAError, the C decompressor's errors: a corrupt section
        w.note("uefi-decompress-failed", f"{where}/{guid}: {kind} section: {type(exc).__name__}: {exc}", file_pos)
        return
    yield from _decoded(w, out, "Tiano", file_pos, where, guid, depth, info)


def load_uefi(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS) -> Image:
    """One image of every code and data section of the volumes, decompressed, one segment each."""
    check_file_size(data, path, limits)
    notes: list[Diagnostic] = []
    parts: list[bytes] = []
    segments: list[Segment] = []
    offset = files = 0
    versions: dict[str, None] = {}
    machines: Counter[int] = Counter()
    for leaf in walk(data, path, limits, notes):
        if len(segments) >= limits.max_segments:
            notes.append(Diagnostic("uefi-too-many-sections", f"more than max_segments={limits.max_segments} "
                                    "sections; the rest is not scanned"))
            break
        files += 1
        kind = SegmentKind.CODE if leaf.kind in ("pe32", "te", "pic") else SegmentKind.DATA
        segments.append(Segment(name=leaf.name, address=None, offset=offset, size=len(leaf.data), kind=kind,
                                file_offset=leaf.file_offset, sha256=sha256_of(leaf.data)))
        parts.append(leaf.data)
        offset += len(leaf.data)
        if leaf.version:
            versions.setdefault(leaf.version, None)
        machine = _machine(leaf)
        if machine is not None:
            machines[machine] += 1
    meta = {"uefi:volumes": str(len(find_volumes(data, limits.max_segments))), "uefi:sections": str(files)}
    if versions:
        meta["uefi:versions"] = ", ".join(list(versions)[:16])
    arch = MACHINES.get(machines.most_common(1)[0][0]) if machines else None
    return Image(path=path, format=ImageFormat.UEFI_FV, data=b"".join(parts), segments=tuple(segments),
                 arch=arch, endianness=Endianness.LITTLE if arch else None, metadata=meta,
                 diagnostics=tuple(notes))


def _machine(leaf: Leaf) -> int | None:
    """The COFF machine of a PE32 or TE section (the volume's architecture is its drivers')."""
    body = leaf.data
    if leaf.kind == "te" and body[:2] == b"VZ" and len(body) >= 4:
        return int.from_bytes(body[2:4], "little")
    if leaf.kind == "pe32" and is_pe(body[:4096]):
        at = int.from_bytes(body[60:64], "little") + 4
        return int.from_bytes(body[at:at + 2], "little")
    return None


def iter_uefi_members(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS, depth: int = 0,
                      skipped: list[Skipped] | None = None,
                      budget: UnpackBudget | None = None) -> Iterator[Member]:
    """Each PE32/TE/PIC/raw section of the volumes as a member (``fv0/fv1/DxeCore.efi``)."""
    if depth > limits.max_container_depth:
        raise LimitExceeded(f"containers nested deeper than max_container_depth={limits.max_container_depth}",
                            source=path)
    budget = budget if budget is not None else UnpackBudget()
    notes: list[Diagnostic] = []
    for leaf in walk(data, path, limits, notes):
        if len(leaf.data) > limits.max_member_bytes:
            if skipped is not None:
                skipped.append(Skipped(f"{path}!/{leaf.name}", f"more than max_member_bytes={limits.max_member_bytes}"))
            continue
        budget.take(len(leaf.data), limits, path)
        yield Member(path=f"{path}!/{leaf.name}", name=leaf.name, data=leaf.data)
    if skipped is not None:
        for d in notes:
            if d.severity is not Severity.INFO:
                skipped.append(Skipped(path, f"{d.code}: {d.message}"))


def _probe(head: bytes, data: Buffer) -> bool:
    """A volume at 0, or on a 4 KiB flash-block boundary in the first MiB (after a reset vector or
    descriptor): 256 four-byte comparisons, no copy, as every input is probed."""
    if head[40:44] == FV_SIGNATURE:
        return _fv_header_ok(as_view(data), 0)
    mv = as_view(data)
    for pos in range(0x1000, min(len(mv) - 56, 1 << 20), 0x1000):
        if mv[pos + 40:pos + 44] == FV_SIGNATURE and _fv_header_ok(mv, pos):
            return True
    return False


#: Registration (ecuscan.formats.registry).
FORMATS = (LoaderFormat(
    FormatInfo(ImageFormat.UEFI_FV, "UEFI (PI) firmware volumes: flash device image, OVMF/AAVMF, BIOS region",
               "application/x-uefi-fv", "`_FVH` at volume offset 40 with a valid header checksum "
               "(first volume at a 4 KiB boundary in the first MiB)", OffsetMap.PAYLOAD, container=True),
    _probe, load_uefi, members_fn=iter_uefi_members),)
