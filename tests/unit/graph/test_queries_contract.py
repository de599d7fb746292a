"""Graph queries, decision by decision, on the small hand-checked portfolio (graphs/tests/small.yaml):
paths and their tie-breaks, certainty, tier chains, JSON forms, exposure chains, loss, rankings.

Every expected answer is worked out by hand from the manifest and the scans in tests/unit/graph/conftest.py
(written out in the comments), not read back from the library.
"""

from __future__ import annotations

import pytest

from ecuscan.errors import GraphError
from ecuscan.graph.build import SupplyGraph
from ecuscan.graph.queries import (
    ComponentMatcher,
    concentration,
    exposure,
    impact,
    loss,
    matcher,
    parse_range,
    sourcing_closure,
    supplier_chain,
    undeclared_sources,
)
from ecuscan.model import Relation

Z11 = "component:pkg:generic/zlib@1.2.11"
Z13 = "component:pkg:generic/zlib@1.3.1"
F104 = "component:pkg:generic/freertos@10.4.3"
F105 = "component:pkg:generic/freertos@10.5.1"
LWIP = "component:pkg:generic/lwip"
CMSIS = "component:pkg:github/arm-software/cmsis_5@5.9.0"
MBED = "component:pkg:github/mbed-tls/mbedtls@3.6.0"
CRC = "component:pkg:generic/crc-lib@0.3"


def fw(g: SupplyGraph, name: str) -> str:
    return next(n for n, d in g.graph.nodes(data=True) if d.get("kind") == "firmware" and d["path"].endswith(name))


# --- ranges and matchers --------------------------------------------------------------------------------

def test_parse_range_forms() -> None:
    assert str(parse_range("<1.3")) == "vers:generic/<1.3.0"
    assert str(parse_range(" >= 1.0 , < 2 ")) == "vers:generic/>=1.0.0|<2.0.0"
    assert str(parse_range(">=1.0|<2")) == "vers:generic/>=1.0.0|<2.0.0"
    assert str(parse_range("vers:generic/>=1.2.0")) == "vers:generic/>=1.2.0"
    with pytest.raises(GraphError, match=r"bad version range '>=<'"):
        parse_range(">=<")
    with pytest.raises(GraphError, match="bad version range"):
        parse_range("vers:nosuchscheme/<1")


def test_matcher_tests() -> None:
    exact = ComponentMatcher("zlib", exact_version="1.2.11")
    assert exact.test("1.2.11") is True and exact.test("1.2.12") is False and exact.test("") is None
    assert ComponentMatcher("zlib").test("") is True and ComponentMatcher("zlib").test("9") is True
    rng = ComponentMatcher("zlib", version_range=parse_range("<1.3"))
    assert rng.test("1.2.11") is True and rng.test("1.3") is False and rng.test("1.3.1") is False
    assert rng.test("") is None


def test_matcher_from_names_and_purls(small: SupplyGraph) -> None:
    m = matcher(small, "pkg:generic/zlib@1.2.11")
    assert m.exact_version == "1.2.11" and m.version_range is None
    m = matcher(small, "pkg:generic/zlib@1.2.11", "<2")   # a range replaces the purl's version
    assert m.exact_version is None and m.version_range is not None
    assert matcher(small, "pkg:generic/zlib").exact_version is None
    assert matcher(small, "libz").key == matcher(small, "zlib").key  # a catalog alias
    with pytest.raises(GraphError, match="bad purl 'pkg:'"):
        matcher(small, "pkg:")


# --- impact ---------------------------------------------------------------------------------------------

def test_impact_of_a_purl_is_its_exact_version(small: SupplyGraph) -> None:
    r = impact(small, "pkg:generic/zlib@1.3.1")
    assert r.components == (Z13,) and r.query == "pkg:generic/zlib@1.3.1"
    assert [h.node for h in r.ecus] == ["ecu:gw"]
    assert [h.node for h in r.vehicles] == ["vehicle:ev27", "vehicle:van26"]


