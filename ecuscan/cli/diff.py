"""``ecuscan diff OLD NEW``: release diff and provenance drift between two images."""

from __future__ import annotations

import os
import sys

import click
from rich.table import Table

from ..catalog import load_catalog
from ..diff import ReleaseDiff, diff_results, diff_trees
from ..errors import SbomError
from .common import EXIT_FINDINGS, EXIT_OK, handle_errors, json_option, out, print_json, safe, store_option
from .sbom import scan_for_cli


@click.command("diff")
@click.argument("old", type=click.Path(exists=True))
@click.argument("new", type=click.Path(exists=True))
@json_option
@store_option
@handle_errors
def command(old: str, new: str, as_json: bool, store_url: str | None) -> None:
    """Components added / removed / changed between OLD and NEW, and provenance drift
    (toolchain, flags, build host/paths, build-id, certificates, new network-facing code).

    OLD and NEW are two images, or two directory trees (root filesystems): then the trees'
    component inventories are compared, and each file present in both with other bytes.

    Exit code: 0 no drift of severity warning or worse, 1 such drift, 2 input error.
    """
    if os.path.isdir(old) != os.path.isdir(new):
        raise click.UsageError("OLD and NEW must be two images or two directories")
    if os.path.isdir(old):
        _trees(old, new, as_json, store_url)
        return
    results = scan_for_cli([old, new], store_url)
    by_path = {r.path: r for r in results}
    if old not in by_path or new not in by_path:
        raise SbomError("scanning did not give one result per image", source=old if old not in by_path else new)
    d = diff_results(by_path[old], by_path[new], load_catalog())
    if as_json:
        print_json({"schema": "ecuscan/release-diff/v1", **d.to_dict()})
    else:
        out.print(f"[bold]{safe(old, 200)}[/] → [bold]{safe(new, 200)}[/]")
        table = _changes(d)
        if table.row_count:
            out.print(table)
        else:
            out.print("no component changes")
        colours = {"error": "bold red", "warning": "yellow", "info": "dim"}
        for i in d.indicators:
            out.print(f"[{colours[i.severity.value]}]{i.severity.value}[/] {i.kind.value}: {safe(i.message, 400)}")
    sys.exit(EXIT_FINDINGS if d.drifted else EXIT_OK)


def _changes(d: ReleaseDiff, title: str | None = None) -> Table:
    """One row per component added, removed or changed in version."""
    table = Table(show_edge=False, pad_edge=False, box=None, title=title, title_justify="left")
    for col in ("change", "component", "old", "new"):
        table.add_column(col)
    for c in d.added:
        table.add_row("[green]added[/]", safe(c.name), "-", safe(c.version or "?"))
    for c in d.removed:
        table.add_row("[red]removed[/]", safe(c.name), safe(c.version or "?"), "-")
    for ch in d.changed:
        table.add_row("[yellow]version[/]", safe(ch.name), safe(ch.old_version or "?"), safe(ch.new_version or "?"))
    return table


def _trees(old: str, new: str, as_json: bool, store_url: str | None) -> None:
    o_root, n_root = os.path.normpath(old), os.path.normpath(new)
    if o_root == n_root or o_root.startswith(n_root + os.sep) or n_root.startswith(o_root + os.sep):
        raise click.UsageError("OLD and NEW must be two separate directories")
    results = scan_for_cli([o_root, n_root], store_url)
    o_res = [r for r in results if r.path.startswith(o_root + os.sep)]
    n_res = [r for r in results if r.path.startswith(n_root + os.sep)]
    d = diff_trees(o_root, o_res, n_root, n_res, load_catalog())
    if as_json:
        print_json({"schema": "ecuscan/tree-diff/v1", **d.to_dict()})
        sys.exit(EXIT_FINDINGS if d.drifted else EXIT_OK)
    out.print(f"[bold]{safe(old, 200)}[/] → [bold]{safe(new, 200)}[/]  ({len(o_res)} → {len(n_res)} files: "
              f"{len(d.added_files)} added, {len(d.removed_files)} removed, {d.changed_files} changed)")
    table = _changes(d.inventory, "components of the tree")
    out.print(table if table.row_count else "no component changes in the tree's inventory")
    for f in d.files[:50]:
        parts = [f"+{c.name} {c.version or '?'}" for c in f.added] + [f"-{c.name}" for c in f.removed] + \
                [f"{c.name} {c.old_version} → {c.new_version}" for c in f.changed]
        if parts:
            out.print(f"  {safe(f.new, 150)}: {safe(', '.join(parts), 200)}")
    if len(d.files) > 50:
        out.print(f"  ... {len(d.files) - 50} more changed files (--json for all)")
    colours = {"error": "bold red", "warning": "yellow", "info": "dim"}
    shown = [i for i in d.indicators if i.severity.value != "info"][:50]
    for i in shown:
        out.print(f"[{colours[i.severity.value]}]{i.severity.value}[/] {i.kind.value}: {safe(i.message, 400)}")
    hidden = len(d.indicators) - len(shown)
    if hidden:
        out.print(f"[dim]{hidden} more indicator(s), info or beyond the first 50 (--json for all)[/]")
    sys.exit(EXIT_FINDINGS if d.drifted else EXIT_OK)
