"""One Hyperscan pass over an image's bytes that finds every place a literal prefilter occurs.

Identification (:mod:`ecuscan.identify.signatures`) and provenance (:mod:`.textscan`) each read
the bytes with ``re`` prefilters: ``[0-9]\\.[0-9]`` for version strings, an alternation of a few
hundred marker and anchor literals, an alternation of banner/timestamp trigger words. ``re`` scans
a pattern that starts with a set of bytes at about 200 MB/s whatever the set (it runs its matcher
at each byte), so those passes cost about two plain regex passes of CPU per file. Hyperscan (Intel's
multi-pattern matcher, a declared dependency) finds all of them in one pass at several hundred MB/s.

Results do not change: this pass only says *where* each prefilter occurs (every occurrence,
overlapping ones included); the callers still run the same ``re`` pattern at those places
(:func:`emulate_finditer`), which gives exactly the matches ``re.finditer`` gives, in the same order.

Every prefilter pattern has one fixed width (checked when compiled), so a match's start is its end
minus that width and no start-of-match tracking is needed. The number of occurrences kept is
bounded (:data:`MAX_PER_BYTE`); past it the pass gives up (``None``) and the callers run their
``re`` passes over the bytes as before: the same results, at the old speed, in bounded memory.

The last pass is remembered for its buffer (:func:`run_shared`), so provenance (:func:`take`)
reuses the pass identification made over the same ``Image.data`` object; the buffer must not
change in between.
"""

from __future__ import annotations

import mmap
import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, cast

from ecuscan.mapped import Behind, chunks, drop_pages, is_large_map
from ecuscan.model import Buffer

__all__ = ["Found", "PassSet", "compile_pass", "emulate_finditer", "finditer", "fixed_places", "match_at_each", "peek",
           "run", "run_shared", "take"]

#: At most one kept occurrence per this many bytes of input (and at least :data:`MIN_KEPT`), so
#: the places kept take at most about a sixth of the input's size in memory. The development
#: corpus has one per ~1,400 bytes and no file past :data:`MIN_KEPT`; past the bound the callers
#: use ``re`` alone.
MAX_PER_BYTE = 256
MIN_KEPT = 1 << 16
#: Longest buffer one Hyperscan block scan takes (``hs_scan``'s length is an ``unsigned int``).
MAX_BLOCK = (1 << 32) - 1


def fixed_width(pattern: bytes) -> int:
    """The one length every match of ``pattern`` has (``ValueError`` when it can vary).

    >>> fixed_width(rb"20\\d\\d-[01]"), fixed_width(rb"[0-9]\\.[0-9]")
    (6, 3)
    """
    lo, hi = sre_parse.parse(pattern, 0).getwidth()
    if lo != hi or lo == 0:
        raise ValueError(f"prefilter {pattern!r} has no fixed width ({lo}..{hi})")
    return int(lo)


def _hs_source(pattern: bytes, literal: bool) -> bytes:
    """``pattern`` as Hyperscan regex source: literals byte by byte as ``\\xHH`` (NUL and bytes past
    0x7f cannot stand in the C string as they are), regexes as they are (ASCII, same syntax)."""
    if literal:
        return b"".join(b"\\x%02x" % c for c in pattern)
    if not pattern.isascii() or b"\x00" in pattern:
        raise ValueError(f"prefilter regex {pattern!r} must be ASCII without NUL")
    return pattern


@dataclass(frozen=True, eq=False)
class PassSet:
    """Compiled groups of prefilter patterns: group name -> patterns, and the Hyperscan database."""

    groups: tuple[str, ...]
    ids: tuple[tuple[int, int], ...]  # pattern id -> (group index, width)
    database: Any

    def scratch(self) -> Any:
        """This thread's Hyperscan scratch space for the database (a scratch serves one scan at a time)."""
        local = _SCRATCH.__dict__.setdefault("by_set", {})
        s = local.get(id(self))
        if s is None or s[0] is not self:
            import hyperscan

            s = (self, hyperscan.Scratch(self.database))
            local[id(self)] = s
        return s[1]


_SCRATCH = threading.local()


