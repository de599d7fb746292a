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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from .audit_run import AuditRun, FirmwareAudit
from .audit_summary import summarize
from .bench.busconfig import BusConfig
from .catalog import Catalog, load_catalog
from .diff import diff_results
from .errors import EcuscanError, IncompleteError
from .graph.build import build_graph
from .graph.inputs import scan_firmware
from .graph.queries import undeclared_sources
from .limits import DEFAULT_LIMITS, Limits
from .manifest import Ecu, Manifest, load_manifest
from .model import ScanFailure
from .sbom import DeclaredSbom, Reconciliation, SbomFormat, SupplierInfo, load_sbom, reconcile, write_sbom
from .scan.options import ScanOptions
from .scan.pipeline import Scanner
from .store import Store
from .vulns.records import Severity

#: Policy names accepted by ``--fail-on``. ``incomplete`` is always in force (exit code 3) unless the
#: run is accepted with ``--allow-incomplete``; naming it changes nothing and documents the intent.
FAIL_ON_CHOICES = ("mismatch", "unreachable", "missing", "undeclared", "undeclared-source", "drift", "critical",
                   "high", "medium", "low", "scan-error", "incomplete")

__all__ = ["FAIL_ON_CHOICES", "AuditObserver", "AuditOptions", "AuditRun", "BusConfig", "FirmwareAudit",
           "policy_failures", "run_audit"]


class AuditObserver(Protocol):
    """Progress callbacks (the CLI drives a status display with them)."""

    def stage(self, name: str, detail: str = "") -> None:
        """A stage starts (``scan``, ``sbom``, ``reconcile``, ``graph``, ``vulns``, ``bench``, ``report``)."""


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
                run.could_not_check("scan", ref.declared_path or ref.path, reason)
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
    # the same image delivered by the same supplier gives the same SBOM: written once, shared by its ECUs
    done: dict[tuple[str, str], tuple[str, ...]] = {}
    for i, fw in enumerate(run.firmware):
        if fw.result is None:
            continue
        ecu = run.manifest.ecu(fw.ecu_id)
        key = (fw.result.sha256, ecu.supplier if ecu else "")
        if key not in done:
            done[key] = _write_sboms(run, fw, ecu, outdir, suffix, options)
        run.firmware[i] = dataclasses.replace(fw, sbom_files=done[key])


def _write_sboms(run: AuditRun, fw: FirmwareAudit, ecu: Ecu | None, outdir: Path, suffix: dict[SbomFormat, str],
                 options: AuditOptions) -> tuple[str, ...]:
    supplier = _supplier_info(run.manifest, ecu) if ecu else None
    written = []
    assert fw.result is not None
    for fmt in options.sbom_formats:
        name = f"{_slug(fw.ecu_id)}__{_slug(Path(fw.path).name)}{suffix[fmt]}"
        try:
            text = write_sbom([fw.result], fmt, supplier=supplier, timestamp=options.timestamp)
        except EcuscanError as exc:
            run.could_not_check("sbom", fw.path, f"SBOM ({fmt.value}) not written: {exc}")
            continue
        (outdir / name).write_text(text, "utf-8")
        written.append(f"sbom/{name}")
    return tuple(written)


def _drift_stage(run: AuditRun, store: Store, options: AuditOptions, catalog: Catalog) -> None:
    """Release diff of each firmware against its ``previous`` release (the SolarWinds-class check)."""
    scanner = Scanner(store, catalog=catalog, options=ScanOptions(limits=options.limits))
    previous: dict[str, Any] = {}
    for i, fw in enumerate(run.firmware):
        if fw.previous is None or fw.result is None:
            continue
        if fw.previous not in previous:  # one scan per previous release, however many ECUs share it
            previous[fw.previous] = scanner.scan_file(fw.previous)
        outcome = previous[fw.previous]
        if isinstance(outcome, ScanFailure) or not outcome:
            reason = outcome.reason if isinstance(outcome, ScanFailure) else "nothing scanned"
            run.could_not_check("drift", fw.previous, f"previous release not scanned: {reason}")
            continue
        run.firmware[i] = dataclasses.replace(fw, release_diff=diff_results(outcome[0], fw.result, catalog))


def _reconcile_stage(run: AuditRun, options: AuditOptions, catalog: Catalog) -> dict[str, DeclaredSbom]:
    declared: dict[str, DeclaredSbom] = {}
    loaded: dict[str, DeclaredSbom | None] = {}
    reconciled: dict[tuple[str, str], Reconciliation] = {}
    for i, fw in enumerate(run.firmware):
        if fw.declared_sbom is None:
            continue
        if fw.declared_sbom not in loaded:
            try:
                loaded[fw.declared_sbom] = load_sbom(fw.declared_sbom, limits=options.limits)
            except EcuscanError as exc:
                loaded[fw.declared_sbom] = None
                run.could_not_check("reconcile", fw.declared_sbom, f"supplier SBOM not imported: {exc}")
        sbom = loaded[fw.declared_sbom]
        if sbom is None:
            continue
        declared[fw.path] = sbom
        if fw.result is not None:
            key = (fw.result.sha256, fw.declared_sbom)
            if key not in reconciled:
                reconciled[key] = reconcile(fw.result, sbom, catalog)
            run.firmware[i] = dataclasses.replace(fw, reconciliation=reconciled[key])
    return declared


