"""``ecuscan report REPORT.json``: render a saved audit document again (HTML, Markdown)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import err, handle_errors, safe


@click.command("report")
@click.argument("document", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "formats", type=click.Choice(["html", "md"]), multiple=True,
              help="What to write (repeatable; default both).")
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where report.html / report.md go (default: beside DOCUMENT).")
@handle_errors
def command(document: Path, formats: tuple[str, ...], outdir: Path | None) -> None:
    """Re-render the report.json of an audit as report.html and/or report.md, without re-running it."""
    # imported when the command runs: ecuscan --help loads no command's dependencies (start-up)
    from ..errors import ReportError
    from ..report.document import SCHEMA, render_files
    from ..vulns.feeds import parse_json

    size = document.stat().st_size
    doc = parse_json(document.read_bytes(), str(document)) if size else None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ReportError(f"{document}: not an ecuscan audit document (schema {SCHEMA}); "
                          "pass the report.json written by 'ecuscan audit'")
    target = outdir or document.parent
    target.mkdir(parents=True, exist_ok=True)
    try:
        written = render_files(doc, target, formats or ("html", "md"))
    except (KeyError, TypeError, AttributeError) as exc:  # a hand-edited document missing a required part
        raise ReportError(f"{document}: the document lacks a part the report needs ({exc!r})") from exc
    err.print("wrote " + ", ".join(safe(p.resolve(), 500) for p in written))
