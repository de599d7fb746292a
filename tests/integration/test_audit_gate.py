"""``ecuscan audit`` fails closed: a stage that could not check makes the run INCOMPLETE (exit 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIRMWARE, GRAPHS

from ecuscan.cli import main

pytestmark = pytest.mark.skipif(not (FIRMWARE / "tcu_app.elf").is_file(), reason="demo firmware not built")


def _manifest(tmp_path: Path, firmware: str, bench: str = "") -> Path:
    m = tmp_path / "m.yaml"
    m.write_text(f"""schema: ecuscan/manifest/v1
suppliers: [{{id: telenova, tier: 1}}]
ecus:
  - id: tcu
    supplier: telenova
    firmware: [{{path: {firmware}, role: application}}]
{bench}
vehicles: [{{id: ev, ecus: [tcu]}}]
""")
    return m


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("store") / "inv.sqlite")


def _audit(args: list[str], store: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["audit", *args, "--store", store])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, " ".join(res.output.split())  # rich wraps lines at 80 columns


def _stdout(args: list[str], store: str) -> str:
    res = CliRunner().invoke(main, ["audit", *args, "--store", store])
    return res.stdout


def _doc(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "report.json").read_text())
    return doc


def test_a_bus_that_cannot_be_opened_is_incomplete_not_passed(tmp_path: Path, store: str) -> None:
    # the case: `-i socketcan -c can9 --fail-on unreachable` exited 0 with a 0-byte bus.log
    out = tmp_path / "out"
    code, text = _audit([str(GRAPHS / "demo.yaml"), "-o", str(out), "-i", "socketcan", "-c", "can9",
                         "--fail-on", "unreachable"], store)
    assert code == 3, text
    first = _stdout([str(GRAPHS / "demo.yaml"), "-o", str(tmp_path / "o2"), "-i", "socketcan", "-c", "can9"],
                    store).splitlines()[0]
    assert "INCOMPLETE" in first, first  # the banner comes before any table
    assert "cannot open CAN bus" in text and "--simulate" in text  # what happened and what to do
    assert "policy passed" not in text and "bus log: None" not in text
    assert not (out / "bus.log").exists()  # no empty log pretending a run took place
    doc = _doc(out)
    assert doc["status"] == "incomplete" and doc["outputs"]["bus_log"] is None
    assert [(i["stage"], i["source"]) for i in doc["incomplete"]] == [
        ("bench", "CAN interface socketcan channel can9")]
    assert all((e["bench"] or {}).get("verdict") != "VERIFIED" for e in doc["ecus"])
    sarif = json.loads((out / "report.sarif").read_text())
    inv = sarif["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert "INCOMPLETE" in inv["toolExecutionNotifications"][0]["message"]["text"]


def test_allow_incomplete_accepts_explicitly_and_still_reports_it(tmp_path: Path, store: str) -> None:
    out = tmp_path / "out"
    m = _manifest(tmp_path, str(FIRMWARE / "tcu_app.elf"), "    bench: {tx_id: 0x7E2, rx_id: 0x7EA}")
    code, text = _audit([str(m), "-o", str(out), "-i", "socketcan", "-c", "can9", "--allow-incomplete"], store)
    assert code == 0, text
    assert "INCOMPLETE" in text and "accepted with --allow-incomplete" in text
    assert _doc(out)["status"] == "incomplete"


def test_a_missing_firmware_file_makes_the_audit_incomplete(tmp_path: Path, store: str) -> None:
    out = tmp_path / "out"
    m = _manifest(tmp_path, str(tmp_path / "gone" / "tcu_app.elf"))
    code, text = _audit([str(m), "--no-bench", "-o", str(out)], store)
    assert code == 3, text
    assert "tcu_app.elf" in text and "not found" in text
    doc = _doc(out)
    assert doc["status"] == "incomplete"
    assert doc["incomplete"][0]["stage"] == "scan" and doc["incomplete"][0]["source"].endswith("tcu_app.elf")


def test_a_finding_wins_over_incomplete(tmp_path: Path, store: str) -> None:
    out = tmp_path / "out"
    m = _manifest(tmp_path, str(tmp_path / "gone.elf"))
    code, text = _audit([str(m), "--no-bench", "-o", str(out), "--fail-on", "scan-error"], store)
    assert code == 1, text
    assert _doc(out)["status"] == "failed" and _doc(out)["incomplete"]


def test_a_complete_run_passes(tmp_path: Path, store: str) -> None:
    out = tmp_path / "out"
    m = _manifest(tmp_path, str(FIRMWARE / "tcu_app.elf"))
    code, text = _audit([str(m), "--no-bench", "-o", str(out)], store)
    assert code == 0, text
    assert _doc(out)["status"] == "passed" and _doc(out)["incomplete"] == []
    assert json.loads((out / "report.sarif").read_text())["runs"][0]["invocations"][0]["executionSuccessful"]


def test_bad_timestamp_is_a_usage_error_not_a_traceback(tmp_path: Path, store: str) -> None:
    code, text = _audit([str(GRAPHS / "demo.yaml"), "-o", str(tmp_path / "o"), "--timestamp", "garbage"], store)
    assert code == 2
    assert "Traceback" not in text and "'garbage' is not an ISO 8601 time" in text


def test_simulated_bench_answers_from_the_manifest_not_from_the_image(tmp_path: Path, store: str) -> None:
    # the image carries F189 1.9.0 (its identification table); the manifest declares what the bench
    # unit answers. Were the simulator fed from the image, this drift could never be seen.
    out = tmp_path / "out"
    m = _manifest(tmp_path, str(FIRMWARE / "tcu_app.elf"),
                  "    bench: {tx_id: 0x7E2, rx_id: 0x7EA, simulate: {values: {F189: '1.9.1'}}}")
    (m.parent / "m2.yaml").write_text(m.read_text().replace("schema:", "bench: {simulate: true}\nschema:"))
    code, _text = _audit([str(m.parent / "m2.yaml"), "-o", str(out)], store)
    doc = _doc(out)
    bench = doc["ecus"][0]["bench"]
    f189 = next(v for v in bench["verdicts"] if v["did"] == "F189")
    assert (f189["expected"], f189["observed"], f189["verdict"]) == ("1.9.0", "1.9.1", "MISMATCH")
    assert bench["verdict"] == "DRIFTED" and code == 1
    # DIDs the image carries but the bench unit was not declared to answer are refused, not matched
    assert {v["verdict"] for v in bench["verdicts"] if v["did"] != "F189"} <= {"MISSING"}


def test_manifest_bench_cvn_is_honoured_by_audit(tmp_path: Path, store: str) -> None:
    # bench.cvn was ignored by audit (verify only): the expected CVN is recomputed from the image
    out = tmp_path / "out"
    m = _manifest(tmp_path, str(FIRMWARE / "bcm_app.elf"),
                  "    bench: {tx_id: 0x7E2, rx_id: 0x7EA, expect: {F189: '2.4.1'}, "
                  "cvn: {algorithm: crc32, regions: [[0x08000000, 0x100]]}}")
    (m.parent / "m2.yaml").write_text(m.read_text().replace("schema:", "bench: {simulate: true}\nschema:"))
    _audit([str(m.parent / "m2.yaml"), "-o", str(out)], store)
    checks = _doc(out)["bench"]["checks"]
    assert any(c["item"] == "OBD 09/06" and c["expected"] for c in checks), checks


def test_each_image_is_scanned_once_per_content_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from ecuscan.graph.inputs import scan_firmware
    from ecuscan.manifest import load_manifest
    from ecuscan.scan.pipeline import Scanner

    a = tmp_path / "a.elf"
    a.write_bytes((FIRMWARE / "tcu_app.elf").read_bytes())
    os.link(a, tmp_path / "b.elf")  # another name, the same bytes
    m = tmp_path / "m.yaml"
    m.write_text("schema: ecuscan/manifest/v1\nsuppliers: [{id: s, tier: 1}]\necus:\n"
                 + "".join(f"  - {{id: e{i}, supplier: s, firmware: [{{path: {'ab'[i % 2]}.elf}}]}}\n"
                           for i in range(6))
                 + "vehicles: []\n")
    calls: list[str] = []
    real = Scanner.scan_file
    monkeypatch.setattr(Scanner, "scan_file", lambda self, p: calls.append(str(p)) or real(self, p))
    scans = scan_firmware(load_manifest(m))
    assert len(calls) == 1
    assert set(scans.results) == {str(a), str(tmp_path / "b.elf")}
    assert scans.results[str(tmp_path / "b.elf")][0].path == str(tmp_path / "b.elf")


def test_a_severity_policy_against_an_empty_vulnerability_database_is_incomplete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    m = _manifest(tmp_path, str(FIRMWARE / "tcu_app.elf"))
    code, text = _audit([str(m), "--no-bench", "-o", str(out), "--fail-on", "high"], str(tmp_path / "fresh.sqlite"))
    assert code == 3, text
    assert "no vulnerability records" in text
    assert _doc(out)["incomplete"][0]["stage"] == "vulns"
