"""Discovery and the verify / discover / simulate commands on a virtual bus."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ecuscan.bench.discover import discover
from ecuscan.bench.records import Addressing, BenchTarget
from ecuscan.bench.simulator import EcuSpec, Faults, Simulator
from ecuscan.bench.targets import load_bench_file, load_targets
from ecuscan.cli import main

from .conftest import FAST


def test_discover_functional_and_physical(buses):
    tester, ecu_bus = buses
    a = BenchTarget("eng", 0x7E0, 0x7E8, expect={0xF190: "WVWZZZ1JZXW000001", 0xF189: "1.0"})
    b = BenchTarget("tcu", 0x7E1, 0x7E9, expect={0xF189: "2.0"})
    c = BenchTarget("odd", 0x740, 0x748, expect={0xF189: "3.0"})  # outside the functional response range
    with Simulator([EcuSpec(a), EcuSpec(b), EcuSpec(c)], ecu_bus) as sim:
        found = discover(tester, options=FAST, probe=[0x740, 0x741], window=0.15)
        physical = discover(tester, options=FAST, probe=[0x740, 0x741, 0x7E1], functional=False, window=0.15)
    by_tx = {e.tx_id: e for e in found}
    assert set(by_tx) == {0x7E0, 0x7E1, 0x740}
    assert by_tx[0x7E0].found_by == "functional"
    assert [(e.tx_id, e.found_by) for e in physical] == [(0x740, "physical"), (0x7E1, "physical")]
    assert by_tx[0x7E0].identification()[0xF190] == "WVWZZZ1JZXW000001"
    assert by_tx[0x740].identification() == {0xF189: "3.0"}
    assert set(sim.requests("eng")) <= {0x3E, 0x22}


def test_discover_29bit(buses):
    tester, ecu_bus = buses
    t = BenchTarget("gw", 0x18DA10F1, 0x18DAF110, Addressing.NORMAL_FIXED_29BIT, expect={0xF189: "1.0"})
    silent = BenchTarget("off", 0x18DA11F1, 0x18DAF111, Addressing.NORMAL_FIXED_29BIT, expect={0xF189: "1.0"})
    with Simulator([EcuSpec(t), EcuSpec(silent, faults=Faults(silent=True))], ecu_bus):
        found = discover(tester, addressing=Addressing.NORMAL_FIXED_29BIT, options=FAST, probe=[], window=0.15)
    assert [(e.tx_id, e.rx_id) for e in found] == [(0x18DA10F1, 0x18DAF110)]


BENCH = """
ecus:
  - id: bcm
    bench:
      tx_id: 0x7E0
      rx_id: 0x7E8
      expect: {F189: "2.4.1"}
      obd: {CVN: "11223344"}
  - id: gw
    bench:
      addressing: normal_fixed_29bit
      target_address: 0x10
      expect: {F189: "1.0"}
      simulate: {values: {F189: "1.1"}}
"""


def test_bench_file(tmp_path):
    p = tmp_path / "bench.yaml"
    p.write_text(BENCH)
    targets, specs = load_bench_file(p)
    assert [(t.ecu_id, hex(t.tx_id), hex(t.rx_id)) for t in targets] == [
        ("bcm", "0x7e0", "0x7e8"), ("gw", "0x18da10f1", "0x18daf110")]
    assert specs[1].values == {0xF189: "1.1"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("ecus:\n  - id: x\n    bench: {tx_id: 0x7E0, rx_id: 0x7E8, colour: red}\n")
    import pytest

    from ecuscan.errors import BenchError

    with pytest.raises(BenchError, match="colour"):
        load_targets(bad)


def test_verify_cli_simulated_json_exit_code_and_replay(tmp_path):
    p = tmp_path / "bench.yaml"
    p.write_text(BENCH)
    log = tmp_path / "run.log"
    runner = CliRunner()
    res = runner.invoke(main, ["verify", str(p), "--simulate", "--json", "--p2", "0.3", "--log", str(log)])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["counts"] == {"MATCH": 2, "MISMATCH": 1}
    assert any(c["evidence"]["request"] == "22f189" for c in doc["checks"])
    res2 = runner.invoke(main, ["verify", str(p), "--replay", str(log), "--json"])
    assert res2.exit_code == 1
    assert json.loads(res2.stdout)["counts"] == doc["counts"]
    res3 = runner.invoke(main, ["verify", str(p), "--simulate", "--ecu", "bcm", "--p2", "0.3"])
    assert res3.exit_code == 0
    assert "MATCH" in res3.output


def test_bus_options_reach_python_can(tmp_path, monkeypatch):
    p = tmp_path / "bench.yaml"
    p.write_text(BENCH)
    res = CliRunner().invoke(main, ["verify", str(p), "-i", "no-such-interface", "-c", "x"])
    assert res.exit_code == 2
    assert "no-such-interface" in res.output


def test_simulate_and_discover_commands(tmp_path):
    import threading

    p = tmp_path / "bench.yaml"
    p.write_text(BENCH)
    channel = f"ecuscan-cli-{id(p)}"
    runner = CliRunner()
    sim = threading.Thread(target=runner.invoke, args=(main, ["simulate", str(p), "-i", "virtual", "-c", channel,
                                                              "--duration", "2"]))
    sim.start()
    import time

    time.sleep(0.4)
    res = CliRunner().invoke(main, ["discover", "-i", "virtual", "-c", channel, "--json", "--window", "0.2",
                                    "--p2", "0.3"])
    sim.join()
    assert res.exit_code == 0, res.output
    ecus = json.loads(res.stdout)["ecus"]
    assert [e["tx_id"] for e in ecus] == ["0x7e0"]
    assert ecus[0]["identification"] == {"F189": "2.4.1"}


def test_targets_from_manifest():
    from ecuscan.bench.records import Codec
    from ecuscan.bench.targets import targets_from_manifest
    from ecuscan.manifest import parse_manifest

    doc = {"schema": "ecuscan/manifest/v1", "name": "demo",
           "suppliers": [{"id": "acme", "name": "ACME", "tier": 1}],
           "ecus": [{"id": "bcm", "supplier": "acme",
                     "bench": {"tx_id": "0x726", "rx_id": "0x72E", "expect": {"F189": "2.4.1"},
                               "dids": [{"did": "0100", "codec": "hex", "name": "cal"}]}},
                    {"id": "gw", "supplier": "acme",
                     "bench": {"addressing": "normal_fixed_29bit", "target_address": "0x10"}},
                    {"id": "nobench", "supplier": "acme"}],
           "vehicles": [{"id": "v", "ecus": ["bcm", "gw", "nobench"]}]}
    targets = targets_from_manifest(parse_manifest(doc, check_files=False))
    assert [(t.ecu_id, t.tx_id, t.rx_id) for t in targets] == [("bcm", 0x726, 0x72E), ("gw", 0x18DA10F1, 0x18DAF110)]
    assert targets[0].expect == {0xF189: "2.4.1"}
    assert targets[0].codec_for(0x0100) is Codec.RAW
