"""SecurityAccess (0x27) in the opt-in memory-read mode, end to end on a virtual bus."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import textwrap

import pytest

from ecuscan.bench.client import ReadOnlyViolation, check_allowed
from ecuscan.bench.records import BenchTarget, MemoryRegion, SecurityConfig, Verdict
from ecuscan.bench.security import SecurityKeyError, key_function, load_callable
from ecuscan.bench.simulator import EcuSpec, Faults, Simulator
from ecuscan.bench.verify import verify
from ecuscan.errors import BenchError

from .conftest import FAST

BLOB = bytes(range(256)) * 2
REGION = MemoryRegion(0x08000000, len(BLOB), hashlib.sha256(BLOB).hexdigest())
READ = dataclasses.replace(FAST, read_memory=True)


@pytest.fixture
def keymod(tmp_path, monkeypatch):
    """A user key-algorithm module on sys.path: key = seed XOR level, each byte + 1."""
    (tmp_path / "bench_keys.py").write_text(textwrap.dedent("""
        calls = []
        def xor_key(level, seed):
            calls.append((level, bytes(seed)))
            return bytes(((b ^ level) + 1) & 0xFF for b in seed)
        def broken(level, seed):
            raise RuntimeError("dongle not connected")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "bench_keys"
    sys.modules.pop("bench_keys", None)


def run(buses, spec, options=READ):
    tester, ecu_bus = buses
    with Simulator([spec], ecu_bus) as sim:
        report = verify([spec.target], tester, options=options)
    return report, sim


def spec(security=None, **faults):
    t = BenchTarget("ecm", 0x7E0, 0x7E8, memory=(REGION,), security=security)
    return EcuSpec(t, memory={0x08000000: BLOB}, faults=Faults(**faults))


def test_allow_list_opens_0x27_only_in_read_memory_mode_and_only_seed_key():
    for payload in ("2701", "2702aabbccdd", "2741", "2742"):
        with pytest.raises(ReadOnlyViolation):
            check_allowed(bytes.fromhex(payload))
        check_allowed(bytes.fromhex(payload), read_memory=True)
    for payload in ("2743", "275f", "2760", "2781", "27", "2700"):
        with pytest.raises(ReadOnlyViolation):
            check_allowed(bytes.fromhex(payload), read_memory=True)


def test_fixed_key_unlocks_and_memory_matches(buses):
    report, sim = run(buses, spec(SecurityConfig(1, key=bytes.fromhex("c0ffee01")),
                                  security_level=1, security_key="c0ffee01"))
    (check,) = report.checks
    assert check.verdict is Verdict.MATCH
    assert check.observation.value == REGION.sha256
    seen = sim.requests("ecm")
    assert seen[0x27] == 2 and seen[0x23] == 2  # requestSeed + sendKey, then two 256-byte chunks
    assert set(seen) == {0x27, 0x23}


def test_key_algorithm_via_udsoncan_security_algo(buses, keymod):
    sec = SecurityConfig(3, algorithm=f"{keymod}:xor_key")
    report, sim = run(buses, spec(sec, security_level=3, security_algorithm=f"{keymod}:xor_key"))
    assert [c.verdict for c in report.checks] == [Verdict.MATCH]
    calls = sys.modules[keymod].calls
    # the tester computed one key (the simulator computed one too, with the same function)
    assert len(calls) == 2 and calls[0][0] == 3 and len(calls[0][1]) == 4
    assert sim.requests("ecm")[0x27] == 2


def test_wrong_key_is_missing_0x35_and_no_memory_read(buses):
    report, sim = run(buses, spec(SecurityConfig(1, key=b"\x00\x00\x00\x01"),
                                  security_level=1, security_key="c0ffee01"))
    (check,) = report.checks
    assert check.verdict is Verdict.MISSING
    assert check.observation.nrc == 0x35
    assert "InvalidKey" in check.observation.detail and "not retried" in check.observation.detail
    assert check.observation.exchange.responses[-1] == bytes.fromhex("7f2735")
    assert check.observation.exchange.request[:2] == bytes.fromhex("2702")
    seen = sim.requests("ecm")
    assert 0x23 not in seen
    assert seen[0x27] == 2  # one seed, one key: never a second attempt
    assert not report.failed


def test_wrong_key_stops_every_region_once(buses):
    t = BenchTarget("ecm", 0x7E0, 0x7E8, memory=(REGION, dataclasses.replace(REGION, address=0x08000100, size=16)),
                    security=SecurityConfig(1, key=b"\x01"))
    s = EcuSpec(t, memory={0x08000000: BLOB}, faults=Faults(security_level=1, security_key="02"))
    report, sim = run(buses, s)
    assert [(c.verdict, c.observation.nrc) for c in report.checks] == [(Verdict.MISSING, 0x35)] * 2
    assert sim.requests("ecm")[0x27] == 2 and 0x23 not in sim.requests("ecm")


