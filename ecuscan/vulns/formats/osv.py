"""OSV records (schema 1.x): upstream ecosystems and distribution advisories.

Ranges are read from ``introduced``/``fixed``/``last_affected``/``limit`` events and the
``versions[]`` list; ``GIT`` commit ranges are unknown. Ranges of a distribution ecosystem
(Debian:13, Alpine:v3.20 ...) follow that distribution's version rules
(:mod:`ecuscan.vulns.distro`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ...errors import FeedError
from ..distro import distro_range_problem, family_of_ecosystem
from ..ranges import looks_like_version
from ..records import AffectedRange, Cvss, Severity, Vulnerability
from .common import (
    MAX_RANGES,
    MAX_TEXT,
    as_dict,
    as_list,
    bounded,
    checked,
    not_text,
    references,
    summary,
    text,
    weaknesses,
)


def probe(doc: Mapping[str, Any]) -> Iterable[Any] | None:
    """``[doc]`` for an OSV record (``id``, ``modified`` and ``affected`` or ``schema_version``), else ``None``."""
    if "id" in doc and "modified" in doc and ("affected" in doc or "schema_version" in doc):
        return [doc]
    return None


def record_key(raw: Mapping[str, Any]) -> tuple[Any, Any]:
    """``id`` and ``modified``."""
    return raw["id"], raw.get("modified")


def _ranges(rng: Mapping[str, Any], base: dict[str, Any]) -> list[AffectedRange]:
    rtype = str(rng.get("type", "")).upper()
    if rtype == "GIT":
        return [AffectedRange(**base, unknown=True, note="git commit range", text="GIT")]
    out: list[AffectedRange] = []
    lower: str | None = None
    open_ = False
    for ev in as_list(rng.get("events")):
        ev = as_dict(ev)
        bad = not_text(ev, ("introduced", "fixed", "last_affected", "limit"))
        if bad:
            return [AffectedRange(**base, unknown=True, problem=f"OSV event {bad}", note=bad, text=rtype)]
        if "introduced" in ev:
            val = text(ev["introduced"], 100)
            lower = None if val in (None, "0") else val
            open_ = True
        elif ("fixed" in ev or "last_affected" in ev or "limit" in ev) and open_:
            key = "fixed" if "fixed" in ev else "last_affected" if "last_affected" in ev else "limit"
            upper = text(ev[key], 100)
            out.append(AffectedRange(**base, lower=lower, upper=upper, upper_inclusive=key == "last_affected",
                                     text=f"{rtype} introduced {lower or 0} {key} {upper}"))
            open_ = False
    if open_:
        out.append(AffectedRange(**base, lower=lower, text=f"{rtype} introduced {lower or 0}"))
    family = family_of_ecosystem(base.get("vendor"))
    if family is not None:
        # a distribution's versions (epochs, revisions, ~, -rN) follow its own rules
        result = []
        for r in out:
            problem = distro_range_problem(family, r)
            result.append(replace(r, unknown=True, problem=problem, note=problem) if problem else r)
        return result
    return checked(out)


def parse(raw: Mapping[str, Any]) -> Vulnerability:
    """An OSV record (schema 1.x)."""
    rid = text(raw.get("id"), 90)
    if not rid:
        raise FeedError("OSV record without id")
    affected: list[AffectedRange] = []
    for a in as_list(raw.get("affected")):
        a = as_dict(a)
        pkg = as_dict(a.get("package"))
        base: dict[str, Any] = {"origin": "osv", "package": text(pkg.get("name")),
                                "purl": text(pkg.get("purl"), 300), "vendor": text(pkg.get("ecosystem"), 60)}
        for r in as_list(a.get("ranges")):
            affected.extend(_ranges(as_dict(r), base))
        distro = family_of_ecosystem(base["vendor"]) is not None
        for v in as_list(a.get("versions"))[:MAX_RANGES]:
            if isinstance(v, str) and (looks_like_version(v) or (distro and v.strip())):
                affected.append(AffectedRange(**base, exact=v.strip()[:200], text=f"versions[] {v}"))
        bounded(affected, rid)
    scores: list[Cvss] = []
    db_sev = text(as_dict(raw.get("database_specific")).get("severity"), 20)
    for sev in as_list(raw.get("severity")):
        sev = as_dict(sev)
        vector = text(sev.get("score"), 300)
        if vector and str(sev.get("type", "")).startswith("CVSS"):
            version = vector.split("/")[0].split(":")[1] if vector.startswith("CVSS:") else "2.0"
            level = {"moderate": "medium"}.get(db_sev.lower(), db_sev.lower()) if db_sev else None
            scores.append(Cvss(version=version, score=None, vector=vector,
                               severity=Severity(level) if level and level in Severity._value2member_map_ else None,
                               source="osv"))
    aliases = tuple(a for a in as_list(raw.get("aliases")) if isinstance(a, str))[:50]
    # OSV (GHSA's database_specific.cwe_ids) gives CWE ids only
    cwes, cwe_names = weaknesses((None, c) for c in as_list(as_dict(raw.get("database_specific")).get("cwe_ids")))
    details = text(raw.get("details"), MAX_TEXT) or ""
    return Vulnerability(
        id=rid, aliases=aliases, summary=summary(text(raw.get("summary")), details), description=details,
        published=text(raw.get("published"), 40), modified=text(raw.get("modified"), 40), cvss=tuple(scores),
        cwes=cwes, cwe_names=cwe_names, affected=tuple(affected),
        references=references(as_dict(r).get("url") for r in as_list(raw.get("references"))),
        sources=(f"osv:{rid}",), withdrawn=bool(raw.get("withdrawn")),
        upstream=tuple(u for u in as_list(raw.get("upstream")) if isinstance(u, str))[:50])
