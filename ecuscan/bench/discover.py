"""Find the ECUs that answer on the bus and read their identification.

Two passes, both sending only TesterPresent ``3E 00`` (on the read-only allow-list):

1. functional: one request on 0x7DF (11-bit) or 0x18DB33F1 (29-bit); every ECU that answers
   ``7E 00`` (or a negative response) reveals its response identifier;
2. physical: the same request on each request identifier of a configurable range, paced so the
   bus is not flooded; answers on the matching response identifier count.

A functional request with many answers is beyond udsoncan's one-request/one-response Client,
so these single frames are sent and matched here by hand (still through the allow-list check).
The ECUs found are then read with the normal UDS client (:func:`ecuscan.bench.verify.check_target`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import can

from ..errors import BenchError
from .addressing import FUNCTIONAL_11BIT, FUNCTIONAL_29BIT, TESTER_ADDRESS, response_id_for
from .client import attached, check_allowed
from .dids import DISCOVERY_DIDS, STANDARD_DIDS
from .records import Addressing, BenchOptions, BenchTarget, Check, DidSpec
from .verify import check_target

TESTER_PRESENT = b"\x3e\x00"


@dataclass(frozen=True)
class DiscoveredEcu:
    """An ECU that answered, how it was found, and what it reported."""

    tx_id: int
    rx_id: int
    addressing: Addressing
    found_by: str  # "functional" or "physical"
    checks: tuple[Check, ...] = ()

    @property
    def name(self) -> str:
        """A stable label: the request identifier in hex."""
        return f"{self.tx_id:03X}" if not self.addressing.extended else f"{self.tx_id:08X}"

    def identification(self) -> dict[int, str]:
        """DID -> decoded value for every DID that was read successfully."""
        return {c.observation.item: c.observation.value for c in self.checks if c.observation.value is not None}


def default_range(addressing: Addressing) -> range:
    """Request identifiers probed by default: 0x7E0-0x7E7, or 29-bit ECU addresses 0x00-0xFF."""
    return range(0x7E0, 0x7E8) if addressing is Addressing.NORMAL_11BIT else range(0x00, 0x100)


def _frame(request_id: int, addressing: Addressing, padding: int | None) -> can.Message:
    payload = bytes([len(TESTER_PRESENT)]) + TESTER_PRESENT
    check_allowed(TESTER_PRESENT)
    if padding is not None:
        payload = payload.ljust(8, bytes([padding]))
    return can.Message(arbitration_id=request_id, data=payload, is_extended_id=addressing.extended)


def _is_answer(msg: can.Message) -> bool:
    d = bytes(msg.data)
    return len(d) >= 3 and ((d[0] == 0x02 and d[1] == 0x7E) or (d[0] == 0x03 and d[1] == 0x7F and d[2] == 0x3E))


def _tester_of(addressing: Addressing) -> int:
    return TESTER_ADDRESS


def discover(bus: can.BusABC, *, addressing: Addressing = Addressing.NORMAL_11BIT,
             options: BenchOptions | None = None, probe: Sequence[int] | None = None,
             listeners: Sequence[can.Listener] = (),
             functional: bool = True, window: float = 0.3, pace: float = 0.002,
             read: Sequence[int] = DISCOVERY_DIDS) -> list[DiscoveredEcu]:
    """Find responding ECUs and read the ``read`` DIDs from each.

    ``probe`` lists request identifiers (11-bit) or ECU addresses 0..255 (29-bit normal-fixed);
    an empty sequence skips the physical pass. ``window`` is how long answers are awaited.
    """
    options = options or BenchOptions()
    probe = list(default_range(addressing) if probe is None else probe)
    if len(probe) > 4096:
        raise BenchError("at most 4096 identifiers can be probed in one discovery")
    found: dict[int, tuple[int, str]] = {}  # rx_id -> (tx_id, how)
    lock = threading.Lock()
    wanted: dict[int, int] = {}  # response id -> request id (physical probes)
    for p in probe:
        tx = (0x18DA0000 | p << 8 | _tester_of(addressing)) if addressing.extended else p
        if addressing.extended and not 0 <= p <= 0xFF:
            raise BenchError(f"29-bit probe address {p:#x} is not 0..255")
        wanted[response_id_for(tx, addressing)] = tx
    phase = {"how": "functional"}

    def on_frame(msg: can.Message) -> None:
        if msg.is_extended_id != addressing.extended or not _is_answer(msg):
            return
        rx = msg.arbitration_id
        with lock:
            if rx in found:
                return
            if phase["how"] == "functional":
                if addressing.extended and rx >> 8 == 0x18DAF1:
                    found[rx] = (0x18DA0000 | (rx & 0xFF) << 8 | TESTER_ADDRESS, "functional")
                elif not addressing.extended and 0x7E8 <= rx <= 0x7EF:
                    found[rx] = (rx - 8, "functional")
                elif rx in wanted:
                    found[rx] = (wanted[rx], "functional")
            elif rx in wanted:
                found[rx] = (wanted[rx], "physical")

    with attached(bus, list(listeners)) as dispatcher:
        dispatcher.tap(on_frame)
        if functional:
            fid = FUNCTIONAL_29BIT if addressing.extended else FUNCTIONAL_11BIT
            dispatcher.send(bus, _frame(fid, addressing, options.padding))
            time.sleep(window)
        with lock:
            phase["how"] = "physical"
        if probe:
            for rx, tx in wanted.items():
                if rx not in found:
                    dispatcher.send(bus, _frame(tx, addressing, options.padding))
                    time.sleep(pace)
            time.sleep(window)
        dispatcher.tap(None)
        result = []
        specs = tuple(STANDARD_DIDS.get(d, DidSpec(d, f"{d:04X}")) for d in read)
        for rx, (tx, how) in sorted(found.items()):
            target = BenchTarget(f"{tx:X}", tx, rx, addressing, dids=specs)
            checks = check_target(target, bus, dispatcher, options)
            result.append(DiscoveredEcu(tx, rx, addressing, how, tuple(checks)))
    return result
