"""What an audit learnt, as records: :class:`AuditRun` and its :class:`FirmwareAudit` entries.

:func:`ecuscan.audit.run_audit` fills them stage by stage; :mod:`ecuscan.audit_summary` computes
the conclusions from them and :mod:`ecuscan.report` renders them. They live in their own module
so that the summary (which the orchestrator calls) and the reports import the records without
importing the orchestrator: no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .graph.build import SupplyGraph
from .manifest import Manifest
from .model import Incomplete, ScanResult
from .sbom import Reconciliation

__all__ = ["AuditRun", "FirmwareAudit"]


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
    #: What could not be checked: the run is INCOMPLETE (never passed) while this is not empty.
    incomplete: list[Incomplete] = field(default_factory=list)
    #: Per ECU with a bench section that was run: its verdict (ecuscan.bench.records.EcuVerdict).
    ecu_verdicts: dict[str, Any] = field(default_factory=dict)
    #: Components in an ECU's firmware that no supplier of that ECU's sourcing chain provides
    #: (ecuscan.graph.queries.UndeclaredSource), the ``undeclared-source`` findings.
    undeclared_sources: list[Any] = field(default_factory=list)

    def error(self, source: str, message: str) -> None:
        """Record a problem with one input; the audit goes on."""
        self.errors.append((source, message))

    def could_not_check(self, stage: str, source: str, reason: str) -> None:
        """Record that ``stage`` could not check ``source`` (an error too): the run is INCOMPLETE."""
        self.incomplete.append(Incomplete(stage, source, reason))
        self.error(source, reason)

    def results(self) -> dict[str, ScanResult]:
        """Scan results by firmware path."""
        return {f.path: f.result for f in self.firmware if f.result is not None}
