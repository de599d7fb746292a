"""Versions from the libraries a file loads, within one tree or container.

A file can prove a component present without saying which version: ``libm.so.6`` is glibc by
its name, but its bytes carry no release. In the same tree, the library it loads
(``DT_NEEDED libc.so.6``) does (``GNU C Library ... release version 2.41``). glibc's helper
libraries are bound to the exact ``libc.so.6`` of their build (they import its
``GLIBC_PRIVATE`` interface), and generally a program that contains a component's code and
loads that component's own shared library was built with it. So: a component present without
a version in a file takes the version of that component in a library the file loads, when

* the library is found in the same tree or container by its SONAME (or file name),
* the library is that component's own (its SONAME matches the component's catalog ``sonames``),
* all such libraries agree on exactly one version.

The evidence (``linked-library``, confidence 0.6) names the library and where it lies.

Then, for the programs and modules of a project, whose tools and plugins often load no library
of their own project and name no version (``scp``, ``mod_cgi.so``, ``libm.so.6``) and are
installed together: when every file of the tree that names a version of that project names the
same one, a file of it takes that version (``same-tree``, confidence 0.5, naming a file that
states it). Which files are the project's own is declared in the catalog: ``programs`` (file
names) and ``modules`` (path regexes) of every entry, and, for a *service* (``kind``), any file
where it is proven present. Libraries without declared programs or modules are left out on
purpose: their code is often bundled into other projects' files in another release (zlib inside
U-Boot), which the tree's own zlib says nothing about.

A file that names its own version is never changed. Package metadata, where a tree has it, is
more direct and is applied first; this fills versions a package-less tree (Buildroot, a bare
rootfs image) leaves open.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from functools import lru_cache

from ..catalog import Catalog, CatalogEntry
from ..limits import DEFAULT_LIMITS, Limits
from ..model import Component, Evidence, EvidenceMethod, ImageFormat, Relation, ScanResult
from ._hits import file_name, make_evidence
from .symbols import match_soname

__all__ = ["versions_from_links"]


def versions_from_links(results: Sequence[ScanResult], catalog: Catalog,
                        limits: Limits = DEFAULT_LIMITS) -> list[ScanResult]:
    """``results`` (one tree or container) with versions filled from the libraries each loads."""
    by_name: dict[str, list[ScanResult]] = {}
    for r in results:
        for name in {r.soname, file_name(r.path)} - {None, ""}:
            if len(by_name) < limits.max_members:
                by_name.setdefault(str(name), []).append(r)
    out = []
    for r in results:
        if not r.needed or not any(c.version is None and c.relation is Relation.CONTAINS for c in r.components):
            out.append(r)
            continue
        changed = False
        comps = list(r.components)
        for i, c in enumerate(comps):
            if c.version is not None or c.relation is not Relation.CONTAINS:
                continue
            found: dict[str, tuple[str, ScanResult]] = {}
            for needed in r.needed[: limits.max_items_per_kind]:
                if all(entry.id != c.id for entry, _v, _rule in match_soname(catalog, needed)):
                    continue  # not this component's own library
                for lib in by_name.get(needed, [])[:4]:
                    if lib is r:
                        continue
                    versions = {x.version for x in lib.components
                                if x.id == c.id and x.relation is Relation.CONTAINS and x.version}
                    if len(versions) == 1:
                        found.setdefault(versions.pop(), (needed, lib))
            if len(found) != 1:
                continue
            version, (needed, lib) = next(iter(found.items()))
            ev = make_evidence(None, EvidenceMethod.LINKED_LIBRARY, f"{needed} -> {lib.path}: {c.name} {version}",
                               limits=limits, detail="the same component in a library this file loads")
            comps[i] = _with_version(c, version, ev, catalog, limits)
            changed = True
        out.append(dataclasses.replace(r, components=_sorted(comps)) if changed else r)
    return _same_tree(out, catalog, limits)


def _declares(entry: CatalogEntry | None, path: str) -> bool:
    """True when ``path`` is one of the entry's own programs or modules (by name / path regex)."""
    if entry is None:
        return False
    if file_name(path) in entry.programs:
        return True
    inner = path.split("!/")[-1]
    return any(rx.search(inner) for rx in _module_rules(entry))


