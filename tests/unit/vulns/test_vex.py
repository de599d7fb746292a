"""VEX in and out: CycloneDX VEX and OpenVEX, scoped to component, firmware and ECU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ecuscan.catalog import Catalog
from ecuscan.errors import FeedError
from ecuscan.vulns.impact import Topology
from ecuscan.vulns.match import match_components
from ecuscan.vulns.records import Finding, FindingStatus, VexStatus, Vulnerability
from ecuscan.vulns.vex import apply_vex, load_vex, parse_openvex, to_cyclonedx, to_openvex

from .vulns_helpers import component

FW = "a" * 64


def busybox_findings(catalog: Catalog, vulns: list[Vulnerability]) -> list[Finding]:
    return match_components([component(catalog, "busybox", "1.35.0")], vulns, catalog,
                            firmware_sha256=FW, firmware_path="fw/bcm.bin")


def openvex_doc(statements: list[dict]) -> dict:
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x", "author": "test", "timestamp":
            "2025-01-01T00:00:00Z", "version": 1, "statements": statements}


def test_openvex_not_affected_suppresses_but_stays_visible(tmp_path: Path, catalog: Catalog,
                                                           vulns: list[Vulnerability]) -> None:
    p = tmp_path / "triage.openvex.json"
    p.write_text(json.dumps(openvex_doc([
        {"vulnerability": {"name": "CVE-2022-28391"}, "products": [{"@id": "pkg:generic/busybox@1.35.0"}],
         "status": "not_affected", "justification": "vulnerable_code_not_present"},
        {"vulnerability": {"name": "CVE-2022-48174"}, "products": [{"@id": "pkg:generic/busybox"}],
         "status": "under_investigation"}])))
    stmts = load_vex(p)
    findings = {f.vuln_id: f for f in apply_vex(busybox_findings(catalog, vulns), stmts)}
    sup = findings["CVE-2022-28391"]
    assert sup.status is FindingStatus.AFFECTED and not sup.exposed
    assert sup.suppressed_by is not None and sup.suppressed_by.justification == "vulnerable_code_not_present"
    assert findings["CVE-2022-48174"].exposed
    assert findings["CVE-2022-48174"].triage is not None
    assert findings["CVE-2022-48174"].triage.status is VexStatus.UNDER_INVESTIGATION


def test_version_scoped_statement_does_not_cover_other_versions(catalog: Catalog, vulns: list[Vulnerability]) -> None:
    stmts = parse_openvex(openvex_doc([
        {"vulnerability": {"name": "CVE-2022-48174"}, "products": [{"@id": "pkg:generic/busybox@1.36.0"}],
         "status": "fixed"}]), "x")
    (f,) = [f for f in apply_vex(busybox_findings(catalog, vulns), stmts) if f.vuln_id == "CVE-2022-48174"]
    assert f.suppressed_by is None and f.exposed


def test_firmware_and_ecu_scopes(catalog: Catalog, vulns: list[Vulnerability]) -> None:
    stmts = parse_openvex(openvex_doc([
        {"vulnerability": {"name": "CVE-2022-28391"}, "products": [{"@id": f"sha256:{'b' * 64}"}],
         "status": "not_affected", "justification": "component_not_present"},
        {"vulnerability": {"name": "CVE-2022-48174"}, "products": [{"@id": "ecu:bcm"}],
         "status": "fixed"}]), "x")
    topo = Topology(firmware_ecus={"fw/bcm.bin": ("bcm",)})
    got = {f.vuln_id: f for f in apply_vex(busybox_findings(catalog, vulns), stmts, topo.ecus_of)}
    assert got["CVE-2022-28391"].suppressed_by is None  # other firmware hash
    assert got["CVE-2022-48174"].status is FindingStatus.FIXED and not got["CVE-2022-48174"].exposed
    other = Topology(firmware_ecus={"fw/bcm.bin": ("gateway",)})
    got2 = {f.vuln_id: f for f in apply_vex(busybox_findings(catalog, vulns), stmts, other.ecus_of)}
    assert got2["CVE-2022-48174"].exposed  # the statement is about ECU bcm only


def test_cyclonedx_vex_in(tmp_path: Path, catalog: Catalog, vulns: list[Vulnerability]) -> None:
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
           "components": [{"type": "library", "bom-ref": "bb", "name": "busybox", "purl": "pkg:generic/busybox@1.35.0"},
                          {"type": "firmware", "bom-ref": "fw", "name": "bcm",
                           "hashes": [{"alg": "SHA-256", "content": FW}]}],
           "vulnerabilities": [
               {"id": "CVE-2022-28391", "analysis": {"state": "not_affected", "justification": "code_not_reachable",
                                                     "detail": "netstat applet not built"},
                "affects": [{"ref": "bb"}]},
               {"id": "CVE-2022-48174", "analysis": {"state": "exploitable"}, "affects": [{"ref": "fw"}]}]}
    p = tmp_path / "vex.cdx.json"
    p.write_text(json.dumps(doc))
    got = {f.vuln_id: f for f in apply_vex(busybox_findings(catalog, vulns), load_vex(p))}
    assert got["CVE-2022-28391"].suppressed_by is not None
    assert got["CVE-2022-28391"].suppressed_by.impact == "netstat applet not built"
    assert got["CVE-2022-48174"].triage is not None and got["CVE-2022-48174"].triage.status is VexStatus.AFFECTED


def test_round_trip_and_cyclonedx_schema(tmp_path: Path) -> None:
    stmts = parse_openvex(openvex_doc([
        {"vulnerability": {"name": "CVE-2022-28391"}, "products": [{"@id": "pkg:generic/busybox@1.35.0"}],
         "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
        {"vulnerability": {"name": "CVE-2023-38545"}, "products": [{"@id": "ecu:tcu"}, {"@id": f"sha256:{FW}"}],
         "status": "affected", "action_statement": "update curl to 8.4.0"}]), "in")
    cdx = to_cyclonedx(stmts)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(cdx)) is None
    (tmp_path / "out.cdx.json").write_text(json.dumps(cdx))
    back = load_vex(tmp_path / "out.cdx.json")
    assert [(s.vuln_id, s.status) for s in back] == [(s.vuln_id, s.status) for s in stmts]
    assert back[0].justification == "code_not_reachable"
    assert {p.ecu for p in back[1].products if p.ecu} == {"tcu"}
    ov = to_openvex(back)
    (tmp_path / "out.openvex.json").write_text(json.dumps(ov))
    again = load_vex(tmp_path / "out.openvex.json")
    assert [(s.vuln_id, s.status, s.products) for s in again] == [(s.vuln_id, s.status, s.products) for s in back]


def test_bad_vex_is_a_feed_error(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="justification"):
        parse_openvex(openvex_doc([{"vulnerability": {"name": "CVE-1"}, "status": "not_affected"}]), "x.json")
    with pytest.raises(FeedError, match="unknown status"):
        parse_openvex(openvex_doc([{"vulnerability": {"name": "CVE-1"}, "status": "maybe"}]), "x.json")
    p = tmp_path / "x.json"
    p.write_text("[]")
    with pytest.raises(FeedError, match=r"x\.json"):
        load_vex(p)