def test_impact_freertos_paths_and_chains(small: SupplyGraph) -> None:
    # 10.4.3 is in bcm_app (bcm, by acme) and esc (esc, by brake); both ECUs are in ev27
    r = impact(small, "freertos", "<10.5")
    assert r.query == "freertos <10.5" and r.components == (F104,)
    bcm_app, esc = fw(small, "bcm_app.bin"), fw(small, "esc.bin")
    assert [(h.node, h.path, h.tier_chain, h.providers, h.connected, h.certain) for h in r.firmware] == sorted([
        (bcm_app, (F104, bcm_app), (), ("supplier:rtosco",), True, True),
        (esc, (F104, esc), (), ("supplier:rtosco",), True, True)])
    assert [(h.node, h.path, h.tier_chain) for h in r.ecus] == [
        ("ecu:bcm", (F104, bcm_app, "ecu:bcm"), ("supplier:acme", "supplier:rtosco")),
        ("ecu:esc", (F104, esc, "ecu:esc"), ("supplier:brake", "supplier:rtosco"))]
    (v,) = r.vehicles
    # the vehicle's path goes through the smallest ECU id of the certain ones: ecu:bcm before ecu:esc
    assert v.node == "vehicle:ev27" and v.path == (F104, bcm_app, "ecu:bcm", "vehicle:ev27")
    assert v.tier_chain == ("supplier:acme", "supplier:rtosco") and v.certain and v.connected
    assert r.affected == {"firmware": {bcm_app: True, esc: True}, "ecus": {"ecu:bcm": True, "ecu:esc": True},
                          "vehicles": {"vehicle:ev27": True}}
    assert (r.count("firmware"), r.count("ecus"), r.count("vehicles")) == (2, 2, 1)
    assert repr(r) == "Impact('freertos <10.5', components=1, firmware=2, ecus=2, vehicles=1)"
    assert r.ecus is r.ecus and r.firmware is r.firmware and r.vehicles is r.vehicles  # built once


def test_impact_every_freertos(small: SupplyGraph) -> None:
    r = impact(small, "freertos")
    assert r.components == (F104, F105)
    gw_app = fw(small, "gw_app.bin")
    hits = {h.node: h for h in r.ecus}
    assert hits["ecu:gw"].path == (F105, gw_app, "ecu:gw")
    assert [h.node for h in r.vehicles] == ["vehicle:ev27", "vehicle:van26"]
    assert r.vehicles[1].path == (F105, gw_app, "ecu:gw", "vehicle:van26")


def test_impact_of_an_unknown_version_is_uncertain(small: SupplyGraph) -> None:
    esc = fw(small, "esc.bin")
    r = impact(small, "lwip", "<3")
    assert r.components == (LWIP,)
    (f,) = r.firmware
    assert (f.node, f.certain, f.connected, f.providers) == (esc, False, False, ())
    (e,) = r.ecus
    # nobody provides lwIP: the chain is the ECU's supplier alone, not connected
    assert (e.path, e.tier_chain, e.connected, e.certain) == ((LWIP, esc, "ecu:esc"), ("supplier:brake",), False,
                                                               False)
    (v,) = r.vehicles
    assert v.certain is False and v.path[-1] == "vehicle:ev27"
    assert r.affected == {"firmware": {esc: False}, "ecus": {"ecu:esc": False}, "vehicles": {"vehicle:ev27": False}}
    r = impact(small, "lwip", "<3", include_unknown=False)
    assert r.components == () and r.firmware == () and r.ecus == () and r.vehicles == ()
    assert r.count("vehicles") == 0
    # without a range every version matches, even an unknown one, for certain
    assert impact(small, "lwip").vehicles[0].certain is True


def test_impact_json(small: SupplyGraph) -> None:
    bcm_app = fw(small, "bcm_app.bin")
    d = impact(small, "zlib", "<1.3").to_dict(small)
    assert d["query"] == "zlib <1.3" and d["components"] == [Z11]
    assert d["firmware"] == [{"node": bcm_app, "path": [Z11, bcm_app], "certain": True, "connected": True,
                              "providers": ["supplier:mirror", "supplier:zlibp"], "tier_chain": []}]
    assert d["ecus"][0]["tier_chain"] == [{"supplier": "supplier:acme", "tier": "1"},
                                          {"supplier": "supplier:zlibp", "tier": "oss"}]
    assert d["vehicles"][0]["node"] == "vehicle:ev27" and d["vehicles"][0]["path"][-1] == "vehicle:ev27"


