"""The UDS client, decision by decision, against a scripted ECU written here.

The tester side is ecuscan's :class:`EcuSession` on the real stack (udsoncan over can-isotp over a
python-can virtual bus). The ECU side is NOT ecuscan's simulator: it is a can-isotp stack in this
file that answers each request with the exact payloads a test scripts (positive answers, negative
responses, responsePending chains, silence, answers to something else), so every branch of the
client's classification can be reached and its text checked.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import can
import isotp
import pytest

from ecuscan.bench.client import (
    Dispatcher,
    EcuSession,
    ReadOnlyViolation,
    attached,
    nrc_name,
    to_isotp,
)
from ecuscan.bench.records import BenchTarget, ItemKind, MemoryRegion, SecurityConfig, Verdict
from ecuscan.manifest.model import Codec, DidSpec

from .conftest import FAST

#: request -> [(delay before, answer)]: an answer is an ISO-TP payload, or a raw CAN frame sent as it is
Script = Callable[[bytes], list[tuple[float, bytes | can.Message]]]


class ScriptedEcu:
    """A can-isotp endpoint (rx 0x7E0, tx 0x7E8) answering requests by a script; records what it got."""

    def __init__(self, bus: can.BusABC, script: Script) -> None:
        self.script, self.bus = script, bus
        self.requests: list[bytes] = []
        self.notifier = can.Notifier(bus, [], timeout=0.05)
        addr = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=0x7E8, rxid=0x7E0)
        self.stack = isotp.NotifierBasedCanStack(bus, self.notifier, address=addr,
                                                 params={"tx_padding": 0xCC, "blocking_send": False})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            req = self.stack.recv(block=True, timeout=0.05)
            if req is None:
                continue
            self.requests.append(bytes(req))
            for delay, answer in self.script(bytes(req)):
                time.sleep(delay)
                if isinstance(answer, can.Message):
                    self.bus.send(answer)
                else:
                    self.stack.send(answer)

    def __enter__(self) -> ScriptedEcu:
        self.stack.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.stack.stop()
        self.notifier.stop()


TARGET = BenchTarget("bcm", 0x7E0, 0x7E8, expect={0xF189: "2.4.1"})


@pytest.fixture
def session(buses: tuple[can.BusABC, can.BusABC]) -> Iterator[Callable[..., tuple[EcuSession, ScriptedEcu]]]:
    tester, ecu_bus = buses
    stack = []

    def open_(script: Script, target: BenchTarget = TARGET, **options: object) -> tuple[EcuSession, ScriptedEcu]:
        ecu = ScriptedEcu(ecu_bus, script).__enter__()
        stack.append(ecu)
        ctx = attached(tester)
        d = ctx.__enter__()
        stack.append(ctx)
        s = EcuSession(target, tester, d, replace(FAST, **options)).__enter__()  # type: ignore[arg-type]
        stack.append(s)
        return s, ecu

    yield open_
    for item in reversed(stack):
        item.__exit__(None, None, None)


def answers(*payloads: str, delay: float = 0.0) -> Script:
    return lambda req: [(delay, bytes.fromhex(p)) for p in payloads]


# --- ReadDataByIdentifier -------------------------------------------------------------------------------

def test_a_did_is_read_and_decoded_with_its_evidence(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(answers("62F189" + b"2.4.1".hex()))
    obs = s.read_did(0xF189)
    assert (obs.ecu_id, obs.kind, obs.item, obs.status, obs.value) == ("bcm", ItemKind.DID, 0xF189,
                                                                       Verdict.OBSERVED, "2.4.1")
    assert obs.exchange.request == bytes.fromhex("22F189")
    assert obs.exchange.responses == (bytes.fromhex("62F189") + b"2.4.1",)
    assert obs.exchange.frames_rx == 2 and obs.exchange.transport_errors == ()  # 8 bytes: first + consecutive
    assert ecu.requests == [bytes.fromhex("22F189")]


@pytest.mark.parametrize(("nrc", "name"), [(0x31, "RequestOutOfRange"), (0x22, "ConditionsNotCorrect"),
                                            (0x33, "SecurityAccessDenied"), (0xFE, "NRC_FE")])
def test_a_negative_response_is_missing_with_the_code_named(session, nrc: int, name: str) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers(f"7F22{nrc:02X}"))
    obs = s.read_did(0xF189)
    assert (obs.status, obs.nrc, obs.value) == (Verdict.MISSING, nrc, None)
    assert obs.detail == f"negative response 0x{nrc:02X} {name}"
    assert nrc_name(nrc) == name


def test_only_response_pending_then_silence_is_unreachable(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers("7F2278", "7F2278"))
    obs = s.read_did(0xF189)
    assert obs.status is Verdict.UNREACHABLE and obs.nrc is None
    assert obs.detail == "2 x responsePending (0x78), then no final answer within P2* 1.0 s"
    assert obs.exchange.responses == (bytes.fromhex("7F2278"),) * 2


def test_response_pending_then_the_answer(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers("7F2278", "62F189" + b"2.4.1".hex()))
    obs = s.read_did(0xF189)
    assert obs.status is Verdict.OBSERVED and obs.value == "2.4.1"
    assert len(obs.exchange.responses) == 2


def test_silence_is_unreachable(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(lambda req: [])
    obs = s.read_did(0xF189)
    assert obs.status is Verdict.UNREACHABLE and obs.exchange.frames_rx == 0 and obs.exchange.responses == ()
    assert "timeout" in obs.detail.lower() or "did not receive" in obs.detail.lower()


def test_an_answer_about_another_did_is_invalid(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers("62F18A" + b"2.4.1".hex()))
    obs = s.read_did(0xF189)
    assert obs.status is Verdict.INVALID and obs.value is None and obs.detail


def test_an_answer_to_another_service_is_invalid(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers("6EF189"))
    obs = s.read_did(0xF189)
    assert (obs.kind, obs.item, obs.status, obs.value) == (ItemKind.DID, 0xF189, Verdict.INVALID, None)
    assert obs.exchange.responses == (bytes.fromhex("6EF189"),)
    # udsoncan's own words for it (service 0x6E answered, 0x62 expected), cut at 200 characters
    assert "different than the request service ID. Received=0x6e" in obs.detail and len(obs.detail) == 200


def raw(hex_data: str) -> can.Message:
    """A CAN frame from the ECU's identifier, sent as it is (no ISO-TP framing added)."""
    return can.Message(arbitration_id=0x7E8, data=bytes.fromhex(hex_data), is_extended_id=False)


