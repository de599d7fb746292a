"""Index-free brute-force versions of the queries, for verification and benchmarks.

Each function reads only ``graph.graph`` (the networkx MultiDiGraph) and walks all of its
edges, as a query would without :class:`~ecuscan.graph.build.SupplyGraph`'s indices. The
tests check that the indexed queries give identical answers; the benchmark times both.
"""

from __future__ import annotations

from collections import defaultdict

from .build import NodeKind, SupplyGraph, kind_of, node_id
from .queries import matcher


def brute_impact(graph: SupplyGraph, component: str, version_range: str | None = None,
                 include_unknown: bool = True) -> dict[str, dict[str, bool]]:
    """Affected ``firmware``/``ecus``/``vehicles`` → {node: certain}, by a pass over all edges."""
    m = matcher(graph, component, version_range)
    g = graph.graph
    comp: dict[str, bool] = {}
    for n, data in g.nodes(data=True):
        if data.get("kind") == "component" and data.get("key") == m.key:
            ok = m.test(data.get("version", ""))
            if ok or (ok is None and include_unknown):
                comp[n] = bool(ok)
    fw: dict[str, bool] = {}
    runs: list[tuple[str, str]] = []
    installs: list[tuple[str, str]] = []
    for u, v, k in g.edges(keys=True):
        if k in ("contains", "uses") and v in comp:
            fw[u] = fw.get(u, False) or comp[v]
        elif k == "runs":
            runs.append((u, v))
        elif k == "installs":
            installs.append((u, v))
    ecus: dict[str, bool] = {}
    for e, f in runs:
        if f in fw:
            ecus[e] = ecus.get(e, False) or fw[f]
    vehicles: dict[str, bool] = {}
    for v, e in installs:
        if e in ecus:
            vehicles[v] = vehicles.get(v, False) or ecus[e]
    return {"firmware": fw, "ecus": ecus, "vehicles": vehicles}


def brute_exposure(graph: SupplyGraph, supplier: str) -> dict[str, set[str]]:
    """What depends on ``supplier`` along the sourcing chain, grouped by kind (supplier itself excluded):
    its transitive buyers, the ECUs they supply, the components a chain supplier provides that those
    ECUs' firmware holds, that firmware, and the vehicles installing those ECUs (full edge scans)."""
    sid = supplier if supplier.startswith("supplier:") else node_id(NodeKind.SUPPLIER, supplier)
    edges = list(graph.graph.edges(keys=True))
    chain = {sid}
    grew = True
    while grew:  # fixed point over every sources_from edge
        grew = False
        for u, v, k in edges:
            if k == "sources_from" and v in chain and u not in chain:
                chain.add(u)
                grew = True
    ecus = {v for u, v, k in edges if k == "supplies" and u in chain}
    runs = {(u, v) for u, v, k in edges if k == "runs" and u in ecus}
    provided = {v for u, v, k in edges if k == "provides" and u in chain}
    held = {(u, v) for u, v, k in edges if k in ("contains", "uses") and v in provided}
    firmware = {f for _, f in runs}
    out: dict[str, set[str]] = {k.value: set() for k in NodeKind}
    out["supplier"] = chain - {sid}
    out["ecu"] = ecus
    out["component"] = {c for f, c in held if f in firmware}
    out["firmware"] = {f for f, c in held if f in firmware}
    out["vehicle"] = {u for u, v, k in edges if k == "installs" and v in ecus}
    return out


def brute_loss(graph: SupplyGraph, supplier: str) -> dict[str, set[str]]:
    """The AND/OR loss propagation of :func:`~ecuscan.graph.queries.loss`, as a fixpoint
    iteration over every node until nothing changes."""
    sid = supplier if supplier.startswith("supplier:") else node_id(NodeKind.SUPPLIER, supplier)
    g = graph.graph
    out_edges: dict[str, list[tuple[str, str]]] = defaultdict(list)
    in_edges: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for u, v, k in g.edges(keys=True):
        out_edges[u].append((k, v))
        in_edges[v].append((k, u))
    lost = {sid}
    changed = True
    while changed:
        changed = False
        for n in g.nodes:
            if n in lost:
                continue
            kind = kind_of(n)
            outs = out_edges.get(n, [])
            ins = in_edges.get(n, [])
            if kind is NodeKind.SUPPLIER:
                srcs = [v for k, v in outs if k == "sources_from"]
                dead = bool(srcs) and all(s in lost for s in srcs)
            elif kind is NodeKind.COMPONENT:
                provs = [u for k, u in ins if k == "provides"]
                dead = bool(provs) and all(p in lost for p in provs)
            elif kind is NodeKind.FIRMWARE:
                dead = any(v in lost for k, v in outs if k in ("contains", "uses"))
            elif kind is NodeKind.ECU:
                dead = any(v in lost for k, v in outs if k == "runs") or any(
                    u in lost for k, u in ins if k == "supplies")
            elif kind is NodeKind.VEHICLE:
                dead = any(v in lost for k, v in outs if k == "installs")
            else:
                dead = False
            if dead:
                lost.add(n)
                changed = True
    lost.discard(sid)
    out: dict[str, set[str]] = {k.value: set() for k in NodeKind}
    for n in lost:
        out[kind_of(n).value].add(n)
    return out