# --- supplier chains ------------------------------------------------------------------------------------

def test_supplier_chain(small: SupplyGraph) -> None:
    assert supplier_chain(small, "supplier:acme", ["supplier:acme"]) == ("supplier:acme",)
    assert supplier_chain(small, "supplier:acme", ["supplier:siliconco"]) == (
        "supplier:acme", "supplier:rtosco", "supplier:siliconco")
    # two targets: the nearer one
    assert supplier_chain(small, "supplier:acme", ["supplier:siliconco", "supplier:rtosco"]) == (
        "supplier:acme", "supplier:rtosco")
    assert supplier_chain(small, "supplier:brake", ["supplier:zlibp"]) is None
    assert supplier_chain(small, "supplier:acme", []) is None
    assert sourcing_closure(small, "supplier:brake") == {"supplier:brake", "supplier:rtosco", "supplier:siliconco"}
    assert sourcing_closure(small, "supplier:zlibp") == {"supplier:zlibp"}


# --- exposure -------------------------------------------------------------------------------------------

def test_exposure_to_a_tier_3(small: SupplyGraph) -> None:
    x = exposure(small, "siliconco")
    assert x.supplier == "supplier:siliconco"
    assert dict(x.suppliers) == {"supplier:rtosco": ("supplier:rtosco", "supplier:siliconco"),
                                 "supplier:acme": ("supplier:acme", "supplier:rtosco", "supplier:siliconco"),
                                 "supplier:brake": ("supplier:brake", "supplier:rtosco", "supplier:siliconco")}
    # every ECU's tier-1 reaches siliconco; the components those suppliers provide and the ECUs hold
    assert x.ecus == ("ecu:bcm", "ecu:esc", "ecu:gw")
    assert x.components == tuple(sorted((CMSIS, F104, F105)))
    assert x.firmware == tuple(sorted(fw(small, n) for n in ("bcm_app.bin", "esc.bin", "gw_app.bin", "gw_boot.bin")))
    assert x.vehicles == ("vehicle:ev27", "vehicle:van26")
    d = x.to_dict()
    assert list(d["suppliers"]) == ["supplier:acme", "supplier:brake", "supplier:rtosco"]
    assert d["suppliers"]["supplier:acme"] == ["supplier:acme", "supplier:rtosco", "supplier:siliconco"]
    assert d["ecus"] == ["ecu:bcm", "ecu:esc", "ecu:gw"] and d["supplier"] == "supplier:siliconco"
    assert d["components"] == list(x.components) and d["firmware"] == list(x.firmware)
    assert d["vehicles"] == ["vehicle:ev27", "vehicle:van26"]


def test_exposure_to_the_crypto_supplier_only_along_its_chain(small: SupplyGraph) -> None:
    x = exposure(small, "supplier:cryptoco")
    assert dict(x.suppliers) == {"supplier:acme": ("supplier:acme", "supplier:cryptoco")}
    assert x.ecus == ("ecu:bcm", "ecu:gw") and x.components == (MBED,)
    assert x.firmware == (fw(small, "gw_app.bin"),) and x.vehicles == ("vehicle:ev27", "vehicle:van26")
    with pytest.raises(GraphError, match="unknown supplier 'nobody'"):
        exposure(small, "nobody")


# --- loss -----------------------------------------------------------------------------------------------

def test_loss_of_the_rtos_supplier(small: SupplyGraph) -> None:
    lo = loss(small, "rtosco")
    # brake sources only from rtosco: lost; acme has other sources: kept
    assert lo.supplier == "supplier:rtosco" and lo.suppliers == ("supplier:brake",)
    assert lo.components == (F104, F105)
    assert lo.firmware == tuple(sorted(fw(small, n) for n in ("bcm_app.bin", "esc.bin", "gw_app.bin")))
    assert lo.ecus == ("ecu:bcm", "ecu:esc", "ecu:gw") and lo.vehicles == ("vehicle:ev27", "vehicle:van26")
    assert lo.to_dict() == {"supplier": "supplier:rtosco", "suppliers": ["supplier:brake"],
                            "components": [F104, F105], "firmware": list(lo.firmware),
                            "ecus": ["ecu:bcm", "ecu:esc", "ecu:gw"], "vehicles": ["vehicle:ev27", "vehicle:van26"]}