@pytest.mark.parametrize(("faults", "nrc", "name", "why"), [
    # the ECU already counted failed attempts (attempts=0): it answers the seed request with 0x36
    ({"security_attempts": 0}, 0x36, "ExceedNumberOfAttempts", "exceeded number of attempts"),
    ({"security_nrc": 0x37}, 0x37, "RequiredTimeDelayNotExpired", "required time delay not expired"),
])
def test_exceeded_attempts_and_delay_are_decoded_and_stop(buses, faults, nrc, name, why):
    report, sim = run(buses, spec(SecurityConfig(1, key=b"\x01"), security_level=1, security_key="01", **faults))
    (check,) = report.checks
    assert check.verdict is Verdict.MISSING and check.observation.nrc == nrc
    assert name in check.observation.detail and why in check.observation.detail
    assert sim.requests("ecm")[0x27] == 1 and 0x23 not in sim.requests("ecm")


def test_extended_session_before_unlock(buses):
    report, sim = run(buses, spec(SecurityConfig(1, key=b"\x0a\x0b", session=0x03),
                                  security_level=1, security_key="0a0b"))
    assert [c.verdict for c in report.checks] == [Verdict.MATCH]
    assert set(sim.requests("ecm")) == {0x10, 0x27, 0x23}


def test_no_key_configured_but_ecu_locked_is_0x33(buses):
    report, sim = run(buses, spec(None, security_level=1, security_key="c0ffee01"))
    (check,) = report.checks
    assert check.verdict is Verdict.MISSING
    assert check.observation.nrc == 0x33
    assert "SecurityAccessDenied" in check.observation.detail
    assert 0x27 not in sim.requests("ecm")


def test_security_never_sent_without_read_memory(buses):
    t = BenchTarget("ecm", 0x7E0, 0x7E8, expect={0xF189: "1.0"}, memory=(REGION,),
                    security=SecurityConfig(1, key=b"\x01"))
    report, sim = run(buses, EcuSpec(t, memory={0x08000000: BLOB}, faults=Faults(security_level=1, security_key="01")),
                      options=FAST)
    assert [c.observation.label for c in report.checks] == ["F189"]
    assert set(sim.requests("ecm")) == {0x22}


def test_broken_key_algorithm_sends_no_key(buses, keymod):
    report, sim = run(buses, spec(SecurityConfig(1, algorithm=f"{keymod}:broken"),
                                  security_level=1, security_key="01"))
    (check,) = report.checks
    assert check.verdict is Verdict.MISSING
    assert "dongle not connected" in check.observation.detail
    assert sim.requests("ecm")[0x27] == 1  # the seed was requested, no key was sent
    assert 0x23 not in sim.requests("ecm")


def test_security_config_and_loader_errors(tmp_path):
    with pytest.raises(BenchError):
        SecurityConfig(0x43, key=b"\x01")
    with pytest.raises(BenchError):
        SecurityConfig(1, key=b"\x01", algorithm="x:y")
    with pytest.raises(SecurityKeyError):
        load_callable("no_colon")
    with pytest.raises(SecurityKeyError):
        load_callable("ecuscan_no_such_module_xyz:f")
    with pytest.raises(SecurityKeyError):
        load_callable("zlib:no_such_function")
    hook = tmp_path / "k.py"
    hook.write_text("def k(level, seed):\n    return 'not bytes'\n")
    with pytest.raises(SecurityKeyError):
        key_function(SecurityConfig(1, algorithm=f"{hook}:k"))(1, b"\x01")
    with pytest.raises(BenchError):
        Faults(security_level=1)  # no key for the simulated ECU


def test_session_guard_refuses_0x27_outside_read_memory_mode(buses):
    from ecuscan.bench.client import EcuSession, attached

    tester, ecu_bus = buses
    s = spec(SecurityConfig(1, key=b"\x01"), security_level=1, security_key="01")
    with Simulator([s], ecu_bus) as sim, attached(tester) as dispatcher:
        with EcuSession(s.target, tester, dispatcher, FAST) as session:
            with pytest.raises(ReadOnlyViolation):
                session.client.request_seed(1)
            with pytest.raises(ReadOnlyViolation):
                session.client.send_key(2, b"\x01")
            assert session.unlock() is None  # no security in read-only mode: nothing to do, nothing sent
        assert sum(sim.requests("ecm").values()) == 0
