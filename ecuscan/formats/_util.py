"""Small helpers shared by the loaders (private to :mod:`ecuscan.formats`)."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
from collections.abc import Iterator, Sequence
from typing import Any

from ecuscan.errors import LimitExceeded
from ecuscan.limits import Limits
from ecuscan.mapped import CHUNK, chunks, drop_pages, hash_range
from ecuscan.model import Buffer, Sha256


def as_view(data: Buffer) -> memoryview:
    """A flat byte view of any buffer (no copy)."""
    mv = data if isinstance(data, memoryview) else memoryview(data)
    return mv if mv.format == "B" and mv.ndim == 1 else mv.cast("B")


class BufferStream(io.RawIOBase):
    """A read-only, seekable file object over a buffer (bytes, mmap, memoryview), without copying it.

    ``read(n)`` never returns more than the buffer holds, whatever ``n`` a corrupt header asks
    for, so a hostile length field cannot make a library allocate gigabytes.
    """

    def __init__(self, data: Buffer) -> None:
        super().__init__()
        self._mv = memoryview(as_view(data))  # a view of its own: closing it leaves the caller's view usable
        self._pos = 0

    def readable(self) -> bool:
        """Always true."""
        return True

    def seekable(self) -> bool:
        """Always true."""
        return True

    def tell(self) -> int:
        """Current position."""
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        """Move the position; seeking past the end is allowed (reads then return nothing)."""
        if whence == io.SEEK_SET:
            new = pos
        elif whence == io.SEEK_CUR:
            new = self._pos + pos
        elif whence == io.SEEK_END:
            new = len(self._mv) + pos
        else:
            raise ValueError(f"bad whence {whence}")
        if new < 0:
            raise ValueError("negative seek position")
        self._pos = new
        return new

    def read(self, size: int | None = -1) -> bytes:
        """Read at most ``size`` bytes (all that is left when negative or None)."""
        end = len(self._mv) if size is None or size < 0 else min(len(self._mv), self._pos + size)
        if self._pos >= end:
            return b""
        out = bytes(self._mv[self._pos:end])
        self._pos = end
        return out

    def readinto(self, buf: Any) -> int:
        """Read into a writable buffer."""
        chunk = self.read(len(buf))
        buf[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        """Release the view of the buffer (so the caller can close its mmap)."""
        if not self.closed:
            old, self._mv = self._mv, memoryview(b"")
            try:
                old.release()
            except BufferError:  # a slice is still alive somewhere; it is dropped with its owner
                pass
        super().close()

    def readall(self) -> bytes:
        """Read to the end."""
        return self.read(-1)


class LiefFeed(BufferStream):
    """What LIEF reads a file from: one ``readinto`` of the whole buffer into LIEF's own copy.

    LIEF parses only from a copy of its own; this makes it the only one. The copy is made a chunk
    at a time, and for an ``mmap`` of a chunk or more, each chunk's pages are dropped from this
    process after it (:mod:`ecuscan.mapped`), so the image is not resident twice while LIEF holds
    it (a smaller map keeps its pages: the passes after the loader read them again). ``blank``:
    ``(offset, length)`` ranges that LIEF gets as zeros (tables the caller reads itself).
    """

    def __init__(self, data: Buffer, blank: Sequence[tuple[int, int]] = ()) -> None:
        super().__init__(data)
        self._data: Buffer | None = data if len(self._mv) >= CHUNK else None
        self._blank = tuple(blank)
        if self._data is not None:
            # LIEF zero-fills its whole buffer before it reads: the map's pages touched earlier (the
            # file hash) are dropped first, or the image would be resident twice at that moment
            drop_pages(self._data, 0, len(self._mv))

    def readinto(self, buf: Any) -> int:
        """Copy from the current position into ``buf``, chunk by chunk."""
        out = memoryview(buf).cast("B")
        start = self._pos
        end = min(len(self._mv), start + len(out))
        if start >= end:
            return 0
        for lo, hi in chunks(start, end):
            out[lo - start:hi - start] = self._mv[lo:hi]
            if self._data is not None:
                drop_pages(self._data, lo, hi - lo)
        for at, length in self._blank:
            lo, hi = max(start, at), min(end, at + length)
            if lo < hi:
                out[lo - start:hi - start] = bytes(hi - lo)
        self._pos = end
        return end - start


def sha256_of(data: Buffer, offset: int = 0, size: int | None = None) -> Sha256:
    """Hex SHA-256 of ``data[offset:offset+size]`` without copying the whole buffer."""
    h = hashlib.sha256()
    hash_range(h, data, offset, None if size is None else offset + size)
    return Sha256(h.hexdigest())


def check_file_size(data: Buffer, path: str, limits: Limits) -> int:
    """Return ``len(data)``, refusing files larger than ``limits.max_file_bytes``."""
    size = len(as_view(data))
    if size > limits.max_file_bytes:
        raise LimitExceeded(f"file is {size} bytes, more than max_file_bytes={limits.max_file_bytes}",
                            source=path)
    return size


def head(data: Buffer, n: int) -> bytes:
    """The first ``n`` bytes of a buffer as ``bytes``."""
    return bytes(as_view(data)[:n])


def decode_text(raw: bytes) -> str:
    """Decode bytes from an image as UTF-8, replacing what does not decode."""
    return raw.decode("utf-8", errors="replace")


class DecodeBudget:
    """Bytes decompressed so far for one top-level input, against ``limits.max_decompressed_bytes``.

    One budget is shared by every decompression of an input (archive members at any depth, PDX
    members, compressed ELF sections): :func:`budget_scope` installs it for the duration of one
    input's analysis and :func:`decode_budget` finds it. Charge a size a format *declares* before
    inflating it, so a bomb is refused from its headers; charge what a stream produced when
    nothing was declared.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    @property
    def left(self) -> int:
        """Bytes that may still be decompressed."""
        return max(0, self.limit - self.used)

    def check(self, size: int, path: str, what: str = "decompressed data") -> None:
        """Refuse ``size`` more bytes if they do not fit, without charging them."""
        if self.used + size > self.limit:
            raise LimitExceeded(f"{what} of {size} bytes would bring what is decompressed from this input to "
                                f"{self.used + size} bytes, more than max_decompressed_bytes={self.limit}",
                                source=path)

    def charge(self, size: int, path: str, what: str = "decompressed data") -> None:
        """Count ``size`` bytes, refusing them (:class:`LimitExceeded`) if they do not fit."""
        self.check(size, path, what)
        self.used += size


_BUDGET: contextvars.ContextVar[DecodeBudget | None] = contextvars.ContextVar("ecuscan_decode_budget", default=None)


def decode_budget(limits: Limits) -> DecodeBudget:
    """The budget of the input being analysed, or a fresh one for a loader called on its own."""
    return _BUDGET.get() or DecodeBudget(limits.max_decompressed_bytes)


@contextlib.contextmanager
def budget_scope(limits: Limits) -> Iterator[DecodeBudget]:
    """Install one decode budget for everything analysed inside the ``with`` block (kept when one
    is already installed: a nested input shares its top-level input's budget)."""
    active = _BUDGET.get()
    if active is not None:
        yield active
        return
    budget = DecodeBudget(limits.max_decompressed_bytes)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)
