"""Per-ECU verdicts and fail-closed exit codes of ``verify``; clear errors from ``discover``/``simulate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecuscan.bench.records import Check, EcuVerdict, Exchange, ItemKind, Observation, Verdict, ecu_verdict
from ecuscan.cli import main

BENCH = """ecus:
  - id: bcm
    bench: {tx_id: 0x7E0, rx_id: 0x7E8, expect: {F189: "2.4.1"}}
  - id: gw
    bench: {tx_id: 0x7E1, rx_id: 0x7E9, expect: {F189: "1.0"}, simulate: {faults: {silent: true}}}
"""


def _check(verdict: str) -> Check:
    return Check(Observation("e", ItemKind.DID, 0xF189, Exchange(b"\x22\xf1\x89")), "1", Verdict[verdict])


@pytest.mark.parametrize(("verdicts", "expected"), [
    (["MATCH", "MATCH"], EcuVerdict.VERIFIED),
    (["MATCH", "UNREACHABLE"], EcuVerdict.PARTIAL),  # was summarised as "verified"
    (["UNREACHABLE", "UNREACHABLE"], EcuVerdict.UNREACHABLE),
    (["MATCH", "MISSING"], EcuVerdict.MISSING),
    (["MATCH", "MISMATCH", "UNREACHABLE"], EcuVerdict.DRIFTED),
    (["MATCH", "INVALID"], EcuVerdict.DRIFTED),
    (["OBSERVED"], EcuVerdict.PARTIAL),  # nothing to compare is not a verification
])
def test_ecu_verdict(verdicts: list[str], expected: EcuVerdict) -> None:
    assert ecu_verdict([_check(v) for v in verdicts]) is expected


def _verify(tmp_path: Path, *args: str) -> tuple[int, str]:
    p = tmp_path / "bench.yaml"
    p.write_text(BENCH)
    res = CliRunner().invoke(main, ["verify", str(p), "--simulate", "--p2", "0.2", *args])
    return res.exit_code, res.stdout


def test_a_silent_ecu_makes_verify_incomplete(tmp_path: Path) -> None:
    code, out = _verify(tmp_path, "--json")
    assert code == 3
    doc = json.loads(out)
    assert {e["ecu"]: e["verdict"] for e in doc["ecus"]} == {"bcm": "VERIFIED", "gw": "UNREACHABLE"}
    assert doc["status"] == "incomplete" and doc["incomplete"][0]["source"] == "ecu gw"


def test_verify_fail_on_and_allow_incomplete(tmp_path: Path) -> None:
    assert _verify(tmp_path, "--fail-on", "unreachable")[0] == 1  # a finding when asked for
    assert _verify(tmp_path, "--allow-incomplete")[0] == 0  # explicitly accepted
    code, text = _verify(tmp_path)
    assert code == 3 and text.splitlines()[0].strip().startswith("INCOMPLETE")
    assert _verify(tmp_path, "--fail-on", "bogus")[0] == 2


def test_match_plus_unreachable_is_partial_not_verified(tmp_path: Path) -> None:
    # record a run answering F189 only, then replay expecting F189 and F18C: 1 MATCH, 1 UNREACHABLE
    one = tmp_path / "one.yaml"
    one.write_text('ecus:\n  - id: bcm\n    bench: {tx_id: 0x7E0, rx_id: 0x7E8, expect: {F189: "2.4.1"}}\n')
    log = tmp_path / "run.log"
    assert CliRunner().invoke(main, ["verify", str(one), "--simulate", "--p2", "0.2", "--log", str(log)]).exit_code == 0
    two = tmp_path / "two.yaml"
    two.write_text('ecus:\n  - id: bcm\n    bench: {tx_id: 0x7E0, rx_id: 0x7E8, expect: {F189: "2.4.1", F18C: "X"}}\n')
    res = CliRunner().invoke(main, ["verify", str(two), "--replay", str(log), "--json"])
    doc = json.loads(res.stdout)
    assert doc["counts"] == {"MATCH": 1, "UNREACHABLE": 1}
    assert doc["ecus"] == [{"ecu": "bcm", "verdict": "PARTIAL", "complete": False}]
    assert res.exit_code == 3


def test_verify_honours_the_manifest_bench_section(tmp_path: Path) -> None:
    # demo.yaml says bench: {simulate: true}; verify without --simulate used python-can's config instead
    demo = Path(__file__).resolve().parents[3] / "graphs" / "demo.yaml"
    store = tmp_path / "inv.sqlite"
    res = CliRunner().invoke(main, ["verify", str(demo), "--json", "--p2", "0.3", "--store", str(store)])
    doc = json.loads(res.stdout)
    assert {e["ecu"]: e["verdict"] for e in doc["ecus"]} == {
        "bcm": "DRIFTED", "gw": "VERIFIED", "tcu": "VERIFIED", "rls": "VERIFIED"}
    assert res.exit_code == 1


@pytest.fixture
def no_can_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CAN_INTERFACE", "CAN_CHANNEL", "CAN_BITRATE", "CAN_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("command", [["discover"], ["simulate", "BENCH"]])
def test_no_interface_is_a_clear_usage_error(tmp_path: Path, no_can_config: None, command: list[str]) -> None:
    p = tmp_path / "bench.yaml"
    p.write_text(BENCH)
    res = CliRunner().invoke(main, [str(p) if c == "BENCH" else c for c in command])
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert 'Unknown interface type "None"' not in text
    assert "pass -i/--interface" in text and "CAN_INTERFACE" in text


def test_an_adapter_that_cannot_be_opened_is_exit_3(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["discover", "-i", "socketcan", "-c", "can9"])
    assert res.exit_code == 3 and "cannot open CAN bus" in res.output


def test_an_ecu_with_nothing_to_compare_is_partial_not_silently_skipped(tmp_path: Path) -> None:
    p = tmp_path / "bench.yaml"
    p.write_text('ecus:\n  - id: bcm\n    bench: {tx_id: 0x7E0, rx_id: 0x7E8, expect: {F189: "2.4.1"}}\n'
                 '  - id: blank\n    bench: {tx_id: 0x7E1, rx_id: 0x7E9}\n')
    res = CliRunner().invoke(main, ["verify", str(p), "--simulate", "--p2", "0.2", "--json"])
    doc = json.loads(res.stdout)
    assert {e["ecu"]: e["verdict"] for e in doc["ecus"]} == {"bcm": "VERIFIED", "blank": "PARTIAL"}
    assert res.exit_code == 3 and "nothing to compare" in doc["incomplete"][0]["reason"]


def test_verify_with_an_unreadable_analysed_image_is_incomplete(tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text("schema: ecuscan/manifest/v1\nbench: {simulate: true}\nsuppliers: [{id: s, tier: 1}]\n"
                 "ecus:\n  - id: bcm\n    supplier: s\n    firmware: [{path: gone.elf}]\n"
                 "    bench: {tx_id: 0x7E0, rx_id: 0x7E8, expect: {F189: '2.4.1'}}\nvehicles: []\n")
    res = CliRunner().invoke(main, ["verify", str(m), "--json", "--p2", "0.2", "--store", str(tmp_path / "s.sqlite")])
    doc = json.loads(res.stdout)
    assert doc["ecus"] == [{"ecu": "bcm", "verdict": "VERIFIED", "complete": True}]  # against the manifest only
    assert res.exit_code == 3 and doc["incomplete"][0]["stage"] == "scan"
    assert doc["incomplete"][0]["source"].endswith("gone.elf")


def test_a_simulated_value_outside_ascii_keeps_every_ecu_answering(tmp_path: Path) -> None:
    """A non-ASCII simulated DID value once killed the simulator thread: every simulated ECU fell silent."""
    p = tmp_path / "bench.yaml"
    p.write_text('ecus:\n'
                 '  - id: bcm\n'
                 '    bench: {tx_id: 0x7E0, rx_id: 0x7E8, expect: {F189: "2.4.1", F197: "BCM Ueberschall"},\n'
                 '            simulate: {values: {F189: "2.4.1", F197: "BCM Überschall"}}}\n'
                 '  - id: gw\n'
                 '    bench: {tx_id: 0x7E1, rx_id: 0x7E9, expect: {F189: "1.0"}}\n', encoding="utf-8")
    res = CliRunner().invoke(main, ["verify", str(p), "--simulate", "--p2", "0.5", "--json"])
    doc = json.loads(res.stdout)
    assert {e["ecu"]: e["verdict"] for e in doc["ecus"]} == {"bcm": "DRIFTED", "gw": "VERIFIED"}
    assert doc["counts"] == {"MATCH": 2, "MISMATCH": 1}  # F197 answered (its UTF-8 bytes), not silent
    assert res.exit_code == 1
