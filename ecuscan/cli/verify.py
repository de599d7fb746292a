"""``ecuscan verify MANIFEST``: does every ECU on the bench run the analysed release?"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..bench.busconfig import BusConfig, choose_bus
from ..bench.flash import Regions
from ..bench.records import BenchOptions, BenchReport, Check, EcuVerdict, Verdict
from ..bench.replay import replay
from ..bench.runner import run_bench
from ..bench.targets import APPLICATION_ROLES, load_bench, security_config
from ..bench.verify import expected_from_scan, with_expectations
from ..errors import BenchError, BusUnavailable
from ..manifest import Manifest
from ..model import Incomplete, ScanResult
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
    run_status,
    safe,
    store_option,
)

#: ``verify --fail-on`` findings (exit 1). ``incomplete`` is always in force (exit 3) unless --allow-incomplete.
VERIFY_FAIL_ON = ("mismatch", "missing", "unreachable", "incomplete")

_ECU_STYLE = {EcuVerdict.VERIFIED: "green", EcuVerdict.DRIFTED: "bold red", EcuVerdict.MISSING: "yellow",
              EcuVerdict.PARTIAL: "magenta", EcuVerdict.UNREACHABLE: "magenta"}

_STYLE = {Verdict.MATCH: "green", Verdict.MISMATCH: "bold red", Verdict.INVALID: "bold red",
          Verdict.MISSING: "yellow", Verdict.UNREACHABLE: "magenta", Verdict.OBSERVED: "cyan"}


def _scan_expectations(items: tuple[str, ...]) -> dict[str, dict[int, str]]:
    out_: dict[str, dict[int, str]] = {}
    for item in items:
        ecu, sep, path = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not ECU=SCAN.json", param_hint="--expect-from")
        try:
            doc: Any = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise BenchError(f"cannot read scan result: {exc}", source=path) from exc
        docs = doc if isinstance(doc, list) else doc.get("results", [doc]) if isinstance(doc, dict) else []
        merged: dict[int, str] = {}
        for d in docs:
            try:
                merged.update(expected_from_scan(ScanResult.from_dict(d)))
            except Exception as exc:
                raise BenchError(f"not a scan result: {type(exc).__name__}: {exc}", source=path) from exc
        out_[ecu] = merged
    return out_


def render(report: BenchReport) -> None:
    """The summary table, the per-ECU verdicts and the counts."""
    table = Table(show_edge=False, pad_edge=False, box=None)
    for col in ("ECU", "item", "expected", "observed", "verdict", "evidence"):
        table.add_column(col)
    for c in report.checks:
        table.add_row(*_row(c))
    out.print(table)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts().items()))
    out.print(f"{len(report.checks)} checks in {report.duration_s:.2f} s: {counts}")
    verdicts = report.ecu_verdicts()
    if verdicts:
        out.print("ECUs: " + ", ".join(f"{safe(e, 40)} [{_ECU_STYLE[v]}]{v.value}[/]" for e, v in verdicts.items()))
    for note in report.notes:
        out.print(f"[yellow]warning[/] {safe(note, 300)}")


def policy(report: BenchReport, fail_on: frozenset[str]) -> list[str]:
    """Why the run fails ``fail_on`` (empty: it passes): per-ECU verdicts against the findings named."""
    verdicts = report.ecu_verdicts()
    reasons = []
    for name, which in (("mismatch", (EcuVerdict.DRIFTED,)), ("missing", (EcuVerdict.MISSING,)),
                        ("unreachable", (EcuVerdict.UNREACHABLE, EcuVerdict.PARTIAL))):
        hit = sorted(e for e, v in verdicts.items() if v in which)
        if name in fail_on and hit:
            reasons.append(f"{name}: {', '.join(hit)}")
    return reasons


def incomplete_of(report: BenchReport) -> list[Incomplete]:
    """ECUs that could not be (fully) checked: silent, partly answered, or nothing to compare."""
    out_: list[Incomplete] = []
    for ecu, v in report.ecu_verdicts().items():
        if not v.complete:
            silent = sum(1 for c in report.for_ecu(ecu) if c.verdict is Verdict.UNREACHABLE)
            out_.append(Incomplete("bench", f"ecu {ecu}", f"{v.value}: {silent} expected item(s) unanswered"
                                   if silent else f"{v.value}: nothing to compare (no expectation)"))
    return out_


def _row(c: Check) -> list[str]:
    o = c.observation
    ev = o.exchange
    last = ev.responses[-1].hex() if ev.responses else "-"
    observed = o.value if o.value is not None else (o.detail or "-")
    return [safe(o.ecu_id, 40), o.label, safe(c.expected if c.expected is not None else "-", 40),
            safe(observed, 60), f"[{_STYLE[c.verdict]}]{c.verdict.value}[/]",
            f"{ev.request.hex()} → {safe(last, 40)}"]


@click.command("verify")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False))
@bus_options
@json_option
@click.option("--log", "log_path", type=click.Path(dir_okay=False), help="Write the bus traffic (.asc, .blf, .log).")
@click.option("--replay", "replay_path", type=click.Path(exists=True, dir_okay=False),
              help="Re-evaluate a recorded bus log offline instead of talking to the bus.")
@click.option("--simulate", is_flag=True, help="Run the manifest's ECUs in the built-in simulator on a virtual bus.")
@click.option("--expect-from", "expect_from", multiple=True, metavar="ECU=SCAN.json",
              help="Add expectations from an analysed image (scan result JSON; metadata did:XXXX, sw_version).")
@click.option("--ecu", "only", multiple=True, help="Only these ECU ids (repeatable).")
@click.option("--p2", type=float, default=1.0, show_default=True, help="P2 client timeout (s).")
@click.option("--p2-star", type=float, default=5.0, show_default=True, help="P2* timeout after NRC 0x78 (s).")
@click.option("--trust-ecu-timing", is_flag=True, help="Use the P2/P2* the ECU announces (Python cannot meet 25 ms).")
@click.option("--max-in-flight", type=int, default=32, show_default=True, help="ECUs talked to at once.")
@click.option("--stmin", type=int, default=0, help="STmin (ms) the tester asks for.")
@click.option("--blocksize", type=int, default=0, help="ISO-TP block size the tester asks for (0 = no limit).")
@click.option("--no-obd", is_flag=True, help="Do not read OBD-II mode 09 items.")
@click.option("--read-memory", is_flag=True,
              help="Opt-in: hash the manifest's memory regions with ReadMemoryByAddress (still read-only).")
@click.option("--memory-region", "memory_regions", multiple=True, metavar="ADDR:SIZE",
              help="With --read-memory on a manifest: only this region (default: every segment of the image).")
@click.option("--security-level", type=str, default=None, help="SecurityAccess level before memory reads (e.g. 1).")
@click.option("--security-key", type=str, default=None, metavar="HEX", help="Fixed SecurityAccess key.")
@click.option("--security-algorithm", type=str, default=None, metavar="MODULE:FUNCTION",
              help="Key algorithm function(level, seed) -> bytes. EXECUTES the named user code (like udsoncan's "
                   "security_algo).")
@click.option("--fail-on", "fail_on", default="mismatch", show_default=True,
              help=f"Comma-separated ECU verdicts that fail the run (exit 1): {', '.join(VERIFY_FAIL_ON)} "
                   "(or 'none'). An INCOMPLETE run (exit 3: bus not opened, ECU silent or partly answered) is never "
                   "a pass, whatever this lists; see --allow-incomplete.")
@allow_incomplete_option
@store_option
@handle_errors
def command(manifest: str, store_url: str | None, as_json: bool, log_path: str | None, replay_path: str | None,
            simulate: bool, fail_on: str, allow_incomplete: bool,
            expect_from: tuple[str, ...], only: tuple[str, ...], p2: float, p2_star: float, trust_ecu_timing: bool,
            max_in_flight: int, stmin: int, blocksize: int, no_obd: bool, read_memory: bool,
            memory_regions: tuple[str, ...], security_level: str | None, security_key: str | None,
            security_algorithm: str | None, **bus: Any) -> None:
    """Read identification (DIDs F180-F19F, OEM DIDs, OBD mode 09) from every ECU of MANIFEST and
    compare with the expected release: MATCH, MISMATCH, MISSING, UNREACHABLE or INVALID per item;
    per ECU VERIFIED (every item matched), DRIFTED, MISSING, PARTIAL or UNREACHABLE.

    The bus: bus options, else --simulate, else the manifest's top-level bench: section, else
    python-can's configuration. Exit 1 when the --fail-on policy fails (default: an ECU drifted),
    2 on usage errors, 3 when INCOMPLETE (bus not opened, an ECU silent or partly answered).
    """
    wanted = _fail_on(fail_on)
    regions: Regions = _regions(memory_regions) if memory_regions else "all"
    scan_problems: list[Incomplete] = []
    plan = load_bench(manifest, _manifest_scans(store_url, scan_problems), memory=regions if read_memory else None)
    targets, specs = plan.targets, plan.specs
    extra = _scan_expectations(expect_from)
    targets = [with_expectations(t, extra.get(t.ecu_id, {})) for t in targets if not only or t.ecu_id in only]
    security = security_config("command line", {"level": security_level or 1, "key": security_key,
                                                "algorithm": security_algorithm}) \
        if security_key or security_algorithm else None
    if security is not None:
        targets = [dataclasses.replace(t, security=security) for t in targets]
    elif security_level is not None:
        raise click.BadParameter("needs --security-key or --security-algorithm", param_hint="--security-level")
    if not targets:
        raise BenchError("no ECU with a bench section to verify", source=manifest)
    options = BenchOptions(p2=p2, p2_star=p2_star, trust_ecu_timing=trust_ecu_timing, max_in_flight=max_in_flight,
                           stmin=stmin, blocksize=blocksize, obd=not no_obd, read_memory=read_memory)
    bus_cfg = choose_bus(BusConfig(interface=bus["bus_interface"], channel=bus["bus_channel"],
                                   bitrate=bus["bus_bitrate"], fd=bus["bus_fd"], data_bitrate=bus["bus_data_bitrate"],
                                   extra=parse_bus_kwargs(bus["bus_kwargs"]), simulate=simulate), plan.settings)
    try:
        if replay_path:
            report = replay(targets, replay_path, options=options)
        else:
            if not as_json:
                err.print(f"verifying {len(targets)} ECU(s) on {safe(bus_cfg.describe())}")
            report = run_bench(targets, specs, bus_cfg, options, log_path=log_path)
    except BusUnavailable as exc:
        report = BenchReport(())
        incomplete = [Incomplete("bench", bus_cfg.describe(), f"{exc} (no ECU was checked)")]
    else:
        incomplete = incomplete_of(report)
    incomplete = [*scan_problems, *incomplete]
    reasons = policy(report, wanted)
    if as_json:
        print_json({**report.to_dict(), "status": run_status(bool(reasons), incomplete),
                    "incomplete": [i.to_dict() for i in incomplete],
                    "policy": {"fail_on": sorted(wanted), "failed": bool(reasons), "reasons": reasons}})
    else:
        incomplete_banner(incomplete, allow_incomplete, console=out)
        render(report)
        for r in reasons:
            out.print(f"[bold red]policy failed[/] {safe(r, 500)}")
    raise SystemExit(exit_code(bool(reasons), incomplete, allow_incomplete))


def _fail_on(text: str) -> frozenset[str]:
    names = frozenset() if text.strip() == "none" else frozenset(p.strip() for p in text.split(",") if p.strip())
    unknown = sorted(names - set(VERIFY_FAIL_ON))
    if unknown:
        raise click.BadParameter(f"unknown policy {', '.join(unknown)}", param_hint="--fail-on")
    return names - {"incomplete"}


def _regions(items: tuple[str, ...]) -> list[tuple[int, int]]:
    out = []
    for item in items:
        addr, sep, size = item.partition(":")
        try:
            out.append((int(addr, 0), int(size, 0)))
        except ValueError:
            raise click.BadParameter(f"{item!r} is not ADDR:SIZE (e.g. 0x08000000:0x100)",
                                     param_hint="--memory-region") from None
        if not sep or out[-1][1] <= 0:
            raise click.BadParameter(f"{item!r} is not ADDR:SIZE with a positive size", param_hint="--memory-region")
    return out


def _manifest_scans(store_url: str | None, problems: list[Incomplete]) -> Callable[[Manifest], dict[str, ScanResult]]:
    """For a manifest: its application images' scan results (cached in the store), so the analysed
    images' own identification becomes the expectation. An image that cannot be read or scanned is
    added to ``problems``: its ECU is checked against the manifest's expectations only."""
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..graph.inputs import scan_firmware
    from ..store import Store

    def scan(manifest: Manifest) -> dict[str, ScanResult]:
        with Store.open(store_url) as store:
            scans = scan_firmware(manifest, store=store, roles=APPLICATION_ROLES)
        problems.extend(Incomplete("scan", path, f"{reason}: the analysed release's identification is unknown")
                        for path, reason in scans.failures.items())
        return scans.top()

    return scan
