"""Independent oracles for the graph queries: brute-force answers that share no code with ecuscan.

Each function reads only the raw networkx graph (``SupplyGraph.graph``: node attributes ``kind``,
``key``, ``version``; edge keys ``installs``, ``runs``, ``contains``, ``uses``, ``provides``,
``supplies``, ``sources_from``) and walks every edge, as the definitions in ecuscan's docs say,
with its own version parsing and its own traversals. Nothing here imports ecuscan, so a bug in
the library's range parsing, indices or traversal cannot be repeated by the oracle that judges it.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

Graph = Any  # a networkx MultiDiGraph; typed loosely so this module needs nothing but the graph


def _kind(node: str) -> str:
    return node.split(":", 1)[0]


def _edges(g: Graph, kind: str) -> list[tuple[str, str]]:
    return [(u, v) for u, v, k in g.edges(keys=True) if k == kind]


# ----------------------------------------------------------------------------- versions and ranges

def version_tuple(text: str) -> tuple[int, ...] | None:
    """``"1.2.0"`` -> (1, 2, 0); anything that is not dot-separated digits -> None (unknown)."""
    if not re.fullmatch(r"\d+(?:\.\d+)*", text or ""):
        return None
    parts = [int(p) for p in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:  # 1.2.0 == 1.2
        parts.pop()
    return tuple(parts)


def parse_constraints(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """``">=1.1,<1.3"``, ``"vers:generic/>=1.2.0"``, ``"<1.1"`` -> [(operator, version)]."""
    text = re.sub(r"^vers:[a-z]+/", "", text.replace(" ", ""))
    out = []
    for part in re.split(r"[,|]", text):
        m = re.fullmatch(r"(>=|<=|!=|>|<|=)?(.+)", part)
        if not m or version_tuple(m.group(2)) is None:
            raise ValueError(f"oracle cannot read constraint {part!r}")
        out.append((m.group(1) or "=", version_tuple(m.group(2)) or ()))
    return out


def in_range(version: str, constraints: list[tuple[str, tuple[int, ...]]]) -> bool | None:
    """All constraints hold (a range like ``>=a,<b`` is their conjunction); None for an unknown version."""
    v = version_tuple(version)
    if v is None:
        return None
    checks = {">=": lambda b: v >= b, "<=": lambda b: v <= b, ">": lambda b: v > b, "<": lambda b: v < b,
              "=": lambda b: v == b, "!=": lambda b: v != b}
    return all(checks[op](bound) for op, bound in constraints)


# ----------------------------------------------------------------------------- queries

def oracle_impact(g: Graph, key: str, version_range: str | None = None,
                  include_unknown: bool = True) -> dict[str, dict[str, bool]]:
    """firmware/ecus/vehicles -> {node: certain} reached from the component nodes of ``key`` whose
    version is in the range (unknown versions included as uncertain when asked)."""
    constraints = parse_constraints(version_range) if version_range else None
    comps: dict[str, bool] = {}
    for n, data in g.nodes(data=True):
        if data.get("kind") != "component" or data.get("key") != key:
            continue
        ok: bool | None = True if constraints is None else in_range(data.get("version") or "", constraints)
        if ok or (ok is None and include_unknown):
            comps[n] = bool(ok)

    def up(targets: dict[str, bool], kinds: tuple[str, ...]) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for u, v, k in g.edges(keys=True):
            if k in kinds and v in targets:
                out[u] = out.get(u, False) or targets[v]
        return out

    firmware = up(comps, ("contains", "uses"))
    ecus = up(firmware, ("runs",))
    vehicles = up(ecus, ("installs",))
    return {"firmware": firmware, "ecus": ecus, "vehicles": vehicles}


def sourcing_chain(g: Graph, supplier: str) -> set[str]:
    """``supplier`` and every supplier that sources from it, directly or through others (its buyers)."""
    buyers: dict[str, set[str]] = {}
    for u, v in _edges(g, "sources_from"):
        buyers.setdefault(v, set()).add(u)
    seen, todo = {supplier}, [supplier]
    while todo:
        for b in buyers.get(todo.pop(), ()):
            if b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def oracle_exposure(g: Graph, supplier: str) -> dict[str, set[str]]:
    """What depends on ``supplier`` along the sourcing chain: its transitive buyers; the ECUs they
    supply; the components a chain member provides that those ECUs' firmware holds; that firmware;
    the vehicles installing those ECUs."""
    chain = sourcing_chain(g, supplier)
    ecus = {v for u, v in _edges(g, "supplies") if u in chain}
    firmware_of_ecus = {v for u, v in _edges(g, "runs") if u in ecus}
    provided = {v for u, v in _edges(g, "provides") if u in chain}
    held = [(u, v) for u, v, k in g.edges(keys=True) if k in ("contains", "uses")
            and u in firmware_of_ecus and v in provided]
    out: dict[str, set[str]] = {k: set() for k in ("vehicle", "ecu", "firmware", "component", "supplier")}
    out["supplier"] = chain - {supplier}
    out["ecu"] = ecus
    out["firmware"] = {f for f, _ in held}
    out["component"] = {c for _, c in held}
    out["vehicle"] = {u for u, v in _edges(g, "installs") if v in ecus}
    return out


def oracle_loss(g: Graph, supplier: str) -> dict[str, set[str]]:
    """Losing ``supplier``: a supplier is lost when every supplier it sources from is lost, a
    component when every provider is, firmware when any component it needs is, an ECU when its
    firmware or its supplier is, a vehicle when any ECU is; iterated until nothing changes."""
    nodes = list(g.nodes)
    outs: dict[str, list[tuple[str, str]]] = {n: [] for n in nodes}
    ins: dict[str, list[tuple[str, str]]] = {n: [] for n in nodes}
    for u, v, k in g.edges(keys=True):
        outs[u].append((k, v))
        ins[v].append((k, u))
    lost = {supplier}

    def gone(n: str) -> bool:
        kind = _kind(n)
        if kind == "supplier":
            src = [v for k, v in outs[n] if k == "sources_from"]
            return bool(src) and all(s in lost for s in src)
        if kind == "component":
            prov = [u for k, u in ins[n] if k == "provides"]
            return bool(prov) and all(p in lost for p in prov)
        if kind == "firmware":
            return any(v in lost for k, v in outs[n] if k in ("contains", "uses"))
        if kind == "ecu":
            return (any(v in lost for k, v in outs[n] if k == "runs")
                    or any(u in lost for k, u in ins[n] if k == "supplies"))
        if kind == "vehicle":
            return any(v in lost for k, v in outs[n] if k == "installs")
        return False

    changed = True
    while changed:
        changed = False
        for n in nodes:
            if n not in lost and gone(n):
                lost.add(n)
                changed = True
    lost.discard(supplier)
    out: dict[str, set[str]] = {k: set() for k in ("vehicle", "ecu", "firmware", "component", "supplier")}
    for n in lost:
        out.setdefault(_kind(n), set()).add(n)
    return out


def shortest_sourcing_distance(g: Graph, start: str, targets: set[str]) -> int | None:
    """Fewest ``sources_from`` hops from ``start`` to any of ``targets`` (0 when start is one), by BFS."""
    nxt: dict[str, list[str]] = {}
    for u, v in _edges(g, "sources_from"):
        nxt.setdefault(u, []).append(v)
    dist = {start: 0}
    queue = deque([start])
    while queue:
        n = queue.popleft()
        if n in targets:
            return dist[n]
        for m in nxt.get(n, ()):
            if m not in dist:
                dist[m] = dist[n] + 1
                queue.append(m)
    return None
