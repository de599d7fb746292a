"""Verify ECUs on the bench: read what each target must answer and compare with the expectation.

:func:`verify` talks to many ECUs at once over one bus: a single ``can.Notifier`` with a
:class:`~ecuscan.bench.client.Dispatcher` routes frames by arbitration id, and at most
``options.max_in_flight`` ECU sessions run at the same time (one worker thread each; requests
to one ECU are sequential, as UDS requires).

Expected values come from the manifest (``bench.expect``) and from the analysed image through
:func:`expected_from_scan`; the manifest wins where both give a value for the same DID.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import can

from ..errors import BenchError
from ..model import ScanResult
from . import obd
from .client import Dispatcher, EcuSession, attached
from .dids import normalize_expected, parse_did
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

#: Consecutive unanswered requests after which the rest of an ECU's items are not sent.
SILENT_AFTER = 2

#: Scanner metadata keys that name an identification value, besides ``did:XXXX``.
METADATA_ALIASES: dict[str, int] = {
    "sw_part_number": 0xF188,  # vehicleManufacturerECUSoftwareNumber (VBF sw_part_number)
    "sw_version": 0xF189,  # vehicleManufacturerECUSoftwareVersionNumber
}


class BenchObserver(Protocol):
    """Progress callbacks (the CLI shows a spinner/table; the library never prints)."""

    def on_check(self, check: Check) -> None:
        """One item of one ECU is decided."""

    def on_ecu_done(self, ecu_id: str) -> None:
        """Every item of one ECU is decided."""


def expected_from_scan(result: ScanResult) -> dict[int, str]:
    """Identification values the analysed image says the ECU must report.

    The scanner fills ``metadata`` with ``did:F189 -> "2.4.1"`` for identification tables found in
    the firmware constants (e.g. the ``ECUSCAN-DID:F189=2.4.1;...`` string of the demo images) and
    with ``sw_version`` / ``sw_part_number`` from VBF headers (mapped to F189 / F188). Explicit
    ``did:`` keys win over the aliases. Keys that do not parse are ignored.
    """
    out: dict[int, str] = {}
    for key, did in METADATA_ALIASES.items():
        if result.metadata.get(key):
            out[did] = str(result.metadata[key])
    for key, value in result.metadata.items():
        if key.lower().startswith("did:"):
            try:
                out[parse_did(key[4:])] = str(value)
            except Exception:  # noqa: S112 - an unparsable key is not an expectation
                continue
    return out


def with_expectations(target: BenchTarget, extra: Mapping[int, str]) -> BenchTarget:
    """``target`` with ``extra`` expectations added; the target's own (manifest) values win."""
    merged = dict(extra)
    merged.update(target.expect)
    return dataclasses.replace(target, expect=merged)


def compare(observation: Observation, expected: str | None, codec: Codec = Codec.ASCII) -> Check:
    """Decide the verdict of one observation. A MATCH needs a positive, well-formed, equal answer.

    >>> from ecuscan.bench.records import Exchange, ItemKind
    >>> o = Observation("bcm", ItemKind.DID, 0xF189, Exchange(b"\\x22\\xf1\\x89"), value="2.4.2")
    >>> compare(o, "2.4.1").verdict.value
    'MISMATCH'
    """
    if observation.status is not Verdict.OBSERVED or observation.value is None:
        status = observation.status if observation.status is not Verdict.OBSERVED else Verdict.INVALID
        return Check(observation, expected, status)
    if expected is None:
        return Check(observation, None, Verdict.OBSERVED)
    same = observation.value == normalize_expected(codec, expected)
    return Check(observation, expected, Verdict.MATCH if same else Verdict.MISMATCH)


Item = tuple[ItemKind, int, "str | None"]


