"""``ecuscan scan PATH...``: components and provenance per image."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from ..inventory import files_with_findings, inventory
from ..model import ScanFailure, ScanOutcome, ScanResult, Severity
from ..scan.deferred_store import DeferredStore
from ..scan.options import JOBS_AUTO, ScanOptions
from ..scan.pipeline import Scanner, with_frozen_heap
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

if TYPE_CHECKING:
    from rich.progress import Progress


class _ProgressObserver:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("scanning", total=None)

    def planned(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def finished(self, outcome: ScanOutcome, cached: bool) -> None:
        name = outcome.path.rsplit("/", 1)[-1]
        self.progress.update(self.task, advance=1, description=safe(("cached " if cached else "") + name, 40))


@contextlib.contextmanager
def _progress(shown: bool) -> Iterator[_ProgressObserver | None]:
    """A progress bar on stderr (a terminal, no --json), else nothing: rich's progress module is
    then not even imported (start-up)."""
    if not shown:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        yield _ProgressObserver(progress)


def parse_int(value: str | None) -> int | None:
    """Parse ``0x08000000`` / ``134217728``."""
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError as exc:
        raise click.BadParameter(f"not a number: {value!r}") from exc


def render_result(r: ScanResult) -> None:
    """One table of components for one image, plus its provenance line."""
    prov = r.provenance
    tools = ", ".join(dict.fromkeys(f"{t.name} {t.version or ''}".strip() for t in prov.toolchains)) \
        or "unknown toolchain"
    out.print(f"[bold]{safe(r.path, 300)}[/]  {r.format.value} {safe(r.arch or '')} "
              f"{r.size} bytes  sha256 {r.sha256[:16]}…")
    out.print(f"  build-id {safe(prov.build_id or '-')}  {safe(tools)}  "
              f"{ {True: 'stripped', False: 'symbols', None: ''}[prov.stripped] }{', DWARF' if prov.has_dwarf else ''}"
              + (f"  build paths: {len(prov.build_paths)}" if prov.build_paths else "")
              + (f"  certificates/keys: {len(prov.certificates)}" if prov.certificates else ""))
    if r.components:
        # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
        from ..report.terminal import Col, print_table
        from ..report.values import text as shown

        rows = []
        for c in r.components:
            ev = c.evidence[0] if c.evidence else None
            where = ""
            if ev is not None:
                loc = f"@0x{ev.offset:x}" if ev.offset is not None else ""
                where = f"{ev.method.value}{loc} {shown(ev.text or ev.detail or '', 200)}"
            rows.append([safe(c.name), safe(c.version or "?"), c.relation.value, f"{c.confidence:.2f}",
                         safe(where, 300)])
        print_table(out, [Col("component", key=True), Col("version", key=True), Col("relation"),
                          Col("conf.", justify="right"), Col("evidence (first)")], rows, plain=True)
    else:
        out.print("  no components identified")
    for d in r.diagnostics:
        colour = {"error": "red", "warning": "yellow"}.get(d.severity.value, "dim")
        out.print(f"  [{colour}]{d.severity.value}[/] {safe(d.code)}: {safe(d.message, 300)}")
    out.print()


#: Up to this many images, the text output has one table per image; above, one inventory.
PER_FILE_MAX = 20


def render_inventory(results: list[ScanResult], shown: list[ScanResult]) -> None:
    """One table of the batch's components (by version, with file counts), then files with findings."""
    rows = inventory(results)
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..report.terminal import Col, print_table

    if not rows:
        out.print("no components identified")
    print_table(out, [Col("component", key=True), Col("version", key=True), Col("files", justify="right"),
                      Col("recognised by"), Col("example")],
                [[safe(row.name), safe(row.version or "?"), str(row.files),
                  safe(", ".join(m.value for m in row.methods), 200), safe(row.example, 500)] for row in rows],
                title=f"{len(results)} file(s) scanned", plain=True)
    flagged = files_with_findings(shown)
    if flagged:
        out.print(f"\n{len(flagged)} image(s) with warnings or errors:")
        for r in flagged[:50]:
            for d in [d for d in r.diagnostics if d.severity is not Severity.INFO][:3]:
                out.print(f"  {safe(r.path, 120)}: [yellow]{safe(d.code)}[/] {safe(d.message, 200)}")
        if len(flagged) > 50:
            out.print(f"  ... {len(flagged) - 50} more (--json or --per-file for all)")
    out.print()


def _jobs(value: str) -> int:
    """``auto`` -> JOBS_AUTO, else a count from 1 to 64."""
    if value == "auto":
        return JOBS_AUTO
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise click.BadParameter(f"expected auto or a number from 1 to 64, not {value!r}")
    return int(value)


