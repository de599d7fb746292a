"""Graph queries on a portfolio with loose ends (graphs/tests/orphans.yaml), which the small one lacks.

The portfolio, built through the real manifest loader and graph builder as tests/unit/graph/conftest.py does:

* suppliers: t1 (tier 1, sources from osv), t1b (tier 1, sources from no one), osv (provides zlib, every
  version), rtos (provides freertos; nobody sources from it), idle (provides lwIP, which no firmware holds);
* ECUs: main (t1, runs main.bin), shelf (t1, runs shelf.bin and shelf_boot.bin, **no vehicle installs it**),
  blank (t1b, runs blank.bin, **never scanned: no components**), bare (t1b, **no firmware**);
* vehicle car installs main, blank and bare;
* main.bin holds zlib 1.2.11 and freertos 10.4.3; shelf.bin holds zlib 1.3.1 and freertos of **unknown
  version** (scan), and, by its supplier SBOM, mbed TLS 3.6.0 and crc-lib without a version (nobody provides
  those two); shelf_boot.bin is not scanned, its SBOM declares FreeRTOS without a version (the same node).

Firmware node ids: a scanned firmware is named by the scan's sha256 (conftest.scan: 64 hex digits, leading
zeros), an unscanned one by its manifest path, so shelf.bin's id sorts before ``firmware:fw/shelf_boot.bin``.

Every expected answer below is worked out by hand from that list (the working is in the comments), never
read back from ecuscan.
"""

from __future__ import annotations

from typing import Any

import pytest

from ecuscan.graph.build import NodeKind, SupplyGraph, build_graph
from ecuscan.graph.queries import (
    concentration,
    exposure,
    impact,
    loss,
    matcher,
    undeclared_sources,
)
from ecuscan.manifest import load_manifest

from .conftest import GRAPHS, Decl, DeclSbom, catalog, comp, scan
from .synth import tiny_graph

Z11 = "component:pkg:generic/zlib@1.2.11"
Z13 = "component:pkg:generic/zlib@1.3.1"
F104 = "component:pkg:generic/freertos@10.4.3"
FUNK = "component:pkg:generic/freertos"              # freertos, version unknown
MBED = "component:pkg:github/mbed-tls/mbedtls@3.6.0"
CRC = "component:pkg:generic/crc-lib"                # declared without a version
BLANK_FW = "firmware:fw/blank.bin"                 # unscanned firmware is named by its path
BOOT_FW = "firmware:fw/shelf_boot.bin"
CAR = "vehicle:car"
MBED_CPE = "cpe:2.3:a:arm:mbed_tls:3.6.0:*:*:*:*:*:*:*"


@pytest.fixture
def orphans() -> SupplyGraph:
    m = load_manifest(GRAPHS / "orphans.yaml")
    cat = catalog()
    fw = {f.path.rsplit("/", 1)[-1]: f.path for e in m.ecus for f in e.firmware}
    scans = {fw["main.bin"]: scan("main", comp(cat, "zlib", "1.2.11"), comp(cat, "freertos", "10.4.3")),
             fw["shelf.bin"]: scan("shelf", comp(cat, "zlib", "1.3.1"), comp(cat, "freertos", None))}
    declared = {fw["shelf.bin"]: DeclSbom((Decl("mbed TLS", "3.6.0"), Decl("crc-lib", None))),
                fw["shelf_boot.bin"]: DeclSbom((Decl("FreeRTOS", None),))}
    return build_graph(m, scans, declared, cat)


def fw_ids(g: SupplyGraph) -> dict[str, str]:
    """Firmware node id by file name (scanned firmware is named by its sha256, unscanned by its path)."""
    return {d["path"].rsplit("/", 1)[-1]: n for n, d in g.graph.nodes(data=True) if d.get("kind") == "firmware"}


