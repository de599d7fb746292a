"""What an audit concluded, computed once from its records: the facts reports render.

:func:`summarize` runs the graph queries and the aggregations (exposure per supplier, the
per-vehicle summary, each ECU's tier chain, the bench status of each ECU, the details that
make a finding actionable, the marks on the supply-chain picture) on an
:class:`ecuscan.audit.AuditRun`. :mod:`ecuscan.report` only shapes and renders the result:
it never queries the graph.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .audit_run import AuditRun
from .errors import EcuscanError
from .graph.build import NodeKind, SupplyGraph, node_id
from .graph.export import to_svg
from .graph.queries import exposure, supplier_chain
from .vulns.impact import finding_key

SEVERITIES = ("critical", "high", "medium", "low", "unknown")
#: finding kinds the supply-chain picture marks, in the order of their legend
MARK_KINDS = ("vulnerable", "undeclared", "drifted", "unreachable", "missing")


@dataclass
class AuditSummary:
    """Precomputed conclusions of one audit (JSON-ready values only)."""

    bench_status: dict[str, str] = field(default_factory=dict)  # ECU id -> verified/drifted/unreachable/missing
    supplier_chains: dict[str, list[str]] = field(default_factory=dict)  # supplier id -> tier levels
    suppliers: list[dict[str, Any]] = field(default_factory=list)
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)  # finding key -> actionable details
    marks: dict[str, list[str]] = field(default_factory=dict)  # graph node -> finding kinds
    graph: dict[str, Any] = field(default_factory=lambda: {"svg": None, "nodes": 0, "edges": 0, "warnings": []})
    actions: list[dict[str, Any]] = field(default_factory=list)  # what to do, most pressing first


def bench_status(run: AuditRun) -> dict[str, str]:
    """The bench outcome of each checked ECU: the audit's per-ECU verdict in lower case
    (``verified`` only when every expected item matched; ``drifted``, ``missing``, ``partial``,
    ``unreachable``). An ECU with checks but no verdict (a run recorded before verdicts) is judged
    from its checks: ``drifted`` (a mismatch or invalid answer), ``unreachable`` (no answer at
    all), ``missing`` (a DID refused), else ``verified``."""
    verdicts_of = {e: str(v.value).lower() for e, v in run.ecu_verdicts.items()}
    by_ecu: dict[str, set[str]] = defaultdict(set)
    for c in run.bench.checks if run.bench is not None else ():
        by_ecu[c.ecu_id].add(c.verdict.value)
    out: dict[str, str] = {}
    for ecu_id, verdicts in by_ecu.items():
        if {"MISMATCH", "INVALID"} & verdicts:
            out[ecu_id] = "drifted"
        elif verdicts and verdicts <= {"UNREACHABLE"}:
            out[ecu_id] = "unreachable"
        elif "MISSING" in verdicts:
            out[ecu_id] = "missing"
        else:
            out[ecu_id] = "verified"
    out.update(verdicts_of)
    return out


def supplier_levels(run: AuditRun, supplier_id: str) -> list[str]:
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


def _ecus_by_firmware(run: AuditRun) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for fw in run.firmware:
        out[fw.path].add(fw.ecu_id)
    return out


class _ComponentIndex:
    """Component nodes by purl and by (catalog key, version), built once per graph."""

    def __init__(self, graph: SupplyGraph) -> None:
        self.nodes = set(graph.nodes_of(NodeKind.COMPONENT))
        self.by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
        for node in sorted(self.nodes):
            attrs = graph.attrs(node)
            self.by_key[str(attrs.get("key")), str(attrs.get("version") or "")].append(node)

    def find(self, key: str, version: str | None, purl: str | None) -> list[str]:
        """Nodes of a component: by purl, by key and version, or by key with no version known."""
        found = [*self.by_key.get((key, version or ""), ()), *self.by_key.get((key, ""), ())]
        exact = node_id(NodeKind.COMPONENT, purl) if purl else None
        if exact in self.nodes and exact not in found:
            found.insert(0, exact)
        return found


def _supplier_exposure(run: AuditRun) -> list[dict[str, Any]]:
    findings_of = {s: len(v) for s, v in run.impact.by_supplier.items()} if run.impact is not None else {}
    suppliers: list[dict[str, Any]] = []
    for s in run.manifest.suppliers:
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
                          "components": n_comp, "findings": findings_of.get(s.id, 0)})
    return suppliers


def _vehicles(run: AuditRun, status: dict[str, str], suppliers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    fw_ecus = _ecus_by_firmware(run)
    exposed = [f for f in run.findings if f.exposed]
    key_ecus = {finding_key(f): fw_ecus.get(f.firmware_path or "", set()) for f in exposed}
    vehicles = []
    for v in run.manifest.vehicles:
        in_v = set(v.ecus)
        fws = [fw for fw in run.firmware if fw.ecu_id in in_v]
        statuses = Counter(status.get(e, "not-checked") for e in v.ecus)
        comps = {(c.id, c.version) for fw in fws if fw.result is not None
                 for c in fw.result.contained()}
        undeclared = {i.name for fw in fws if fw.reconciliation is not None for i in fw.reconciliation.undeclared}
        vuln_comps: dict[str, set[str]] = {s: set() for s in SEVERITIES}
        exposed_ecus: set[str] = set()
        for f in exposed:
            ecus = key_ecus[finding_key(f)] & in_v
            if ecus:
                vuln_comps[f.severity.value if f.severity else "unknown"].add(
                    f"{f.component_id}@{f.component_version}")
                exposed_ecus |= ecus
        # suppliers of this vehicle's ECUs, ranked by the exposed findings they delivered into it;
        # a supplier that delivered none of them is not "exposed" and is not listed
        in_vehicle = {k for k, ecus in key_ecus.items() if ecus & in_v}
        ranked: list[dict[str, Any]] = []
        for sup in suppliers:
            shared = set(sup["ecus"]) & in_v
            n = len(in_vehicle & set(run.impact.by_supplier.get(sup["id"], ()))) if run.impact is not None else 0
            if shared and n:
                ranked.append({"id": sup["id"], "name": sup["name"], "findings": n, "ecus": len(shared)})
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
    return vehicles


def fixed_release(record: Any, matched: Iterable[Any]) -> str | None:
    """The first release that is no longer affected, on the line the component's version is on.

    That is the exclusive upper bound of the affected range the finding matched (``<2.28.7``
    gives 2.28.7); a range closed with ``<=`` or without an upper bound names no fix. A
    ``fixed`` attribute on the range (when the feed parser records one) wins.
    """
    if record is None:
        return None
    for m in matched:
        for a in getattr(record, "affected", ()):
            if a.describe() != m.range or (m.origin and a.origin != m.origin):
                continue
            fixed = getattr(a, "fixed", None)
            if fixed:
                return str(fixed)
            if a.upper and not a.upper_inclusive:
                return str(a.upper)
    return None


def _references(record: Any) -> list[str]:
    """The record's references as plain text (URLs are shown, never linked); empty when the
    parsed record carries none."""
    out: list[str] = []
    for ref in getattr(record, "references", None) or ():
        url = ref.get("url") if isinstance(ref, dict) else getattr(ref, "url", ref)
        if url and str(url) not in out:
            out.append(str(url))
    return out[:20]


def _tier_path(run: AuditRun, ecu_id: str, comp_nodes: list[str]) -> list[str]:
    """Supplier chain from the ECU's supplier down to one that provides the component."""
    g = run.graph
    ecu = run.manifest.ecu(ecu_id)
    if g is None or ecu is None:
        return []

    start = node_id(NodeKind.SUPPLIER, ecu.supplier)
    providers = {p for c in comp_nodes for p in g.component_providers.get(c, ())}
    chain = supplier_chain(g, start, providers) if providers else None
    names = []
    for sid in chain or (start,):
        attrs = g.attrs(sid) if sid in g.graph else {}
        names.append(f"{attrs.get('name') or sid.split(':', 1)[-1]} (tier {attrs.get('tier', '?')})")
    if not chain:
        names.append("no supplier in the manifest provides it")
    return names


