"""CVE JSON 5.x records (``dataType: CVE_RECORD``) and bundles of them (``{"cves": [...]}``).

Odd encodings seen in real CNA records are normalised here and noted on the range: curl's
``version == lessThan`` pairs, ``versionType: git`` on release numbers, free text such as
``">= 4.0.0, <= 4.1.0"``, ``n/a`` vendors, products and versions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ...catalog import parse_cpe
from ...errors import FeedError
from ..ranges import looks_like_version, parse_free_text, release_key
from ..records import AffectedRange, Cvss, Vulnerability
from .common import (
    PLACEHOLDERS,
    as_dict,
    as_list,
    bounded,
    checked,
    cvss,
    english,
    not_text,
    references,
    summary,
    text,
    weaknesses,
)

_NO_LOWER = {"*", "0", "0.0", "0.0.0", "unspecified", "n/a", ""}
_GITHUB_RE = re.compile(r"^https?://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def probe(doc: Mapping[str, Any]) -> Iterable[Any] | None:
    """The records of a CVE 5 record or bundle; ``None`` when ``doc`` is neither."""
    if doc.get("dataType") == "CVE_RECORD" or ("cveMetadata" in doc and "containers" in doc):
        return [doc]
    cves = doc.get("cves")
    if isinstance(cves, list):
        return cves
    return None


def record_key(raw: Mapping[str, Any]) -> tuple[Any, Any]:
    """``cveMetadata.cveId`` and the newest of its update, publication and reservation dates."""
    meta = raw["cveMetadata"]
    return meta["cveId"], meta.get("dateUpdated") or meta.get("datePublished") or meta.get("dateReserved")


def _versions(block: Mapping[str, Any], base: dict[str, Any]) -> list[AffectedRange]:
    default = text(block.get("defaultStatus"), 20)
    base = {**base, "default_status": default}
    versions = [v for v in as_list(block.get("versions")) if isinstance(v, Mapping)]
    if not versions:
        if default == "affected":
            return [AffectedRange(**base, text="defaultStatus affected, no versions listed")]
        return [AffectedRange(**base, unknown=True, note="no versions listed", text="")]
    out: list[AffectedRange] = []
    for v in versions:
        status = "unaffected" if v.get("status") == "unaffected" else "affected"
        if v.get("status") == "unknown":
            continue
        bad = not_text(v, ("version", "lessThan", "lessThanOrEqual"))
        if bad:
            out.append(AffectedRange(**base, status=status, unknown=True, problem=bad, note=bad,
                                     text=str(dict(v))[:200]))
            continue
        ver = text(v.get("version"), 200) or ""
        lt, le = text(v.get("lessThan"), 200), text(v.get("lessThanOrEqual"), 200)
        vtype = text(v.get("versionType"), 40) or ""
        shown = ver + (f" ..< {lt}" if lt else "") + (f" ..<= {le}" if le else "") + (f" ({vtype})" if vtype else "")
        notes = []
        if vtype == "git":
            notes.append("versionType git read as release numbers")
        kw: dict[str, Any] = {**base, "status": status, "text": shown}
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
        elif ver.lower() in PLACEHOLDERS:
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


def _blocks(container: Mapping[str, Any], origin: str) -> list[AffectedRange]:
    out: list[AffectedRange] = []
    for block in as_list(container.get("affected")):
        if not isinstance(block, Mapping):
            continue
        vendor, product = text(block.get("vendor")), text(block.get("product"))
        if vendor and vendor.lower() in PLACEHOLDERS:
            vendor = None
        if product and product.lower() in PLACEHOLDERS:
            product = None
        package = text(block.get("packageName"))
        purl = None
        m = _GITHUB_RE.match(text(block.get("repo"), 300) or "")
        if m:
            purl = f"pkg:github/{m.group(1).lower()}/{m.group(2).lower()}"
        cpes: list[str | None] = []
        for c in as_list(block.get("cpes")):
            parsed = parse_cpe(c) if isinstance(c, str) else None
            if parsed and f"{parsed[1]}:{parsed[2]}" not in cpes:
                cpes.append(f"{parsed[1]}:{parsed[2]}")
        if not (vendor or product or package or purl or cpes):
            out.append(AffectedRange(origin=origin, unknown=True, note="vendor/product n/a", text="n/a"))
            continue
        for cpe in cpes or [None]:
            base = {"origin": origin, "vendor": vendor, "product": product, "package": package,
                    "purl": purl, "cpe": cpe}
            out.extend(_versions(block, base))
    return out


def _metrics(container: Mapping[str, Any], source: str) -> tuple[list[Cvss], bool]:
    found: list[Cvss] = []
    kev = False
    for m in as_list(container.get("metrics")):
        if not isinstance(m, Mapping):
            continue
        for key, version in (("cvssV4_0", "4.0"), ("cvssV3_1", "3.1"), ("cvssV3_0", "3.0"), ("cvssV2_0", "2.0")):
            if isinstance(m.get(key), Mapping):
                c = cvss(version, m[key], source)
                if c:
                    found.append(c)
        other = as_dict(m.get("other"))
        if str(other.get("type", "")).lower() == "kev":
            kev = True
    return found, kev


def parse(raw: Mapping[str, Any]) -> Vulnerability:
    """A CVE JSON 5.x record (``dataType: CVE_RECORD``)."""
    meta = as_dict(raw.get("cveMetadata"))
    rid = text(meta.get("cveId"), 90)
    if not rid:
        raise FeedError("CVE 5 record without cveMetadata.cveId")
    containers = as_dict(raw.get("containers"))
    cna = as_dict(containers.get("cna"))
    adps = [a for a in as_list(containers.get("adp")) if isinstance(a, Mapping)]
    rejected = str(meta.get("state", "")).upper() == "REJECTED"
    if not cna and not rejected:
        raise FeedError("CVE 5 record without containers.cna", source=rid)
    description = english(cna.get("descriptions") or cna.get("rejectedReasons"))
    affected = _blocks(cna, "cve5:cna")
    scores, kev = _metrics(cna, "cna")
    cwe_pairs: list[tuple[Any, Any]] = []
    urls: list[Any] = []
    for container in (cna, *adps):
        for pt in as_list(container.get("problemTypes")):
            for d in as_list(as_dict(pt).get("descriptions")):
                cwe_pairs.append((as_dict(d).get("cweId"), as_dict(d).get("description")))
        urls.extend(as_dict(r).get("url") for r in as_list(container.get("references")))
    cwes, cwe_names = weaknesses(cwe_pairs)
    for adp in adps:
        title = text(as_dict(adp.get("providerMetadata")).get("shortName"), 40) or "adp"
        affected.extend(_blocks(adp, "cve5:adp"))
        more, adp_kev = _metrics(adp, title)
        scores.extend(more)
        kev = kev or adp_kev
    bounded(affected, rid)
    affected = checked(affected)
    return Vulnerability(
        id=rid, summary=summary(text(cna.get("title")), description), description=description,
        published=text(meta.get("datePublished"), 40), modified=text(meta.get("dateUpdated"), 40),
        cvss=tuple(scores), cwes=cwes, kev=kev, affected=tuple(affected),
        sources=(f"cve5:{rid}",), withdrawn=rejected, references=references(urls), cwe_names=cwe_names)
