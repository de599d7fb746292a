"""VBF (Volvo Binary Format) reader and writer.

Written by hand: no maintained Python library reads or writes VBF. The layout, as publicly
described: an ASCII header ::

    vbf_version = 2.6;
    header {
        sw_part_number = "32212345"; sw_part_type = EXE; ecu_address = 0x7A1;
        erase = { { 0x08020000, 0x00020000 } };  /* comments */  // and these
        file_checksum = 0x1A2B3C4D;
    }

directly followed by binary blocks, each a 4-byte big-endian start address, a 4-byte
big-endian length, the data, and a 2-byte CRC16-CCITT (poly 0x1021, init 0xFFFF) of the data.
``file_checksum`` is the CRC32 of the whole binary part. Checksum mismatches are reported as
diagnostics (``vbf-block-crc``, ``vbf-file-checksum``); the image still loads.
"""

from __future__ import annotations

import binascii
import re
import struct
import zlib
from collections.abc import Mapping

from ecuscan.errors import FormatError, LimitExceeded
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Diagnostic, Image, ImageFormat, Segment, SegmentKind, Severity
from ecuscan.textsafe import printable

from ._util import as_view, check_file_size, sha256_of
from .base import FormatInfo, LoaderFormat, OffsetMap

__all__ = ["crc16_ccitt", "load_vbf", "parse_vbf_header", "write_vbf"]

#: Longest header accepted (real headers are a few KiB).
MAX_HEADER_BYTES = 4 * 1024 * 1024
_TOKEN = re.compile(r"""
    (?P<ws>\s+) | (?P<block>/\*.*?\*/) | (?P<line>//[^\n]*) |
    (?P<str>"(?:[^"\\]|\\.)*") | (?P<punct>[{}=;,]) | (?P<word>(?:[^\s{}=;,"/]|/(?![*/]))+)
""", re.VERBOSE | re.DOTALL)
_NUMBER = re.compile(r"^0[xX][0-9A-Fa-f]+$")
#: Header keys whose values are enumerations, written without quotes.
_ENUM_KEYS = frozenset({"sw_part_type", "network", "frame_format", "data_format_identifier"})


def crc16_ccitt(data: bytes | bytearray | memoryview) -> int:
    """CRC16-CCITT (poly 0x1021, init 0xFFFF, no reflection) as used by VBF data blocks.

    >>> hex(crc16_ccitt(b"123456789"))
    '0x29b1'
    """
    return binascii.crc_hqx(data, 0xFFFF)


class _Tokens:
    """Tokenizer over the header text; ``pos`` is a byte offset (the text is latin-1)."""

    def __init__(self, text: str, path: str) -> None:
        self.text, self.path, self.pos = text, path, 0

    def next(self) -> str:
        while True:
            if self.pos >= len(self.text):
                raise FormatError("VBF header ends before its closing '}'", source=self.path)
            m = _TOKEN.match(self.text, self.pos)
            if m is None:
                if self.text.startswith("/*", self.pos):
                    raise FormatError(f"unterminated comment at byte {self.pos}", source=self.path)
                raise FormatError(f"unexpected character {self.text[self.pos]!r} in VBF header at byte "
                                  f"{self.pos}", source=self.path)
            self.pos = m.end()
            if m.lastgroup in ("ws", "block", "line"):
                continue
            return m.group()

    def peek(self) -> str:
        save = self.pos
        try:
            return self.next()
        finally:
            self.pos = save

    def expect(self, want: str) -> None:
        got = self.next()
        if got != want:
            raise FormatError(f"expected {want!r} in VBF header at byte {self.pos}, got "
                              f"{printable(got, 40)!r}", source=self.path)


