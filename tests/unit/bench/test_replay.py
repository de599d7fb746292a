"""Bus logs (ASC, BLF, candump) and offline replay, including the real UDS scanner trace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecuscan.bench.buslog import read_log
from ecuscan.bench.records import BenchTarget, Verdict
from ecuscan.bench.replay import replay, transactions
from ecuscan.bench.simulator import EcuSpec, Faults, Simulator
from ecuscan.bench.verify import verify
from ecuscan.errors import BenchError

from .conftest import FAST

TRACE = Path(__file__).resolve().parents[2] / "fixtures" / "can" / "scapy_candump_uds_scanner.log"


def test_real_scanner_trace_every_negative_response_decoded():
    trs, stats = transactions(read_log(TRACE), 0x601, 0x611)
    # count the negative single frames straight from the text, independently of the parser
    raw_negative = len(re.findall(r" 611#037F", TRACE.read_text()))
    assert raw_negative == 2519
    assert stats.negative_total == raw_negative
    assert stats.frames == 9434
    assert stats.other_frames > 3700  # 0x201 periodic traffic, other probe ids
    assert not any(name.startswith("0x7F") and "NRC_" in name for name in stats.negative)  # all NRCs known
    assert stats.negative["0x7F 10 SubFunctionNotSupported"] == 1245
    assert stats.negative["0x7F 27 SubFunctionNotSupported"] == 504
    assert stats.requests == len(trs) == 2698
    assert stats.positive > 100


def test_scanner_trace_replayed_as_a_bench_run():
    # the trace holds a few bare ReadDataByIdentifier requests and no positive answer to them
    report = replay([BenchTarget("scanned", 0x601, 0x611, expect={0xF190: "X"})], TRACE)
    (check,) = report.checks
    assert check.verdict in (Verdict.MISSING, Verdict.UNREACHABLE)


@pytest.mark.parametrize("suffix", [".asc", ".blf", ".log"])
def test_recorded_run_replays_to_the_same_verdicts(buses, tmp_path, suffix):
    from ecuscan.bench.buslog import log_writer

    tester, ecu_bus = buses
    good = BenchTarget("bcm", 0x7E0, 0x7E8, expect={0xF189: "2.4.1", 0xF190: "WVWZZZ1JZXW000001"},
                       expect_obd={0x06: "11223344"})
    drift = BenchTarget("gw", 0x7E1, 0x7E9, expect={0xF189: "1.0", 0xF18C: "SN1"})
    specs = [EcuSpec(good), EcuSpec(drift, faults=Faults(drift={0xF189: "1.1"}, nrc_dids={0xF18C: 0x31}))]
    path = tmp_path / f"run{suffix}"
    writer = log_writer(path)
    with Simulator(specs, ecu_bus):
        live = verify([good, drift], tester, options=FAST, listeners=[writer])
    writer.stop()
    offline = replay([good, drift], path)
    key = [(c.ecu_id, c.observation.label, c.verdict, c.observation.value) for c in live.checks]
    assert key == [(c.ecu_id, c.observation.label, c.verdict, c.observation.value) for c in offline.checks]
    assert {c.verdict for c in offline.checks} == {Verdict.MATCH, Verdict.MISMATCH, Verdict.MISSING}
    assert offline.failed


def test_bad_logs(tmp_path):
    with pytest.raises(BenchError):
        list(read_log(tmp_path / "missing.asc"))
    bad = tmp_path / "x.txt"
    bad.write_text("x")
    with pytest.raises(BenchError):
        list(read_log(bad))
    junk = tmp_path / "junk.blf"
    junk.write_bytes(b"LOGG" + b"\xff" * 200)
    try:  # a corrupt log is either refused with a BenchError or yields nothing; never a raw exception
        assert list(read_log(junk)) == []
    except BenchError as exc:
        assert "junk.blf" in str(exc)


def test_a_failing_log_writer_does_not_break_the_run(buses):
    """Frames logged out of time order (receiver and sender threads interleave) are stored in order,
    and a log writer that raises anyway is dropped with a note while the checks go on."""
    import can

    tester, ecu_bus = buses

    class Broken(can.Listener):
        def on_message_received(self, msg: can.Message) -> None:
            raise OSError("disk full")

    seen: list[float] = []

    class Times(can.Listener):
        def on_message_received(self, msg: can.Message) -> None:
            seen.append(msg.timestamp)

    good = BenchTarget("bcm", 0x7E0, 0x7E8, expect={0xF189: "2.4.1"})
    with Simulator([EcuSpec(good)], ecu_bus):
        report = verify([good], tester, options=FAST, listeners=[Broken(), Times()])
    assert {c.verdict for c in report.checks} == {Verdict.MATCH}
    assert len(report.notes) == 1 and "disk full" in report.notes[0] and "Broken" in report.notes[0]
    assert report.to_dict()["notes"] == list(report.notes)
    assert seen and seen == sorted(seen)


def test_blf_log_of_a_bus_whose_name_ends_in_digits(tmp_path):
    """BLF numbers channels in 16 bits; python-can reads a trailing number out of a channel name
    ("ecuscan-test-123456789" -> 123456789), which the BLF writer cannot store."""
    import can

    from ecuscan.bench.buslog import log_writer

    channel = "ecuscan-test-123456789"
    with can.Bus(interface="virtual", channel=channel) as tester, can.Bus(interface="virtual", channel=channel) as ecu:
        good = BenchTarget("bcm", 0x7E0, 0x7E8, expect={0xF189: "2.4.1"})
        path = tmp_path / "run.blf"
        writer = log_writer(path)
        with Simulator([EcuSpec(good)], ecu):
            live = verify([good], tester, options=FAST, listeners=[writer])
        writer.stop()
    assert live.notes == ()
    assert [c.verdict for c in replay([good], path).checks] == [c.verdict for c in live.checks] == [Verdict.MATCH]