def _finding_details(run: AuditRun, index: _ComponentIndex | None) -> dict[str, dict[str, Any]]:
    records = getattr(run, "records", None) or {}
    fw_ecus = _ecus_by_firmware(run)
    vehicles_of: dict[str, list[str | None]] = defaultdict(list)
    for veh in run.manifest.vehicles:
        for e in veh.ecus:
            vehicles_of[e].append(veh.id)
    out: dict[str, dict[str, Any]] = {}
    for f in run.findings:
        rec = records.get(f.vuln_id)
        nodes = index.find(f.component_id, f.component_version, f.component_purl) if index is not None else []
        paths = []
        for e in sorted(fw_ecus.get(f.firmware_path or "", set())):
            for vid in vehicles_of.get(e, []) or [None]:
                paths.append({"vehicle": vid, "ecu": e, "firmware": f.firmware_path,
                              "component": f"{f.component_id} {f.component_version or ''}".strip(),
                              "tiers": _tier_path(run, e, nodes)})
        vex = f.suppressed_by or f.triage
        cvss = f.cvss or (rec.best_cvss() if rec is not None else None)
        out[finding_key(f)] = {
            "description": (getattr(rec, "description", "") or f.summary or "")[:4000],
            "cvss": cvss.to_dict() if cvss is not None else None,
            "fixed": fixed_release(rec, f.matched_by),
            "references": _references(rec),
            "published": getattr(rec, "published", None), "modified": getattr(rec, "modified", None),
            "aliases": list(getattr(rec, "aliases", ()) or ()),
            "path": paths,
            "vex": {"status": vex.status.value, "justification": vex.justification, "impact": vex.impact,
                    "action": vex.action, "source": vex.source, "suppresses": f.suppressed_by is not None}
            if vex is not None else None,
        }
    return out


