"""docs/limits.md documents every Limits setting with its default (the table is generated
from ecuscan/limits.py; ECUSCAN_UPDATE_DOCS=1 rewrites it; a changed default or a new or
removed setting fails the test)."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
from pathlib import Path

from ecuscan.limits import DEFAULT_LIMITS, Limits

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "limits.md"
BEGIN, END = "<!-- limits-table:begin -->", "<!-- limits-table:end -->"


def _fields_from_source() -> list[tuple[str, str, str]]:
    """(name, default expression as written, #: comment) for each field, in source order."""
    src = (ROOT / "ecuscan" / "limits.py").read_text()
    lines = src.splitlines()
    out = []
    cls = next(n for n in ast.parse(src).body if isinstance(n, ast.ClassDef) and n.name == "Limits")
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            comment = []
            i = node.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#:"):
                comment.insert(0, lines[i].strip()[2:].strip())
                i -= 1
            out.append((node.target.id, ast.get_source_segment(src, node.value) or "", " ".join(comment)))
    return out


def _users(name: str) -> str:
    mods = sorted({str(p.relative_to(ROOT / "ecuscan")).removesuffix(".py").replace("/", ".")
                   for p in (ROOT / "ecuscan").rglob("*.py") if p.name != "limits.py"
                   and re.search(rf"\.{name}\b", p.read_text(errors="replace"))})
    return ", ".join(f"`{m}`" for m in mods) or "-"


def render_table() -> str:
    rows = ["| setting | default | meaning | read by |", "| --- | --- | --- | --- |"]
    for name, expr, comment in _fields_from_source():
        value = getattr(DEFAULT_LIMITS, name)
        default = f"`{expr}`" if expr == repr(value) else f"`{expr}` ({value:,})"
        rows.append(f"| `{name}` | {default} | {comment.replace('|', '/')} | {_users(name)} |")
    return "\n".join(rows)


def test_doc_lists_every_limit_with_its_default() -> None:
    table = render_table()
    text = DOC.read_text()
    if os.environ.get("ECUSCAN_UPDATE_DOCS"):
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), f"{BEGIN}\n{table}\n{END}", text, flags=re.S)
        DOC.write_text(text)
    names = [f.name for f in dataclasses.fields(Limits)]
    assert [n for n, _, _ in _fields_from_source()] == names
    assert all(c for _, _, c in _fields_from_source()), "every limit needs a #: comment saying what it bounds"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    documented = {row.split("|")[1].strip().strip("`"): row.split("|")[2].strip()
                  for row in block.splitlines()[2:]}
    expected = {row.split("|")[1].strip().strip("`"): row.split("|")[2].strip() for row in table.splitlines()[2:]}
    # every setting is listed, none that does not exist, each with today's default
    # (wording of the comments may lag; ECUSCAN_UPDATE_DOCS=1 regenerates the whole table)
    stale = {n: (documented.get(n), d) for n, d in expected.items() if documented.get(n) != d}
    assert not stale, f"docs/limits.md is out of date (run with ECUSCAN_UPDATE_DOCS=1): {stale}"
    assert set(documented) == set(names)