def _vulns_stage(run: AuditRun, store: Store, catalog: Catalog, options: AuditOptions) -> None:
    # imported when this stage runs: an audit without it does not load them (--no-bench: no python-can)
    from .vulns.distro import DistroIndex
    from .vulns.feeds import import_feeds
    from .vulns.impact import aggregate_impact, topology_from_manifest
    from .vulns.match import build_index, iter_matches, load_vulnerabilities
    from .vulns.vex import apply_vex, load_vex

    manifest = run.manifest
    if manifest.feeds:
        report = import_feeds(store, list(manifest.feeds), options.limits)
        for problem in report.errors:
            run.could_not_check("vulns", problem.file, f"feed not fully imported: {problem}")
    vulns = load_vulnerabilities(store)
    run.n_vulnerabilities = len(vulns)
    gated = sorted(set(options.fail_on) & {"critical", "high", "medium", "low"})
    if not vulns and gated:  # matching against an empty database finds nothing: that is not a pass
        run.could_not_check("vulns", "vulnerability database", f"no vulnerability records to match (--fail-on "
                            f"{','.join(gated)}): add feeds: to the manifest or run ecuscan vulns import first")
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
            run.could_not_check("vulns", vex_path, f"VEX not applied: {exc}")
    topo = topology_from_manifest(manifest)
    run.findings = apply_vex(findings, statements, topo.ecus_of)
    run.impact = aggregate_impact(run.findings, topo)
    run.records = {v.id: v for v in vulns if v.id in {f.vuln_id for f in run.findings}}


def _bench_stage(run: AuditRun, options: AuditOptions) -> None:
    # imported when this stage runs: an audit without it does not load them (--no-bench: no python-can)
    from .bench.records import BenchOptions
    from .bench.runner import choose_bus, run_bench
    from .bench.targets import manifest_bench

    manifest = run.manifest
    # the same targets verify builds: bench.expect + the analysed image's identification (+ bench.cvn)
    targets, specs = manifest_bench(manifest, run.results())
    if not targets:
        run.bench_mode = "no ECU has a bench section"
        return
    bus = choose_bus(options.bus, manifest.bench)
    run.bench_mode = bus.describe()
    (options.outdir / "bus.log").unlink(missing_ok=True)  # a log left by an earlier run is not this run's
    bench_options = BenchOptions(p2=options.bench_timeout, p2_star=max(options.bench_timeout * 5, 2.0),
                                 request_timeout=max(options.bench_timeout * 20, 10.0))
    try:
        run.bench = run_bench(targets, specs, bus, bench_options, log_path=options.outdir / "bus.log")
    except IncompleteError as exc:
        run.bench_mode = f"not run: {bus.describe()} could not be opened"
        run.could_not_check("bench", bus.describe(), f"{exc} (no ECU was checked; check the adapter, or run "
                            "with --simulate for the built-in simulator, or --no-bench to skip the bench)")
        return
    run.bench_log = "bus.log"
    for note in run.bench.notes:
        run.error("bus.log", note)
    run.ecu_verdicts = run.bench.ecu_verdicts()
    for ecu_id, verdict in run.ecu_verdicts.items():
        if not verdict.complete:
            silent = sum(1 for c in run.bench.for_ecu(ecu_id) if c.verdict.value == "UNREACHABLE")
            run.could_not_check("bench", f"ecu {ecu_id}", f"{verdict.value}: {silent} expected item(s) unanswered"
                                if silent else f"{verdict.value}: nothing to compare (no expectation)")


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
        stage("supply chain")
        _attribution_stage(run)
        stage("vulns")
        try:
            _vulns_stage(run, store, catalog, options)
        except EcuscanError as exc:
            run.could_not_check("vulns", "vulnerabilities", str(exc))
    if options.bench:
        stage("bench")
        try:
            _bench_stage(run, options)
        except EcuscanError as exc:
            run.bench_mode = "failed"
            run.could_not_check("bench", "bench", str(exc))
    run.summary = summarize(run)
    return run


def _attribution_stage(run: AuditRun) -> None:
    if run.graph is not None:
        run.undeclared_sources = undeclared_sources(run.graph)


def policy_failures(run: AuditRun, fail_on: Sequence[str]) -> list[str]:
    """Reasons the run fails the ``fail_on`` policy (empty: it passes)."""
    reasons: list[str] = []
    verdicts = {e: v.value for e, v in run.ecu_verdicts.items()}
    drifted = sorted(e for e, v in verdicts.items() if v == "DRIFTED")
    silent = sorted(e for e, v in verdicts.items() if v in ("UNREACHABLE", "PARTIAL"))
    refused = sorted(e for e, v in verdicts.items() if v == "MISSING")
    if "mismatch" in fail_on and drifted:
        reasons.append(f"bench: {len(drifted)} ECU(s) answer differently from the analysed release: "
                       + ", ".join(drifted))
    if "unreachable" in fail_on and silent:
        reasons.append(f"bench: {len(silent)} ECU(s) did not answer every expected item: " + ", ".join(silent))
    if "missing" in fail_on and refused:
        reasons.append(f"bench: {len(refused)} ECU(s) refused an expected item: " + ", ".join(refused))
    if "undeclared-source" in fail_on and run.undeclared_sources:
        shown = ", ".join(sorted({f"{u.ecu}:{u.component}" for u in run.undeclared_sources})[:10])
        reasons.append(f"supply chain: {len(run.undeclared_sources)} component(s) with no provider in their ECU's "
                       f"sourcing chain: {shown}")
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
