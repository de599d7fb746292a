"""Bench targets from a manifest, or from a small bench file.

:func:`targets_from_manifest` adapts a validated :class:`ecuscan.manifest.Manifest` (ECUs
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
          memory: [{address: 0x08000000, size: 4096, sha256: "..."}]   # or "all" / no sha256: from image
          image: bcm_app.elf       # the analysed image (relative to this file): memory hashes, CVN, sim flash
          cvn: {algorithm: crc32, regions: [[0x08000000, 0x10000]]}   # or "module:function"
          security: {level: 1, key: "11223344"}   # or algorithm: "module:function" (runs user code)
          fd: false
          padding: 0xCC
          simulate:                # used by ``ecuscan simulate`` only
            values: {F189: "2.4.2"}
            faults: {silent: false, nrc: 0x22, pending: 3, delay: 0.1, truncate: true}
            memory: [{address: 0x08000000, hex: "00112233"}]   # default: the image's flash
            flash_patch: [{address: 0x08000100, hex: "00"}]     # drift the simulated flash
            faults: {security_level: 1, security_key: "11223344"}   # or security_algorithm
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import BenchError, ManifestError
from ..limits import DEFAULT_LIMITS, Limits
from ..manifest import load_manifest
from ..manifest.model import BenchSettings, BenchSpec, FirmwareRef, Manifest
from . import obd
from .addressing import normal_fixed_ids
from .dids import parse_did
from .flash import Flash, Regions, compute_cvn, load_flash, memory_expectations, parse_regions
from .records import Addressing, BenchTarget, Codec, CvnConfig, DidSpec, MemoryRegion, SecurityConfig
from .simulator import EcuSpec, Faults
from .verify import expected_from_scan

#: Firmware roles (manifest ``role:``) whose image is what the ECU runs and answers for.
APPLICATION_ROLES = frozenset({"application", "app", ""})

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


def targets_from_manifest(manifest: Manifest) -> list[BenchTarget]:
    """A :class:`BenchTarget` for every ECU of the manifest with a bench section (expectations: ``bench.expect``)."""
    out = []
    for ecu in manifest.ecus:
        b = ecu.bench
        if b is None:
            continue
        tx, rx = _ids(ecu.id, b.addressing, b.tx_id, b.rx_id, b.target_address, b.source_address)
        dids = tuple(d if d.name else dataclasses.replace(d, name=f"{d.did:04X}") for d in b.dids)
        out.append(BenchTarget(ecu.id, tx, rx, b.addressing, expect=b.expected(), dids=dids,
                               security=security_config(ecu.id, b.security)))
    return out


def security_config(ecu_id: str, value: Any) -> SecurityConfig | None:
    """``{level, key: hex | algorithm: "module:function", session}`` -> :class:`SecurityConfig` (None: absent)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise BenchError(f"ECU {ecu_id}: security must be a mapping")
    unknown = sorted(set(value) - {"level", "key", "algorithm", "session"})
    if unknown:
        raise BenchError(f"ECU {ecu_id}: unknown security field(s) {', '.join(map(str, unknown))}")
    try:
        key = bytes.fromhex(str(value["key"])) if value.get("key") is not None else None
    except ValueError:
        raise BenchError(f"ECU {ecu_id}: security key {value['key']!r} is not hex") from None
    if key is None and not value.get("algorithm"):
        raise BenchError(f"ECU {ecu_id}: security needs a key (hex) or an algorithm (module:function)")
    session = value.get("session")
    return SecurityConfig(_int(value.get("level", 1), f"ECU {ecu_id} security level"), key=key,
                          algorithm=str(value["algorithm"]) if value.get("algorithm") else None,
                          session=None if session is None else _int(session, f"ECU {ecu_id} security session"))


