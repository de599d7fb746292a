"""Exports of the supply-chain graph: GraphML, GEXF, DOT, node-link JSON and an SVG picture.

GraphML, GEXF and node-link JSON are written by networkx (attributes flattened to strings,
numbers and booleans first). DOT is written by hand: pydot is not a dependency and the
format is a few lines; every id and label is quoted and escaped. The SVG is laid out here
too, because Graphviz may be absent on an offline lab machine: nodes sit in horizontal
bands by kind (suppliers by tier, then components, firmware, ECUs, vehicles), ordered inside
a band by the mean position of their neighbours in the band above (one barycentre sweep).
The picture has a fixed width in user units and scales to its container; a band wraps onto a
second row, and a larger band is collapsed around its marked nodes. (``nx.multipartite_layout``
was weighed for this: it centres each layer on one row in normalised coordinates, so wrapping,
collapsing, box sizes and the ordering would all stay here and it would replace one line of
centring arithmetic, at the price of numpy, which no other part of ecuscan needs.)
Labels come from hostile input (SBOMs, firmware strings), so every text is XML-escaped and
cut, and the picture references nothing outside itself.
"""

from __future__ import annotations

import io
import json
import textwrap
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
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

    >>> from tests.unit.graph.synth import tiny_graph
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

    >>> from tests.unit.graph.synth import tiny_graph
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


#: how each finding kind is drawn: (fill, stroke, dashed), in legend order
MARK_STYLE: dict[str, tuple[str, str, bool]] = {
    "vulnerable": ("#f8d7da", "#b3261e", False),
    "undeclared": ("#ffe0b8", "#c25e00", False),
    "drifted": ("#ead7f7", "#7b2cbf", False),
    "unreachable": ("#e2e3e5", "#4b5563", True),
    "missing": ("#fff3bf", "#9a7b00", True),
}
_KIND_FILL = {"supplier": "#e7f0fd", "component": "#eef7ee", "firmware": "#fdf6e3", "ecu": "#f3eefc",
              "vehicle": "#eceff1", "vulnerability": "#fdecea"}
_CHAR_W = 6.1  # mean advance of an 11 px sans-serif character: what the label wrapping assumes


