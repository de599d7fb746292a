"""Terminal output that people and CI logs can read at any width.

:func:`print_table` draws a rich table whose identifier columns (CVE ids, purls, paths) are
never cut or broken: free-text columns wrap, and when even the identifiers do not fit beside
each other (80 columns, a pipe into a CI log) every row is printed as a block of
``column: value`` lines instead. :class:`StageLog` shows the audit's stages: a progress bar
on a terminal, one plain line per finished stage with its status and time otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..textsafe import printable
from .values import cell, flaw

#: audit stages in order (ecuscan.audit.run_audit), plus the report writing at the end
AUDIT_STAGES = ("scan", "sbom", "reconcile", "drift", "graph", "vulns", "bench", "report")


@dataclass(frozen=True)
class Col:
    """A table column. ``key`` columns hold identifiers: shown whole on one line, never cut."""

    header: str
    key: bool = False
    justify: str = "left"
    style: str | None = None


def show(value: Any, limit: int = 400) -> str:
    """A document value as rich text: :func:`ecuscan.report.values.cell`, markup escaped."""
    return escape(cell(value, limit=limit))


def _width(markup: str) -> int:
    return max((Text.from_markup(line).cell_len for line in markup.split("\n")), default=0)


def table_fits(console: Console, cols: Sequence[Col], rows: Sequence[Sequence[str]]) -> bool:
    """True when every key column can be shown whole beside the others (free text gets 14+ cells)."""
    need = 0
    for i, c in enumerate(cols):
        widest = max([_width(c.header), *(_width(r[i]) for r in rows if i < len(r))])
        need += (widest if c.key else min(widest, 14)) + 3  # cell padding and the border
    return need + 1 <= console.width


def print_table(console: Console, cols: Sequence[Col], rows: Sequence[Sequence[str]], *,
                title: str | None = None, plain: bool = False) -> None:
    """Print ``rows`` (rich markup, already escaped) under ``cols``: as a table when it fits,
    else one block per row (first key column as its heading). ``plain`` drops the box."""
    if not rows:
        if title:
            console.print(title)
        return
    if table_fits(console, cols, rows):
        kwargs: dict[str, Any] = {"show_edge": False, "pad_edge": False, "box": None} if plain else {}
        table = Table(title=title, title_justify="left", **kwargs)
        for i, c in enumerate(cols):
            widest = max([_width(c.header), *(_width(r[i]) for r in rows if i < len(r))])
            table.add_column(c.header, no_wrap=c.key, overflow="fold", justify=c.justify,  # type: ignore[arg-type]
                             style=c.style, min_width=widest if c.key else None)
        for r in rows:
            table.add_row(*r)
        console.print(table)
        return
    if title:
        console.print(title)
    head = next((i for i, c in enumerate(cols) if c.key), 0)
    label_w = max(_width(c.header) for c in cols)
    for r in rows:
        console.print(f"[bold]{r[head]}[/]", overflow="fold")
        for i, c in enumerate(cols):
            if i == head or i >= len(r) or not r[i]:
                continue
            grid = Table.grid(padding=(0, 1))
            grid.add_column(width=label_w + 2, style="dim", no_wrap=True)
            grid.add_column(overflow="fold")
            grid.add_row(f"  {escape(c.header)}", r[i])
            console.print(grid)
        console.print()


def print_findings(console: Console, doc: dict[str, Any]) -> None:
    """The audit's exposed findings, one row each (what, how bad, where, the release to move to),
    then the numbered list of what to do."""
    rows = []
    for f in doc.get("vulnerabilities") or []:
        if not f.get("exposed"):
            continue
        score = f" {f['score']}" if f.get("score") is not None else ""
        rows.append([show(f.get("id")), f"{show(f.get('severity'))}{score}",
                     show(f"{f.get('component')} {f.get('version') or ''}".strip()), show(f.get("fixed")),
                     show(", ".join(f.get("ecus") or []) or None),
                     escape(flaw(f.get("description") or f.get("summary")))])
    if rows:
        print_table(console, [Col("vulnerability", key=True), Col("severity"), Col("component", key=True),
                              Col("fixed in", key=True), Col("ECUs"), Col("what")], rows,
                    title=f"{len(rows)} exposed finding(s)")
    todo = doc.get("actions") or []
    if todo:
        console.print("what to do:")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", no_wrap=True, min_width=4)
        grid.add_column(overflow="fold")
        for i, a in enumerate(todo, 1):
            grid.add_row(f"{i}.", f"[bold]{escape(cell(a.get('kind')))}[/]: {show(a.get('text'), 1000)}")
        console.print(grid)


def output_paths(outdir: Any, outputs: dict[str, Any]) -> str:
    """One line naming every file an audit wrote, each with its full path (markup escaped)."""

    base = Path(outdir).resolve()
    parts = [str(base / str(outputs[k])) for k in ("html", "md", "json", "sarif") if outputs.get(k)]
    sboms = outputs.get("sboms") or []
    if sboms:
        parts.append(f"{base / 'sbom'}/ ({len(sboms)} SBOMs)")
    bus_log = outputs.get("bus_log")
    if bus_log:
        parts.append(str(base / str(bus_log)))
    return "wrote " + " ".join(escape(printable(p, 500)) for p in parts)


class StageLog:
    """The audit's progress: a bar on a terminal, plain ``· stage: status (time)`` lines in logs.

    Implements :class:`ecuscan.audit.AuditObserver`; call :meth:`finish` when the reports are
    written.
    """

    def __init__(self, console: Console, stages: Sequence[str] = AUDIT_STAGES, *, quiet: bool = False) -> None:
        self.console = console
        self.stages = list(stages)
        self.quiet = quiet
        self.tty = console.is_terminal
        self.current: str | None = None
        self.detail = ""
        self.started = time.perf_counter()
        self.progress: Any = None
        self.task: Any = None
        self.done: list[tuple[str, float, str]] = []

    def __enter__(self) -> StageLog:
        if self.tty and not self.quiet:
            # imported on first use: start-up (only long runs show progress)
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("audit", total=len(self.stages))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _close(self, status: str) -> None:
        if self.current is None:
            return
        elapsed = time.perf_counter() - self.started
        self.done.append((self.current, elapsed, status))
        if not self.tty and not self.quiet:
            detail = f" ({printable(self.detail, 120)})" if self.detail else ""
            self.console.print(f"· {self.current}: {status} in {elapsed:.2f} s{escape(detail)}",
                               markup=True, highlight=False)
        self.current = None

    def stage(self, name: str, detail: str = "") -> None:
        """A stage starts; the previous one has finished."""
        self._close("done")
        self.current, self.detail, self.started = name, detail, time.perf_counter()
        if self.progress is not None:
            index = self.stages.index(name) if name in self.stages else 0
            self.progress.update(self.task, completed=index,
                                 description=escape(f"{name} {printable(detail, 40)}".strip()))

    def finish(self, status: str = "done") -> None:
        """The last stage has finished with ``status``."""
        self._close(status)
        if self.progress is not None:
            self.progress.update(self.task, completed=len(self.stages))
