"""Identification from DWARF compile units: source paths name the component (and often its version).

``.../Middlewares/Third_Party/FreeRTOS/Source/tasks.c`` says FreeRTOS is linked in;
``.../lwip-2.2.1/src/core/tcp.c`` also says which lwIP. The catalog's ``dwarf_paths`` regexes
are matched against each unit's name and against ``comp_dir/name``; a ``v`` group gives the
version.

DW_AT_producer names the *compiler* that built a unit: that is build provenance
(``ecuscan.provenance``), not a component, and is not counted here. The one use made of the
toolchain here: when libgcc code is proven present (its compile units or its helper symbols),
the GCC version from the ``.comment`` banner is libgcc's version, because libgcc ships with
the compiler that linked the image.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache

from ..catalog import Catalog, CatalogEntry
from ..limits import Limits
from ..model import ComponentId, EvidenceMethod, Image, Relation
from ._hits import Hit, make_evidence

_GCC_BANNER = re.compile(r"GCC: \([^)]{0,120}\) (?P<v>\d+\.\d+\.\d+)")


@lru_cache(maxsize=8)
def _rules(catalog: Catalog) -> tuple[tuple[CatalogEntry, re.Pattern[str]], ...]:
    return tuple((e, re.compile(rx)) for e in catalog for rx in e.dwarf_paths)


def identify_dwarf(image: Image, catalog: Catalog, limits: Limits) -> list[Hit]:
    """CONTAINS hits for every catalog entry whose ``dwarf_paths`` match a compile unit."""
    rules = _rules(catalog)
    if not rules or not image.dwarf_units:
        return []
    hits: list[Hit] = []
    count: dict[tuple[str, str | None], int] = {}
    for unit in image.dwarf_units[: limits.max_dwarf_units]:
        paths = [unit.name]
        if unit.comp_dir and not unit.name.startswith("/"):
            paths.append(posixpath.normpath(posixpath.join(unit.comp_dir, unit.name)))
        for entry, rx in rules:
            for path in paths:
                m = rx.search(path)
                if m is None:
                    continue
                version = m.groupdict().get("v")
                key = (entry.id, version)
                if count.get(key, 0) < limits.max_evidence_per_component:
                    count[key] = count.get(key, 0) + 1
                    hits.append(Hit(entry.id, version, Relation.CONTAINS, make_evidence(
                        image, EvidenceMethod.DWARF_UNIT, path, limits=limits,
                        detail=f"{entry.id}:dwarf_paths {rx.pattern}")))
                break
    return hits


def runtime_version_hits(image: Image, catalog: Catalog, present: set[ComponentId], limits: Limits) -> list[Hit]:
    """libgcc's version from the GCC ``.comment`` banner, when libgcc is already proven present."""
    if "libgcc" not in present or catalog.get("libgcc") is None:
        return []
    for comment in image.comments:
        m = _GCC_BANNER.search(comment)
        if m is not None:
            return [Hit(ComponentId("libgcc"), m.group("v"), Relation.CONTAINS, make_evidence(
                image, EvidenceMethod.DWARF_PRODUCER, comment, limits=limits,
                detail="libgcc:gcc-comment-banner", confidence=0.6))]
    return []
