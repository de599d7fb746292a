"""Intel HEX and Motorola S-record loaders.

Written by hand, deliberately: decoding records one by one through bincopy (``unpack_ihex`` /
``unpack_srec``, one tuple and one ``bytes`` per record) and collecting them before assembly held
about 22 times the file's size in memory for a file of 1-byte records (110 MB -> 2.4 GiB), and
``bincopy.BinFile`` inserts records by a linear search (quadratic on out-of-order records) and
cannot name the line of a bad record. Neither can be bounded from outside. A record is a line of
hex digits with a byte count and a checksum; this loader checks both and appends the data
straight into one ``bytearray`` per contiguous run of addresses, so memory stays near the size
of the decoded data. Runs that arrive out of order are merged when their count grows, which
also bounds the number of runs by ``max_segments``.

The resulting :class:`Image` has ``data`` = the runs' bytes concatenated, one
:class:`Segment` per contiguous run (address, offset in ``data``), and ``entry`` from the
start-address record (HEX 03/05, S7/S8/S9).
"""

from __future__ import annotations

import re

from ecuscan.errors import FormatError, LimitExceeded
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Diagnostic, Image, ImageFormat, Segment, SegmentKind, Severity
from ecuscan.textsafe import printable

from ._util import as_view, check_file_size, sha256_of
from .base import FormatInfo, LoaderFormat, OffsetMap
from .detect import detect

__all__ = ["load_hexsrec"]

_LINE = re.compile(rb"[^\r\n]+")
#: S-record type -> bytes of address
_SREC_ADDRESS = {ord("0"): 2, ord("1"): 2, ord("2"): 3, ord("3"): 4, ord("5"): 2, ord("6"): 3,
                 ord("7"): 4, ord("8"): 3, ord("9"): 2}


class _Run:
    """One contiguous run of decoded bytes: start address, data, the line that began it."""

    __slots__ = ("data", "line", "start")

    def __init__(self, start: int, data: bytearray, line: int) -> None:
        self.start, self.data, self.line = start, data, line

    @property
    def end(self) -> int:
        return self.start + len(self.data)


class _Runs:
    """Decoded data as runs; a record that continues a run is appended to it in place."""

    def __init__(self, path: str, limits: Limits) -> None:
        self.path, self.limits = path, limits
        self.runs: list[_Run] = []
        self.by_end: dict[int, _Run] = {}
        self.decoded = 0

    def add(self, address: int, data: bytes, line: int) -> None:
        self.decoded += len(data)
        if self.decoded > self.limits.max_decoded_bytes:
            raise LimitExceeded(f"line {line}: decoded payload exceeds max_decoded_bytes="
                                f"{self.limits.max_decoded_bytes}", source=self.path)
        run = self.by_end.pop(address, None)
        if run is not None:
            run.data += data
            self.by_end[run.end] = run
            return
        run = _Run(address, bytearray(data), line)
        self.runs.append(run)
        self.by_end[run.end] = run
        if len(self.runs) > 2 * self.limits.max_segments:
            self.merge()

    def merge(self) -> None:
        """Sort the runs and join those that touch or overlap (overlaps must agree)."""
        self.runs.sort(key=lambda r: r.start)
        out: list[_Run] = []
        for r in self.runs:
            if out and r.start <= out[-1].end:
                last = out[-1]
                rel = r.start - last.start
                overlap = bytes(last.data[rel:rel + len(r.data)])
                if overlap != bytes(r.data[:len(overlap)]):
                    raise FormatError(f"line {r.line}: record at {r.start:#x} overwrites different data "
                                      "written by an earlier record", source=self.path)
                last.data += memoryview(r.data)[len(overlap):]
                continue
            if len(out) >= self.limits.max_segments:
                raise LimitExceeded(f"more than max_segments={self.limits.max_segments} separate address runs",
                                    source=self.path)
            out.append(r)
        self.runs = out
        self.by_end = {r.end: r for r in out}


