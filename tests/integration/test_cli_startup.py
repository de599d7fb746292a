"""Start-up: ``ecuscan --help`` lists every command without importing any of them."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from ecuscan.cli import COMMANDS, SUMMARIES, main

#: What a command module may pull in; none of it is needed to list the commands.
HEAVY = ("networkx", "sqlalchemy", "jsonschema", "lief", "elftools", "rich.table", "ecuscan.scan.pipeline",
         "ecuscan.graph", "ecuscan.audit")


def test_every_command_has_a_summary() -> None:
    assert set(SUMMARIES) == set(COMMANDS)
    assert all(text.strip() for text in SUMMARIES.values())


def test_help_lists_every_command() -> None:
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0, res.output
    listed = res.output.split("Commands:", 1)[1]
    assert all(f"  {name} " in listed for name in COMMANDS)


def test_help_imports_no_command() -> None:
    code = ("import sys\nfrom ecuscan.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert res.stdout.strip().splitlines()[-1] == "[]", res.stdout[-2000:]
