"""``ecuscan graph``: the supply-chain graph of a manifest and its queries."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.tree import Tree

from ..graph.build import SupplyGraph, build_graph
from ..manifest import Manifest, load_manifest
from ..model import Incomplete
from .common import (
    allow_incomplete_option,
    err,
    exit_code,
    handle_errors,
    incomplete_banner,
    json_option,
    out,
    print_json,
    safe,
    store_option,
)

#: Stages whose failure leaves a query's answer INCOMPLETE (exit 3 after the answer, see common.exit_code).
_INCOMPLETE: list[Incomplete] = []


def _build(manifest_path: str, store_url: str | None, scan: bool) -> tuple[Manifest, SupplyGraph, list[str]]:
    """Manifest, graph and warnings. Firmware that could not be scanned (its components unknown) and
    supplier SBOMs that could not be imported are also recorded in :data:`_INCOMPLETE`."""
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..catalog import load_catalog
    from ..graph.inputs import gather_declared, gather_scans

    manifest = load_manifest(manifest_path)
    store = None
    if store_url:
        # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
        from ..store import Store

        store = Store.open(store_url)
    try:
        scans, problems = gather_scans(manifest, store=store, scan=scan)
    finally:
        if store is not None:
            store.close()
    declared, more = gather_declared(manifest)
    _INCOMPLETE.extend(Incomplete("graph", p.split(": ", 1)[0], p) for p in [*problems, *more])
    graph = build_graph(manifest, scans, declared, load_catalog())
    return manifest, graph, [*problems, *more, *graph.warnings]


def _gated(f: Any) -> Any:
    """Run a query command, then exit 3 if its answer is incomplete (``--allow-incomplete`` accepts)."""

    @functools.wraps(f)
    def wrapper(*args: Any, allow_incomplete: bool = False, **kwargs: Any) -> Any:
        _INCOMPLETE.clear()
        result = f(*args, **kwargs)
        _finish(allow_incomplete, bool(kwargs.get("as_json")))
        return result

    return wrapper


def _finish(allow_incomplete: bool, as_json: bool) -> None:
    """Exit 3 when the answer is incomplete (firmware not scanned, SBOM not imported), unless accepted."""
    items, _INCOMPLETE[:] = list(_INCOMPLETE), []
    if items and not as_json:
        incomplete_banner(items, allow_incomplete)
    code = exit_code(False, items, allow_incomplete)
    if code:
        raise SystemExit(code)


def _common(f: Any) -> Any:
    f = json_option(f)
    f = allow_incomplete_option(f)
    f = click.option("--no-scan", "no_scan", is_flag=True,
                     help="Do not scan firmware missing from the store (their components stay unknown).")(f)
    f = store_option(f)
    return f


def _warn(problems: list[str], as_json: bool) -> None:
    for p in problems:
        err.print(f"[yellow]warning:[/] {safe(p, 500)}")


@click.group(name="graph")
def command() -> None:
    """Supply-chain graph of a manifest: suppliers in tiers → components → firmware → ECUs → vehicles."""


@command.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@json_option
@handle_errors
def validate(manifest: str, as_json: bool) -> None:
    """Check a manifest against the v1 schema, ids and files (exit 2 when invalid)."""
    m = load_manifest(manifest)
    doc = {"manifest": manifest, "name": m.name, "suppliers": len(m.suppliers), "ecus": len(m.ecus),
           "vehicles": len(m.vehicles), "firmware": sum(len(e.firmware) for e in m.ecus),
           "warnings": list(m.warnings)}
    if as_json:
        print_json(doc)
        return
    out.print(f"[green]valid[/] {safe(manifest)}: {doc['suppliers']} suppliers, {doc['ecus']} ECUs, "
              f"{doc['firmware']} firmware, {doc['vehicles']} vehicles")
    _warn(list(m.warnings), as_json)


@command.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.argument("component")
@click.option("--range", "version_range", help='Version range: "<1.2.12", ">=1.0,<2" or a vers: string.')
@click.option("--certain-only", is_flag=True, help="Leave out components whose version is unknown.")
@_common
@handle_errors
@_gated
def impact(manifest: str, component: str, version_range: str | None, certain_only: bool,
           store_url: str | None, no_scan: bool, as_json: bool) -> None:
    """Firmware, ECUs and vehicles a component (name, purl or CPE) reaches, with paths and tier chains.

    A purl's or a CPE's version is matched exactly unless a range is given."""
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..graph.queries import impact as run

    _, g, problems = _build(manifest, store_url, not no_scan)
    r = run(g, component, version_range, include_unknown=not certain_only)
    if as_json:
        print_json({**r.to_dict(g), "warnings": problems})
        return
    _warn(problems, as_json)
    out.print(f"{len(r.components)} matching component(s), {len(r.firmware)} firmware, "
              f"{len(r.ecus)} ECUs, {len(r.vehicles)} vehicles")
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..report.terminal import Col, print_table

    rows = []
    for h in (*r.vehicles, *r.ecus, *r.firmware):
        chain = " → ".join(f"{s} (tier {g.attrs(s).get('tier')})" for s in h.tier_chain)
        rows.append([safe(h.node, 300), safe(" → ".join(reversed(h.path)), 1000), safe(chain, 1000),
                     "yes" if h.certain else "version unknown"])
    print_table(out, [Col("affected", key=True), Col("path"), Col("tier chain"), Col("certain")], rows, plain=True)


def _listing(title: str, doc: dict[str, Any], keys: tuple[str, ...]) -> None:
    out.print(title)
    for k in keys:
        items = doc[k]
        out.print(f"  [bold]{k}[/] ({len(items)}): " + safe(", ".join(items), 2000))


@command.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.argument("supplier")
@_common
@handle_errors
@_gated
def exposure(manifest: str, supplier: str, store_url: str | None, no_scan: bool, as_json: bool) -> None:
    """Everything that depends on a supplier through any number of tiers."""
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..graph.queries import exposure as run
    from ..graph.queries import loss

    _, g, problems = _build(manifest, store_url, not no_scan)
    x = run(g, supplier).to_dict()
    lo = loss(g, supplier).to_dict()
    if as_json:
        print_json({**x, "loss": lo, "warnings": problems})
        return
    _warn(problems, as_json)
    x["suppliers"] = [" → ".join(c) for c in x["suppliers"].values()]
    _listing(f"depends on {safe(x['supplier'])}:", x, ("suppliers", "components", "firmware", "ecus", "vehicles"))
    _listing("cut off if it is lost:", lo, ("suppliers", "components", "ecus", "vehicles"))


@command.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--top", default=20, show_default=True, help="Rows per table.")
@_common
@handle_errors
@_gated
def concentration(manifest: str, top: int, store_url: str | None, no_scan: bool, as_json: bool) -> None:
    """Suppliers and components ranked by dependence; single sources; suppliers whose loss cuts vehicles off."""
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..graph.queries import concentration as run

    _, g, problems = _build(manifest, store_url, not no_scan)
    c = run(g)
    if as_json:
        print_json({**c.to_dict(), "warnings": problems})
        return
    _warn(problems, as_json)
    for title, rows, cols in (("suppliers", c.suppliers, ("supplier", "tier", "components", "ecus", "vehicles")),
                              ("components", c.components, ("component", "providers", "firmware", "ecus", "vehicles")),
                              ("single source", c.single_source, ("component", "supplier", "ecus", "vehicles")),
                              ("loss cuts vehicles off", c.critical, ("supplier", "tier", "ecus", "vehicles"))):
        t = Table(*cols, title=title)
        for r in rows[:top]:
            t.add_row(*(safe(", ".join(r[k]) if isinstance(r[k], list) else r[k]) for k in cols))
        out.print(t)
    if c.unknown_provenance:
        out.print("unknown provenance: " + safe(", ".join(c.unknown_provenance), 2000))


@command.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.argument("ecu")
@_common
@handle_errors
@_gated
def provenance(manifest: str, ecu: str, store_url: str | None, no_scan: bool, as_json: bool) -> None:
    """The tree of firmware, components and supplier chains (with tiers) of one ECU."""
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..graph.provenance import SupplierTree
    from ..graph.provenance import provenance as run

    _, g, problems = _build(manifest, store_url, not no_scan)
    p = run(g, ecu)
    if as_json:
        print_json({**p.to_dict(), "warnings": problems})
        return
    _warn(problems, as_json)
    root = Tree(f"[bold]{safe(p.ecu)}[/] {safe(p.name)}")

    def add(node: Tree, s: SupplierTree) -> None:
        mark = " (cycle)" if s.cycle else " (see above)" if s.repeat else ""
        child = node.add(f"{safe(s.id)} tier {safe(s.tier)}{mark}")
        for k in s.sources:
            add(child, k)

    add(root.add("supplier"), p.supplier)
    fw = root.add("firmware")
    for f in p.firmware:
        fn = fw.add(f"{safe(f.path)} {safe(f.role)} {safe(f.version)}")
        for c in f.components:
            who = "; ".join(" → ".join(ch) for ch in c.chains) or "[red]unknown provenance[/]"
            fn.add(f"{safe(c.name)} {safe(c.version)} [{safe(','.join(c.sources))}] ← {who}")
    out.print(root)


@command.command()
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@_common
@handle_errors
@_gated
def diff(old: str, new: str, store_url: str | None, no_scan: bool, as_json: bool) -> None:
    """Compare two manifests (suppliers, ECUs, vehicles) and their graphs (component versions per ECU)."""
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..graph.provenance import diff_graphs, diff_manifests

    ma, ga, pa = _build(old, store_url, not no_scan)
    mb, gb, pb = _build(new, store_url, not no_scan)
    doc = {"manifest": diff_manifests(ma, mb), "graph": diff_graphs(ga, gb)}
    if as_json:
        print_json({**doc, "warnings": [*pa, *pb]})
        return
    _warn([*pa, *pb], as_json)
    md = doc["manifest"]
    for k in ("added", "removed"):
        if md[k]:
            out.print(f"{k}: " + safe(", ".join(md[k]), 2000))
    for n, fields in md["changed"].items():
        for f, ch in fields.items():
            out.print(f"changed {safe(n)} {safe(f)}: {safe(ch['old'], 300)} → {safe(ch['new'], 300)}")
    for e, comps in doc["graph"]["ecus"].items():
        for key, ch in comps.items():
            out.print(f"{safe(e)}: {safe(key)} {safe(','.join(ch['old']) or '-')} → {safe(','.join(ch['new']) or '-')}")


@command.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["graphml", "gexf", "dot", "json", "svg"]), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="File to write.")
@click.option("--around", multiple=True, help="SVG/DOT: only the nodes near these node ids.")
@click.option("--radius", default=2, show_default=True, help="Steps around --around nodes.")
@click.option("--highlight", multiple=True, help="Node ids drawn highlighted (e.g. vulnerable components).")
@click.option("--impact", "impact_of", help="Highlight what this component (name, purl or CPE) reaches.")
@click.option("--range", "version_range", help="Version range for --impact.")
@store_option
@click.option("--no-scan", "no_scan", is_flag=True, help="Do not scan firmware missing from the store.")
@handle_errors
def export(manifest: str, fmt: str, output: str, around: tuple[str, ...], radius: int, highlight: tuple[str, ...],
           impact_of: str | None, version_range: str | None, store_url: str | None, no_scan: bool) -> None:
    """Write the graph as GraphML, GEXF, DOT, node-link JSON, or an SVG picture of a subgraph."""
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..graph import export as ex
    from ..graph.build import SupplyGraph as SG
    from ..graph.queries import impact as run

    _, g, problems = _build(manifest, store_url, not no_scan)
    _warn(problems, False)
    hot = set(highlight)
    if impact_of:
        r = run(g, impact_of, version_range)
        hot.update(r.components)
        hot.update(h.node for h in (*r.firmware, *r.ecus, *r.vehicles))
    if around:
        keep = ex.subgraph_nodes(g, around, radius)
        sub = SG(g.graph.subgraph(keep).copy(), g.name, g.catalog)
    else:
        sub = g
    writers: dict[str, Callable[[SupplyGraph], str]] = {
        "graphml": ex.to_graphml, "gexf": ex.to_gexf, "json": ex.to_json,
        "dot": lambda s: ex.to_dot(s, hot), "svg": lambda s: ex.to_svg(s, highlight=hot)}
    text = writers[fmt](sub)
    Path(output).write_text(text, "utf-8")
    err.print(f"wrote {safe(output)} ({sub.graph.number_of_nodes()} nodes, {sub.graph.number_of_edges()} edges)")
