"""The supply-chain manifest (v1) as records: the one model graph, bench, audit and report use.

Frozen dataclasses and enums only; :mod:`ecuscan.manifest.loader` builds them from YAML/JSON.
The bench vocabulary a manifest speaks (ISO-TP addressing, DID codecs, DID specs, CAN identifier
ranges) lives here too, so :mod:`ecuscan.bench` and the loader check a value the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ManifestError

#: A supplier tier: 1, 2, 3 ... or ``"oss"`` for open-source projects.
Tier = int | str

#: Largest 11-bit and 29-bit CAN identifiers.
MAX_11BIT_ID = 0x7FF
MAX_29BIT_ID = 0x1FFFFFFF


class Addressing(enum.Enum):
    """ISO 15765-2/-4 addressing of one ECU (the manifest's ``bench.addressing``)."""

    #: 11-bit identifiers, e.g. request 0x7E0, response 0x7E8; functional 0x7DF.
    NORMAL_11BIT = "normal_11bit"
    #: 29-bit normal-fixed identifiers 0x18DA<target><source>; functional 0x18DB33F1.
    NORMAL_FIXED_29BIT = "normal_fixed_29bit"

    @property
    def extended(self) -> bool:
        """True for 29-bit identifiers."""
        return self is Addressing.NORMAL_FIXED_29BIT

    @property
    def functional_id(self) -> int:
        """The OBD/UDS functional request identifier of this addressing scheme."""
        return 0x18DB33F1 if self.extended else 0x7DF

    @property
    def max_id(self) -> int:
        """The largest CAN identifier this addressing can use."""
        return MAX_29BIT_ID if self.extended else MAX_11BIT_ID

    @classmethod
    def parse(cls, name: object) -> Addressing:
        """From the manifest name (the older bench-file spellings ``normal11``/``normalfixed29`` too)."""
        key = str(name).strip().lower()
        key = {"normal11": "normal_11bit", "normalfixed29": "normal_fixed_29bit"}.get(key, key)
        try:
            return cls(key)
        except ValueError:
            raise ManifestError(f"addressing {name!r} is not normal_11bit or normal_fixed_29bit") from None


def can_id_problem(addressing: Addressing, value: int) -> str | None:
    """Why ``value`` is not a CAN identifier under ``addressing`` (None: it is).

    >>> can_id_problem(Addressing.NORMAL_11BIT, 0x800)
    '0x800 does not fit normal_11bit addressing'
    """
    if not 0 <= value <= addressing.max_id:
        return f"{value:#x} does not fit {addressing.value} addressing"
    return None


class Codec(enum.Enum):
    """How a DID's bytes are turned into the text compared with the expectation."""

    ASCII = "ascii"  # printable text, trailing NUL/space/0xFF padding stripped
    BCD = "bcd"  # packed BCD digits, e.g. 0x20 0x24 -> "2024"
    RAW = "raw"  # lower-case hex of the bytes (the manifest calls it "hex")
    UINT = "uint"  # big-endian unsigned integer, decimal text

    @classmethod
    def parse(cls, name: object) -> Codec:
        """A codec from its manifest name (``ascii``, ``bcd``, ``hex``/``raw``, ``uint``)."""
        key = str(name).strip().lower()
        if key == "hex":
            return cls.RAW
        try:
            return cls(key)
        except ValueError:
            raise ManifestError(f"unknown DID codec {name!r} (ascii, bcd, hex, uint)") from None


@dataclass(frozen=True)
class DidSpec:
    """A data identifier read on the bench, with the codec that turns its bytes into text."""

    did: int
    name: str = ""
    codec: Codec = Codec.ASCII
    length: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.did <= 0xFFFF:
            raise ManifestError(f"DID {self.did:#x} is outside 0x0000-0xFFFF")


@dataclass(frozen=True)
class Supplier:
    """A supplier (tier 1, 2, 3 ... or ``oss``) and whom it sources from."""

    id: str
    name: str
    tier: Tier
    sources_from: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    tisax: str | None = None
    country: str | None = None
    contact: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class FirmwareRef:
    """One firmware image an ECU runs. ``path`` is resolved against the manifest's folder;
    ``declared_path`` is as written; ``sbom`` (resolved) is the supplier's declared SBOM."""

    path: str
    role: str = "application"
    version: str | None = None
    sbom: str | None = None
    sha256: str | None = None
    declared_path: str = ""
    base_address: int | None = None  # load address of a raw flash dump
    previous: str | None = None  # the previous release of this firmware (resolved path): audit diffs against it


@dataclass(frozen=True)
class BenchSpec:
    """How to reach one ECU on the bench and what it must answer.

    ``expect`` maps DID numbers to the expected decoded value.
    """

    tx_id: int | None = None
    rx_id: int | None = None
    addressing: Addressing = Addressing.NORMAL_11BIT
    target_address: int | None = None
    source_address: int | None = None
    expect: tuple[tuple[int, str], ...] = ()
    dids: tuple[DidSpec, ...] = ()
    #: For the built-in simulator only: ``{"values": {DID: text}, "faults": {...}, "response_delay": s}``:
    #: what the simulated ECU answers (``values``, else ``expect``), never read from the analysed image.
    simulate: Mapping[str, Any] | None = None
    #: SecurityAccess for ``verify --read-memory`` (see ecuscan.bench.targets.security_config).
    security: Mapping[str, Any] | None = None
    #: The ECU's CVN algorithm and regions (see ecuscan.bench.targets.cvn_config).
    cvn: Mapping[str, Any] | None = None

    def expected(self) -> dict[int, str]:
        """``expect`` as a dict."""
        return dict(self.expect)


@dataclass(frozen=True)
class Ecu:
    """An ECU variant: who supplies it, what firmware it runs, how it answers on the bench."""

    id: str
    name: str
    supplier: str
    firmware: tuple[FirmwareRef, ...] = ()
    hardware_part_number: str | None = None
    criticality: str | None = None
    bench: BenchSpec | None = None
    line: int | None = None


@dataclass(frozen=True)
class Vehicle:
    """A vehicle line / type and the ECUs it installs. ``rxswin``: UN R156 identifiers."""

    id: str
    name: str
    ecus: tuple[str, ...] = ()
    rxswin: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class BenchSettings:
    """The top-level ``bench:`` section: which CAN interface, or the built-in simulator.

    It applies to ``verify`` and ``audit`` alike; bus options on the command line win.
    """

    simulate: bool = False
    interface: str | None = None
    channel: str | None = None
    bitrate: int | None = None
    timeout: float | None = None

    @property
    def given(self) -> bool:
        """True when the section names an interface or channel."""
        return self.interface is not None or self.channel is not None


@dataclass(frozen=True)
class Manifest:
    """A validated supply-chain manifest. ``warnings`` lists sourcing cycles and oddities."""

    name: str
    suppliers: tuple[Supplier, ...]
    ecus: tuple[Ecu, ...]
    vehicles: tuple[Vehicle, ...]
    feeds: tuple[str, ...] = ()
    vex: tuple[str, ...] = ()
    bench: BenchSettings = field(default_factory=BenchSettings)
    source: str = "<manifest>"
    base_dir: str = "."
    warnings: tuple[str, ...] = ()
    _index: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # id lookups are O(1): an audit of 10,000 ECUs asks for each ECU and supplier many times
        self._index.update(supplier={s.id: s for s in self.suppliers}, ecu={e.id: e for e in self.ecus},
                           vehicle={v.id: v for v in self.vehicles})

    def supplier(self, supplier_id: str) -> Supplier | None:
        """The supplier with this id."""
        found: Supplier | None = self._index["supplier"].get(supplier_id)
        return found

    def ecu(self, ecu_id: str) -> Ecu | None:
        """The ECU with this id."""
        found: Ecu | None = self._index["ecu"].get(ecu_id)
        return found

    def vehicle(self, vehicle_id: str) -> Vehicle | None:
        """The vehicle with this id."""
        found: Vehicle | None = self._index["vehicle"].get(vehicle_id)
        return found

    def sources_closure(self, supplier_id: str) -> frozenset[str]:
        """``supplier_id`` and every supplier it sources from, through any number of tiers (cycles cut)."""
        cache: dict[str, frozenset[str]] = self._index.setdefault("closure", {})
        if supplier_id in cache:
            return cache[supplier_id]
        seen = {supplier_id}
        stack = [supplier_id]
        while stack:
            s = self.supplier(stack.pop())
            for parent in s.sources_from if s else ():
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        cache[supplier_id] = frozenset(seen)
        return cache[supplier_id]
