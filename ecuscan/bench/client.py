"""The UDS client side: one receive dispatcher, guarded ISO-TP connections, read-only requests.

Transport and protocol are the libraries': can-isotp (``isotp.TransportLayer``) does ISO 15765-2
segmentation, flow control, STmin/block size, padding and FD; udsoncan's ``Client`` does UDS
(ReadDataByIdentifier, ReadMemoryByAddress, NRC 0x78 / P2* handling). What is ours:

* :class:`Dispatcher` - one ``can.Listener`` on the one ``can.Notifier`` of the bus that hands each
  frame to the session waiting on that arbitration id. can-isotp's ``NotifierBasedCanStack`` adds one
  listener per stack that sees every frame, which is O(ECUs) work per frame when 64 ECUs are checked
  at once; a dict lookup keyed by arbitration id is O(1).
* :func:`check_allowed` - the read-only allow-list, checked before ANY payload is sent (UDS, OBD,
  functional). Nothing that writes, erases, resets, flashes or unlocks is ever transmitted.
* OBD-II service 0x09 requests (udsoncan implements ISO 14229 only, not SAE J1979).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import can
import isotp
import udsoncan
from udsoncan import MemoryLocation
from udsoncan.client import Client
from udsoncan.connections import PythonIsoTpConnection
from udsoncan.exceptions import (
    InvalidResponseException,
    NegativeResponseException,
    TimeoutException,
    UnexpectedResponseException,
)
from udsoncan.Response import Response

from ..errors import BenchError
from . import obd
from .addressing import isotp_address, isotp_params
from .dids import DidDecodeError, RawDidCodec, decode
from .records import BenchOptions, BenchTarget, Exchange, ItemKind, MemoryRegion, Observation, Verdict
from .security import SecurityKeyError, udsoncan_algo

#: SecurityAccess NRCs after which the bench stops (no second key is ever tried: never brute-force).
SECURITY_STOP_NRCS = {0x35: "invalid key", 0x36: "exceeded number of attempts",
                      0x37: "required time delay not expired"}


class ReadOnlyViolation(BenchError):
    """A request outside the read-only allow-list was about to be sent (and was not)."""


#: Service id -> allowed first sub-function/parameter bytes (None: any). Read-only services only.
READ_ONLY_SERVICES: dict[int, frozenset[int] | None] = {
    0x22: None,  # ReadDataByIdentifier
    0x19: frozenset({0x01, 0x02, 0x03, 0x04, 0x06, 0x0A}),  # ReadDTCInformation (report* only)
    0x3E: frozenset({0x00, 0x80}),  # TesterPresent
    0x10: frozenset({0x01, 0x03, 0x81, 0x83}),  # default / extended session only (never programming)
    0x09: None,  # OBD-II request vehicle information
}
#: Added only with ``BenchOptions.read_memory`` (explicit opt-in): ReadMemoryByAddress, and
#: SecurityAccess requestSeed (odd) / sendKey (even) sub-functions 0x01-0x42 only (never the
#: ISO-reserved or supplier-specific 0x43-0x7E, never with suppressPosRspMsgIndicationBit).
MEMORY_SERVICES: dict[int, frozenset[int] | None] = {0x23: None, 0x27: frozenset(range(0x01, 0x43))}


def check_allowed(payload: bytes, *, read_memory: bool = False) -> None:
    """Refuse any payload that is not a read-only request. Called before every send.

    >>> check_allowed(bytes.fromhex("22F189"))
    >>> check_allowed(bytes.fromhex("1101"))
    Traceback (most recent call last):
    ...
    ecuscan.bench.client.ReadOnlyViolation: refused to send service 0x11 (not on the read-only allow-list): 1101
    >>> check_allowed(bytes.fromhex("2701"), read_memory=True)
    """
    if not payload:
        raise ReadOnlyViolation("refused to send an empty request")
    allowed = dict(READ_ONLY_SERVICES)
    if read_memory:
        allowed.update(MEMORY_SERVICES)
    sid = payload[0]
    if sid not in allowed:
        raise ReadOnlyViolation(f"refused to send service {sid:#04x} (not on the read-only allow-list): "
                                f"{payload[:16].hex()}")
    subs = allowed[sid]
    if subs is not None and (len(payload) < 2 or payload[1] not in subs):
        raise ReadOnlyViolation(f"refused to send service {sid:#04x} with parameter "
                                f"{payload[1:2].hex() or 'none'}: {payload[:16].hex()}")


def nrc_name(code: int) -> str:
    """Name of a UDS negative response code (``0x31`` -> ``RequestOutOfRange``, unknown ``0xFE`` -> ``NRC_FE``)."""
    name = str(Response.Code.get_name(code))
    # udsoncan answers an unknown code with its decimal number ("254"): name it by its hex value
    return name if name and not name.isdigit() else f"NRC_{code:02X}"


def to_isotp(msg: can.Message) -> isotp.CanMessage:
    """python-can frame -> can-isotp frame."""
    return isotp.CanMessage(arbitration_id=msg.arbitration_id, data=bytes(msg.data), extended_id=msg.is_extended_id,
                            is_fd=msg.is_fd, bitrate_switch=msg.bitrate_switch)


Handler = Callable[[can.Message], None]


class Dispatcher(can.Listener):
    """Routes received frames to handlers keyed by (arbitration id, extended)."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[int, bool], list[Handler]] = {}
        self._taps: list[Handler] = []
        self._lock = threading.Lock()
        self._log: Handler | None = None
        #: Why a bus log writer was dropped during the run (the run itself goes on).
        self.log_errors: list[str] = []

    def log_to(self, listeners: list[can.Listener]) -> None:
        """Record every frame received AND sent through :meth:`send` to ``listeners`` (bus log writers).

        A bus does not hand back its own transmissions, so sent frames are logged here.
        """
        if not listeners:
            self._log = None
            return
        lock = threading.Lock()
        live = list(listeners)
        last = [0.0]

        def log(msg: can.Message) -> None:
            with lock:
                # frames reach the log from the receiving thread and from senders: their clocks can
                # interleave out of order by a little, which a BLF writer cannot store (negative
                # offset); the log keeps a non-decreasing time
                number = can.util.channel2int(msg.channel)
                odd_channel = msg.channel is not None and (number is None or not 0 <= number < 0xFFFE)
                if msg.timestamp < last[0] or odd_channel:
                    msg = copy.copy(msg)
                    msg.timestamp = max(msg.timestamp, last[0])
                    if odd_channel:
                        # log formats number their channels (BLF: 16 bits); a virtual bus named
                        # "ecuscan-audit-1f2e3456789" would read as channel 3456789: the writer's own
                        # channel is used instead
                        msg.channel = None
                last[0] = msg.timestamp
                for listener in list(live):
                    try:
                        listener.on_message_received(msg)
                    except Exception as exc:  # a broken log writer must not break the bench run
                        live.remove(listener)
                        self.log_errors.append(f"bus log writer {type(listener).__name__} stopped: "
                                               f"{type(exc).__name__}: {exc}"[:300])

        self._log = log

    def send(self, bus: can.BusABC, msg: can.Message) -> None:
        """Transmit ``msg`` on ``bus`` and log it."""
        msg.timestamp = time.time()
        bus.send(msg)
        if self._log is not None:
            msg.is_rx = False
            self._log(msg)

    def on_message_received(self, msg: can.Message) -> None:
        """Called by the Notifier thread for every frame."""
        if msg.is_error_frame or msg.is_remote_frame:
            return
        if self._log is not None:
            self._log(msg)
        handlers = self._handlers.get((msg.arbitration_id, msg.is_extended_id))
        if handlers:
            for h in handlers:
                h(msg)
        for tap in self._taps:
            tap(msg)

    def tap(self, handler: Handler | None) -> None:
        """See every frame (discovery only: it listens for answers from unknown identifiers)."""
        with self._lock:
            self._taps = [handler] if handler is not None else []

    def add(self, arbitration_id: int, extended: bool, handler: Handler) -> None:
        """Start routing frames with this identifier to ``handler``."""
        with self._lock:
            key = (arbitration_id, extended)
            self._handlers[key] = [*self._handlers.get(key, []), handler]

    def remove(self, arbitration_id: int, extended: bool, handler: Handler) -> None:
        """Stop routing to ``handler``."""
        with self._lock:
            key = (arbitration_id, extended)
            # ``!=``, not ``is not``: a bound method (``session._on_frame``) is a new object at each
            # access, equal to but never identical with the one that was added
            rest = [h for h in self._handlers.get(key, []) if h != handler]
            if rest:
                self._handlers[key] = rest
            else:
                self._handlers.pop(key, None)


