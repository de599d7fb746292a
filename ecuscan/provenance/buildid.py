"""GNU build-id: from the ELF loader, or found by its note layout in a flash payload.

A ``.note.gnu.build-id`` is an ELF note: ``namesz`` (4), ``descsz`` (20 for SHA-1, 16 for
MD5/UUID, 8 for xxhash), ``type`` (3, NT_GNU_BUILD_ID), the name ``"GNU\\0"`` and then the
descriptor. Linker scripts for microcontrollers often place the note in flash, so it
survives conversion to HEX/S-record/binary even though the ELF structure does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ecuscan.mapped import chunks, drop_pages, is_large_map
from ecuscan.model import Buffer

# The name is searched as a literal (fast even over 256 MB); the 12 header bytes before it
# are then checked in either byte order.
_NAME_RE = re.compile(rb"GNU\x00")
_HEADERS = {
    bytes([4, 0, 0, 0, size, 0, 0, 0, 3, 0, 0, 0]): size for size in (20, 16, 8)
} | {
    bytes([0, 0, 0, 4, 0, 0, 0, size, 0, 0, 0, 3]): size for size in (20, 16, 8)
}


def find_build_id(data: Buffer, max_candidates: int = 4096) -> str | None:
    r"""Lower-case hex of the first GNU build-id note found by byte layout, else ``None``.

    >>> note = bytes([4, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0]) + b"GNU\x00" + bytes(range(8))
    >>> find_build_id(b"junk" + note)
    '0001020304050607'
    >>> find_build_id(b"\x00\x00\x00\x04\x00\x00\x00\x10\x00\x00\x00\x03GNU\x00" + b"\xab" * 16)
    'abababababababababababababababab'
    """
    for n, m in enumerate(_names(data)):
        if n >= max_candidates:
            break
        start = m.start()
        size = _HEADERS.get(bytes(data[max(0, start - 12):start]))
        if size is None:
            continue
        desc = bytes(data[m.end():m.end() + size])
        if len(desc) == size and desc.strip(b"\x00") and desc.strip(b"\xff"):
            return desc.hex()
    return None


def _names(data: Buffer) -> Iterator[re.Match[bytes]]:
    """Every ``GNU\\0`` in ``data``, in order; a large map is searched a chunk at a time, each chunk's
    pages given back after it (:mod:`ecuscan.mapped`), each chunk with the 3 bytes before it."""
    if not is_large_map(data):
        yield from _NAME_RE.finditer(data)
        return
    for lo, hi in chunks(0, len(data)):
        for m in _NAME_RE.finditer(data, max(0, lo - 3), hi):
            if m.start() >= lo or lo == 0:
                yield m
        drop_pages(data, max(0, lo - 3), hi - lo)