def plan(target: BenchTarget, options: BenchOptions) -> list[Item]:
    """What to read from ``target``: expected DIDs, extra OEM DIDs, OBD items, memory regions (opt-in)."""
    items: list[Item] = [(ItemKind.DID, did, target.expect[did]) for did in sorted(target.expect)]
    items += [(ItemKind.DID, d.did, None) for d in target.dids if d.did not in target.expect]
    if options.obd:
        items += [(ItemKind.OBD, t, target.expect_obd[t]) for t in sorted(target.expect_obd)]
    if options.read_memory:
        items += [(ItemKind.MEMORY, r.address, r.sha256.lower()) for r in target.memory]
    return items


def _request_bytes(kind: ItemKind, item: int) -> bytes:
    if kind is ItemKind.DID:
        return bytes([0x22, item >> 8, item & 0xFF])
    if kind is ItemKind.OBD:
        return obd.request(item)
    return bytes([0x23, 0x44]) + item.to_bytes(4, "big")


def check_target(target: BenchTarget, bus: can.BusABC, dispatcher: Dispatcher, options: BenchOptions,
                 on_check: Callable[[Check], None] | None = None) -> list[Check]:
    """Every check of one ECU, in plan order (one session, sequential requests)."""
    checks: list[Check] = []
    silent = 0
    regions = {r.address: r for r in target.memory}
    locked: Observation | None = None  # why memory is not read (SecurityAccess refused), once decided
    unlocked = False
    with EcuSession(target, bus, dispatcher, options) as session:
        for kind, item, expected in plan(target, options):
            if silent >= SILENT_AFTER:
                obs = Observation(target.ecu_id, kind, item, Exchange(_request_bytes(kind, item)),
                                  status=Verdict.UNREACHABLE,
                                  detail=f"not sent: no answer to the previous {SILENT_AFTER} requests")
            elif kind is ItemKind.DID:
                obs = session.read_did(item)
            elif kind is ItemKind.OBD:
                obs = session.read_obd(item)
            else:
                if not unlocked and locked is None:
                    locked = session.unlock()  # once per session, before the first memory read
                    unlocked = locked is None
                if locked is not None:
                    # never retried: a refused key (0x35/0x36/0x37) stops every memory read of this ECU
                    status = locked.status if locked.status is not Verdict.OBSERVED else Verdict.MISSING
                    obs = dataclasses.replace(locked, kind=ItemKind.MEMORY, item=item, status=status,
                                              detail=f"memory not read: {locked.detail}")
                else:
                    obs = session.read_memory(regions[item])
            silent = silent + 1 if obs.status is Verdict.UNREACHABLE else 0
            codec = target.codec_for(item) if kind is ItemKind.DID else Codec.ASCII
            check = compare(obs, expected, Codec.RAW if kind is ItemKind.MEMORY else codec)
            checks.append(check)
            if on_check:
                on_check(check)
    return checks


def verify(targets: Sequence[BenchTarget], bus: can.BusABC, *, options: BenchOptions | None = None,
           observer: BenchObserver | None = None, listeners: Sequence[can.Listener] = ()) -> BenchReport:
    """Check every target concurrently (bounded by ``options.max_in_flight``) and report.

    ``listeners`` are added to the bus Notifier too (e.g. a :mod:`~ecuscan.bench.buslog` writer).
    Only read-only requests are sent (see :func:`ecuscan.bench.client.check_allowed`).
    """
    options = options or BenchOptions()
    ids = [t.ecu_id for t in targets]
    if len(set(ids)) != len(ids):
        raise BenchError("two bench targets share an ECU id")
    start = time.monotonic()
    on_check = observer.on_check if observer else None
    with attached(bus, list(listeners)) as dispatcher:
        workers = max(1, min(options.max_in_flight, len(targets)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ecuscan-bench") as pool:
            futures = [pool.submit(check_target, t, bus, dispatcher, options, on_check) for t in targets]
            results: list[Check] = []
            for target, fut in zip(targets, futures, strict=True):
                results.extend(fut.result())
                if observer:
                    observer.on_ecu_done(target.ecu_id)
    return BenchReport(tuple(results), time.monotonic() - start, tuple(dispatcher.log_errors),
                       ecus=tuple(t.ecu_id for t in targets))