def test_the_portfolio_has_its_loose_ends(orphans: SupplyGraph) -> None:
    g = orphans
    f = fw_ids(g)
    assert set(f) == {"main.bin", "shelf.bin", "shelf_boot.bin", "blank.bin"}
    assert f["blank.bin"] == BLANK_FW and f["shelf_boot.bin"] == BOOT_FW and f["shelf.bin"] < BOOT_FW
    assert orphans.component_firmware[FUNK] == {f["shelf.bin"], BOOT_FW}   # scanned in one, declared in the other
    assert "ecu:shelf" not in g.ecu_vehicles                    # installed by no vehicle
    assert BLANK_FW not in {x for fws in g.component_firmware.values() for x in fws}  # holds nothing
    assert not any(n == "ecu:bare" for fws in g.firmware_ecus.values() for n in fws)  # runs nothing
    # lwIP: idle provides it, no firmware holds it, so it never becomes a node (the builder warns)
    assert "supplier 'idle': provides 'pkg:generic/lwip', which no firmware contains" in g.warnings
    assert "lwip" not in g.components_by_key and "supplier:idle" not in g.supplier_components
    assert sorted(n for n in g.graph if n.startswith("component:")) == sorted([Z11, Z13, F104, FUNK, MBED, CRC])


def test_index_lookups_the_queries_rely_on(orphans: SupplyGraph, small: SupplyGraph) -> None:
    """queries.py reads component_firmware[c] and firmware_ecus[f] without a default, and takes a missing
    "version" attribute for an unknown one: check what that relies on, on both hand-made portfolios."""
    for g in (orphans, small):
        for comps in g.components_by_key.values():
            for c in comps:
                assert g.component_firmware.get(c)               # every component is in some firmware ...
                for f in g.component_firmware[c]:
                    assert g.firmware_ecus.get(f)                # ... and every firmware runs on some ECU
                assert isinstance(g.attrs(c)["version"], str)    # every component carries a version
    assert orphans.attrs(FUNK)["version"] == "" and orphans.attrs(CRC)["version"] == ""


def _indices(g: SupplyGraph) -> dict[str, dict[str, Any]]:
    return {k: {n: frozenset(v) if not isinstance(v, str) else v for n, v in d.items()}
            for k, d in vars(g).items() if isinstance(d, dict)}


def test_queries_leave_the_indices_as_they_are(orphans: SupplyGraph) -> None:
    # the indices are defaultdicts: a query indexing one with a missing key would add it
    before = _indices(orphans)
    for s in orphans.nodes_of(NodeKind.SUPPLIER):
        exposure(orphans, s)
        loss(orphans, s)
    for key in list(orphans.components_by_key):
        r = impact(orphans, key)
        assert r.to_dict(orphans)["query"] == key  # builds every hit
    concentration(orphans)
    undeclared_sources(orphans)
    assert _indices(orphans) == before


# --- concentration: an ECU no vehicle installs -----------------------------------------------------------

