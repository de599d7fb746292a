"""One inventory of many scan results: which components, in which versions, in how many files.

A root filesystem gives thousands of results; a reader wants the components first and the
files second. :func:`inventory` groups the contained components of a batch by (component,
version) with the number of files and an example file, and :func:`files_with_findings`
lists the results that carry warnings or errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .model import EvidenceMethod, ImageFormat, Relation, ScanResult, Severity


@dataclass(frozen=True)
class InventoryRow:
    """A (component, version) of a batch: in how many files, one example, how it was recognised."""

    id: str
    name: str
    version: str | None
    files: int
    example: str
    methods: tuple[EvidenceMethod, ...]


def inventory(results: Iterable[ScanResult]) -> tuple[InventoryRow, ...]:
    """Contained components of ``results`` grouped by (id, version), most files first.

    Container results are skipped (their members are counted), so a ``.deb`` does not count
    its component twice.
    """
    rows: dict[tuple[str, str | None], tuple[str, int, str, set[EvidenceMethod]]] = {}
    for r in results:
        if r.format is ImageFormat.ARCHIVE:
            continue
        for c in r.components:
            if c.relation is not Relation.CONTAINS:
                continue
            key = (c.id, c.version)
            name, n, example, methods = rows.get(key, (c.name, 0, r.path, set()))
            methods.update(e.method for e in c.evidence)
            rows[key] = (name, n + 1, example, methods)
    out = [InventoryRow(cid, name, version, n, example, tuple(sorted(methods, key=lambda m: m.value)))
           for (cid, version), (name, n, example, methods) in rows.items()]
    out.sort(key=lambda row: (-row.files, row.id, row.version or ""))
    return tuple(out)


def files_with_findings(results: Iterable[ScanResult],
                        worst: frozenset[Severity] = frozenset({Severity.WARNING, Severity.ERROR})
                        ) -> tuple[ScanResult, ...]:
    """The results that carry a diagnostic of a severity in ``worst``."""
    return tuple(r for r in results if any(d.severity in worst for d in r.diagnostics))
