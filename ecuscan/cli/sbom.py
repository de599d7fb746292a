"""``ecuscan sbom``: write SBOMs of firmware images, and reconcile a supplier SBOM with a scan.

``ecuscan sbom IMAGE... --format cyclonedx-json -o FILE`` is short for
``ecuscan sbom write IMAGE... ...``; ``ecuscan sbom reconcile IMAGE --declared SBOM``
compares a supplier SBOM with what the image really contains.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from ..errors import SbomError
from ..model import ScanFailure, ScanResult
from ..sbom import WRITERS, SupplierInfo, write_sbom
from ..sbom.importer import load_sbom
from ..sbom.reconcile import ReconItem, reconcile
from ..scan.pipeline import Scanner
from ..store import Store
from .common import EXIT_FINDINGS, EXIT_OK, err, handle_errors, json_option, out, print_json, safe, store_option


def scan_for_cli(paths: Sequence[str], store_url: str | None, *, members: bool = False) -> list[ScanResult]:
    """Scan (or fetch from the store) the given images; any failure is an input error (exit 2)."""
    with Store.open(store_url) as store:
        outcomes = list(Scanner(store).scan_paths(paths))
    failures = [o for o in outcomes if isinstance(o, ScanFailure)]
    if failures:
        f = failures[0]
        raise SbomError(f"cannot scan: {f.reason}", source=f.path)
    results = [o for o in outcomes if isinstance(o, ScanResult)]
    return results if members else [r for r in results if r.parent is None]


class _DefaultWriteGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to ``write``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["write", *args]
        return super().parse_args(ctx, args)


@click.group("sbom", cls=_DefaultWriteGroup)
def command() -> None:
    """Write SBOMs (CycloneDX 1.6, SPDX 2.3) and reconcile supplier SBOMs.

    \b
    ecuscan sbom IMAGE... --format cyclonedx-json -o bom.json   (same as: sbom write ...)
    ecuscan sbom reconcile IMAGE --declared supplier.cdx.json
    """


def _timestamp(value: str | None) -> datetime:
    if value:
        try:
            ts = datetime.fromisoformat(value)
        except ValueError as exc:
            raise click.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint="--timestamp") from exc
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC).replace(microsecond=0)


@command.command("write")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "-f", "fmt", type=click.Choice(sorted(WRITERS)), default="cyclonedx-json",
              show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to FILE instead of stdout.")
@click.option("--supplier", default=None, help="Name of the supplier of the described firmware.")
@click.option("--supplier-url", default=None, help="Web address of the supplier.")
@click.option("--name", default=None, help="Name of a multi-image document (default: 'firmware set').")
@click.option("--timestamp", default=None,
              help="Creation time (ISO 8601). Default: $SOURCE_DATE_EPOCH if set, else now.")
@click.option("--serial", default=None, help="Serial number (UUID). Default: derived from the content.")
@click.option("--members", is_flag=True, help="Describe each member of containers as an image of its own.")
@store_option
@handle_errors
def write_cmd(images: tuple[str, ...], fmt: str, output: str | None, supplier: str | None,
              supplier_url: str | None, name: str | None, timestamp: str | None, serial: str | None,
              members: bool, store_url: str | None) -> None:
    """Write an SBOM describing IMAGE(s): components with evidence, build provenance, hashes.

    The output is deterministic for a given input, time and serial number.
    Exit code: 0 written, 2 an image could not be scanned or the SBOM could not be written.
    """
    results = scan_for_cli(images, store_url, members=members)
    info = SupplierInfo(name=supplier, url=supplier_url) if supplier else None
    text = write_sbom(results, fmt, supplier=info, timestamp=_timestamp(timestamp),
                      serial=serial, name=name)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise SbomError(f"cannot write: {exc.strerror or exc}", source=output) from exc
        err.print(f"wrote {fmt} SBOM of {len(results)} image(s) to {safe(output, 300)}")
    else:
        sys.stdout.write(text)
    sys.exit(EXIT_OK)


def _row_versions(item: ReconItem) -> tuple[str, str]:
    return ", ".join(item.found_versions) or ("?" if item.found else "-"), \
        ", ".join(item.declared_versions) or ("?" if item.declared else "-")


def _evidence_line(item: ReconItem) -> str:
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..report.values import evidence_line

    return evidence_line(item.found)


@command.command("reconcile")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--declared", "-d", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The supplier's SBOM (CycloneDX 1.4–1.6 JSON/XML, SPDX 2.2/2.3 JSON/tag-value).")
@json_option
@store_option
@handle_errors
def reconcile_cmd(images: tuple[str, ...], declared: str, as_json: bool, store_url: str | None) -> None:
    """Compare a supplier SBOM with what IMAGE really contains.

    Lists matched, version-mismatched, undeclared (found in the binary, not in the SBOM) and
    unconfirmed (declared, not found) components, with a completeness score
    (matched / (matched + mismatched + undeclared)).

    Exit code: 0 nothing undeclared, 1 undeclared components exist, 2 input error.
    """
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..catalog import load_catalog

    doc = load_sbom(declared)
    results = scan_for_cli(images, store_url, members=True)
    recon = reconcile(results, doc, load_catalog())
    if as_json:
        print_json({"schema": "ecuscan/reconciliation/v1", **recon.to_dict()})
    else:
        # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
        from ..report.terminal import Col, print_table

        rows = []
        groups = (("undeclared", "red", recon.undeclared), ("mismatch", "yellow", recon.version_mismatch),
                  ("unconfirmed", "yellow", recon.unconfirmed), ("uses, undeclared", "dim", recon.undeclared_uses),
                  ("matched", "green", recon.matched))
        for label, colour, items in groups:
            for item in items:
                fv, dv = _row_versions(item)
                note = _evidence_line(item)
                if label == "unconfirmed" and not item.detectable:
                    note = "ecuscan has no signature for it: cannot confirm"
                rows.append([f"[{colour}]{label}[/]", safe(item.name), safe(fv), safe(dv), safe(note, 300)])
        out.print(f"[bold]{safe(doc.source, 300)}[/] ({doc.format.value} {safe(doc.spec_version)}) vs "
                  f"{len(results)} scanned image(s)")
        print_table(out, [Col("status"), Col("component", key=True), Col("found", key=True),
                          Col("declared", key=True), Col("evidence / note")], rows, plain=True)
        out.print(f"completeness {recon.completeness:.0%}: {len(recon.matched)} matched, "
                  f"{len(recon.version_mismatch)} version mismatch, {len(recon.undeclared)} undeclared, "
                  f"{len(recon.unconfirmed)} unconfirmed")
    sys.exit(EXIT_OK if recon.passed else EXIT_FINDINGS)



