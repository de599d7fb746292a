"""``ecuscan audit`` end to end on the bundled demo: real scans, graph, feeds, UDS over a virtual bus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIRMWARE, GRAPHS

from ecuscan.cli import main

pytestmark = pytest.mark.skipif(not (FIRMWARE / "bcm_app.elf").is_file(), reason="demo firmware not built")


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("audit")
    res = CliRunner().invoke(main, ["audit", str(GRAPHS / "demo.yaml"), "-o", str(out), "--store",
                                    str(out / "inv.sqlite"), "--timestamp", "2026-11-27T00:00:00+00:00",
                                    "--fail-on", "mismatch,undeclared"])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    doc = json.loads((out / "report.json").read_text())
    return res.exit_code, doc, out


def _ecu(doc: dict[str, Any], ecu_id: str) -> dict[str, Any]:
    return next(e for e in doc["ecus"] if e["id"] == ecu_id)


def test_policy_fails_for_drift_and_undeclared(audit: tuple[int, dict[str, Any], Path]) -> None:
    code, doc, _ = audit
    assert code == 1
    reasons = " ".join(doc["policy"]["reasons"])
    assert "bcm" in reasons and "undeclared" in reasons and "zlib" in reasons


def test_bench_catches_the_drifted_bcm_and_verifies_the_rest(audit: tuple[int, dict[str, Any], Path]) -> None:
    _, doc, out = audit
    bcm = _ecu(doc, "bcm")["bench"]
    assert bcm["status"] == "drifted"
    f189 = next(v for v in bcm["verdicts"] if v["did"] == "F189")
    assert (f189["expected"], f189["observed"], f189["verdict"]) == ("2.4.1", "2.4.2", "MISMATCH")
    assert f189["request"] == "22 F1 89"
    assert f189["response"].startswith("62 F1 89")
    # the other ECUs answer what their analysed images carry (identification table in the firmware)
    for ecu in ("gw", "tcu", "rls"):
        b = _ecu(doc, ecu)["bench"]
        assert b["status"] == "verified", (ecu, b)
        assert all(v["verdict"] == "MATCH" for v in b["verdicts"])
        assert len(b["verdicts"]) >= 6  # the image's whole DID table is checked, not just the manifest's F189
    assert (out / "bus.log").stat().st_size > 1000


def test_reconciliation_finds_zlib_missing_from_the_gateway_sbom(audit: tuple[int, dict[str, Any], Path]) -> None:
    _, doc, _ = audit
    gw_fw = _ecu(doc, "gw")["firmware"][0]
    rows = {r["component"]: r["status"] for r in gw_fw["reconciliation"]["rows"]}
    assert rows.get("zlib") == "undeclared"
    assert rows.get("wolfSSL") == "matched"


def test_real_cve_reaches_the_telematics_unit_and_only_it(audit: tuple[int, dict[str, Any], Path]) -> None:
    _, doc, _ = audit
    exposed = [v for v in doc["vulnerabilities"] if v["exposed"]]
    hit = [v for v in exposed if v["id"] == "CVE-2024-23170"]
    assert len(hit) == 1
    assert hit[0]["component"] == "mbedtls" and hit[0]["version"] == "2.28.3"
    assert hit[0]["ecus"] == ["tcu"] and hit[0]["vehicles"] == ["ev27"]
    # Mbed TLS 3.6.6 in the BCM is outside every shipped range; wolfSSL 5.7.2 is past CVE-2023-3724's fix
    assert not [v for v in exposed if v["version"] in ("3.6.6", "5.7.2")]
    ev27 = next(v for v in doc["vehicles"] if v["id"] == "ev27")
    assert ev27["summary"]["exposed_ecus"] == ["tcu"]
    suv = next(v for v in doc["vehicles"] if v["id"] == "suv26")
    assert suv["summary"]["exposed_ecus"] == []


def test_outputs_written_and_sboms_valid(audit: tuple[int, dict[str, Any], Path]) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    _, doc, out = audit
    sboms = doc["outputs"]["sboms"]
    assert len(sboms) == 10  # 5 firmware entries x (CycloneDX, SPDX)
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    for rel in sboms:
        if rel.endswith(".cdx.json"):
            assert validator.validate_str((out / rel).read_text()) is None, rel
    sarif = json.loads((out / "report.sarif").read_text())
    rule_ids = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert {"CVE-2024-23170", "ECUSCAN-BENCH-DRIFT", "ECUSCAN-SBOM-UNDECLARED"} <= rule_ids
    html = (out / "report.html").read_text()
    assert "CVE-2024-23170" in html and "<script" not in html.lower()


def test_rerun_uses_the_store_and_gives_the_same_facts(audit: tuple[int, dict[str, Any], Path],
                                                       tmp_path: Path) -> None:
    _, doc, out = audit
    res = CliRunner().invoke(main, ["audit", str(GRAPHS / "demo.yaml"), "-o", str(tmp_path), "--store",
                                    str(out / "inv.sqlite"), "--timestamp", "2026-11-27T00:00:00+00:00",
                                    "--no-bench", "--json"])
    assert res.exit_code == 0, res.output  # no bench, default policy (mismatch) cannot fail
    again = json.loads((tmp_path / "report.json").read_text())
    assert [v["id"] for v in again["vulnerabilities"]] == [v["id"] for v in doc["vulnerabilities"]]
    for name in doc["outputs"]["sboms"]:  # deterministic SBOMs: same input and time, same bytes
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()


@pytest.mark.browser
def test_demo_report_in_headless_chromium(audit: tuple[int, dict[str, Any], Path]) -> None:
    """The real report in a real browser: it renders, and the firmware's hostile string is text."""
    from report.browser import chromium, dump_dom, screenshot
    from report.test_browser import non_blank

    if chromium() is None:
        pytest.skip("chromium not installed")
    _, doc, out = audit
    page = out / "report.html"
    # the BCM image carries F197 = "BCM <img src=x onerror=alert(1)>" in its identification table
    bcm = _ecu(doc, "bcm")
    assert any("<img src=x onerror=alert(1)>" in (v["observed"] or "") for v in bcm["bench"]["verdicts"])
    png = out / "report.png"
    screenshot(page, png)
    assert non_blank(png) > 0.05
    dom = dump_dom(page)
    assert "BCM &lt;img src=x onerror=alert(1)&gt;" in dom
    assert "<img" not in dom.replace("&lt;img", "")
    for section in ("Summary", "Supply chain", "Vulnerabilities", "Bench check", "SBOM reconciliation",
                    "ECUs and firmware", "CVE-2024-23170"):
        assert section in dom
