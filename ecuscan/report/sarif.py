"""SARIF 2.1.0 for an audit: vulnerability findings plus bench drift and undeclared components.

Vulnerability results come from :func:`ecuscan.vulns.sarif.to_sarif`; this adds one run
result per drifted ECU identification and per undeclared component, so a code-scanning UI
shows every policy-relevant fact of the audit.
"""

from __future__ import annotations

from typing import Any

from ..audit import AuditRun
from ..vulns.sarif import to_sarif
from .markdown import finding_markdown
from .values import cell, flaw


def _rule(rule_id: str, name: str, text: str, level: str) -> dict[str, Any]:
    return {"id": rule_id, "name": name, "shortDescription": {"text": text},
            "defaultConfiguration": {"level": level}}


def help_markdown(f: dict[str, Any]) -> str:
    """What a code-scanning UI shows for a finding: the flaw, the fix, the path, the triage."""

    return finding_markdown(f)


def _finding_properties(f: dict[str, Any]) -> dict[str, Any]:
    cvss = f.get("cvss") or {}
    props = {"description": f.get("description") or f.get("summary"), "fixedIn": f.get("fixed"),
             "matchedRange": f.get("range"), "cwes": f.get("cwes", []), "cvssVector": cvss.get("vector"),
             "cvssScore": cvss.get("score"), "cvssVersion": cvss.get("version"),
             "supplyChain": f.get("path", []), "vex": f.get("vex"), "references": f.get("references", []),
             "ecus": f.get("ecus", []), "vehicles": f.get("vehicles", [])}
    for key in ("rule", "decided_by"):
        if f.get(key) is not None:
            props[key] = f[key]
    return {k: v for k, v in props.items() if v not in (None, [], "")}


def _enrich(sarif_run: dict[str, Any], doc: dict[str, Any]) -> None:
    """Rules get the whole description and a Markdown help; results the actionable fields."""
    by_id: dict[str, dict[str, Any]] = {}
    by_result: dict[tuple[str, str, str], dict[str, Any]] = {}
    for f in doc.get("vulnerabilities", []):
        by_id.setdefault(f["id"], f)
        for fw in f.get("firmware") or [None]:
            by_result[f["id"], f.get("purl") or "", (fw or "unknown").split("!")[0]] = f
    for rule in sarif_run["tool"]["driver"].get("rules", []):
        f = by_id.get(rule["id"])
        if f is None:
            continue

        text = f.get("description") or f.get("summary") or rule["id"]
        rule["shortDescription"] = {"text": flaw(text, 1000)}
        rule["fullDescription"] = {"text": text}
        rule["help"] = {"text": text, "markdown": help_markdown(f)}
        rule.setdefault("properties", {}).update({k: v for k, v in _finding_properties(f).items()
                                                  if k in ("cwes", "cvssVector", "cvssScore", "references")})
    for res in sarif_run.get("results", []):
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        f = by_result.get((res["ruleId"], res.get("properties", {}).get("component", ""), uri))
        if f is not None:
            res.setdefault("properties", {}).update(_finding_properties(f))


def audit_sarif(run: AuditRun, doc: dict[str, Any]) -> dict[str, Any]:
    """The SARIF log of an audit."""

    log = to_sarif(run.findings)
    sarif_run = log["runs"][0]
    _enrich(sarif_run, doc)
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
                    "message": {"text": f"ECU {ecu['id']} DID {v['did']}: expected '{cell(v['expected'])}', "
                                        f"observed '{cell(v['observed'])}' ({v['verdict']})"},
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
