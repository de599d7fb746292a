"""The README's sample outputs, regenerated from the real commands.

A sample block in README.md is marked::

    <!-- sample: ecuscan vulns match graphs/demo.yaml -->
        $ ecuscan vulns match graphs/demo.yaml
        ...what the command prints...
    <!-- /sample -->

Every marked command runs from the repository root at 80 columns (the width of a CI log)
with a fresh store into which the demo feeds are imported first; its standard output is the
block's body. ``python -m tests.unit.report.readme_samples --update`` rewrites the blocks;
``tests/unit/report/test_readme_samples.py`` fails when a block no longer matches.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- sample: (?P<cmd>[^>]+?) -->\n)(?P<body>.*?)(<!-- /sample -->)", re.S)
WIDTH = 80


def run_sample(command: str, store: str) -> str:
    """The body of a sample block: ``$ command`` and what it prints on stdout (indented)."""
    args = shlex.split(command)
    assert args[0] == "ecuscan", f"a README sample must run ecuscan: {command}"
    env = {**os.environ, "COLUMNS": str(WIDTH), "LINES": "50", "ECUSCAN_STORE": store, "NO_COLOR": "1",
           "TERM": "dumb", "SOURCE_DATE_EPOCH": "1767225600"}
    env.pop("FORCE_COLOR", None)
    res = subprocess.run([sys.executable, "-m", "ecuscan", *args[1:]], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600, check=False)
    lines = [f"$ {command}", *(line.rstrip() for line in res.stdout.rstrip("\n").splitlines())]
    return "\n" + "".join(f"    {line}\n" if line else "\n" for line in lines) + "\n"


def fresh_store(tmp: str) -> str:
    """A store with the demo feeds imported (what the README's walkthrough does first)."""
    store = f"sqlite:///{tmp}/samples.sqlite"
    env = {**os.environ, "ECUSCAN_STORE": store}
    subprocess.run([sys.executable, "-m", "ecuscan", "vulns", "import", "graphs/feeds"], cwd=ROOT, env=env,
                   capture_output=True, timeout=600, check=True)
    return store


def expected(text: str, store: str, empty_store: str) -> str:
    """README text with every sample block regenerated (``vulns import`` into an empty store)."""
    def sample(m: re.Match[str]) -> str:
        cmd = m.group("cmd")
        return m.group(1) + run_sample(cmd, empty_store if " vulns import " in f" {cmd} " else store) + m.group(4)

    return BLOCK.sub(sample, text)


def regenerate(text: str) -> str:
    """``text`` (the README) with its sample blocks as the commands print them now."""
    with tempfile.TemporaryDirectory() as tmp:
        return expected(text, fresh_store(tmp), f"sqlite:///{tmp}/empty.sqlite")


def main(argv: list[str]) -> int:
    text = README.read_text("utf-8")
    new = regenerate(text)
    if "--update" in argv:
        README.write_text(new, "utf-8")
        return 0
    return 0 if new == text else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
