"""Identification from DWARF compile units: source paths name the component (and often its version).

``.../Middlewares/Third_Party/FreeRTOS/Source/tasks.c`` says FreeRTOS is linked in;
``.../lwip-2.2.1/src/core/tcp.c`` also says which lwIP. The catalog's ``dwarf_paths`` regexes
are matched against each unit's name and against ``comp_dir/name``; a ``v`` group gives the
version.

DW_AT_producer names the *compiler* that built a unit: that is build provenance
(``ecuscan.provenance``), not a component, and is not counted here. The one use made of the
toolchain here: when libgcc or libstdc++ code is proven present (compile units, helper symbols,
SONAME), the GCC version from the ``.comment`` banner is its version, because both ship with
the compiler that built them.
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


#: Runtime libraries shipped with GCC itself: their release is the compiler's (catalog ids).
GCC_RUNTIMES = ("libgcc", "libstdcxx")


def runtime_version_hits(image: Image, catalog: Catalog, present: set[ComponentId], limits: Limits) -> list[Hit]:
    """The GCC release from the ``.comment`` banner for GCC's own runtime libraries proven present.

    libgcc (``libgcc_s.so.1`` or its helpers linked in) and libstdc++ (``libstdc++.so.6``) are
    built by the compiler they ship with, so the ``GCC: (...) 14.2.0`` banner of the image that
    holds their code names their release. Only components proven present by other evidence
    (symbols, SONAME, DWARF) get a version here; a program that merely links against them has
    them as USES, not CONTAINS, and is not touched.
    """
    wanted = [cid for cid in GCC_RUNTIMES if cid in present and catalog.get(cid) is not None]
    if not wanted:
        return []
    for comment in image.comments:
        m = _GCC_BANNER.search(comment)
        if m is not None:
            return [Hit(ComponentId(cid), m.group("v"), Relation.CONTAINS, make_evidence(
                image, EvidenceMethod.DWARF_PRODUCER, comment, limits=limits,
                detail=f"{cid}:gcc-comment-banner", confidence=0.6)) for cid in wanted]
    return []
