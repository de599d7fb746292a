"""Pages of a large memory-mapped file given back to the system once a pass has read them.

A scan maps each file once (``mmap``) and makes a few passes over it: the hash, the loader's
tables, the one pattern pass. The kernel keeps every page a pass touched in the process's
resident set until the map is closed, so a pass over a 1 GiB image alone makes the scan 1 GiB
large. For maps of :data:`LARGE_MAP` bytes or more, each pass reads in chunks and drops the pages
of each chunk once it is done with it (``MADV_DONTNEED``: they stay in the page cache, and a
later read maps them again for the cost of a minor fault), so a scan's memory does not grow with
the image. Smaller maps are left alone: their pages cost less than dropping them.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from typing import Any

#: What a pass reads (:data:`ecuscan.model.Buffer`; this module is below the model).
Buffer = bytes | bytearray | memoryview | mmap.mmap

__all__ = ["CHUNK", "LARGE_MAP", "Behind", "chunks", "drop_pages", "hash_range", "is_large_map"]

#: Maps of this many bytes or more are read chunk by chunk, dropping each chunk's pages.
LARGE_MAP = 32 << 20
#: Bytes read between two drops.
CHUNK = 8 << 20


def is_large_map(data: Buffer) -> bool:
    """Whether ``data`` is an ``mmap`` large enough for its passes to give back their pages."""
    return isinstance(data, mmap.mmap) and len(data) >= LARGE_MAP and hasattr(mmap, "MADV_DONTNEED")


def drop_pages(data: Buffer, start: int, length: int) -> None:
    """Drop the pages of ``data[start:start+length]`` from this process when it is an ``mmap``."""
    if not isinstance(data, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED") or length <= 0:
        return
    first = start - start % mmap.PAGESIZE
    try:
        data.madvise(mmap.MADV_DONTNEED, first, length + (start - first))
    except (OSError, ValueError):
        pass  # only a memory optimisation: the bytes read are the same either way


def chunks(start: int, end: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` pieces of ``[start, end)`` of at most ``size`` bytes, in order."""
    for lo in range(start, end, size):
        yield lo, min(end, lo + size)


def hash_range(digest: Any, data: Buffer, start: int = 0, end: int | None = None) -> None:
    """Feed ``data[start:end]`` to a :mod:`hashlib` object a chunk at a time, without copying it;
    a large map gives each chunk's pages back after it."""
    large = is_large_map(data)
    with memoryview(data) as mv, mv.cast("B") as flat:
        for lo, hi in chunks(start, len(flat) if end is None else min(end, len(flat))):
            digest.update(flat[lo:hi])
            if large:
                drop_pages(data, lo, hi - lo)


class Behind:
    """Drops the pages a pass has left behind it, for a pass that reads a large map at ascending
    offsets (each read near the last). Reading one byte can map far more than its page (the
    kernel maps the whole folio of the page cache it lies in, up to megabytes on ext4 and XFS),
    so a pass that only visits scattered places still ends up holding the whole image.

    ``at(pos)`` says the pass has reached ``pos``; the pages more than :data:`CHUNK` bytes behind
    it (and not before ``start``, where this pass began) are dropped. ``done()`` drops every page
    of the map (and the pass may walk again from ``start``). For any other buffer both do nothing.
    """

    __slots__ = ("_data", "_mark", "_start")

    def __init__(self, data: Buffer, start: int = 0) -> None:
        self._data = data if is_large_map(data) else None
        self._mark = self._start = start

    def at(self, pos: int) -> None:
        """The pass has reached ``pos`` and will not read before ``pos - CHUNK`` again."""
        if self._data is not None and pos - self._mark >= 2 * CHUNK:
            drop_pages(self._data, self._mark, pos - CHUNK - self._mark)
            self._mark = pos - CHUNK

    def done(self) -> None:
        """The pass is over: every page it mapped is dropped."""
        if self._data is not None:
            drop_pages(self._data, 0, len(self._data))
            self._mark = self._start  # a walk may begin again
