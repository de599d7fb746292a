"""The verifier against simulated ECUs on a python-can virtual bus: every fault, every verdict."""

from __future__ import annotations

import dataclasses
import hashlib

import can
import pytest

from ecuscan.bench.client import EcuSession, ReadOnlyViolation, attached
from ecuscan.bench.records import Addressing, BenchTarget, MemoryRegion, Verdict
from ecuscan.bench.simulator import EcuSpec, Faults, Simulator
from ecuscan.bench.verify import expected_from_scan, verify, with_expectations
from ecuscan.model import ImageFormat, Provenance, ScanResult

from .conftest import FAST

VIN = "WVWZZZ1JZXW000001"
EXPECT = {0xF189: "2.4.1", 0xF190: VIN, 0xF18C: "SN-0042-XYZ", 0xF18B: "20260131"}


def target(ecu_id="bcm", tx=0x7E0, rx=0x7E8, **kw) -> BenchTarget:
    kw.setdefault("expect", EXPECT)
    return BenchTarget(ecu_id, tx, rx, **kw)


def run(buses, specs, options=FAST, targets=None, **simkw):
    tester, ecu_bus = buses
    targets = targets or [s.target for s in specs]
    with Simulator(specs, ecu_bus, **simkw) as sim:
        report = verify(targets, tester, options=options)
    return report, sim


def verdicts(report):
    return {c.observation.label: c.verdict for c in report.checks}


def test_all_match_with_raw_evidence(buses):
    report, sim = run(buses, [EcuSpec(target())])
    assert set(verdicts(report).values()) == {Verdict.MATCH}
    vin = next(c for c in report.checks if c.observation.item == 0xF190)
    assert vin.observation.exchange.request == bytes.fromhex("22f190")
    assert vin.observation.exchange.responses == (bytes.fromhex("62f190") + VIN.encode(),)
    assert vin.observation.exchange.frames_rx == 3  # FF + 2 CF
    assert not report.failed
    # read-only: the ECU saw nothing but ReadDataByIdentifier
    assert set(sim.requests("bcm")) == {0x22}


def test_drift_is_a_mismatch_and_fails(buses):
    report, _ = run(buses, [EcuSpec(target(), faults=Faults(drift={0xF189: "2.4.2"}))])
    v = verdicts(report)
    assert v["F189"] is Verdict.MISMATCH
    assert v["F190"] is Verdict.MATCH
    bad = next(c for c in report.checks if c.verdict is Verdict.MISMATCH)
    assert bad.observation.value == "2.4.2" and bad.expected == "2.4.1"
    assert bad.observation.exchange.responses[-1] == bytes.fromhex("62f189") + b"2.4.2"
    assert report.failed


def test_silent_ecu_is_unreachable(buses):
    report, sim = run(buses, [EcuSpec(target(), faults=Faults(silent=True))])
    assert set(verdicts(report).values()) == {Verdict.UNREACHABLE}
    assert sum(sim.requests("bcm").values()) == 2  # the rest is not sent after two silences
    assert not report.failed


@pytest.mark.parametrize(("nrc", "name"), [
    (0x10, "GeneralReject"), (0x11, "ServiceNotSupported"), (0x12, "SubFunctionNotSupported"),
    (0x13, "IncorrectMessageLengthOrInvalidFormat"), (0x14, "ResponseTooLong"), (0x21, "BusyRepeatRequest"),
    (0x22, "ConditionsNotCorrect"), (0x31, "RequestOutOfRange"), (0x33, "SecurityAccessDenied"),
    (0x7F, "ServiceNotSupportedInActiveSession"),
])
def test_each_nrc_is_missing_and_decoded(buses, nrc, name):
    spec = EcuSpec(target(expect={0xF189: "2.4.1"}), faults=Faults(nrc_dids={0xF189: nrc}))
    report, _ = run(buses, [spec])
    (check,) = report.checks
    assert check.verdict is Verdict.MISSING
    assert check.observation.nrc == nrc
    assert name in check.observation.detail
    assert check.observation.exchange.responses == (bytes([0x7F, 0x22, nrc]),)


def test_unsupported_did_is_missing(buses):
    spec = EcuSpec(target(expect={0xF189: "2.4.1", 0xF19E: "bcm.odx"}), values={0xF189: "2.4.1"})
    v = verdicts(run(buses, [spec])[0])
    assert v == {"F189": Verdict.MATCH, "F19E": Verdict.MISSING}