def _bad(path: str, lineno: int, what: str) -> FormatError:
    return FormatError(f"line {lineno}: bad {what}", source=path)


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
    ihex = fmt is ImageFormat.IHEX
    runs = _Runs(path, limits)
    diags: list[Diagnostic] = []
    meta: dict[str, str] = {}
    entry: int | None = None
    data_records = 0
    ended = False
    ext_linear = ext_segment = 0
    lineno = 0
    line_start = 0
    mv = as_view(data)
    for m in _LINE.finditer(mv):
        # line numbers count "\n" (a "\r\n" file is not counted twice; "\r" alone is rare)
        lineno += bytes(mv[line_start:m.start()]).count(b"\n") + (1 if lineno == 0 else 0)
        line_start = m.start()
        line = m.group().strip().strip(b"\x1a")
        if not line:
            continue
        if ended:
            diags.append(Diagnostic("ihex-after-eof", f"line {lineno}: records after the end-of-file record ignored",
                                    Severity.WARNING))
            break
        if ihex:
            if line[:1] != b":":
                raise _bad(path, lineno, "Intel HEX record: does not start with ':'")
            try:
                rec = bytes.fromhex(line[1:].decode("ascii"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise _bad(path, lineno, f"Intel HEX record: not hex digits ({printable(str(exc), 80)})") from exc
            if len(rec) < 5 or len(rec) != 5 + rec[0]:
                raise _bad(path, lineno, f"Intel HEX record: {len(rec)} bytes for a byte count of "
                                         f"{rec[0] if rec else 0}")
            if sum(rec) & 0xFF:
                raise _bad(path, lineno, "Intel HEX record: checksum mismatch")
            rtype, payload = rec[3], rec[4:-1]
            if rtype == 0:
                if payload:
                    data_records += 1
                    runs.add(((rec[1] << 8) | rec[2]) + ext_linear + ext_segment, payload, lineno)
            elif rtype == 1:
                ended = True
            elif rtype == 2 and len(payload) == 2:
                ext_segment = int.from_bytes(payload, "big") << 4
            elif rtype == 4 and len(payload) == 2:
                ext_linear = int.from_bytes(payload, "big") << 16
            elif rtype == 3 and len(payload) == 4:
                cs, ip = int.from_bytes(payload[:2], "big"), int.from_bytes(payload[2:], "big")
                entry = (cs << 4) + ip
                meta["start_segment_address"] = f"{cs:04x}:{ip:04x}"
            elif rtype == 5 and len(payload) == 4:
                entry = int.from_bytes(payload, "big")
            else:
                raise FormatError(f"line {lineno}: bad Intel HEX record type {rtype:02x} "
                                  f"with {len(payload)} data bytes", source=path)
            continue
        if line[:1] != b"S" or len(line) < 2 or line[1] not in _SREC_ADDRESS:
            raise _bad(path, lineno, "S-record: does not start with S0-S3 or S5-S9")
        kind = line[1]
        try:
            rec = bytes.fromhex(line[2:].decode("ascii"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _bad(path, lineno, f"S-record: not hex digits ({printable(str(exc), 80)})") from exc
        width = _SREC_ADDRESS[kind]
        if len(rec) < 2 + width or len(rec) != 1 + rec[0]:
            raise _bad(path, lineno, f"S-record: {len(rec)} bytes for a byte count of {rec[0] if rec else 0}")
        if sum(rec) & 0xFF != 0xFF:
            raise _bad(path, lineno, "S-record: checksum mismatch")
        addr = int.from_bytes(rec[1:1 + width], "big")
        payload = rec[1 + width:-1]
        if kind == ord("0"):
            meta["srec_header"] = printable(payload.rstrip(b"\0").decode("latin-1"), 200)
        elif kind in (ord("5"), ord("6")):
            if addr != data_records & (0xFFFF if kind == ord("5") else 0xFFFFFF):
                diags.append(Diagnostic("srec-count", f"line {lineno}: record count {addr} "
                                        f"but {data_records} data records precede it"))
        elif kind in (ord("7"), ord("8"), ord("9")):
            entry = addr
            ended = True
        elif payload:
            data_records += 1
            runs.add(addr, payload, lineno)
    del mv
    if ihex and not ended:
        diags.append(Diagnostic("ihex-no-eof", "no end-of-file record (file may be truncated)", Severity.INFO))
    return _assemble(path, fmt, runs, entry, meta, diags, limits)


def _assemble(path: str, fmt: ImageFormat, runs: _Runs, entry: int | None,
              meta: dict[str, str], diags: list[Diagnostic], limits: Limits) -> Image:
    runs.merge()
    ordered = runs.runs
    if ordered:
        span = ordered[-1].end - ordered[0].start
        if span > limits.max_address_span:
            raise LimitExceeded(f"records span {span:#x} bytes of address space, more than "
                                f"max_address_span={limits.max_address_span:#x}", source=path)
    payload = bytearray()
    segments: list[Segment] = []
    bounds = [(r.start, r.end) for r in ordered]
    for i, r in enumerate(ordered):
        segments.append(Segment(name=f"run{i}", address=r.start, offset=len(payload), size=len(r.data),
                                kind=SegmentKind.OTHER, file_offset=None, sha256=sha256_of(r.data)))
        payload += r.data
        r.data = bytearray()  # freed as it is copied, so the peak stays near one copy of the data
    if len(bounds) > 1:
        meta["gap_bytes"] = str(sum(bounds[i + 1][0] - bounds[i][1] for i in range(len(bounds) - 1)))
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