@dataclass
class _Recorder:
    """Collects the raw evidence of the request in progress."""

    request: bytes = b""
    responses: list[bytes] = field(default_factory=list)
    frames: int = 0
    errors: list[str] = field(default_factory=list)

    def begin(self, payload: bytes) -> None:
        self.request, self.responses, self.frames, self.errors = payload, [], 0, []

    def exchange(self) -> Exchange:
        return Exchange(self.request, tuple(self.responses), self.frames, tuple(self.errors[:8]))


class GuardedConnection(PythonIsoTpConnection):
    """udsoncan's can-isotp connection with the allow-list check and evidence recording."""

    def __init__(self, layer: isotp.TransportLayer, recorder: _Recorder, read_memory: bool, name: str) -> None:
        super().__init__(layer, name=name)
        self._recorder = recorder
        self._read_memory = read_memory

    def specific_send(self, payload: bytes, timeout: float | None = None) -> None:
        """Check the allow-list, record, then hand to can-isotp."""
        check_allowed(bytes(payload), read_memory=self._read_memory)
        self._recorder.begin(bytes(payload))
        super().specific_send(payload, timeout)

    def specific_wait_frame(self, timeout: float | None = None) -> bytes | None:
        """Receive one ISO-TP payload and record it."""
        data = super().specific_wait_frame(timeout)
        if data is not None:
            self._recorder.responses.append(bytes(data))
        return data


