"""Record parsers: CVE JSON 5, NVD CVE API 2.0 and OSV records into :class:`Vulnerability`.

Each parser reads one raw record (parsed JSON) and keeps what matching needs: ids,
dates, descriptions, CVSS, CWE, KEV flags and every version statement as an
:class:`AffectedRange`. Odd encodings seen in real records are normalised here and
noted on the range (curl's ``version == lessThan`` pairs, ``versionType: git`` on release
numbers, free-text ``">= 4.0.0, <= 4.1.0"``, ``n/a``, NVD ``-``). A record that is not
what it claims raises :class:`FeedError` naming the record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ..catalog import parse_cpe
from ..errors import FeedError
from .distro import distro_range_problem, family_of_ecosystem
from .ranges import looks_like_version, parse_free_text, range_problem, release_key
from .records import AffectedRange, Cvss, Severity, Vulnerability

_MAX_TEXT = 2000
_MAX_RANGES = 20_000
_PLACEHOLDERS = {"", "n/a", "na", "unspecified", "unknown", "none", "-"}
_NO_LOWER = {"*", "0", "0.0", "0.0.0", "unspecified", "n/a", ""}
_CWE_RE = re.compile(r"\bCWE-\d{1,6}\b")
_GITHUB_RE = re.compile(r"^https?://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def _s(value: Any, limit: int = 200) -> str | None:
    """A bounded string, or None for anything that is not a non-empty string."""
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _english(descriptions: Any) -> str:
    items = [d for d in _list(descriptions) if isinstance(d, Mapping)]
    for d in items:
        if str(d.get("lang", "")).lower().startswith("en"):
            return _s(d.get("value"), _MAX_TEXT) or ""
    return (_s(items[0].get("value"), _MAX_TEXT) or "") if items else ""


def _summary(title: str | None, description: str) -> str:
    if title:
        return title[:200]
    first = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0]
    return first[:200]


def _cvss(version: str, data: Mapping[str, Any], source: str, severity: Any = None) -> Cvss | None:
    vector = _s(data.get("vectorString"), 300)
    score = data.get("baseScore")
    if not vector and not isinstance(score, int | float):
        return None
    sev_text = _s(data.get("baseSeverity") or severity, 20)
    try:
        sev = Severity(sev_text.lower()) if sev_text else None
    except ValueError:
        sev = None
    num = float(score) if isinstance(score, int | float) and 0 <= score <= 10 else None
    if sev is None and num is not None:
        sev = Severity.from_score(num)
    return Cvss(version=str(data.get("version") or version), score=num, vector=vector or "",
                severity=sev, source=source)


def _cwe_ids(texts: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for t in texts:
        if isinstance(t, str):
            out.extend(m for m in _CWE_RE.findall(t) if m not in out)
    return tuple(out)


def _not_text(block: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    """A feed problem when a version field holds a JSON number, list ... instead of a string.

    ``2.287`` read as a number is not the version ``2.287`` (nor ``2.2870``): it is refused,
    not dropped (a dropped bound widens the range to "all versions").
    """
    for k in keys:
        v = block.get(k)
        if v is not None and not isinstance(v, str):
            return f"{k} is a JSON {type(v).__name__} ({str(v)[:40]}), not a version string"
    return None


def _checked(ranges: list[AffectedRange]) -> list[AffectedRange]:
    """Every range that cannot be evaluated becomes unknown with its feed problem named."""
    out = []
    for r in ranges:
        problem = range_problem(r) if not r.problem else None
        out.append(replace(r, unknown=True, problem=problem, note=problem) if problem else r)
    return out


def _bounded(ranges: list[AffectedRange], rid: str) -> None:
    if len(ranges) > _MAX_RANGES:
        raise FeedError(f"more than {_MAX_RANGES} version statements", source=rid)


# --- CVE JSON 5 -------------------------------------------------------------------------


def _cve5_versions(block: Mapping[str, Any], base: dict[str, Any]) -> list[AffectedRange]:
    default = _s(block.get("defaultStatus"), 20)
    base = {**base, "default_status": default}
    versions = [v for v in _list(block.get("versions")) if isinstance(v, Mapping)]
    if not versions:
        if default == "affected":
            return [AffectedRange(**base, text="defaultStatus affected, no versions listed")]
        return [AffectedRange(**base, unknown=True, note="no versions listed", text="")]
    out: list[AffectedRange] = []
    for v in versions:
        status = "unaffected" if v.get("status") == "unaffected" else "affected"
        if v.get("status") == "unknown":
            continue
        bad = _not_text(v, ("version", "lessThan", "lessThanOrEqual"))
        if bad:
            out.append(AffectedRange(**base, status=status, unknown=True, problem=bad, note=bad,
                                     text=str(dict(v))[:200]))
            continue
        ver = _s(v.get("version"), 200) or ""
        lt, le = _s(v.get("lessThan"), 200), _s(v.get("lessThanOrEqual"), 200)
        vtype = _s(v.get("versionType"), 40) or ""
        text = ver + (f" ..< {lt}" if lt else "") + (f" ..<= {le}" if le else "") + (f" ({vtype})" if vtype else "")
        notes = []
        if vtype == "git":
            notes.append("versionType git read as release numbers")
        kw: dict[str, Any] = {**base, "status": status, "text": text}
        if lt or le:
            upper = lt or le
            assert upper is not None
            lower: str | None = None if ver.lower() in _NO_LOWER else ver
            if upper == "*":
                upper = None
            elif not looks_like_version(upper):
                problem = f"unusable upper bound {upper[:80]!r}"
                out.append(AffectedRange(**kw, unknown=True, problem=problem, note=problem))
                continue
            if lower is not None and not looks_like_version(lower):
                # ignoring it would widen the range to everything below the upper bound
                problem = f"unusable lower bound {lower[:80]!r}"
                out.append(AffectedRange(**kw, unknown=True, problem=problem, note=problem))
                continue
            if lower is not None and upper is not None and release_key(lower) == release_key(upper):
                # HackerOne/curl encoding: {version X, lessThan X} means "< X"
                notes.append(f"version {lower} >= bound: read as '<{'=' if le and not lt else ''}{upper}' only")
                lower = None
            out.append(AffectedRange(**kw, lower=lower, upper=upper, upper_inclusive=bool(le and not lt),
                                     note="; ".join(notes)))
        elif ver == "*":
            out.append(AffectedRange(**kw, note="all versions"))
        elif looks_like_version(ver):
            out.append(AffectedRange(**kw, exact=ver, note="; ".join(notes)))
        elif ver.lower() in _PLACEHOLDERS:
            out.append(AffectedRange(**kw, unknown=True, note=f"version {ver or 'missing'!r}"))
        else:
            comps = parse_free_text(ver)
            if comps is None:
                out.append(AffectedRange(**kw, unknown=True, note=f"free-text version {ver[:60]!r}"))
                continue
            rng: dict[str, Any] = {"note": "free-text version parsed"}
            for op, val in comps:
                if op in (">=", ">"):
                    rng.update(lower=val, lower_inclusive=op == ">=")
                elif op in ("<=", "<"):
                    rng.update(upper=val, upper_inclusive=op == "<=")
                else:
                    rng.update(exact=val)
            out.append(AffectedRange(**kw, **rng))
    return out


def _cve5_blocks(container: Mapping[str, Any], origin: str) -> list[AffectedRange]:
    out: list[AffectedRange] = []
    for block in _list(container.get("affected")):
        if not isinstance(block, Mapping):
            continue
        vendor, product = _s(block.get("vendor")), _s(block.get("product"))
        if vendor and vendor.lower() in _PLACEHOLDERS:
            vendor = None
        if product and product.lower() in _PLACEHOLDERS:
            product = None
        package = _s(block.get("packageName"))
        purl = None
        m = _GITHUB_RE.match(_s(block.get("repo"), 300) or "")
        if m:
            purl = f"pkg:github/{m.group(1).lower()}/{m.group(2).lower()}"
        cpes: list[str | None] = []
        for c in _list(block.get("cpes")):
            parsed = parse_cpe(c) if isinstance(c, str) else None
            if parsed and f"{parsed[1]}:{parsed[2]}" not in cpes:
                cpes.append(f"{parsed[1]}:{parsed[2]}")
        if not (vendor or product or package or purl or cpes):
            out.append(AffectedRange(origin=origin, unknown=True, note="vendor/product n/a", text="n/a"))
            continue
        for cpe in cpes or [None]:
            base = {"origin": origin, "vendor": vendor, "product": product, "package": package,
                    "purl": purl, "cpe": cpe}
            out.extend(_cve5_versions(block, base))
    return out


def _cve5_metrics(container: Mapping[str, Any], source: str) -> tuple[list[Cvss], bool]:
    cvss: list[Cvss] = []
    kev = False
    for m in _list(container.get("metrics")):
        if not isinstance(m, Mapping):
            continue
        for key, version in (("cvssV4_0", "4.0"), ("cvssV3_1", "3.1"), ("cvssV3_0", "3.0"), ("cvssV2_0", "2.0")):
            if isinstance(m.get(key), Mapping):
                c = _cvss(version, m[key], source)
                if c:
                    cvss.append(c)
        other = _dict(m.get("other"))
        if str(other.get("type", "")).lower() == "kev":
            kev = True
    return cvss, kev


def parse_cve5(raw: Mapping[str, Any]) -> Vulnerability:
    """A CVE JSON 5.x record (``dataType: CVE_RECORD``)."""
    meta = _dict(raw.get("cveMetadata"))
    rid = _s(meta.get("cveId"), 90)
    if not rid:
        raise FeedError("CVE 5 record without cveMetadata.cveId")
    containers = _dict(raw.get("containers"))
    cna = _dict(containers.get("cna"))
    adps = [a for a in _list(containers.get("adp")) if isinstance(a, Mapping)]
    rejected = str(meta.get("state", "")).upper() == "REJECTED"
    if not cna and not rejected:
        raise FeedError("CVE 5 record without containers.cna", source=rid)
    description = _english(cna.get("descriptions") or cna.get("rejectedReasons"))
    affected = _cve5_blocks(cna, "cve5:cna")
    cvss, kev = _cve5_metrics(cna, "cna")
    cwe_texts: list[Any] = []
    for container in (cna, *adps):
        for pt in _list(container.get("problemTypes")):
            for d in _list(_dict(pt).get("descriptions")):
                cwe_texts.extend((_dict(d).get("cweId"), _dict(d).get("description")))
    for adp in adps:
        title = _s(_dict(adp.get("providerMetadata")).get("shortName"), 40) or "adp"
        affected.extend(_cve5_blocks(adp, "cve5:adp"))
        more, adp_kev = _cve5_metrics(adp, title)
        cvss.extend(more)
        kev = kev or adp_kev
    _bounded(affected, rid)
    affected = _checked(affected)
    return Vulnerability(
        id=rid, summary=_summary(_s(cna.get("title")), description), description=description,
        published=_s(meta.get("datePublished"), 40), modified=_s(meta.get("dateUpdated"), 40),
        cvss=tuple(cvss), cwes=_cwe_ids(cwe_texts), kev=kev, affected=tuple(affected),
        sources=(f"cve5:{rid}",), withdrawn=rejected)


# --- NVD API 2.0 ------------------------------------------------------------------------


def _nvd_match(m: Mapping[str, Any], conditional: bool) -> AffectedRange | None:
    criteria = _s(m.get("criteria"), 300)
    if not criteria or not m.get("vulnerable", False):
        return None
    parts = re.split(r"(?<!\\):", criteria)
    parsed = parse_cpe(criteria)
    if parsed is None or len(parts) < 7:
        return None
    part, vendor, product = parsed
    version = parts[5].replace("\\", "")
    update = parts[6].replace("\\", "")
    bounds = {k: _s(m.get(k), 100) for k in ("versionStartIncluding", "versionStartExcluding",
                                               "versionEndIncluding", "versionEndExcluding")}
    base: dict[str, Any] = {"origin": "nvd", "vendor": vendor, "product": product,
                            "cpe": f"{vendor}:{product}", "text": criteria,
                            "note": "AND configuration: platform condition not evaluated" if conditional else ""}
    if part == "h":
        return None
    bad = _not_text(m, bounds)
    if bad:
        return AffectedRange(**{**base, "note": bad}, unknown=True, problem=bad)
    if any(bounds.values()):
        lo = bounds["versionStartIncluding"] or bounds["versionStartExcluding"]
        hi = bounds["versionEndIncluding"] or bounds["versionEndExcluding"]
        if any(b is not None and not looks_like_version(b) for b in (lo, hi)):
            problem = f"unusable NVD bound {(lo if lo and not looks_like_version(lo) else hi)!r}"
            return AffectedRange(**{**base, "note": problem}, unknown=True, problem=problem)
        return AffectedRange(**base, lower=lo, lower_inclusive=bounds["versionStartIncluding"] is not None,
                             upper=hi, upper_inclusive=bounds["versionEndIncluding"] is not None)
    if version == "-":
        return AffectedRange(**{**base, "note": "NVD version '-' (no version range)"}, unknown=True)
    if version == "*":
        return AffectedRange(**{**base, "note": "all versions (CPE version '*')"})
    exact = version if update in ("*", "-", "") else f"{version}-{update}"
    if not looks_like_version(exact):
        return AffectedRange(**{**base, "note": f"unusable CPE version {exact!r}"}, unknown=True)
    return AffectedRange(**base, exact=exact)


def parse_nvd(raw: Mapping[str, Any]) -> Vulnerability:
    """An NVD CVE API 2.0 ``cve`` object."""
    rid = _s(raw.get("id"), 90)
    if not rid:
        raise FeedError("NVD record without id")
    affected: list[AffectedRange] = []
    for conf in _list(raw.get("configurations")):
        nodes = [n for n in _list(_dict(conf).get("nodes")) if isinstance(n, Mapping)]
        conditional = str(_dict(conf).get("operator", "")).upper() == "AND" and len(nodes) > 1
        for node in nodes:
            if node.get("negate"):
                continue
            for m in _list(node.get("cpeMatch")):
                if isinstance(m, Mapping):
                    r = _nvd_match(m, conditional)
                    if r is not None:
                        affected.append(r)
    _bounded(affected, rid)
    affected = _checked(affected)
    # NVD's copied "affected" block (the CNA's, usually "n/a") adds nothing to configurations.
    metrics = _dict(raw.get("metrics"))
    cvss: list[Cvss] = []
    for key, version in (("cvssMetricV40", "4.0"), ("cvssMetricV31", "3.1"), ("cvssMetricV30", "3.0"),
                         ("cvssMetricV2", "2.0")):
        entries = [e for e in _list(metrics.get(key)) if isinstance(e, Mapping)]
        entries.sort(key=lambda e: e.get("type") != "Primary")
        for e in entries[:1]:
            c = _cvss(version, _dict(e.get("cvssData")), str(e.get("source", "nvd"))[:60], e.get("baseSeverity"))
            if c:
                cvss.append(c)
    cwes = _cwe_ids(d.get("value") for w in _list(raw.get("weaknesses"))
                    for d in _list(_dict(w).get("description")) if isinstance(d, Mapping))
    description = _english(raw.get("descriptions"))
    return Vulnerability(
        id=rid, summary=_summary(None, description), description=description,
        published=_s(raw.get("published"), 40), modified=_s(raw.get("lastModified"), 40),
        cvss=tuple(cvss), cwes=cwes, kev=bool(raw.get("cisaExploitAdd")), affected=tuple(affected),
        sources=(f"nvd:{rid}",), withdrawn=str(raw.get("vulnStatus", "")).lower() == "rejected")


# --- OSV --------------------------------------------------------------------------------


def _osv_ranges(rng: Mapping[str, Any], base: dict[str, Any]) -> list[AffectedRange]:
    rtype = str(rng.get("type", "")).upper()
    if rtype == "GIT":
        return [AffectedRange(**base, unknown=True, note="git commit range", text="GIT")]
    out: list[AffectedRange] = []
    lower: str | None = None
    open_ = False
    for ev in _list(rng.get("events")):
        ev = _dict(ev)
        bad = _not_text(ev, ("introduced", "fixed", "last_affected", "limit"))
        if bad:
            return [AffectedRange(**base, unknown=True, problem=f"OSV event {bad}", note=bad, text=rtype)]
        if "introduced" in ev:
            val = _s(ev["introduced"], 100)
            lower = None if val in (None, "0") else val
            open_ = True
        elif ("fixed" in ev or "last_affected" in ev or "limit" in ev) and open_:
            key = "fixed" if "fixed" in ev else "last_affected" if "last_affected" in ev else "limit"
            upper = _s(ev[key], 100)
            out.append(AffectedRange(**base, lower=lower, upper=upper, upper_inclusive=key == "last_affected",
                                     text=f"{rtype} introduced {lower or 0} {key} {upper}"))
            open_ = False
    if open_:
        out.append(AffectedRange(**base, lower=lower, text=f"{rtype} introduced {lower or 0}"))
    family = family_of_ecosystem(base.get("vendor"))
    if family is not None:
        # a distribution's versions (epochs, revisions, ~, -rN) follow its own rules
        checked = []
        for r in out:
            problem = distro_range_problem(family, r)
            checked.append(replace(r, unknown=True, problem=problem, note=problem) if problem else r)
        return checked
    return _checked(out)


def parse_osv(raw: Mapping[str, Any]) -> Vulnerability:
    """An OSV record (schema 1.x)."""
    rid = _s(raw.get("id"), 90)
    if not rid:
        raise FeedError("OSV record without id")
    affected: list[AffectedRange] = []
    for a in _list(raw.get("affected")):
        a = _dict(a)
        pkg = _dict(a.get("package"))
        base: dict[str, Any] = {"origin": "osv", "package": _s(pkg.get("name")),
                                "purl": _s(pkg.get("purl"), 300), "vendor": _s(pkg.get("ecosystem"), 60)}
        for r in _list(a.get("ranges")):
            affected.extend(_osv_ranges(_dict(r), base))
        distro = family_of_ecosystem(base["vendor"]) is not None
        for v in _list(a.get("versions"))[:_MAX_RANGES]:
            if isinstance(v, str) and (looks_like_version(v) or (distro and v.strip())):
                affected.append(AffectedRange(**base, exact=v.strip()[:200], text=f"versions[] {v}"))
        _bounded(affected, rid)
    cvss: list[Cvss] = []
    db_sev = _s(_dict(raw.get("database_specific")).get("severity"), 20)
    for sev in _list(raw.get("severity")):
        sev = _dict(sev)
        vector = _s(sev.get("score"), 300)
        if vector and str(sev.get("type", "")).startswith("CVSS"):
            version = vector.split("/")[0].split(":")[1] if vector.startswith("CVSS:") else "2.0"
            level = {"moderate": "medium"}.get(db_sev.lower(), db_sev.lower()) if db_sev else None
            cvss.append(Cvss(version=version, score=None, vector=vector,
                             severity=Severity(level) if level and level in Severity._value2member_map_ else None,
                             source="osv"))
    aliases = tuple(a for a in _list(raw.get("aliases")) if isinstance(a, str))[:50]
    details = _s(raw.get("details"), _MAX_TEXT) or ""
    return Vulnerability(
        id=rid, aliases=aliases, summary=_summary(_s(raw.get("summary")), details), description=details,
        published=_s(raw.get("published"), 40), modified=_s(raw.get("modified"), 40), cvss=tuple(cvss),
        cwes=_cwe_ids(_list(_dict(raw.get("database_specific")).get("cwe_ids"))), affected=tuple(affected),
        sources=(f"osv:{rid}",), withdrawn=bool(raw.get("withdrawn")),
        upstream=tuple(u for u in _list(raw.get("upstream")) if isinstance(u, str))[:50])


def parse_record(fmt: str, raw: Any) -> Vulnerability:
    """Parse one raw record of format ``cve5``, ``nvd`` or ``osv``; :class:`FeedError` if it is not one."""
    if not isinstance(raw, Mapping):
        raise FeedError(f"{fmt} record is not a JSON object")
    parser = {"cve5": parse_cve5, "nvd": parse_nvd, "osv": parse_osv}.get(fmt)
    if parser is None:
        raise FeedError(f"unknown feed format {fmt!r}")
    try:
        return parser(raw)
    except FeedError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise FeedError(f"malformed {fmt} record: {exc.__class__.__name__}: {exc}",
                        source=str(raw.get("id") or _dict(raw.get("cveMetadata")).get("cveId") or "")[:90]) from exc
