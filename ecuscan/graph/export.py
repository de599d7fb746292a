"""Exports of the supply-chain graph: GraphML, GEXF, DOT, node-link JSON and an SVG picture.

GraphML, GEXF and node-link JSON are written by networkx (attributes flattened to strings,
numbers and booleans first). DOT is written by hand: pydot is not a dependency and the
format is a few lines; every id and label is quoted and escaped. The SVG is laid out here
too, because Graphviz may be absent on an offline lab machine: nodes sit in horizontal
bands by kind (suppliers by tier, then components, firmware, ECUs, vehicles), ordered inside
a band by the mean position of their neighbours in the band above (one barycentre sweep).
Labels come from hostile input (SBOMs, firmware strings), so every text is XML-escaped and
cut, and the picture references nothing outside itself.
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection, Iterable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import networkx as nx

from ..textsafe import printable
from .build import NodeKind, SupplyGraph, kind_of


def _flat(value: Any) -> str | int | float | bool:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, frozenset | set | list | tuple):
        return ",".join(sorted(str(v) for v in value))
    return str(value)


def flat_graph(graph: SupplyGraph) -> nx.MultiDiGraph[str]:
    """A copy of the graph whose attributes are all scalars (what GraphML/GEXF can hold)."""
    g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    g.add_nodes_from((n, {k: _flat(v) for k, v in d.items() if v is not None}) for n, d in graph.graph.nodes(data=True))
    g.add_edges_from((u, v, k, {a: _flat(b) for a, b in d.items() if b is not None})
                     for u, v, k, d in graph.graph.edges(keys=True, data=True))
    return g


def to_graphml(graph: SupplyGraph) -> str:
    """GraphML text.

    >>> from ecuscan.graph.synth import tiny_graph
    >>> "supplier:acme" in to_graphml(tiny_graph())
    True
    """
    buf = io.BytesIO()
    nx.write_graphml(flat_graph(graph), buf)
    return buf.getvalue().decode("utf-8")


def to_gexf(graph: SupplyGraph) -> str:
    """GEXF text (Gephi)."""
    buf = io.BytesIO()
    nx.write_gexf(flat_graph(graph), buf)
    return buf.getvalue().decode("utf-8")


def to_node_link(graph: SupplyGraph) -> dict[str, Any]:
    """networkx node-link data (JSON-ready): ``{"nodes": [...], "edges": [...], ...}``."""
    data: dict[str, Any] = nx.node_link_data(flat_graph(graph), edges="edges")
    return data


def to_json(graph: SupplyGraph) -> str:
    """Node-link JSON text."""
    return json.dumps(to_node_link(graph), indent=1, sort_keys=True, ensure_ascii=False)


def _dot_quote(text: str) -> str:
    return '"' + printable(text, 500).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_SHAPES = {"vehicle": "box3d", "ecu": "box", "firmware": "note", "component": "ellipse",
           "supplier": "house", "vulnerability": "octagon"}


def to_dot(graph: SupplyGraph, highlight: Collection[str] = ()) -> str:
    """Graphviz DOT text (written by hand; see the module docstring).

    >>> from ecuscan.graph.synth import tiny_graph
    >>> print(to_dot(tiny_graph()).splitlines()[0])
    digraph "supply_chain" {
    """
    out = ['digraph "supply_chain" {', "  rankdir=TB;"]
    for n, d in sorted(graph.graph.nodes(data=True)):
        style = ', style=filled, fillcolor="#f8d7da"' if n in highlight else ""
        out.append(f"  {_dot_quote(n)} [label={_dot_quote(str(d.get('label', n)))}, "
                   f"shape={_SHAPES.get(str(d.get('kind')), 'ellipse')}{style}];")
    for u, v, k in sorted(graph.graph.edges(keys=True)):
        out.append(f"  {_dot_quote(u)} -> {_dot_quote(v)} [label={_dot_quote(k)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _band(graph: SupplyGraph, n: str) -> int:
    kind = kind_of(n)
    if kind is NodeKind.SUPPLIER:
        tier = str(graph.attrs(n).get("tier", ""))
        # deepest tiers on top, open source above everything
        return -100 if tier == "oss" else -int(tier) if tier.isdigit() else -50
    return {NodeKind.VULNERABILITY: 0, NodeKind.COMPONENT: 1, NodeKind.FIRMWARE: 2, NodeKind.ECU: 3,
            NodeKind.VEHICLE: 4}[kind]


def subgraph_nodes(graph: SupplyGraph, around: Iterable[str], radius: int = 2, limit: int = 300) -> set[str]:
    """Nodes within ``radius`` steps (either direction) of ``around``, at most ``limit``."""
    g = graph.graph
    keep = {n for n in around if n in g}
    frontier = set(keep)
    for _ in range(radius):
        nxt: set[str] = set()
        for n in sorted(frontier):
            for m in sorted({*g.successors(n), *g.predecessors(n)}):
                if m not in keep and len(keep) + len(nxt) < limit:
                    nxt.add(m)
        keep |= nxt
        frontier = nxt
    return keep


def to_svg(graph: SupplyGraph, nodes: Iterable[str] | None = None, highlight: Collection[str] = (),
           *, title: str = "", limit: int = 300) -> str:
    """A self-contained SVG picture of (a subgraph of) the graph, in bands by tier and kind.

    ``nodes`` picks the subgraph (default: the whole graph, cut at ``limit`` nodes);
    ``highlight`` nodes (e.g. vulnerable components) are drawn in red.

    >>> from ecuscan.graph.synth import tiny_graph
    >>> svg = to_svg(tiny_graph(), highlight={"component:pkg:generic/zlib@1.2.11"}, title="<b>")
    >>> svg.startswith("<svg") and "&lt;b&gt;" in svg and "href" not in svg
    True
    """
    g = graph.graph
    chosen = sorted(set(nodes) & set(g) if nodes is not None else set(g))[:limit]
    bands: dict[int, list[str]] = {}
    for n in chosen:
        bands.setdefault(_band(graph, n), []).append(n)
    order = sorted(bands)
    pos: dict[str, tuple[float, float]] = {}
    box_w, box_h, gap_x, gap_y, margin = 150, 34, 20, 70, 20
    width = max((len(bands[b]) for b in order), default=1) * (box_w + gap_x) + 2 * margin
    placed_x: dict[str, float] = {}
    for row, b in enumerate(order):
        members = bands[b]
        if row:
            def bary(n: str) -> float:
                xs = [placed_x[m] for m in (*g.successors(n), *g.predecessors(n)) if m in placed_x]
                return sum(xs) / len(xs) if xs else float("inf")
            members.sort(key=lambda n: (bary(n), n))
        row_w = len(members) * (box_w + gap_x) - gap_x
        x0 = (width - row_w) / 2
        for i, n in enumerate(members):
            x = x0 + i * (box_w + gap_x)
            pos[n] = (x, margin + 30 + row * (box_h + gap_y))
            placed_x[n] = x
    height = margin * 2 + 30 + len(order) * (box_h + gap_y)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="11">',
           f"<title>{escape(printable(title or graph.name or 'supply chain', 200))}</title>",
           '<rect width="100%" height="100%" fill="#ffffff"/>']
    for row, b in enumerate(order):
        band_y = margin + 30 + row * (box_h + gap_y) - 8
        fill = "#f4f6f8" if row % 2 == 0 else "#ffffff"
        svg.append(f'<rect x="0" y="{band_y:.0f}" width="{width:.0f}" height="{box_h + 16}" fill="{fill}"/>')
        name = _band_name(graph, bands[b][0])
        svg.append(f'<text x="4" y="{band_y + 12:.0f}" fill="#667">{escape(name)}</text>')
    for u, v, k in g.edges(keys=True):
        if u in pos and v in pos:
            (x1, y1), (x2, y2) = pos[u], pos[v]
            svg.append(f'<line x1="{x1 + box_w / 2:.1f}" y1="{y1 + box_h / 2:.1f}" x2="{x2 + box_w / 2:.1f}" '
                       f'y2="{y2 + box_h / 2:.1f}" stroke="#99a" stroke-width="1"><title>{escape(k)}</title></line>')
    colours = {"supplier": "#e7f0fd", "component": "#eef7ee", "firmware": "#fdf6e3", "ecu": "#f3eefc",
               "vehicle": "#eceff1", "vulnerability": "#fdecea"}
    for n, (x, y) in pos.items():
        d = g.nodes[n]
        hot = n in highlight
        fill = "#f8d7da" if hot else colours.get(str(d.get("kind")), "#ffffff")
        stroke = "#c0392b" if hot else "#556"
        label = printable(str(d.get("label", n)), 24)
        svg.append(f'<g><title>{escape(printable(n, 300))}</title>'
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{box_w}" height="{box_h}" rx="4" fill="{fill}" '
                   f'stroke="{stroke}" stroke-width="{2 if hot else 1}"/>'
                   f'<text x="{x + box_w / 2:.1f}" y="{y + box_h / 2 + 4:.1f}" text-anchor="middle" '
                   f'data-node={quoteattr(printable(n, 300))}>{escape(label)}</text></g>')
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def _band_name(graph: SupplyGraph, n: str) -> str:
    kind = kind_of(n)
    if kind is NodeKind.SUPPLIER:
        tier = str(graph.attrs(n).get("tier", ""))
        return "open source" if tier == "oss" else f"tier {tier}"
    return {NodeKind.COMPONENT: "components", NodeKind.FIRMWARE: "firmware", NodeKind.ECU: "ECUs",
            NodeKind.VEHICLE: "vehicles", NodeKind.VULNERABILITY: "vulnerabilities"}[kind]
