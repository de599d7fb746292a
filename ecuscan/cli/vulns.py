"""``ecuscan vulns``: offline feeds in, matching with impact, VEX conversion."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..catalog import load_catalog
from ..jsontext import dumps_indented
from ..model import ScanResult
from ..store import Store
from ..vulns.distro import DistroIndex
from ..vulns.feeds import import_feeds
from ..vulns.impact import Topology, aggregate_impact, topology_from_manifest
from ..vulns.match import load_vulnerabilities_checked, match_scan_results
from ..vulns.records import Finding, FindingStatus, Severity, VexStatement
from ..vulns.sarif import to_sarif
from ..vulns.vex import apply_vex, load_vex, to_cyclonedx, to_openvex
from .common import EXIT_FINDINGS, EXIT_USAGE, err, handle_errors, json_option, out, print_json, safe, store_option

#: exit code of an incomplete run (something asked for could not be checked), the project-wide contract
EXIT_INCOMPLETE = 3
_FAIL = {"critical": Severity.CRITICAL, "high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW}


@click.group("vulns")
def command() -> None:
    """Offline vulnerability feeds, matching, impact through the supply chain, VEX."""


@command.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--allow-incomplete", is_flag=True,
              help="Exit 0 even when a document or record could not be imported (they are still listed).")
@store_option
@json_option
@handle_errors
def import_cmd(paths: tuple[Path, ...], allow_incomplete: bool, store_url: str | None, as_json: bool) -> None:
    """Import CVE JSON 5, NVD API 2.0 or OSV records (files, directories, zips) into the store.

    OSV records of distribution ecosystems (Debian:13, Ubuntu:22.04:LTS, Alpine:v3.20, Red Hat,
    openSUSE ...) are distribution advisories: matching judges installed packages by them first.
    Exit code: 0 all imported; 2 nothing readable was given; 3 incomplete (a document or record
    failed), unless --allow-incomplete. Records whose version statements cannot be evaluated
    are imported and listed as feed problems (matching reports them as unknown ranges).
    """
    with Store.open(store_url) as store:
        report = import_feeds(store, list(paths))
    if as_json:
        print_json({**report.to_dict(), "complete": report.failed == 0})
    else:
        out.print(f"{report.files} document(s): {report.added} added, {report.updated} updated, "
                  f"{report.unchanged} unchanged, {report.older} older (kept newer), {report.failed} failed"
                  + (f"; {report.distribution_advisories} distribution advisories"
                     if report.distribution_advisories else ""))
        for e in report.errors:
            err.print(f"[yellow]skipped:[/] {safe(e, 500)}")
        for e in report.problems:
            err.print(f"[yellow]feed problem:[/] {safe(e, 500)}")
        if report.failed:
            err.print(f"[red]INCOMPLETE:[/] {report.failed} document(s)/record(s) could not be imported")
    if report.failed and not any(p.exists() for p in paths):
        sys.exit(EXIT_USAGE)
    if report.failed and not allow_incomplete:
        sys.exit(EXIT_INCOMPLETE)


def _scan_manifest(manifest_path: Path, store: Store) -> tuple[list[ScanResult], Topology, list[str]]:
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..graph.inputs import scan_firmware
    from ..manifest import load_manifest

    manifest = load_manifest(manifest_path)
    scans = scan_firmware(manifest, store=store)
    results = [r for outcome in scans.results.values() for r in outcome]
    vex_files = [str((manifest_path.parent / v) if not Path(v).is_absolute() else v) for v in manifest.vex]
    return results, topology_from_manifest(manifest), [*scans.problems(), *(f"vex:{v}" for v in vex_files)]


def _fails(findings: list[Finding], threshold: str) -> bool:
    if threshold == "none":
        return False
    bar = _FAIL[threshold]
    for f in findings:
        if not f.exposed:
            continue
        if f.severity is None:
            if bar is Severity.LOW:
                return True
        elif f.severity.rank() >= bar.rank():
            return True
    return False


@command.command("match")
@click.argument("manifest", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vex", "vex_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CycloneDX VEX or OpenVEX triage to apply (repeatable).")
@click.option("--sarif", "sarif_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the findings as SARIF 2.1.0 to this file.")
@click.option("--fail-on", type=click.Choice(["critical", "high", "medium", "low", "none"]), default="none",
              show_default=True, help="Exit 1 when an exposed finding has at least this severity.")
@click.option("--all", "show_all", is_flag=True, help="Also list not-affected and suppressed findings.")
@click.option("--distro", "default_distro", metavar="FAMILY-RELEASE",
              help="Release of installed packages whose image does not say (e.g. debian-13 for loose .debs).")
@click.option("--scan", "scan_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Scan these files or trees now (the store caches the bytes' analysis) and match them, "
                   "with the package databases of their trees (repeatable; instead of every stored result).")
@click.option("--package-metadata/--no-package-metadata", default=True, show_default=True,
              help="With --scan: use package databases (off: every binary judged by upstream ranges alone).")
@click.option("--allow-incomplete", is_flag=True, help="Do not exit 3 when an input could not be scanned.")
@store_option
@json_option
@handle_errors
def match_cmd(manifest: Path | None, vex_files: tuple[Path, ...], sarif_file: Path | None, fail_on: str,
              show_all: bool, default_distro: str | None, scan_paths: tuple[Path, ...], package_metadata: bool,
              allow_incomplete: bool, store_url: str | None, as_json: bool) -> None:
    """Match components against the imported feeds; impact per firmware, ECU, vehicle and supplier.

    With MANIFEST, its firmware is scanned (cached in the store) and findings are placed
    in the supply chain; without it, every scan result in the store is matched.

    Each finding names the rule that decided it: the upstream range of a record, a
    distribution advisory for the installed package (imported OSV records of its release),
    a Yocto cve-check/SPDX patch statement (given with --vex), or a VEX statement.
    """
    catalog = load_catalog()
    problems: list[str] = []
    with Store.open(store_url) as store:
        vulns, feed_problems = load_vulnerabilities_checked(store)
        if manifest is not None:
            results, topo, extra = _scan_manifest(manifest, store)
            problems = [p for p in extra if not p.startswith("vex:")]
            vex_files = (*vex_files, *(Path(p[4:]) for p in extra if p.startswith("vex:")))
        elif scan_paths:
            results, problems = _scan_now(scan_paths, store, package_metadata)
            topo = Topology()
        else:
            # stored results hold the analysis of the bytes alone: the package databases of a
            # scanned tree are applied when it is scanned (use --scan or a manifest for them)
            results, topo = list(store.results()), Topology()
    if not vulns:
        err.print("[yellow]warning:[/] no vulnerability records in the store (run 'ecuscan vulns import')")
    distro = DistroIndex(vulns)
    findings = match_scan_results(results, vulns, catalog, default_distro=default_distro, distro=distro)
    statements: list[VexStatement] = []
    unresolved: list[str] = []
    for v in vex_files:
        statements.extend(load_vex(v, catalog=catalog, unresolved=unresolved))
    # recipes the catalog does not track: no finding can be about them (a note, not incompleteness)
    notes = ["Yocto recipes not in the catalog (their statements not applied): "
             + ", ".join(sorted(set(unresolved))[:50])] if unresolved else []
    findings = apply_vex(findings, statements, topo.ecus_of)
    impact = aggregate_impact(findings, topo)
    shown = [f for f in findings if show_all or f.exposed or f.suppressed_by is not None
             or f.status is FindingStatus.AFFECTED]
    if sarif_file is not None:
        sarif_file.write_text(dumps_indented(to_sarif(findings), sort_keys=False), "utf-8")
    if as_json:
        print_json({"schema": "ecuscan/vulns-match/v1", "vulnerabilities": len(vulns), "images": len(results),
                    "distribution_advisories": len(distro),
                    "findings": [f.to_dict() for f in shown], "impact": impact.to_dict(),
                    "problems": problems, "feed_problems": feed_problems, "notes": notes,
                    "decided_by_rule": _rule_counts(findings)})
    else:
        _print_tables(shown, impact, topo, len(vulns), len(results))
        counts = _rule_counts(findings)
        if counts:
            out.print("decided by: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        for p in problems:
            err.print(f"[yellow]not scanned:[/] {safe(p, 500)}")
        for p in feed_problems[:50]:
            err.print(f"[yellow]feed problem:[/] {safe(p, 500)}")
        for n in notes:
            err.print(f"note: {safe(n, 500)}")
    if _fails(findings, fail_on):
        sys.exit(EXIT_FINDINGS)
    if problems and not allow_incomplete:
        sys.exit(EXIT_INCOMPLETE)


def _scan_now(paths: tuple[Path, ...], store: Store, package_metadata: bool) -> tuple[list[ScanResult], list[str]]:
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..model import ScanFailure
    from ..scan.options import ScanOptions
    from ..scan.pipeline import Scanner

    scanner = Scanner(store, options=ScanOptions(package_metadata=package_metadata))
    results: list[ScanResult] = []
    problems: list[str] = []
    for outcome in scanner.scan_paths(paths):
        if isinstance(outcome, ScanFailure):
            problems.append(f"{outcome.path}: {outcome.reason}")
        else:
            results.append(outcome)
    return results, problems


def _rule_counts(findings: list[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        key = f"{f.rule}:{'exposed' if f.exposed else f.status.value}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _print_tables(findings: list[Finding], impact: object, topo: Topology, n_vulns: int, n_images: int) -> None:
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..vulns.impact import ImpactReport
    assert isinstance(impact, ImpactReport)
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..report.terminal import Col, print_table

    order = {s: i for i, s in enumerate(reversed(list(Severity)))}
    rows = []
    for f in sorted(findings, key=lambda f: (not f.exposed, order.get(f.severity, 9) if f.severity else 9,
                                             f.vuln_id)):
        tri = f.suppressed_by or f.triage
        rows.append([safe(f.vuln_id), f.severity.value if f.severity else "?", f.status.value
                     + (" \\[kev]" if f.kev else ""), safe(f.component_purl, 300), safe(f.firmware_path or "—", 300),
                     safe("; ".join(f"{m.range} ({m.key})" for m in f.matched_by) or "—", 400),
                     safe(f"{f.rule}: {f.decision}" if f.decision else f.rule, 400),
                     safe(f"{'suppressed: ' if f.suppressed_by else ''}{tri.status.value} "
                          f"{tri.justification or ''}", 300) if tri else ""])
    print_table(out, [Col("vulnerability", key=True), Col("severity"), Col("status"), Col("component", key=True),
                      Col("firmware", key=True), Col("matched by"), Col("decided by"), Col("triage")], rows,
                title=f"{len(findings)} finding(s) ({n_vulns} records, {n_images} images)")
    if impact.by_ecu or impact.by_vehicle or impact.by_supplier:
        rows2 = []
        for v, ecus in sorted(impact.vehicle_ecus.items()):
            rows2.append(["vehicle", safe(v), str(len(impact.by_vehicle.get(v, ()))), "ECUs: " + safe(", ".join(ecus))])
        for e, keys in sorted(impact.by_ecu.items()):
            rows2.append(["ecu", safe(e), str(len(keys)), safe(topo.ecu_supplier.get(e, ""))])
        for s, keys in sorted(impact.by_supplier.items()):
            rows2.append(["supplier", safe(s), str(len(keys)), ""])
        print_table(out, [Col("scope"), Col("id", key=True), Col("exposed findings", justify="right"), Col("detail")],
                    rows2, title="impact")


@command.command("vex")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "fmt", type=click.Choice(["openvex", "cyclonedx"]), required=True,
              help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default stdout).")
@handle_errors
def vex_cmd(inputs: tuple[Path, ...], fmt: str, output: Path | None) -> None:
    """Convert triage statements between CycloneDX VEX and OpenVEX."""
    statements: list[VexStatement] = []
    for p in inputs:
        statements.extend(load_vex(p))
    doc = to_openvex(statements) if fmt == "openvex" else to_cyclonedx(statements)
    if output:
        output.write_text(dumps_indented(doc, sort_keys=False), "utf-8")
    else:
        print_json(doc)