def cvn_config(ecu_id: str, value: Any) -> CvnConfig | None:
    """``{algorithm: crc32 | "module:function", regions: [[address, size], ...]}`` -> :class:`CvnConfig`."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise BenchError(f"ECU {ecu_id}: cvn must be a mapping")
    unknown = sorted(set(value) - {"algorithm", "regions"})
    if unknown:
        raise BenchError(f"ECU {ecu_id}: unknown cvn field(s) {', '.join(map(str, unknown))}")
    return CvnConfig(str(value.get("algorithm", "crc32")),
                     parse_regions(value.get("regions"), f"ECU {ecu_id} cvn regions"))


def patch_flash(ecu_id: str, flash: Flash, patches: Any) -> Flash:
    """Apply ``simulate.flash_patch`` (one ``{address, hex}`` or a list) to the simulated flash."""
    if patches is None:
        return flash
    for p in [patches] if isinstance(patches, Mapping) else list(patches):
        try:
            data = bytes.fromhex(str(p["hex"]))
        except (KeyError, TypeError, ValueError):
            raise BenchError(f"ECU {ecu_id}: flash_patch entry {p!r} needs address and hex bytes") from None
        flash = flash.patched(_int(p.get("address"), f"ECU {ecu_id} flash_patch address"), data)
    return flash


def _target(ecu_id: str, b: Mapping[str, Any], base: Path | None = None) -> BenchTarget:
    if not isinstance(b, Mapping):
        raise BenchError(f"ECU {ecu_id}: bench must be a mapping")
    known = {"tx_id", "rx_id", "addressing", "target_address", "source_address", "expect", "dids", "obd",
             "memory", "fd", "padding", "simulate", "image", "cvn", "security"}
    unknown = sorted(set(b) - known)
    if unknown:
        raise BenchError(f"ECU {ecu_id}: unknown bench field(s) {', '.join(map(str, unknown))}")
    try:
        addressing = Addressing.parse(b.get("addressing", "normal_11bit"))
    except ManifestError as exc:
        raise BenchError(f"ECU {ecu_id}: {exc}") from None
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
    flash, segments = _image(ecu_id, b, base)
    memory = _memory(ecu_id, b.get("memory"), flash, segments)
    cvn = cvn_config(ecu_id, b.get("cvn"))
    if cvn is not None and obd.CVN not in expect_obd:
        if flash is None:
            raise BenchError(f"ECU {ecu_id}: cvn needs the analysed image (bench.image) to compute the expectation")
        expect_obd[obd.CVN] = compute_cvn(cvn, flash)
    padding = b.get("padding", 0xCC)
    return BenchTarget(ecu_id, tx, rx, addressing, expect=expect, dids=dids, expect_obd=expect_obd, memory=memory,
                       fd=bool(b.get("fd", False)), padding=None if padding is None else _int(padding, "padding"),
                       security=security_config(ecu_id, b.get("security")))


def _image(ecu_id: str, b: Mapping[str, Any], base: Path | None) -> tuple[Flash | None, tuple[Any, ...]]:
    if not b.get("image"):
        return None, ()
    path = Path(str(b["image"]))
    if base is not None and not path.is_absolute():
        path = base / path
    return load_flash(path)


def _memory(ecu_id: str, value: Any, flash: Flash | None, segments: tuple[Any, ...]) -> tuple[MemoryRegion, ...]:
    if value is None:
        return ()
    if value == "all":
        if flash is None:
            raise BenchError(f"ECU {ecu_id}: memory: all needs the analysed image (bench.image)")
        return memory_expectations(segments, "all", flash)
    out = []
    for m in value:
        address = _int(m["address"], f"ECU {ecu_id} memory address")
        size = _int(m["size"], f"ECU {ecu_id} memory size")
        if m.get("sha256"):
            out.append(MemoryRegion(address, size, str(m["sha256"]).lower(), str(m.get("name", ""))))
        elif flash is None:
            raise BenchError(f"ECU {ecu_id}: memory region {address:#x} has no sha256 and no bench.image to hash")
        else:
            out.extend(memory_expectations(segments, [(address, size)], flash))
    return tuple(out)


def _faults(ecu_id: str, f: Mapping[str, Any]) -> Faults:
    fields = {x.name for x in dataclasses.fields(Faults)}
    unknown = sorted(set(f) - fields)
    if unknown:
        raise BenchError(f"ECU {ecu_id}: unknown fault(s) {', '.join(map(str, unknown))}")
    kw: dict[str, Any] = dict(f)
    for name in ("security_level", "security_attempts", "security_nrc"):
        if kw.get(name) is not None:
            kw[name] = _int(kw[name], f"ECU {ecu_id} fault {name}")
    if "nrc_dids" in kw:
        kw["nrc_dids"] = {parse_did(k): _int(v, "nrc") for k, v in kw["nrc_dids"].items()}
    if "drift" in kw:
        kw["drift"] = {parse_did(k): str(v) for k, v in kw["drift"].items()}
    if kw.get("nrc") is not None:
        kw["nrc"] = _int(kw["nrc"], f"ECU {ecu_id} fault nrc")
    return Faults(**kw)


def _spec(target: BenchTarget, b: Mapping[str, Any], base: Path | None = None) -> EcuSpec:
    sim = dict(b.get("simulate") or {})
    values = dict(target.expect)
    values.update({parse_did(k): str(v) for k, v in dict(sim.get("values") or {}).items()})
    if sim.get("memory"):
        flash = Flash.from_blocks((_int(m["address"], "memory address"), bytes.fromhex(str(m["hex"])))
                                  for m in sim["memory"])
    else:
        flash = _image(target.ecu_id, b, base)[0] or Flash()
    flash = patch_flash(target.ecu_id, flash, sim.get("flash_patch"))
    return EcuSpec(target, values=values, memory=flash.as_mapping(),
                   faults=_faults(target.ecu_id, sim.get("faults") or {}),
                   response_delay=float(sim.get("response_delay", 0.0)), cvn=cvn_config(target.ecu_id, b.get("cvn")))


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
            t = _target(str(e["id"]), e["bench"], p.parent)
            targets.append(t)
            specs.append(_spec(t, e["bench"], p.parent))
    except (BenchError, ManifestError) as exc:
        raise BenchError(exc.message, source=str(p)) from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BenchError(f"invalid bench entry: {type(exc).__name__}: {exc}", source=str(p)) from exc
    return targets, specs


def manifest_simulator_spec(target: BenchTarget, bench: BenchSpec | None, flash: Flash | None = None) -> EcuSpec:
    """A virtual ECU for a manifest ECU. It answers what the manifest *declares* the bench ECU carries:
    ``bench.simulate.values``, else ``bench.expect``, never what the analysed image says (the image is
    what the bench check expects, so answering from it would make every MATCH true by construction).
    Memory reads and the CVN come from the image's ``flash`` (``simulate.flash_patch`` drifts it);
    faults from ``bench.simulate.faults``."""
    sim: Mapping[str, Any] = (bench.simulate if bench is not None else None) or {}
    values = bench.expected() if bench is not None else {}
    try:
        values.update({parse_did(k): str(v) for k, v in dict(sim.get("values") or {}).items()})
        faults = _faults(target.ecu_id, dict(sim.get("faults") or {}))
        delay = float(sim.get("response_delay", 0.005))
    except (TypeError, ValueError, AttributeError) as exc:
        raise BenchError(f"ECU {target.ecu_id}: bad bench.simulate section: {exc}") from exc
    memory = patch_flash(target.ecu_id, flash, sim.get("flash_patch")).as_mapping() if flash is not None else {}
    cvn = cvn_config(target.ecu_id, bench.cvn if bench is not None else None) if flash is not None else None
    return EcuSpec(target, values=values, faults=faults, response_delay=delay, memory=memory, cvn=cvn)


def application_image(manifest: Manifest, ecu_id: str,
                      scans: Mapping[str, Any]) -> tuple[FirmwareRef, Any] | None:
    """``(FirmwareRef, ScanResult)`` of the ECU's scanned application image, if any."""
    ecu = manifest.ecu(ecu_id)
    for ref in ecu.firmware if ecu is not None else ():
        result = scans.get(ref.path)
        if result is not None and ref.role in APPLICATION_ROLES:
            return ref, result
    return None


