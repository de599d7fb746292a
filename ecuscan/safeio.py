"""Opening and walking untrusted paths without hanging or recursing.

A path given by a user, or found in a scanned tree, may be a FIFO (``open`` blocks until a
writer comes), a character device (``/dev/zero`` never ends, ``/dev/tty`` waits for input), a
socket, or a directory chain deeper than Python's recursion limit. :func:`open_regular` opens
with ``O_NONBLOCK`` (so a FIFO does not block the ``open`` itself) and checks with ``fstat``
that what was opened is a regular file before a single byte is read; :func:`walk_files` walks
a tree with an explicit stack, so its depth is bounded by memory, not by the interpreter stack.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import EcuscanError

__all__ = ["NotRegularFile", "WalkError", "open_regular", "read_regular", "walk_files"]


class NotRegularFile(EcuscanError):
    """The path is a FIFO, device, socket or directory, not a regular file."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a special file"


def open_regular(path: str | os.PathLike[str]) -> int:
    """Open ``path`` read-only and return the descriptor, or raise :class:`NotRegularFile`
    (not a regular file: nothing is read from it) or :class:`OSError` (cannot be opened).

    The caller closes the descriptor. ``O_NONBLOCK`` makes opening a FIFO return at once; it
    is cleared again before the descriptor is handed back (it has no effect on regular files).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"is {_kind(st.st_mode)}, not a regular file: not read",
                                 source=os.fspath(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (else :class:`EcuscanError`)."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise EcuscanError(f"file is {size} bytes, more than the limit of {limit}", source=os.fspath(path))
        data = f.read(limit + 1)
    if len(data) > limit:  # grew while being read
        raise EcuscanError(f"file is more than the limit of {limit} bytes", source=os.fspath(path))
    return data


@dataclass(frozen=True)
class WalkError:
    """A directory below the walked root that could not be listed, and why."""

    path: str
    reason: str


def walk_files(root: str, errors: list[WalkError] | None = None) -> Iterator[str]:
    """Every regular file below ``root`` (symlinks not followed), in sorted order per directory
    (a directory's files, then its subdirectories one by one), with an explicit stack.

    Directories that cannot be listed (permissions, a path longer than the system allows) are
    appended to ``errors`` when given, else skipped.
    """
    stack = [root]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if errors is not None:
                errors.append(WalkError(top, exc.strerror or str(exc)))
            continue
        subdirs = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield entry.path
            except OSError as exc:
                if errors is not None:
                    errors.append(WalkError(entry.path, exc.strerror or str(exc)))
        stack.extend(reversed(subdirs))
