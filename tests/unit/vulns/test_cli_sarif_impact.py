"""`ecuscan vulns` end to end (real scanner, manifest loader, shipped catalog), SARIF 2.1.0, impact."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from ecuscan.catalog import Catalog, load_catalog
from ecuscan.cli import main
from ecuscan.vulns.impact import Topology, aggregate_impact
from ecuscan.vulns.match import match_components
from ecuscan.vulns.records import Vulnerability
from ecuscan.vulns.sarif import to_sarif
from ecuscan.vulns.vex import apply_vex, parse_openvex

from .vulns_helpers import DATA, component

# The SARIF 2.1.0 requirements our output must meet, written from the OASIS specification
# (sections 3.13 sarifLog, 3.14 run, 3.18 tool, 3.19 toolComponent, 3.27 result, 3.11 message,
# 3.28 location, 3.4 artifactLocation, 3.35 suppression, 3.49 reportingDescriptor).
SARIF_REQUIRED = {
    "type": "object", "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["tool"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string"},
                        "rules": {"type": "array", "items": {
                            "type": "object", "required": ["id"],
                            "properties": {"id": {"type": "string"},
                                           "shortDescription": {"type": "object", "required": ["text"]}}}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["message"],
                    "properties": {
                        "ruleId": {"type": "string"},
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}]},
                        "locations": {"type": "array", "items": {"type": "object", "properties": {
                            "physicalLocation": {"type": "object", "properties": {
                                "artifactLocation": {"type": "object", "properties": {
                                    "uri": {"type": "string"}}}}}}}},
                        "suppressions": {"type": "array", "items": {
                            "type": "object", "required": ["kind"],
                            "properties": {"kind": {"enum": ["inSource", "external"]},
                                           "status": {"enum": ["accepted", "underReview", "rejected"]}}}}}}}}}}}}


def test_sarif_output(catalog: Catalog, vulns: list[Vulnerability]) -> None:
    comps = [component(catalog, "busybox", "1.35.0"), component(catalog, "expat", "2.5.0")]
    findings = match_components(comps, vulns, catalog, firmware_path="fw/tcu.bin!/bin/busybox",
                                firmware_sha256="c" * 64)
    stmts = parse_openvex({"@context": "https://openvex.dev/ns/v0.2.0", "statements": [
        {"vulnerability": {"name": "CVE-2022-28391"}, "status": "not_affected",
         "justification": "vulnerable_code_not_present", "products": [{"@id": "pkg:generic/busybox"}]}]}, "t.json")
    log = to_sarif(apply_vex(findings, stmts))
    jsonschema.validate(log, SARIF_REQUIRED)
    results = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    assert set(results) == {"CVE-2022-28391", "CVE-2022-48174"}  # 42374 (< 1.34.0) is not affected
    assert "CVE-2022-40674" not in results  # expat 2.5.0 is not affected
    assert results["CVE-2022-48174"]["level"] == "error"
    assert results["CVE-2022-48174"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "fw/tcu.bin"
    assert results["CVE-2022-28391"]["suppressions"][0]["kind"] == "external"
    assert "vulnerable_code_not_present" in results["CVE-2022-28391"]["suppressions"][0]["justification"]
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["CVE-2022-48174"]["properties"]["security-severity"] == "9.8"


def test_impact_per_vehicle_ecu_supplier(catalog: Catalog, vulns: list[Vulnerability]) -> None:
    f_bcm = match_components([component(catalog, "expat", "2.4.8")], vulns, catalog, firmware_path="bcm.elf")
    f_gw = match_components([component(catalog, "busybox", "1.37.0"), component(catalog, "curl", "7.88.1")], vulns,
                            catalog, firmware_path="gw.img!/bin/curl")
    topo = Topology(firmware_ecus={"bcm.elf": ("bcm",), "gw.img": ("gw",)},
                    ecu_vehicles={"bcm": ("ev27", "suv28"), "gw": ("ev27",)},
                    ecu_supplier={"bcm": "acme", "gw": "netco"},
                    supplier_sources={"acme": ("xmlco",), "netco": ("curlproj", "bbproj"), "xmlco": ("acme",)},
                    supplier_provides={"xmlco": ("pkg:github/libexpat/libexpat",), "curlproj": ("pkg:generic/curl",),
                                       "bbproj": ("pkg:generic/busybox",)})
    r = aggregate_impact([*f_bcm, *f_gw], topo)
    assert r.vehicle_ecus == {"ev27": ("bcm", "gw"), "suv28": ("bcm",)}
    assert set(r.by_ecu) == {"bcm", "gw"}
    assert len(r.by_ecu["gw"]) == 2  # curl 38545 + 38546; busybox 1.37.0 is not affected
    assert "bbproj" not in r.by_supplier  # nothing exposed in what it provided
    assert len(r.by_supplier["curlproj"]) == 2 and len(r.by_supplier["xmlco"]) == 1
    assert r.by_firmware.keys() == {"bcm.elf", "gw.img"}
    assert r.worst is not None and r.worst.value == "high"


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    fw = tmp_path / "tcu.bin"
    fw.write_bytes(b"junk\0BusyBox v1.35.0 (2022-01-01 00:00:00 UTC) multi-call binary.\0\0"
                   b" deflate 1.2.11 Copyright 1995-2017 Jean-loup Gailly and Mark Adler \0tail")
    (tmp_path / "m.yaml").write_text("""schema: ecuscan/manifest/v1
