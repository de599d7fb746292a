"""One shared pass over the bytes for every text finding that starts with a keyword.

Toolchain banners, timestamps and build-host banners all start with one of a few dozen
literal words. A single regex made of those words finds every candidate position in one
pass (the regex engine jumps between bytes that can start a word); each candidate is then
matched in place by the module that owns it, without copying the buffer. Separate passes
per pattern cost about three times as much on a 256 MB image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ecuscan.model import Buffer
from ecuscan.provenance import buildpaths, prefilter, timestamps, toolchain


def _grouped(words: tuple[bytes, ...]) -> bytes:
    """One alternation per first byte (``b(?:uild|uilt)``): each candidate position is then
    tested against the few words that can start with its byte, not against all of them
    (twice as fast as a flat alternation on random data)."""
    groups: dict[bytes, list[bytes]] = {}
    for w in dict.fromkeys(words):
        groups.setdefault(w[:1], []).append(w[1:])
    return b"|".join(re.escape(first) + b"(?:" + b"|".join(rest) + b")" for first, rest in groups.items())


#: Every word that starts a finding (each one of fixed width: the prefilter pass needs that).
TRIGGER_WORDS = tuple(dict.fromkeys((*toolchain.BANNER_STARTS, *timestamps.STAMP_STARTS, *buildpaths.PEOPLE_STARTS)))
#: Their group in the shared prefilter pass (:mod:`ecuscan.provenance.prefilter`).
TRIGGER_GROUP = "trigger"
_TRIGGER_RE = re.compile(_grouped((*toolchain.BANNER_STARTS, *timestamps.STAMP_STARTS, *buildpaths.PEOPLE_STARTS)))
_BANNER_FIRST = frozenset(s[0] for s in (b"GCC", b"clang", b"Component", b"ARM", b"Arm", b"IAR", b"Green",
                                         b"TASKING", b"HighTec", b"Wind", b"Diab", b"CodeWarrior",
                                         b"Metrowerks", b"MWCC"))
_PEOPLE_FIRST = frozenset(b"LcCbB")
_STAMP_FIRST = frozenset(b"JFMASONDTWbBcCdDt12")


@dataclass
class TextFindings:
    """What the shared pass found, each list in buffer order and bounded."""

    banners: list[toolchain.BannerHit] = field(default_factory=list)
    stamps: list[tuple[int, str]] = field(default_factory=list)
    people: list[tuple[str | None, str | None]] = field(default_factory=list)


def scan(data: Buffer, max_items: int, limit: int = 200, max_candidates: int | None = None,
         places: prefilter.Found | None = None) -> TextFindings:
    """Find banners, timestamps and build hosts in ``data`` in one regex pass.

    ``places``: where a prefilter pass over ``data`` found the trigger words (the same findings,
    without the regex pass over every byte).

    Each list keeps at most ``max_items``; at most ``max_candidates`` trigger words are
    examined (default ``4096 * max_items``), which bounds the time spent on text-heavy input.
    """
    out = TextFindings()
    budget = 4096 * max(1, max_items) if max_candidates is None else max_candidates
    for n, m in enumerate(prefilter.finditer(_TRIGGER_RE, data, places, TRIGGER_GROUP)):
        if n >= budget:
            break
        pos = m.start()
        first = data[pos]
        if first in _BANNER_FIRST and len(out.banners) < max_items:
            hit = toolchain.banner_at(data, pos, limit)
            if hit is not None:
                out.banners.append(hit)
                continue
        if first in _STAMP_FIRST and len(out.stamps) < max_items:
            iso = timestamps.stamp_at(data, pos)
            if iso is not None:
                out.stamps.append((pos, iso))
        if first in _PEOPLE_FIRST and len(out.people) < max_items:
            who = buildpaths.people_at(data, pos)
            if who is not None:
                out.people.append(who)
        if (len(out.banners) >= max_items and len(out.stamps) >= max_items
                and len(out.people) >= max_items):
            break
    return out
