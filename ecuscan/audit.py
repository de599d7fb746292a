"""``ecuscan audit``: the whole job on one manifest, stage by stage.

scan every firmware (cached in the store) → SBOMs per firmware → reconciliation against the
declared supplier SBOMs → supply-chain graph → vulnerability impact from the imported feeds
(plus the manifest's ``feeds:``) with VEX → bench check over CAN (the built-in simulator on
a virtual bus when the manifest asks for it and no bus is given).

The orchestrator is handed its collaborators (store, bus settings, observer) and returns an
:class:`AuditRun` of records; :mod:`ecuscan.report.document` turns it into the documented
JSON document that every renderer (HTML, terminal, SARIF) reads. A stage that fails for one
input records an error naming the input and the rest goes on.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from .catalog import Catalog, load_catalog
from .errors import EcuscanError
from .graph.build import SupplyGraph, build_graph
from .graph.inputs import scan_firmware
from .graph.manifest import Ecu, Manifest, load_manifest
from .limits import DEFAULT_LIMITS, Limits
from .model import ScanFailure, ScanResult
from .sbom import DeclaredSbom, Reconciliation, SbomFormat, SupplierInfo, load_sbom, reconcile, write_sbom
from .scanner import Scanner, ScanOptions
from .store import Store

#: Policy names accepted by ``--fail-on``.
FAIL_ON_CHOICES = ("mismatch", "unreachable", "undeclared", "drift", "critical", "high", "medium", "low",
                   "scan-error")


class AuditObserver(Protocol):
    """Progress callbacks (the CLI drives a status display with them)."""

    def stage(self, name: str, detail: str = "") -> None:
        """A stage starts (``scan``, ``sbom``, ``reconcile``, ``graph``, ``vulns``, ``bench``, ``report``)."""


@dataclass(frozen=True)
class BusConfig:
    """Where the bench check talks: python-can options, or the simulator on a virtual bus."""

    interface: str | None = None
    channel: str | int | None = None
    bitrate: int | None = None
    fd: bool = False
    data_bitrate: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    simulate: bool = False

    @property
    def given(self) -> bool:
        """True when the user named an interface or channel."""
        return self.interface is not None or self.channel is not None or bool(self.extra)


@dataclass(frozen=True)
class AuditOptions:
    """How an audit runs."""

    outdir: Path
    store_url: str | None = None
    bus: BusConfig | None = None  # None: the manifest's bench section decides
    bench: bool = True
    fail_on: frozenset[str] = frozenset({"mismatch"})
    sbom_formats: tuple[SbomFormat, ...] = (SbomFormat.CYCLONEDX_JSON, SbomFormat.SPDX_JSON)
    timestamp: datetime | None = None
    bench_timeout: float = 1.0  # P2 (s) of the bench check
    limits: Limits = DEFAULT_LIMITS


@dataclass(frozen=True)
class FirmwareAudit:
    """One firmware of one ECU: its scan, SBOMs written and reconciliation."""

    ecu_id: str
    path: str
    role: str
    version: str | None
    result: ScanResult | None
    error: str | None = None
    sbom_files: tuple[str, ...] = ()
    declared_sbom: str | None = None
    reconciliation: Reconciliation | None = None
    previous: str | None = None
    release_diff: Any = None  # ecuscan.diff.ReleaseDiff against ``previous``


@dataclass
class AuditRun:
    """Everything an audit learnt; rendered by :func:`ecuscan.report.document.audit_document`."""

    manifest: Manifest
    manifest_path: str
    generated: datetime
    firmware: list[FirmwareAudit] = field(default_factory=list)
    graph: SupplyGraph | None = None
    findings: list[Any] = field(default_factory=list)  # ecuscan.vulns.records.Finding
    impact: Any = None  # ecuscan.vulns.impact.ImpactReport
    n_vulnerabilities: int = 0
    bench: Any = None  # ecuscan.bench.records.BenchReport
    bench_mode: str = "not run"
    bench_log: str | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)  # vulnerability id -> Vulnerability of each finding
    summary: Any = None  # ecuscan.audit_summary.AuditSummary, computed at the end of run_audit

    def error(self, source: str, message: str) -> None:
        """Record a problem with one input; the audit goes on."""
        self.errors.append((source, message))

    def results(self) -> dict[str, ScanResult]:
        """Scan results by firmware path."""
        return {f.path: f.result for f in self.firmware if f.result is not None}


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80] or "x"


def _supplier_info(manifest: Manifest, ecu: Ecu) -> SupplierInfo | None:
    s = manifest.supplier(ecu.supplier)
    return SupplierInfo(name=s.name or s.id) if s else None


def _scan_stage(run: AuditRun, store: Store, options: AuditOptions, catalog: Catalog) -> None:
    scans = scan_firmware(run.manifest, store=store, catalog=catalog, limits=options.limits)
    for ecu in run.manifest.ecus:
        for ref in ecu.firmware:
            outcome = scans.results.get(ref.path)
            if outcome is None:
                reason = scans.failures.get(ref.path, "not scanned")
                run.error(ref.declared_path or ref.path, reason)
                run.firmware.append(FirmwareAudit(ecu.id, ref.path, ref.role, ref.version, None, reason,
                                                  declared_sbom=ref.sbom))
                continue
            run.firmware.append(FirmwareAudit(ecu.id, ref.path, ref.role, ref.version, outcome[0],
                                              declared_sbom=ref.sbom, previous=ref.previous))


def _sbom_stage(run: AuditRun, options: AuditOptions) -> None:
    outdir = options.outdir / "sbom"
    outdir.mkdir(parents=True, exist_ok=True)
    suffix = {SbomFormat.CYCLONEDX_JSON: ".cdx.json", SbomFormat.CYCLONEDX_XML: ".cdx.xml",
              SbomFormat.SPDX_JSON: ".spdx.json", SbomFormat.SPDX_TV: ".spdx"}
    for i, fw in enumerate(run.firmware):
        if fw.result is None:
            continue
        ecu = run.manifest.ecu(fw.ecu_id)
        supplier = _supplier_info(run.manifest, ecu) if ecu else None
        written = []
        for fmt in options.sbom_formats:
            name = f"{_slug(fw.ecu_id)}__{_slug(Path(fw.path).name)}{suffix[fmt]}"
            try:
                text = write_sbom([fw.result], fmt, supplier=supplier, timestamp=options.timestamp)
            except EcuscanError as exc:
                run.error(fw.path, f"SBOM ({fmt.value}) not written: {exc}")
                continue
            (outdir / name).write_text(text, "utf-8")
            written.append(f"sbom/{name}")
        run.firmware[i] = dataclasses.replace(fw, sbom_files=tuple(written))


def _drift_stage(run: AuditRun, store: Store, options: AuditOptions, catalog: Catalog) -> None:
    """Release diff of each firmware against its ``previous`` release (the SolarWinds-class check)."""
    from .diff import diff_results

    scanner = Scanner(store, catalog=catalog, options=ScanOptions(limits=options.limits))
    for i, fw in enumerate(run.firmware):
        if fw.previous is None or fw.result is None:
            continue
        outcome = scanner.scan_file(fw.previous)
        if isinstance(outcome, ScanFailure) or not outcome:
            reason = outcome.reason if isinstance(outcome, ScanFailure) else "nothing scanned"
            run.error(fw.previous, f"previous release not scanned: {reason}")
            continue
        run.firmware[i] = dataclasses.replace(fw, release_diff=diff_results(outcome[0], fw.result, catalog))


def _reconcile_stage(run: AuditRun, options: AuditOptions, catalog: Catalog) -> dict[str, DeclaredSbom]:
    declared: dict[str, DeclaredSbom] = {}
    for i, fw in enumerate(run.firmware):
        if fw.declared_sbom is None:
            continue
        try:
            sbom = load_sbom(fw.declared_sbom, limits=options.limits)
        except EcuscanError as exc:
            run.error(fw.declared_sbom, f"supplier SBOM not imported: {exc}")
            continue
        declared[fw.path] = sbom
        if fw.result is not None:
            run.firmware[i] = dataclasses.replace(fw, reconciliation=reconcile(fw.result, sbom, catalog))
    return declared


def _vulns_stage(run: AuditRun, store: Store, catalog: Catalog, options: AuditOptions) -> None:
    from .vulns.distro import DistroIndex
    from .vulns.feeds import import_feeds
    from .vulns.impact import aggregate_impact, topology_from_manifest
    from .vulns.match import build_index, iter_matches, load_vulnerabilities
    from .vulns.vex import apply_vex, load_vex

    manifest = run.manifest
    if manifest.feeds:
        report = import_feeds(store, list(manifest.feeds), options.limits)
        for problem in getattr(report, "errors", ()):
            run.error("feeds", str(problem))
    vulns = load_vulnerabilities(store)
    run.n_vulnerabilities = len(vulns)
    index = build_index(vulns, catalog)
    distro = DistroIndex(vulns)  # distribution advisories judge installed packages first
    findings: list[Any] = []
    for path, result in run.results().items():
        findings.extend(iter_matches(result.contained(), index, catalog, firmware_sha256=result.sha256,
                                     firmware_path=path, distro=distro))
    statements = []
    for vex_path in manifest.vex:
        try:
            statements.extend(load_vex(vex_path, options.limits))
        except EcuscanError as exc:
            run.error(vex_path, f"VEX not applied: {exc}")
    topo = topology_from_manifest(manifest)
    run.findings = apply_vex(findings, statements, topo.ecus_of)
    run.impact = aggregate_impact(run.findings, topo)
    run.records = {v.id: v for v in vulns if v.id in {f.vuln_id for f in run.findings}}


def _bench_stage(run: AuditRun, options: AuditOptions) -> None:
    import can

    from .bench.buslog import log_writer, open_bus
    from .bench.records import BenchOptions
    from .bench.simulator import Simulator
    from .bench.targets import image_expectations, manifest_simulator_spec, targets_from_manifest
    from .bench.verify import verify, with_expectations

    manifest = run.manifest
    targets = targets_from_manifest(manifest)
    if not targets:
        run.bench_mode = "no ECU has a bench section"
        return
    # Expected identification: the manifest's bench.expect, plus what the analysed image says.
    image_ids = image_expectations(manifest, run.results())
    targets = [with_expectations(t, image_ids.get(t.ecu_id, {})) for t in targets]
    bus_cfg = options.bus or BusConfig()
    simulate = bus_cfg.simulate or (not bus_cfg.given and manifest.bench.simulate)
    bench_options = BenchOptions(p2=options.bench_timeout, p2_star=max(options.bench_timeout * 5, 2.0),
                                 request_timeout=max(options.bench_timeout * 20, 10.0))
    log_path = options.outdir / "bus.log"
    writer = log_writer(log_path)
    try:
        if simulate:
            channel = f"ecuscan-audit-{uuid.uuid4().hex[:8]}"
            run.bench_mode = "built-in ECU simulator on a python-can virtual bus"
            specs = []
            for t in targets:
                ecu = manifest.ecu(t.ecu_id)
                # The simulated ECU answers with what its analysed image carries (the deployed
                # release), unless the manifest's bench.simulate section injects drift or faults.
                specs.append(manifest_simulator_spec(t, ecu.bench if ecu else None, image_ids.get(t.ecu_id, {})))
            with can.Bus(interface="virtual", channel=channel) as bus, \
                    can.Bus(interface="virtual", channel=channel) as sim_bus, Simulator(specs, sim_bus):
                run.bench = verify(targets, bus, options=bench_options, listeners=[writer])
        else:
            cfg = bus_cfg if bus_cfg.given else BusConfig(interface=manifest.bench.interface,
                                                           channel=manifest.bench.channel,
                                                           bitrate=manifest.bench.bitrate)
            run.bench_mode = (f"CAN interface {cfg.interface or '(python-can configuration)'}"
                              f" channel {cfg.channel if cfg.channel is not None else '(default)'}")
            with open_bus(cfg.interface, cfg.channel, cfg.bitrate, cfg.fd, cfg.data_bitrate, cfg.extra) as bus:
                run.bench = verify(targets, bus, options=bench_options, listeners=[writer])
    finally:
        writer.stop()
    run.bench_log = "bus.log"
    for note in run.bench.notes if run.bench is not None else ():
        run.error("bus.log", note)


def run_audit(manifest_path: str | os.PathLike[str], options: AuditOptions,
              observer: AuditObserver | None = None) -> AuditRun:
    """Run every stage on ``manifest_path`` and write SBOMs and the bus log into ``options.outdir``.

    Reports (JSON, HTML, SARIF) are written by :func:`ecuscan.report.write_reports`.
    """
    def stage(name: str, detail: str = "") -> None:
        if observer:
            observer.stage(name, detail)

    manifest = load_manifest(manifest_path, limits=options.limits, check_files=False)
    options.outdir.mkdir(parents=True, exist_ok=True)
    catalog = load_catalog()
    run = AuditRun(manifest=manifest, manifest_path=str(manifest_path),
                   generated=options.timestamp or datetime.now(UTC))
    for w in manifest.warnings:
        run.error(str(manifest_path), w)
    with Store.open(options.store_url) as store:
        stage("scan", f"{sum(len(e.firmware) for e in manifest.ecus)} firmware images")
        _scan_stage(run, store, options, catalog)
        stage("sbom")
        _sbom_stage(run, options)
        stage("reconcile")
        declared = _reconcile_stage(run, options, catalog)
        stage("drift")
        _drift_stage(run, store, options, catalog)
        stage("graph")
        run.graph = build_graph(manifest, run.results(), declared, catalog)
        stage("vulns")
        try:
            _vulns_stage(run, store, catalog, options)
        except EcuscanError as exc:
            run.error("vulnerabilities", str(exc))
    if options.bench:
        stage("bench")
        try:
            _bench_stage(run, options)
        except EcuscanError as exc:
            run.bench_mode = "failed"
            run.error("bench", str(exc))
    from .audit_summary import summarize

    run.summary = summarize(run)
    return run


def policy_failures(run: AuditRun, fail_on: Sequence[str]) -> list[str]:
    """Reasons the run fails the ``fail_on`` policy (empty: it passes)."""
    from .vulns.records import Severity

    reasons: list[str] = []
    if run.bench is not None:
        from .bench.records import Verdict

        drifted = sorted({c.ecu_id for c in run.bench.checks if c.verdict.failed})
        silent = sorted({c.ecu_id for c in run.bench.checks if c.verdict is Verdict.UNREACHABLE})
        if "mismatch" in fail_on and drifted:
            reasons.append(f"bench: {len(drifted)} ECU(s) answer differently from the analysed release: "
                           + ", ".join(drifted))
        if "unreachable" in fail_on and silent:
            reasons.append(f"bench: {len(silent)} ECU(s) did not answer: " + ", ".join(silent))
    if "undeclared" in fail_on:
        for fw in run.firmware:
            if fw.reconciliation is not None and fw.reconciliation.undeclared:
                names = ", ".join(sorted(i.name for i in fw.reconciliation.undeclared))
                reasons.append(f"SBOM: {fw.ecu_id} {Path(fw.path).name} contains undeclared {names}")
    levels = [s for s in ("critical", "high", "medium", "low") if s in fail_on]
    if levels:
        bar = min((Severity(s) for s in levels), key=lambda s: s.rank())
        hits = sorted({f.vuln_id for f in run.findings if f.exposed and f.severity is not None
                       and f.severity.rank() >= bar.rank()})
        if hits:
            reasons.append(f"vulnerabilities at or above {bar.value}: " + ", ".join(hits))
    if "drift" in fail_on:
        for fw in run.firmware:
            bad = [d for d in (fw.release_diff.indicators if fw.release_diff else ())
                   if d.severity.value in ("warning", "error")]
            if bad:
                reasons.append(f"drift: {fw.ecu_id} {Path(fw.path).name} since {Path(fw.previous or '').name}: "
                               + "; ".join(d.message for d in bad[:3]))
    if "scan-error" in fail_on and any(fw.error for fw in run.firmware):
        reasons.append("some firmware could not be scanned")
    return reasons