def test_concentration_with_an_uninstalled_ecu(orphans: SupplyGraph) -> None:
    c = concentration(orphans)
    rows = {r["component"]: r for r in c.components}
    # zlib: Z11 in main.bin (ECU main, vehicle car), Z13 in shelf.bin (ECU shelf, no vehicle):
    # 2 firmware, 2 ECUs, 1 vehicle; provided by osv only
    assert rows["zlib"] == {"component": "zlib", "versions": ["1.2.11", "1.3.1"], "providers": ["supplier:osv"],
                            "firmware": 2, "ecus": 2, "vehicles": 1}
    # freertos: F104 in main.bin, FUNK (version unknown, "") in shelf.bin and shelf_boot.bin: 3 firmware,
    # ECUs main and shelf, vehicle car; rtos only
    assert rows["freertos"] == {"component": "freertos", "versions": ["", "10.4.3"],
                                "providers": ["supplier:rtos"], "firmware": 3, "ecus": 2, "vehicles": 1}
    # mbed TLS and crc-lib: only in shelf.bin (ECU shelf, no vehicle), provided by nobody
    assert rows["mbedtls"] == {"component": "mbedtls", "versions": ["3.6.0"], "providers": [],
                               "firmware": 1, "ecus": 1, "vehicles": 0}
    assert rows["crclib"] == {"component": "crclib", "versions": [""], "providers": [],
                              "firmware": 1, "ecus": 1, "vehicles": 0}
    # ranked by vehicles, ECUs (both descending), then name
    assert [r["component"] for r in c.components] == ["freertos", "zlib", "crclib", "mbedtls"]
    # single source: the same counts tie, and a single-source row breaks ties by its supplier (osv < rtos)
    assert [(r["component"], r["supplier"], r["ecus"], r["vehicles"]) for r in c.single_source] == [
        ("zlib", "supplier:osv", 2, 1), ("freertos", "supplier:rtos", 2, 1)]
    assert c.unknown_provenance == ("crclib", "mbedtls")
    # suppliers, by exposure along the sourcing chain:
    #   osv: bought by t1 -> ECUs main, shelf; zlib in both; vehicle car (shelf is in none)
    #   t1: ECUs main, shelf, provides nothing; t1b: ECUs blank, bare
    #   rtos, idle: nobody sources from them and they supply no ECU -> nothing
    sup = {r["supplier"]: (r["components"], r["firmware"], r["ecus"], r["vehicles"]) for r in c.suppliers}
    assert sup == {"supplier:osv": (2, 2, 2, 1), "supplier:t1": (0, 0, 2, 1), "supplier:t1b": (0, 0, 2, 1),
                   "supplier:rtos": (0, 0, 0, 0), "supplier:idle": (0, 0, 0, 0)}
    assert [r["supplier"] for r in c.suppliers] == ["supplier:osv", "supplier:t1", "supplier:t1b",
                                                    "supplier:idle", "supplier:rtos"]
    # critical (loss cuts off a vehicle): osv (zlib lost -> main), rtos (freertos lost -> main), t1 (main),
    # t1b (blank, bare); each 2 ECUs and the car; idle cuts off nothing
    assert [(r["supplier"], r["ecus"], r["vehicles"], r["cut_off"]) for r in c.critical] == [
        ("supplier:osv", 2, 1, [CAR]), ("supplier:rtos", 2, 1, [CAR]),
        ("supplier:t1", 2, 1, [CAR]), ("supplier:t1b", 2, 1, [CAR])]


# --- exposure and loss -----------------------------------------------------------------------------------

def test_exposure_reaches_the_uninstalled_ecu_but_no_vehicle_through_it(orphans: SupplyGraph) -> None:
    f = fw_ids(orphans)
    x = exposure(orphans, "osv")
    # osv <- t1 (t1 sources from osv); t1 supplies main and shelf, whose firmware hold Z11 / Z13
    assert dict(x.suppliers) == {"supplier:t1": ("supplier:t1", "supplier:osv")}
    assert x.components == (Z11, Z13)
    assert set(x.firmware) == {f["main.bin"], f["shelf.bin"]}
    assert x.ecus == ("ecu:main", "ecu:shelf") and x.vehicles == (CAR,)
    # rtos provides freertos in main.bin and shelf.bin, but no ECU's tier-1 sources from rtos
    assert exposure(orphans, "rtos").ecus == () and exposure(orphans, "rtos").components == ()
    # t1b: an unscanned firmware and an ECU without firmware, both in the car
    y = exposure(orphans, "t1b")
    assert (y.components, y.firmware, y.ecus, y.vehicles) == ((), (), ("ecu:bare", "ecu:blank"), (CAR,))
    z = exposure(orphans, "idle")   # provides lwIP, which no firmware holds
    assert (dict(z.suppliers), z.components, z.firmware, z.ecus, z.vehicles) == ({}, (), (), (), ())


def test_loss_through_an_uninstalled_ecu(orphans: SupplyGraph) -> None:
    f = fw_ids(orphans)
    lo = loss(orphans, "osv")
    # t1 sources from osv alone -> lost; Z11 and Z13 have osv as only provider -> lost; their firmware
    # main.bin and shelf.bin; ECUs main, shelf; vehicles: main's car (shelf is in none)
    assert lo.suppliers == ("supplier:t1",) and lo.components == (Z11, Z13)
    assert set(lo.firmware) == {f["main.bin"], f["shelf.bin"]}
    assert lo.ecus == ("ecu:main", "ecu:shelf") and lo.vehicles == (CAR,)
    # rtos: F104 and FUNK lost although no ECU's chain reaches rtos (loss is not along the chain)
    lr = loss(orphans, "rtos")
    assert (lr.suppliers, lr.components, lr.ecus, lr.vehicles) == ((), (FUNK, F104), ("ecu:main", "ecu:shelf"), (CAR,))
    assert set(lr.firmware) == {f["main.bin"], f["shelf.bin"], BOOT_FW}
    li = loss(orphans, "idle")
    assert (li.suppliers, li.components, li.firmware, li.ecus, li.vehicles) == ((), (), (), (), ())