@lru_cache(maxsize=16)
def compile_pass(groups: tuple[tuple[str, tuple[bytes, ...], bool], ...]) -> PassSet:
    """Compile ``(name, patterns, literal)`` groups into one database (cached per argument).

    A literal group's patterns are byte strings; a regex group's are ``re``/Hyperscan regexes of
    fixed width in the syntax both share (literals, ``\\d``, ``\\.``, classes).
    """
    import hyperscan

    exprs: list[bytes] = []
    ids: list[tuple[int, int]] = []
    for gi, (_name, patterns, literal) in enumerate(groups):
        for p in dict.fromkeys(patterns):
            exprs.append(_hs_source(p, literal))
            ids.append((gi, len(p) if literal else fixed_width(p)))
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    if exprs:
        db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs),
                   flags=hyperscan.HS_FLAG_DOTALL)
    return PassSet(groups=tuple(g[0] for g in groups), ids=tuple(ids), database=db if exprs else None)


@dataclass(frozen=True)
class Found:
    """Sorted, distinct start offsets of every occurrence of each group's patterns."""

    starts: dict[str, Sequence[int]]


def run(passes: PassSet, data: Buffer) -> Found | None:
    """Every occurrence of the prefilters in ``data``; ``None`` when there are more than the bound."""
    n = len(data)
    if passes.database is None or n == 0:
        return Found({g: () for g in passes.groups})
    if n > MAX_BLOCK:
        return None  # Hyperscan takes a block length as a 32-bit count: the regexes run over the bytes
    cap = max(MIN_KEPT, n // MAX_PER_BYTE)
    per: list[list[int]] = [[] for _ in passes.groups]
    ids = passes.ids  # pattern id -> (group index, width)
    left = [cap]  # counted down to the bound

    def on_match(pid: int, _from: int, to: int, _flags: int, _ctx: object) -> bool:
        gi, width = ids[pid]
        per[gi].append(to - width)
        left[0] -= 1
        return left[0] < 0  # True stops the scan

    import hyperscan

    try:
        if not is_large_map(data):
            passes.database.scan(data, match_event_handler=on_match, scratch=passes.scratch())
        else:
            _scan_in_chunks(passes, data, per, left)
    except hyperscan.ScanTerminated:
        if left[0] < 0:
            return None  # stopped at the bound
        raise
    # matches come by end offset; patterns of one group differ in width, and two may start at one place
    return Found({g: sorted(set(per[i])) for i, g in enumerate(passes.groups)})


def _scan_in_chunks(passes: PassSet, data: Buffer, per: list[list[int]], left: list[int]) -> None:
    """The block scan of :func:`run` over a large map, a chunk at a time, each chunk's pages given
    back after it (:mod:`ecuscan.mapped`). Every pattern is at most ``w`` bytes wide, so a chunk is
    scanned with the ``w - 1`` bytes before it and keeps the matches that end in it (those that
    end before it were the chunk before's): every occurrence is found once, exactly as one scan
    of the whole buffer finds it."""
    ids = passes.ids
    reach = max((w for _, w in ids), default=1) - 1
    scratch = passes.scratch()
    with memoryview(data) as view:
        for lo, hi in chunks(0, len(view)):
            base = max(0, lo - reach)

            def on_match(pid: int, _from: int, to: int, _flags: int, _ctx: object, base: int = base,
                         lo: int = lo) -> bool:
                if base + to <= lo:
                    return False  # it ends before this chunk: the chunk before found it
                gi, width = ids[pid]
                per[gi].append(base + to - width)
                left[0] -= 1
                return left[0] < 0  # True stops the scan

            passes.database.scan(view[base:hi], match_event_handler=on_match, scratch=scratch)
            drop_pages(data, base, hi - base)


#: The last shared pass: (buffer, its length, the pass set, what it found).
_last: tuple[Buffer, int, PassSet, Found | None] | None = None
_last_lock = threading.Lock()


def _cacheable(data: Buffer) -> bool:
    # a memoryview is not kept: holding it would keep its mmap from being closed
    return isinstance(data, (bytes, mmap.mmap))


def run_shared(passes: PassSet, data: Buffer) -> Found | None:
    """:func:`run`, remembered for ``data`` (see :func:`reuse`)."""
    global _last
    found = run(passes, data)
    if _cacheable(data):
        with _last_lock:
            _last = (data, len(data), passes, found)
    return found


def peek(data: Buffer, groups: Sequence[str]) -> tuple[bool, Found | None]:
    """:func:`take` without releasing the pass: for a caller between the pass and its last user."""
    with _last_lock:
        last = _last
    if last is None or last[0] is not data or last[1] != len(data) or not set(groups) <= set(last[2].groups):
        return False, None
    return True, last[3]


def take(data: Buffer, groups: Sequence[str]) -> tuple[bool, Found | None]:
    """``(True, found)`` when the last shared pass ran over this very ``data`` object with all of
    ``groups`` (``found`` is ``None`` when that pass gave up); ``(False, None)`` otherwise.
    The memory of the pass is released either way."""
    global _last
    with _last_lock:
        last, _last = _last, None
    if last is None or last[0] is not data or last[1] != len(data) or not set(groups) <= set(last[2].groups):
        return False, None
    return True, last[3]


def emulate_finditer(rx: Any, data: Buffer, starts: Sequence[int], pos: int = 0,
                     endpos: int | None = None) -> Iterator[Any]:
    """The matches of ``rx.finditer(data, pos, endpos)``, trying ``rx`` only at ``starts``.

    Exact when ``starts`` holds (at least) every offset at which ``rx`` can match: ``finditer``
    reports the leftmost match, then searches again from its end; a position not in ``starts``
    cannot start a match, so trying the candidates in order, skipping those inside the last
    match, gives the same matches (``rx`` must not match the empty string).
    """
    end = len(data) if endpos is None else min(endpos, len(data))
    i = bisect_left(starts, pos)
    if i >= len(starts) or starts[i] >= end:
        return iter(())  # nothing to try (most windows of the signature scan)
    return _emulate(rx.match, data, starts, i, pos, end)


def _emulate(match: Any, data: Buffer, starts: Sequence[int], i: int, pos: int, end: int) -> Iterator[Any]:
    last = pos
    # a large map: the pages this walk (and its caller, near each match) has left behind are given back
    behind = Behind(data, pos) if is_large_map(data) else None
    for k in range(i, len(starts)):
        q = starts[k]
        if q >= end:
            break
        if q < last:
            continue
        if behind is not None:
            behind.at(q)
        m = match(data, q, end)
        if m is not None:
            yield m
            last = m.end()


def match_at_each(rx: Any, data: Buffer, starts: Sequence[int], pos: int, endpos: int) -> Iterator[Any]:
    """``rx.match(data, q, endpos)`` at every candidate ``q`` in ``[pos, endpos)`` that matches,
    overlapping matches included: what searching again from each match's start + 1 gives, when
    ``starts`` holds every offset at which ``rx`` can match."""
    end = min(endpos, len(data))
    match = rx.match
    behind = Behind(data, pos) if is_large_map(data) else None  # as in _emulate
    for k in range(bisect_left(starts, pos), len(starts)):
        q = starts[k]
        if q >= end:
            break
        if behind is not None:
            behind.at(q)
        m = match(data, q, end)
        if m is not None:
            yield m


def fixed_places(starts: Sequence[int], width: int, pos: int, endpos: int) -> Iterator[int]:
    """The start offsets of ``rx.finditer(data, pos, endpos)`` for a regex ``rx`` whose matches are
    exactly the occurrences of its own fixed-width prefilter pattern (``[0-9]\\.[0-9]``): every
    place found is a match, so only the non-overlapping ones within the bounds are kept.

    >>> list(fixed_places([0, 2, 5, 9], 3, 0, 11))  # "1.2.3" at 0: its "2.3" at 2 overlaps
    [0, 5]
    """
    last = pos
    for k in range(bisect_left(starts, pos), len(starts)):
        q = starts[k]
        if q + width > endpos:
            break
        if q < last:
            continue
        yield q
        last = q + width


def finditer(rx: Any, data: Buffer, found: Found | None, group: str) -> Iterator[Any]:
    """``rx.finditer(data)``, tried only at the places of ``group`` when a pass found them."""
    if found is None:
        return cast(Iterator[Any], rx.finditer(data))
    return emulate_finditer(rx, data, found.starts[group])