@click.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@store_option
@json_option
@click.option("--no-cache", is_flag=True, help="Analyse again even if the store has a result for these bytes.")
@click.option("--jobs", "-j", default="auto", show_default=True, callback=lambda _c, _p, v: _jobs(v),
              help="Worker processes (1-64), or auto: one per CPU for trees of many files.")
@click.option("--dask", "dask_spec", default=None, metavar="local[:N]|tcp://HOST:PORT",
              help="Analyse on a dask.distributed cluster: a local one with N worker processes, or an existing "
                   "scheduler (workers must see the scanned paths at the same place).")
@click.option("--base-address", default=None, help="Load address of raw flash dumps (e.g. 0x08000000).")
@click.option("--members/--no-members", default=False,
              help="Also list each member of containers (archives, root filesystems).")
@click.option("--package-metadata/--no-package-metadata", default=True, show_default=True,
              help="Use the package databases of scanned trees and packages; off judges each binary by its "
                   "bytes alone (an audit that does not take the package database's word).")
@click.option("--per-file/--summary", "per_file", default=None,
              help="One table per image, or one inventory of the batch (components by version with file "
                   f"counts, then the files with warnings). Default: per image up to {PER_FILE_MAX} images.")
@click.option("--fail-on-diagnostic", type=click.Choice(["warning", "error"]), default=None,
              help="Exit 1 when an image has a diagnostic of this severity or worse (e.g. VBF CRC mismatch).")
@allow_incomplete_option
@handle_errors
@with_frozen_heap
def command(paths: tuple[str, ...], store_url: str | None, as_json: bool, no_cache: bool, jobs: int,
            dask_spec: str | None, base_address: str | None, members: bool, package_metadata: bool,
            per_file: bool | None, fail_on_diagnostic: str | None, allow_incomplete: bool) -> None:
    """Identify components and build provenance in firmware images (files or directories).

    Exit code: 0 ok, 1 when --fail-on-diagnostic trips, 2 for a usage error, 3 (INCOMPLETE) when
    an input could not be read or analysed, or the store could not be used (the scan then goes on
    without the cache); --allow-incomplete accepts that.
    """
    if dask_spec is not None and jobs > 1:
        raise click.UsageError("--dask and --jobs are alternatives: the dask cluster has its own workers")
    if dask_spec is not None:
        # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
        from ..scan.dask import parse_spec

        parse_spec(dask_spec)  # a malformed spec is a usage error before anything is scanned
    options = ScanOptions(base_address=parse_int(base_address), use_cache=not no_cache, jobs=jobs, dask=dask_spec,
                          package_metadata=package_metadata)
    outcomes: list[ScanOutcome] = []
    store_problems: list[str] = []
    opened: DeferredStore | None = None
    if store_url or not no_cache:  # --no-cache neither reads nor (unless a store is named) writes the inventory
        # opened at its first use, by the scan: beside the pool's work, not before it (start-up);
        # one that cannot be opened costs the cache, not the scan (scanner.store_problems)
        opened = DeferredStore(store_url)
    with opened if opened is not None else contextlib.nullcontext() as store:
        with _progress(shown=not as_json and err.is_terminal) as observer:
            scanner = Scanner(store, options=options, observer=observer)
            outcomes = list(scanner.scan_paths(paths))
        store_problems += scanner.store_problems
    for problem in store_problems:
        err.print(f"[bold yellow]warning:[/] the store {safe(problem, 800)}; the scan went on without it "
                  "(no cached results used, none kept)")
    failures = [o for o in outcomes if isinstance(o, ScanFailure)]
    results = [o for o in outcomes if isinstance(o, ScanResult)]
    shown = results if members else [r for r in results if r.parent is None]
    incomplete = [{"stage": "scan", "source": f.path, "reason": f.reason} for f in failures]
    incomplete += [{"stage": "store", "source": store_url or "default store", "reason": p} for p in store_problems]
    if as_json:
        doc: dict[str, Any] = {"schema": "ecuscan/scan-report/v1",
                               "results": [r.to_dict() for r in shown],
                               "errors": [f.to_dict() for f in failures], "incomplete": incomplete}
        print_json(doc)
    else:
        if per_file or (per_file is None and len(shown) <= PER_FILE_MAX):
            for r in shown:
                render_result(r)
        else:
            render_inventory(results, shown)
        for f in failures:
            err.print(f"[bold red]error:[/] {safe(f.path, 300)}: {safe(f.reason, 500)}")
        n_comp = sum(len(r.contained()) for r in shown)
        err.print(f"{len(shown)} image(s), {n_comp} contained component(s), {len(failures)} error(s)")
    if incomplete:
        incomplete_banner(incomplete, allow_incomplete)
    failed = False
    if fail_on_diagnostic:
        worst = {Severity.ERROR} if fail_on_diagnostic == "error" else {Severity.ERROR, Severity.WARNING}
        failed = any(d.severity in worst for r in results for d in r.diagnostics)
    sys.exit(exit_code(failed, incomplete, allow_incomplete))
