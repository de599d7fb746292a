"""The ``ecuscan`` command line: argument parsing and display only.

Each subcommand lives in its own module here and is a thin call into the library. The
table below maps command names to ``module:attribute`` and is imported lazily, so a
command whose optional dependency is missing fails only when it is chosen.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from .. import __version__

#: name -> "module:click-command attribute"
COMMANDS: dict[str, str] = {
    "audit": "ecuscan.cli.audit:command",
    "verify": "ecuscan.cli.verify:command",
    "discover": "ecuscan.cli.discover:command",
    "simulate": "ecuscan.cli.simulate:command",
    "graph": "ecuscan.cli.graph:command",
    "scan": "ecuscan.cli.scan:command",
    "store": "ecuscan.cli.store_cmd:command",
    "sbom": "ecuscan.cli.sbom:command",
    "diff": "ecuscan.cli.diff:command",
    "vulns": "ecuscan.cli.vulns:command",
    "report": "ecuscan.cli.report:command",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        cmd: Any = getattr(importlib.import_module(module), attr)
        return cmd  # type: ignore[no-any-return]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ecuscan")
def main() -> None:
    """ecuscan: ECU firmware supply-chain analyzer.

    Scan firmware for components and provenance, write and reconcile SBOMs, build the
    supply-chain graph, match vulnerabilities offline, and verify ECUs on a CAN bench.
    """
