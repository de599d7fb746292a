"""Queries over the supply-chain graph: impact, exposure, concentration, loss, provenance.

Each query is a plain function of a :class:`~ecuscan.graph.build.SupplyGraph` that walks
the graph's reverse indices, so it touches only the part of the graph it answers about.
Independent brute-force oracles (``tests/unit/graph/oracle.py``, sharing no code with ecuscan) are what
the tests and the benchmark compare these with. Every walk keeps a visited set, so sourcing cycles never loop.

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

Index look-ups: a component node enters the graph only from a firmware's scan or SBOM, and a
firmware only under an ECU of the manifest, so ``component_firmware[c]`` and ``firmware_ecus[f]``
are read directly for the components and firmware of the graph; an ECU no vehicle installs and a
supplier without ECUs or components do occur, so those indices are read with a default.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from packageurl import PackageURL
from univers.version_range import VersionRange
from univers.versions import InvalidVersion

from ..catalog import cpe_version
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
    """Turn a component name, purl or CPE (and an optional range) into a :class:`ComponentMatcher`.

    A purl's or a CPE's version is matched exactly unless ``version_range`` is given."""
    exact = None
    purl = None
    if component.startswith("pkg:"):
        try:
            exact = PackageURL.from_string(component).version
        except ValueError as exc:
            raise GraphError(f"bad purl {component!r}: {exc}") from exc
        purl = component
    elif component.startswith("cpe:"):
        exact = cpe_version(component)  # a CPE with a version names that version only, as a purl does
    # the query goes in as the name: Catalog.resolve reads a CPE there, and for a (valid) purl the
    # purl argument decides the key before the name is looked at
    key = component_key(graph.catalog, component, purl)
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


class Impact:
    """What a component (version range) reaches: firmware, ECUs and vehicles.

    :func:`impact` computes the affected sets and their certainty at once (set operations
    over the reverse indices); the per-node :class:`ImpactHit` records with their paths and
    tier chains are built on first access of :attr:`firmware`, :attr:`ecus` or
    :attr:`vehicles` (then kept), because for a component present in nearly every firmware
    building thousands of path tuples would cost more than finding the nodes.
    :attr:`affected` gives node → certain without building any hit. Hits are read from the
    graph when first asked for, so do not change the graph between the query and reading them.
    """

    def __init__(self, graph: SupplyGraph, query: str, certain: Iterable[str], uncertain: Iterable[str],
                 layers: Mapping[str, tuple[set[str], set[str]]]) -> None:
        self.query = query
        self._graph = graph
        # matched components, certain ones first, each group by id: the order that picks a reason
        self._comp_order = sorted(certain) + sorted(uncertain)
        self.components: tuple[str, ...] = _sorted(self._comp_order)
        self._layers = layers  # "firmware" / "ecus" / "vehicles" -> (certain nodes, uncertain nodes)
        self._hits: dict[str, tuple[ImpactHit, ...]] = {}
        self._ecu_hits: dict[str, ImpactHit] = {}
        self._chains: dict[tuple[str, str], tuple[tuple[str, ...], bool]] = {}
        self._provs: dict[str, tuple[str, ...]] = {}
        self._reason: dict[str, str] | None = None

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={sum(map(len, v))}" for k, v in self._layers.items())
        return f"Impact({self.query!r}, components={len(self.components)}, {sizes})"

    @property
    def affected(self) -> dict[str, dict[str, bool]]:
        """``{"firmware"|"ecus"|"vehicles": {node: certain}}``, without building paths."""
        out = {}
        for layer, (cert, unc) in self._layers.items():
            d = dict.fromkeys(unc, False)
            d.update(dict.fromkeys(cert, True))
            out[layer] = d
        return out

    def count(self, layer: str) -> int:
        """How many nodes of a layer (``firmware``, ``ecus``, ``vehicles``) are affected."""
        cert, unc = self._layers[layer]
        return len(cert) + len(unc)

    @property
    def firmware(self) -> tuple[ImpactHit, ...]:
        """Affected firmware, by id; path component → firmware (a certain component first)."""
        if "firmware" not in self._hits:
            cert = self._layers["firmware"][0]
            hits = []
            for f, c in sorted(self._fw_reason().items()):
                provs = self._providers(c)
                hits.append(ImpactHit(f, (c, f), (), provs, bool(provs), f in cert))  # no ECU: no chain
            self._hits["firmware"] = tuple(hits)
        return self._hits["firmware"]

    @property
    def ecus(self) -> tuple[ImpactHit, ...]:
        """Affected ECUs, by id; path through the smallest certain (else uncertain) firmware."""
        if "ecus" not in self._hits:
            cert, unc = self._layers["ecus"]
            self._hits["ecus"] = tuple(self._ecu_hit(e) for e in sorted(cert | unc))
        return self._hits["ecus"]

    @property
    def vehicles(self) -> tuple[ImpactHit, ...]:
        """Affected vehicles, by id; path through the smallest certain (else uncertain) ECU."""
        if "vehicles" not in self._hits:
            cert, unc = self._layers["vehicles"]
            e_cert, e_unc = self._layers["ecus"]
            succ = self._graph.graph.succ
            hits = []
            for v in sorted(cert | unc):
                _, e = min((e not in e_cert, e) for e in succ[v] if e in e_cert or e in e_unc)
                h = self._ecu_hit(e)
                hits.append(ImpactHit(v, (*h.path, v), h.tier_chain, h.providers, h.connected, v in cert))
            self._hits["vehicles"] = tuple(hits)
        return self._hits["vehicles"]

    def _fw_reason(self) -> dict[str, str]:
        """Firmware -> the component its path goes through (certain first, then smallest id)."""
        if self._reason is None:
            cf = self._graph.component_firmware
            self._reason = {}  # written worst component first, so the best one is written last
            for c in reversed(self._comp_order):
                self._reason.update(dict.fromkeys(cf[c], c))
        return self._reason

    def _providers(self, c: str) -> tuple[str, ...]:
        if c not in self._provs:
            self._provs[c] = _sorted(self._graph.component_providers.get(c, ()))
        return self._provs[c]

    def _ecu_hit(self, e: str) -> ImpactHit:
        hit = self._ecu_hits.get(e)
        if hit is None:
            f_cert, f_unc = self._layers["firmware"]
            _, f = min((f not in f_cert, f) for f in self._graph.graph.succ[e] if f in f_cert or f in f_unc)
            c = self._fw_reason()[f]
            chain, ok = self._chain(e, c)
            hit = self._ecu_hits[e] = ImpactHit(e, (c, f, e), chain, self._providers(c), ok,
                                                e in self._layers["ecus"][0])
        return hit

    def _chain(self, e: str, c: str) -> tuple[tuple[str, ...], bool]:
        sup = self._graph.ecu_supplier[e]  # the manifest gives every ECU a supplier
        if (sup, c) not in self._chains:
            found = supplier_chain(self._graph, sup, self._graph.component_providers.get(c, ()))
            self._chains[sup, c] = (found, True) if found else ((sup,), False)
        return self._chains[sup, c]

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


_EMPTY: frozenset[str] = frozenset()


def _reach(index: Mapping[str, set[str]], nodes: Iterable[str]) -> set[str]:
    """The union of ``index[n]`` over ``nodes`` (done by set.union in C, not a Python loop)."""
    return set().union(*map(index.get, nodes, repeat(_EMPTY)))


def impact(graph: SupplyGraph, component: str, version_range: str | None = None, *,
           include_unknown: bool = True) -> Impact:
    """Firmware, ECUs and vehicles reached by a component, each with its path and tier chain.

    ``component`` is a name, catalog id or purl (a purl's version is matched exactly unless
    ``version_range`` is given: ``"<1.2.12"``, ``">=1.0,<2"`` or a ``vers:`` string).
    Components of unknown version are included as uncertain hits unless ``include_unknown``
    is False. A node's path goes through the certain reason before an uncertain one, then
    through the smallest node id.

    >>> from tests.unit.graph.synth import tiny_graph
    >>> g = tiny_graph()
    >>> r = impact(g, "zlib", "<1.3")
    >>> [h.node for h in r.vehicles], r.vehicles[0].tier_chain
    (['vehicle:ev'], ('supplier:acme', 'supplier:zlib'))
    >>> r.vehicles[0].path
    ('component:pkg:generic/zlib@1.2.11', 'firmware:bcm.elf', 'ecu:bcm', 'vehicle:ev')
    >>> r.affected["ecus"], r.count("firmware")
    ({'ecu:bcm': True}, 1)
    """
    m = matcher(graph, component, version_range)
    cert: list[str] = []
    unc: list[str] = []
    for c in graph.components_by_key.get(m.key, ()):
        ok = m.test(graph.attrs(c).get("version", ""))
        if ok:
            cert.append(c)
        elif ok is None and include_unknown:
            unc.append(c)
    # each layer: certain = reached from a certain node of the layer below; uncertain = the rest
    f_c = _reach(graph.component_firmware, cert)
    f_u = _reach(graph.component_firmware, unc) - f_c
    # an ECU is certain when it runs firmware holding a certain component (component_ecus is
    # component_firmware followed by firmware_ecus, so this is the same as going through f_c)
    e_c = _reach(graph.component_ecus, cert)
    e_u = _reach(graph.component_ecus, unc) - e_c
    v_c = _reach(graph.ecu_vehicles, e_c)
    v_u = _reach(graph.ecu_vehicles, e_u) - v_c
    return Impact(graph, component + (f" {version_range}" if version_range else ""), cert, unc,
                  {"firmware": (f_c, f_u), "ecus": (e_c, e_u), "vehicles": (v_c, v_u)})


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
    through any number of tiers, **along the sourcing chain**: an ECU is exposed only when its
    tier-1's ``sources_from`` closure reaches ``supplier``; a component counts only where such an
    ECU's firmware holds it (a supplier providing zlib to one OEM line is not exposure for an ECU
    whose tier-1 never sources from it, however many other ECUs use zlib). Components in an ECU
    that no supplier of its chain provides are :func:`undeclared_sources`.

    >>> from tests.unit.graph.synth import tiny_graph
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
    ecus = _reach(graph.supplier_ecus, chain_to)
    comps: set[str] = set()
    fws: set[str] = set()
    for c in _reach(graph.supplier_components, chain_to):
        held = {f for f in graph.component_firmware[c] if graph.firmware_ecus[f] & ecus}
        if held:
            comps.add(c)
            fws |= held
    vehicles = _reach(graph.ecu_vehicles, ecus)
    return Exposure(sid, chains, _sorted(comps), _sorted(fws), _sorted(ecus), _sorted(vehicles))


@dataclass(frozen=True)
class UndeclaredSource:
    """A component in an ECU's firmware that no supplier of the ECU's sourcing chain provides.

    ``elsewhere`` are the suppliers outside the chain that do provide it (empty: nobody in the
    manifest does). Finding kind ``undeclared-source``.
    """

    ecu: str
    supplier: str
    firmware: str
    component: str
    elsewhere: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": "undeclared-source", "ecu": self.ecu, "supplier": self.supplier,
                "firmware": self.firmware, "component": self.component, "provided_elsewhere_by": list(self.elsewhere)}


def sourcing_closure(graph: SupplyGraph, supplier_node: str) -> set[str]:
    """``supplier_node`` and every supplier it sources from, through any number of tiers (cycles cut)."""
    seen = {supplier_node}
    stack = [supplier_node]
    while stack:
        for parent in graph.sources.get(stack.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def undeclared_sources(graph: SupplyGraph) -> list[UndeclaredSource]:
    """Every (ECU, firmware, component) whose component no supplier in the ECU's chain provides.

    The chain of an ECU is its supplier plus that supplier's ``sources_from`` closure. Sorted by
    ECU, firmware, component; one entry per ECU and component (the first firmware that holds it).
    """
    fw_components: dict[str, set[str]] = {}
    for c, fws in graph.component_firmware.items():
        for f in fws:
            fw_components.setdefault(f, set()).add(c)
    ecu_firmware: dict[str, set[str]] = {}
    for f, ecus in graph.firmware_ecus.items():
        for e in ecus:
            ecu_firmware.setdefault(e, set()).add(f)
    closures: dict[str, set[str]] = {}
    out: list[UndeclaredSource] = []
    for e in sorted(ecu_firmware):
        sup = graph.ecu_supplier[e]  # the manifest gives every ECU a supplier
        if sup not in closures:
            closures[sup] = sourcing_closure(graph, sup)
        chain = closures[sup]
        seen: set[str] = set()
        for f in sorted(ecu_firmware[e]):
            for c in sorted(fw_components.get(f, ())):
                providers = graph.component_providers.get(c, set())
                if c in seen or providers & chain:
                    continue
                seen.add(c)
                out.append(UndeclaredSource(e, sup, f, c, _sorted(providers)))
    return out


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

    >>> from tests.unit.graph.synth import tiny_graph
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
    fws = {f for c in comps for f in graph.component_firmware[c]}
    ecus = {e for f in fws for e in graph.firmware_ecus[f]}
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

    >>> from tests.unit.graph.synth import tiny_graph
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
        fws = {f for c in comps for f in graph.component_firmware[c]}
        ecus = {e for f in fws for e in graph.firmware_ecus[f]}
        vehicles = {v for e in ecus for v in graph.ecu_vehicles.get(e, ())}  # an ECU may be in no vehicle
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
