"""Exports (GraphML, GEXF, DOT, JSON, SVG with hostile labels) and the ``ecuscan graph`` commands."""

from __future__ import annotations

import json
import shutil
from xml.etree import ElementTree

import networkx as nx
from click.testing import CliRunner

from ecuscan.cli import main
from ecuscan.graph.export import MARK_STYLE, to_dot, to_gexf, to_graphml, to_json, to_svg

from .conftest import GRAPHS
from .synth import tiny_graph

EVIL = '<script>alert("x")</script>&\x1b[31m'


def evil_graph():
    g = tiny_graph()
    g.graph.nodes["supplier:acme"]["label"] = EVIL
    return g


def test_graphml_gexf_json_round_trip(tmp_path):
    g = tiny_graph()
    (tmp_path / "g.graphml").write_text(to_graphml(g))
    back = nx.read_graphml(tmp_path / "g.graphml")
    assert set(back.nodes) == set(g.graph.nodes) and back.number_of_edges() == g.graph.number_of_edges()
    assert back.nodes["supplier:zlib"]["tier"] == "oss"
    (tmp_path / "g.gexf").write_text(to_gexf(g))
    assert set(nx.read_gexf(tmp_path / "g.gexf").nodes) == set(g.graph.nodes)
    data = json.loads(to_json(g))
    edge = next(e for e in data["edges"] if e["key"] == "contains" and "zlib" in e["target"])
    assert edge["sources"] == "declared" and edge["source"] == "firmware:bcm.elf"


def test_dot_escapes_and_parses_when_graphviz_present(tmp_path):
    dot = to_dot(evil_graph(), highlight={"supplier:acme"})
    assert '\\"x\\"' in dot and "\x1b" not in dot and "fillcolor" in dot
    assert dot.count("->") == tiny_graph().graph.number_of_edges()
    if shutil.which("dot"):
        import subprocess
        (tmp_path / "g.dot").write_text(dot)
        subprocess.run(["dot", "-Tsvg", str(tmp_path / "g.dot")], check=True, capture_output=True)


def test_svg_is_self_contained_and_escaped():
    svg = to_svg(evil_graph(), highlight={"component:pkg:generic/zlib@1.2.11"})
    root = ElementTree.fromstring(svg)  # well-formed XML despite the hostile label
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(t.startswith("<script>") for t in texts)  # shown as text, not markup
    assert "<script" not in svg and "\x1b" not in svg and "href" not in svg and "url(" not in svg
    assert MARK_STYLE["vulnerable"][1] in svg and "⚠ vulnerable" in svg  # the highlighted node
    # bands: suppliers (oss on top, then tier 2, tier 1) above components above firmware, ECUs, vehicles
    ys = {}
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        ys[g.find("{http://www.w3.org/2000/svg}title").text] = float(g.find("{http://www.w3.org/2000/svg}rect").get("y"))
    assert ys["supplier:zlib"] < ys["supplier:rtos"] < ys["supplier:acme"] < ys["component:pkg:generic/zlib@1.2.11"]
    assert ys["component:pkg:generic/zlib@1.2.11"] < ys["firmware:bcm.elf"] < ys["ecu:bcm"] < ys["vehicle:ev"]


def run(*args):
    r = CliRunner().invoke(main, ["graph", *args], catch_exceptions=False)
    return r


def test_cli_validate_and_errors(tmp_path):
    r = run("validate", str(GRAPHS / "small.yaml"), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["ecus"] == 3
    r = run("validate", str(GRAPHS / "cycle.yaml"))
    assert r.exit_code == 0 and "sourcing cycle" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: ecuscan/manifest/v1\nsuppliers: []\necus: [{id: e, supplier: x}]\nvehicles: []\n")
    r = run("validate", str(bad))
    assert r.exit_code == 2
    assert "bad.yaml:3: ecus[0].supplier: unknown supplier 'x'" in " ".join(r.output.split())


def test_cli_queries_json(tmp_path):
    m = str(GRAPHS / "small.yaml")
    # placeholder firmware holds no components: everything comes from the manifest alone
    r = run("impact", m, "zlib", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["ecus"] == [] and any("no firmware contains" in w for w in doc["warnings"])
    r = run("exposure", m, "rtosco", "--json")
    doc = json.loads(r.output)
    assert doc["ecus"] == ["ecu:bcm", "ecu:esc", "ecu:gw"] and doc["loss"]["suppliers"] == ["supplier:brake"]
    r = run("concentration", m, "--json")
    assert [c["supplier"] for c in json.loads(r.output)["critical"]][:2] == ["supplier:acme", "supplier:brake"]
    r = run("provenance", m, "bcm", "--json")
    assert json.loads(r.output)["supplier"]["sources_from"][0]["id"] == "supplier:cryptoco"
    r = run("provenance", m, "bcm")
    assert r.exit_code == 0 and "supplier:rtosco" in r.output
    r = run("diff", m, str(GRAPHS / "cycle.yaml"), "--json")
    assert "vehicle:van26" in json.loads(r.output)["manifest"]["removed"]
    r = run("exposure", m, "nobody")
    assert r.exit_code == 2 and "unknown supplier" in r.output
    for fmt in ("graphml", "gexf", "dot", "json", "svg"):
        out = tmp_path / f"g.{fmt}"
        r = run("export", m, "--format", fmt, "-o", str(out), "--around", "ecu:bcm", "--highlight", "ecu:bcm")
        assert r.exit_code == 0, r.output
        assert "ecu:bcm" in out.read_text()


def test_svg_of_a_large_portfolio_is_collapsed_around_the_marks():
    from ecuscan.graph.build import NodeKind, build_graph

    from .synth import portfolio

    p = portfolio(vehicles=6, ecu_variants=120, ecus_per_vehicle=30, releases=1, component_names=150, versions=2,
                  components_per_firmware=12, tier1=12, tier2=30, tier3=30, oss=40)
    g = build_graph(p.manifest, p.scans)
    comp = sorted(g.nodes_of(NodeKind.COMPONENT))[-1]  # a rarely used component: it survives the cut only if marked
    marks = {comp: ["vulnerable"], "ecu:ecu00077": ["drifted"]}
    svg = to_svg(g, marks=marks, title="portfolio")
    root = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    drawn = {gr.find(f"{ns}title").text for gr in root.iter(f"{ns}g")}
    assert comp in drawn and "ecu:ecu00077" in drawn  # every marked node is drawn
    assert len(drawn) < 150  # hundreds of nodes collapse into a readable picture
    texts = [t.text or "" for t in root.iter(f"{ns}text")]
    assert any(t.startswith("collapsed view:") for t in texts)
    assert any(t.startswith("+") and t.endswith(" more") for t in texts)  # the rest counted, not dropped silently
    assert root.get("width") == "100%" and float(root.get("viewBox").split()[2]) <= 1180
    # the vulnerable component's path up to its ECUs is drawn in the mark's colour
    assert svg.count(f'stroke="{MARK_STYLE["vulnerable"][1]}" stroke-width="1.8"') >= 1
