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
from ..ranges import range_problem
from ..records import AffectedRange, Cvss, Severity

MAX_TEXT = 2000
MAX_RANGES = 20_000
PLACEHOLDERS = {"", "n/a", "na", "unspecified", "unknown", "none", "-"}
_CWE_RE = re.compile(r"\bCWE-\d{1,6}\b")


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