class EcuSession:
    """A read-only UDS session with one ECU over the shared bus (use as a context manager)."""

    def __init__(self, target: BenchTarget, bus: can.BusABC, dispatcher: Dispatcher, options: BenchOptions) -> None:
        self.target, self.bus, self.options = target, bus, options
        self._dispatcher = dispatcher
        self._rxq: queue.Queue[can.Message | None] = queue.Queue()
        self._rec = _Recorder()
        self._layer = isotp.TransportLayer(rxfn=self._rxfn, txfn=self._txfn, address=isotp_address(target),
                                           error_handler=self._on_error, params=isotp_params(target, options),
                                           read_timeout=0.05)
        self.conn = GuardedConnection(self._layer, self._rec, options.read_memory, name=target.ecu_id)
        config: dict[str, Any] = dict(udsoncan.configs.default_client_config)
        config.update({
            "p2_timeout": options.p2, "p2_star_timeout": options.p2_star,
            "request_timeout": options.request_timeout, "use_server_timing": options.trust_ecu_timing,
            "data_identifiers": {"default": RawDidCodec()},
            "server_address_format": 32, "server_memorysize_format": 32,
            "exception_on_negative_response": True, "exception_on_invalid_response": True,
            "exception_on_unexpected_response": True,
        })
        self.security = target.effective_security if options.read_memory else None
        self._security_error: str | None = None
        if self.security is not None:
            try:
                config["security_algo"] = udsoncan_algo(self.security)
            except SecurityKeyError as exc:
                self._security_error = str(exc)
        self.client = Client(self.conn, config=config)  # type: ignore[arg-type]
        # Route udsoncan's own log records under ecuscan.bench (NullHandler: nothing on stderr by default).
        self.client.logger = logging.getLogger("ecuscan.bench.uds")
        self.conn.logger = self.conn.subconn.logger = logging.getLogger("ecuscan.bench.uds.connection")

    # -- transport plumbing ------------------------------------------------------------------
    def _on_frame(self, msg: can.Message) -> None:
        self._rec.frames += 1
        self._rxq.put(msg)

    def _rxfn(self, timeout: float) -> isotp.CanMessage | None:
        try:
            msg = self._rxq.get(timeout=timeout)
        except queue.Empty:
            return None
        return None if msg is None else to_isotp(msg)

    def _txfn(self, msg: isotp.CanMessage) -> None:
        self._dispatcher.send(self.bus, can.Message(arbitration_id=msg.arbitration_id, data=bytes(msg.data),
                                  is_extended_id=msg.is_extended_id, is_fd=msg.is_fd,
                                  bitrate_switch=msg.bitrate_switch))

    def _on_error(self, error: Exception) -> None:
        self._rec.errors.append(type(error).__name__ + ": " + str(error)[:160])

    def __enter__(self) -> EcuSession:
        self._dispatcher.add(self.target.rx_id, self.target.addressing.extended, self._on_frame)
        self.client.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._layer.events.stop_requested.set()
        self._rxq.put(None)  # wake can-isotp's relay thread now instead of after its read timeout
        with contextlib.suppress(Exception):
            self.client.close()
        self._dispatcher.remove(self.target.rx_id, self.target.addressing.extended, self._on_frame)

    # -- requests ------------------------------------------------------------------------------
    def _observation(self, kind: ItemKind, item: int, **kw: Any) -> Observation:
        return Observation(self.target.ecu_id, kind, item, self._rec.exchange(), **kw)

    def _failure(self, kind: ItemKind, item: int, exc: Exception) -> Observation:
        """Classify a udsoncan exception into MISSING / UNREACHABLE / INVALID."""
        if isinstance(exc, NegativeResponseException):
            code = int(exc.response.code or 0)
            return self._observation(kind, item, nrc=code, status=Verdict.MISSING,
                                     detail=f"negative response 0x{code:02X} {nrc_name(code)}")
        if isinstance(exc, TimeoutException):
            pending = [r for r in self._rec.responses if len(r) >= 3 and r[0] == 0x7F and r[2] == 0x78]
            if pending and len(pending) == len(self._rec.responses) and not self._rec.errors:
                return self._observation(kind, item, status=Verdict.UNREACHABLE,
                                         detail=f"{len(pending)} x responsePending (0x78), then no final answer "
                                                f"within P2* {self.options.p2_star} s")
            if self._rec.responses or self._rec.frames or self._rec.errors:
                why = "; ".join(self._rec.errors[:2]) or f"{self._rec.frames} frame(s) but no complete answer"
                return self._observation(kind, item, status=Verdict.INVALID,
                                         detail=f"incomplete or broken answer before timeout: {why}")
            return self._observation(kind, item, status=Verdict.UNREACHABLE, detail=str(exc)[:200])
        if isinstance(exc, UnexpectedResponseException | InvalidResponseException):
            return self._observation(kind, item, status=Verdict.INVALID, detail=str(exc)[:200])
        if isinstance(exc, ReadOnlyViolation):
            raise exc
        return self._observation(kind, item, status=Verdict.INVALID, detail=f"{type(exc).__name__}: {exc}"[:200])

    def read_did(self, did: int) -> Observation:
        """ReadDataByIdentifier ``22 hi lo`` and decode with the target's codec."""
        try:
            response = self.client.read_data_by_identifier(did)
        except Exception as exc:
            return self._failure(ItemKind.DID, did, exc)
        values = response.service_data.values if response.service_data is not None else {}
        if did not in values:
            return self._observation(ItemKind.DID, did, status=Verdict.INVALID, detail="response lacks the DID")
        raw = bytes(values[did])
        try:
            text = decode(self.target.codec_for(did), raw)
        except DidDecodeError as exc:
            return self._observation(ItemKind.DID, did, status=Verdict.INVALID, detail=str(exc))
        return self._observation(ItemKind.DID, did, value=text)

    def raw_request(self, payload: bytes) -> bytes:
        """Send one payload and return the final response, following NRC 0x78 with P2*.

        Hand-written because udsoncan's Client only sends ISO 14229 services (used for OBD 0x09).
        Raises udsoncan's TimeoutException when nothing (final) arrives in time.
        """
        self.conn.empty_rxqueue()
        self.conn.send(payload)
        deadline = time.monotonic() + self.options.request_timeout
        timeout = self.options.p2
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutException("overall request timeout")  # type: ignore[no-untyped-call]
            # with exception=True udsoncan raises its TimeoutException instead of returning None
            data = cast(bytes, self.conn.wait_frame(timeout=min(timeout, remaining), exception=True))
            if len(data) >= 3 and data[0] == 0x7F and data[1] == payload[0] and data[2] == 0x78:
                timeout = self.options.p2_star
                continue
            return bytes(data)

    def read_obd(self, info_type: int) -> Observation:
        """OBD-II service 0x09 ``info_type`` (VIN 02, CALID 04, CVN 06, ECU name 0A)."""
        try:
            data = self.raw_request(obd.request(info_type))
        except TimeoutException as exc:
            return self._failure(ItemKind.OBD, info_type, exc)
        if len(data) >= 3 and data[0] == 0x7F:
            if data[1] != 0x09:
                return self._observation(ItemKind.OBD, info_type, status=Verdict.INVALID,
                                         detail=f"negative response for service {data[1]:#04x}")
            return self._observation(ItemKind.OBD, info_type, nrc=data[2], status=Verdict.MISSING,
                                     detail=f"negative response 0x{data[2]:02X} {nrc_name(data[2])}")
        try:
            text = obd.decode_response(info_type, data)
        except BenchError as exc:
            return self._observation(ItemKind.OBD, info_type, status=Verdict.INVALID, detail=str(exc))
        return self._observation(ItemKind.OBD, info_type, value=text)

    def unlock(self) -> Observation | None:
        """SecurityAccess with the target's configured key (opt-in read-memory mode only), once.

        The seed/key exchange is udsoncan's ``unlock_security_access`` (key from its ``security_algo``
        setting). Returns None when unlocked (or nothing to unlock), else a MISSING observation with
        the NRC decoded; a refused key is never retried.
        """
        sec = self.security
        if sec is None:
            return None
        level = sec.seed_level
        if not self.options.read_memory:
            raise ReadOnlyViolation("SecurityAccess needs the explicit read_memory opt-in (--read-memory)")
        if self._security_error is not None:
            return self._observation(ItemKind.SECURITY, level, status=Verdict.MISSING,
                                     detail=f"SecurityAccess not attempted: {self._security_error}")
        try:
            if sec.session is not None:
                self.client.change_session(sec.session)
            self.client.unlock_security_access(level)
        except SecurityKeyError as exc:
            return self._observation(ItemKind.SECURITY, level, status=Verdict.MISSING,
                                     detail=f"SecurityAccess level {level:#04x}: {exc}; key not sent")
        except Exception as exc:
            obs = self._failure(ItemKind.SECURITY, level, exc)
            if obs.nrc is not None:
                why = SECURITY_STOP_NRCS.get(obs.nrc)
                stop = f" ({why}: not retried)" if why else ""
                obs = dataclasses.replace(obs, detail=f"SecurityAccess level {level:#04x} refused: "
                                                      f"{obs.detail}{stop}")
            return obs
        return None

    def read_memory(self, region: MemoryRegion) -> Observation:
        """ReadMemoryByAddress over the region in chunks; value is the SHA-256 of the bytes (opt-in)."""

        if not self.options.read_memory:
            raise ReadOnlyViolation("memory reads need the explicit read_memory opt-in (--read-memory)")
        digest = hashlib.sha256()
        chunk = max(1, min(self.options.memory_chunk, self.options.max_payload - 1))
        offset = 0
        while offset < region.size:
            size = min(chunk, region.size - offset)
            try:
                # 4-byte address and size fields: the client config's server_address_format /
                # server_memorysize_format (32), which udsoncan applies to a location without its own
                resp = self.client.read_memory_by_address(MemoryLocation(region.address + offset, size))
            except Exception as exc:
                return self._failure(ItemKind.MEMORY, region.address, exc)
            block = bytes(resp.service_data.memory_block) if resp.service_data is not None else b""
            if len(block) != size:
                return self._observation(ItemKind.MEMORY, region.address, status=Verdict.INVALID,
                                         detail=f"asked {size} bytes at {region.address + offset:#x}, got {len(block)}")
            digest.update(block)
            offset += size
        return self._observation(ItemKind.MEMORY, region.address, value=digest.hexdigest())


@contextlib.contextmanager
def attached(bus: can.BusABC, listeners: list[can.Listener] | None = None) -> Iterator[Dispatcher]:
    """One Notifier on ``bus`` with a fresh :class:`Dispatcher` (plus optional extra listeners)."""
    dispatcher = Dispatcher()
    dispatcher.log_to(list(listeners or []))
    notifier = can.Notifier(bus, [dispatcher], timeout=0.1)
    try:
        yield dispatcher
    finally:
        notifier.stop(timeout=1.0)
