"""Expected memory hashes and CVNs from the analysed image, checked against simulated flash."""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
import zlib

import bincopy
import pytest
import yaml
from click.testing import CliRunner

from ecuscan.bench.flash import Flash, compute_cvn, load_flash, memory_expectations
from ecuscan.bench.records import BenchTarget, CvnConfig
from ecuscan.bench.simulator import EcuSpec, Simulator
from ecuscan.bench.targets import load_bench_file
from ecuscan.bench.verify import verify
from ecuscan.cli import main
from ecuscan.errors import BenchError
from ecuscan.scan.analysis import analyze_path
from ecuscan.scan.options import ScanOptions

from .conftest import FAST

APP = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(0x900))  # 2304 bytes at 0x08000000
CAL = b"CAL-0001" + bytes(range(248))  # 256 bytes at 0x08004000 (a separate segment)


@pytest.fixture
def hexfile(tmp_path):
    """An Intel HEX image with two segments, written by bincopy (payload offsets differ from the file)."""
    f = bincopy.BinFile()
    f.add_binary(APP, address=0x08000000)
    f.add_binary(CAL, address=0x08004000)
    p = tmp_path / "ecm_app.hex"
    p.write_text(f.as_ihex())
    return p


@pytest.fixture
def scanned(hexfile):
    results = analyze_path(str(hexfile), ScanOptions())
    assert isinstance(results, list)
    return results[0]


def test_memory_expectations_from_segment_hashes(scanned, hexfile):
    regions = memory_expectations(scanned, "all")
    assert [(r.address, r.size, r.sha256) for r in regions] == [
        (0x08000000, len(APP), hashlib.sha256(APP).hexdigest()),
        (0x08004000, len(CAL), hashlib.sha256(CAL).hexdigest())]
    # a sub-range needs the image bytes, which load_flash takes from the same file (hash-checked)
    with pytest.raises(BenchError, match="not a whole segment"):
        memory_expectations(scanned, [(0x08000100, 0x40)])
    flash, _ = load_flash(hexfile, scanned)
    (sub,) = memory_expectations(scanned, [(0x08000100, 0x40)], flash)
    assert sub.sha256 == hashlib.sha256(APP[0x100:0x140]).hexdigest()
    with pytest.raises(BenchError, match="not covered"):
        memory_expectations(scanned, [(0x08003000, 0x10)], flash)


def test_load_flash_refuses_an_image_changed_since_the_scan(scanned, hexfile):
    f = bincopy.BinFile()
    f.add_binary(APP[:-1] + b"\x00", address=0x08000000)
    hexfile.write_text(f.as_ihex())
    with pytest.raises(BenchError, match="changed since"):
        load_flash(hexfile, scanned)