def _value(tok: _Tokens, depth: int, max_depth: int) -> str:
    """One header value as canonical text: a top-level string unquoted, lists as ``{"a",0x1,{...}}``."""
    t = tok.next()
    if t == "{":
        if depth >= max_depth:
            raise LimitExceeded(f"VBF header lists nest deeper than {max_depth}", source=tok.path)
        items: list[str] = []
        while True:
            if tok.peek() == "}":
                tok.next()
                break
            items.append(_value(tok, depth + 1, max_depth))
            sep = tok.next()
            if sep == "}":
                break
            if sep != ",":
                raise FormatError(f"expected ',' or '}}' in VBF header list at byte {tok.pos}", source=tok.path)
        return "{" + ",".join(items) + "}"
    if t.startswith('"'):
        return t if depth else re.sub(r"\\(.)", r"\1", t[1:-1])
    if t in "{}=;,":
        raise FormatError(f"unexpected {t!r} in VBF header at byte {tok.pos}", source=tok.path)
    return t


def parse_vbf_header(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS) -> tuple[dict[str, str], int]:
    """Parse the ASCII header; return (fields, offset of the first binary byte).

    ``fields`` holds ``vbf_version`` and every header assignment (repeated keys are joined with ``;``).

    >>> raw = b'vbf_version = 2.6; header { sw_part_number = "1"; erase = {{0x0, 0x10}}; // c\\n}BIN'
    >>> fields, end = parse_vbf_header(raw, "a.vbf")
    >>> fields, raw[end:]
    ({'vbf_version': '2.6', 'sw_part_number': '1', 'erase': '{{0x0,0x10}}'}, b'BIN')
    """
    mv = as_view(data)
    tok = _Tokens(bytes(mv[:MAX_HEADER_BYTES]).decode("latin-1"), path)
    tok.expect("vbf_version")
    tok.expect("=")
    # each key's values are collected in a list and joined once at the end: appending to the
    # joined string on every repetition made a header of one repeated key quadratic
    values: dict[str, list[str]] = {"vbf_version": [tok.next()]}
    tok.expect(";")
    tok.expect("header")
    tok.expect("{")
    count = 0
    while True:
        key = tok.next()
        if key == "}":
            return {k: ";".join(v) for k, v in values.items()}, tok.pos
        if key in "{=;,":
            raise FormatError(f"expected a header field name at byte {tok.pos}, got {key!r}", source=path)
        count += 1
        if count > limits.max_document_items:
            raise LimitExceeded("too many VBF header fields", source=path)
        tok.expect("=")
        val = _value(tok, 0, limits.max_document_depth)
        tok.expect(";")
        values.setdefault(key, []).append(val)


