"""``ecuscan store``: inspect and check the inventory."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from ..store import Store
from .common import EXIT_FINDINGS, handle_errors, json_option, out, print_json, safe, store_option


@click.group("store")
def command() -> None:
    """Inspect the inventory (scan results by content hash)."""


@command.command("list")
@store_option
@json_option
@handle_errors
def list_cmd(store_url: str | None, as_json: bool) -> None:
    """List stored images with their component counts."""
    with Store.open(store_url) as store:
        results = [r for r in store.results() if r.parent is None]
    if as_json:
        print_json([{"path": r.path, "sha256": r.sha256, "format": r.format.value,
                     "components": len(r.contained())} for r in results])
        return
    table = Table("sha256", "format", "components", "path")
    for r in results:
        table.add_row(r.sha256[:16], r.format.value, str(len(r.contained())), safe(r.path, 120))
    out.print(table)


@command.command("check")
@store_option
@click.option("--repair", is_flag=True,
              help="Rebuild the store from what can still be read (SQLite: into a new file; the damaged one "
                   "is kept beside it). Lost cached results are analysed again by the next scan; lost "
                   "vulnerability records must be imported again.")
@handle_errors
def check_cmd(store_url: str | None, repair: bool) -> None:
    """Integrity check: database check, every document readable, no dangling paths (exit 1 if not)."""
    with Store.open(store_url) as store:
        report = store.check()
        out.print(f"{report.images} image(s), {report.paths} path(s)")
        for p in report.problems[:50]:
            out.print(f"[red]problem:[/] {safe(p, 500)}")
        if len(report.problems) > 50:
            out.print(f"[red]... {len(report.problems) - 50} more problem(s)[/]")
        if report.ok:
            out.print("ok")
            return
        if not repair:
            out.print("run `ecuscan store check --repair` to rebuild the store from what can still be read")
            sys.exit(EXIT_FINDINGS)
        fixed = store.repair()
        for table in sorted(fixed.kept.keys() | fixed.lost.keys()):
            out.print(f"repair: {table}: {fixed.kept.get(table, 0)} kept, {fixed.lost.get(table, 0)} lost")
        for note in fixed.notes:
            out.print(f"[yellow]lost:[/] {safe(note, 300)}")
        if fixed.backup:
            out.print(f"the damaged store is kept at {safe(fixed.backup, 300)}")
        after = store.check()
    if not after.ok:
        for p in after.problems[:20]:
            out.print(f"[red]still a problem:[/] {safe(p, 500)}")
        sys.exit(EXIT_FINDINGS)
    out.print("repaired: ok")
