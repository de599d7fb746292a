"""Queries over the supply-chain graph: impact, exposure, concentration, loss, provenance.

Each query is a plain function of a :class:`~ecuscan.graph.build.SupplyGraph` that walks
the graph's reverse indices, so it touches only the part of the graph it answers about.
:mod:`ecuscan.graph.reference` holds index-free brute-force versions that the tests and the
benchmark compare these with. Every walk keeps a visited set, so sourcing cycles never loop.

Definitions:

* **depends on** (exposure, concentration): X depends on supplier S when a chain of
  dependency steps leads from X to S — vehicle → installed ECU, ECU → firmware it runs,
  ECU → its supplier, firmware → component it contains or uses, component → supplier that
  provides it, supplier → supplier it sources from.
* **loss** (the "cut-off" analysis, our reading of dominators for an AND/OR supply graph):
  when supplier S is lost, a supplier that sources from others is lost when *all* of its
  sources are lost; a component is lost when *all* of its providers are lost (a component
  with no provider in the manifest is never counted as lost); firmware is lost when *any*
  component it contains or uses is lost; an ECU when its supplier or *any* of its firmware is
  lost; a vehicle when *any* of its ECUs is lost. S's loss *cuts off* the vehicles lost.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL
from univers.version_range import VersionRange
from univers.versions import InvalidVersion

from ..errors import GraphError
from .build import NodeKind, SupplyGraph, component_key, node_id


def _sorted(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(items))


def parse_range(text: str) -> VersionRange:
    """A univers version range from ``vers:...`` or a simple ``"<1.2.12"`` / ``">=1.0,<2"``.

    >>> str(parse_range(">=1.0,<2"))
    'vers:generic/>=1.0.0|<2.0.0'
    """
    text = text.strip()
    spec = text if text.startswith("vers:") else "vers:generic/" + "|".join(
        p.strip() for p in text.replace(" ", "").replace(",", "|").split("|") if p.strip())
    try:
        rng: VersionRange = VersionRange.from_string(spec)  # type: ignore[no-untyped-call]
        return rng
    except Exception as exc:  # univers raises ValueError, TypeError and its own errors
        raise GraphError(f"bad version range {text!r}: {exc}") from exc


@dataclass(frozen=True)
class ComponentMatcher:
    """Which component nodes a query names: a key (catalog id / folded name) plus a version test."""

    key: str
    exact_version: str | None = None
    version_range: VersionRange | None = None

    def test(self, version: str) -> bool | None:
        """True/False when the version is (not) matched; None when it cannot be told (unknown)."""
        if self.exact_version is not None:
            return version == self.exact_version if version else None
        if self.version_range is None:
            return True
        if not version:
            return None
        try:
            version_class: Any = self.version_range.version_class
            return bool(version_class(version) in self.version_range)
        except (InvalidVersion, ValueError, TypeError):
            return None


def matcher(graph: SupplyGraph, component: str, version_range: str | None = None) -> ComponentMatcher:
    """Turn a component name or purl (and an optional range) into a :class:`ComponentMatcher`."""
    exact = None
    purl = None
    if component.startswith("pkg:"):
        try:
            exact = PackageURL.from_string(component).version
        except ValueError as exc:
            raise GraphError(f"bad purl {component!r}: {exc}") from exc
        purl = component
    key = component_key(graph.catalog, component if purl is None else "", purl,
                        component if component.startswith("cpe:") else None)
    rng = parse_range(version_range) if version_range else None
    return ComponentMatcher(key=key, exact_version=None if rng else exact, version_range=rng)


@dataclass(frozen=True)
class ImpactHit:
    """One affected node with the path that reaches it from the component.

    ``tier_chain`` runs from the ECU's supplier down its ``sources_from`` chain to a supplier
    that provides the component (``connected``), or holds the ECU's supplier alone when no
    chain links them (empty for firmware hits, which have no ECU of their own; there
    ``connected`` says whether anyone provides the component); ``providers`` are the
    component's providers. ``certain`` is False when
    the component's version is unknown, so the range could not be checked.
    """

    node: str
    path: tuple[str, ...]
    tier_chain: tuple[str, ...]
    providers: tuple[str, ...]
    connected: bool
    certain: bool

    def to_dict(self, graph: SupplyGraph) -> dict[str, Any]:
        """JSON-ready form, tiers included."""
        return {"node": self.node, "path": list(self.path), "certain": self.certain,
                "connected": self.connected, "providers": list(self.providers),
                "tier_chain": [{"supplier": s, "tier": graph.attrs(s).get("tier")} for s in self.tier_chain]}


@dataclass(frozen=True)
class Impact:
    """What a component (version range) reaches: firmware, ECUs and vehicles."""

    query: str
    components: tuple[str, ...]
    firmware: tuple[ImpactHit, ...]
    ecus: tuple[ImpactHit, ...]
    vehicles: tuple[ImpactHit, ...]

    def to_dict(self, graph: SupplyGraph) -> dict[str, Any]:
        """JSON-ready form."""
        return {"query": self.query, "components": list(self.components),
                "firmware": [h.to_dict(graph) for h in self.firmware],
                "ecus": [h.to_dict(graph) for h in self.ecus],
                "vehicles": [h.to_dict(graph) for h in self.vehicles]}


def supplier_chain(graph: SupplyGraph, start: str, targets: Iterable[str]) -> tuple[str, ...] | None:
    """Shortest ``sources_from`` chain from supplier ``start`` to any of ``targets``, or None."""
    goal = set(targets)
    if start in goal:
        return (start,)
    parent: dict[str, str] = {start: start}
    queue = deque([start])
    while queue:
        s = queue.popleft()
        for up in sorted(graph.sources.get(s, ())):
            if up in parent:
                continue
            parent[up] = s
            if up in goal:
                chain = [up]
                while chain[-1] != start:
                    chain.append(parent[chain[-1]])
                return tuple(reversed(chain))
            queue.append(up)
    return None


def impact(graph: SupplyGraph, component: str, version_range: str | None = None, *,
           include_unknown: bool = True) -> Impact:
    """Firmware, ECUs and vehicles reached by a component, each with its path and tier chain.

    ``component`` is a name, catalog id or purl (a purl's version is matched exactly unless
    ``version_range`` is given: ``"<1.2.12"``, ``">=1.0,<2"`` or a ``vers:`` string).
    Components of unknown version are included as uncertain hits unless ``include_unknown``
    is False.

    >>> from ecuscan.graph.synth import tiny_graph
    >>> g = tiny_graph()
    >>> r = impact(g, "zlib", "<1.3")
    >>> [h.node for h in r.vehicles], r.vehicles[0].tier_chain
    (['vehicle:ev'], ('supplier:acme', 'supplier:zlib'))
    >>> r.vehicles[0].path
    ('component:pkg:generic/zlib@1.2.11', 'firmware:bcm.elf', 'ecu:bcm', 'vehicle:ev')
    """
    m = matcher(graph, component, version_range)
    comp_certain: dict[str, bool] = {}
    for c in graph.components_by_key.get(m.key, ()):
        ok = m.test(graph.attrs(c).get("version", ""))
        if ok or (ok is None and include_unknown):
            comp_certain[c] = bool(ok)
    # Best reason per node: certain before uncertain, then the smallest id. Walking each layer in
    # that order and keeping the first reason seen gives it without comparing candidates.
    fw_best: dict[str, tuple[bool, str]] = {}  # firmware -> (uncertain, component)
    for unc, c in sorted((not cert, c) for c, cert in comp_certain.items()):
        for f in graph.component_firmware.get(c, ()):
            if f not in fw_best:
                fw_best[f] = (unc, c)
    ecu_best: dict[str, tuple[bool, str]] = {}  # ECU -> (uncertain, firmware)
    for unc, f in sorted((u, f) for f, (u, _) in fw_best.items()):
        for e in graph.firmware_ecus.get(f, ()):
            if e not in ecu_best:
                ecu_best[e] = (unc, f)
    veh_best: dict[str, tuple[bool, str]] = {}  # vehicle -> (uncertain, ECU)
    for unc, e in sorted((u, e) for e, (u, _) in ecu_best.items()):
        for v in graph.ecu_vehicles.get(e, ()):
            if v not in veh_best:
                veh_best[v] = (unc, e)

    chains: dict[tuple[str, str], tuple[tuple[str, ...], bool]] = {}

    def chain_for(e: str, c: str) -> tuple[tuple[str, ...], bool]:
        sup = graph.ecu_supplier.get(e)
        if sup is None:
            return (), False
        if (sup, c) not in chains:
            found = supplier_chain(graph, sup, graph.component_providers.get(c, ()))
            chains[sup, c] = (found, True) if found else ((sup,), False)
        return chains[sup, c]

    fw_hits = []
    provs_of: dict[str, tuple[str, ...]] = {c: _sorted(graph.component_providers.get(c, ())) for c in comp_certain}
    for f, (unc, c) in sorted(fw_best.items()):
        provs = provs_of[c]
        fw_hits.append(ImpactHit(f, (c, f), (), provs, bool(provs), not unc))  # no ECU: no chain
    ecu_hits: dict[str, ImpactHit] = {}
    for e, (unc, f) in sorted(ecu_best.items()):
        c = fw_best[f][1]
        chain, ok = chain_for(e, c)
        ecu_hits[e] = ImpactHit(e, (c, f, e), chain, provs_of[c], ok, not unc)
    veh_hits = []
    for v, (unc, e) in sorted(veh_best.items()):
        h = ecu_hits[e]
        veh_hits.append(ImpactHit(v, (*h.path, v), h.tier_chain, h.providers, h.connected, not unc))
    return Impact(query=component + (f" {version_range}" if version_range else ""),
                  components=_sorted(comp_certain), firmware=tuple(fw_hits),
                  ecus=tuple(ecu_hits[e] for e in sorted(ecu_hits)), vehicles=tuple(veh_hits))


@dataclass(frozen=True)
class Exposure:
    """Everything that depends on a supplier. ``suppliers`` maps each dependent supplier to its
    ``sources_from`` chain down to the queried supplier."""

    supplier: str
    suppliers: Mapping[str, tuple[str, ...]]
    components: tuple[str, ...]
    firmware: tuple[str, ...]
    ecus: tuple[str, ...]
    vehicles: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"supplier": self.supplier,
                "suppliers": {k: list(v) for k, v in sorted(self.suppliers.items())},
                "components": list(self.components), "firmware": list(self.firmware),
                "ecus": list(self.ecus), "vehicles": list(self.vehicles)}


def _supplier_node(graph: SupplyGraph, supplier: str) -> str:
    sid = supplier if supplier.startswith("supplier:") else node_id(NodeKind.SUPPLIER, supplier)
    if sid not in graph.graph:
        raise GraphError(f"unknown supplier {supplier!r}")
    return sid


def exposure(graph: SupplyGraph, supplier: str) -> Exposure:
    """Suppliers, components, firmware, ECUs and vehicles that depend on ``supplier``
    through any number of tiers (see the module docstring for "depends on").

    >>> from ecuscan.graph.synth import tiny_graph
    >>> x = exposure(tiny_graph(), "rtos")
    >>> list(x.suppliers), x.ecus, x.vehicles
    (['supplier:acme'], ('ecu:bcm',), ('vehicle:ev',))
    """
    sid = _supplier_node(graph, supplier)
    chain_to: dict[str, str] = {sid: sid}
    queue = deque([sid])
    while queue:
        s = queue.popleft()
        for b in graph.buyers.get(s, ()):
            if b not in chain_to:
                chain_to[b] = s
                queue.append(b)
    chains: dict[str, tuple[str, ...]] = {}
    for b in chain_to:
        if b == sid:
            continue
        path = [b]
        while path[-1] != sid:
            path.append(chain_to[path[-1]])
        chains[b] = tuple(path)
    comps: set[str] = set()
    ecus: set[str] = set()
    for s in chain_to:
        comps.update(graph.supplier_components.get(s, ()))
        ecus.update(graph.supplier_ecus.get(s, ()))
    fws: set[str] = set()
    for c in comps:
        fws.update(graph.component_firmware.get(c, ()))
    for f in fws:
        ecus.update(graph.firmware_ecus.get(f, ()))
    vehicles: set[str] = set()
    for e in ecus:
        vehicles.update(graph.ecu_vehicles.get(e, ()))
    return Exposure(sid, chains, _sorted(comps), _sorted(fws), _sorted(ecus), _sorted(vehicles))


@dataclass(frozen=True)
class Loss:
    """What is lost when one supplier is lost (AND/OR propagation, see the module docstring)."""

    supplier: str
    suppliers: tuple[str, ...]
    components: tuple[str, ...]
    firmware: tuple[str, ...]
    ecus: tuple[str, ...]
    vehicles: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"supplier": self.supplier, "suppliers": list(self.suppliers),
                "components": list(self.components), "firmware": list(self.firmware),
                "ecus": list(self.ecus), "vehicles": list(self.vehicles)}


def loss(graph: SupplyGraph, supplier: str) -> Loss:
    """Suppliers, components, firmware, ECUs and vehicles cut off when ``supplier`` is lost.

    >>> from ecuscan.graph.synth import tiny_graph
    >>> loss(tiny_graph(), "rtos").vehicles   # freertos has a single source
    ('vehicle:ev',)
    >>> loss(tiny_graph(), "mirror").components   # zlib is still provided by the zlib project
    ()
    """
    sid = _supplier_node(graph, supplier)
    lost = {sid}
    queue = deque([sid])
    while queue:
        s = queue.popleft()
        for b in graph.buyers.get(s, ()):
            if b not in lost and graph.sources[b] <= lost:
                lost.add(b)
                queue.append(b)
    comps = {c for s in lost for c in graph.supplier_components.get(s, ())
             if graph.component_providers[c] <= lost}
    fws = {f for c in comps for f in graph.component_firmware.get(c, ())}
    ecus = {e for f in fws for e in graph.firmware_ecus.get(f, ())}
    ecus.update(e for s in lost for e in graph.supplier_ecus.get(s, ()))
    vehicles = {v for e in ecus for v in graph.ecu_vehicles.get(e, ())}
    return Loss(sid, _sorted(lost - {sid}), _sorted(comps), _sorted(fws), _sorted(ecus), _sorted(vehicles))


@dataclass(frozen=True)
class Concentration:
    """Rankings of dependence. Each row is a dict (see :func:`concentration`)."""

    suppliers: tuple[dict[str, Any], ...]
    components: tuple[dict[str, Any], ...]
    single_source: tuple[dict[str, Any], ...]
    critical: tuple[dict[str, Any], ...]
    unknown_provenance: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"suppliers": list(self.suppliers), "components": list(self.components),
                "single_source": list(self.single_source), "critical": list(self.critical),
                "unknown_provenance": list(self.unknown_provenance)}


def concentration(graph: SupplyGraph) -> Concentration:
    """Suppliers and components ranked by how many ECUs and vehicles depend on them.

    ``single_source``: components (by key, all versions) in some firmware that exactly one
    supplier provides; ``critical``: suppliers whose :func:`loss` cuts off at least one
    vehicle; ``unknown_provenance``: component keys no supplier provides.

    >>> from ecuscan.graph.synth import tiny_graph
    >>> c = concentration(tiny_graph())
    >>> [(r["supplier"], r["vehicles"]) for r in c.critical]
    [('supplier:acme', 1), ('supplier:rtos', 1)]
    >>> [r["component"] for r in c.single_source], c.unknown_provenance
    (['freertos'], ('mbedtls',))
    """
    sup_rows = []
    crit_rows = []
    for s in graph.nodes_of(NodeKind.SUPPLIER):
        x = exposure(graph, s)
        sup_rows.append({"supplier": s, "tier": graph.attrs(s).get("tier"), "components": len(x.components),
                         "firmware": len(x.firmware), "ecus": len(x.ecus), "vehicles": len(x.vehicles)})
        lo = loss(graph, s)
        if lo.vehicles:
            crit_rows.append({"supplier": s, "tier": graph.attrs(s).get("tier"), "ecus": len(lo.ecus),
                              "vehicles": len(lo.vehicles), "cut_off": list(lo.vehicles)})
    comp_rows = []
    single = []
    unknown = []
    for key, comps in graph.components_by_key.items():
        fws = {f for c in comps for f in graph.component_firmware.get(c, ())}
        ecus = {e for f in fws for e in graph.firmware_ecus.get(f, ())}
        vehicles = {v for e in ecus for v in graph.ecu_vehicles.get(e, ())}
        provs = {p for c in comps for p in graph.component_providers.get(c, ())}
        versions = sorted({graph.attrs(c).get("version", "") for c in comps})
        row = {"component": key, "versions": versions, "providers": sorted(provs), "firmware": len(fws),
               "ecus": len(ecus), "vehicles": len(vehicles)}
        comp_rows.append(row)
        if len(provs) == 1 and fws:
            single.append({"component": key, "supplier": next(iter(provs)), "ecus": len(ecus),
                           "vehicles": len(vehicles)})
        if not provs:
            unknown.append(key)

    def rank(r: Mapping[str, Any]) -> tuple[int, int, str]:
        return (-int(r["vehicles"]), -int(r["ecus"]), str(r.get("supplier") or r.get("component")))

    return Concentration(tuple(sorted(sup_rows, key=rank)), tuple(sorted(comp_rows, key=rank)),
                         tuple(sorted(single, key=rank)), tuple(sorted(crit_rows, key=rank)),
                         tuple(sorted(unknown)))
