"""GNU build-id: from the ELF loader, or found by its note layout in a flash payload.

A ``.note.gnu.build-id`` is an ELF note: ``namesz`` (4), ``descsz`` (20 for SHA-1, 16 for
MD5/UUID, 8 for xxhash), ``type`` (3, NT_GNU_BUILD_ID), the name ``"GNU\\0"`` and then the
descriptor. Linker scripts for microcontrollers often place the note in flash, so it
survives conversion to HEX/S-record/binary even though the ELF structure does not.
"""

from __future__ import annotations

import re

from ecuscan.model import Buffer

_NOTE_RE = re.compile(
    rb"\x04\x00\x00\x00([\x14\x10\x08])\x00\x00\x00\x03\x00\x00\x00GNU\x00"
    rb"|\x00\x00\x00\x04\x00\x00\x00([\x14\x10\x08])\x00\x00\x00\x03GNU\x00"
)


def find_build_id(data: Buffer, max_hits: int = 16) -> str | None:
    """Lower-case hex of the first GNU build-id note found by byte layout, else ``None``.

    >>> note = bytes([4, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0]) + b"GNU\\0" + bytes(range(8))
    >>> find_build_id(b"junk" + note)
    '0001020304050607'
    >>> find_build_id(b"\\x00\\x00\\x00\\x04\\x00\\x00\\x00\\x10\\x00\\x00\\x00\\x03GNU\\x00" + b"\\xab" * 16)
    'abababababababababababababababab'
    """
    for n, m in enumerate(_NOTE_RE.finditer(data)):
        if n >= max_hits:
            break
        size = (m.group(1) or m.group(2))[0]
        start = m.end()
        desc = bytes(data[start:start + size])
        if len(desc) == size and desc.strip(b"\x00") and desc.strip(b"\xff"):
            return desc.hex()
    return None