@dataclass
class _Layout:
    width: int
    label_w: int = 92
    margin: int = 12
    gap: int = 12
    box_h: int = 46
    min_box: int = 100
    max_box: int = 170

    def per_row(self) -> int:
        return max(1, int((self.width - self.label_w - self.margin + self.gap) // (self.min_box + self.gap)))

    def box_w(self, n: int) -> float:
        n = min(n, self.per_row())
        avail = self.width - self.label_w - self.margin
        return float(max(self.min_box, min(self.max_box, (avail - (n - 1) * self.gap) / max(n, 1))))


def _wrap(text: str, box_w: float, lines: int = 2) -> list[str]:
    cpl = max(6, int((box_w - 10) / _CHAR_W))
    return textwrap.wrap(text, width=cpl, max_lines=lines, placeholder="…") or [""]


def _collapse(graph: SupplyGraph, members: list[str], cap: int, marks: Mapping[str, Collection[str]],
              near: set[str]) -> tuple[list[str], int]:
    """Keep at most ``cap`` nodes of a band: marked ones first, then those next to a marked
    node, then the best connected; the rest are counted, not drawn."""
    if len(members) <= cap:
        return members, 0
    g = graph.graph
    ranked = sorted(members, key=lambda n: (n not in marks, n not in near, -g.degree(n), n))
    keep = set(ranked[:cap])
    return [n for n in members if n in keep], len(members) - cap


def _finding_paths(graph: SupplyGraph, marks: Mapping[str, Collection[str]]) -> dict[tuple[str, str], str]:
    """Edges from each vulnerable component up to the vehicles that carry it (vehicle → ECU →
    firmware → component), with the colour of the mark."""
    g = graph.graph
    out: dict[tuple[str, str], str] = {}
    colour = MARK_STYLE["vulnerable"][1]
    for node, kinds in marks.items():
        # only a vulnerable version is a problem wherever it goes; an undeclared component is a
        # problem of one supplier's SBOM, not of every firmware that holds the same version
        if "vulnerable" not in kinds or kind_of(node) is not NodeKind.COMPONENT:
            continue
        frontier = {node}
        for edge_kinds in (("contains", "uses"), ("runs",), ("installs",)):
            nxt = set()
            for n in frontier:
                for parent, _, k in g.in_edges(n, keys=True):
                    if k in edge_kinds:
                        out.setdefault((parent, n), colour)
                        nxt.add(parent)
            frontier = nxt
    return out


@dataclass
class _Placement:
    """Where everything of the picture goes."""

    pos: dict[str, tuple[float, float, float]]  # node -> x, y, box width
    more: list[tuple[float, float, float, int, str]]  # "+N more" boxes: x, y, width, count, band name
    bands: list[tuple[float, float, str]]  # band y, height, name
    height: float
    collapsed: bool


def _merge_marks(g: nx.MultiDiGraph[str], marks: Mapping[str, Collection[str]] | None,
                 highlight: Collection[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {n: list(k) for n, k in (marks or {}).items() if n in g}
    for n in highlight:
        if n in g and "vulnerable" not in out.setdefault(n, []):
            out[n].insert(0, "vulnerable")
    return out


def _place(graph: SupplyGraph, chosen: list[str], marks: Mapping[str, Collection[str]], lay: _Layout,
           limit: int, band_rows: int) -> _Placement:
    """Bands top to bottom; inside a band, barycentre order, wrapped rows, the rest collapsed."""
    g = graph.graph
    bands: dict[int, list[str]] = {}
    for n in chosen:
        bands.setdefault(_band(graph, n), []).append(n)
    order = sorted(bands)
    near = {m for n in marks for m in (*g.successors(n), *g.predecessors(n))}
    cap = max(2, min(lay.per_row() * band_rows, limit // max(len(order), 1)))
    placed = _Placement({}, [], [], 0.0, False)
    placed_x: dict[str, float] = {}

    def bary(n: str) -> float:
        xs = [placed_x[m] for m in (*g.successors(n), *g.predecessors(n)) if m in placed_x]
        return sum(xs) / len(xs) if xs else float("inf")

    y: float = lay.margin + 30  # below the legend
    for b in order:
        members, hidden = _collapse(graph, bands[b], cap - 1 if len(bands[b]) > cap else cap, marks, near)
        placed.collapsed |= hidden > 0
        members.sort(key=lambda n: (bary(n), n))
        slots = len(members) + (1 if hidden else 0)
        per_row = min(lay.per_row(), max(slots, 1))
        box_w = lay.box_w(per_row)
        band_h = -(-slots // per_row) * (lay.box_h + 10) + 14
        name = _band_name(graph, members[0]) if members else ""
        placed.bands.append((y, band_h, name))
        for i in range(slots):
            r, c = divmod(i, per_row)
            in_row = min(per_row, slots - r * per_row)
            row_w = in_row * box_w + (in_row - 1) * lay.gap
            x = lay.label_w + (lay.width - lay.label_w - lay.margin - row_w) / 2 + c * (box_w + lay.gap)
            ny = y + 8 + r * (lay.box_h + 10)
            if i < len(members):
                placed.pos[members[i]] = (x, ny, box_w)
                placed_x[members[i]] = x + box_w / 2
            else:
                placed.more.append((x, ny, box_w, hidden, name))
        y += band_h + 26
    placed.height = y + lay.margin - 26
    return placed


def _legend(g: nx.MultiDiGraph[str], marks: Mapping[str, Collection[str]], chosen: list[str],
            placed: _Placement, lay: _Layout) -> list[str]:
    """What each highlight means, with how many nodes carry it."""
    top = lay.margin
    out = [f'<text x="{top}" y="{top + 13}" fill="#334" font-weight="bold">Highlighted:</text>']
    lx = float(top + 84)
    entries = [(f"{kind} ({sum(kind in k for k in marks.values())})", fill, stroke, dashed)
               for kind, (fill, stroke, dashed) in MARK_STYLE.items()]
    if any(g.nodes[n].get("unknown_provenance") for n in chosen):
        entries.append(("no supplier known", "#ffffff", "#556", True))
    for text, fill, stroke, dashed in entries:
        dash = ' stroke-dasharray="4 2"' if dashed else ""
        out.append(f'<rect x="{lx:.0f}" y="{top + 2}" width="16" height="14" rx="3" fill="{fill}" '
                   f'stroke="{stroke}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{lx + 21:.0f}" y="{top + 13}" fill="#334">{escape(text)}</text>')
        lx += 21 + _CHAR_W * len(text) + 14
    if placed.collapsed:
        out.append(f'<text x="{lay.width - top}" y="{top + 13}" text-anchor="end" fill="#667">'
                   f"collapsed view: {len(placed.pos)} of {len(chosen)} nodes drawn</text>")
    for i, (band_y, band_h, name) in enumerate(placed.bands):
        out.append(f'<rect x="0" y="{band_y:.0f}" width="{lay.width}" height="{band_h:.0f}" '
                   f'fill="{"#f4f6f8" if i % 2 == 0 else "#fafbfc"}"/>')
        out.extend(f'<text x="6" y="{band_y + 18 + 13 * j:.0f}" fill="#556" font-weight="bold">{escape(line)}</text>'
                   for j, line in enumerate(_wrap(name, lay.label_w, 2)))
    return out


def _edges(graph: SupplyGraph, marks: Mapping[str, Collection[str]], placed: _Placement, lay: _Layout) -> list[str]:
    """Edges between drawn nodes; a vulnerable component's path on top, in colour."""
    g, pos = graph.graph, placed.pos
    paths = _finding_paths(graph, marks)
    plain: list[str] = []
    hot: list[str] = []
    drawn = sorted((u, v, k) for u in pos for _, v, k in g.out_edges(u, keys=True) if v in pos)
    for u, v, k in drawn:
        (x1, y1, w1), (x2, y2, w2) = sorted((pos[u], pos[v]), key=lambda p: p[1])
        colour = paths.get((u, v))
        (hot if colour else plain).append(
            f'<line x1="{x1 + w1 / 2:.1f}" y1="{y1 + lay.box_h:.1f}" x2="{x2 + w2 / 2:.1f}" y2="{y2:.1f}" '
            f'stroke="{colour or "#9aa3b2"}" stroke-width="{1.8 if colour else 0.8}" '
            f'stroke-opacity="{0.9 if colour else 0.6}"><title>{escape(printable(k, 100))}</title></line>')
    return plain + hot


def _node(n: str, d: Mapping[str, Any], kinds: Sequence[str], at: tuple[float, float, float], lay: _Layout) -> str:
    """One node box: wrapped label, the finding kinds it carries underneath."""
    x, y, box_w = at
    style = MARK_STYLE.get(kinds[0]) if kinds else None
    fill, stroke, dashed = style or (_KIND_FILL.get(str(d.get("kind")), "#ffffff"), "#556",
                                     bool(d.get("unknown_provenance")))
    label = printable(str(d.get("label") or n.split(":", 1)[-1]), 120)
    version = d.get("version") if d.get("kind") == "component" else None
    if version and str(version) not in label:
        label = f"{label} {version}"
    lines = _wrap(label, box_w, 2 if kinds else 3)
    node = quoteattr(printable(n, 300))
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    parts = [f"<g><title>{escape(printable(n, 300))}</title>"
             f'<rect x="{x:.1f}" y="{y:.1f}" width="{box_w:.1f}" height="{lay.box_h}" rx="5" fill="{fill}" '
             f'stroke="{stroke}" stroke-width="{2.2 if kinds else 1}"{dash}/>']
    top = y + (14 if kinds or len(lines) > 2 else 18 if len(lines) == 2 else 27)
    parts.extend(f'<text x="{x + box_w / 2:.1f}" y="{top + 13 * j:.1f}" text-anchor="middle" '
                 f"data-node={node}>{escape(line)}</text>" for j, line in enumerate(lines))
    if kinds:
        tag = _wrap("⚠ " + ", ".join(kinds), box_w, 1)[0]
        parts.append(f'<text x="{x + box_w / 2:.1f}" y="{y + lay.box_h - 6:.1f}" text-anchor="middle" '
                     f'font-size="10" font-weight="bold" fill="{stroke}">{escape(tag)}</text>')
    return "".join(parts) + "</g>"


def _more(x: float, y: float, box_w: float, count: int, name: str, lay: _Layout) -> str:
    return (f"<g><title>{count} more nodes in this band, none of them marked</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{box_w:.1f}" height="{lay.box_h}" rx="5" fill="#ffffff" '
            f'stroke="#9aa3b2" stroke-dasharray="2 2"/>'
            f'<text x="{x + box_w / 2:.1f}" y="{y + 20:.1f}" text-anchor="middle" fill="#556">+{count} more</text>'
            f'<text x="{x + box_w / 2:.1f}" y="{y + 34:.1f}" text-anchor="middle" fill="#778" font-size="10">'
            f"{escape(name)}</text></g>")


def to_svg(graph: SupplyGraph, nodes: Iterable[str] | None = None, highlight: Collection[str] = (),
           *, title: str = "", limit: int = 300, marks: Mapping[str, Collection[str]] | None = None,
           width: int = 1120, band_rows: int = 2) -> str:
    """A self-contained SVG picture of (a subgraph of) the graph, in bands by tier and kind.

    ``nodes`` picks the subgraph (default: the whole graph; at most ``limit`` nodes are drawn);
    ``marks`` maps nodes to the finding kinds drawn on them (:data:`MARK_STYLE`: vulnerable,
    undeclared, drifted, unreachable, missing); ``highlight`` nodes count as vulnerable.
    The picture is ``width`` user units wide and scales to its container (``viewBox``,
    ``width="100%"``); a band wraps onto ``band_rows`` rows, and a band with more nodes than
    that holds is collapsed: its marked nodes and their neighbours are drawn, the rest are
    counted in one "+N more" box, so a large portfolio stays readable instead of a hairball.

    >>> from tests.unit.graph.synth import tiny_graph
    >>> svg = to_svg(tiny_graph(), highlight={"component:pkg:generic/zlib@1.2.11"}, title="<b>")
    >>> svg.startswith("<svg") and "&lt;b&gt;" in svg and "href" not in svg and "viewBox" in svg
    True
    """
    g = graph.graph
    all_marks = _merge_marks(g, marks, highlight)
    chosen = sorted(set(nodes) & set(g) if nodes is not None else set(g))
    lay = _Layout(width=width)
    placed = _place(graph, chosen, all_marks, lay, limit, band_rows)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {placed.height:.0f}" '
           f'preserveAspectRatio="xMinYMin meet" font-family="sans-serif" font-size="11" role="img">',
           f"<title>{escape(printable(title or graph.name or 'supply chain', 200))}</title>",
           f'<rect width="{width}" height="{placed.height:.0f}" fill="#ffffff"/>',
           *_legend(g, all_marks, chosen, placed, lay), *_edges(graph, all_marks, placed, lay)]
    svg.extend(_node(n, g.nodes[n], all_marks.get(n) or [], at, lay) for n, at in placed.pos.items())
    svg.extend(_more(*box, lay) for box in placed.more)
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def _band_name(graph: SupplyGraph, n: str) -> str:
    kind = kind_of(n)
    if kind is NodeKind.SUPPLIER:
        tier = str(graph.attrs(n).get("tier", ""))
        return "open source" if tier == "oss" else f"tier {tier}"
    return {NodeKind.COMPONENT: "components", NodeKind.FIRMWARE: "firmware", NodeKind.ECU: "ECUs",
            NodeKind.VEHICLE: "vehicles", NodeKind.VULNERABILITY: "vulnerabilities"}[kind]
