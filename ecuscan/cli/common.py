"""Pieces shared by the subcommands: options, consoles, error handling, exit codes."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from ..errors import EcuscanError
from ..textsafe import printable

EXIT_OK = 0
EXIT_FINDINGS = 1  # the findings policy failed (mismatch, undeclared, severity ...)
EXIT_USAGE = 2  # usage or input errors

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
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def handle_errors(f: F) -> F:
    """Turn :class:`EcuscanError` into a one-line message and exit code 2."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except EcuscanError as exc:
            err.print(f"[bold red]error:[/] {safe(exc, 2000)}")
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]
