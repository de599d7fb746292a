"""Virtual ECUs on a python-can bus, answering from a spec, with injectable faults.

The ECU (server) side of ISO-TP is written by hand here rather than with can-isotp: fault
injection needs frame-level control that a correct transport layer does not offer
(out-of-order sequence numbers, truncated transfers, flow-control WAIT/overflow, stray frames),
and one event-loop thread serves any number of ECUs with an optional shared bus-time model
(:class:`~ecuscan.bench.busmodel.BusModel`), which per-ECU can-isotp stacks cannot share.

Use as a context manager::

    with Simulator([EcuSpec(target)], can.Bus(interface="virtual", channel="x")):
        ...
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import can

from ..errors import BenchError
from . import obd
from .busmodel import BusModel
from .dids import DidDecodeError, encode
from .flash import Flash, compute_cvn
from .records import BenchTarget, CvnConfig, SecurityConfig
from .security import key_function


@dataclass(frozen=True)
class Faults:
    """Misbehaviour of one virtual ECU (all off by default)."""

    silent: bool = False  # never answers
    nrc: int | None = None  # answers every read with this negative response code
    nrc_dids: Mapping[int, int] = field(default_factory=dict)  # DID -> NRC
    pending: int = 0  # NRC 0x78 responses before the final answer
    pending_interval: float = 0.05  # seconds between 0x78s
    delay: float = 0.0  # extra seconds before answering (slow ECU)
    drift: Mapping[int, str] = field(default_factory=dict)  # DID -> value sent instead of the spec's
    wrong_sid: bool = False  # positive response with the wrong service id
    wrong_did: bool = False  # 0x62 response echoing another DID
    truncate: bool = False  # multi-frame answer stops after the first frame
    out_of_order: bool = False  # first consecutive frame carries sequence number 2
    fc_wait: int = 0  # flow-control WAIT frames before clear-to-send (multi-frame requests)
    fc_overflow: bool = False  # flow control OVERFLOW to multi-frame requests
    stray: bool = False  # stray frames on the response id (and elsewhere) before each answer
    #: Memory reads need SecurityAccess at this level (0x23 answers 0x33 securityAccessDenied until
    #: unlocked); the key is ``security_key`` (hex) or ``security_algorithm`` (``module:function``).
    security_level: int | None = None
    security_key: str | None = None
    security_algorithm: str | None = None
    security_attempts: int = 3  # wrong keys before 0x36 exceededNumberOfAttempts
    security_nrc: int | None = None  # answers requestSeed with this NRC (e.g. 0x37 requiredTimeDelayNotExpired)

    def __post_init__(self) -> None:
        if self.security_level is not None:
            if not 0x01 <= self.security_level <= 0x42:
                raise BenchError(f"simulated security level {self.security_level:#x} is outside 0x01-0x42")
            if (self.security_key is None) == (self.security_algorithm is None):
                raise BenchError("simulated security needs exactly one of security_key or security_algorithm")
            if self.security_key is not None:
                try:
                    bytes.fromhex(self.security_key)
                except ValueError:
                    raise BenchError(f"simulated security_key {self.security_key!r} is not hex") from None


@dataclass(frozen=True)
class EcuSpec:
    """One virtual ECU: its addressing (a BenchTarget), what it answers and its faults.

    ``values`` defaults to the target's ``expect``; ``obd`` to ``expect_obd``; ``memory`` maps a
    start address to bytes.
    """

    target: BenchTarget
    values: Mapping[int, str] | None = None
    obd: Mapping[int, str] | None = None
    memory: Mapping[int, bytes] = field(default_factory=dict)
    faults: Faults = Faults()
    #: Answer OBD 09/06 (CVN) computed from ``memory`` like the real ECU (overrides ``obd``'s CVN).
    cvn: CvnConfig | None = None
    response_delay: float = 0.0  # seconds from request (end of frame) to answer
    padding: int = 0xAA


@dataclass
class _Rx:
    buf: bytearray
    size: int
    sn: int


@dataclass
class _Tx:
    data: bytes
    pos: int
    sn: int


class _Ecu:
    """ISO-TP server state and UDS/OBD answers of one virtual ECU (runs on the simulator thread)."""

    def __init__(self, spec: EcuSpec, sim: Simulator) -> None:
        self.spec, self.sim, self.t = spec, sim, spec.target
        self.values = dict(spec.target.expect if spec.values is None else spec.values)
        self.values.update(spec.faults.drift)
        self.obd = dict(spec.target.expect_obd if spec.obd is None else spec.obd)
        self.rx: _Rx | None = None
        self.tx: _Tx | None = None
        self.fd = spec.target.fd
        self.requests: Counter[int] = Counter()
        self.unlocked = spec.faults.security_level is None
        self.seed: bytes | None = None
        self.failed_keys = 0
        self._key: Callable[[int, bytes], bytes] | None = None
        if spec.cvn is not None:

            self.obd[obd.CVN] = compute_cvn(spec.cvn, Flash.from_blocks(spec.memory.items()))

    # -- frames ---------------------------------------------------------------------------
    def frame(self, data: bytes) -> can.Message:
        # a frame is padded to 8 bytes, or on CAN FD to the next length a DLC can state (12, 16, 20 ... 64)
        size = can.util.dlc2len(can.util.len2dlc(len(data))) if self.fd and len(data) > 8 else 8
        data = data + bytes([self.spec.padding]) * (size - len(data))
        return can.Message(arbitration_id=self.t.rx_id, data=data, is_extended_id=self.t.addressing.extended,
                           is_fd=self.fd, bitrate_switch=self.fd)

    def on_frame(self, data: bytes, at: float, functional: bool = False) -> None:
        if not data:
            return
        kind = data[0] >> 4
        if kind == 0:  # single frame
            n = data[0] & 0xF
            start = 1
            if n == 0 and len(data) > 2:  # FD escape
                n, start = data[1], 2
            if 0 < n <= len(data) - start:
                self.on_request(bytes(data[start:start + n]), at)
        elif kind == 1 and not functional and len(data) >= 2:  # first frame of a request
            size = (data[0] & 0xF) << 8 | data[1]
            if self.spec.faults.fc_overflow or size > 4095:
                self.sim.send(self, self.frame(b"\x32\x00\x00"), at)
                return
            self.rx = _Rx(bytearray(data[2:]), size, 1)
            for i in range(self.spec.faults.fc_wait):
                self.sim.send(self, self.frame(b"\x31\x00\x00"), at + 0.01 * i)
            self.sim.send(self, self.frame(b"\x30\x00\x00"), at + 0.01 * self.spec.faults.fc_wait)
        elif kind == 2 and self.rx is not None and not functional:
            if data[0] & 0xF != self.rx.sn:
                self.rx = None
                return
            self.rx.sn = (self.rx.sn + 1) & 0xF
            self.rx.buf += data[1:]
            if len(self.rx.buf) >= self.rx.size:
                payload, self.rx = bytes(self.rx.buf[:self.rx.size]), None
                self.on_request(payload, at)
        elif kind == 3 and self.tx is not None and not functional and len(data) >= 3:
            if data[0] & 0xF == 0:  # clear to send
                self.send_cfs(at, data[1], data[2])
            elif data[0] & 0xF == 2:  # overflow
                self.tx = None

    def send_payload(self, payload: bytes, at: float) -> None:
        room = 62 if self.fd else 7
        if len(payload) <= room:
            head = bytes([len(payload)]) if len(payload) <= 7 else bytes([0, len(payload)])
            self.sim.send(self, self.frame(head + payload), at)
            return
        first = (64 if self.fd else 8) - 2
        self.sim.send(self, self.frame(bytes([0x10 | len(payload) >> 8, len(payload) & 0xFF]) + payload[:first]), at)
        self.tx = _Tx(payload, first, 1)

    def send_cfs(self, at: float, bs: int, stmin: int) -> None:
        tx, f = self.tx, self.spec.faults
        if tx is None:
            return
        step = (63 if self.fd else 7)
        gap = stmin / 1000 if stmin <= 0x7F else 0.0001
        sent = 0
        while tx.pos < len(tx.data) and (bs == 0 or sent < bs):
            sn = tx.sn
            if f.out_of_order and tx.pos == (62 if self.fd else 6):
                sn = (sn + 1) & 0xF
            self.sim.send(self, self.frame(bytes([0x20 | sn]) + tx.data[tx.pos:tx.pos + step]), at + gap * sent)
            tx.pos += step
            tx.sn = (tx.sn + 1) & 0xF
            sent += 1
            if f.truncate:
                self.tx = None
                return
        if tx.pos >= len(tx.data):
            self.tx = None

    # -- services ---------------------------------------------------------------------------
    def on_request(self, req: bytes, at: float) -> None:
        self.requests[req[0]] += 1
        f = self.spec.faults
        if f.silent:
            return
        answer = self.answer(req)
        if answer is None:
            return
        at += self.spec.response_delay + f.delay
        if f.stray:
            self.sim.send(self, self.frame(b"\x2f" + bytes(range(7))), at)
            self.sim.send_raw(can.Message(arbitration_id=0x5A5, data=b"\x01\x02", is_extended_id=False), at)
        for i in range(f.pending):
            self.send_payload(bytes([0x7F, req[0], 0x78]), at + i * f.pending_interval)
        self.send_payload(answer, at + f.pending * f.pending_interval)

    def answer(self, req: bytes) -> bytes | None:
        sid, f = req[0], self.spec.faults
        if sid == 0x3E:
            return None if len(req) > 1 and req[1] & 0x80 else b"\x7e\x00"
        if sid == 0x10 and len(req) == 2 and req[1] & 0x7F in (1, 3):
            return bytes([0x50, req[1] & 0x7F, 0x00, 0x32, 0x01, 0xF4])
        if sid == 0x27 and f.security_level is not None:
            return self.security_access(req)
        if sid not in (0x22, 0x09, 0x23):
            return bytes([0x7F, sid, 0x11])  # serviceNotSupported (also every write service)
        if f.nrc is not None:
            return bytes([0x7F, sid, f.nrc])
        if sid == 0x22:
            return self.read_dids(req)
        if sid == 0x09:
            return self.read_obd(req)
        if not self.unlocked:
            return b"\x7f\x23\x33"  # securityAccessDenied
        return self.read_memory(req)

    def security_access(self, req: bytes) -> bytes:
        """requestSeed / sendKey at the configured level; 0x35 wrong key, 0x36 after too many."""
        f = self.spec.faults
        level = f.security_level or 1
        level -= 0 if level % 2 else 1
        if len(req) < 2:
            return b"\x7f\x27\x13"
        sub = req[1]
        if sub == level:
            if f.security_nrc is not None:
                return bytes([0x7F, 0x27, f.security_nrc])
            if self.failed_keys >= f.security_attempts:
                return b"\x7f\x27\x36"
            self.seed = bytes(4) if self.unlocked else self.sim.rng.randbytes(4).replace(b"\x00", b"\x5a")
            return bytes([0x67, level]) + self.seed
        if sub == level + 1:
            if self.seed is None:
                return b"\x7f\x27\x24"  # requestSequenceError
            seed, self.seed = self.seed, None
            if self.failed_keys >= f.security_attempts:
                return b"\x7f\x27\x36"
            if self._key is None:

                key = bytes.fromhex(f.security_key) if f.security_key is not None else None
                self._key = key_function(SecurityConfig(level, key=key, algorithm=f.security_algorithm))
            if req[2:] != self._key(level, seed):
                self.failed_keys += 1
                return b"\x7f\x27\x36" if self.failed_keys >= f.security_attempts else b"\x7f\x27\x35"
            self.unlocked = True
            return bytes([0x67, level + 1])
        return b"\x7f\x27\x12"

    def read_dids(self, req: bytes) -> bytes:
        if len(req) < 3 or len(req) % 2 == 0:
            return b"\x7f\x22\x13"
        out = bytearray(b"\x62" if not self.spec.faults.wrong_sid else b"\x63")
        for i in range(1, len(req), 2):
            did = req[i] << 8 | req[i + 1]
            if did in self.spec.faults.nrc_dids:
                return bytes([0x7F, 0x22, self.spec.faults.nrc_dids[did]])
            if did not in self.values:
                return b"\x7f\x22\x31"
            echoed = did ^ 0x0001 if self.spec.faults.wrong_did else did
            try:
                value = encode(self.t.codec_for(did), self.values[did])
            except (DidDecodeError, ValueError):  # a value its codec cannot carry: refused, the ECU stays up
                return b"\x7f\x22\x31"
            out += echoed.to_bytes(2, "big") + value
        return bytes(out)

    def read_obd(self, req: bytes) -> bytes:
        if len(req) != 2 or req[1] not in self.obd or req[1] not in obd.INFO_TYPES:
            return b"\x7f\x09\x31"
        return obd.encode_response(req[1], self.obd[req[1]])

    def read_memory(self, req: bytes) -> bytes:
        if len(req) < 4:
            return b"\x7f\x23\x13"
        asz, lsz = req[1] & 0xF, req[1] >> 4
        if len(req) != 2 + asz + lsz or not asz or not lsz:
            return b"\x7f\x23\x13"
        addr = int.from_bytes(req[2:2 + asz], "big")
        size = int.from_bytes(req[2 + asz:], "big")
        for start, blob in self.spec.memory.items():
            if start <= addr and addr + size <= start + len(blob):
                return b"\x63" + blob[addr - start:addr - start + size]
        return b"\x7f\x23\x31"


class Simulator:
    """Runs virtual ECUs on ``bus`` in one thread; a context manager that starts and stops it cleanly.

    ``bus_model`` charges every frame to a shared bus timeline (frames are released when their
    modelled transmission ends); ``background`` adds random traffic on unused identifiers at that
    fraction of the bus capacity (0.5 = 50 % load).
    """

    def __init__(self, specs: Sequence[EcuSpec], bus: can.BusABC, *, bus_model: BusModel | None = None,
                 background: float = 0.0, seed: int = 0) -> None:
        self.bus, self.model, self.background = bus, bus_model, background
        self.ecus = [_Ecu(s, self) for s in specs]
        self._by_id: dict[tuple[int, bool], _Ecu] = {}
        for e in self.ecus:
            key = (e.t.tx_id, e.t.addressing.extended)
            if key in self._by_id:
                raise BenchError(f"simulated ECUs {self._by_id[key].t.ecu_id} and {e.t.ecu_id} share request id "
                                 f"{e.t.tx_id:#x}")
            self._by_id[key] = e
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random(seed)
        self.rng = random.Random(seed + 1)  # seeds of SecurityAccess (separate from background traffic)
        used = {e.t.tx_id for e in self.ecus} | {e.t.rx_id for e in self.ecus} | {0x7DF}
        self._background_ids = [i for i in range(0x100, 0x700) if i not in used]
        self.frames_sent = 0
        self.background_frames = 0

    def requests(self, ecu_id: str) -> Counter[int]:
        """Request service ids one ECU received (to assert nothing but reads reached it)."""
        for e in self.ecus:
            if e.t.ecu_id == ecu_id:
                return Counter(e.requests)
        raise BenchError(f"no simulated ECU {ecu_id!r}")

    # -- scheduling -----------------------------------------------------------------------
    def _at(self, t: float, fn: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._heap, (t, next(self._seq), fn))

    def send_raw(self, msg: can.Message, at: float) -> None:
        """Queue ``msg`` for transmission at ``at`` (monotonic seconds), through the bus model if any."""
        def fire() -> None:
            self.bus.send(msg)
            self.frames_sent += 1

        if self.model is not None:
            model = self.model

            def arbitrate() -> None:
                # the frame competes for the bus when it is ready, not when it was scheduled: reserving
                # future slots in advance would block the bus for everyone in between
                self._at(model.occupy(msg, at), fire)

            self._at(at, arbitrate)
        else:
            self._at(at, fire)

    def send(self, ecu: _Ecu, msg: can.Message, at: float) -> None:
        """Queue a frame of ``ecu``."""
        self.send_raw(msg, at)

    def _background_tick(self) -> None:
        if self._stop.is_set() or self.background <= 0:
            return
        msg = can.Message(arbitration_id=self._rng.choice(self._background_ids), is_extended_id=False,
                          data=self._rng.randbytes(8))
        now = time.monotonic()
        self.send_raw(msg, now)
        self.background_frames += 1
        period = (self.model or BusModel()).duration(msg) / self.background
        self._at(now + period, self._background_tick)

    # -- thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        functional = {(0x7DF, False), (0x18DB33F1, True)}
        while not self._stop.is_set():
            now = time.monotonic()
            due: list[Callable[[], None]] = []
            with self._lock:
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
                wait = (self._heap[0][0] - now) if self._heap else 0.25
            for fn in due:
                try:
                    fn()
                except can.CanError:
                    pass  # bus gone while stopping
            msg = self.bus.recv(timeout=max(0.0, min(wait, 0.25))) if not due else self.bus.recv(timeout=0)
            if msg is None or msg.is_error_frame or msg.is_remote_frame:
                continue
            at = time.monotonic()
            if self.model is not None:
                at = self.model.occupy(msg, at)
            key = (msg.arbitration_id, msg.is_extended_id)
            ecu = self._by_id.get(key)
            if ecu is not None:
                ecu.on_frame(bytes(msg.data), at)
            elif key in functional:
                for e in self.ecus:
                    if e.t.addressing.extended == msg.is_extended_id:
                        e.on_frame(bytes(msg.data), at, functional=True)

    def start(self) -> Simulator:
        """Start the ECU thread (and background traffic)."""
        if self._thread is not None:
            raise BenchError("simulator already started")
        self._stop.clear()
        if self.background > 0:
            if not 0 < self.background < 1:
                raise BenchError("background load must be between 0 and 1")
            self._at(time.monotonic(), self._background_tick)  # before the thread starts waiting
        self._thread = threading.Thread(target=self._run, name="ecuscan-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and drop queued frames."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with self._lock:
            self._heap.clear()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
