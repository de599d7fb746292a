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
@handle_errors
def check_cmd(store_url: str | None) -> None:
    """Integrity check: database check, every document readable, no dangling paths (exit 1 if not)."""
    with Store.open(store_url) as store:
        report = store.check()
    out.print(f"{report.images} image(s), {report.paths} path(s)")
    for p in report.problems:
        out.print(f"[red]problem:[/] {safe(p, 500)}")
    if not report.ok:
        sys.exit(EXIT_FINDINGS)
    out.print("ok")
