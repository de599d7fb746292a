"""Helpers shared by the feed-format modules: bounded reads of untrusted JSON and the range checks.

Every format module turns raw JSON into :class:`~ecuscan.vulns.records.Vulnerability`; these
helpers read its fields without trusting their types (a number where a string was promised,
a dict where a list was) and mark a version statement that cannot be evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ...errors import FeedError
from ...limits import DEFAULT_LIMITS
from ..ranges import range_problem
from ..records import AffectedRange, Cvss, Severity

MAX_TEXT = 2000
MAX_RANGES = 20_000
PLACEHOLDERS = {"", "n/a", "na", "unspecified", "unknown", "none", "-"}
_CWE_RE = re.compile(r"\bCWE-\d{1,6}\b")
_CWE_LEAD_RE = re.compile(r"^\s*(CWE-\d{1,6})\b[\s:.\-–—]*")
#: Where a weakness's description starts after its name in one problem-type text ("CWE-121
#: Stack-based Buffer Overflow A stack-based buffer overflow condition is ..."): a sentence end, or
#: an article with a capital letter followed by a lower-case word (CWE names are title case).
_NAME_END_RE = re.compile(r"(?<=\w)[.;]\s|\s(?=(?:A|An|The)\s[a-z])")
_URL_RE = re.compile(r"^(?:https?|ftp)://[^\s\x00-\x1f\x7f]+$", re.IGNORECASE)


def text(value: Any, limit: int = 200) -> str | None:
    """A bounded string, or None for anything that is not a non-empty string."""
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else an empty list."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def english(descriptions: Any) -> str:
    """The English text of a ``[{lang, value}]`` list (else the first one)."""
    items = [d for d in as_list(descriptions) if isinstance(d, Mapping)]
    for d in items:
        if str(d.get("lang", "")).lower().startswith("en"):
            return text(d.get("value"), MAX_TEXT) or ""
    return (text(items[0].get("value"), MAX_TEXT) or "") if items else ""


def summary(title: str | None, description: str) -> str:
    """The title, else the first sentence of the description (at most 200 characters)."""
    if title:
        return title[:200]
    first = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0]
    return first[:200]


def cvss(version: str, data: Mapping[str, Any], source: str, severity: Any = None) -> Cvss | None:
    """A CVSS entry from a ``{vectorString, baseScore, baseSeverity, version}`` object, or None."""
    vector = text(data.get("vectorString"), 300)
    score = data.get("baseScore")
    if not vector and not isinstance(score, int | float):
        return None
    sev_text = text(data.get("baseSeverity") or severity, 20)
    try:
        sev = Severity(sev_text.lower()) if sev_text else None
    except ValueError:
        sev = None
    num = float(score) if isinstance(score, int | float) and 0 <= score <= 10 else None
    if sev is None and num is not None:
        sev = Severity.from_score(num)
    return Cvss(version=str(data.get("version") or version), score=num, vector=vector or "",
                severity=sev, source=source)


def cwe_ids(texts: Iterable[Any]) -> tuple[str, ...]:
    """Every distinct ``CWE-n`` named in ``texts`` (non-strings skipped), in order."""
    out: list[str] = []
    for t in texts:
        if isinstance(t, str):
            out.extend(m for m in _CWE_RE.findall(t) if m not in out)
    return tuple(out)


def references(urls: Iterable[Any]) -> tuple[str, ...]:
    """The reference URLs of a record: http(s)/ftp URLs without spaces or control characters, in
    order, each once, at most ``max_vuln_references`` of them; a URL longer than
    ``max_vuln_reference_chars`` is left out (a cut URL would point somewhere else).

    >>> references(["https://a.example/1", "https://a.example/1", "javascript:alert(1)", 7, "ftp://b.example/x"])
    ('https://a.example/1', 'ftp://b.example/x')
    """
    out: dict[str, None] = {}
    for u in urls:
        if len(out) >= DEFAULT_LIMITS.max_vuln_references:
            break
        if not isinstance(u, str):
            continue
        u = u.strip()
        if len(u) <= DEFAULT_LIMITS.max_vuln_reference_chars and _URL_RE.match(u):
            out.setdefault(u)
    return tuple(out)


def cwe_name(description: Any, cwe: str) -> str | None:
    """The name a problem-type text gives for ``cwe`` ("CWE-79 Improper Neutralization ..." gives
    "Improper Neutralization ..."), or ``None`` when the text is only the id (or names another).

    The text runs up to where a description of the weakness starts; it is cut at a word to
    ``max_cwe_name_chars`` and marked with "…". Nothing is looked up or invented.

    >>> cwe_name("CWE-119: Improper Restriction of Operations within the Bounds of a Memory Buffer", "CWE-119")
    'Improper Restriction of Operations within the Bounds of a Memory Buffer'
    >>> cwe_name("CWE-122 Heap-based Buffer Overflow A heap overflow condition is a buffer overflow", "CWE-122")
    'Heap-based Buffer Overflow'
    >>> cwe_name("CWE-125", "CWE-125") is None, cwe_name("CWE-20 Improper Input Validation", "CWE-79") is None
    (True, True)
    """
    if not isinstance(description, str):
        return None
    m = _CWE_LEAD_RE.match(description)
    if m is None or m.group(1) != cwe:
        return None
    rest = " ".join(description[m.end():].split())
    cut = _NAME_END_RE.search(rest)
    name = (rest[:cut.start()] if cut else rest).strip(" .;:-")
    if not name or _CWE_RE.fullmatch(name) or name.lower() in PLACEHOLDERS:
        return None
    limit = DEFAULT_LIMITS.max_cwe_name_chars
    if len(name) > limit:
        name = name[:limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"
    return name


def weaknesses(pairs: Iterable[tuple[Any, Any]]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """CWE ids and the names given for them from ``(cweId, description)`` pairs (either may be
    missing or not a string): ids in order, each once, at most ``max_vuln_cwes``; the first name
    a text gives for an id.

    >>> weaknesses([("CWE-20", "CWE-20 Improper Input Validation"), (None, "CWE-79"), ("CWE-20", "CWE-20")])
    (('CWE-20', 'CWE-79'), (('CWE-20', 'Improper Input Validation'),))
    """
    ids: list[str] = []
    names: dict[str, str] = {}
    for cwe_id, description in pairs:
        found = cwe_ids((cwe_id, description))
        for c in found:
            if c not in ids and len(ids) < DEFAULT_LIMITS.max_vuln_cwes:
                ids.append(c)
            if c in ids and c not in names:
                name = cwe_name(description, c)
                if name:
                    names[c] = name
    return tuple(ids), tuple((c, names[c]) for c in ids if c in names)


def not_text(block: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    """A feed problem when a version field holds a JSON number, list ... instead of a string.

    ``2.287`` read as a number is not the version ``2.287`` (nor ``2.2870``): it is refused,
    not dropped (a dropped bound widens the range to "all versions").
    """
    for k in keys:
        v = block.get(k)
        if v is not None and not isinstance(v, str):
            return f"{k} is a JSON {type(v).__name__} ({str(v)[:40]}), not a version string"
    return None


def checked(ranges: list[AffectedRange]) -> list[AffectedRange]:
    """Every range that cannot be evaluated becomes unknown with its feed problem named."""
    out = []
    for r in ranges:
        problem = range_problem(r) if not r.problem else None
        out.append(replace(r, unknown=True, problem=problem, note=problem) if problem else r)
    return out


def bounded(ranges: list[AffectedRange], rid: str) -> None:
    """:class:`FeedError` when a record holds more than :data:`MAX_RANGES` version statements."""
    if len(ranges) > MAX_RANGES:
        raise FeedError(f"more than {MAX_RANGES} version statements", source=rid)
