"""Pieces shared by the subcommands: options, consoles, error handling, exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from ..errors import EcuscanError, IncompleteError
from ..jsontext import dumps_indented
from ..textsafe import printable

EXIT_OK = 0
EXIT_FINDINGS = 1  # the findings policy failed (mismatch, undeclared, severity ...)
EXIT_USAGE = 2  # usage or input errors
EXIT_INCOMPLETE = 3  # something asked for could not be checked (bus, image, feed, scan error)

F = TypeVar("F", bound=Callable[..., Any])

#: Console for human output (stdout) and one for errors/progress (stderr).
out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


def safe(text: object, limit: int = 200) -> str:
    """A hostile string made safe for rich output: control characters neutralised, markup escaped."""
    return escape(printable(str(text), limit))


def store_option(f: F) -> F:
    """``--store`` (URL or path; default ``$ECUSCAN_STORE`` or the per-user inventory)."""
    return click.option("--store", "store_url", envvar="ECUSCAN_STORE", default=None,
                        help="Inventory: sqlite:///PATH, postgresql://..., or a file path "
                             "(default: $ECUSCAN_STORE or ~/.local/share/ecuscan/inventory.sqlite).")(f)


def json_option(f: F) -> F:
    """``--json``: machine-readable output on stdout."""
    return click.option("--json", "as_json", is_flag=True, help="Print a JSON document instead of tables.")(f)


def print_json(doc: Any) -> None:
    """Write a JSON document to stdout (UTF-8, sorted keys, no terminal markup)."""
    sys.stdout.write(dumps_indented(doc) + "\n")
    sys.stdout.flush()


def handle_errors(f: F) -> F:
    """Turn :class:`EcuscanError` into a one-line message and exit code 2."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except IncompleteError as exc:
            err.print("[bold magenta]INCOMPLETE[/] nothing was checked to the end")
            err.print(f"[bold red]error:[/] {safe(exc, 2000)}")
            sys.exit(EXIT_INCOMPLETE)
        except EcuscanError as exc:
            err.print(f"[bold red]error:[/] {safe(exc, 2000)}")
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


def allow_incomplete_option(f: F) -> F:
    """``--allow-incomplete``: accept a run in which something could not be checked (exit 0/1, not 3)."""
    return click.option("--allow-incomplete", "allow_incomplete", is_flag=True,
                        help="Accept an INCOMPLETE run (a stage that could not check: bus not opened, image "
                             "missing, feed not imported, ECU silent): exit 0/1 instead of 3. The report still "
                             "says INCOMPLETE.")(f)


def run_status(failed: bool, incomplete: Sequence[Any]) -> str:
    """``"failed"`` (a policy failed), else ``"incomplete"`` (something could not be checked), else ``"passed"``.

    >>> run_status(False, []), run_status(False, ["bus"]), run_status(True, ["bus"])
    ('passed', 'incomplete', 'failed')
    """
    if failed:
        return "failed"
    return "incomplete" if incomplete else "passed"


def exit_code(failed: bool, incomplete: Sequence[Any], allow_incomplete: bool = False) -> int:
    """The project-wide exit code of a checking command.

    1 when a policy failed (a definite finding wins: the release is blocked either way); 3 when
    nothing failed but something asked for could not be checked, unless ``allow_incomplete``;
    else 0.

    >>> exit_code(False, []), exit_code(False, ["x"]), exit_code(False, ["x"], True), exit_code(True, ["x"])
    (0, 3, 0, 1)
    """
    if failed:
        return EXIT_FINDINGS
    if incomplete and not allow_incomplete:
        return EXIT_INCOMPLETE
    return EXIT_OK


def incomplete_banner(items: Sequence[Any], allowed: bool = False, console: Console | None = None) -> None:
    """Print the INCOMPLETE banner and one line per stage that could not check (``Incomplete`` records
    or dicts with stage/source/reason). Call it before any other output of the result."""
    if not items:
        return
    c = console or err
    accepted = " (accepted with --allow-incomplete)" if allowed else ""
    c.print(f"[bold white on magenta] INCOMPLETE [/] {len(items)} thing(s) asked for could not be checked"
            f"{accepted}; this run is not a pass:")
    for it in items:
        d = it if isinstance(it, dict) else it.to_dict()
        c.print(f"  · [magenta]{safe(d['stage'], 40)}[/] {safe(d['source'], 200)}: {safe(d['reason'], 500)}")
