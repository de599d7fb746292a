"""Intel HEX and Motorola S-record loaders.

Each record is decoded and checksum-verified by bincopy (``unpack_ihex`` / ``unpack_srec``).
The address map is assembled here rather than with ``bincopy.BinFile``: its segment list
inserts records by a linear search, which is quadratic on files whose records are out of
order or leave gaps (a hostile file could stall the scan), and it cannot say which line
of the file a bad record is on. Here records are sorted once and merged into contiguous runs.

The resulting :class:`Image` has ``data`` = the runs' bytes concatenated, one
:class:`Segment` per contiguous run (address, offset in ``data``), and ``entry`` from the
start-address record (HEX 03/05, S7/S8/S9).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import bincopy

from ecuscan.errors import FormatError, LimitExceeded
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Diagnostic, Image, ImageFormat, Segment, SegmentKind, Severity
from ecuscan.textsafe import printable

from ._util import as_view, check_file_size, sha256_of
from .base import FormatInfo, LoaderFormat, OffsetMap
from .detect import detect

__all__ = ["load_hexsrec"]


@dataclass
class _Chunk:
    address: int
    data: bytes
    line: int


def load_hexsrec(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS) -> Image:
    """Load an Intel HEX or Motorola S-record file (the format is detected from the bytes).

    Raises :class:`FormatError` naming the line for a malformed record or checksum error,
    :class:`LimitExceeded` past ``limits.max_decoded_bytes`` / ``max_address_span`` / ``max_segments``.

    >>> img = load_hexsrec(b":0400100001020304E2\\n:04000005000000FFF8\\n:00000001FF\\n", "t.hex")
    >>> img.data, img.segments[0].address, img.entry
    (b'\\x01\\x02\\x03\\x04', 16, 255)
    """
    check_file_size(data, path, limits)
    fmt = detect(data)
    if fmt not in (ImageFormat.IHEX, ImageFormat.SREC):
        raise FormatError("not an Intel HEX or S-record file", source=path)
    text = bytes(as_view(data)).decode("ascii", errors="replace")
    chunks: list[_Chunk] = []
    diags: list[Diagnostic] = []
    meta: dict[str, str] = {}
    decoded = 0
    entry: int | None = None
    data_records = 0
    ended = False
    ext_linear = ext_segment = 0
    for lineno, raw_line in enumerate(io.StringIO(text), 1):
        line = raw_line.strip().strip("\x1a")
        if not line:
            continue
        if ended:
            diags.append(Diagnostic("ihex-after-eof", f"line {lineno}: records after the end-of-file record ignored",
                                    Severity.WARNING))
            break
        try:
            if fmt is ImageFormat.IHEX:
                rtype, addr, _size, payload = bincopy.unpack_ihex(line)
            else:
                rtype, addr, _size, payload = bincopy.unpack_srec(line)
        except (bincopy.Error, ValueError, IndexError) as exc:
            raise FormatError(f"line {lineno}: bad {fmt.value} record: {printable(str(exc), 160)}",
                              source=path) from exc
        payload = bytes(payload)
        if fmt is ImageFormat.IHEX:
            if rtype == 0:
                addr = addr + ext_linear + ext_segment
            elif rtype == 1:
                ended = True
                continue
            elif rtype == 2 and len(payload) == 2:
                ext_segment = int.from_bytes(payload, "big") << 4
                continue
            elif rtype == 4 and len(payload) == 2:
                ext_linear = int.from_bytes(payload, "big") << 16
                continue
            elif rtype == 3 and len(payload) == 4:
                cs, ip = int.from_bytes(payload[:2], "big"), int.from_bytes(payload[2:], "big")
                entry = (cs << 4) + ip
                meta["start_segment_address"] = f"{cs:04x}:{ip:04x}"
                continue
            elif rtype == 5 and len(payload) == 4:
                entry = int.from_bytes(payload, "big")
                continue
            else:
                raise FormatError(f"line {lineno}: bad Intel HEX record type {rtype:02x} "
                                  f"with {len(payload)} data bytes", source=path)
        else:
            if rtype == "0":
                meta["srec_header"] = printable(payload.rstrip(b"\0").decode("latin-1"), 200)
                continue
            if rtype in "56":
                if addr != data_records & (0xFFFF if rtype == "5" else 0xFFFFFF):
                    diags.append(Diagnostic("srec-count", f"line {lineno}: record count {addr} "
                                            f"but {data_records} data records precede it"))
                continue
            if rtype in "789":
                entry = addr
                ended = True
                continue
        if not payload:
            continue
        data_records += 1
        decoded += len(payload)
        if decoded > limits.max_decoded_bytes:
            raise LimitExceeded(f"line {lineno}: decoded payload exceeds max_decoded_bytes="
                                f"{limits.max_decoded_bytes}", source=path)
        chunks.append(_Chunk(addr, payload, lineno))
    if fmt is ImageFormat.IHEX and not ended:
        diags.append(Diagnostic("ihex-no-eof", "no end-of-file record (file may be truncated)", Severity.INFO))
    return _assemble(data, path, fmt, chunks, entry, meta, diags, limits)


def _assemble(data: Buffer, path: str, fmt: ImageFormat, chunks: list[_Chunk], entry: int | None,
              meta: dict[str, str], diags: list[Diagnostic], limits: Limits) -> Image:
    chunks.sort(key=lambda c: c.address)
    if chunks:
        span = max(c.address + len(c.data) for c in chunks) - chunks[0].address
        if span > limits.max_address_span:
            raise LimitExceeded(f"records span {span:#x} bytes of address space, more than "
                                f"max_address_span={limits.max_address_span:#x}", source=path)
    runs: list[tuple[int, bytearray]] = []
    for c in chunks:
        if runs:
            start, buf = runs[-1]
            end = start + len(buf)
            if c.address < end:  # overlap: tolerated only when the bytes agree
                rel = c.address - start
                overlap = buf[rel:rel + len(c.data)]
                if bytes(overlap) != c.data[:len(overlap)]:
                    raise FormatError(f"line {c.line}: record at {c.address:#x} overwrites different data "
                                      "written by an earlier record", source=path)
                buf.extend(c.data[len(overlap):])
                continue
            if c.address == end:
                buf.extend(c.data)
                continue
        if len(runs) >= limits.max_segments:
            raise LimitExceeded(f"more than max_segments={limits.max_segments} separate address runs",
                                source=path)
        runs.append((c.address, bytearray(c.data)))
    payload = bytearray()
    segments: list[Segment] = []
    for i, (addr, buf) in enumerate(runs):
        segments.append(Segment(name=f"run{i}", address=addr, offset=len(payload), size=len(buf),
                                kind=SegmentKind.OTHER, file_offset=None, sha256=sha256_of(buf)))
        payload.extend(buf)
    if len(runs) > 1:
        gaps = sum(runs[i + 1][0] - (runs[i][0] + len(runs[i][1])) for i in range(len(runs) - 1))
        meta["gap_bytes"] = str(gaps)
    return Image(path=path, format=fmt, data=bytes(payload), segments=tuple(segments), entry=entry,
                 metadata=meta, diagnostics=tuple(diags))


#: Registration (ecuscan.formats.registry).
def _text(head: bytes) -> bytes:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")


_IHEX_RE, _SREC_RE = re.compile(rb":[0-9A-Fa-f]{10}"), re.compile(rb"S[0-9][0-9A-Fa-f]{6}")
FORMATS = (
    LoaderFormat(FormatInfo(ImageFormat.IHEX, "Intel HEX", "text/x-hex", "`:` and 10 hex digits",
                            OffsetMap.PAYLOAD), lambda head, _data: bool(_IHEX_RE.match(_text(head))), load_hexsrec),
    LoaderFormat(FormatInfo(ImageFormat.SREC, "Motorola S-record", "text/x-srecord", "`S`, a digit and 6 hex digits",
                            OffsetMap.PAYLOAD), lambda head, _data: bool(_SREC_RE.match(_text(head))), load_hexsrec),
)
