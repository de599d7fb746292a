"""README.md's sample outputs are what the commands print today (see readme_samples.py)."""

from __future__ import annotations

import difflib

import pytest

from .readme_samples import BLOCK, README, ROOT, regenerate


def test_readme_has_the_sample_blocks() -> None:
    commands = [m.group("cmd") for m in BLOCK.finditer(README.read_text("utf-8"))]
    for wanted in ("ecuscan scan ", "ecuscan sbom reconcile ", "ecuscan graph impact ", "ecuscan vulns match "):
        assert any(c.startswith(wanted) for c in commands), f"README has no sample block for {wanted!r}"


@pytest.mark.skipif(not (ROOT / "firmware" / "tcu_app.elf").is_file(), reason="demo firmware not built")
def test_readme_samples_match_the_commands() -> None:
    text = README.read_text("utf-8")
    new = regenerate(text)
    diff = "".join(difflib.unified_diff(text.splitlines(True), new.splitlines(True), "README.md", "commands"))
    assert new == text, ("README sample outputs are stale; run "
                         "'.venv/bin/python -m tests.unit.report.readme_samples --update':\n" + diff[:6000])