def test_frames_without_an_answer_or_a_transport_error_are_invalid(session) -> None:  # type: ignore[no-untyped-def]
    # a first frame announcing 20 bytes, then nothing: with can-isotp's consecutive-frame timeout
    # (1 s) longer than P2 (0.25 s), P2 expires first, before any transport error: only the frame
    # count says that the ECU spoke, so the answer is invalid, not unreachable
    s, _ = session(lambda req: [(0.0, raw("101462F189414243"))], isotp_timeout_ms=1000)
    obs = s.read_did(0xF189)
    assert (obs.kind, obs.item, obs.status, obs.value) == (ItemKind.DID, 0xF189, Verdict.INVALID, None)
    assert obs.exchange.frames_rx == 1 and obs.exchange.transport_errors == () and obs.exchange.responses == ()
    assert obs.detail == "incomplete or broken answer before timeout: 1 frame(s) but no complete answer"


def test_the_detail_names_the_first_two_transport_errors(session) -> None:  # type: ignore[no-untyped-def]
    # ten consecutive frames while nothing is being received: ten can-isotp errors, the exchange
    # keeps the first eight, the detail names two
    s, _ = session(lambda req: [(0.0, raw(f"2{i % 16:X}AA")) for i in range(1, 11)])
    obs = s.read_did(0xF189)
    errors = obs.exchange.transport_errors
    assert obs.exchange.frames_rx == 10
    assert len(errors) == 8 and all(e.startswith("UnexpectedConsecutiveFrameError: ") for e in errors), errors
    assert (obs.kind, obs.item, obs.status) == (ItemKind.DID, 0xF189, Verdict.INVALID)
    assert obs.detail == f"incomplete or broken answer before timeout: {errors[0]}; {errors[1]}"


