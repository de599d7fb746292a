"""Re-evaluate a recorded bench run offline from a bus log.

Both directions of each ECU's conversation are reassembled by can-isotp itself
(``isotp.TransportLayerLogic`` in ``listen_mode``, fed frame by frame from the log, so it never
transmits); unrelated identifiers are ignored. Requests are paired with the responses that
follow them (NRC 0x78 ``responsePending`` chains included) and turned into the same
:class:`Observation` records a live run produces, then compared with the targets' expectations.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import can
import isotp

from ..limits import DEFAULT_LIMITS, Limits
from . import ISOTP_LOGGER, obd
from .buslog import read_log
from .client import nrc_name, to_isotp
from .dids import DidDecodeError, decode
from .records import (
    BenchOptions,
    BenchReport,
    BenchTarget,
    Check,
    Codec,
    Exchange,
    ItemKind,
    Observation,
    Verdict,
)
from .verify import compare, plan


@dataclass(frozen=True)
class Transaction:
    """One request seen in a log and every response payload that followed it."""

    timestamp: float
    request: bytes
    responses: tuple[bytes, ...]

    @property
    def final(self) -> bytes | None:
        """The last response that is not a 0x78 responsePending."""
        for r in reversed(self.responses):
            if not (len(r) >= 3 and r[0] == 0x7F and r[2] == 0x78):
                return r
        return None


@dataclass
class TraceStats:
    """Counts of what a log holds for one tester/ECU pair."""

    frames: int = 0
    other_frames: int = 0
    requests: int = 0
    responses: int = 0
    positive: int = 0
    negative: Counter[str] = field(default_factory=Counter)  # "0x7F <sid> <nrc name>" -> count
    transport_errors: int = 0

    @property
    def negative_total(self) -> int:
        """Number of negative responses decoded."""
        return sum(self.negative.values())


class _Sniffer:
    """One listen-only can-isotp reassembler for one direction."""

    def __init__(self, rx_id: int, tx_id: int, extended: bool, limits: Limits, stats: TraceStats) -> None:
        mode = isotp.AddressingMode.Normal_29bits if extended else isotp.AddressingMode.Normal_11bits
        self._queue: deque[isotp.CanMessage] = deque()
        self._stats = stats
        self.layer = isotp.TransportLayerLogic(
            rxfn=self._rxfn, txfn=lambda _m: None, address=isotp.Address(mode, txid=tx_id, rxid=rx_id),
            error_handler=self._on_error,
            params={"listen_mode": True, "logger_name": ISOTP_LOGGER, "max_frame_size": limits.max_isotp_payload,
                    "rx_consecutive_frame_timeout": 3_600_000, "rx_flowcontrol_timeout": 3_600_000})

    def _rxfn(self, timeout: float) -> isotp.CanMessage | None:
        return self._queue.popleft() if self._queue else None

    def _on_error(self, error: Exception) -> None:
        self._stats.transport_errors += 1

    def feed(self, msg: can.Message) -> list[bytes]:
        self._queue.append(to_isotp(msg))
        self.layer.process()
        out = []
        while self.layer.available():
            data = self.layer.recv()
            if data is not None:
                out.append(bytes(data))
        return out


def transactions(frames: Iterable[can.Message], tx_id: int, rx_id: int, extended: bool = False,
                 limits: Limits = DEFAULT_LIMITS) -> tuple[list[Transaction], TraceStats]:
    """Reassemble the requests on ``tx_id`` and responses on ``rx_id`` and pair them in time order."""
    stats = TraceStats()
    req = _Sniffer(tx_id, rx_id, extended, limits, stats)
    resp = _Sniffer(rx_id, tx_id, extended, limits, stats)
    out: list[Transaction] = []
    current: tuple[float, bytes, list[bytes]] | None = None
    for msg in frames:
        stats.frames += 1
        if msg.is_error_frame or msg.is_remote_frame or msg.is_extended_id != extended:
            stats.other_frames += 1
            continue
        if msg.arbitration_id == tx_id:
            for payload in req.feed(msg):
                stats.requests += 1
                if current is not None:
                    out.append(Transaction(current[0], current[1], tuple(current[2])))
                current = (msg.timestamp, payload, [])
        elif msg.arbitration_id == rx_id:
            for payload in resp.feed(msg):
                stats.responses += 1
                if len(payload) >= 3 and payload[0] == 0x7F:
                    stats.negative[f"0x7F {payload[1]:02X} {nrc_name(payload[2])}"] += 1
                else:
                    stats.positive += 1
                if current is not None:
                    current[2].append(payload)
        else:
            stats.other_frames += 1
    if current is not None:
        out.append(Transaction(current[0], current[1], tuple(current[2])))
    return out, stats


def _observe(target: BenchTarget, kind: ItemKind, item: int, tr: Transaction | None) -> Observation:
    """The observation a live run would have made from this transaction."""
    if tr is None:
        return Observation(target.ecu_id, kind, item, Exchange(b""), status=Verdict.UNREACHABLE,
                           detail="no request for this item in the log")
    ex = Exchange(tr.request, tr.responses)
    final = tr.final

    def obs(**kw: object) -> Observation:
        return Observation(target.ecu_id, kind, item, ex, **kw)  # type: ignore[arg-type]

    if final is None:
        return obs(status=Verdict.UNREACHABLE, detail="no final response in the log")
    if final[0] == 0x7F and len(final) >= 3:
        if final[1] != tr.request[0]:
            return obs(status=Verdict.INVALID, detail=f"negative response for service {final[1]:#04x}")
        return obs(nrc=final[2], status=Verdict.MISSING,
                   detail=f"negative response 0x{final[2]:02X} {nrc_name(final[2])}")
    try:
        if kind is ItemKind.DID:
            if final[:3] != bytes([0x62, item >> 8, item & 0xFF]):
                return obs(status=Verdict.INVALID, detail=f"unexpected response {final[:3].hex()}")
            return obs(value=decode(target.codec_for(item), final[3:]))
        if kind is ItemKind.OBD:
            return obs(value=obd.decode_response(item, final))
    except (DidDecodeError, obd.ObdDecodeError) as exc:
        return obs(status=Verdict.INVALID, detail=str(exc))
    return obs(status=Verdict.INVALID, detail="memory reads are not re-evaluated from logs")


def _item_of(request: bytes) -> tuple[ItemKind, int] | None:
    if len(request) == 3 and request[0] == 0x22:
        return ItemKind.DID, request[1] << 8 | request[2]
    if len(request) == 2 and request[0] == 0x09:
        return ItemKind.OBD, request[1]
    return None


def replay(targets: Sequence[BenchTarget], log: str | Path, *, options: BenchOptions | None = None,
           limits: Limits = DEFAULT_LIMITS) -> BenchReport:
    """Re-evaluate ``targets`` against a recorded log; the last request of each item counts."""
    options = options or BenchOptions()
    frames = list(read_log(log, limits))
    checks: list[Check] = []
    for target in targets:
        trs, _ = transactions(frames, target.tx_id, target.rx_id, target.addressing.extended, limits)
        last: dict[tuple[ItemKind, int], Transaction] = {}
        for tr in trs:
            key = _item_of(tr.request)
            if key is not None:
                last[key] = tr
        for kind, item, expected in plan(target, options):
            if kind is ItemKind.MEMORY:
                continue
            obs = _observe(target, kind, item, last.get((kind, item)))
            codec = target.codec_for(item) if kind is ItemKind.DID else Codec.ASCII
            checks.append(compare(obs, expected, codec))
    return BenchReport(tuple(checks), 0.0, ecus=tuple(t.ecu_id for t in targets))
