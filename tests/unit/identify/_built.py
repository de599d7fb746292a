"""What identification reports for an image built from real sources (shared by the source-build tests)."""

from __future__ import annotations

from pathlib import Path

from ecuscan.catalog import load_catalog
from ecuscan.formats import load
from ecuscan.identify import identify
from ecuscan.model import Relation


def versions_by_entry(path: str) -> dict[str, set[str | None]]:
    """Catalog id -> the versions reported as contained in the file at ``path`` (None: no version)."""
    p = Path(path)
    out: dict[str, set[str | None]] = {}
    for c in identify(load(p.read_bytes(), p.name), load_catalog()):
        if c.relation is Relation.CONTAINS:
            out.setdefault(c.id, set()).add(c.version)
    return out
