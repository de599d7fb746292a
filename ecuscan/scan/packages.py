"""Package metadata merged into what a file's bytes show.

Package databases (dpkg/opkg status, rpm, ``.deb`` control files, changelogs) say which package
owns a file and at which version; :func:`merge_package` combines that with the components the
bytes showed (a disagreement is reported, not hidden). A scanned directory tree's package
database is read once per scan of a tree (:func:`tree_package_index`); a container's from its members.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from ..catalog import Catalog
from ..errors import EcuscanError
from ..limits import Limits
from ..model import Buffer, Component, Diagnostic, Relation, ScanResult, Severity
from ..safeio import read_regular

if TYPE_CHECKING:
    from ..identify.packages import PackageIndex


def merge_components(found: Iterable[Component], extra: Iterable[Component]) -> tuple[Component, ...]:
    """Add components from another source (package metadata) to what identification found.

    Same id and compatible version (equal, or one side unknown): one component with both
    sets of evidence. Otherwise both are kept.
    """
    out = list(found)
    for comp in extra:
        for i, have in enumerate(out):
            if have.id != comp.id or have.relation is not comp.relation:
                continue
            if have.version == comp.version or have.version is None or comp.version is None:
                version = have.version or comp.version
                best = have if have.version else comp
                out[i] = dataclasses.replace(
                    best, version=version, confidence=max(have.confidence, comp.confidence),
                    evidence=have.evidence + comp.evidence, package=have.package or comp.package)
                break
        else:
            out.append(comp)
    return tuple(sorted(out, key=Component.sort_key))


def package_listing(path: str, data: Buffer, catalog: Catalog,
                     limits: Limits) -> tuple[tuple[Component, ...], int] | None:
    """The catalog components a package database file lists, and its package count.

    ``None`` when ``path`` is no package listing (file lists and control files are not: they
    describe one package's files, which the scanner applies to those files).
    """
    from ..identify.packages import PackageIndex

    inner = path.replace("\\", "/").split("!/")[-1]
    if (not wants_package_db(inner) or inner.endswith((".list", "/control", "os-release"))
            or "/changelog" in inner):
        return None  # os-release names the distribution release, it lists no packages
    if len(data) > limits.max_document_bytes:
        return None
    index = PackageIndex.from_files({inner.lstrip("/"): bytes(data)}, catalog, limits)
    return index.listed_components(), len(index.packages)




def merge_package(found: Sequence[Component], owned: Iterable[Component],
                   built_in: Iterable[Component]) -> tuple[tuple[Component, ...], list[Diagnostic]]:
    """Merge package-database components into what a file's own bytes showed.

    ``owned``: the component of the package that owns the file. Where the bytes show that
    component with one *other* version, the package version is reported (the package database
    is the installed-software record that distribution advisories are keyed on) with the bytes'
    evidence kept beside it, and a ``package-version-conflict`` diagnostic says both: a binary
    that does not match its package is worth a look. ``built_in``: components the package
    declares as statically built in (Built-Using); each is kept only where the bytes already
    show that component, and then gives it its version.
    """
    out = list(found)
    notes: list[Diagnostic] = []
    for comp, confirm_only in [(c, False) for c in owned] + [(c, True) for c in built_in]:
        same = [i for i, c in enumerate(out) if c.id == comp.id and c.relation is Relation.CONTAINS]
        if confirm_only and not same:
            continue
        versions = {out[i].version for i in same} - {None}
        if comp.version in versions or not versions:
            out = list(merge_components(out, (comp,)))
            continue
        shown = ", ".join(sorted(v for v in versions if v is not None))
        if len(versions) > 1:  # several copies in the bytes: keep each, and the package's
            out.append(comp)
        else:
            merged = comp
            for i in same:
                merged = dataclasses.replace(merged, confidence=max(merged.confidence, out[i].confidence),
                                             evidence=merged.evidence + out[i].evidence)
            out = [c for i, c in enumerate(out) if i not in same] + [merged]
        notes.append(Diagnostic(
            code="package-version-conflict", severity=Severity.WARNING,
            message=f"{comp.id}: the file's bytes say {shown}, package metadata "
                    f"({comp.evidence[0].text}) says {comp.version}; reported as {comp.version}"
                    + (" beside the others" if len(versions) > 1 else "")))
    out.sort(key=Component.sort_key)
    return tuple(out), notes




def apply_packages(results: list[ScanResult], index: PackageIndex | None,
                    strip_prefix: Callable[[str], str]) -> list[ScanResult]:
    """Let files owned by a package inherit its component (package-metadata evidence)."""
    if index is None:
        return results
    out = []
    for r in results:
        path = strip_prefix(r.path)
        owned, built_in = index.components_for(path), index.built_using_for(path)
        if not owned:
            built_in += index.changelog_versions_for(r.components)
        notes = [Diagnostic(code="package-db-unreadable", message=f"{path}: {index.problems[path]}")
                 ] if path in index.problems else []
        components = r.components
        if owned or built_in:
            components, merged_notes = merge_package(r.components, owned, built_in)
            notes += merged_notes
        out.append(dataclasses.replace(r, components=components, diagnostics=(*r.diagnostics, *notes))
                   if notes or components is not r.components else r)
    return out




def wants_package_db(path: str) -> bool:
    """True for paths that the package-metadata reader wants (dpkg/opkg status, lists, .deb control).

    >>> wants_package_db("var/lib/dpkg/status"), wants_package_db("./usr/lib/libz.so.1")
    (True, False)
    """
    p = path.lstrip("./")
    match = _package_db_pattern().match
    return match(p) is not None or match("/" + p) is not None


@lru_cache(maxsize=1)
def _package_db_pattern() -> re.Pattern[str]:
    """:attr:`PackageIndex.DB_PATTERNS` as one compiled regular expression (``fnmatch`` semantics):
    every file of a scanned tree and every container member is tested, and one match over an
    alternation costs a fraction of one ``fnmatch`` call per pattern."""
    from ..identify.packages import PackageIndex

    return re.compile("|".join(f"(?:{fnmatch.translate(pat)})" for pat in PackageIndex.DB_PATTERNS))


def package_index(db_files: Mapping[str, bytes], catalog: Catalog) -> PackageIndex:
    from ..identify.packages import PackageIndex

    return PackageIndex.from_files(db_files, catalog)


def tree_package_index(root: str, files: Iterable[str], catalog: Catalog, limits: Limits) -> PackageIndex | None:
    """The package index of a scanned directory tree (``None``: it has none), from the package
    database files among ``files``, the tree's files as listed for the scan (it is not walked again)."""
    db = tree_package_db(root, files, limits)
    return package_index(db, catalog) if db else None


def tree_package_db(root: str, files: Iterable[str], limits: Limits) -> dict[str, bytes]:
    """The package-database files (dpkg/opkg status and lists ...) among ``files`` under ``root``."""
    out: dict[str, bytes] = {}
    total = 0
    under = root.rstrip(os.sep) + os.sep
    for fp in files:
        # the walk lists paths that start with the root: cutting it is what relpath (about 30 us a
        # file, all in Python) finds for them
        rel = fp[len(under):] if fp.startswith(under) else os.path.relpath(fp, root)
        if not wants_package_db(rel):
            continue
        try:
            data = read_regular(fp, limits.max_document_bytes - total)
        except (OSError, EcuscanError):
            continue  # unreadable, special, or over what is left: a package database this large is not a real one
        total += len(data)
        out[rel] = data
    return out