def test_loss_of_a_tier_1_and_of_a_second_source(small: SupplyGraph) -> None:
    lo = loss(small, "brake")   # nobody sources from brake; it supplies esc
    assert lo.suppliers == () and lo.components == () and lo.firmware == ()
    assert lo.ecus == ("ecu:esc",) and lo.vehicles == ("vehicle:ev27",)
    lo = loss(small, "zlibp")   # mirror still provides zlib
    assert lo.components == () and lo.ecus == () and lo.vehicles == ()
    lo = loss(small, "siliconco")  # rtosco still has ... no other source: it falls, and brake with it
    assert lo.suppliers == ("supplier:brake", "supplier:rtosco")
    assert CMSIS in lo.components and F104 in lo.components


# --- rankings -------------------------------------------------------------------------------------------

def test_concentration_rows_and_order(small: SupplyGraph) -> None:
    c = concentration(small)
    rows = {r["supplier"]: r for r in c.suppliers}
    assert rows["supplier:siliconco"] == {"supplier": "supplier:siliconco", "tier": "3", "components": 3,
                                          "firmware": 4, "ecus": 3, "vehicles": 2}
    assert rows["supplier:mirror"] == {"supplier": "supplier:mirror", "tier": "2", "components": 0, "firmware": 0,
                                       "ecus": 0, "vehicles": 0}
    # ranked by vehicles, then ECUs (both descending), then id
    keys = [(-r["vehicles"], -r["ecus"], r["supplier"]) for r in c.suppliers]
    assert keys == sorted(keys) and c.suppliers[-1]["supplier"] == "supplier:mirror"
    # rtosco and siliconco: 3 ECUs each; acme, cryptoco, zlibp: 2 ECUs, 2 vehicles, by id
    assert [r["supplier"] for r in c.suppliers][:5] == ["supplier:rtosco", "supplier:siliconco", "supplier:acme",
                                                        "supplier:cryptoco", "supplier:zlibp"]
    crit = {r["supplier"]: r for r in c.critical}
    # mbed TLS has one provider: losing cryptoco cuts off the gateway
    assert set(crit) == {"supplier:acme", "supplier:brake", "supplier:cryptoco", "supplier:rtosco",
                         "supplier:siliconco"}
    assert crit["supplier:cryptoco"]["cut_off"] == ["vehicle:ev27", "vehicle:van26"]
    assert crit["supplier:cryptoco"]["ecus"] == 1
    assert crit["supplier:brake"] == {"supplier": "supplier:brake", "tier": "1", "ecus": 1, "vehicles": 1,
                                      "cut_off": ["vehicle:ev27"]}
    assert [r["supplier"] for r in c.critical][-1] == "supplier:brake"
    comps = {r["component"]: r for r in c.components}
    z = comps[next(k for k in comps if "zlib" in k)]
    assert z["versions"] == ["1.2.11", "1.3.1"] and z["providers"] == ["supplier:mirror", "supplier:zlibp"]
    assert (z["firmware"], z["ecus"], z["vehicles"]) == (2, 2, 2)
    single = {r["component"]: r for r in c.single_source}
    assert {r["supplier"] for r in single.values()} == {"supplier:rtosco", "supplier:siliconco", "supplier:cryptoco"}
    f = single[next(k for k in single if "freertos" in k)]
    assert (f["supplier"], f["ecus"], f["vehicles"]) == ("supplier:rtosco", 3, 2)
    # lwIP and crc-lib: provided by no one
    assert len(c.unknown_provenance) == 2 and all(("lwip" in k) or ("crc" in k) for k in c.unknown_provenance)
    d = c.to_dict()
    assert set(d) == {"suppliers", "components", "single_source", "critical", "unknown_provenance"}
    assert d["suppliers"] == list(c.suppliers) and d["unknown_provenance"] == list(c.unknown_provenance)


