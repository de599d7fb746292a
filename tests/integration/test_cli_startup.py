"""Start-up: ``ecuscan --help`` lists every command without importing any of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def _program(args: list[str], tmp: str) -> subprocess.CompletedProcess[str]:
    """``python -m ecuscan ARGS`` as a user runs it (the program's own exit, not click's test runner)."""
    env = {**os.environ, "ECUSCAN_STORE": f"sqlite:///{tmp}/store.sqlite"}
    return subprocess.run([sys.executable, "-m", "ecuscan", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp, check=False)


def test_the_program_exits_with_the_command_code_and_nothing_more_on_stderr(tmp_path: Path) -> None:
    """``run`` freezes the heap before the interpreter exits (its final collection is skipped): the
    exit code is the command's, the output is whole, and LIEF's bindings print no leak report."""
    ok = _program(["scan", "--json", "--no-cache", str(FIRMWARE / "gw_app.elf")], str(tmp_path))
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads(ok.stdout)["results"][0]["format"] == "elf"
    assert "leak" not in ok.stderr.lower() and "nanobind" not in ok.stderr.lower(), ok.stderr[-2000:]
    usage = _program(["scan", "--jobs", "0", str(FIRMWARE / "gw_app.elf")], str(tmp_path))
    assert usage.returncode == 2 and "expected auto or a number" in usage.stderr
    drift = _program(["audit", str(FIRMWARE.parent / "graphs" / "demo.yaml"), "-o", str(tmp_path / "out")],
                     str(tmp_path))
    assert drift.returncode == 1, drift.stderr[-2000:]  # the demo's bcm answers with another release
    assert (tmp_path / "out" / "report.json").is_file()
    assert "leak" not in drift.stderr.lower(), drift.stderr[-2000:]