def test_any_other_library_failure_is_invalid_with_its_type_and_a_bounded_text(session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(lambda req: [])

    def broken(did: int) -> None:
        raise RuntimeError("x" * 300)

    monkeypatch.setattr(s.client, "read_data_by_identifier", broken)
    obs = s.read_did(0xF189)
    assert (obs.kind, obs.item, obs.status, obs.value) == (ItemKind.DID, 0xF189, Verdict.INVALID, None)
    assert obs.detail == ("RuntimeError: " + "x" * 300)[:200] and len(obs.detail) == 200


def test_an_answer_its_codec_cannot_decode_is_invalid(session) -> None:  # type: ignore[no-untyped-def]
    # a DID declared packed BCD (manifest codec) answered with a nibble above 9
    target = replace(TARGET, dids=(DidSpec(0xF1A0, "calibration date", Codec.BCD),))
    s, _ = session(answers("62F1A02026A1"), target)
    obs = s.read_did(0xF1A0)
    assert (obs.kind, obs.item, obs.status, obs.value) == (ItemKind.DID, 0xF1A0, Verdict.INVALID, None)
    assert obs.detail == "byte 0xa1 is not packed BCD"


class _Answer:
    """A positive ReadDataByIdentifier answer as udsoncan hands it over, with chosen values (or none)."""

    def __init__(self, values: dict[int, bytes] | None) -> None:
        self.service_data = None if values is None else type("ServiceData", (), {"values": values})()


@pytest.mark.parametrize("values", [{}, {0xF18A: b"2.4.1"}, None])
def test_a_positive_answer_without_the_did_is_invalid(session, monkeypatch, values) -> None:  # type: ignore[no-untyped-def]
    # udsoncan checks the DID echo itself (test above); the client checks again that the DID it asked
    # for is in the answer, so a library answer without it fails closed instead of raising
    s, _ = session(lambda req: [])
    monkeypatch.setattr(s.client, "read_data_by_identifier", lambda did: _Answer(values))
    obs = s.read_did(0xF189)
    assert (obs.kind, obs.item, obs.status, obs.value) == (ItemKind.DID, 0xF189, Verdict.INVALID, None)
    assert obs.detail == "response lacks the DID"


def test_a_first_frame_without_its_consecutive_frames_is_invalid(session) -> None:  # type: ignore[no-untyped-def]
    # a first frame announcing 20 bytes and nothing after it: frames arrived, no complete answer
    first = can.Message(arbitration_id=0x7E8, data=bytes.fromhex("101462F189414243"), is_extended_id=False)
    s, _ = session(lambda req: [(0.0, first)])
    obs = s.read_did(0xF189)
    assert obs.status is Verdict.INVALID and obs.value is None and obs.exchange.frames_rx == 1
    errors = obs.exchange.transport_errors
    assert errors and all(re.fullmatch(r"[A-Z]\w+: \S.*", e) for e in errors), errors
    # each error is "<can-isotp's exception class>: <its text>"; a silent sender after the first
    # frame is can-isotp's consecutive-frame timeout (class and text as can-isotp defines them)
    assert "ConsecutiveFrameTimeoutError: Reception of CONSECUTIVE_FRAME timed out." in errors, errors
    assert obs.detail == "incomplete or broken answer before timeout: " + "; ".join(errors[:2])


def test_pending_then_a_first_frame_alone_is_invalid_not_unreachable(session) -> None:  # type: ignore[no-untyped-def]
    first = can.Message(arbitration_id=0x7E8, data=bytes.fromhex("101462F189414243"), is_extended_id=False)
    s, _ = session(lambda req: [(0.0, bytes.fromhex("7F2278")), (0.05, first)])
    obs = s.read_did(0xF189)
    assert obs.status is Verdict.INVALID and "responsePending" not in obs.detail


# --- OBD-II service 0x09 --------------------------------------------------------------------------------

VIN = "WVWZZZ1JZXW000001"


def test_obd_vin(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(answers("490201" + VIN.encode().hex()))
    obs = s.read_obd(0x02)
    assert (obs.kind, obs.item, obs.status, obs.value) == (ItemKind.OBD, 0x02, Verdict.OBSERVED, VIN)
    assert ecu.requests == [bytes.fromhex("0902")]
    assert obs.exchange.request == bytes.fromhex("0902")


def test_obd_pending_then_the_answer(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers("7F0978", "7F0978", "490201" + VIN.encode().hex()))
    obs = s.read_obd(0x02)
    assert obs.value == VIN and len(obs.exchange.responses) == 3


def test_obd_pending_then_silence(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers("7F0978"))
    obs = s.read_obd(0x02)
    assert (obs.kind, obs.item, obs.status) == (ItemKind.OBD, 0x02, Verdict.UNREACHABLE)
    assert obs.detail == "1 x responsePending (0x78), then no final answer within P2* 1.0 s"


def test_obd_negative_responses(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers("7F0912"))
    obs = s.read_obd(0x02)
    assert (obs.kind, obs.item) == (ItemKind.OBD, 0x02)
    assert (obs.status, obs.nrc, obs.detail) == (Verdict.MISSING, 0x12,
                                                 "negative response 0x12 SubFunctionNotSupported")


def test_obd_negative_response_for_another_service_is_invalid(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers("7F2231"))
    obs = s.read_obd(0x02)
    assert (obs.kind, obs.item) == (ItemKind.OBD, 0x02)
    assert (obs.status, obs.nrc, obs.detail) == (Verdict.INVALID, None, "negative response for service 0x22")


def test_obd_pending_for_another_service_is_not_followed(session) -> None:  # type: ignore[no-untyped-def]
    # 7F 22 78 is not a responsePending for service 0x09: it is a (wrong) final answer
    s, _ = session(answers("7F2278", "490201" + VIN.encode().hex()))
    obs = s.read_obd(0x02)
    assert obs.status is Verdict.INVALID and obs.detail == "negative response for service 0x22"


def test_obd_malformed_answer_is_invalid(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers("490200"))
    obs = s.read_obd(0x02)
    assert (obs.kind, obs.item) == (ItemKind.OBD, 0x02)
    assert obs.status is Verdict.INVALID and "data items is out of range" in obs.detail


def test_obd_silence(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(lambda req: [])
    obs = s.read_obd(0x02)
    assert obs.status is Verdict.UNREACHABLE and obs.exchange.responses == ()
    assert obs.detail.startswith("Did not receive IsoTP frame")


def test_obd_overall_timeout_with_an_endless_pending_chain(session) -> None:  # type: ignore[no-untyped-def]
    # the first responsePending inside P2 (0.25 s), the next ones 0.3 s apart (inside P2*), forever
    s, _ = session(lambda req: [(0.0, bytes.fromhex("7F0978"))] + [(0.3, bytes.fromhex("7F0978"))] * 7,
                   request_timeout=1.2)
    t0 = time.monotonic()
    obs = s.read_obd(0x02)
    assert obs.status is Verdict.UNREACHABLE and time.monotonic() - t0 < 2.5
    assert re.fullmatch(r"[2-5] x responsePending \(0x78\), then no final answer within P2\* 1.0 s", obs.detail)


def test_obd_a_long_pending_chain_inside_the_overall_timeout(session) -> None:  # type: ignore[no-untyped-def]
    # responsePending for 2.2 s: past P2 and past the first two thirds of the 3 s overall timeout, inside it
    s, _ = session(lambda req: [(0.0, bytes.fromhex("7F0978"))] + [(0.7, bytes.fromhex("7F0978"))] * 3
                   + [(0.1, bytes.fromhex("490201") + VIN.encode())], request_timeout=3.0)
    obs = s.read_obd(0x02)
    assert obs.status is Verdict.OBSERVED and obs.value == VIN


# --- ReadMemoryByAddress (opt-in) -----------------------------------------------------------------------

MEMORY = bytes(range(256)) * 2


def memory_script(req: bytes) -> list[tuple[float, bytes | can.Message]]:
    assert req[:2] == bytes.fromhex("2344")
    addr, size = int.from_bytes(req[2:6], "big"), int.from_bytes(req[6:10], "big")
    return [(0.0, b"\x63" + MEMORY[addr - 0x1000:addr - 0x1000 + size])]


def test_memory_is_read_in_chunks_and_hashed(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(memory_script, read_memory=True, memory_chunk=16)
    obs = s.read_memory(MemoryRegion(0x1000, 40, "0" * 64))
    assert (obs.kind, obs.item, obs.status) == (ItemKind.MEMORY, 0x1000, Verdict.OBSERVED)
    assert obs.value == hashlib.sha256(MEMORY[:40]).hexdigest()
    assert [(int.from_bytes(r[2:6], "big"), int.from_bytes(r[6:10], "big")) for r in ecu.requests] == [
        (0x1000, 16), (0x1010, 16), (0x1020, 8)]
    # ReadMemoryByAddress with a 4-byte address and a 4-byte size: ALFID 0x44, 10 bytes in all
    assert all(r[:2] == bytes.fromhex("2344") and len(r) == 10 for r in ecu.requests), ecu.requests


def test_memory_chunks_fit_the_payload_limit(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(memory_script, read_memory=True, memory_chunk=256, max_payload=11)
    obs = s.read_memory(MemoryRegion(0x1000, 25, "0" * 64))
    assert obs.value == hashlib.sha256(MEMORY[:25]).hexdigest()
    assert [int.from_bytes(r[6:10], "big") for r in ecu.requests] == [10, 10, 5]


def test_memory_chunks_of_one_byte(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(memory_script, read_memory=True, max_payload=2)
    assert s.read_memory(MemoryRegion(0x1000, 3, "0" * 64)).value == hashlib.sha256(MEMORY[:3]).hexdigest()
    assert [int.from_bytes(r[6:10], "big") for r in ecu.requests] == [1, 1, 1]


@pytest.mark.parametrize("block", [b"\x00" * 15, b"\x00" * 16 + b"\x01", b"\x01" * 16 + b"\x02\x00"])
def test_a_memory_answer_of_the_wrong_size_is_invalid(session, block: bytes) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(lambda req: [(0.0, b"\x63" + block)], read_memory=True, memory_chunk=16)
    obs = s.read_memory(MemoryRegion(0x2000, 32, "0" * 64))
    assert obs.status is Verdict.INVALID and obs.value is None
    assert "Client requested for 16 bytes" in obs.detail or "16 bytes" in obs.detail


class _ShortBlock:
    """A positive ReadMemoryByAddress answer as udsoncan hands it over, with a chosen block (or none)."""

    def __init__(self, block: bytes | None) -> None:
        self.service_data = None if block is None else type("ServiceData", (), {"memory_block": block})()


@pytest.mark.parametrize(("block", "got"), [(b"\x05" * 8, 8), (None, 0)])
def test_a_short_block_that_the_library_lets_through_is_invalid(session, monkeypatch, block, got) -> None:  # type: ignore[no-untyped-def]
    # udsoncan 1.26 itself refuses a short block (test above); the client checks the size again so a
    # library that lets one through (or a positive answer without service data) still fails closed.
    # The first 16-byte chunk comes from the ECU, the second from the stand-in answer.
    s, _ = session(lambda req: [(0.0, b"\x63" + b"\x07" * 16)], read_memory=True, memory_chunk=16)
    real = s.client.read_memory_by_address
    calls = []

    def second_short(loc):  # type: ignore[no-untyped-def]
        calls.append((loc.address, loc.memorysize))
        return real(loc) if len(calls) == 1 else _ShortBlock(block)

    monkeypatch.setattr(s.client, "read_memory_by_address", second_short)
    obs = s.read_memory(MemoryRegion(0x2000, 32, "0" * 64))
    assert calls == [(0x2000, 16), (0x2010, 16)]
    assert (obs.kind, obs.item, obs.status, obs.value) == (ItemKind.MEMORY, 0x2000, Verdict.INVALID, None)
    assert obs.detail == f"asked 16 bytes at 0x2010, got {got}"


def test_trailing_zero_padding_after_the_block_is_tolerated(session) -> None:  # type: ignore[no-untyped-def]
    # udsoncan's tolerate_zero_padding: zero bytes after the requested size are padding, not data
    s, _ = session(lambda req: [(0.0, b"\x63" + b"\x07" * 16 + b"\x00\x00")], read_memory=True, memory_chunk=16)
    obs = s.read_memory(MemoryRegion(0x2000, 16, "0" * 64))
    assert obs.status is Verdict.OBSERVED and obs.value == hashlib.sha256(b"\x07" * 16).hexdigest()


def test_a_refused_memory_read_is_missing(session) -> None:  # type: ignore[no-untyped-def]
    s, _ = session(answers("7F2333"), read_memory=True)
    obs = s.read_memory(MemoryRegion(0x2000, 8, "0" * 64))
    assert (obs.kind, obs.status, obs.nrc, obs.item) == (ItemKind.MEMORY, Verdict.MISSING, 0x33, 0x2000)


def test_memory_reads_need_the_opt_in(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(memory_script)
    with pytest.raises(ReadOnlyViolation) as e:
        s.read_memory(MemoryRegion(0x1000, 8, "0" * 64))
    assert str(e.value) == "memory reads need the explicit read_memory opt-in (--read-memory)"
    assert ecu.requests == []


# --- SecurityAccess (opt-in) ----------------------------------------------------------------------------

def security_script(key_answer: str) -> Script:
    def script(req: bytes) -> list[tuple[float, bytes | can.Message]]:
        if req == bytes.fromhex("2701"):
            return [(0.0, bytes.fromhex("6701AABB"))]
        if req[:2] == bytes.fromhex("2702"):
            return [(0.0, bytes.fromhex(key_answer))]
        if req[:1] == b"\x10":
            return [(0.0, bytes([0x50, req[1], 0, 0x32, 0x01, 0xF4]))]
        return []
    return script


def sec_target(**kw: object) -> BenchTarget:
    return replace(TARGET, security=SecurityConfig(level=1, key=bytes.fromhex("1234"), **kw))  # type: ignore[arg-type]


def test_unlock_sends_the_fixed_key_once(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(security_script("6702"), sec_target(), read_memory=True)
    assert s.unlock() is None
    assert ecu.requests == [bytes.fromhex("2701"), bytes.fromhex("27021234")]


def test_unlock_switches_the_session_first(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(security_script("6702"), sec_target(session=0x03), read_memory=True)
    assert s.unlock() is None
    assert ecu.requests[0] == bytes.fromhex("1003")


@pytest.mark.parametrize(("nrc", "why"), [(0x35, " (invalid key: not retried)"),
                                          (0x36, " (exceeded number of attempts: not retried)"),
                                          (0x37, " (required time delay not expired: not retried)"),
                                          (0x22, "")])
def test_a_refused_key_is_not_retried(session, nrc: int, why: str) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(security_script(f"7F27{nrc:02X}"), sec_target(), read_memory=True)
    obs = s.unlock()
    assert obs is not None and (obs.kind, obs.item, obs.status, obs.nrc) == (ItemKind.SECURITY, 1,
                                                                            Verdict.MISSING, nrc)
    assert obs.detail == f"SecurityAccess level 0x01 refused: negative response 0x{nrc:02X} {nrc_name(nrc)}{why}"
    assert len([r for r in ecu.requests if r[:2] == bytes.fromhex("2702")]) == 1


def test_the_ecu_timing_from_a_session_change_is_not_trusted_by_default(session) -> None:  # type: ignore[no-untyped-def]
    # the session change answers P2 = 50 ms; the DID answer then takes 150 ms: inside the tester's own
    # P2 (250 ms), beyond the ECU's. Only with trust_ecu_timing would the ECU's 50 ms apply.
    def script(req: bytes) -> list[tuple[float, bytes | can.Message]]:
        if req == bytes.fromhex("22F189"):
            return [(0.15, bytes.fromhex("62F189") + b"2.4.1")]
        return security_script("6702")(req)

    s, _ = session(script, sec_target(session=0x03), read_memory=True)
    assert s.unlock() is None
    obs = s.read_did(0xF189)
    assert (obs.status, obs.value) == (Verdict.OBSERVED, "2.4.1")


def test_the_overall_request_timeout_ends_an_endless_pending_chain(session) -> None:  # type: ignore[no-untyped-def]
    # responsePending at once (inside P2), then every 0.3 s for 3 s (inside P2*); the request may take 1 s
    pending = bytes.fromhex("7F2278")
    s, _ = session(lambda req: [(0.05, pending)] + [(0.3, pending)] * 10, request_timeout=1.0)
    t = time.monotonic()
    obs = s.read_did(0xF189)
    took = time.monotonic() - t
    assert (obs.kind, obs.item, obs.status) == (ItemKind.DID, 0xF189, Verdict.UNREACHABLE)
    assert 0.9 <= took < 2.5, took
    assert 3 <= len(obs.exchange.responses) <= 5, obs.exchange.responses


def test_no_security_without_the_opt_in(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(security_script("6702"), sec_target())
    assert s.security is None and s.unlock() is None
    assert ecu.requests == []


def test_unlock_refuses_a_security_config_set_without_the_opt_in(session) -> None:  # type: ignore[no-untyped-def]
    # the session leaves ``security`` empty without the opt-in; the guard in unlock() still holds
    # when a caller sets it afterwards: nothing is sent
    s, ecu = session(security_script("6702"), sec_target())
    s.security = sec_target().effective_security
    with pytest.raises(ReadOnlyViolation) as e:
        s.unlock()
    assert str(e.value) == "SecurityAccess needs the explicit read_memory opt-in (--read-memory)"
    assert ecu.requests == []


def test_no_security_without_a_config(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(security_script("6702"), TARGET, read_memory=True)
    assert s.security is None and s.unlock() is None
    assert ecu.requests == []


def test_a_key_algorithm_that_cannot_load_is_reported_not_sent(session) -> None:  # type: ignore[no-untyped-def]
    target = replace(TARGET, security=SecurityConfig(level=1, algorithm="no_such_module_xyz:key"))
    s, ecu = session(security_script("6702"), target, read_memory=True)
    obs = s.unlock()
    assert obs is not None and (obs.kind, obs.item, obs.status) == (ItemKind.SECURITY, 1, Verdict.MISSING)
    assert obs.detail.startswith("SecurityAccess not attempted: cannot import 'no_such_module_xyz' for "
                                 "'no_such_module_xyz:key': ModuleNotFoundError"), obs.detail
    assert ecu.requests == []


def test_a_key_algorithm_that_fails_sends_no_key(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    hook = tmp_path / "keyhook.py"
    hook.write_text("def key(level, seed):\n    raise RuntimeError('no key for ' + seed.hex())\n")
    target = replace(TARGET, security=SecurityConfig(level=1, algorithm=f"{hook}:key"))
    s, ecu = session(security_script("6702"), target, read_memory=True)
    obs = s.unlock()
    assert obs is not None and (obs.kind, obs.item, obs.status) == (ItemKind.SECURITY, 1, Verdict.MISSING)
    assert obs.detail == (f"SecurityAccess level 0x01: key algorithm {hook}:key raised RuntimeError: no key for aabb; "
                          "key not sent")
    assert ecu.requests == [bytes.fromhex("2701")]


# --- the dispatcher -------------------------------------------------------------------------------------

def msg(aid: int, ext: bool = False, **kw: object) -> can.Message:
    return can.Message(arbitration_id=aid, is_extended_id=ext, data=b"\x01\x02", **kw)  # type: ignore[arg-type]


def test_frames_go_to_the_handlers_of_their_identifier() -> None:
    d = Dispatcher()
    got: dict[str, list[int]] = {"a": [], "b": [], "x": [], "tap": []}
    ha, hb, hx = (lambda m: got["a"].append(m.arbitration_id)), (lambda m: got["b"].append(m.arbitration_id)), (
        lambda m: got["x"].append(m.arbitration_id))
    d.add(0x7E8, False, ha)
    d.add(0x7E8, False, hb)
    d.add(0x7E8, True, hx)        # the same number as a 29-bit identifier is another identifier
    d.on_message_received(msg(0x7E8))
    d.on_message_received(msg(0x7E8, True))
    d.on_message_received(msg(0x7E9))
    assert got == {"a": [0x7E8], "b": [0x7E8], "x": [0x7E8], "tap": []}
    d.tap(lambda m: got["tap"].append(m.arbitration_id))
    d.on_message_received(msg(0x123))
    d.on_message_received(msg(0x7E8, is_error_frame=True))   # error and remote frames reach no one
    d.on_message_received(msg(0x7E8, is_remote_frame=True))
    assert got["tap"] == [0x123] and got["a"] == [0x7E8]
    d.remove(0x7E8, False, ha)
    d.on_message_received(msg(0x7E8))
    assert got["a"] == [0x7E8] and got["b"] == [0x7E8, 0x7E8] and got["tap"] == [0x123, 0x7E8]
    d.remove(0x7E8, False, hb)
    d.remove(0x7E8, False, hb)    # removing twice is harmless
    d.tap(None)
    d.on_message_received(msg(0x7E8))
    d.on_message_received(msg(0x123))
    assert got["b"] == [0x7E8, 0x7E8] and got["tap"] == [0x123, 0x7E8] and got["x"] == [0x7E8]


class Keep(can.Listener):
    def __init__(self) -> None:
        self.frames: list[can.Message] = []

    def on_message_received(self, msg: can.Message) -> None:
        self.frames.append(msg)


class Broken(can.Listener):
    def on_message_received(self, msg: can.Message) -> None:
        raise OSError("disk full")


def test_the_bus_log_sees_sent_and_received_frames_in_time_order(channel: str) -> None:
    d = Dispatcher()
    keep, broken = Keep(), Broken()
    d.log_to([broken, keep])
    bus = can.Bus(interface="virtual", channel=channel)
    try:
        out = msg(0x7E0)
        d.send(bus, out)
        assert out.is_rx is False and out.timestamp > 0
        late = msg(0x7E8, timestamp=out.timestamp - 5.0, channel=0)
        d.on_message_received(late)
        odd = msg(0x7E8, timestamp=out.timestamp + 1.0, channel="ecuscan-audit-1f2e3456789")
        d.on_message_received(odd)
        fine = msg(0x7E8, timestamp=out.timestamp + 2.0, channel=1)
        d.on_message_received(fine)
        d.on_message_received(msg(0x7E8, is_error_frame=True))
    finally:
        bus.shutdown()
    assert [f.arbitration_id for f in keep.frames] == [0x7E0, 0x7E8, 0x7E8, 0x7E8]
    stamps = [f.timestamp for f in keep.frames]
    assert stamps == sorted(stamps) and stamps[1] == out.timestamp        # the late frame is moved up
    assert late.timestamp == out.timestamp - 5.0                          # on a copy: the original stays
    assert keep.frames[2].channel is None and odd.channel == "ecuscan-audit-1f2e3456789"
    assert keep.frames[3] is fine and fine.channel == 1                   # an ordinary frame is not copied
    assert d.log_errors == ["bus log writer Broken stopped: OSError: disk full"]
    d.log_to([])
    d.on_message_received(msg(0x7E8, timestamp=out.timestamp + 3.0))
    assert len(keep.frames) == 4


def test_a_can_fd_target_is_sent_fd_frames(session) -> None:  # type: ignore[no-untyped-def]
    s, ecu = session(lambda req: [], replace(TARGET, fd=True))
    seen = can.BufferedReader()
    ecu.notifier.add_listener(seen)
    s.read_did(0xF189)
    sent = seen.get_message(timeout=1.0)
    assert sent is not None and sent.arbitration_id == 0x7E0
    assert sent.is_fd is True and sent.bitrate_switch is True and bytes(sent.data[:4]) == bytes.fromhex("0322F189")


def test_a_closed_session_stops_receiving_even_when_the_close_fails(buses) -> None:  # type: ignore[no-untyped-def]
    tester, _ = buses
    with attached(tester) as d:
        s = EcuSession(TARGET, tester, d, FAST).__enter__()

        def close() -> None:
            raise OSError("transport already gone")

        s.client.close = close  # type: ignore[method-assign]
        s.__exit__(None, None, None)  # no exception escapes
        # the dispatcher no longer routes the ECU's identifier to the closed session
        assert d._handlers.get((TARGET.rx_id, False), []) == []


def test_the_stacks_log_under_ecuscan_bench(session, caplog) -> None:  # type: ignore[no-untyped-def]
    # udsoncan's client and connection log under ecuscan.bench.uds(.connection), so a user can turn
    # them on or off with the rest of the bench's logging (nothing goes to the root logger)
    with caplog.at_level(logging.DEBUG):
        s, _ = session(answers("62F189" + b"2.4.1".hex()))
        s.read_did(0xF189)
    names = {r.name for r in caplog.records}
    assert {"ecuscan.bench.uds", "ecuscan.bench.uds.connection"} <= names, names
    assert "root" not in names


def test_closing_a_session_stops_its_receive_thread_cleanly(buses, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tester, _ = buses
    crashed: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashed.append(args.exc_value))
    with attached(tester) as d:
        s = EcuSession(TARGET, tester, d, FAST).__enter__()
        s.read_did(0xF189)  # silence: the stack's threads have run
        s.__exit__(None, None, None)
        time.sleep(0.3)
    assert crashed == []


def test_the_bus_log_keeps_frames_it_can_store_as_they_are() -> None:
    d = Dispatcher()
    keep = Keep()
    d.log_to([keep])
    early = msg(0x7E8, timestamp=0.5, channel=0)        # a clock near zero, channel 0: both storable
    same = msg(0x7E8, timestamp=0.5, channel=0xFFFD)    # the same time again: not out of order
    top = msg(0x7E8, timestamp=0.6, channel=0xFFFE)     # one past the highest 16-bit channel a log can number
    for m in (early, same, top):
        d.on_message_received(m)
    assert keep.frames[0] is early and keep.frames[1] is same
    assert keep.frames[2] is not top and keep.frames[2].channel is None and keep.frames[2].timestamp == 0.6
    assert [f.timestamp for f in keep.frames] == [0.5, 0.5, 0.6]


def test_a_broken_log_writer_is_named_with_a_bounded_reason() -> None:
    class Loud(can.Listener):
        def on_message_received(self, msg: can.Message) -> None:
            raise OSError("x" * 500)

    d = Dispatcher()
    d.log_to([Loud()])
    d.on_message_received(msg(0x7E8, timestamp=1.0))
    assert d.log_errors == [("bus log writer Loud stopped: OSError: " + "x" * 500)[:300]]


def test_to_isotp_keeps_every_field() -> None:
    m = can.Message(arbitration_id=0x18DAF130, data=bytes(range(12)), is_extended_id=True, is_fd=True,
                    bitrate_switch=True)
    c = to_isotp(m)
    assert (c.arbitration_id, bytes(c.data), c.is_extended_id, c.is_fd, c.bitrate_switch) == (
        0x18DAF130, bytes(range(12)), True, True, True)
    c = to_isotp(can.Message(arbitration_id=0x7E8, data=b"\x01", is_extended_id=False))
    assert (c.is_extended_id, c.is_fd, c.bitrate_switch) == (False, False, False)
