"""Component identification: every method over one :class:`~ecuscan.model.Image`, merged.

Methods (one module each): :mod:`.signatures` (version strings, markers, bare version hints),
:mod:`.symbols` (defined symbols, SONAME / file name, DT_NEEDED and symbol versions),
:mod:`.dwarf` (compile-unit paths), :mod:`.autosar` (BSW module APIs), and
:mod:`.packages` (package databases of a tree, used by the scanner per file).

Merging rules, per catalog id:

* a string hit for a *library* or *runtime* (Lua, Python...) is a *mention* (USES) rather than
  code (CONTAINS) when the
  image imports that library (DT_NEEDED / undefined symbols / symbol versions) and nothing
  but strings says it holds its code (e.g. ``nginx -V`` quoting ``OPENSSL_VERSION_TEXT``).
  Services and tools are not demoted: ``mosquitto_ctrl`` importing ``libmosquitto`` is still
  mosquitto's own program; nor are a library project's own programs named in the catalog's
  ``programs`` (the ``openssl`` CLI holds OpenSSL's own code besides importing libssl).
* a version string standing in a vulnerability description (CVE text) is no hit at all
  (:func:`.signatures.in_advisory`).
* a version that is a strict prefix of another kept version of the same component
  (``10.0`` beside ``10.0p2``) is dropped;
* a marker string that is the name of a symbol the image imports is a USES hit, and so is
  one that is a D-Bus name (``org.freedesktop.Avahi``): every client of a service carries the
  service's bus name to call it, so the name proves talking to the service, not holding its code;
* bare version hints count only when another method proved presence, and only when unique; a
  file named like one of the entry's ``programs`` that links the project's library counts as
  present for its hint (``sudo`` importing ``libsudo_util``, its version joined to the name by code);
* all versions with *strong* evidence (a version string, a versioned SONAME/file name,
  DWARF path or package database) are kept as separate components; otherwise the
  best-evidenced version is chosen; version-less evidence joins the chosen version;
* confidence is the noisy-OR of the best confidence per method; evidence is capped at
  ``limits.max_evidence_per_component``, strongest first.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache

from ..catalog import Catalog, CatalogEntry, load_catalog
from ..limits import DEFAULT_LIMITS, Limits
from ..model import Component, ComponentId, Evidence, EvidenceMethod, Image, Relation
from ._hits import Hit, file_name
from .autosar import identify_autosar
from .dwarf import identify_dwarf, runtime_version_hits
from .packages import package_note_hits
from .signatures import SignatureScan, hint_hits, scan
from .symbols import identify_symbols

__all__ = ["identify", "merge_hits"]

#: Confidence from which one piece of versioned evidence counts as *strong*.
STRONG = 0.85
_CODE_METHODS = {EvidenceMethod.SYMBOL, EvidenceMethod.SONAME, EvidenceMethod.FILE_NAME,
                 EvidenceMethod.DWARF_UNIT, EvidenceMethod.PACKAGE_METADATA, EvidenceMethod.CONSTANT}


#: A D-Bus bus or interface name: reverse-DNS, three or more dotted elements.
_DBUS_NAME = re.compile(r"^(?:org|com|net|io|de|fi|ca)\.[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+$")


def _combine(evidence: list[Evidence]) -> float:
    best: dict[EvidenceMethod, float] = {}
    for e in evidence:
        best[e.method] = max(best.get(e.method, 0.0), e.confidence)
    miss = 1.0
    for c in best.values():
        miss *= 1.0 - c
    return round(1.0 - miss, 4)


def _component(catalog: Catalog, cid: ComponentId, version: str | None, relation: Relation,
               evidence: list[Evidence], limits: Limits) -> Component:
    entry = catalog.get(cid)
    ev = sorted(evidence, key=lambda e: (-e.confidence, e.offset if e.offset is not None else -1))
    ev = ev[: limits.max_evidence_per_component]
    if entry is None:  # a hit for an id the catalog lacks cannot happen; keep it visible anyway
        return Component(id=cid, name=cid, version=version, purl=f"pkg:generic/{cid}",
                         relation=relation, confidence=_combine(evidence), evidence=tuple(ev))
    purl, cpe = _identifiers(entry, version)
    return Component(id=cid, name=entry.name, version=version, purl=purl,
                     cpe=cpe, vendor=entry.vendor, relation=relation,
                     confidence=_combine(evidence), evidence=tuple(ev))


@lru_cache(maxsize=4096)
def _identifiers(entry: CatalogEntry, version: str | None) -> tuple[str, str | None]:
    """``(purl, cpe)`` of ``entry`` at ``version``: the same few recur in every file, and building a
    purl (packageurl's parser and serialiser) costs more than the rest of a component."""
    return entry.purl(version), entry.cpe(version)


def merge_hits(hits: list[Hit], catalog: Catalog, limits: Limits = DEFAULT_LIMITS) -> tuple[Component, ...]:
    """Merge the hits of all methods into one component per (id, relation, kept version)."""
    groups: dict[tuple[ComponentId, Relation], list[Hit]] = defaultdict(list)
    for h in hits:
        groups[(h.component, h.relation)].append(h)
    out: list[Component] = []
    for (cid, relation), group in groups.items():
        if relation is Relation.USES and (cid, Relation.CONTAINS) in groups:
            continue  # contained code is also "used"; CONTAINS says more
        by_version: dict[str, list[Evidence]] = defaultdict(list)
        versionless: list[Evidence] = []
        for h in group:
            (by_version[h.version] if h.version else versionless).append(h.evidence)
        if not by_version:
            out.append(_component(catalog, cid, None, relation, versionless, limits))
            continue
        strong = [v for v, ev in by_version.items() if max(e.confidence for e in ev) >= STRONG]
        if strong:
            best = max(strong, key=lambda v: (_combine(by_version[v]), len(by_version[v])))
            keep = strong
        else:
            best = max(by_version, key=lambda v: (_combine(by_version[v]), len(by_version[v])))
            keep = [best]
        keep = [v for v in keep if not any(o != v and o.startswith(v) and not o[len(v)].isdigit()
                                           for o in keep)]
        if best not in keep:
            best = max(keep, key=lambda v: (_combine(by_version[v]), len(by_version[v])))
        for v in keep:
            ev = by_version[v] + (versionless if v == best else [])
            out.append(_component(catalog, cid, v, relation, ev, limits))
    out.sort(key=Component.sort_key)
    return tuple(out)


def _own_program_hits(image: Image, catalog: Catalog, hits: list[Hit], found: SignatureScan,
                      program: str, limits: Limits) -> list[Hit]:
    """The version of a project's own program that only links the project's library.

    A file named like one of the entry's ``programs`` that imports the project's library (a USES
    hit: DT_NEEDED, an imported marker symbol) and holds no code evidence of its own is still the
    project's program (``sudo`` linking ``libsudo_util``); its bare version string (the version
    joined to the name by code: ``"Sudo version %s"``) is then the project's version, under the
    same rules as any hint (the entry's ``version_hints``, one distinct candidate, strings that
    are another component's version evidence excluded).
    """
    present = {h.component for h in hits if h.relation is Relation.CONTAINS}
    claimed = frozenset(h.evidence.offset for h in hits if h.version and h.evidence.offset is not None)
    out: list[Hit] = []
    for cid in sorted({h.component for h in hits if h.relation is Relation.USES} - present):
        entry = catalog.get(cid)
        if entry is None or program not in entry.programs:
            continue
        out += hint_hits(image, catalog, cid, found, limits, claimed,
                         why=f"{program} is a program of {cid} and links its library")
    return out


def identify(image: Image, catalog: Catalog | None = None, limits: Limits = DEFAULT_LIMITS) -> tuple[Component, ...]:
    """Identify the components in (CONTAINS) and used by (USES) ``image``, with evidence."""
    catalog = catalog if catalog is not None else load_catalog()
    found = scan(image, catalog, limits)
    other = identify_symbols(image, catalog, limits)
    other += identify_dwarf(image, catalog, limits)
    other += identify_autosar(image, catalog, limits)
    other += package_note_hits(image, catalog, limits)

    imported = {h.component for h in other if h.relation is Relation.USES}
    code = {h.component for h in other
            if h.relation is Relation.CONTAINS and h.evidence.method in _CODE_METHODS}
    undefined = {s.name for s in image.symbols[: limits.max_symbols] if not s.defined}
    program = file_name(image.path)
    hits: list[Hit] = []
    for h in found.hits:
        if h.evidence.method is EvidenceMethod.MARKER_STRING and (
                h.evidence.text in undefined or _DBUS_NAME.match(h.evidence.text.removesuffix("\\x00"))):
            # the marker is the name of a symbol the image imports (its .dynstr entry): that is
            # a use of the library, not its code (libnftables importing xtables_init_all)
            h = Hit(h.component, h.version, Relation.USES, h.evidence)
            hits.append(h)
            continue
        entry = catalog.get(h.component)
        if (h.component in imported and h.component not in code and entry is not None
                and entry.kind in ("library", "runtime") and program not in entry.programs):
            h = Hit(h.component, h.version, Relation.USES, h.evidence)
        hits.append(h)
    hits += other
    present = {h.component for h in hits if h.relation is Relation.CONTAINS}

    def unversioned() -> list[ComponentId]:
        return [cid for cid in sorted(present)
                if not any(h.component == cid and h.version and h.relation is Relation.CONTAINS
                           for h in hits)]

    # a bare string that is another component's version string ("2.0.11" of mosquitto's
    # "2.0.11\0mosquitto version %s") is no candidate for a component proven present without one
    patterned = frozenset(h.evidence.offset for h in hits if h.version and h.evidence.offset is not None)
    for cid in unversioned():
        hits += hint_hits(image, catalog, cid, found, limits, patterned)
    # second pass: a bare string that is already another component's version evidence (zlib's
    # "1.3.1") is no candidate for a component whose hint was ambiguous (lwIP's "2.2.1" beside it)
    for cid in unversioned():
        claimed = frozenset(h.evidence.offset for h in hits
                            if h.version and h.component != cid and h.evidence.offset is not None)
        hits += hint_hits(image, catalog, cid, found, limits, claimed)
    hits += _own_program_hits(image, catalog, hits, found, program, limits)
    hits += runtime_version_hits(image, catalog, present, limits)
    return merge_hits(hits, catalog, limits)