def image_flash(manifest: Manifest, scans: Mapping[str, Any]) -> dict[str, tuple[Any, Flash]]:
    """Per ECU with a scanned application image: ``(segments, Flash)``; an image that cannot be
    loaded again (moved, changed since the scan) is left out."""
    out: dict[str, tuple[Any, Flash]] = {}
    for ecu in manifest.ecus:
        found = application_image(manifest, ecu.id, scans)
        if found is None:
            continue
        ref, result = found
        try:
            # the reloaded segments equal the scanned ones (hash-checked in load_flash) and carry the
            # manifest's base_address for raw images, which a plain scan does not know
            flash, segments = load_flash(ref.path, result, base_address=ref.base_address)
            out[ecu.id] = (segments, flash)
        except BenchError:
            continue
    return out


def _image_target(t: BenchTarget, bench: BenchSpec | None, image: tuple[Any, Flash] | None, memory: Regions | None) -> \
        BenchTarget:
    """Memory-region hashes and a recomputed CVN from the analysed image, where configured."""
    if image is None:
        if memory is not None or (bench is not None and bench.cvn):
            raise BenchError(f"ECU {t.ecu_id}: memory regions and CVN need its analysed application image "
                             "(scanned firmware with role application)")
        return t
    result, flash = image
    changes: dict[str, Any] = {}
    if memory is not None:
        changes["memory"] = memory_expectations(result, memory, flash)
    cvn = cvn_config(t.ecu_id, bench.cvn if bench is not None else None)
    if cvn is not None and obd.CVN not in t.expect_obd:
        changes["expect_obd"] = {**t.expect_obd, obd.CVN: compute_cvn(cvn, flash)}
    return dataclasses.replace(t, **changes) if changes else t