def _unscanned_firmware(run: AuditRun, g: SupplyGraph) -> Iterable[tuple[str, str]]:
    """(node, "missing") for each ECU with firmware that could not be scanned, and that firmware."""
    for fw in run.firmware:
        if fw.result is not None:
            continue
        ecu = node_id(NodeKind.ECU, fw.ecu_id)
        yield ecu, "missing"
        yield from ((n, "missing") for n, ecus in g.firmware_ecus.items()
                    if ecu in ecus and not g.attrs(n).get("scanned", True))


def _undeclared_components(run: AuditRun, index: _ComponentIndex) -> Iterable[tuple[str, str]]:
    for fw in run.firmware:
        for item in fw.reconciliation.undeclared if fw.reconciliation is not None else ():
            for c in item.found:
                yield from ((n, "undeclared") for n in index.find(str(c.id), c.version, c.purl))


def graph_marks(run: AuditRun, status: dict[str, str], index: _ComponentIndex | None = None) -> dict[str, list[str]]:
    """Graph node -> the finding kinds to highlight on it (see :data:`MARK_KINDS`): vulnerable
    and undeclared components, drifted / unreachable / missing ECUs, firmware that could not
    be scanned (missing)."""
    g = run.graph
    if g is None:
        return {}
    index = index or _ComponentIndex(g)
    found: list[tuple[str, str]] = [(n, "vulnerable") for f in run.findings if f.exposed
                                    for n in index.find(f.component_id, f.component_version, f.component_purl)]
    found.extend(_unscanned_firmware(run, g))
    found.extend(_undeclared_components(run, index))
    found.extend((node_id(NodeKind.ECU, e), s) for e, s in status.items() if s in ("drifted", "unreachable", "missing"))
    marks: dict[str, list[str]] = {}
    for node, kind in found:
        if node in g.graph and kind not in marks.setdefault(node, []):
            marks[node].append(kind)
    return marks


def _graph(run: AuditRun, marks: dict[str, list[str]]) -> dict[str, Any]:
    g = run.graph
    if g is None:
        return {"svg": None, "nodes": 0, "edges": 0, "warnings": []}
    return {"svg": to_svg(g, marks=marks, title=run.manifest.name), "nodes": g.graph.number_of_nodes(),
            "edges": g.graph.number_of_edges(), "warnings": list(g.warnings),
            "marks": {k: sorted(n for n, kinds in marks.items() if k in kinds) for k in MARK_KINDS}}


_RANK = {"critical": 0, "high": 1, "drifted": 2, "unreachable": 3, "medium": 4, "undeclared": 5, "missing": 6,
         "low": 7, "unknown": 8, "unscanned": 9}


