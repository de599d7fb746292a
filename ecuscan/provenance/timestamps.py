"""Build timestamps: ``__DATE__``/``__TIME__`` strings, banner dates and container headers.

Every result is an ISO 8601 string (``2026-11-27T20:14:03`` or ``2026-11-27`` when only the
date is known; a stated UTC offset is kept). Parsing is by hand because the strings are
found inside binary data, where a general date parser would accept far too much.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping

from ecuscan.model import Buffer

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_MON = rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = rb"([0-2]\d:[0-5]\d:[0-5]\d)"
_YEAR = rb"((?:19[89]|20\d)\d)"

_TS_RE = re.compile(
    # __DATE__ ("Nov 27 2026"), then optionally __TIME__ right after it: joined by a space,
    # by NUL padding between two adjacent string literals, or U-Boot's " - ".
    rb"(?<![A-Za-z0-9])" + _MON + rb" ([ 0-3]\d) " + _YEAR + rb"(?:(?: - |[ \x00]{1,8})" + _TIME
    + rb"(?: ([+-]\d{4}))?)?(?![0-9])"
    # date(1) style, as in Linux "#1 SMP Thu Nov 27 20:14:03 UTC 2026".
    rb"|(?<![A-Za-z])(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) " + _MON + rb" ([ 0-3]\d) " + _TIME
    + rb" (?:([A-Z]{3,5}) )?" + _YEAR + rb"(?![0-9])"
    # ISO 8601 with a time; a bare ISO date only after a build keyword.
    rb"|(?<![0-9])" + _YEAR + rb"-([01]\d)-([0-3]\d)[T ]([0-2]\d:[0-5]\d(?::[0-5]\d)?)"
    rb"(?:\.\d{1,6})?(Z|[+-]\d\d:?\d\d)?(?![0-9])"
    rb"|(?i:build|built|compiled|date|created|timestamp)[\x20-\x7e]{0,24}?(?<![0-9])" + _YEAR
    + rb"-([01]\d)-([0-3]\d)(?![0-9])"
)


def _iso(year: int, month: int, day: int, hms: str | None = None, tz: str | None = None) -> str | None:
    try:
        if hms is None:
            return dt.date(year, month, day).isoformat()
        parts = [int(x) for x in hms.split(":")]
        while len(parts) < 3:
            parts.append(0)
        text = dt.datetime(year, month, day, parts[0], parts[1], parts[2]).isoformat()
    except ValueError:
        return None
    if tz in ("UTC", "GMT", "Z", "+0000", "+00:00"):
        return text + "Z"
    if tz and re.fullmatch(r"[+-]\d\d:?\d\d", tz):
        return text + tz[:3] + ":" + tz[-2:]
    return text


def parse_match(groups: tuple[bytes | None, ...]) -> str | None:
    """Turn the groups of one timestamp match into ISO 8601 (``None`` if not a real date)."""
    g = [x.decode("ascii") if x is not None else None for x in groups]
    if g[0] is not None:  # __DATE__ [__TIME__]
        return _iso(int(g[2] or 0), _MONTHS[g[0]], int((g[1] or "0").strip()), g[3], g[4])
    if g[5] is not None:  # date(1)
        return _iso(int(g[9] or 0), _MONTHS[g[5]], int((g[6] or "0").strip()), g[7], g[8])
    if g[10] is not None:  # ISO date-time
        return _iso(int(g[10]), int(g[11] or 0), int(g[12] or 0), g[13], g[14])
    if g[15] is not None:  # keyword + ISO date
        return _iso(int(g[15]), int(g[16] or 0), int(g[17] or 0))
    return None


def parse_text(text: str) -> str | None:
    """Parse one timestamp string from a header or banner into ISO 8601.

    >>> parse_text("Nov 27 2026 20:14:03")
    '2026-11-27T20:14:03'
    >>> parse_text("Thu Nov 27 20:14:03 UTC 2026")
    '2026-11-27T20:14:03Z'
    >>> parse_text("2026-11-27")
    '2026-11-27'
    >>> parse_text("27.11.2026")
    '2026-11-27'
    >>> parse_text("20261127")
    '2026-11-27'
    >>> parse_text("Feb 30 2026") is None
    True
    """
    t = text.strip()
    if m := re.fullmatch(r"((?:19|20)\d\d)-?(\d\d)-?(\d\d)", t):
        return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := re.fullmatch(r"(\d\d)\.(\d\d)\.((?:19|20)\d\d)", t):
        return _iso(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    if mb := _TS_RE.search(t.encode("ascii", "replace")):
        return parse_match(mb.groups())
    return None


def scan(data: Buffer, max_hits: int) -> Iterator[tuple[int, str]]:
    """Yield ``(offset, iso)`` for timestamps in the bytes (one regex pass)."""
    n = 0
    for m in _TS_RE.finditer(data):
        iso = parse_match(m.groups())
        if iso is None:
            continue
        yield m.start(), iso
        n += 1
        if n >= max_hits:
            return


_META_KEY_RE = re.compile(r"date|time|created|built|build[_-]?(?:date|time)", re.IGNORECASE)


def from_metadata(metadata: Mapping[str, str]) -> Iterator[str]:
    """Timestamps in container headers (VBF, ODX ...): keys naming a date or time."""
    for key, value in list(metadata.items())[:4096]:
        if isinstance(value, str) and _META_KEY_RE.search(str(key)) and len(value) <= 64:
            iso = parse_text(value)
            if iso is not None:
                yield iso
