"""docs/architecture.md stays true: every path it names exists, and every package and top-level
module of ecuscan is placed in its table of packages."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_path_named_exists() -> None:
    named = set(re.findall(r"`((?:ecuscan|docs|tests)/[\w/.-]*)`", DOC))
    assert named, "the document names no paths"
    missing = sorted(p for p in named if not (ROOT / p.rstrip("/")).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_package_is_placed() -> None:
    pkg = ROOT / "ecuscan"
    parts = {f"ecuscan/{p.name}/" for p in pkg.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
             and p.name not in ("data", "schemas")}
    table = DOC.split("## Packages", 1)[1]
    unplaced = sorted(p for p in parts if f"`{p}`" not in table)
    assert not unplaced, f"packages missing from docs/architecture.md: {unplaced}"
