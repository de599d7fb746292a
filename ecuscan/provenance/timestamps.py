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

# Each pattern starts with a literal or a branch of literals, so the regex engine skips
# quickly through binary data; the word boundary before a match is checked in Python.
_DATE_RE = re.compile(
    # __DATE__ ("Nov 27 2026"), then optionally __TIME__ right after it: joined by a space,
    # by NUL padding between two adjacent string literals, or U-Boot's " - ".
    _MON + rb" ([ 0-3]\d) " + _YEAR + rb"(?:(?: - |[ \x00]{1,8})" + _TIME + rb"(?: ([+-]\d{4}))?)?(?![0-9])"
)
_UNIX_DATE_RE = re.compile(
    # date(1) style, as in Linux "#1 SMP Thu Nov 27 20:14:03 UTC 2026".
    # OpenSSL's "built on: Sat Oct  3 16:00:50 2026 UTC" puts the zone after the year.
    rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) " + _MON + rb" ([ 0-3]\d) " + _TIME + rb" (?:([A-Z]{3,5}) )?" + _YEAR
    + rb"(?![0-9])(?: (UTC|GMT)(?![A-Za-z]))?"
)
_ISO_RE = re.compile(
    # ISO 8601 with a time ...
    _YEAR + rb"-([01]\d)-([0-3]\d)[T ]([0-2]\d:[0-5]\d(?::[0-5]\d)?)(?:\.\d{1,6})?(Z|[+-]\d\d:?\d\d)?(?![0-9])"
)
_KEYWORD_DATE_RE = re.compile(
    # ... and a bare ISO date only after a build keyword (its time too, when one follows).
    rb"(?:build|Build|BUILD|built|Built|compiled|Compiled|date|Date|DATE|created|Created|timestamp|Timestamp)"
    rb"[\x20-\x7e]{0,24}?(?<![0-9])" + _YEAR + rb"-([01]\d)-([0-3]\d)"
    rb"(?:[T ]([0-2]\d:[0-5]\d(?::[0-5]\d)?)(?:\.\d{1,6})?(Z|[+-]\d\d:?\d\d)?)?(?![0-9])"
)
_WEEKDAYS = frozenset((b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"))
_FIRST_BYTES = frozenset(b"JFMASONDTWbBcCdDt12")
_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


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


def _parse(rx: re.Pattern[bytes], g: tuple[str | None, ...]) -> str | None:
    if rx is _DATE_RE:
        return _iso(int(g[2] or 0), _MONTHS[g[0] or ""], int((g[1] or "0").strip()), g[3], g[4])
    if rx is _UNIX_DATE_RE:
        return _iso(int(g[4] or 0), _MONTHS[g[0] or ""], int((g[1] or "0").strip()), g[2], g[3] or g[5])
    if rx is _ISO_RE:
        return _iso(int(g[0] or 0), int(g[1] or 0), int(g[2] or 0), g[3], g[4])
    return _iso(int(g[0] or 0), int(g[1] or 0), int(g[2] or 0), g[3], g[4])


def _decode(m: re.Match[bytes]) -> tuple[str | None, ...]:
    return tuple(x.decode("ascii") if x is not None else None for x in m.groups())


_PATTERNS = (_DATE_RE, _UNIX_DATE_RE, _ISO_RE, _KEYWORD_DATE_RE)


def parse_text(text: str) -> str | None:
    """Parse one timestamp string from a header or banner into ISO 8601.

    >>> parse_text("Nov 27 2026 20:14:03")
    '2026-11-27T20:14:03'
    >>> parse_text("Thu Nov 27 20:14:03 UTC 2026")
    '2026-11-27T20:14:03Z'
    >>> parse_text("built on: Sat Oct  3 16:00:50 2026 UTC")
    '2026-10-03T16:00:50Z'
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
    raw = t.encode("ascii", "replace")
    for rx in _PATTERNS:
        if mb := rx.search(raw):
            return _parse(rx, _decode(mb))
    return None


#: Trigger words of :func:`stamp_at` for the shared scan in ``textscan``.
STAMP_STARTS = (
    *(m.encode() + b" " for m in _MONTHS),
    *(d + b" " for d in (b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun")),
    rb"19[89]\d-[01]", rb"20\d\d-[01]",
    rb"build", rb"Build", rb"BUILD", rb"built", rb"Built", rb"compiled", rb"Compiled", rb"date", rb"Date",
    rb"DATE", rb"created", rb"Created", rb"timestamp", rb"Timestamp",
)


def stamp_at(data: Buffer, pos: int) -> str | None:
    """The ISO 8601 form of a timestamp string starting at ``pos`` in ``data``, if one does."""
    first = data[pos]
    if first in b"12":
        patterns: tuple[re.Pattern[bytes], ...] = (_ISO_RE,)
    elif bytes(data[pos:pos + 3]) in _WEEKDAYS:
        patterns = (_UNIX_DATE_RE,)
    elif bytes(data[pos:pos + 3]).decode("ascii", "replace") in _MONTHS:
        patterns = (_DATE_RE,)
    else:
        patterns = (_KEYWORD_DATE_RE,)
    for rx in patterns:
        if rx is not _KEYWORD_DATE_RE and pos > 0 and data[pos - 1] in _ALNUM:
            return None
        m = rx.match(data, pos, pos + 96)
        if m is not None:
            return _parse(rx, _decode(m))
    return None


_META_KEY_RE = re.compile(r"date|time|created|built|build[_-]?(?:date|time)", re.IGNORECASE)


def from_metadata(metadata: Mapping[str, str]) -> Iterator[str]:
    """Timestamps in container headers (VBF, ODX ...).

    A field whose key names a date or time is parsed whole (``27.11.2026``, ``20261127`` ...);
    other fields (a VBF ``description`` ...) are searched for the same strings as the bytes.

    >>> list(from_metadata({"create_date": "27.11.2026", "description": "BCM app, built 2026-11-20 10:00"}))
    ['2026-11-27', '2026-11-20T10:00:00']
    """
    for key, value in list(metadata.items())[:4096]:
        if not isinstance(value, str):
            continue
        if _META_KEY_RE.search(str(key)) and len(value) <= 64:
            iso = parse_text(value)
            if iso is not None:
                yield iso
                continue
        raw = value[:1000].encode("ascii", "replace")
        for pos in range(len(raw)):
            if raw[pos] in _FIRST_BYTES and (iso := stamp_at(raw, pos)) is not None:
                yield iso
                break
