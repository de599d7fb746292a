"""``ecuscan audit MANIFEST``: the whole job, with reports written to OUTDIR."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..audit import FAIL_ON_CHOICES, AuditOptions, BusConfig, run_audit
from ..report.document import write_reports
from ..report.terminal import StageLog, output_paths, print_findings
from .busopts import bus_options, parse_bus_kwargs
from .common import (
    allow_incomplete_option,
    err,
    exit_code,
    handle_errors,
    incomplete_banner,
    json_option,
    out,
    print_json,
    safe,
    store_option,
)


def _ecu_table(doc: dict[str, Any]) -> None:
    rows = [(e["id"], (e.get("bench") or {}).get("verdict")) for e in doc["ecus"]]
    if not any(v for _, v in rows):
        return
    style = {"VERIFIED": "green", "DRIFTED": "bold red", "MISSING": "yellow", "PARTIAL": "magenta",
             "UNREACHABLE": "magenta"}
    table = Table("ECU", "bench verdict", title="bench", title_justify="left", show_edge=False, box=None)
    for ecu, verdict in rows:
        table.add_row(safe(ecu, 60), f"[{style.get(verdict or '', 'dim')}]{verdict or 'not checked'}[/]")
    out.print(table)


def _summary(doc: dict[str, Any], allow_incomplete: bool) -> None:
    incomplete_banner(doc.get("incomplete", []), allow_incomplete, console=out)
    _ecu_table(doc)
    for v in doc["vehicles"]:
        s = v["summary"]
        table = Table(title=f"{safe(v['name'])} ({safe(v['id'])})", show_header=False, title_justify="left")
        table.add_column(style="dim")
        table.add_column()
        vuln = ", ".join(f"{k} {n}" for k, n in s["vulnerable_components"].items() if n) or "none"
        table.add_row("ECUs", str(s["ecus"]))
        table.add_row("bench", f"[green]{s['verified']} verified[/], "
                      f"{'[red]' if s['drifted'] else ''}{s['drifted']} drifted{'[/]' if s['drifted'] else ''}, "
                      f"{s.get('partial', 0)} partial, {s['unreachable']} unreachable, {s['missing']} missing DIDs, "
                      f"{s['not_checked']} not checked")
        table.add_row("components", str(s["components"]))
        table.add_row("undeclared", f"{'[red]' if s['undeclared'] else ''}{s['undeclared']}"
                      f"{'[/]' if s['undeclared'] else ''}")
        table.add_row("vulnerable components", safe(vuln))
        table.add_row("exposed ECUs", safe(", ".join(s["exposed_ecus"]) or "none"))
        table.add_row("top suppliers by exposure",
                      safe(", ".join(f"{t['name']} ({t['findings']})" for t in s["top_suppliers"]) or "none"))
        out.print(table)
    sources = doc.get("undeclared_sources", [])
    if sources:
        shown = ", ".join(sorted({f"{u['ecu'].split(':', 1)[-1]}:{u['component'].split(':', 1)[-1]}"
                                  for u in sources})[:8])
        out.print(f"[yellow]undeclared sources[/] {len(sources)} (no supplier of the ECU's chain provides them): "
                  f"{safe(shown, 600)}")
    print_findings(out, doc)
    pol = doc["policy"]
    if pol["failed"]:
        out.print(f"[bold red]policy failed[/] (fail on: {', '.join(pol['fail_on'])})")
        for r in pol["reasons"]:
            out.print(f"  · {safe(r, 500)}")
    elif doc.get("incomplete"):
        out.print(f"[bold magenta]INCOMPLETE[/]: no finding failed the policy (fail on: "
                  f"{', '.join(pol['fail_on']) or 'nothing'}), but not everything could be checked (see above)")
    else:
        out.print(f"[bold green]policy passed[/] (fail on: {', '.join(pol['fail_on']) or 'nothing'})")
    for e in doc["errors"]:
        err.print(f"[yellow]problem:[/] {safe(e['source'], 200)}: {safe(e['message'], 500)}")


@click.command("audit")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), default=Path("ecuscan-report"),
              show_default=True, help="Where the reports, SBOMs and bus log go.")
@bus_options
@click.option("--simulate", is_flag=True, help="Bench against the built-in ECU simulator on a virtual bus.")
@click.option("--no-bench", is_flag=True, help="Skip the CAN bench check.")
@click.option("--fail-on", "fail_on", default="mismatch", show_default=True,
              help=f"Comma-separated findings that fail the run (exit 1): {', '.join(FAIL_ON_CHOICES)} (or 'none'). "
                   "An INCOMPLETE run (exit 3) is never a pass, whatever this lists; see --allow-incomplete.")
@click.option("--timestamp", default=None,
              help="Report/SBOM time (ISO 8601); default $SOURCE_DATE_EPOCH or now. Same input + time = same SBOMs.")
@click.option("--bench-timeout", type=float, default=1.0, show_default=True, help="P2 timeout of the bench check (s).")
@allow_incomplete_option
@store_option
@json_option
@handle_errors
def command(manifest: str, outdir: Path, bus_interface: str | None, bus_channel: str | None,
            bus_bitrate: int | None, bus_fd: bool, bus_data_bitrate: int | None, bus_kwargs: tuple[str, ...],
            simulate: bool, no_bench: bool, fail_on: str, timestamp: str | None, bench_timeout: float,
            allow_incomplete: bool, store_url: str | None, as_json: bool) -> None:
    """Scan, SBOMs, reconciliation, graph, vulnerabilities and bench check for MANIFEST.

    Writes report.html, report.json, report.sarif, sbom/* and bus.log to OUTDIR. Exit 1 when
    the --fail-on policy fails, 2 on usage or input errors, 3 when the run is INCOMPLETE
    (something could not be checked: bus not opened, firmware missing or unreadable, feed not
    imported, ECU silent) unless --allow-incomplete.
    """

    policy = frozenset() if fail_on.strip() == "none" else frozenset(p.strip() for p in fail_on.split(",") if p.strip())
    policy = policy - {"incomplete"}  # always in force; --allow-incomplete is the way to accept
    unknown = sorted(policy - set(FAIL_ON_CHOICES))
    if unknown:
        raise click.BadParameter(f"unknown policy {', '.join(unknown)}", param_hint="--fail-on")
    ts: datetime | None = None
    if timestamp:
        ts = _timestamp(timestamp)
    elif os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        ts = datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), UTC)
    bus = BusConfig(interface=bus_interface, channel=bus_channel, bitrate=bus_bitrate, fd=bus_fd,
                    data_bitrate=bus_data_bitrate, extra=parse_bus_kwargs(bus_kwargs), simulate=simulate)
    options = AuditOptions(outdir=outdir, store_url=store_url, bus=bus, bench=not no_bench, fail_on=policy,
                           timestamp=ts, bench_timeout=bench_timeout)
    with StageLog(err, quiet=as_json) as stages:
        run = run_audit(manifest, options, None if as_json else stages)
        if not as_json:
            stages.stage("report")
        doc = write_reports(run, outdir, sorted(policy))
        stages.finish(f"done, {len(run.errors)} problem(s)" if run.errors else "done")
    if as_json:
        print_json(doc)
    else:
        _summary(doc, allow_incomplete)
        err.print(output_paths(outdir, doc["outputs"]), soft_wrap=True)
    sys.exit(exit_code(doc["policy"]["failed"], doc.get("incomplete", []), allow_incomplete))


def _timestamp(text: str) -> datetime:
    """An ISO 8601 time (a date, or a date and time)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time (e.g. 2027-01-15T08:00:00+00:00 or 2027-01-15)",
                                 param_hint="--timestamp") from None