def load_vbf(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS) -> Image:
    """Load a VBF file: header fields into ``metadata``, each data block as one segment.

    Block CRC16 and file CRC32 mismatches become diagnostics; a block cut by the end of file is
    an error diagnostic (the complete blocks still load).
    """
    size = check_file_size(data, path, limits)
    fields, start = parse_vbf_header(data, path, limits=limits)
    mv = as_view(data)
    diags: list[Diagnostic] = []
    payload = bytearray()
    segments: list[Segment] = []
    pos = start
    while pos < size:
        if size - pos < 8:
            diags.append(Diagnostic("vbf-truncated", f"{size - pos} stray bytes after the last block at {pos:#x}",
                                    Severity.ERROR, pos))
            break
        addr, length = struct.unpack_from(">II", mv, pos)
        if pos + 8 + length + 2 > size:
            diags.append(Diagnostic("vbf-truncated", f"block at file offset {pos:#x} declares {length} bytes "
                                    f"but only {size - pos - 10} remain", Severity.ERROR, pos))
            break
        if len(payload) + length > limits.max_decoded_bytes:
            raise LimitExceeded(f"VBF blocks exceed max_decoded_bytes={limits.max_decoded_bytes}", source=path)
        if len(segments) >= limits.max_segments:
            raise LimitExceeded(f"more than max_segments={limits.max_segments} VBF blocks", source=path)
        block = mv[pos + 8:pos + 8 + length]
        (stored,) = struct.unpack_from(">H", mv, pos + 8 + length)
        calc = crc16_ccitt(block)
        if stored != calc:
            diags.append(Diagnostic("vbf-block-crc", f"block {len(segments)} at {addr:#010x}: CRC16 {stored:#06x} "
                                    f"stored, {calc:#06x} computed", Severity.ERROR, pos))
        segments.append(Segment(name=f"block{len(segments)}", address=addr, offset=len(payload), size=length,
                                kind=SegmentKind.OTHER, file_offset=pos + 8, sha256=sha256_of(block)))
        payload += block
        pos += 8 + length + 2
    del mv
    declared = fields.get("file_checksum")
    if declared is not None:
        actual = zlib.crc32(as_view(data)[start:size])
        try:
            want = int(declared, 0)
        except ValueError:
            diags.append(Diagnostic("vbf-file-checksum", f"file_checksum {printable(declared, 40)!r} is not a number"))
        else:
            if want != actual:
                diags.append(Diagnostic("vbf-file-checksum", f"file_checksum {want:#010x} stored, {actual:#010x} "
                                        "computed over the binary part", Severity.ERROR))
    else:
        diags.append(Diagnostic("vbf-file-checksum", "header has no file_checksum", Severity.INFO))
    meta = {k: printable(v, 1000) for k, v in fields.items()}
    return Image(path=path, format=ImageFormat.VBF, data=bytes(payload), segments=tuple(segments),
                 metadata=meta, diagnostics=tuple(diags))


def _render(key: str, value: str) -> str:
    if value.startswith(("{", '"')) or _NUMBER.match(value) or (key in _ENUM_KEYS and re.match(r"^\w+$", value)):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_vbf(segments: list[tuple[int, bytes]], header: Mapping[str, str]) -> bytes:
    """Build a VBF file from (address, data) blocks and header fields.

    Values are written as given when they are numbers (``0x7A1``), lists (``{...}``) or already
    quoted; enumeration keys (``sw_part_type`` ...) are written bare; other values are quoted.
    ``vbf_version`` (default ``2.6``) goes on the first line; ``file_checksum`` is computed.

    >>> blob = write_vbf([(0x1000, b"abc")], {"sw_part_number": "123", "sw_part_type": "EXE"})
    >>> img = load_vbf(blob, "x.vbf")
    >>> img.metadata["sw_part_number"], img.segments[0].address, img.data, img.diagnostics
    ('123', 4096, b'abc', ())
    """
    binary = bytearray()
    for addr, blob in segments:
        if not 0 <= addr <= 0xFFFFFFFF or len(blob) > 0xFFFFFFFF:
            raise ValueError(f"block at {addr:#x} ({len(blob)} bytes) does not fit VBF's 32-bit fields")
        binary += struct.pack(">II", addr, len(blob)) + bytes(blob) + struct.pack(">H", crc16_ccitt(blob))
    lines = [f"vbf_version = {header.get('vbf_version', '2.6')};", "", "header {"]
    for key, value in header.items():
        if key in ("vbf_version", "file_checksum"):
            continue
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise ValueError(f"bad VBF header key {key!r}")
        lines.append(f"    {key} = {_render(key, value)};")
    lines.append(f"    file_checksum = 0x{zlib.crc32(binary):08X};")
    lines.append("}")
    return "\n".join(lines).encode("latin-1") + bytes(binary)


#: Registration (ecuscan.formats.registry).
_VBF_RE = re.compile(rb"vbf_version\s*=")
FORMATS = (LoaderFormat(
    FormatInfo(ImageFormat.VBF, "Volvo VBF flash container (text header, binary blocks)", "application/x-vbf",
               "`vbf_version =` at the start", OffsetMap.PAYLOAD),
    lambda head, _data: bool(_VBF_RE.match(head.lstrip(b"\xef\xbb\xbf \t\r\n"))), load_vbf),)
