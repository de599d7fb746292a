"""Yocto build evidence: cve-check JSON and Yocto SPDX 2.2 / 3.0 CVE statements become VEX (rule yocto-patch)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecuscan.catalog import Catalog, load_catalog
from ecuscan.cli import main
from ecuscan.vulns.match import match_components
from ecuscan.vulns.parsers import parse_record
from ecuscan.vulns.records import RULE_YOCTO, Finding, FindingStatus, VexStatus
from ecuscan.vulns.vex import apply_vex, load_vex, to_cyclonedx, to_openvex

from .vulns_helpers import DATA, component

YOCTO = DATA / "distro" / "yocto" / "cve-check-core-image.json"


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog()


def _finding(catalog: Catalog, cve: str, version: str = "2.9.14") -> Finding:
    c = component(catalog, "libxml2", version)
    return Finding(vuln_id=cve, component_id="libxml2", component_purl=c.purl, component_version=version,
                   status=FindingStatus.UNKNOWN_RANGE, matched_by=(), decision="upstream range of cve5: unknown-range")


def test_cve_check_statuses_become_statements_with_the_patch_named(shipped: Catalog) -> None:
    unresolved: list[str] = []
    stmts = {s.vuln_id: s for s in load_vex(YOCTO, catalog=shipped, unresolved=unresolved)}
    assert unresolved == ["acme-gateway-app"]  # not guessed: reported
    patched = stmts["CVE-2024-25062"]
    assert patched.status is VexStatus.FIXED and patched.rule == RULE_YOCTO
    assert patched.evidence == "patch CVE-2024-25062.patch"
    assert patched.products[0].purl == shipped.get("libxml2").purl("2.9.14")  # type: ignore[union-attr]
    assert stmts["CVE-2023-39615"].status is VexStatus.NOT_AFFECTED
    assert "upstream-wontfix" in (stmts["CVE-2023-39615"].impact or "")
    assert stmts["CVE-2022-49043"].status is VexStatus.AFFECTED


def test_statements_apply_to_the_matching_component_only(shipped: Catalog) -> None:
    stmts = load_vex(YOCTO, catalog=shipped)
    out = {f.vuln_id: f for f in apply_vex([_finding(shipped, c) for c in
                                            ("CVE-2024-25062", "CVE-2023-39615", "CVE-2022-49043")], stmts)}
    fixed = out["CVE-2024-25062"]
    assert fixed.status is FindingStatus.FIXED and not fixed.exposed
    assert fixed.rule == RULE_YOCTO and "CVE-2024-25062.patch" in fixed.decision
    assert fixed.decided_by == str(YOCTO)
    assert out["CVE-2023-39615"].suppressed_by is not None and not out["CVE-2023-39615"].exposed
    unpatched = out["CVE-2022-49043"]
    assert unpatched.exposed and unpatched.triage is not None and unpatched.triage.status is VexStatus.AFFECTED
    # another libxml2 version is another build: the recipe's statement does not reach it
    other = apply_vex([_finding(shipped, "CVE-2024-25062", "2.12.5")], stmts)[0]
    assert other.suppressed_by is None and other.exposed
    # exported as VEX: CycloneDX "resolved", OpenVEX "fixed"
    cdx = to_cyclonedx([s for s in stmts if s.vuln_id == "CVE-2024-25062"])
    assert cdx["vulnerabilities"][0]["analysis"]["state"] == "resolved"
    assert to_openvex(stmts)["statements"][0]["status"] in {"fixed", "not_affected", "affected"}


def test_yocto_spdx_documents(shipped: Catalog, tmp_path: Path) -> None:
    spdx22 = {"spdxVersion": "SPDX-2.2", "SPDXID": "SPDXRef-DOCUMENT", "name": "recipe-libxml2",
              "packages": [{"SPDXID": "SPDXRef-Recipe-libxml2", "name": "libxml2", "versionInfo": "2.9.14",
                            "sourceInfo": "CVEs fixed: CVE-2024-25062 CVE-2025-6021"}]}
    p = tmp_path / "recipe-libxml2.spdx.json"
    p.write_text(json.dumps(spdx22))
    ids = {s.vuln_id: s.status for s in load_vex(p, catalog=shipped)}
    assert ids == {"CVE-2024-25062": VexStatus.FIXED, "CVE-2025-6021": VexStatus.FIXED}
    spdx30 = {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": [
        {"type": "software_Package", "spdxId": "urn:spdx:pkg-libxml2", "name": "libxml2",
         "software_packageVersion": "2.9.14"},
        {"type": "security_Vulnerability", "spdxId": "urn:spdx:vuln-1", "name": "CVE-2024-25062",
         "externalIdentifier": [{"type": "ExternalIdentifier", "externalIdentifierType": "cve",
                                 "identifier": "CVE-2024-25062"}]},
        {"type": "security_VexFixedVulnAssessmentRelationship", "spdxId": "urn:spdx:vex-1",
         "relationshipType": "fixedIn", "from": "urn:spdx:vuln-1", "to": ["urn:spdx:pkg-libxml2"]}]}
    p3 = tmp_path / "libxml2.spdx.json"
    p3.write_text(json.dumps(spdx30))
    (s,) = load_vex(p3, catalog=shipped)
    assert (s.vuln_id, s.status, s.rule) == ("CVE-2024-25062", VexStatus.FIXED, RULE_YOCTO)


def test_match_with_a_cve_check_report_end_to_end(shipped: Catalog, tmp_path: Path) -> None:
    upstream = parse_record("cve5", json.loads((DATA / "distro/cve5/CVE-2024-25062.json").read_text()))
    found = match_components([component(shipped, "libxml2", "2.9.14")], [upstream], shipped)
    out = apply_vex(found, load_vex(YOCTO, catalog=shipped))
    assert [(f.vuln_id, f.status, f.rule) for f in out] == [("CVE-2024-25062", FindingStatus.FIXED, RULE_YOCTO)]
    # through the CLI: a recipe the catalog does not know is reported, not silently dropped
    store = f"sqlite:///{tmp_path / 's.sqlite'}"
    r = CliRunner().invoke(main, ["vulns", "import", str(DATA / "distro/cve5"), "--store", store])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["vulns", "match", "--vex", str(YOCTO), "--json", "--store", store])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert any("acme-gateway-app" in n for n in doc["notes"]) and doc["problems"] == []


def test_a_finding_keeps_the_earlier_decision_when_vex_overrides(shipped: Catalog) -> None:
    f = replace(_finding(shipped, "CVE-2024-25062"), decision="DEBIAN-CVE-2024-25062 (Debian:13): ...")
    (out,) = apply_vex([f], load_vex(YOCTO, catalog=shipped))
    assert out.decision.startswith("yocto-patch statement fixed") and "before it: DEBIAN-CVE" in out.decision
