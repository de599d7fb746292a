"""Bench targets from a manifest, or from a small bench file.

:func:`targets_from_manifest` adapts a validated :class:`ecuscan.graph.manifest.Manifest` (ECUs
with a ``bench:`` section). :func:`load_bench_file` reads the same ``ecus: [{id, bench: {...}}]``
shape directly, with bench-only extras the manifest schema does not carry:

.. code-block:: yaml

    ecus:
      - id: bcm
        bench:
          tx_id: 0x7E0            # or target_address/source_address for normal_fixed_29bit
          rx_id: 0x7E8
          addressing: normal_11bit  # or normal_fixed_29bit
          expect: {F189: "2.4.1", F18C: "SN123"}
          dids: [{did: "0x0100", codec: hex, name: calibration}]
          obd: {VIN: "WVWZZZ1JZXW000001", CVN: "11223344"}   # expectations for OBD mode 09
          memory: [{address: 0x08000000, size: 4096, sha256: "..."}]
          fd: false
          padding: 0xCC
          simulate:                # used by ``ecuscan simulate`` only
            values: {F189: "2.4.2"}
            faults: {silent: false, nrc: 0x22, pending: 3, delay: 0.1, truncate: true}
            memory: [{address: 0x08000000, hex: "00112233"}]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import BenchError
from ..limits import DEFAULT_LIMITS, Limits
from . import obd
from .addressing import normal_fixed_ids
from .dids import parse_did
from .records import Addressing, BenchTarget, Codec, DidSpec, MemoryRegion
from .simulator import EcuSpec, Faults

_ADDRESSING = {"normal_11bit": Addressing.NORMAL_11BIT, "normal11": Addressing.NORMAL_11BIT,
               "normal_fixed_29bit": Addressing.NORMAL_FIXED_29BIT, "normalfixed29": Addressing.NORMAL_FIXED_29BIT}
_OBD_NAMES = {"VIN": obd.VIN, "CALID": obd.CALID, "CVN": obd.CVN, "ECUNAME": obd.ECU_NAME, "ECU_NAME": obd.ECU_NAME}


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise BenchError(f"{where}: {value!r} is not a number")
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        raise BenchError(f"{where}: {value!r} is not a number") from None


def _ids(ecu_id: str, addressing: Addressing, tx: Any, rx: Any, ta: Any, sa: Any) -> tuple[int, int]:
    if tx is not None and rx is not None:
        return _int(tx, f"ECU {ecu_id} tx_id"), _int(rx, f"ECU {ecu_id} rx_id")
    if addressing is Addressing.NORMAL_FIXED_29BIT and ta is not None:
        tester = 0xF1 if sa is None else _int(sa, f"ECU {ecu_id} source_address")
        return normal_fixed_ids(_int(ta, f"ECU {ecu_id} target_address"), tester)
    raise BenchError(f"ECU {ecu_id}: bench needs tx_id and rx_id (or target_address for normal_fixed_29bit)")


def targets_from_manifest(manifest: Any) -> list[BenchTarget]:
    """A :class:`BenchTarget` for every ECU of an ``ecuscan.graph.manifest.Manifest`` with a bench section."""
    out = []
    for ecu in manifest.ecus:
        b = ecu.bench
        if b is None:
            continue
        addressing = _ADDRESSING[str(getattr(b.addressing, "value", b.addressing))]
        tx, rx = _ids(ecu.id, addressing, b.tx_id, b.rx_id, b.target_address, b.source_address)
        dids = tuple(DidSpec(d.did, d.name or f"{d.did:04X}", Codec.parse(d.codec)) for d in b.dids)
        out.append(BenchTarget(ecu.id, tx, rx, addressing, expect=b.expected(), dids=dids))
    return out


def _target(ecu_id: str, b: Mapping[str, Any]) -> BenchTarget:
    if not isinstance(b, Mapping):
        raise BenchError(f"ECU {ecu_id}: bench must be a mapping")
    known = {"tx_id", "rx_id", "addressing", "target_address", "source_address", "expect", "dids", "obd",
             "memory", "fd", "padding", "simulate"}
    unknown = sorted(set(b) - known)
    if unknown:
        raise BenchError(f"ECU {ecu_id}: unknown bench field(s) {', '.join(map(str, unknown))}")
    name = str(b.get("addressing", "normal_11bit"))
    if name not in _ADDRESSING:
        raise BenchError(f"ECU {ecu_id}: addressing {name!r} is not normal_11bit or normal_fixed_29bit")
    addressing = _ADDRESSING[name]
    tx, rx = _ids(ecu_id, addressing, b.get("tx_id"), b.get("rx_id"), b.get("target_address"),
                  b.get("source_address"))
    expect = {parse_did(k): str(v) for k, v in dict(b.get("expect") or {}).items()}
    dids = tuple(DidSpec(parse_did(d["did"]), str(d.get("name", "")), Codec.parse(d.get("codec", "hex")))
                 for d in b.get("dids") or ())
    expect_obd: dict[int, str] = {}
    for k, v in dict(b.get("obd") or {}).items():
        key = str(k).upper()
        if key not in _OBD_NAMES:
            raise BenchError(f"ECU {ecu_id}: OBD item {k!r} is not VIN, CALID, CVN or ECUNAME")
        expect_obd[_OBD_NAMES[key]] = str(v)
    memory = tuple(MemoryRegion(_int(m["address"], f"ECU {ecu_id} memory address"),
                                _int(m["size"], f"ECU {ecu_id} memory size"), str(m["sha256"]).lower(),
                                str(m.get("name", ""))) for m in b.get("memory") or ())
    padding = b.get("padding", 0xCC)
    return BenchTarget(ecu_id, tx, rx, addressing, expect=expect, dids=dids, expect_obd=expect_obd, memory=memory,
                       fd=bool(b.get("fd", False)), padding=None if padding is None else _int(padding, "padding"))


def _faults(ecu_id: str, f: Mapping[str, Any]) -> Faults:
    fields = {x.name for x in dataclasses.fields(Faults)}
    unknown = sorted(set(f) - fields)
    if unknown:
        raise BenchError(f"ECU {ecu_id}: unknown fault(s) {', '.join(map(str, unknown))}")
    kw: dict[str, Any] = dict(f)
    if "nrc_dids" in kw:
        kw["nrc_dids"] = {parse_did(k): _int(v, "nrc") for k, v in kw["nrc_dids"].items()}
    if "drift" in kw:
        kw["drift"] = {parse_did(k): str(v) for k, v in kw["drift"].items()}
    if kw.get("nrc") is not None:
        kw["nrc"] = _int(kw["nrc"], f"ECU {ecu_id} fault nrc")
    return Faults(**kw)


def _spec(target: BenchTarget, b: Mapping[str, Any]) -> EcuSpec:
    sim = dict(b.get("simulate") or {})
    values = dict(target.expect)
    values.update({parse_did(k): str(v) for k, v in dict(sim.get("values") or {}).items()})
    memory = {}
    for m in sim.get("memory") or ():
        memory[_int(m["address"], "memory address")] = bytes.fromhex(str(m["hex"]))
    return EcuSpec(target, values=values, memory=memory, faults=_faults(target.ecu_id, sim.get("faults") or {}),
                   response_delay=float(sim.get("response_delay", 0.0)))


def load_bench_file(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> tuple[list[BenchTarget], list[EcuSpec]]:
    """Targets (and simulator specs) from a YAML/JSON file with ``ecus: [{id, bench: {...}}]``."""
    p = Path(path)
    try:
        if p.stat().st_size > limits.max_document_bytes:
            raise BenchError("bench file is too large", source=str(p))
        data = yaml.safe_load(p.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BenchError(f"cannot read bench file: {exc}", source=str(p)) from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("ecus"), list):
        raise BenchError("expected a mapping with an 'ecus' list", source=str(p))
    targets, specs = [], []
    try:
        for i, e in enumerate(data["ecus"]):
            if not isinstance(e, Mapping) or "id" not in e:
                raise BenchError(f"ecus[{i}] needs an 'id'")
            if "bench" not in e:
                continue
            t = _target(str(e["id"]), e["bench"])
            targets.append(t)
            specs.append(_spec(t, e["bench"]))
    except BenchError as exc:
        raise BenchError(exc.message, source=str(p)) from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BenchError(f"invalid bench entry: {type(exc).__name__}: {exc}", source=str(p)) from exc
    return targets, specs


def manifest_simulator_spec(target: BenchTarget, bench: Any, image_values: Mapping[int, str]) -> EcuSpec:
    """A virtual ECU for a manifest ECU: it answers what its analysed image carries (``image_values``,
    else the expectation), overridden by the manifest's ``bench.simulate`` values and faults."""
    sim: Mapping[str, Any] = getattr(bench, "simulate", None) or {}
    values = dict(target.expect)
    values.update(image_values)
    try:
        values.update({parse_did(k): str(v) for k, v in dict(sim.get("values") or {}).items()})
        faults = _faults(target.ecu_id, dict(sim.get("faults") or {}))
        delay = float(sim.get("response_delay", 0.005))
    except (TypeError, ValueError, AttributeError) as exc:
        raise BenchError(f"ECU {target.ecu_id}: bad bench.simulate section: {exc}") from exc
    return EcuSpec(target, values=values, faults=faults, response_delay=delay)