def test_undeclared_sources_json(small: SupplyGraph) -> None:
    found = undeclared_sources(small)
    assert [(u.ecu, u.supplier, u.component, u.elsewhere) for u in found] == [
        ("ecu:esc", "supplier:brake", LWIP, ()), ("ecu:gw", "supplier:acme", CRC, ())]
    assert found[1].to_dict() == {"kind": "undeclared-source", "ecu": "ecu:gw", "supplier": "supplier:acme",
                                  "firmware": fw(small, "gw_app.bin"), "component": CRC,
                                  "provided_elsewhere_by": []}


# --- shapes the small portfolio does not have ----------------------------------------------------------

def test_range_text_forms_that_need_cleaning() -> None:
    assert str(parse_range(">=1.0,,<2")) == "vers:generic/>=1.0.0|<2.0.0"   # empty parts dropped
    assert str(parse_range("< 2")) == "vers:generic/<2.0.0"                 # spaces inside a part


def test_component_rows_ranked_with_ties_broken_by_key(small: SupplyGraph) -> None:
    c = concentration(small)
    # freertos: 3 ECUs, 2 vehicles; zlib: 2, 2; cmsis, crclib, mbedtls: 1 ECU (gw), 2 vehicles; lwip: 1, 1
    assert [r["component"] for r in c.components] == ["freertos", "zlib", "cmsis", "crclib", "mbedtls", "lwip"]
    assert {r["component"]: r["versions"] for r in c.components}["lwip"] == [""]   # unknown version
    # single-source rows carry their supplier, and ties are broken by it: cryptoco before siliconco
    assert [r["component"] for r in c.single_source] == ["freertos", "mbedtls", "cmsis"]


class _Sources:
    """Only what supplier_chain reads: supplier -> the suppliers it sources from."""

    def __init__(self, sources: dict[str, set[str]]) -> None:
        self.sources = sources


def test_supplier_chain_skips_visited_suppliers_and_goes_on() -> None:
    # from s: a and b; a's sources in order are b (already queued) and z (the goal)
    g = _Sources({"s": {"a", "b"}, "a": {"b", "z"}, "b": set()})
    assert supplier_chain(g, "s", ["z"]) == ("s", "a", "z")  # type: ignore[arg-type]
    assert supplier_chain(g, "s", ["q"]) is None  # type: ignore[arg-type]


def _variant(small_manifest, gw_boot_components):  # type: ignore[no-untyped-def]
    from ecuscan.graph.build import build_graph

    from .conftest import catalog, scan, small_inputs
    cat = catalog()
    scans, declared = small_inputs(small_manifest, cat)
    boot = next(p for p in scans if p.endswith("gw_boot.bin"))
    scans[boot] = scan("gw_boot", *gw_boot_components(cat))
    return build_graph(small_manifest, scans, declared, cat)


def test_an_ecu_path_prefers_its_certain_firmware(small_manifest) -> None:  # type: ignore[no-untyped-def]
    from .conftest import comp
    # the gateway's boot loader holds zlib of unknown version, its application zlib 1.3.1
    g = _variant(small_manifest, lambda cat: (comp(cat, "zlib", None),))
    r = impact(g, "zlib", "<2")
    gw = {h.node: h for h in r.ecus}["ecu:gw"]
    assert gw.certain and gw.path == (Z13, fw(g, "gw_app.bin"), "ecu:gw")
    assert r.affected["firmware"][fw(g, "gw_boot.bin")] is False


def test_undeclared_sources_with_an_empty_firmware_and_one_more_firmware(small_manifest) -> None:  # type: ignore[no-untyped-def]
    g = _variant(small_manifest, lambda cat: ())   # the boot loader's scan found nothing
    assert [(u.ecu, u.component) for u in undeclared_sources(g)] == [("ecu:esc", LWIP), ("ecu:gw", CRC)]
    assert concentration(g).components  # a firmware without components is no problem
    from .conftest import comp
    g = _variant(small_manifest, lambda cat: (comp(cat, "lwip", None, Relation.USES),))
    found = [(u.ecu, u.component) for u in undeclared_sources(g)]
    # sorted by ECU, then firmware id (a hash here, so gw_app and gw_boot come in either order)
    assert found[0] == ("ecu:esc", LWIP) and sorted(found[1:]) == [("ecu:gw", CRC), ("ecu:gw", LWIP)]