# --- impact ----------------------------------------------------------------------------------------------

def test_impact_stops_at_an_uninstalled_ecu(orphans: SupplyGraph) -> None:
    f = fw_ids(orphans)
    r = impact(orphans, "zlib", ">=1.3")
    # only Z13 (1.3.1) matches: shelf.bin -> ECU shelf -> no vehicle
    assert r.components == (Z13,)
    assert r.affected == {"firmware": {f["shelf.bin"]: True}, "ecus": {"ecu:shelf": True}, "vehicles": {}}
    assert r.vehicles == () and r.count("vehicles") == 0
    [h] = r.ecus
    # the tier chain: shelf's supplier t1 sources from osv, which provides Z13
    assert (h.path, h.tier_chain, h.providers, h.connected, h.certain) == (
        (Z13, f["shelf.bin"], "ecu:shelf"), ("supplier:t1", "supplier:osv"), ("supplier:osv",), True, True)
    # the other half: Z11 (1.2.11) only, main.bin -> main -> car
    r = impact(orphans, "zlib", "<1.3")
    assert r.affected == {"firmware": {f["main.bin"]: True}, "ecus": {"ecu:main": True}, "vehicles": {CAR: True}}
    assert [h.path for h in r.vehicles] == [(Z11, f["main.bin"], "ecu:main", CAR)]


def test_impact_with_an_unknown_version_in_the_uninstalled_ecu(orphans: SupplyGraph) -> None:
    f = fw_ids(orphans)
    r = impact(orphans, "freertos", "<11")
    # F104 (10.4.3 < 11) certain; FUNK (no version) cannot be checked: uncertain
    assert r.components == (FUNK, F104)  # by id: ".../freertos" sorts before ".../freertos@10.4.3"
    assert r.affected == {"firmware": {f["main.bin"]: True, f["shelf.bin"]: False, BOOT_FW: False},
                          "ecus": {"ecu:main": True, "ecu:shelf": False}, "vehicles": {CAR: True}}
    ecus = {h.node: h for h in r.ecus}
    # t1's chain (t1 -> osv) reaches no provider of freertos (rtos): the chain is t1 alone, not connected
    assert (ecus["ecu:main"].path, ecus["ecu:main"].tier_chain, ecus["ecu:main"].connected) == (
        (F104, f["main.bin"], "ecu:main"), ("supplier:t1",), False)
    # shelf: both its firmware are uncertain, so the path goes through the smaller id, shelf.bin
    assert ecus["ecu:shelf"].path == (FUNK, f["shelf.bin"], "ecu:shelf") and not ecus["ecu:shelf"].certain
    assert {h.node: h.path[0] for h in r.firmware} == {f["main.bin"]: F104, f["shelf.bin"]: FUNK, BOOT_FW: FUNK}
    r = impact(orphans, "freertos", "<11", include_unknown=False)
    assert r.components == (F104,) and set(r.affected["firmware"]) == {f["main.bin"]}