def image_expectations(manifest: Any, scans: Mapping[str, Any]) -> dict[str, dict[int, str]]:
    """Per ECU, the identification its application image carries (``scans``: firmware path -> ScanResult)."""
    from .verify import expected_from_scan

    out: dict[str, dict[int, str]] = {}
    for ecu in manifest.ecus:
        for ref in ecu.firmware:
            result = scans.get(ref.path)
            if result is not None and ref.role in ("application", "app", ""):
                out.setdefault(ecu.id, {}).update(expected_from_scan(result))
    return out


def load_targets(path: str | Path, scans: Mapping[str, Any] | None = None) -> tuple[list[BenchTarget], list[EcuSpec]]:
    """A supply-chain manifest (``schema:``/``suppliers:`` present) or a bench file, whichever ``path`` is."""
    p = Path(path)
    try:
        head = yaml.safe_load(p.read_text("utf-8")) if p.stat().st_size < DEFAULT_LIMITS.max_document_bytes else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BenchError(f"cannot read: {exc}", source=str(p)) from exc
    if isinstance(head, Mapping) and ("suppliers" in head or "schema" in head):
        from ..graph.manifest import load_manifest

        manifest = load_manifest(p, check_files=False)
        images = image_expectations(manifest, scans or {})
        targets = targets_from_manifest(manifest)
        specs = [manifest_simulator_spec(t, getattr(manifest.ecu(t.ecu_id), "bench", None),
                                         images.get(t.ecu_id, {})) for t in targets]
        targets = [dataclasses.replace(t, expect={**images.get(t.ecu_id, {}), **t.expect}) for t in targets]
        return targets, specs
    return load_bench_file(p)
