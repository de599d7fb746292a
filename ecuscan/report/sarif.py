"""SARIF 2.1.0 for an audit: vulnerability findings plus bench drift and undeclared components.

Vulnerability results come from :func:`ecuscan.vulns.sarif.to_sarif`; this adds one run
result per drifted ECU identification and per undeclared component, so a code-scanning UI
shows every policy-relevant fact of the audit.
"""

from __future__ import annotations

from typing import Any

from ..audit import AuditRun


def _rule(rule_id: str, name: str, text: str, level: str) -> dict[str, Any]:
    return {"id": rule_id, "name": name, "shortDescription": {"text": text},
            "defaultConfiguration": {"level": level}}


def audit_sarif(run: AuditRun, doc: dict[str, Any]) -> dict[str, Any]:
    """The SARIF log of an audit."""
    from ..vulns.sarif import to_sarif

    log = to_sarif(run.findings)
    sarif_run = log["runs"][0]
    rules = sarif_run["tool"]["driver"].setdefault("rules", [])
    results = sarif_run.setdefault("results", [])
    extra_rules = {
        "ECUSCAN-BENCH-DRIFT": _rule("ECUSCAN-BENCH-DRIFT", "BenchIdentificationDrift",
                                    "An ECU on the bench reports identification that differs from the analysed release",
                                    "error"),
        "ECUSCAN-SBOM-UNDECLARED": _rule("ECUSCAN-SBOM-UNDECLARED", "UndeclaredComponent",
                                         "A component found in the binary is missing from the supplier SBOM",
                                         "warning"),
    }
    used: set[str] = set()
    for ecu in doc["ecus"]:
        bench = ecu.get("bench") or {}
        for v in bench.get("verdicts", []):
            if v["verdict"] in ("MISMATCH", "INVALID"):
                used.add("ECUSCAN-BENCH-DRIFT")
                results.append({
                    "ruleId": "ECUSCAN-BENCH-DRIFT", "level": "error",
                    "message": {"text": f"ECU {ecu['id']} DID {v['did']}: expected {v['expected']!r}, "
                                        f"observed {v['observed']!r} ({v['verdict']})"},
                    "locations": [{"logicalLocations": [{"name": ecu["id"], "kind": "module"}]}],
                    "properties": {"request": v["request"], "response": v["response"]}})
        for fw in ecu["firmware"]:
            rec = fw.get("reconciliation")
            if not rec:
                continue
            for row in rec["rows"]:
                if row["status"] != "undeclared":
                    continue
                used.add("ECUSCAN-SBOM-UNDECLARED")
                results.append({
                    "ruleId": "ECUSCAN-SBOM-UNDECLARED", "level": "warning",
                    "message": {"text": f"{row['component']} {row['found']} is in {fw['path']} but not in the "
                                        f"supplier SBOM {rec['declared']} (evidence: {row['evidence']})"},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": fw["path"]}}}]})
    rules.extend(extra_rules[r] for r in sorted(used))
    _incomplete_notifications(sarif_run, doc)
    return log


def _incomplete_notifications(sarif_run: dict[str, Any], doc: dict[str, Any]) -> None:
    """One tool-execution notification per stage that could not check (SARIF 2.1.0 section 3.20.21);
    ``executionSuccessful`` is false then, so a code-scanning UI never shows an incomplete run as clean."""
    items = doc.get("incomplete") or []
    invocations = sarif_run.setdefault("invocations", [{}])
    inv = invocations[0]
    inv["executionSuccessful"] = not items
    if not items:
        return
    notes = inv.setdefault("toolExecutionNotifications", [])
    for it in items:
        notes.append({"level": "error", "descriptor": {"id": f"ECUSCAN-INCOMPLETE-{it['stage'].upper()}"},
                      "message": {"text": f"INCOMPLETE: {it['stage']}: {it['source']}: {it['reason']}"},
                      "properties": {"stage": it["stage"], "source": it["source"]}})