def test_response_pending_chain_within_p2_star(buses):
    # three 0x78 spaced 0.2 s: each gap is below P2* (1 s) though the total exceeds P2 (0.25 s)
    spec = EcuSpec(target(expect={0xF189: "2.4.1"}), faults=Faults(pending=3, pending_interval=0.2))
    (check,) = run(buses, [spec])[0].checks
    assert check.verdict is Verdict.MATCH
    assert check.observation.exchange.responses[:3] == (bytes.fromhex("7f2278"),) * 3


def test_response_pending_beyond_p2_star_is_unreachable(buses):
    spec = EcuSpec(target(expect={0xF189: "2.4.1"}), faults=Faults(pending=2, pending_interval=1.4))
    (check,) = run(buses, [spec])[0].checks
    assert check.verdict is Verdict.UNREACHABLE
    assert "responsePending" in check.observation.detail


def test_slow_ecu(buses):
    fast_enough = EcuSpec(target(expect={0xF189: "2.4.1"}), faults=Faults(delay=0.1))
    assert run(buses, [fast_enough])[0].checks[0].verdict is Verdict.MATCH


def test_too_slow_ecu_is_unreachable(buses):
    too_slow = EcuSpec(target(expect={0xF189: "2.4.1"}), faults=Faults(delay=0.5))
    assert run(buses, [too_slow])[0].checks[0].verdict is Verdict.UNREACHABLE


@pytest.mark.parametrize("fault", [Faults(wrong_sid=True), Faults(wrong_did=True)])
def test_wrong_sid_or_did_is_invalid(buses, fault):
    report, _ = run(buses, [EcuSpec(target(expect={0xF189: "2.4.1"}), faults=fault)])
    (check,) = report.checks
    assert check.verdict is Verdict.INVALID
    assert report.failed


@pytest.mark.parametrize("fault", [Faults(truncate=True), Faults(out_of_order=True)])
def test_broken_multiframe_is_invalid_never_match(buses, fault):
    report, _ = run(buses, [EcuSpec(target(expect={0xF190: VIN}), faults=fault)])
    (check,) = report.checks
    assert check.verdict is Verdict.INVALID
    assert check.observation.exchange.frames_rx >= 2


def test_stray_frames_do_not_confuse(buses):
    report, _ = run(buses, [EcuSpec(target(), faults=Faults(stray=True))])
    assert set(verdicts(report).values()) == {Verdict.MATCH}


def _memory_target(**faults):
    blob = bytes(range(256)) * 4
    region = MemoryRegion(0x08000000, len(blob), hashlib.sha256(blob).hexdigest())
    t = target(expect={}, memory=(region,))
    return EcuSpec(t, memory={0x08000000: blob}, faults=Faults(**faults))


def test_memory_hash_is_opt_in(buses):
    spec = _memory_target()
    report, sim = run(buses, [spec])
    assert report.checks == ()  # not read without --read-memory
    assert 0x23 not in sim.requests("bcm")


def test_memory_hash_with_flow_control_wait(buses):
    # ReadMemoryByAddress with 4-byte address and size is a 10-byte (multi-frame) request: the ECU's
    # flow control answers WAIT twice before clear-to-send
    opts = dataclasses.replace(FAST, read_memory=True, memory_chunk=200)
    report, sim = run(buses, [_memory_target(fc_wait=2)], options=opts)
    (check,) = report.checks
    assert check.verdict is Verdict.MATCH
    assert sim.requests("bcm")[0x23] == 6


def test_memory_drift_is_mismatch(buses):
    spec = _memory_target()
    spec = dataclasses.replace(spec, memory={0x08000000: b"\xff" + bytes(range(1, 256)) + bytes(range(256)) * 3})
    opts = dataclasses.replace(FAST, read_memory=True)
    (check,) = run(buses, [spec], options=opts)[0].checks
    assert check.verdict is Verdict.MISMATCH


@pytest.mark.parametrize("faults", [{"fc_overflow": True}, {"fc_wait": 12}])
def test_flow_control_overflow_or_endless_wait_is_not_a_match(buses, faults):
    opts = dataclasses.replace(FAST, read_memory=True)
    (check,) = run(buses, [_memory_target(**faults)], options=opts)[0].checks
    assert check.verdict in (Verdict.INVALID, Verdict.UNREACHABLE)
    assert check.verdict is not Verdict.MATCH
    assert check.observation.exchange.transport_errors


