"""The audit document (schema ``ecuscan/audit/v1``): the same facts every renderer shows.

Built from an :class:`ecuscan.audit.AuditRun`; written as ``report.json`` and rendered to
HTML (:mod:`ecuscan.report.html`), SARIF (:mod:`ecuscan.report.sarif`) and the terminal
summary. The shape is documented in ``docs/audit-json.md``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..audit import AuditRun, FirmwareAudit, policy_failures
from ..errors import EcuscanError
from ..graph.build import NodeKind, node_id
from ..graph.export import to_svg
from ..model import ScanResult

SCHEMA = "ecuscan/audit/v1"
SEVERITIES = ("critical", "high", "medium", "low", "unknown")


def _component(c: Any) -> dict[str, Any]:
    d: dict[str, Any] = c.to_dict()
    d["evidence"] = d["evidence"][:8]
    return d


def _best_evidence(found: Sequence[Any]) -> Any:
    """The evidence a reader understands best: a version string, else the most confident readable one."""
    evidence = [e for c in found for e in c.evidence]
    if not evidence:
        return None

    def readable(e: Any) -> bool:
        text = e.text or e.detail
        return bool(text) and sum(ch.isprintable() and ch != "\\" for ch in text) >= 0.9 * len(text)

    return max(evidence, key=lambda e: (e.method.value == "version-string", readable(e), e.confidence))


def _firmware(fw: FirmwareAudit) -> dict[str, Any]:
    base: dict[str, Any] = {"ecu": fw.ecu_id, "path": fw.path, "role": fw.role, "version": fw.version,
                            "error": fw.error, "sbom_files": list(fw.sbom_files), "reconciliation": None}
    r: ScanResult | None = fw.result
    if r is not None:
        p = r.provenance
        base.update({
            "sha256": r.sha256, "format": r.format.value, "arch": r.arch, "size": r.size,
            "build_id": p.build_id, "stripped": p.stripped, "has_dwarf": p.has_dwarf,
            "toolchains": sorted({f"{t.name} {t.version or ''}".strip() for t in p.toolchains}),
            "build_paths": list(p.build_paths[:20]), "users": list(p.users), "hosts": list(p.hosts),
            "certificates": [{"kind": c.kind, "subject": c.subject, "offset": c.offset} for c in p.certificates],
            "metadata": dict(r.metadata),
            "components": [_component(c) for c in r.components],
            "diagnostics": [d.to_dict() for d in r.diagnostics],
        })
    else:
        base.update({"components": [], "diagnostics": [], "toolchains": [], "build_paths": [],
                     "certificates": []})
    rec = fw.reconciliation
    if rec is not None:
        rows = []
        for status, items in (("undeclared", rec.undeclared), ("version_mismatch", rec.version_mismatch),
                              ("unconfirmed", rec.unconfirmed), ("matched", rec.matched)):
            for item in items:
                ev = _best_evidence(item.found)
                where = f"{ev.method.value} @0x{ev.offset:x} {ev.text}" if ev and ev.offset is not None else (
                    f"{ev.method.value} {ev.text or ev.detail}" if ev else "")
                rows.append({"status": status, "component": item.name,
                             "found": ", ".join(item.found_versions) or ("present" if item.found else ""),
                             "declared": ", ".join(item.declared_versions) or ("listed" if item.declared else ""),
                             "evidence": where[:160],
                             "detectable": item.detectable})
        base["reconciliation"] = {"declared": fw.declared_sbom, "completeness": rec.completeness,
                                  "passed": rec.passed, "rows": rows, "detail": rec.to_dict()}
    return base


def _bench(run: AuditRun) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    per_ecu: dict[str, dict[str, Any]] = {}
    if run.bench is None:
        return per_ecu, {"summary": f"bench check: {run.bench_mode}", "mode": run.bench_mode, "checks": []}
    from ..bench.dids import STANDARD_DIDS

    by_ecu: dict[str, list[Any]] = defaultdict(list)
    for ecu_id in run.ecu_verdicts:  # an ECU with nothing to compare has no check but a verdict (PARTIAL)
        by_ecu[ecu_id] = []
    for c in run.bench.checks:
        by_ecu[c.ecu_id].append(c)
    for ecu_id, checks in by_ecu.items():
        # the per-ECU verdict is the audit's (VERIFIED only when every expected item matched)
        verdict = run.ecu_verdicts[ecu_id].value if ecu_id in run.ecu_verdicts else "PARTIAL"
        status = verdict.lower()
        rows = []
        for c in checks:
            o = c.observation
            spec = STANDARD_DIDS.get(o.item) if o.kind.value == "did" else None
            rows.append({"did": o.label, "name": spec.name if spec else "", "expected": c.expected,
                         "observed": o.value, "verdict": c.verdict.value,
                         "detail": o.detail or (f"NRC 0x{o.nrc:02X}" if o.nrc is not None else ""),
                         "request": o.exchange.request.hex(" ").upper(),
                         "response": " | ".join(r.hex(" ").upper() for r in o.exchange.responses)})
        per_ecu[ecu_id] = {"status": status, "verdict": verdict, "verdicts": rows}
    counts = Counter(v["status"] for v in per_ecu.values())
    summary = (f"{len(per_ecu)} ECU(s) checked ({run.bench_mode}) in {run.bench.duration_s:.2f} s: "
               + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return per_ecu, {"summary": summary, "mode": run.bench_mode, "duration_s": round(run.bench.duration_s, 3),
                     "log": run.bench_log, "checks": [c.to_dict() for c in run.bench.checks]}


def _ecus_by_firmware(run: AuditRun) -> dict[str, set[str]]:
    """Firmware path -> the ECUs that run it."""
    out: dict[str, set[str]] = defaultdict(set)
    for fw in run.firmware:
        out[fw.path].add(fw.ecu_id)
    return out


def _vulns(run: AuditRun) -> list[dict[str, Any]]:
    topo_ecus = _ecus_by_firmware(run)
    vehicles_of: dict[str, set[str]] = defaultdict(set)
    for v in run.manifest.vehicles:
        for e in v.ecus:
            vehicles_of[e].add(v.id)
    out = []
    for f in run.findings:
        if f.status.value == "not-affected" and f.suppressed_by is None:
            continue
        ecus = sorted(topo_ecus.get(f.firmware_path or "", set()))
        out.append({
            "id": f.vuln_id, "severity": f.severity.value if f.severity else "unknown",
            "score": f.cvss.score if f.cvss else None, "component": f.component_id,
            "version": f.component_version, "purl": f.component_purl, "status": f.status.value,
            "exposed": f.exposed, "firmware": [f.firmware_path], "ecus": ecus,
            "vehicles": sorted({v for e in ecus for v in vehicles_of[e]}),
            "range": "; ".join(m.range for m in f.matched_by),
            "matched_by": "; ".join(f"{m.record} ({m.key})" for m in f.matched_by),
            "suppressed": f.suppressed_by is not None,
            "justification": (f.suppressed_by.justification or f.suppressed_by.status.value)
            if f.suppressed_by else None,
            "summary": (f.summary or "")[:400], "cwes": list(f.cwes), "kev": f.kev,
        })
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    out.sort(key=lambda d: (not d["exposed"], rank.get(d["severity"], 9), d["id"], d["component"]))
    return out


def _drift(run: AuditRun) -> list[dict[str, Any]]:
    rows = []
    for fw in run.firmware:
        d = fw.release_diff
        if d is None:
            continue
        where = f"{fw.ecu_id}: {Path(fw.previous or '').name} → {Path(fw.path).name}"
        for c in d.added:
            rows.append({"firmware": where, "severity": "info",
                         "message": f"component added: {c.name} {c.version or '?'}"})
        for c in d.removed:
            rows.append({"firmware": where, "severity": "info",
                         "message": f"component removed: {c.name} {c.version or '?'}"})
        for ch in d.changed:
            rows.append({"firmware": where, "severity": "info",
                         "message": f"{ch.name}: {ch.old_version or '?'} → {ch.new_version or '?'}"})
        for ind in d.indicators:
            rows.append({"firmware": where, "severity": ind.severity.value, "message": ind.message,
                         "kind": ind.kind.value})
    return rows


def _supplier_chain(run: AuditRun, supplier_id: str) -> list[str]:
    """The ECU supplier and everyone upstream of it, one entry per sourcing level (BFS depth):
    ``["ACME (tier 1)", "NetStack (tier 2), SecureComm (tier 2)", ...]``; cycles are cut."""
    levels: list[str] = []
    seen: set[str] = set()
    frontier = [supplier_id]
    while frontier and len(levels) < 20:
        names = []
        nxt: list[str] = []
        for sid in frontier:
            if sid in seen:
                continue
            seen.add(sid)
            sup = run.manifest.supplier(sid)
            names.append(f"{sup.name or sid} (tier {sup.tier})" if sup else sid)
            if sup:
                nxt.extend(x for x in sup.sources_from if x not in seen)
        if names:
            levels.append(", ".join(names))
        frontier = sorted(set(nxt))
    return levels


def audit_document(run: AuditRun, fail_on: Sequence[str]) -> dict[str, Any]:
    """The JSON-ready audit document."""
    firmware = [_firmware(fw) for fw in run.firmware]
    bench_by_ecu, bench = _bench(run)
    vulns = _vulns(run)
    exposed = [v for v in vulns if v["exposed"]]
    reasons = policy_failures(run, fail_on)

    fw_of: dict[str, list[dict[str, Any]]] = defaultdict(list)  # one pass: 10,000 ECUs x 10,000 firmware was quadratic
    for f in firmware:
        fw_of[f["ecu"]].append(f)
    ecus = []
    for e in run.manifest.ecus:
        ecus.append({"id": e.id, "name": e.name, "supplier": e.supplier,
                     "hardware_part_number": e.hardware_part_number, "criticality": e.criticality,
                     "supplier_chain": _supplier_chain(run, e.supplier),
                     "firmware": fw_of.get(e.id, []),
                     "bench": bench_by_ecu.get(e.id)})

    supplier_findings: dict[str, int] = {}
    if run.impact is not None:
        supplier_findings = {s: len(v) for s, v in run.impact.by_supplier.items()}
    suppliers: list[dict[str, Any]] = []
    for s in run.manifest.suppliers:
        from ..graph.queries import exposure

        ecu_ids: list[str] = []
        n_comp = 0
        if run.graph is not None:
            try:
                ex = exposure(run.graph, s.id)
                ecu_ids = sorted(n.split(":", 1)[1] for n in ex.ecus)
                n_comp = len(ex.components)
            except EcuscanError:  # a supplier missing from the graph has no exposure
                ecu_ids, n_comp = [], 0
        suppliers.append({"id": s.id, "name": s.name or s.id, "tier": s.tier, "ecus": ecu_ids,
                          "components": n_comp, "findings": supplier_findings.get(s.id, 0)})

    from ..vulns.impact import finding_key

    key_ecus: dict[str, list[str]] = {}
    fw_ecus = _ecus_by_firmware(run)
    for f in run.findings:
        if f.exposed:
            key_ecus[finding_key(f)] = sorted(fw_ecus.get(f.firmware_path or "", set()))
    vehicles = []
    for v in run.manifest.vehicles:
        v_fw = [f for e in v.ecus for f in fw_of.get(e, [])]
        statuses = Counter((bench_by_ecu.get(e) or {}).get("status", "not-checked") for e in v.ecus)
        comps = {(c["id"], c["version"]) for f in v_fw for c in f["components"] if c["relation"] == "contains"}
        undeclared = {r["component"] for f in v_fw if f["reconciliation"]
                      for r in f["reconciliation"]["rows"] if r["status"] == "undeclared"}
        vuln_comps: dict[str, set[str]] = {s: set() for s in SEVERITIES}
        exposed_ecus: set[str] = set()
        for x in exposed:
            if v.id in x["vehicles"]:
                vuln_comps[x["severity"]].add(f"{x['component']}@{x['version']}")
                exposed_ecus.update(e for e in x["ecus"] if e in v.ecus)
        # suppliers of this vehicle's ECUs, ranked by the exposed findings they delivered into it
        in_vehicle = {k for k, ecus_of_key in key_ecus.items() if set(ecus_of_key) & set(v.ecus)}
        ranked: list[dict[str, Any]] = []
        for sup in suppliers:
            shared = set(sup["ecus"]) & set(v.ecus)
            if not shared:
                continue
            count = len(in_vehicle & set(run.impact.by_supplier.get(sup["id"], ()))) if run.impact is not None else 0
            ranked.append({"id": sup["id"], "name": sup["name"], "findings": count, "ecus": len(shared)})
        top = sorted(ranked, key=lambda r: (-r["findings"], -r["ecus"], r["id"]))[:3]
        vehicles.append({"id": v.id, "name": v.name, "ecus": list(v.ecus), "rxswin": list(v.rxswin),
                         "summary": {"ecus": len(v.ecus), "verified": statuses["verified"],
                                     "drifted": statuses["drifted"], "unreachable": statuses["unreachable"],
                                     "missing": statuses["missing"], "not_checked": statuses["not-checked"],
                                     "partial": statuses["partial"],
                                     "components": len(comps), "undeclared": len(undeclared),
                                     "vulnerable_components": {s: len(c) for s, c in vuln_comps.items()},
                                     "exposed_ecus": sorted(exposed_ecus),
                                     "top_suppliers": [{"id": s["id"], "name": s["name"],
                                                        "findings": s["findings"]} for s in top]}})

    graph: dict[str, Any] = {"svg": None, "nodes": 0, "edges": 0, "warnings": []}
    if run.graph is not None:
        g = run.graph
        highlight: set[str] = set()
        for x in exposed:
            for node in g.nodes_of(NodeKind.COMPONENT):
                attrs = g.attrs(node)
                if node == node_id(NodeKind.COMPONENT, x["purl"]) or (
                        attrs.get("key") == x["component"] and attrs.get("version") in ("", x["version"])):
                    highlight.add(node)
        graph = {"svg": to_svg(g, highlight=highlight, title=run.manifest.name), "nodes": g.graph.number_of_nodes(),
                 "edges": g.graph.number_of_edges(), "warnings": list(g.warnings)}

    incomplete = [i.to_dict() for i in run.incomplete]
    return {
        # "failed": the --fail-on policy failed; "incomplete": nothing failed but something could not
        # be checked (the "incomplete" list says what); "passed": everything asked for was checked and held
        "status": "failed" if reasons else ("incomplete" if incomplete else "passed"),
        "incomplete": incomplete,
        "undeclared_sources": [u.to_dict() for u in run.undeclared_sources],
        "schema": SCHEMA, "generated": run.generated.isoformat(timespec="seconds"),
        "ecuscan_version": __version__,
        "manifest": {"name": run.manifest.name, "path": run.manifest_path},
        "policy": {"fail_on": sorted(fail_on), "failed": bool(reasons), "reasons": reasons},
        "vehicles": vehicles, "ecus": ecus, "suppliers": suppliers, "vulnerabilities": vulns,
        "vulnerability_records": run.n_vulnerabilities,
        "impact": run.impact.to_dict() if run.impact is not None else None,
        "bench": bench, "graph": graph, "drift": _drift(run),
        "errors": [{"source": s, "message": m} for s, m in run.errors],
        "outputs": dict(run.outputs),
    }


def write_reports(run: AuditRun, outdir: Path, fail_on: Sequence[str]) -> dict[str, Any]:
    """Write ``report.json``, ``report.html`` and ``report.sarif`` into ``outdir``; return the document."""
    from .html import render_html
    from .sarif import audit_sarif

    run.outputs.update({"json": "report.json", "html": "report.html", "sarif": "report.sarif",
                        "sboms": list(dict.fromkeys(s for fw in run.firmware for s in fw.sbom_files)),
                        "bus_log": run.bench_log})
    doc = audit_document(run, fail_on)
    (outdir / "report.json").write_text(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False), "utf-8")
    (outdir / "report.html").write_text(render_html(doc), "utf-8")
    (outdir / "report.sarif").write_text(json.dumps(audit_sarif(run, doc), indent=2, ensure_ascii=False), "utf-8")
    return doc