def _fix_actions(run: AuditRun, details: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    fw_ecus = _ecus_by_firmware(run)
    out = []
    for f in run.findings:
        if not f.exposed:
            continue
        d = details.get(finding_key(f), {})
        sev = f.severity.value if f.severity else "unknown"
        ecus = ", ".join(sorted(fw_ecus.get(f.firmware_path or "", set()))) or "no ECU"
        move = f"update {f.component_id} {f.component_version or '?'} to {d['fixed']} or later" if d.get("fixed") \
            else f"update {f.component_id} {f.component_version or '?'} (the record names no fixed release) " \
                 "or triage it with a VEX statement"
        score = f" {f.cvss.score}" if f.cvss is not None and f.cvss.score is not None else ""
        out.append({"kind": "vulnerable", "rank": sev, "target": ecus,
                    "text": f"{move} in {ecus} ({f.firmware_path}): {f.vuln_id}, {sev}{score}"})
    return out


def _sbom_actions(run: AuditRun) -> list[dict[str, Any]]:
    out = []
    for fw in run.firmware:
        rec = fw.reconciliation
        if rec is None or not rec.undeclared:
            continue
        ecu = run.manifest.ecu(fw.ecu_id)
        sup = run.manifest.supplier(ecu.supplier) if ecu else None
        who = (sup.name or sup.id) if sup else "the supplier"
        names = ", ".join(sorted(f"{i.name} {'/'.join(i.found_versions)}".strip() for i in rec.undeclared))
        out.append({"kind": "undeclared", "rank": "undeclared", "target": fw.ecu_id,
                    "text": f"ask {who} to declare {names} in {fw.declared_sbom} (found in {fw.path})"})
    return out


def _said(value: Any) -> str:
    return "no value" if value is None else str(value)[:200]


def _bench_actions(run: AuditRun, status: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    checks: dict[str, list[Any]] = defaultdict(list)
    for c in run.bench.checks if run.bench is not None else ():
        checks[c.ecu_id].append(c)
    for ecu_id, s in sorted(status.items()):
        if s == "drifted":
            diffs = "; ".join(f"{c.observation.label} {_said(c.observation.value)} (analysed: {_said(c.expected)})"
                              for c in checks[ecu_id] if c.verdict.failed)
            text = (f"{ecu_id} on the bench is not the analysed release ({diffs}): analyse the flashed "
                    "release or flash the analysed one, then run the audit again")
        elif s == "unreachable":
            text = f"{ecu_id} did not answer on the bench: check its power, wiring and CAN ids, then run again"
        elif s == "missing":
            refused = ", ".join(c.observation.label for c in checks[ecu_id] if c.verdict.value == "MISSING")
            text = f"{ecu_id} refused to identify itself ({refused}): the bench check of these items is incomplete"
        else:
            continue
        out.append({"kind": s, "rank": s, "target": ecu_id, "text": text})
    return out


def actions(run: AuditRun, status: dict[str, str], details: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """What the reader should do, most pressing first: each exposed finding with its fix, each
    drifted, silent or refusing ECU, each SBOM that leaves out what the binary holds, each image
    that could not be scanned."""
    todo = [*_fix_actions(run, details), *_bench_actions(run, status), *_sbom_actions(run)]
    todo.extend({"kind": "missing", "rank": "unscanned", "target": fw.ecu_id,
                 "text": f"{fw.path} of {fw.ecu_id} could not be scanned ({fw.error}): nothing in it was checked"}
                for fw in run.firmware if fw.result is None)
    todo.sort(key=lambda a: (_RANK.get(a["rank"], 9), a["target"], a["text"]))
    return [{k: v for k, v in a.items() if k != "rank"} for a in todo]


def summarize(run: AuditRun) -> AuditSummary:
    """Every conclusion the reports show, computed from the run's records."""
    status = bench_status(run)
    suppliers = _supplier_exposure(run)
    index = _ComponentIndex(run.graph) if run.graph is not None else None
    marks = graph_marks(run, status, index)
    details = _finding_details(run, index)
    return AuditSummary(
        bench_status=status,
        supplier_chains={e.supplier: supplier_levels(run, e.supplier) for e in run.manifest.ecus},
        suppliers=suppliers,
        vehicles=_vehicles(run, status, suppliers),
        findings=details,
        marks=marks,
        graph=_graph(run, marks),
        actions=actions(run, status, details),
    )
