"""SARIF 2.1.0 output of findings, for code-scanning UIs.

One rule per vulnerability (id, summary, CWE tags, ``security-severity`` for GitHub), one
result per exposed or suppressed finding, located at the firmware file (the component's
evidence offset goes into the message and properties: SARIF regions are text-oriented).
VEX-suppressed findings carry a SARIF ``suppressions`` entry with the justification, as do
findings a distribution advisory marks fixed (when they are included). Every result names
the rule that decided it (``properties.rule``, ``decidedBy``, ``decision``).
Written as plain JSON: the object model is small and no maintained SARIF writer library
is on our dependency list (sarif-om is unmaintained since 2019).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import __version__
from .records import Finding, FindingStatus, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
          Severity.LOW: "note", Severity.NONE: "note"}


def _uri(path: str | None) -> str:
    p = (path or "unknown").split("!")[0]
    return p.replace("\\", "/")


def to_sarif(findings: Iterable[Finding], *, include_not_affected: bool = False) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run of ecuscan."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for f in findings:
        if (f.status is FindingStatus.NOT_AFFECTED and not include_not_affected and f.suppressed_by is None
                and f.rule != "distro-advisory"):
            continue  # (fixed by the distribution: kept, as a suppressed result that names the advisory)
        if f.vuln_id not in rules:
            rule: dict[str, Any] = {
                "id": f.vuln_id, "name": f.vuln_id.replace("-", ""),
                "shortDescription": {"text": (f.summary or f.vuln_id)[:200]},
                "helpUri": f"https://www.cve.org/CVERecord?id={f.vuln_id}" if f.vuln_id.startswith("CVE-")
                else f"https://osv.dev/vulnerability/{f.vuln_id}",
                "properties": {"tags": ["security", "vulnerability", *f.cwes]}}
            if f.cvss and f.cvss.score is not None:
                rule["properties"]["security-severity"] = f"{f.cvss.score:.1f}"
            rules[f.vuln_id] = rule
        level = _LEVEL.get(f.severity, "warning") if f.severity else "warning"
        if f.status is FindingStatus.UNKNOWN_RANGE:
            level = "warning" if level == "error" else level
        if f.status in (FindingStatus.NOT_AFFECTED, FindingStatus.FIXED):
            level = "none"
        how = "; ".join(f"{m.record} {m.range} via {m.key}" for m in f.matched_by)
        res: dict[str, Any] = {
            "ruleId": f.vuln_id, "level": level,
            "message": {"text": f"{f.component_purl} is {f.status.value} by {f.vuln_id} ({how}). "
                                f"Decided by {f.rule}: {f.decision or f.decided_by}. "
                                f"Evidence: {f.evidence}"[:2000]},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(f.firmware_path)}},
                           "logicalLocations": [{"name": f.component_purl, "kind": "module"}]}],
            "partialFingerprints": {"ecuscan/v1": f"{f.vuln_id}|{f.component_purl}|{f.firmware_sha256 or ''}"},
            "properties": {"status": f.status.value, "component": f.component_purl,
                           "firmwareSha256": f.firmware_sha256, "kev": f.kev,
                           "matchedBy": [m.to_dict() for m in f.matched_by],
                           "rule": f.rule, "decidedBy": f.decided_by, "justification": f.justification,
                           "decision": f.decision, "package": f.package_purl}}
        if f.suppressed_by is None and f.rule == "distro-advisory" and f.status is FindingStatus.NOT_AFFECTED:
            res["suppressions"] = [{"kind": "external", "status": "accepted",
                                    "justification": f"{f.justification}: {f.decision}"[:1000]}]
        if f.suppressed_by is not None:
            s = f.suppressed_by
            res["suppressions"] = [{"kind": "external", "status": "accepted",
                                    "justification": (f"VEX {s.status.value}: {s.justification or s.impact or ''}"
                                                      f" ({s.source})")[:1000]}]
        results.append(res)
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "ecuscan", "version": __version__,
                            "rules": list(rules.values())}},
        "results": results}]}
