"""Hand-assembled zip files for the hostile suite: huge declared members built in a second.

Compressing 1 GiB of zeros takes seconds; a deflate stream of N identical full-flushed chunks is
the same compressed chunk N times (a full flush resets the compressor), so it is built once and
repeated. The zip structure (local headers, central directory, end record) is written here so a
test can also make entries that share compressed data, as the classic zip bombs do.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

CHUNK = 1 << 24  # 16 MiB


@dataclass(frozen=True)
class Deflated:
    """A raw deflate stream, its CRC-32 and the size it inflates to."""

    data: bytes
    crc: int
    size: int


def zeros_deflated(size: int) -> Deflated:
    """Raw deflate of ``size`` zero bytes (``size`` a multiple of 16 MiB)."""
    assert size % CHUNK == 0
    chunk = bytes(CHUNK)
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(6, zlib.DEFLATED, -15).flush()  # an empty final block
    crc = 0
    for _ in range(size // CHUNK):
        crc = zlib.crc32(chunk, crc)
    return Deflated(block * (size // CHUNK) + final, crc, size)


def build_zip(entries: Sequence[tuple[str, Deflated | bytes]], *, share_first: bool = False) -> bytes:
    """A zip of ``(name, content)``; ``bytes`` content is stored, :class:`Deflated` deflated.

    ``share_first``: every entry's central-directory record points at the first entry's local
    header and data (overlapping entries: one copy of the data, N entries).
    """
    out = bytearray()
    central = bytearray()
    first_offset = None
    for name, content in entries:
        raw_name = name.encode()
        if isinstance(content, Deflated):
            method, data, crc, size = 8, content.data, content.crc, content.size
        else:
            method, data, crc, size = 0, content, zlib.crc32(content), len(content)
        if share_first and first_offset is not None:
            offset = first_offset
        else:
            offset = len(out)
            out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size,
                               len(raw_name), 0) + raw_name + data
            if first_offset is None:
                first_offset = offset
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                               len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), cd_offset, 0)
    return bytes(out)
