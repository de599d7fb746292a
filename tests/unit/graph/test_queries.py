"""Queries on the small hand-checked portfolio (graphs/tests/small.yaml): answers computed by hand."""

from __future__ import annotations

import pytest

from ecuscan.errors import GraphError
from ecuscan.graph.build import build_graph
from ecuscan.graph.provenance import diff_graphs, diff_manifests, provenance
from ecuscan.graph.queries import concentration, exposure, impact, loss, undeclared_sources
from ecuscan.manifest import load_manifest
from ecuscan.model import Relation

from .conftest import GRAPHS, catalog, comp, scan, small_inputs

Z11 = "component:pkg:generic/zlib@1.2.11"
Z13 = "component:pkg:generic/zlib@1.3.1"
F104 = "component:pkg:generic/freertos@10.4.3"
F105 = "component:pkg:generic/freertos@10.5.1"


def fw(g, name):
    return next(n for n, d in g.graph.nodes(data=True) if d.get("kind") == "firmware" and d["path"].endswith(name))


def test_graph_shape(small):
    g = small.graph
    assert {d["kind"] for _, d in g.nodes(data=True)} == {"vehicle", "ecu", "firmware", "component", "supplier"}
    assert g.has_edge("vehicle:ev27", "ecu:bcm", "installs")
    assert g.has_edge("ecu:bcm", fw(small, "bcm_app.bin"), "runs")
    assert g.has_edge("supplier:acme", "ecu:bcm", "supplies")
    assert g.has_edge("supplier:acme", "supplier:rtosco", "sources_from")
    assert g.has_edge("supplier:rtosco", F104, "provides") and g.has_edge("supplier:rtosco", F105, "provides")
    assert g.has_edge("supplier:mirror", Z11, "provides") and g.has_edge("supplier:zlibp", Z11, "provides")
    # lwIP is used (not contained) and provided by no one
    lwip = "component:pkg:generic/lwip"
    assert g.has_edge(fw(small, "esc.bin"), lwip, "uses")
    assert g.nodes[lwip]["unknown_provenance"] is True and g.nodes[Z11]["unknown_provenance"] is False
    # scan and SBOM agree on zlib in gw_app; crc-lib is only declared; mbed TLS folded through the catalog
    gw_app = fw(small, "gw_app.bin")
    assert g.edges[gw_app, Z13, "contains"]["sources"] == {"scan", "declared"}
    assert g.edges[gw_app, Z13, "contains"]["evidence"] == 2
    assert g.edges[gw_app, "component:pkg:generic/crc-lib@0.3", "contains"]["sources"] == {"declared"}
    assert g.edges[gw_app, "component:pkg:github/mbed-tls/mbedtls@3.6.0", "contains"]["sources"] == {"scan", "declared"}
    assert g.edges[fw(small, "bcm_app.bin"), Z11, "contains"]["sources"] == {"scan"}
    assert g.edges[fw(small, "bcm_app.bin"), Z11, "contains"]["evidence"] == 3


def test_impact_zlib_below_1_3(small):
    r = impact(small, "zlib", "<1.3")
    assert r.components == (Z11,)
    assert [h.node for h in r.firmware] == [fw(small, "bcm_app.bin")]
    assert [h.node for h in r.ecus] == ["ecu:bcm"]
    assert [h.node for h in r.vehicles] == ["vehicle:ev27"]
    v = r.vehicles[0]
    assert v.path == (Z11, fw(small, "bcm_app.bin"), "ecu:bcm", "vehicle:ev27")
    assert v.tier_chain == ("supplier:acme", "supplier:zlibp") and v.connected and v.certain
    assert v.providers == ("supplier:mirror", "supplier:zlibp")


def test_impact_freertos_all_and_range(small):
    r = impact(small, "FreeRTOS")
    assert {h.node for h in r.ecus} == {"ecu:bcm", "ecu:gw", "ecu:esc"}
    assert {h.node for h in r.vehicles} == {"vehicle:ev27", "vehicle:van26"}
    esc = next(h for h in r.ecus if h.node == "ecu:esc")
    assert esc.tier_chain == ("supplier:brake", "supplier:rtosco")
    r = impact(small, "pkg:generic/freertos", ">=10.0,<10.5")
    assert {h.node for h in r.ecus} == {"ecu:bcm", "ecu:esc"} and {h.node for h in r.vehicles} == {"vehicle:ev27"}
    # a purl with a version matches that version exactly
    r = impact(small, "pkg:generic/freertos@10.5.1")
    assert r.components == (F105,) and {h.node for h in r.vehicles} == {"vehicle:ev27", "vehicle:van26"}


def test_impact_unknown_version_is_uncertain(small):
    r = impact(small, "lwip", "<2.2")
    assert [h.node for h in r.ecus] == ["ecu:esc"] and r.ecus[0].certain is False
    assert r.ecus[0].connected is False and r.ecus[0].tier_chain == ("supplier:brake",)
    assert impact(small, "lwip", "<2.2", include_unknown=False).ecus == ()
    assert impact(small, "no-such-thing").firmware == ()
    with pytest.raises(GraphError):
        impact(small, "zlib", ">>>nonsense<<<")