name: test platform
suppliers:
  - {id: acme, name: ACME Electronics, tier: 1, sources_from: [bbproj]}
  - {id: bbproj, name: BusyBox project, tier: oss, provides: ["pkg:generic/busybox"]}
ecus:
  - id: tcu
    name: Telematics
    supplier: acme
    firmware:
      - {path: tcu.bin, role: application, version: "1.0"}
vehicles:
  - {id: ev27, name: EV 2027, ecus: [tcu]}
""")
    return tmp_path


def test_cli_import_match_sarif_fail_on(bench: Path) -> None:
    if load_catalog().resolve("cpe:2.3:a:busybox:busybox") is None:
        pytest.fail("shipped catalog lacks busybox:busybox")
    env = {"ECUSCAN_STORE": str(bench / "inv.sqlite")}
    run = CliRunner().invoke
    r = run(main, ["vulns", "import", str(DATA / "cve5"), str(DATA / "nvd"), "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["added"] == 24
    r = run(main, ["vulns", "import", str(DATA / "cve5"), str(DATA / "nvd"), "--json"], env=env)
    assert json.loads(r.output)["unchanged"] == 24
    sarif = bench / "out.sarif"
    r = run(main, ["vulns", "match", str(bench / "m.yaml"), "--json", "--sarif", str(sarif)], env=env)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    status = {(f["vuln_id"], f["component"]["version"]): f["status"] for f in doc["findings"]}
    assert status[("CVE-2022-28391", "1.35.0")] == "affected"
    assert status[("CVE-2022-48174", "1.35.0")] == "affected"
    assert status[("CVE-2018-25032", "1.2.11")] == "unknown-range"
    imp = doc["impact"]
    assert imp["vehicle_exposed_ecus"] == {"ev27": ["tcu"]}
    assert len(imp["by_supplier"]["acme"]) == 3 and len(imp["by_supplier"]["bbproj"]) == 2
    jsonschema.validate(json.loads(sarif.read_text()), SARIF_REQUIRED)
    assert run(main, ["vulns", "match", str(bench / "m.yaml"), "--fail-on", "critical"], env=env).exit_code == 1
    vex = bench / "triage.json"
    vex.write_text(json.dumps({"@context": "https://openvex.dev/ns/v0.2.0", "statements": [
        {"vulnerability": {"name": "CVE-2022-48174"}, "status": "not_affected",
         "justification": "vulnerable_code_not_in_execute_path", "products": [{"@id": "ecu:tcu"}]}]}))
    args = ["vulns", "match", str(bench / "m.yaml"), "--vex", str(vex)]
    assert run(main, [*args, "--fail-on", "critical"], env=env).exit_code == 0
    assert run(main, [*args, "--fail-on", "high"], env=env).exit_code == 1
    r = run(main, [*args, "--json"], env=env)
    sup = [f for f in json.loads(r.output)["findings"] if f["vuln_id"] == "CVE-2022-48174"]
    assert sup and sup[0]["suppressed_by"]["justification"] == "vulnerable_code_not_in_execute_path"
    # without a manifest: every scan result in the store (the manifest run cached the scan)
    r = run(main, ["vulns", "match", "--json"], env=env)
    assert {f["vuln_id"] for f in json.loads(r.output)["findings"]} >= {"CVE-2022-28391", "CVE-2022-48174"}
    r = run(main, ["vulns", "vex", str(vex), "--to", "cyclonedx"], env=env)
    assert r.exit_code == 0 and json.loads(r.output)["vulnerabilities"][0]["analysis"]["state"] == "not_affected"


def test_shipped_catalog_knows_the_feed_products() -> None:
    cat = load_catalog()
    for ref, cid in (("cpe:2.3:a:busybox:busybox", "busybox"), ("cpe:2.3:a:libexpat_project:libexpat", "expat"),
                     ("cpe:2.3:a:arm:mbed_tls", "mbedtls"), ("cpe:2.3:a:uclibc-ng_project:uclibc-ng", "uclibc-ng"),
                     ("curl", "curl"), ("uClibC-ng", "uclibc-ng"), ("FreeRTOS-Plus-TCP", "freertos-plus-tcp"),
                     ("pkg:github/zephyrproject-rtos/zephyr", "zephyr")):
        e = cat.resolve(ref)
        assert e is not None and e.id == cid, ref
    assert cat.resolve("cpe:2.3:o:debian:debian_linux") is None