def test_obd_mode_09(buses):
    t = target(expect={}, expect_obd={0x02: VIN, 0x04: "CAL-BCM-0001", 0x06: "1a2b3c4d", 0x0A: "BCM-BodyControl"})
    spec = EcuSpec(t, obd={0x02: VIN, 0x04: "CAL-BCM-0001", 0x06: "deadbeef", 0x0A: "BCM-BodyControl"})
    report, sim = run(buses, [spec])
    v = verdicts(report)
    assert v == {"OBD 09/02": Verdict.MATCH, "OBD 09/04": Verdict.MATCH, "OBD 09/06": Verdict.MISMATCH,
                 "OBD 09/0A": Verdict.MATCH}
    assert set(sim.requests("bcm")) == {0x09}


def test_29bit_and_fd(buses):
    t29 = BenchTarget("gw", 0x18DA10F1, 0x18DAF110, Addressing.NORMAL_FIXED_29BIT, expect=EXPECT)
    tfd = BenchTarget("adas", 0x18DA20F1, 0x18DAF120, Addressing.NORMAL_FIXED_29BIT, expect=EXPECT, fd=True)
    report, _ = run(buses, [EcuSpec(t29), EcuSpec(tfd)])
    assert {c.verdict for c in report.checks} == {Verdict.MATCH}
    fd_vin = next(c for c in report.for_ecu("adas") if c.observation.item == 0xF190)
    assert fd_vin.observation.exchange.frames_rx == 1  # 20 bytes fit one CAN FD single frame


def test_interleaved_ecus_and_background_traffic(buses):
    specs = []
    for i in range(12):
        t = target(f"ecu{i}", 0x700 + i, 0x710 + i, expect={0xF190: VIN, 0xF189: f"1.{i}"})
        faults = Faults(drift={0xF189: "9.9"}) if i == 5 else Faults()
        specs.append(EcuSpec(t, faults=faults))
    tester, ecu_bus = buses
    # the timing this test checks is the interleaving, not the ECUs' response times: the timeouts are
    # those of a slow gateway, so that a loaded CI machine (12 ECU threads, the traffic thread) cannot
    # turn a late answer into a missing one
    patient = dataclasses.replace(FAST, p2=2.0, p2_star=4.0, isotp_timeout_ms=2000)
    with Simulator(specs, ecu_bus, background=0.5) as sim:
        import time
        deadline = time.monotonic() + 10
        while sim.background_frames <= 40 and time.monotonic() < deadline:
            time.sleep(0.01)  # traffic is flowing before the first request
        before = sim.background_frames
        report = verify([s.target for s in specs], tester, options=patient)
        during = sim.background_frames - before
    assert before > 40
    assert during > 0
    bad = [c for c in report.checks if c.verdict is not Verdict.MATCH]
    assert [(c.ecu_id, c.observation.label, c.verdict) for c in bad] == [("ecu5", "F189", Verdict.MISMATCH)]


def test_guard_refuses_before_anything_reaches_the_bus(buses):
    tester, ecu_bus = buses
    with Simulator([EcuSpec(target())], ecu_bus) as sim, attached(tester) as dispatcher:
        with EcuSession(target(), tester, dispatcher, FAST) as session:
            with pytest.raises(ReadOnlyViolation):
                session.conn.send(bytes.fromhex("2EF1893200"))  # WriteDataByIdentifier
            with pytest.raises(ReadOnlyViolation):
                session.client.start_routine(0xFF00)  # RoutineControl (erase memory on most ECUs)
            with pytest.raises(ReadOnlyViolation):
                session.client.ecu_reset(1)
            with pytest.raises(ReadOnlyViolation):
                session.read_memory(MemoryRegion(0, 4, "00"))
            assert session.read_did(0xF189).value == "2.4.1"
        assert set(sim.requests("bcm")) == {0x22}


def test_expected_from_scan_and_merge():
    prov = Provenance(sha256="0" * 64, size=1)
    result = ScanResult(path="bcm.vbf", sha256="0" * 64, size=1, format=ImageFormat.ELF, provenance=prov,
                        metadata={"sw_version": "2.4.0", "did:F189": "2.4.1", "did:F18C": "SN1", "did:zz": "x"})
    exp = expected_from_scan(result)
    assert exp == {0xF189: "2.4.1", 0xF18C: "SN1"}
    merged = with_expectations(target(expect={0xF18C: "SN2"}), exp)
    assert merged.expect == {0xF189: "2.4.1", 0xF18C: "SN2"}  # the manifest wins


def test_duplicate_ecu_ids_rejected():
    from ecuscan.errors import BenchError

    bus = can.Bus(interface="virtual", channel="ecuscan-dup")
    try:
        with pytest.raises(BenchError):
            verify([target(), target()], bus, options=FAST)
    finally:
        bus.shutdown()
