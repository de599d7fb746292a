"""TE (Terse Executable) images: the PE32 images of UEFI's SEC and PEI phases with the DOS, COFF
and optional headers replaced by one 40-byte header (PI specification, volume 1).

Layout: ``VZ``, machine, section count, subsystem, the number of header bytes stripped from the
PE, entry point, base of code, image base, then the relocation and debug data directories, then
the PE section table. A PE file offset ``p`` is at ``p - stripped + 40`` in the TE file.

Loaded like a PE image: sections as segments at image base + RVA, machine and subsystem as
``pe:machine`` / ``pe:subsystem``, the CodeView PDB path (``pe:pdb``, ``build_paths``).
Hand-written: LIEF does not read TE images, and the header is eight fixed fields.
"""

from __future__ import annotations

import struct

from ecuscan.errors import FormatError
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Diagnostic, Endianness, Image, ImageFormat, Segment, SegmentKind
from ecuscan.textsafe import printable

from ._util import as_view, check_file_size, sha256_of
from .base import FormatInfo, LoaderFormat, OffsetMap
from .pe import MACHINES, MAX_PE_SECTIONS, SUBSYSTEMS

__all__ = ["FORMATS", "load_te"]

_HEADER = struct.Struct("<2sHBBHIIQIIII")  # 40 bytes
_CODEVIEW = {b"RSDS": 24, b"NB10": 16, b"MTOC": 20}  # signature -> offset of the path


def _header(mv: memoryview) -> tuple[int, int, int, int, int, int, int, int] | None:
    if len(mv) < _HEADER.size:
        return None
    sig, machine, nsect, subsystem, stripped, entry, _code, base, _rr, _rs, dbg_rva, dbg_size = \
        _HEADER.unpack_from(mv, 0)
    if sig != b"VZ" or machine not in MACHINES or not 0 < nsect <= MAX_PE_SECTIONS or stripped < _HEADER.size:
        return None
    return machine, nsect, subsystem, stripped, entry, base, dbg_rva, dbg_size


def load_te(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS) -> Image:
    """Load a TE image; headers that lie raise :class:`FormatError` naming ``path``."""
    size = check_file_size(data, path, limits)
    mv = as_view(data)
    hdr = _header(mv)
    if hdr is None:
        raise FormatError("not a TE image (no VZ header with a known machine and 1..96 sections)", source=path)
    machine, nsect, subsystem, stripped, entry, base, dbg_rva, dbg_size = hdr
    if _HEADER.size + 40 * nsect > size:
        raise FormatError(f"TE section table ({nsect} sections) runs past the end of the file", source=path)
    shift = _HEADER.size - stripped  # PE file offset + shift = TE file offset
    notes: list[Diagnostic] = []
    segments: list[Segment] = []
    sections: list[tuple[int, int, int]] = []  # (rva, raw size, TE offset) to map the debug directory
    for i in range(min(nsect, limits.max_segments)):
        name, vsize, rva, raw, ptr, chars = struct.unpack_from("<8sIIII12xI", mv, _HEADER.size + 40 * i)
        label = printable(name.split(b"\0", 1)[0].decode("ascii", "replace"), 16) or f"section{i}"
        off = ptr + shift
        length = min(raw, vsize) if vsize else raw
        if length and (off < 0 or off + length > size):
            notes.append(Diagnostic("te-truncated-section", f"section {label} states {length} bytes at "
                                    f"0x{max(off, 0):x}, outside the {size}-byte file", offset=max(off, 0)))
            length = max(0, size - off) if 0 <= off <= size else 0
        kind = SegmentKind.CODE if chars & 0x20000020 else (
            SegmentKind.DATA if chars & 0x80000000 else SegmentKind.RODATA)
        if length:
            segments.append(Segment(name=label, address=base + rva, offset=off, size=length, kind=kind,
                                    file_offset=off, sha256=sha256_of(data, off, length)))
            sections.append((rva, length, off))
        else:
            segments.append(Segment(name=label, address=base + rva, offset=0, size=0, kind=kind))
    meta = {"pe:machine": MACHINES[machine], "pe:subsystem": SUBSYSTEMS.get(subsystem, str(subsystem)),
            "pe:image_base": f"0x{base:x}"}
    pdb = _pdb(mv, dbg_rva, dbg_size, sections, shift)
    if pdb:
        meta["pe:pdb"] = pdb
    return Image(path=path, format=ImageFormat.TE, data=data, segments=tuple(segments), arch=MACHINES[machine],
                 bits=64 if machine in (0x8664, 0xAA64, 0x5064, 0x6264) else 32, endianness=Endianness.LITTLE,
                 entry=base + entry if entry else None, build_paths=(pdb,) if pdb else (), metadata=meta,
                 diagnostics=tuple(notes))


def _pdb(mv: memoryview, rva: int, size: int, sections: list[tuple[int, int, int]], shift: int) -> str | None:
    """The CodeView path of the first debug directory entry, if it is inside the file."""
    if not rva or size < 28:
        return None
    at = next((off + rva - s_rva for s_rva, length, off in sections if s_rva <= rva < s_rva + length), None)
    if at is None or at + 28 > len(mv):
        return None
    kind, data_size, _addr, ptr = struct.unpack_from("<12xIIII", mv, at)
    cv = ptr + shift
    if kind != 2 or cv < 0 or cv + min(data_size, 4) > len(mv) or data_size > 4096:
        return None
    blob = bytes(mv[cv:cv + data_size])
    start = _CODEVIEW.get(blob[:4])
    if start is None:
        return None
    return printable(blob[start:].split(b"\0", 1)[0].decode("utf-8", "replace"), 512) or None


def _probe(head: bytes, _data: Buffer) -> bool:
    return _header(memoryview(head)) is not None


#: Registration (ecuscan.formats.registry).
FORMATS = (LoaderFormat(
    FormatInfo(ImageFormat.TE, "TE (Terse Executable): UEFI SEC/PEI module, a PE with its headers stripped",
               "application/x-uefi-te", "`VZ`, a known machine and 1..96 sections", OffsetMap.FILE),
    _probe, load_te),)
