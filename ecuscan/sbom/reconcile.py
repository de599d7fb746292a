"""Declared vs found: does the supplier's SBOM match what is inside the binary?

Each declared component is resolved through the catalog (purl first, then CPE, then the
name and its aliases), so "mbedTLS", "mbed TLS", ``pkg:github/Mbed-TLS/mbedtls`` and
``cpe:2.3:a:arm:mbed_tls`` all meet the found component ``mbedtls``. A declared component
the catalog does not know is matched to a found one by folded name only.

Outcome lists:

* ``matched`` — found and declared with the same version (or one side states none);
* ``version_mismatch`` — found and declared, with different versions;
* ``undeclared`` — contained in the image but missing from the SBOM (with evidence);
* ``unconfirmed`` — declared but not found. ``detectable`` says whether ecuscan's catalog
  knows the component at all: an undetectable one is "cannot check", not "absent";
* ``undeclared_uses`` — run-time dependencies (DT_NEEDED ...) the SBOM does not list;
  informational, since their code is not inside the image.

Completeness score: ``matched / (matched + version_mismatch + undeclared)`` — the share of
what is really inside the image that the SBOM states correctly (1.0 when the image holds
nothing ecuscan recognises). Unconfirmed components do not lower it (they may be real but
undetectable); they are reported beside it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..catalog import Catalog, CatalogEntry, normalize_name
from ..model import Component, Relation, ScanResult
from .records import DeclaredComponent, DeclaredSbom


def normalize_version(version: str) -> str:
    """Fold a version for comparison: trim, drop a leading ``v``, and trailing ``.0`` parts.

    >>> normalize_version("v1.3.0") == normalize_version("1.3")
    True
    >>> normalize_version("V10.6.2")
    '10.6.2'
    """
    v = version.strip().lower()
    v = re.sub(r"^v(?=\d)", "", v)
    while re.search(r"\.0+$", v) and v.count(".") > 1:
        v = re.sub(r"\.0+$", "", v)
    return v


def versions_equal(a: str | None, b: str | None) -> bool:
    """Equal after :func:`normalize_version` (``None`` never equals a version)."""
    return a is not None and b is not None and normalize_version(a) == normalize_version(b)


@dataclass(frozen=True)
class ReconItem:
    """One line of a reconciliation: a component id with what was found and/or declared."""

    key: str  # catalog id, or "name:<folded name>" for components the catalog does not know
    name: str
    found: tuple[Component, ...] = ()
    declared: tuple[DeclaredComponent, ...] = ()
    detectable: bool = True

    @property
    def found_versions(self) -> tuple[str, ...]:
        """Distinct versions found (sorted), unknown versions left out."""
        return tuple(sorted({c.version for c in self.found if c.version}))

    @property
    def declared_versions(self) -> tuple[str, ...]:
        """Distinct versions declared (sorted), missing versions left out."""
        return tuple(sorted({d.version for d in self.declared if d.version}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (found components with their evidence)."""
        return {"key": self.key, "name": self.name, "found_versions": list(self.found_versions),
                "declared_versions": list(self.declared_versions), "detectable": self.detectable,
                "found": [c.to_dict() for c in self.found], "declared": [d.to_dict() for d in self.declared]}


@dataclass(frozen=True)
class Reconciliation:
    """The outcome of :func:`reconcile` (see the module docstring for the lists and the score)."""

    sbom: str
    images: tuple[str, ...]
    matched: tuple[ReconItem, ...] = ()
    version_mismatch: tuple[ReconItem, ...] = ()
    undeclared: tuple[ReconItem, ...] = ()
    unconfirmed: tuple[ReconItem, ...] = ()
    undeclared_uses: tuple[ReconItem, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def completeness(self) -> float:
        """matched / (matched + version_mismatch + undeclared); 1.0 when that is 0/0."""
        denom = len(self.matched) + len(self.version_mismatch) + len(self.undeclared)
        return 1.0 if denom == 0 else len(self.matched) / denom

    @property
    def passed(self) -> bool:
        """True when nothing inside the image is missing from the SBOM."""
        return not self.undeclared

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"sbom": self.sbom, "images": list(self.images), "completeness": round(self.completeness, 4),
                "passed": self.passed,
                "counts": {k: len(getattr(self, k)) for k in
                           ("matched", "version_mismatch", "undeclared", "unconfirmed", "undeclared_uses")},
                "matched": [i.to_dict() for i in self.matched],
                "version_mismatch": [i.to_dict() for i in self.version_mismatch],
                "undeclared": [i.to_dict() for i in self.undeclared],
                "unconfirmed": [i.to_dict() for i in self.unconfirmed],
                "undeclared_uses": [i.to_dict() for i in self.undeclared_uses],
                "notes": list(self.notes)}


def resolve_declared(d: DeclaredComponent, catalog: Catalog) -> CatalogEntry | None:
    """The catalog entry a declared component names: by purl, then CPE, then name/alias."""
    for ref in (d.purl, d.cpe, d.name):
        if ref:
            entry = catalog.resolve(ref)
            if entry is not None:
                return entry
    return None


def reconcile(found: ScanResult | Sequence[ScanResult], declared: DeclaredSbom, catalog: Catalog) -> Reconciliation:
    """Compare what the scan found with what the supplier SBOM declares.

    ``found`` is one scan result or several (an image and its container members); the
    SBOM's own product entry (metadata component / described package) is not a component.
    """
    results = [found] if isinstance(found, ScanResult) else list(found)
    by_key_found: dict[str, list[Component]] = {}
    names: dict[str, str] = {}
    for r in results:
        for c in r.components:
            by_key_found.setdefault(c.id, []).append(c)
            names.setdefault(c.id, c.name)
    by_key_decl: dict[str, list[DeclaredComponent]] = {}
    detectable: dict[str, bool] = {}
    found_by_name = {normalize_name(c.name): k for k, cs in by_key_found.items() for c in cs}
    image_names = {normalize_name(r.path.rsplit("/", 1)[-1]) for r in results}
    for d in declared.components:
        entry = resolve_declared(d, catalog)
        if entry is not None:
            key = str(entry.id)
            names.setdefault(key, entry.name)
            detectable[key] = True
        else:
            folded = normalize_name(d.name)
            if folded in image_names:
                continue  # the SBOM lists the image itself as a component
            key = found_by_name.get(folded, f"name:{folded}")
            names.setdefault(key, d.name)
            detectable.setdefault(key, key in by_key_found)
        by_key_decl.setdefault(key, []).append(d)

    matched, mismatch, undeclared, unconfirmed, uses = [], [], [], [], []
    for key in sorted(set(by_key_found) | set(by_key_decl)):
        fc = tuple(by_key_found.get(key, ()))
        dc = tuple(by_key_decl.get(key, ()))
        item = ReconItem(key=key, name=names[key], found=fc, declared=dc, detectable=detectable.get(key, True))
        if fc and dc:
            fv, dv = item.found_versions, item.declared_versions
            if not fv or not dv or any(versions_equal(a, b) for a in fv for b in dv):
                matched.append(item)
            else:
                mismatch.append(item)
        elif fc:
            if any(c.relation is Relation.CONTAINS for c in fc):
                undeclared.append(item)
            else:
                uses.append(item)
        else:
            unconfirmed.append(item)
    notes = []
    if not declared.components:
        notes.append("the SBOM declares no components")
    return Reconciliation(sbom=declared.source, images=tuple(r.path for r in results), matched=tuple(matched),
                          version_mismatch=tuple(mismatch), undeclared=tuple(undeclared),
                          unconfirmed=tuple(unconfirmed), undeclared_uses=tuple(uses), notes=tuple(notes))
