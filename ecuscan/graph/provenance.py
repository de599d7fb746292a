"""Per-ECU provenance trees, and diffs of manifests and graphs.

:func:`provenance` answers "where does everything in this ECU come from?": its supplier with
the whole ``sources_from`` tree (tiers, cycles marked), and each firmware with its components,
who said so (scan / declared SBOM) and which suppliers provide them through which chain.
:func:`diff_manifests` and :func:`diff_graphs` compare two releases of a vehicle line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import GraphError
from ..manifest import Manifest
from .build import NodeKind, SupplyGraph, kind_of, node_id
from .queries import supplier_chain

#: Most supplier nodes expanded in one provenance tree (diamonds are expanded once).
MAX_TREE_NODES = 10_000


@dataclass(frozen=True)
class SupplierTree:
    """A supplier and the suppliers it sources from. ``repeat``: expanded elsewhere in the
    tree (or a cycle back to an ancestor when ``cycle``), so its children are not repeated."""

    id: str
    name: str
    tier: str
    sources: tuple[SupplierTree, ...] = ()
    repeat: bool = False
    cycle: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "name": self.name, "tier": self.tier, "repeat": self.repeat, "cycle": self.cycle,
                "sources_from": [s.to_dict() for s in self.sources]}


@dataclass(frozen=True)
class ComponentOrigin:
    """A component of a firmware with who said so and who provides it."""

    id: str
    name: str
    version: str
    relation: str
    sources: tuple[str, ...]
    evidence: int
    unknown_provenance: bool
    chains: tuple[tuple[str, ...], ...]  # ECU supplier ... provider, per provider reached

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "name": self.name, "version": self.version, "relation": self.relation,
                "sources": list(self.sources), "evidence": self.evidence,
                "unknown_provenance": self.unknown_provenance, "chains": [list(c) for c in self.chains]}


@dataclass(frozen=True)
class FirmwareOrigin:
    """One firmware of the ECU with its components."""

    id: str
    path: str
    role: str
    version: str
    components: tuple[ComponentOrigin, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "path": self.path, "role": self.role, "version": self.version,
                "components": [c.to_dict() for c in self.components]}


@dataclass(frozen=True)
class ProvenanceTree:
    """Everything an ECU is made of, with its supplier tree."""

    ecu: str
    name: str
    supplier: SupplierTree
    firmware: tuple[FirmwareOrigin, ...]
    vehicles: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ecu": self.ecu, "name": self.name, "supplier": self.supplier.to_dict(),
                "firmware": [f.to_dict() for f in self.firmware], "vehicles": list(self.vehicles)}


def supplier_tree(graph: SupplyGraph, supplier: str) -> SupplierTree:
    """The ``sources_from`` tree below a supplier; cycles and repeats are cut, size bounded."""
    expanded: set[str] = set()

    def walk(s: str, ancestors: frozenset[str]) -> SupplierTree:
        a = graph.attrs(s)
        name, tier = str(a.get("name", s)), str(a.get("tier", ""))
        if s in ancestors:
            return SupplierTree(s, name, tier, repeat=True, cycle=True)
        if s in expanded or len(expanded) >= MAX_TREE_NODES:
            return SupplierTree(s, name, tier, repeat=True)
        expanded.add(s)
        kids = tuple(walk(p, ancestors | {s}) for p in sorted(graph.sources.get(s, ())))
        return SupplierTree(s, name, tier, kids)

    return walk(supplier, frozenset())


def provenance(graph: SupplyGraph, ecu: str) -> ProvenanceTree:
    """The provenance tree of one ECU.

    >>> from tests.unit.graph.synth import tiny_graph
    >>> t = provenance(tiny_graph(), "bcm")
    >>> [s.id for s in t.supplier.sources]
    ['supplier:rtos', 'supplier:zlib']
    >>> [(c.name, c.chains) for c in t.firmware[0].components if c.name == "freertos"]
    [('freertos', (('supplier:acme', 'supplier:rtos'),))]
    """
    eid = ecu if ecu.startswith("ecu:") else node_id(NodeKind.ECU, ecu)
    if eid not in graph.graph:
        raise GraphError(f"unknown ECU {ecu!r}")
    g = graph.graph
    sup = graph.ecu_supplier[eid]
    fws = []
    for _, f, k, data in sorted(g.out_edges(eid, keys=True, data=True)):
        if k != "runs":
            continue
        fa = graph.attrs(f)
        comps = []
        for _, c, rel, edata in sorted(g.out_edges(f, keys=True, data=True)):
            if rel not in ("contains", "uses"):
                continue
            ca = graph.attrs(c)
            chains = []
            for p in sorted(graph.component_providers.get(c, ())):
                chain = supplier_chain(graph, sup, [p])
                chains.append(chain if chain else (p,))
            comps.append(ComponentOrigin(c, str(ca.get("name", "")), str(ca.get("version", "")), rel,
                                         tuple(sorted(edata.get("sources", ()))), int(edata.get("evidence", 0)),
                                         bool(ca.get("unknown_provenance")), tuple(chains)))
        fws.append(FirmwareOrigin(f, str(fa.get("path", "")), str(data.get("role", "")),
                                  str(data.get("version", "")), tuple(comps)))
    return ProvenanceTree(eid, str(graph.attrs(eid).get("name", eid)), supplier_tree(graph, sup), tuple(fws),
                          tuple(sorted(graph.ecu_vehicles.get(eid, ()))))


def _records(m: Manifest) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for s in m.suppliers:
        out[f"supplier:{s.id}"] = {"name": s.name, "tier": str(s.tier), "sources_from": sorted(s.sources_from),
                                   "provides": sorted(s.provides), "tisax": s.tisax}
    for e in m.ecus:
        out[f"ecu:{e.id}"] = {"name": e.name, "supplier": e.supplier, "hardware_part_number": e.hardware_part_number,
                              "criticality": e.criticality,
                              "firmware": sorted((f.declared_path or f.path, f.role, f.version or "")
                                                 for f in e.firmware)}
    for v in m.vehicles:
        out[f"vehicle:{v.id}"] = {"name": v.name, "ecus": sorted(v.ecus), "rxswin": sorted(v.rxswin)}
    return out


def diff_manifests(old: Manifest, new: Manifest) -> dict[str, Any]:
    """Suppliers, ECUs and vehicles added, removed or changed (field by field).

    >>> from tests.unit.graph.synth import tiny_manifest
    >>> import dataclasses
    >>> a = tiny_manifest()
    >>> b = dataclasses.replace(a, vehicles=())
    >>> diff_manifests(a, b)["removed"]
    ['vehicle:ev']
    """
    a, b = _records(old), _records(new)
    changed = {}
    for k in sorted(a.keys() & b.keys()):
        fields = {f: {"old": a[k][f], "new": b[k][f]} for f in a[k] if a[k][f] != b[k][f]}
        if fields:
            changed[k] = fields
    return {"added": sorted(b.keys() - a.keys()), "removed": sorted(a.keys() - b.keys()), "changed": changed}


def _ecu_components(graph: SupplyGraph) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    g = graph.graph
    for e in graph.nodes_of(NodeKind.ECU):
        keys: dict[str, set[str]] = {}
        for _, f, k in g.out_edges(e, keys=True):
            if k != "runs":
                continue
            for _, c, rel in g.out_edges(f, keys=True):
                if rel in ("contains", "uses"):
                    ca = graph.attrs(c)
                    keys.setdefault(str(ca.get("key")), set()).add(str(ca.get("version", "")))
        out[e] = keys
    return out


def diff_graphs(old: SupplyGraph, new: SupplyGraph) -> dict[str, Any]:
    """Nodes and edges added/removed per kind, and per ECU the components whose versions changed,
    appeared or disappeared (e.g. zlib 1.2.13 → 1.3.1 on ``ecu:bcm``)."""
    ga, gb = old.graph, new.graph
    out: dict[str, Any] = {"nodes": {}, "edges": {}, "ecus": {}}
    for kind in NodeKind:
        na = {n for n in ga if kind_of(n) is kind}
        nb = {n for n in gb if kind_of(n) is kind}
        if na != nb:
            out["nodes"][kind.value] = {"added": sorted(nb - na), "removed": sorted(na - nb)}
    ea, eb = set(ga.edges(keys=True)), set(gb.edges(keys=True))
    for k in sorted({e[2] for e in ea ^ eb}):
        out["edges"][k] = {"added": sorted(e[:2] for e in eb - ea if e[2] == k),
                           "removed": sorted(e[:2] for e in ea - eb if e[2] == k)}
    ca, cb = _ecu_components(old), _ecu_components(new)
    for e in sorted(ca.keys() & cb.keys()):
        changes = {}
        for key in sorted(ca[e].keys() | cb[e].keys()):
            va, vb = sorted(ca[e].get(key, ())), sorted(cb[e].get(key, ()))
            if va != vb:
                changes[key] = {"old": va, "new": vb}
        if changes:
            out["ecus"][e] = changes
    return out
