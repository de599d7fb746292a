"""NVD CVE API 2.0: a response page (``vulnerabilities[].cve``), a feed file (``cve_items``),
a ``{"cve": {...}}`` wrapper or a single ``cve`` object.

Version statements come from the CPE match criteria of the configurations (``versionStart*`` /
``versionEnd*`` bounds, or the CPE's own version; NVD ``-`` means no version range). Hardware
CPEs and negated nodes are left out; an AND configuration's platform condition is noted, not
evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ...catalog import parse_cpe
from ...errors import FeedError
from ..ranges import looks_like_version
from ..records import AffectedRange, Cvss, Vulnerability
from .common import as_dict, as_list, bounded, checked, cvss, english, not_text, references, summary, text, weaknesses


def probe(doc: Mapping[str, Any]) -> Iterable[Any] | None:
    """The ``cve`` objects ``doc`` holds in any of the NVD shapes; ``None`` when it is none of them."""
    if isinstance(doc.get("vulnerabilities"), list) and doc.get("format", "NVD_CVE") == "NVD_CVE":
        return (item.get("cve") if isinstance(item, Mapping) else item for item in doc["vulnerabilities"])
    items = doc.get("cve_items")
    if isinstance(items, list):
        return items
    if "configurations" in doc or ("sourceIdentifier" in doc and "lastModified" in doc):
        return [doc]
    if isinstance(doc.get("cve"), Mapping) and "id" in doc["cve"]:
        return [doc["cve"]]
    return None


def record_key(raw: Mapping[str, Any]) -> tuple[Any, Any]:
    """``id`` and ``lastModified`` (else ``published``)."""
    return raw["id"], raw.get("lastModified") or raw.get("published")


def _match(m: Mapping[str, Any], conditional: bool) -> AffectedRange | None:
    criteria = text(m.get("criteria"), 300)
    if not criteria or not m.get("vulnerable", False):
        return None
    parts = re.split(r"(?<!\\):", criteria)
    parsed = parse_cpe(criteria)
    if parsed is None or len(parts) < 7:
        return None
    part, vendor, product = parsed
    version = parts[5].replace("\\", "")
    update = parts[6].replace("\\", "")
    bounds = {k: text(m.get(k), 100) for k in ("versionStartIncluding", "versionStartExcluding",
                                                "versionEndIncluding", "versionEndExcluding")}
    base: dict[str, Any] = {"origin": "nvd", "vendor": vendor, "product": product,
                            "cpe": f"{vendor}:{product}", "text": criteria,
                            "note": "AND configuration: platform condition not evaluated" if conditional else ""}
    if part == "h":
        return None
    bad = not_text(m, bounds)
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


def parse(raw: Mapping[str, Any]) -> Vulnerability:
    """An NVD CVE API 2.0 ``cve`` object."""
    rid = text(raw.get("id"), 90)
    if not rid:
        raise FeedError("NVD record without id")
    affected: list[AffectedRange] = []
    for conf in as_list(raw.get("configurations")):
        nodes = [n for n in as_list(as_dict(conf).get("nodes")) if isinstance(n, Mapping)]
        conditional = str(as_dict(conf).get("operator", "")).upper() == "AND" and len(nodes) > 1
        for node in nodes:
            if node.get("negate"):
                continue
            for m in as_list(node.get("cpeMatch")):
                if isinstance(m, Mapping):
                    r = _match(m, conditional)
                    if r is not None:
                        affected.append(r)
    bounded(affected, rid)
    affected = checked(affected)
    # NVD's copied "affected" block (the CNA's, usually "n/a") adds nothing to configurations.
    metrics = as_dict(raw.get("metrics"))
    scores: list[Cvss] = []
    for key, version in (("cvssMetricV40", "4.0"), ("cvssMetricV31", "3.1"), ("cvssMetricV30", "3.0"),
                         ("cvssMetricV2", "2.0")):
        entries = [e for e in as_list(metrics.get(key)) if isinstance(e, Mapping)]
        entries.sort(key=lambda e: e.get("type") != "Primary")
        for e in entries[:1]:
            c = cvss(version, as_dict(e.get("cvssData")), str(e.get("source", "nvd"))[:60], e.get("baseSeverity"))
            if c:
                scores.append(c)
    # NVD weaknesses carry ids only ("CWE-787", "NVD-CWE-noinfo"): names come from other records
    cwes, cwe_names = weaknesses((None, d.get("value")) for w in as_list(raw.get("weaknesses"))
                                 for d in as_list(as_dict(w).get("description")) if isinstance(d, Mapping))
    description = english(raw.get("descriptions"))
    return Vulnerability(
        id=rid, summary=summary(None, description), description=description,
        published=text(raw.get("published"), 40), modified=text(raw.get("lastModified"), 40),
        cvss=tuple(scores), cwes=cwes, kev=bool(raw.get("cisaExploitAdd")), affected=tuple(affected),
        sources=(f"nvd:{rid}",), withdrawn=str(raw.get("vulnStatus", "")).lower() == "rejected",
        references=references(as_dict(r).get("url") for r in as_list(raw.get("references"))), cwe_names=cwe_names)
