"""``ecuscan diff OLD NEW``: release diff and provenance drift between two images."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from ..catalog import load_catalog
from ..diff import diff_results
from ..errors import SbomError
from .common import EXIT_FINDINGS, EXIT_OK, handle_errors, json_option, out, print_json, safe, store_option
from .sbom import scan_for_cli


@click.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
@json_option
@store_option
@handle_errors
def command(old: str, new: str, as_json: bool, store_url: str | None) -> None:
    """Components added / removed / changed between OLD and NEW, and provenance drift
    (toolchain, flags, build host/paths, build-id, certificates, new network-facing code).

    Exit code: 0 no drift of severity warning or worse, 1 such drift, 2 input error.
    """
    results = scan_for_cli([old, new], store_url)
    by_path = {r.path: r for r in results}
    if old not in by_path or new not in by_path:
        raise SbomError("scanning did not give one result per image", source=old if old not in by_path else new)
    d = diff_results(by_path[old], by_path[new], load_catalog())
    if as_json:
        print_json({"schema": "ecuscan/release-diff/v1", **d.to_dict()})
    else:
        out.print(f"[bold]{safe(old, 200)}[/] → [bold]{safe(new, 200)}[/]")
        table = Table(show_edge=False, pad_edge=False, box=None)
        for col in ("change", "component", "old", "new"):
            table.add_column(col)
        for c in d.added:
            table.add_row("[green]added[/]", safe(c.name), "-", safe(c.version or "?"))
        for c in d.removed:
            table.add_row("[red]removed[/]", safe(c.name), safe(c.version or "?"), "-")
        for ch in d.changed:
            table.add_row("[yellow]version[/]", safe(ch.name), safe(ch.old_version or "?"), safe(ch.new_version or "?"))
        if table.row_count:
            out.print(table)
        else:
            out.print("no component changes")
        colours = {"error": "bold red", "warning": "yellow", "info": "dim"}
        for i in d.indicators:
            out.print(f"[{colours[i.severity.value]}]{i.severity.value}[/] {i.kind.value}: {safe(i.message, 400)}")
    sys.exit(EXIT_FINDINGS if d.drifted else EXIT_OK)