def test_cvn_crc32_and_hook(tmp_path, monkeypatch):
    flash = Flash(((0x08000000, APP),))
    cfg = CvnConfig("crc32", ((0x08000000, 0x100), (0x08000200, 0x10)))
    assert compute_cvn(cfg, flash) == f"{zlib.crc32(APP[:0x100] + APP[0x200:0x210]):08x}"
    (tmp_path / "cvn_hooks.py").write_text(textwrap.dedent("""
        def sum32(data):
            return sum(data) & 0xFFFFFFFF
        def bad(data):
            return b"12345"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert compute_cvn(CvnConfig("cvn_hooks:sum32", ((0x08000000, 0x100),)), flash) == \
            f"{sum(APP[:0x100]):08x}"
        with pytest.raises(BenchError):
            compute_cvn(CvnConfig("cvn_hooks:bad", ((0x08000000, 0x100),)), flash)
    finally:
        sys.modules.pop("cvn_hooks", None)
    with pytest.raises(BenchError):
        CvnConfig("crc32", ())


def test_simulator_cvn_from_flash_match_and_drift(buses):
    cfg = CvnConfig("crc32", ((0x08000000, len(APP)),))
    expected = compute_cvn(cfg, Flash(((0x08000000, APP),)))
    ok = BenchTarget("ecm", 0x7E0, 0x7E8, expect_obd={0x06: expected})
    drifted = BenchTarget("tcm", 0x7E1, 0x7E9, expect_obd={0x06: expected})
    patched = Flash(((0x08000000, APP),)).patched(0x08000010, b"\x00")
    specs = [EcuSpec(ok, memory={0x08000000: APP}, cvn=cfg), EcuSpec(drifted, memory=patched.as_mapping(), cvn=cfg)]
    tester, ecu_bus = buses
    with Simulator(specs, ecu_bus) as sim:
        report = verify([ok, drifted], tester, options=FAST)
    v = {c.ecu_id: c for c in report.checks}
    assert v["ecm"].verdict.value == "MATCH" and v["ecm"].observation.value == expected
    assert v["tcm"].verdict.value == "MISMATCH" and v["tcm"].observation.value != expected
    assert set(sim.requests("ecm")) == {0x09}


def _manifest(tmp_path, hexfile, bench_extra):
    doc = {"schema": "ecuscan/manifest/v1", "name": "t",
           "suppliers": [{"id": "acme", "name": "ACME", "tier": 1}],
           "ecus": [{"id": "ecm", "supplier": "acme",
                     "firmware": [{"path": str(hexfile), "role": "application"}],
                     "bench": {"tx_id": "0x7E0", "rx_id": "0x7E8", **bench_extra}}],
           "vehicles": [{"id": "v", "ecus": ["ecm"]}]}
    p = tmp_path / "manifest.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _verify(tmp_path, manifest, *args):
    res = CliRunner().invoke(main, ["verify", str(manifest), "--simulate", "--json", "--p2", "0.3",
                                    "--store", f"sqlite:///{tmp_path / 'store.db'}", *args])
    return res.exit_code, json.loads(res.stdout) if res.stdout.startswith("{") else res.output


CVN = {"algorithm": "crc32", "regions": [["0x08004000", 256]]}
SEC = {"level": 1, "key": "a1b2c3d4"}
LOCK = {"security_level": 1, "security_key": "a1b2c3d4"}


def test_manifest_read_memory_match_then_flash_patch_mismatch(tmp_path, hexfile):
    m = _manifest(tmp_path, hexfile, {"cvn": CVN, "security": SEC, "simulate": {"faults": LOCK}})
    code, doc = _verify(tmp_path, m, "--read-memory")
    assert code == 0, doc
    got = {c["item"]: c for c in doc["checks"]}
    assert {k: c["verdict"] for k, c in got.items()} == {
        "MEM 0x08000000": "MATCH", "MEM 0x08004000": "MATCH", "OBD 09/06": "MATCH"}
    assert got["OBD 09/06"]["expected"] == f"{zlib.crc32(CAL):08x}"
    assert got["MEM 0x08004000"]["expected"] == hashlib.sha256(CAL).hexdigest()

    m = _manifest(tmp_path, hexfile, {"cvn": CVN, "security": SEC, "simulate": {
        "faults": LOCK, "flash_patch": {"address": "0x08004001", "hex": "00"}}})
    code, doc = _verify(tmp_path, m, "--read-memory")
    assert code == 1
    assert {c["item"]: c["verdict"] for c in doc["checks"]} == {
        "MEM 0x08000000": "MATCH", "MEM 0x08004000": "MISMATCH", "OBD 09/06": "MISMATCH"}


def test_manifest_sub_region_and_wrong_key_from_command_line(tmp_path, hexfile):
    m = _manifest(tmp_path, hexfile, {"simulate": {"faults": LOCK}})
    code, doc = _verify(tmp_path, m, "--read-memory", "--memory-region", "0x08000800:0x20",
                        "--security-key", "a1b2c3d4")
    assert code == 0, doc
    (check,) = doc["checks"]
    assert check["verdict"] == "MATCH" and check["expected"] == hashlib.sha256(APP[0x800:0x820]).hexdigest()
    code, doc = _verify(tmp_path, m, "--read-memory", "--memory-region", "0x08000800:0x20",
                        "--security-key", "00000000")
    (check,) = doc["checks"]
    assert (check["verdict"], check["nrc"]) == ("MISSING", "0x35")
    assert check["evidence"]["responses"][-1] == "7f2735"
    # without --read-memory a configured key is never used and no memory is read: nothing to check,
    # which is not a pass (the ECU is PARTIAL, the run INCOMPLETE)
    code, doc = _verify(tmp_path, m, "--security-key", "00000000")
    assert (code, doc["checks"]) == (3, [])
    assert doc["ecus"][0]["verdict"] == "PARTIAL"


def test_bench_file_with_image_memory_all_and_cvn(tmp_path, hexfile):
    p = tmp_path / "bench.yaml"
    p.write_text(yaml.safe_dump({"ecus": [{"id": "ecm", "bench": {
        "tx_id": "0x7E0", "rx_id": "0x7E8", "image": hexfile.name, "memory": "all", "cvn": CVN,
        "simulate": {"flash_patch": [{"address": "0x08000000", "hex": "ff"}]}}}]}))
    (t,), (spec,) = load_bench_file(p)
    assert [r.sha256 for r in t.memory] == [hashlib.sha256(APP).hexdigest(), hashlib.sha256(CAL).hexdigest()]
    assert t.expect_obd == {0x06: f"{zlib.crc32(CAL):08x}"}
    assert spec.memory[0x08000000][:1] == b"\xff" and spec.memory[0x08004000] == CAL
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"ecus": [{"id": "ecm", "bench": {"tx_id": "0x7E0", "rx_id": "0x7E8",
                                                                    "cvn": CVN}}]}))
    with pytest.raises(BenchError, match="cvn needs the analysed image"):
        load_bench_file(bad)
