"""Records of the CAN bench check: targets, options, observations, verdicts and the report.

Everything here is a frozen dataclass or an enum; the bench modules pass these around
and the CLI renders them. Raw bytes (requests, responses) are kept as ``bytes`` and shown
as hex in :meth:`Check.to_dict`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import BenchError
from ..manifest.model import Addressing, Codec, DidSpec, can_id_problem
from .dids import STANDARD_DIDS

__all__ = ["Addressing", "BenchOptions", "BenchReport", "BenchTarget", "Check", "Codec", "CvnConfig", "DidSpec",
           "EcuVerdict", "Exchange", "ItemKind", "MemoryRegion", "Observation", "SecurityConfig", "Verdict"]


class Verdict(enum.Enum):
    """Outcome of comparing one expected value with what the ECU answered."""

    MATCH = "MATCH"  # answered, decoded value equals the expectation
    MISMATCH = "MISMATCH"  # answered with a different value (drift)
    MISSING = "MISSING"  # negative response (NRC decoded): DID not supported, refused ...
    UNREACHABLE = "UNREACHABLE"  # no answer within P2/P2*
    INVALID = "INVALID"  # an answer that is not a valid answer to the request (wrong SID/DID, broken ISO-TP)
    OBSERVED = "OBSERVED"  # read without an expectation (discovery); never a pass or a fail

    @property
    def failed(self) -> bool:
        """True for outcomes that fail the bench policy (drift or a malformed answer)."""
        return self in (Verdict.MISMATCH, Verdict.INVALID)


class EcuVerdict(enum.Enum):
    """Outcome for one ECU, from all its checks (the verdict a release is gated on).

    VERIFIED only when every expected item was answered and matched.
    """

    VERIFIED = "VERIFIED"  # every expected item answered and matched
    DRIFTED = "DRIFTED"  # at least one item differs from the analysed release, or a malformed answer
    MISSING = "MISSING"  # the ECU refused at least one expected item (negative response), no drift
    PARTIAL = "PARTIAL"  # some expected items unanswered (or nothing to compare): not fully checked
    UNREACHABLE = "UNREACHABLE"  # no expected item was answered

    @property
    def complete(self) -> bool:
        """False when the ECU could not be (fully) checked: the run is incomplete."""
        return self not in (EcuVerdict.PARTIAL, EcuVerdict.UNREACHABLE)


def ecu_verdict(checks: Sequence[Check]) -> EcuVerdict:
    """The verdict of one ECU from its checks (OBSERVED reads without an expectation do not count).

    >>> from ecuscan.bench.records import Exchange, ItemKind
    >>> def c(v): return Check(Observation("e", ItemKind.DID, 0xF189, Exchange(b"")), "1", Verdict[v])
    >>> ecu_verdict([c("MATCH"), c("UNREACHABLE")]).value, ecu_verdict([c("MATCH")]).value
    ('PARTIAL', 'VERIFIED')
    """
    verdicts = [c.verdict for c in checks if c.verdict is not Verdict.OBSERVED]
    if any(v.failed for v in verdicts):
        return EcuVerdict.DRIFTED
    if not verdicts:
        return EcuVerdict.PARTIAL
    if all(v is Verdict.UNREACHABLE for v in verdicts):
        return EcuVerdict.UNREACHABLE
    if Verdict.MISSING in verdicts:
        return EcuVerdict.MISSING
    if Verdict.UNREACHABLE in verdicts:
        return EcuVerdict.PARTIAL
    return EcuVerdict.VERIFIED


class ItemKind(enum.Enum):
    """What was read."""

    DID = "did"  # UDS ReadDataByIdentifier (0x22)
    OBD = "obd"  # OBD-II service 0x09 info type
    MEMORY = "memory"  # UDS ReadMemoryByAddress (0x23) hashed with SHA-256
    SECURITY = "security"  # UDS SecurityAccess (0x27) before memory reads; never a check of its own


@dataclass(frozen=True)
class MemoryRegion:
    """A flash region read with ReadMemoryByAddress and compared by SHA-256 (opt-in)."""

    address: int
    size: int
    sha256: str  # expected, lower-case hex
    name: str = ""


@dataclass(frozen=True)
class SecurityConfig:
    """SecurityAccess (0x27) the bench performs before memory reads (opt-in read-memory mode only).

    The key is either fixed (``key``) or computed by ``algorithm``, a ``module:function`` (or
    ``path/to/file.py:function``) reference called as ``function(level, seed) -> bytes``. Naming an
    algorithm executes user-supplied code, exactly like udsoncan's own ``security_algo`` setting.
    ``session`` optionally switches to a diagnostic session (0x01 or 0x03 only) first.
    """

    level: int = 1
    key: bytes | None = None
    algorithm: str | None = None
    session: int | None = None

    def __post_init__(self) -> None:
        if not 0x01 <= self.level <= 0x42:
            raise BenchError(f"security level {self.level:#x} is outside 0x01-0x42 (requestSeed/sendKey)")
        if self.key is not None and self.algorithm is not None:
            raise BenchError("security: give either a fixed key or a key algorithm, not both")
        if self.session is not None and self.session not in (0x01, 0x03):
            raise BenchError(f"security session {self.session:#x} is not default (0x01) or extended (0x03)")

    @property
    def seed_level(self) -> int:
        """The odd requestSeed sub-function of this level (sendKey is one more)."""
        return self.level if self.level % 2 else self.level - 1


@dataclass(frozen=True)
class CvnConfig:
    """How an ECU computes its OBD calibration verification number over flash regions.

    ``algorithm`` is ``crc32`` (zlib's CRC-32, reported big-endian) or a ``module:function``
    reference called as ``function(data: bytes) -> bytes | int`` (4 bytes; user-supplied code).
    ``regions`` are ``(address, size)`` pairs concatenated in order.
    """

    algorithm: str = "crc32"
    regions: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.regions:
            raise BenchError("cvn: at least one region [address, size] is needed")
        for address, size in self.regions:
            if address < 0 or size <= 0:
                raise BenchError(f"cvn: region {address:#x}+{size} is empty or negative")


@dataclass(frozen=True)
class BenchTarget:
    """One ECU on the bench: how to reach it and what it must answer.

    ``expect`` maps a DID (int) to the expected decoded text; ``expect_obd`` maps an
    OBD mode 09 info type (0x02 VIN, 0x04 CALID, 0x06 CVN, 0x0A ECU name) to text.
    ``dids`` adds OEM-specific DIDs (or overrides the codec of standard ones).
    """

    ecu_id: str
    tx_id: int
    rx_id: int
    addressing: Addressing = Addressing.NORMAL_11BIT
    expect: Mapping[int, str] = field(default_factory=dict)
    dids: tuple[DidSpec, ...] = ()
    expect_obd: Mapping[int, str] = field(default_factory=dict)
    memory: tuple[MemoryRegion, ...] = ()
    fd: bool = False
    padding: int | None = 0xCC
    security_key: bytes | None = None  # deprecated shorthand for security=SecurityConfig(1, key)
    #: SecurityAccess before memory reads (only in the opt-in read-memory mode).
    security: SecurityConfig | None = None

    def __post_init__(self) -> None:
        for name, value in (("tx_id", self.tx_id), ("rx_id", self.rx_id)):
            problem = can_id_problem(self.addressing, value)
            if problem:
                raise BenchError(f"ECU {self.ecu_id}: {name} {problem}")
        if self.tx_id == self.rx_id:
            raise BenchError(f"ECU {self.ecu_id}: tx_id and rx_id are both {self.tx_id:#x}")
        if self.padding is not None and not 0 <= self.padding <= 0xFF:
            raise BenchError(f"ECU {self.ecu_id}: padding byte {self.padding} is not 0..255")

    @property
    def effective_security(self) -> SecurityConfig | None:
        """``security``, or level 1 with the fixed ``security_key`` when only that is given."""
        if self.security is not None:
            return self.security
        return SecurityConfig(1, key=self.security_key) if self.security_key is not None else None

    def codec_for(self, did: int) -> Codec:
        """The codec of ``did``: an explicit OEM entry first, then the standard table, else RAW."""
        for spec in self.dids:
            if spec.did == did:
                return spec.codec
        std = STANDARD_DIDS.get(did)
        return std.codec if std else Codec.RAW


@dataclass(frozen=True)
class BenchOptions:
    """Timing, transport and policy of a bench run. Defaults suit a real bench; tests shorten them."""

    #: P2 client timeout (s). The ECU's own P2 (from the session response) is not trusted by default:
    #: Python cannot meet a 25-50 ms P2 reliably on a loaded host.
    p2: float = 1.0
    #: P2* timeout (s) after an NRC 0x78 responsePending.
    p2_star: float = 5.0
    #: Overall limit for one request including every 0x78 (s).
    request_timeout: float = 30.0
    trust_ecu_timing: bool = False
    #: Most ECUs talked to at the same time.
    max_in_flight: int = 32
    #: ISO-TP flow control the tester sends: STmin (ms) and block size (0 = no limit).
    stmin: int = 0
    blocksize: int = 0
    #: Padding byte for frames the tester sends (None = no padding); a target's own padding wins.
    padding: int | None = 0xCC
    #: CAN FD frames (64-byte data field) unless a target says otherwise.
    fd: bool = False
    #: Also read OBD-II mode 09 items in ``expect_obd``.
    obd: bool = True
    #: Opt-in: ReadMemoryByAddress of the targets' memory regions (read-only, still guarded).
    read_memory: bool = False
    #: Largest ReadMemoryByAddress chunk (bytes).
    memory_chunk: int = 256
    #: ISO-TP consecutive-frame / flow-control timeout (ms).
    isotp_timeout_ms: int = 1000
    #: Most flow-control WAIT frames accepted before the transfer is abandoned.
    wftmax: int = 8
    #: Largest ISO-TP payload accepted from an ECU.
    max_payload: int = 4095

    def __post_init__(self) -> None:
        if self.p2 <= 0 or self.p2_star <= 0 or self.request_timeout <= 0:
            raise BenchError("timeouts must be positive")
        if self.max_in_flight < 1:
            raise BenchError("max_in_flight must be at least 1")
        if not 0 <= self.stmin <= 0x7F or not 0 <= self.blocksize <= 0xFF:
            raise BenchError("stmin must be 0..127 ms and blocksize 0..255")


@dataclass(frozen=True)
class Exchange:
    """The raw evidence of one request: what was sent and every payload received (0x78s included)."""

    request: bytes
    responses: tuple[bytes, ...] = ()
    frames_rx: int = 0  # CAN frames seen on the ECU's response identifier during the request
    transport_errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with hex strings."""
        return {"request": self.request.hex(), "responses": [r.hex() for r in self.responses],
                "frames_rx": self.frames_rx, "transport_errors": list(self.transport_errors)}


@dataclass(frozen=True)
class Observation:
    """What one ECU answered for one item (decoded value or the reason there is none)."""

    ecu_id: str
    kind: ItemKind
    item: int  # DID, OBD info type, or memory address
    exchange: Exchange
    value: str | None = None  # decoded text when the answer was positive and well-formed
    nrc: int | None = None  # negative response code, when negative
    status: Verdict = Verdict.OBSERVED  # OBSERVED (value read), MISSING, UNREACHABLE or INVALID
    detail: str = ""

    @property
    def label(self) -> str:
        """Human name of the item: ``F189``, ``OBD 09/02`` or ``MEM 0x08000000+4096``."""
        return item_label(self.kind, self.item)


def item_label(kind: ItemKind, item: int, size: int | None = None) -> str:
    """Format an item for tables and JSON.

    >>> item_label(ItemKind.DID, 0xF189)
    'F189'
    >>> item_label(ItemKind.OBD, 0x02)
    'OBD 09/02'
    """
    if kind is ItemKind.DID:
        return f"{item:04X}"
    if kind is ItemKind.OBD:
        return f"OBD 09/{item:02X}"
    if kind is ItemKind.SECURITY:
        return f"SEC 27/{item:02X}"
    return f"MEM {item:#010x}" + (f"+{size}" if size is not None else "")


@dataclass(frozen=True)
class Check:
    """Expected vs observed for one ECU and item, with the verdict and the raw evidence."""

    observation: Observation
    expected: str | None
    verdict: Verdict

    @property
    def ecu_id(self) -> str:
        """The ECU this check is about."""
        return self.observation.ecu_id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        o = self.observation
        return {"ecu": o.ecu_id, "kind": o.kind.value, "item": o.label, "expected": self.expected,
                "observed": o.value, "verdict": self.verdict.value,
                "nrc": None if o.nrc is None else f"0x{o.nrc:02X}", "detail": o.detail,
                "evidence": o.exchange.to_dict()}


@dataclass(frozen=True)
class BenchReport:
    """Every check of a bench run, in target order, plus timing."""

    checks: tuple[Check, ...]
    duration_s: float = 0.0
    #: Problems beside the checks (a bus log writer that failed mid-run).
    notes: tuple[str, ...] = ()
    #: Every ECU that was to be checked, in target order (one with no check at all is PARTIAL).
    ecus: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """True if any check drifted or got a malformed answer (policy failure, exit code 1)."""
        return any(c.verdict.failed for c in self.checks)

    def counts(self) -> dict[str, int]:
        """Number of checks per verdict."""
        out: dict[str, int] = {}
        for c in self.checks:
            out[c.verdict.value] = out.get(c.verdict.value, 0) + 1
        return out

    def for_ecu(self, ecu_id: str) -> tuple[Check, ...]:
        """The checks of one ECU."""
        return tuple(c for c in self.checks if c.ecu_id == ecu_id)

    def ecu_verdicts(self) -> dict[str, EcuVerdict]:
        """Per ECU (in check order), its :class:`EcuVerdict`."""
        by_ecu: dict[str, list[Check]] = {e: [] for e in self.ecus}
        for c in self.checks:
            by_ecu.setdefault(c.ecu_id, []).append(c)
        return {ecu: ecu_verdict(checks) for ecu, checks in by_ecu.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``ecuscan verify --json``)."""
        verdicts = self.ecu_verdicts()
        ecu_counts: dict[str, int] = {}
        for v in verdicts.values():
            ecu_counts[v.value] = ecu_counts.get(v.value, 0) + 1
        return {"schema": "ecuscan/bench-report/v1", "failed": self.failed, "counts": self.counts(),
                "duration_s": round(self.duration_s, 4), "checks": [c.to_dict() for c in self.checks],
                "notes": list(self.notes),
                "ecus": [{"ecu": ecu, "verdict": v.value, "complete": v.complete} for ecu, v in verdicts.items()],
                "ecu_counts": ecu_counts}
