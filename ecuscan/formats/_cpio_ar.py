"""Hand-written readers for cpio and ar (private to :mod:`ecuscan.formats.archive`).

Why by hand: the standard library reads neither format, and the maintained alternative
(libarchive-c) needs the libarchive C library at run time. Both formats are small, fixed-layout
headers; these readers work on any sequential stream (a file view or a decompressor), check every
field, and stop at the first malformed header with :class:`FormatError`.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

from ecuscan.errors import FormatError

__all__ = ["RawEntry", "iter_ar", "iter_cpio"]

#: Longest member name accepted (PATH_MAX is 4096 on Linux).
MAX_NAME = 4096


@dataclass
class RawEntry:
    """One archive entry before policy checks: name, mode, size and a reader for its data."""

    name: str
    mode: int | None
    size: int
    link_target: str | None = None  # symlink target when the format stores it as data


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    buf = f.read(n)
    if len(buf) != n:
        raise FormatError(f"truncated {what}: wanted {n} bytes, got {len(buf)}")
    return buf


def _skip(f: BinaryIO, n: int, what: str) -> None:
    while n > 0:
        chunk = f.read(min(n, 1 << 20))
        if not chunk:
            raise FormatError(f"truncated {what}")
        n -= len(chunk)


def _num(field: bytes, base: int, what: str) -> int:
    try:
        return int(field.decode("ascii"), base)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"bad {what} field {field[:16]!r}") from exc


def iter_cpio(f: BinaryIO) -> Iterator[tuple[RawEntry, BinaryIO]]:
    """Yield (entry, stream positioned at its data) for newc/crc ("0707010"/"070702"), odc ("070707")
    and old binary cpio. The consumer must read exactly ``entry.size`` bytes (or call ``skip``) before
    advancing; :func:`iter_cpio` skips whatever was left unread via a position counter."""
    pos = 0
    while True:
        magic = f.read(6)
        if not magic:
            return
        if len(magic) < 6:
            raise FormatError("truncated cpio header")
        if magic in (b"070701", b"070702"):
            hdr = _read_exact(f, 104, "cpio newc header")
            fields = [_num(hdr[i:i + 8], 16, "cpio newc") for i in range(0, 104, 8)]
            mode, filesize, namesize = fields[1], fields[6], fields[11]
            head = 110
            name_pad = (4 - (head + namesize) % 4) % 4
            data_pad = (4 - filesize % 4) % 4
        elif magic == b"070707":
            hdr = _read_exact(f, 70, "cpio odc header")
            mode = _num(hdr[12:18], 8, "cpio odc mode")
            namesize = _num(hdr[53:59], 8, "cpio odc namesize")
            filesize = _num(hdr[59:70], 8, "cpio odc filesize")
            head, name_pad, data_pad = 76, 0, 0
        elif magic[:2] in (b"\xc7\x71", b"\x71\xc7"):
            order: Literal["little", "big"] = "little" if magic[:2] == b"\xc7\x71" else "big"
            hdr = magic + _read_exact(f, 20, "binary cpio header")
            words = [int.from_bytes(hdr[i:i + 2], order) for i in range(0, 26, 2)]
            mode, namesize = words[3], words[10]
            filesize = (words[11] << 16) | words[12]
            head = 26
            name_pad = (head + namesize) % 2
            data_pad = filesize % 2
        else:
            raise FormatError(f"bad cpio magic {magic!r} at offset {pos}")
        if not 0 < namesize <= MAX_NAME:
            raise FormatError(f"cpio name size {namesize} out of range at offset {pos}")
        name = _read_exact(f, namesize, "cpio name").rstrip(b"\0").decode("utf-8", errors="replace")
        f.read(name_pad)
        if name == "TRAILER!!!":
            return
        link = None
        if stat.S_ISLNK(mode):
            if filesize > MAX_NAME:
                raise FormatError(f"cpio symlink target of {filesize} bytes")
            link = _read_exact(f, filesize, "cpio symlink").decode("utf-8", errors="replace")
            yield RawEntry(name, mode, 0, link), f
        else:
            reader = _Bounded(f, filesize)
            yield RawEntry(name, mode, filesize), reader  # type: ignore[misc]
            reader.drain()
        f.read(data_pad)  # lenient: the final padding may be missing
        pos += head + namesize + name_pad + filesize + data_pad


class _Bounded:
    """A reader of at most ``size`` bytes of ``f``; :meth:`drain` skips the unread rest."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f, self._left = f, size

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self._left:
            n = self._left
        data = self._f.read(n) if n else b""
        if len(data) < n:
            raise FormatError("archive member data truncated")
        self._left -= len(data)
        return data

    def drain(self) -> None:
        _skip(self._f, self._left, "archive member data")
        self._left = 0


def iter_ar(f: BinaryIO) -> Iterator[tuple[RawEntry, BinaryIO]]:
    """Yield (entry, reader) for a System V / GNU / BSD ``ar`` archive (static libraries, .deb)."""
    if f.read(8) != b"!<arch>\n":
        raise FormatError("not an ar archive")
    longnames = b""
    while True:
        hdr = f.read(60)
        if not hdr:
            return
        if len(hdr) < 60 or hdr[58:60] != b"`\n":
            raise FormatError("bad or truncated ar member header")
        raw_name = hdr[:16].rstrip(b" ")
        size = _num(hdr[48:58].strip() or b"0", 10, "ar size")
        mode_field = hdr[40:48].strip()
        mode = _num(mode_field, 8, "ar mode") if mode_field else None
        if raw_name == b"//":  # GNU long-name table
            if size > 16 * 1024 * 1024:
                raise FormatError(f"ar long-name table of {size} bytes")
            longnames = _read_exact(f, size, "ar long-name table")
            f.read(size % 2)
            continue
        if raw_name.startswith(b"#1/"):  # BSD: name stored before the data
            nlen = _num(raw_name[3:], 10, "ar BSD name length")
            if not 0 < nlen <= min(MAX_NAME, size):
                raise FormatError(f"ar BSD name length {nlen} out of range")
            name = _read_exact(f, nlen, "ar BSD name").rstrip(b"\0").decode("utf-8", errors="replace")
            size -= nlen
            pad = (size + nlen) % 2
        elif raw_name.startswith(b"/") and raw_name[1:].isdigit():
            idx = int(raw_name[1:])
            if idx >= len(longnames):
                raise FormatError(f"ar long name index {idx} outside the name table")
            end = longnames.find(b"/\n", idx)
            name = longnames[idx:end if end >= 0 else len(longnames)].decode("utf-8", errors="replace")
            pad = size % 2
        else:
            name = raw_name.decode("utf-8", errors="replace").removesuffix("/")
            pad = size % 2
        reader = _Bounded(f, size)
        if name in ("/", "/SYM64/", "__.SYMDEF", "__.SYMDEF SORTED", ""):  # symbol index
            reader.drain()
        else:
            yield RawEntry(name, mode, size), reader  # type: ignore[misc]
            reader.drain()
        f.read(pad)  # lenient: the final padding byte may be missing