def image_expectations(manifest: Manifest, scans: Mapping[str, Any]) -> dict[str, dict[int, str]]:
    """Per ECU, the identification its application image carries (``scans``: firmware path -> ScanResult)."""
    out: dict[str, dict[int, str]] = {}
    for ecu in manifest.ecus:
        for ref in ecu.firmware:
            result = scans.get(ref.path)
            if result is not None and ref.role in APPLICATION_ROLES:
                out.setdefault(ecu.id, {}).update(expected_from_scan(result))
    return out


def load_targets(path: str | Path,
                 scans: Mapping[str, Any] | Callable[[Any], Mapping[str, Any]] | None = None, *,
                 memory: Regions | None = None) -> tuple[list[BenchTarget], list[EcuSpec]]:
    """A supply-chain manifest (``schema:``/``suppliers:`` present) or a bench file, whichever ``path`` is.

    ``scans`` maps firmware paths to scan results, or is called with the loaded manifest to get
    them (so a bench file never triggers a scan).

    For a manifest, ``memory`` (``"all"`` or ``[(address, size)]``) sets every ECU's memory regions
    from its analysed image (:func:`~ecuscan.bench.flash.memory_expectations`); ``bench.cvn`` gives
    the expected CVN recomputed from the image; simulated ECUs serve the image's flash.
    """
    plan = load_bench(path, scans, memory=memory)
    return plan.targets, plan.specs


@dataclass(frozen=True)
class BenchPlan:
    """What a bench run of one file checks: targets, simulated ECUs, and the file's top-level
    ``bench:`` settings (which bus, or the simulator; a bench file has none)."""

    targets: list[BenchTarget]
    specs: list[EcuSpec]
    settings: BenchSettings = field(default_factory=BenchSettings)


def load_bench(path: str | Path, scans: Mapping[str, Any] | Callable[[Any], Mapping[str, Any]] | None = None, *,
               memory: Regions | None = None) -> BenchPlan:
    """:func:`load_targets` plus the manifest's top-level ``bench:`` settings."""
    p = Path(path)
    try:
        head = yaml.safe_load(p.read_text("utf-8")) if p.stat().st_size < DEFAULT_LIMITS.max_document_bytes else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BenchError(f"cannot read: {exc}", source=str(p)) from exc
    if isinstance(head, Mapping) and ("suppliers" in head or "schema" in head):
        manifest = load_manifest(p, check_files=False)
        if callable(scans):
            scans = scans(manifest)
        targets, specs = manifest_bench(manifest, scans or {}, memory=memory)
        return BenchPlan(targets, specs, manifest.bench)
    targets, specs = load_bench_file(p)
    return BenchPlan(targets, specs)


def manifest_bench(manifest: Manifest, scans: Mapping[str, Any], *,
                   memory: Regions | None = None) -> tuple[list[BenchTarget], list[EcuSpec]]:
    """The bench targets and simulated ECUs of a manifest: the one path ``verify`` and ``audit`` share.

    ``scans`` maps firmware paths to the analysed images' scan results. Each target expects the
    manifest's ``bench.expect`` plus the identification its application image carries (the manifest
    wins for the same DID); ``bench.cvn`` adds the CVN recomputed from the image; ``memory``
    (``"all"`` or ``[(address, size)]``, verify ``--read-memory``) the image's segment hashes.
    Simulated ECUs answer from the manifest's declarations (:func:`manifest_simulator_spec`).
    """
    images = image_expectations(manifest, scans)
    flashes = image_flash(manifest, scans)
    targets = targets_from_manifest(manifest)
    benches = {t.ecu_id: _bench_of(manifest, t.ecu_id) for t in targets}
    # an ECU without an analysed application image has nothing to hash; one whose image is
    # there but cannot be loaded again (moved, changed since the scan) is an error
    targets = [_image_target(t, benches[t.ecu_id], flashes.get(t.ecu_id), memory)
               if flashes.get(t.ecu_id) or _has_cvn(benches[t.ecu_id])
               or (memory is not None and application_image(manifest, t.ecu_id, scans))
               else t for t in targets]
    specs = [manifest_simulator_spec(t, benches[t.ecu_id], (flashes.get(t.ecu_id) or (None, None))[1])
             for t in targets]
    targets = [dataclasses.replace(t, expect={**images.get(t.ecu_id, {}), **t.expect}) for t in targets]
    return targets, specs


def _has_cvn(bench: BenchSpec | None) -> bool:
    return bench is not None and bench.cvn is not None


def _bench_of(manifest: Manifest, ecu_id: str) -> BenchSpec | None:
    ecu = manifest.ecu(ecu_id)
    return ecu.bench if ecu is not None else None