def test_impact_answer_before_hits_and_hits_built_once(small):
    r = impact(small, "lwip", "<2.2")  # lwIP version unknown: the range cannot be checked
    assert r.affected == {"firmware": {fw(small, "esc.bin"): False}, "ecus": {"ecu:esc": False},
                          "vehicles": {"vehicle:ev27": False}}
    assert "firmware=1" in repr(r) and r.count("vehicles") == 1
    assert r.ecus is r.ecus and r.vehicles[0].path[:3] == r.ecus[0].path  # built once, shared
    r = impact(small, "zlib")
    assert r.affected["ecus"] == {"ecu:bcm": True, "ecu:gw": True}
    assert r.to_dict(small)["ecus"][0]["tier_chain"][0] == {"supplier": "supplier:acme", "tier": "1"}


def test_exposure(small):
    x = exposure(small, "siliconco")
    assert set(x.suppliers) == {"supplier:rtosco", "supplier:acme", "supplier:brake"}
    assert x.suppliers["supplier:acme"] == ("supplier:acme", "supplier:rtosco", "supplier:siliconco")
    assert x.components == tuple(sorted(["component:pkg:github/arm-software/cmsis_5@5.9.0", F104, F105]))
    assert len(x.firmware) == 4 and x.ecus == ("ecu:bcm", "ecu:esc", "ecu:gw")
    assert x.vehicles == ("vehicle:ev27", "vehicle:van26")
    x = exposure(small, "cryptoco")
    assert set(x.suppliers) == {"supplier:acme"}
    assert x.firmware == (fw(small, "gw_app.bin"),) and x.ecus == ("ecu:bcm", "ecu:gw")
    x = exposure(small, "mirror")  # provides zlib, but no ECU's tier-1 sources from it
    assert x.suppliers == {} and x.components == () and x.ecus == () and x.vehicles == ()
    with pytest.raises(GraphError, match="unknown supplier"):
        exposure(small, "nobody")


def test_loss(small):
    lo = loss(small, "rtosco")
    assert lo.suppliers == ("supplier:brake",)  # brake buys only from rtosco; acme has other sources
    assert lo.components == (F104, F105)
    assert lo.ecus == ("ecu:bcm", "ecu:esc", "ecu:gw") and lo.vehicles == ("vehicle:ev27", "vehicle:van26")
    assert loss(small, "zlibp").components == ()  # mirror still provides zlib
    assert loss(small, "brake").ecus == ("ecu:esc",) and loss(small, "brake").vehicles == ("vehicle:ev27",)
    sil = loss(small, "siliconco")
    assert sil.suppliers == ("supplier:brake", "supplier:rtosco") and len(sil.firmware) == 4


def test_concentration(small):
    c = concentration(small)
    assert [r["supplier"] for r in c.critical] == ["supplier:rtosco", "supplier:siliconco", "supplier:acme",
                                                   "supplier:cryptoco", "supplier:brake"]
    assert {r["component"]: r["supplier"] for r in c.single_source} == {
        "cmsis": "supplier:siliconco", "freertos": "supplier:rtosco", "mbedtls": "supplier:cryptoco"}
    assert c.unknown_provenance == ("crclib", "lwip")  # keys are folded names
    top = c.components[0]
    assert top["component"] == "freertos" and top["ecus"] == 3 and top["vehicles"] == 2
    zl = next(r for r in c.components if r["component"] == "zlib")
    assert zl["versions"] == ["1.2.11", "1.3.1"] and zl["providers"] == ["supplier:mirror", "supplier:zlibp"]
    sup = {r["supplier"]: r for r in c.suppliers}
    assert sup["supplier:siliconco"]["ecus"] == 3 and sup["supplier:mirror"]["vehicles"] == 0  # not in any chain
    assert c.suppliers[0]["vehicles"] == 2


def test_provenance_tree(small):
    t = provenance(small, "gw")
    assert t.supplier.id == "supplier:acme" and t.supplier.tier == "1"
    assert [s.id for s in t.supplier.sources] == ["supplier:cryptoco", "supplier:rtosco", "supplier:zlibp"]
    rt = t.supplier.sources[1]
    assert [s.id for s in rt.sources] == ["supplier:siliconco"] and rt.sources[0].tier == "3"
    assert sorted(f.role for f in t.firmware) == ["application", "bootloader"]
    comps = {c.name: c for f in t.firmware for c in f.components}
    assert comps["zlib"].chains == (("supplier:mirror",), ("supplier:acme", "supplier:zlibp"))
    assert comps["CMSIS"].chains == (("supplier:acme", "supplier:rtosco", "supplier:siliconco"),)
    assert comps["crc-lib"].unknown_provenance and comps["crc-lib"].sources == ("declared",)
    assert t.vehicles == ("vehicle:ev27", "vehicle:van26")
    with pytest.raises(GraphError):
        provenance(small, "nope")


