"""The audit document (schema ``ecuscan/audit/v1``): the same facts every renderer shows.

Built from an :class:`ecuscan.audit.AuditRun`; written as ``report.json`` and rendered to
HTML (:mod:`ecuscan.report.html`), SARIF (:mod:`ecuscan.report.sarif`) and the terminal
summary. The shape is documented in ``docs/audit-json.md``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..audit import AuditRun, FirmwareAudit, policy_failures
from ..audit_summary import AuditSummary, summarize
from ..bench.dids import STANDARD_DIDS
from ..jsontext import dumps_indented
from ..model import ScanResult
from ..vulns.impact import finding_key
from .html import render_html
from .markdown import render_markdown
from .sarif import audit_sarif
from .values import evidence_line

SCHEMA = "ecuscan/audit/v1"
SEVERITIES = ("critical", "high", "medium", "low", "unknown")


def _summary(run: AuditRun) -> AuditSummary:
    """The run's precomputed conclusions (computed here only for a run not made by run_audit)."""
    summary = getattr(run, "summary", None)
    if not isinstance(summary, AuditSummary):
        summary = run.summary = summarize(run)
    return summary


def _component(c: Any) -> dict[str, Any]:
    d: dict[str, Any] = c.to_dict()
    d["evidence"] = d["evidence"][:8]
    return d


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
                where = evidence_line(item.found)
                rows.append({"status": status, "component": item.name,
                             "found": ", ".join(item.found_versions) or ("present" if item.found else ""),
                             "declared": ", ".join(item.declared_versions) or ("listed" if item.declared else ""),
                             "evidence": where[:260],
                             "detectable": item.detectable})
        base["reconciliation"] = {"declared": fw.declared_sbom, "completeness": rec.completeness,
                                  "passed": rec.passed, "rows": rows, "detail": rec.to_dict()}
    return base


def _bench(run: AuditRun) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    per_ecu: dict[str, dict[str, Any]] = {}
    if run.bench is None:
        return per_ecu, {"summary": f"bench check: {run.bench_mode}", "mode": run.bench_mode, "checks": []}

    by_ecu: dict[str, list[Any]] = defaultdict(list)
    for ecu_id in run.ecu_verdicts:  # an ECU with nothing to compare has no check but a verdict (PARTIAL)
        by_ecu[ecu_id] = []
    for c in run.bench.checks:
        by_ecu[c.ecu_id].append(c)
    status_of = _summary(run).bench_status
    for ecu_id, checks in by_ecu.items():
        status = status_of.get(ecu_id, "partial")
        verdict = status.upper()
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


def _weaknesses(run: AuditRun, f: Any) -> list[dict[str, str | None]]:
    """The finding's CWEs with the names the records gave (``None`` where no record named one)."""
    rec = (getattr(run, "records", None) or {}).get(f.vuln_id)
    names = dict(getattr(f, "cwe_names", ()) or ())
    return [{"id": c, "name": names.get(c) or (rec.cwe_name(c) if rec is not None else None)} for c in f.cwes]


def _vulns(run: AuditRun) -> list[dict[str, Any]]:

    details = _summary(run).findings
    topo_ecus = _ecus_by_firmware(run)
    vehicles_of: dict[str, set[str]] = defaultdict(set)
    for v in run.manifest.vehicles:
        for e in v.ecus:
            vehicles_of[e].add(v.id)
    out = []
    for f in run.findings:
        if f.status.value == "not-affected" and f.suppressed_by is None and f.rule != "distro-advisory":
            continue  # (a distribution's "fixed in the installed revision" stays listed, not exposed)
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
            if f.suppressed_by else f.justification,
            "summary": (f.summary or "")[:400], "cwes": list(f.cwes), "weaknesses": _weaknesses(run, f), "kev": f.kev,
            "rule": f.rule, "decided_by": f.decided_by, "decision": f.decision, "package": f.package_purl,
        })
        out[-1].update(details.get(finding_key(f), {}))
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


def audit_document(run: AuditRun, fail_on: Sequence[str]) -> dict[str, Any]:
    """The JSON-ready audit document."""
    firmware = [_firmware(fw) for fw in run.firmware]
    bench_by_ecu, bench = _bench(run)
    vulns = _vulns(run)
    reasons = policy_failures(run, fail_on)

    summary = _summary(run)
    fw_of: dict[str, list[dict[str, Any]]] = defaultdict(list)  # one pass: 10,000 ECUs x 10,000 firmware was quadratic
    for f in firmware:
        fw_of[f["ecu"]].append(f)
    ecus = []
    for e in run.manifest.ecus:
        ecus.append({"id": e.id, "name": e.name, "supplier": e.supplier,
                     "hardware_part_number": e.hardware_part_number, "criticality": e.criticality,
                     "supplier_chain": summary.supplier_chains.get(e.supplier, []),
                     "firmware": fw_of.get(e.id, []),
                     "bench": bench_by_ecu.get(e.id)})
    suppliers = summary.suppliers
    vehicles = summary.vehicles
    graph = summary.graph

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
        "actions": summary.actions,
        "vulnerability_records": run.n_vulnerabilities,
        "impact": run.impact.to_dict() if run.impact is not None else None,
        "bench": bench, "graph": graph, "drift": _drift(run),
        "errors": [{"source": s, "message": m} for s, m in run.errors],
        "outputs": dict(run.outputs),
    }


def write_reports(run: AuditRun, outdir: Path, fail_on: Sequence[str]) -> dict[str, Any]:
    """Write ``report.json``, ``report.html``, ``report.md`` and ``report.sarif`` into ``outdir``;
    return the document."""

    run.outputs.update({"json": "report.json", "html": "report.html", "md": "report.md", "sarif": "report.sarif",
                        "sboms": list(dict.fromkeys(s for fw in run.firmware for s in fw.sbom_files)),
                        "bus_log": run.bench_log})
    doc = audit_document(run, fail_on)
    (outdir / "report.json").write_text(dumps_indented(doc), "utf-8")
    render_files(doc, outdir)
    (outdir / "report.sarif").write_text(dumps_indented(audit_sarif(run, doc), sort_keys=False), "utf-8")
    return doc


def render_files(doc: dict[str, Any], outdir: Path, formats: Sequence[str] = ("html", "md")) -> list[Path]:
    """Render the document as ``report.html`` / ``report.md`` in ``outdir`` (also used by
    ``ecuscan report`` to re-render a saved ``report.json``); return the files written."""

    written = []
    for fmt in formats:
        text = render_html(doc) if fmt == "html" else render_markdown(doc)
        path = outdir / f"report.{fmt}"
        path.write_text(text, "utf-8")
        written.append(path)
    return written