@lru_cache(maxsize=1024)
def _module_rules(entry: CatalogEntry) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(rx) for rx in entry.modules)


def _same_tree(results: list[ScanResult], catalog: Catalog, limits: Limits) -> list[ScanResult]:
    """Versions of a project's programs and modules from the one version the rest of the tree names.

    * a file where a *service* is present without a version, or where any entry is present
      without a version and the file is one of that entry's ``programs`` / ``modules``, takes
      the tree's one version of it;
    * a file that no method tied to an entry but that *is* one of its declared programs or modules
      (``ssh-keygen`` beside an ``ssh`` that names OpenSSH 10.0p1, ``mod_cgi.so`` beside lighttpd)
      gets that entry at the tree's one version. Only ELF files count (a script or a text file
      of the same name is not the program), and only a version named by a file of the tree
      itself, never one this rule gave.
    """
    named: dict[str, dict[str, ScanResult]] = {}
    for r in results:
        for c in r.components:
            entry = catalog.get(c.id)
            if (c.version and c.relation is Relation.CONTAINS and entry is not None
                    and (entry.kind == "service" or entry.programs or entry.modules)):
                named.setdefault(c.id, {}).setdefault(c.version, r)
    single = {cid: next(iter(v.items())) for cid, v in named.items() if len(v) == 1}
    if not single:
        return results
    declaring = [e for e in catalog if e.id in single and (e.programs or e.modules)]
    out = []
    for r in results:
        comps = list(r.components)
        changed = False
        present = {c.id for c in comps if c.relation is Relation.CONTAINS}
        for i, c in enumerate(comps):
            if c.version is not None or c.relation is not Relation.CONTAINS or c.id not in single:
                continue
            entry = catalog.get(c.id)
            if entry is None or not (entry.kind == "service" or _declares(entry, r.path)):
                continue
            version, source = single[c.id]
            ev = make_evidence(None, EvidenceMethod.SAME_TREE, f"{source.path}: {c.name} {version}", limits=limits,
                               detail=f"the one version of {c.name} named in this tree")
            comps[i] = _with_version(c, version, ev, catalog, limits)
            changed = True
        if r.format is ImageFormat.ELF:
            for entry in declaring:
                if entry.id in present or not _declares(entry, r.path):
                    continue
                version, source = single[entry.id]
                if source is r:
                    continue
                ev = make_evidence(None, EvidenceMethod.SAME_TREE, f"{source.path}: {entry.name} {version}",
                                   limits=limits, detail=f"{entry.id}:programs (a program or module of {entry.name}"
                                                         f" beside the one version the tree names)")
                comps.append(Component(id=entry.id, name=entry.name, version=version, purl=entry.purl(version),
                                       cpe=entry.cpe(version), vendor=entry.vendor, relation=Relation.CONTAINS,
                                       confidence=ev.confidence, evidence=(ev,)))
                changed = True
        out.append(dataclasses.replace(r, components=_sorted(comps)) if changed else r)
    return out


def _with_version(c: Component, version: str, ev: Evidence, catalog: Catalog, limits: Limits) -> Component:
    """``c`` at ``version`` (purl and CPE too), with the evidence that gave it."""
    entry = catalog.get(c.id)
    return dataclasses.replace(c, version=version, purl=entry.purl(version) if entry else c.purl,
                               cpe=entry.cpe(version) if entry else c.cpe,
                               evidence=(*c.evidence[: limits.max_evidence_per_component - 1], ev))


def _sorted(comps: list[Component]) -> tuple[Component, ...]:
    return tuple(sorted(comps, key=Component.sort_key))