def test_cycles_do_not_loop():
    m = load_manifest(GRAPHS / "cycle.yaml")
    cat = catalog()
    from .conftest import comp, scan
    g = build_graph(m, {m.ecus[0].firmware[0].path: scan("x", comp(cat, "zlib", "1.3.1"), comp(cat, "freertos", "11"))},
                    None, cat)
    assert any("cycle" in w for w in g.warnings)
    x = exposure(g, "c")
    assert set(x.suppliers) == {"supplier:a", "supplier:b"} and x.vehicles == ("vehicle:ev",)
    lo = loss(g, "c")  # b sources only from c, a only from b: the whole ring falls
    assert lo.suppliers == ("supplier:a", "supplier:b") and lo.vehicles == ("vehicle:ev",)
    t = provenance(g, "bcm")
    b = t.supplier.sources[0]
    c = b.sources[0]
    assert c.id == "supplier:c" and {s.id: s.cycle for s in c.sources} == {"supplier:a": True, "supplier:c": True}
    r = impact(g, "freertos")
    assert r.ecus[0].tier_chain == ("supplier:a", "supplier:b", "supplier:c")
    assert concentration(g).critical


def test_diffs(small_manifest, small):
    import dataclasses

    cat = catalog()
    scans, declared = small_inputs(small_manifest, cat)
    bcm_path = small_manifest.ecu("bcm").firmware[0].path
    from .conftest import comp, scan
    scans2 = {**scans, bcm_path: scan("bcm2", comp(cat, "zlib", "1.3.1"), comp(cat, "freertos", "10.4.3"))}
    m2 = dataclasses.replace(small_manifest, vehicles=small_manifest.vehicles[:1],
                             suppliers=tuple(dataclasses.replace(s, tisax="AL2") if s.id == "acme" else s
                                             for s in small_manifest.suppliers))
    g2 = build_graph(m2, scans2, declared, cat)
    d = diff_graphs(small, g2)
    assert d["ecus"]["ecu:bcm"] == {"zlib": {"old": ["1.2.11"], "new": ["1.3.1"]}}
    assert d["nodes"]["vehicle"] == {"added": [], "removed": ["vehicle:van26"]}
    assert ["vehicle:van26", "ecu:gw"] in [list(e) for e in d["edges"]["installs"]["removed"]]
    md = diff_manifests(small_manifest, m2)
    assert md["removed"] == ["vehicle:van26"]
    assert md["changed"] == {"supplier:acme": {"tisax": {"old": "AL3", "new": "AL2"}}}


def _attribution_graph():
    m = load_manifest(GRAPHS / "attribution.yaml")
    cat = catalog()
    ivi, tcu = (e.firmware[0].path for e in m.ecus)
    scans = {ivi: scan(ivi, comp(cat, "zlib", "1.3.1")),
             tcu: scan(tcu, comp(cat, "zlib", "1.3.1", Relation.USES), comp(cat, "mbedtls", "3.6.0"))}
    return build_graph(m, scans, None, cat)


def test_exposure_follows_the_sourcing_chain_only():
    g = _attribution_graph()
    x = exposure(g, "linuxco")
    # the telematics unit uses the same zlib, but telco never sources from linuxco
    assert x.ecus == ("ecu:ivi",) and x.vehicles == ("vehicle:sedan",)
    assert set(x.suppliers) == {"supplier:infoco"}
    assert x.components == ("component:pkg:generic/zlib@1.3.1",) and len(x.firmware) == 1
    assert exposure(g, "modemco").ecus == ("ecu:tcu",)


def test_component_without_a_provider_in_its_chain_is_an_undeclared_source():
    g = _attribution_graph()
    found = undeclared_sources(g)
    assert [(u.ecu, u.component, u.elsewhere) for u in found] == [
        ("ecu:tcu", "component:pkg:generic/zlib@1.3.1", ("supplier:linuxco",))]
    assert found[0].to_dict()["kind"] == "undeclared-source"


def test_undeclared_sources_on_the_small_portfolio(small):
    found = {(u.ecu, u.component) for u in undeclared_sources(small)}
    # brake sources only from rtosco: nothing undeclared for esc unless its firmware holds more
    assert all(e != "ecu:esc" or c.startswith("component:pkg:generic/freertos") is False for e, c in found)
    assert all(u.elsewhere or u.component for u in undeclared_sources(small))


def test_graph_query_with_unscanned_firmware_is_incomplete(tmp_path):
    from click.testing import CliRunner

    from ecuscan.cli import main

    args = ["graph", "exposure", str(GRAPHS / "attribution.yaml"), "linuxco", "--no-scan",
            "--store", str(tmp_path / "empty.sqlite")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 3, r.output  # components unknown: the answer cannot be complete
    assert "INCOMPLETE" in r.output and "not in the store" in " ".join(r.output.split())
    assert CliRunner().invoke(main, [*args, "--allow-incomplete"]).exit_code == 0