def test_impact_of_a_cpe_query(orphans: SupplyGraph, small: SupplyGraph) -> None:
    """A CPE resolves to its catalog entry (through the name argument of component_key)."""
    f = fw_ids(orphans)
    assert matcher(orphans, MBED_CPE).key == "mbedtls"
    r = impact(orphans, MBED_CPE)
    # mbed TLS 3.6.0 is declared in shelf.bin only; nobody provides it; shelf is in no vehicle
    assert r.components == (MBED,)
    assert r.affected == {"firmware": {f["shelf.bin"]: True}, "ecus": {"ecu:shelf": True}, "vehicles": {}}
    [h] = r.ecus
    assert (h.tier_chain, h.providers, h.connected) == (("supplier:t1",), (), False)
    # in the small portfolio mbed TLS is in gw_app.bin: ECU gw, vehicles ev27 and van26
    assert set(impact(small, MBED_CPE).affected["vehicles"]) == {"vehicle:ev27", "vehicle:van26"}
    # the CPE's version is matched exactly, as a purl's is; a wildcard version names every version
    assert impact(small, MBED_CPE.replace("3.6.0", "2.0.0")).affected["vehicles"] == {}
    assert set(impact(small, MBED_CPE.replace("3.6.0", "*")).affected["vehicles"]) == {"vehicle:ev27",
                                                                                       "vehicle:van26"}
    assert matcher(small, MBED_CPE.replace("3.6.0", "-")).exact_version is None
    assert matcher(small, MBED_CPE, "<3").exact_version is None  # a range wins over the CPE's version
    assert impact(small, MBED_CPE, "<3").affected["vehicles"] == {}
    # a CPE the catalog does not know, and a plain name that merely starts like one, match nothing
    assert impact(orphans, "cpe:2.3:a:nobody:nothing:1.0:*:*:*:*:*:*:*").components == ()
    assert impact(orphans, "cpe-tools").components == ()
    # the catalog alias and the CPE name the same key
    assert matcher(orphans, "mbedTLS").key == matcher(orphans, MBED_CPE).key


def test_impact_of_a_purl_the_catalog_does_not_know(orphans: SupplyGraph) -> None:
    """A purl is keyed by its package name, also when the catalog does not know it or there is no catalog."""
    f = fw_ids(orphans)
    # crc-lib is in no catalog entry: its key is the folded purl name, "crclib", the key of CRC
    assert matcher(orphans, "pkg:generic/crc-lib@0.3").key == "crclib"
    r = impact(orphans, "pkg:generic/crc-lib")     # no version in the purl: every version
    assert r.components == (CRC,) and set(r.affected["firmware"]) == {f["shelf.bin"]}
    # CRC has no version: an exact purl version cannot be checked against it, so the hit is uncertain
    assert impact(orphans, "pkg:generic/crc-lib@0.3").affected["ecus"] == {"ecu:shelf": False}
    # the tiny graph has no catalog: its firmware declares zlib 1.2.11 (key "zlib") in bcm.elf, ECU bcm
    tiny = tiny_graph()
    assert tiny.catalog is None and matcher(tiny, "pkg:generic/zlib@1.2.11").key == "zlib"
    assert impact(tiny, "pkg:generic/zlib@1.2.11").affected["ecus"] == {"ecu:bcm": True}
    assert impact(tiny, "pkg:generic/zlib@1.3.1").affected["ecus"] == {}


# --- undeclared sources ----------------------------------------------------------------------------------

def test_undeclared_sources_with_unscanned_firmware(orphans: SupplyGraph) -> None:
    f = fw_ids(orphans)
    got = [(u.ecu, u.supplier, u.firmware, u.component, u.elsewhere) for u in undeclared_sources(orphans)]
    # blank (t1b): blank.bin holds nothing -> nothing; bare runs no firmware -> not listed
    # main (t1, chain t1 + osv): F104 provided by rtos only (outside) -> listed; Z11 by osv -> fine
    # shelf (t1, chain t1 + osv), shelf.bin first (smaller id), components by id: crc-lib (nobody),
    # freertos ? (rtos), zlib 1.3.1 (osv, fine), mbed TLS (nobody); shelf_boot.bin holds freertos ? again,
    # already listed for shelf: one entry per ECU and component
    assert got == [
        ("ecu:main", "supplier:t1", f["main.bin"], F104, ("supplier:rtos",)),
        ("ecu:shelf", "supplier:t1", f["shelf.bin"], CRC, ()),
        ("ecu:shelf", "supplier:t1", f["shelf.bin"], FUNK, ("supplier:rtos",)),
        ("ecu:shelf", "supplier:t1", f["shelf.bin"], MBED, ()),
    ]
