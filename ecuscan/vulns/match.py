"""Matching components against vulnerabilities: identity first, then version ranges.

Identity goes through the catalog: a range names its product by CPE ``vendor:product``,
purl, product or package name; it counts for a component only when it resolves to the
component's own catalog entry (so the Debian, Fedora or NetApp configurations of an NVD
record never match a BusyBox on an ECU). A CPE, when given, is the only key used for that
range. Versions are compared with :mod:`ecuscan.vulns.ranges` (univers). Each finding
names the record, the range and the key that produced it.

Verdict rules, per source (CVE 5 CNA, CVE 5 ADP, NVD, OSV): an ``unaffected`` range that
contains the version wins inside its source (curl's pairs); else an ``affected`` range
that contains it makes the source say affected; else the block's ``defaultStatus``
decides, not-affected by default. Across sources the cautious answer wins: any source
saying affected makes the finding affected. A source with no usable range ("n/a", NVD
``-``, commit ranges) yields ``unknown-range``, never ``affected``; so does a range the feed
wrote wrongly (inverted, unparseable, a number for a version), which is also a feed problem.

Package-aware matching (:mod:`ecuscan.vulns.distro`): a component whose version came from a
package database carries the installed package (:meth:`Component.installed_package`). When
the imported feeds hold advisories of that package's distribution release about the same
vulnerability, they decide: fixed in the installed revision => not-affected, justification
"fixed by distribution", the advisory named; still vulnerable => affected. With no such
advisory the upstream range decides, and the finding says so. Advisories of the release for
vulnerabilities no upstream record covers become findings of their own.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from ..catalog import Catalog, CatalogEntry
from ..errors import FeedError
from ..model import Component, PackageRef, ScanResult
from ..store import Store
from .distro import CVE_ID_RE, Advisory, DistroIndex, DistroVerdict, judge
from .formats import parse_record
from .ranges import contains
from .records import (
    FIXED_BY_DISTRIBUTION,
    RULE_DISTRO,
    RULE_UPSTREAM,
    AffectedRange,
    Finding,
    FindingStatus,
    MatchedBy,
    Vulnerability,
    merge_references,
    name_weaknesses,
)

# OSV ecosystems that carry distribution package versions (epochs, revisions), not upstream ones
_DISTRO_ECOSYSTEMS = ("debian", "ubuntu", "alpine", "red hat", "redhat", "suse", "opensuse", "rocky",
                      "almalinux", "wolfi", "chainguard", "mageia", "photon", "azure linux")
_DISTRO_PURL_TYPES = ("pkg:deb/", "pkg:rpm/", "pkg:apk/", "pkg:alpm/")


def load_vulnerabilities(store: Store) -> list[Vulnerability]:
    """Every stored record parsed and merged per id (a CVE's CVE 5 and NVD records become one).

    Records that no longer parse are left out (see :func:`load_vulnerabilities_checked` for
    the list of them); withdrawn and rejected records are left out.
    """
    return load_vulnerabilities_checked(store)[0]


def load_vulnerabilities_checked(store: Store) -> tuple[list[Vulnerability], list[str]]:
    """:func:`load_vulnerabilities` plus the feed problems: records that no longer parse and
    version statements that cannot be evaluated, each with its record id."""
    parsed: list[Vulnerability] = []
    problems: list[str] = []
    for source, rid, doc in store.vuln_records():
        try:
            v = parse_record(source, doc)
        except FeedError as exc:
            problems.append(f"{source}:{rid}: record no longer parses: {exc.message}")
            continue
        if not v.withdrawn:
            parsed.append(v)
            problems.extend(f"{source}:{rid}: {p}" for p in v.problems())
    return name_weaknesses(merge_vulnerabilities(parsed), store.cwe_names()), problems


def merge_vulnerabilities(vulns: Iterable[Vulnerability]) -> list[Vulnerability]:
    """Merge records with the same id: ranges, CVSS, CWEs and sources are pooled.

    >>> a = Vulnerability(id="CVE-1", sources=("cve5:CVE-1",), summary="x")
    >>> b = Vulnerability(id="CVE-1", sources=("nvd:CVE-1",), kev=True)
    >>> m = merge_vulnerabilities([a, b])[0]
    >>> m.sources, m.kev, m.summary
    (('cve5:CVE-1', 'nvd:CVE-1'), True, 'x')
    """
    by_id: dict[str, Vulnerability] = {}
    for v in vulns:
        old = by_id.get(v.id)
        if old is None:
            by_id[v.id] = v
            continue
        by_id[v.id] = replace(
            old, aliases=tuple(dict.fromkeys(old.aliases + v.aliases)),
            summary=old.summary or v.summary, description=old.description or v.description,
            published=old.published or v.published,
            modified=max(filter(None, (old.modified, v.modified)), default=None),
            cvss=old.cvss + v.cvss, cwes=tuple(dict.fromkeys(old.cwes + v.cwes)), kev=old.kev or v.kev,
            affected=old.affected + v.affected, sources=tuple(dict.fromkeys(old.sources + v.sources)),
            upstream=tuple(dict.fromkeys(old.upstream + v.upstream)),
            references=merge_references(old.references, v.references),
            cwe_names=tuple({**dict(v.cwe_names), **dict(old.cwe_names)}.items()))
    return sorted(by_id.values(), key=lambda x: x.id)


def resolve_range(rng: AffectedRange, catalog: Catalog) -> tuple[CatalogEntry, str] | None:
    """The catalog entry a range is about and the identity key used, or ``None``."""
    if rng.cpe:
        e = catalog.by_cpe(f"cpe:2.3:a:{rng.cpe}")
        return (e, f"cpe {rng.cpe}") if e else None
    if rng.origin == "osv":
        if rng.purl and rng.purl.startswith(_DISTRO_PURL_TYPES):
            return None
        if rng.vendor and rng.vendor.lower().startswith(_DISTRO_ECOSYSTEMS):
            return None
    if rng.purl:
        e = catalog.by_purl(rng.purl)
        if e:
            return e, f"purl {rng.purl}"
    for label, name in (("product", rng.product), ("package", rng.package)):
        if name:
            e = catalog.by_name(name)
            if e:
                return e, f"{label} name {name!r} (catalog alias of {e.id})"
    return None


@dataclass
class _Index:
    by_entry: dict[str, list[tuple[Vulnerability, list[tuple[AffectedRange, str]]]]]


def _mention_regex(catalog: Catalog) -> tuple[re.Pattern[str] | None, dict[str, CatalogEntry]]:
    names: dict[str, CatalogEntry] = {}
    for e in catalog:
        for n in (e.id, e.name, *e.aliases):
            if len(n) >= 4 and n.lower() not in names:
                names[n.lower()] = e
    if not names:
        return None, names
    alt = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w.-])({alt})(?![\w-])", re.IGNORECASE), names


def build_index(vulns: Iterable[Vulnerability], catalog: Catalog) -> _Index:
    """Group every vulnerability's ranges by the catalog entry they resolve to.

    A record whose ranges name no product at all ("n/a" CVE 5 records without NVD data)
    is attached to the components its description names, with an unknown range.
    """
    rx, names = _mention_regex(catalog)
    by_entry: dict[str, dict[str, tuple[Vulnerability, list[tuple[AffectedRange, str]]]]] = defaultdict(dict)
    for v in vulns:
        hits: dict[str, list[tuple[AffectedRange, str]]] = defaultdict(list)
        for r in v.affected:
            res = resolve_range(r, catalog)
            if res:
                hits[res[0].id].append((r, res[1]))
        nameless = all(not (r.cpe or r.purl or r.product or r.package) for r in v.affected)
        if nameless and rx is not None and v.description:
            for m in rx.finditer(v.description[:2000]):
                e = names[m.group(1).lower()]
                if e.id not in hits:
                    origin = v.affected[0].origin if v.affected else "record"
                    hits[e.id].append((AffectedRange(origin=origin, unknown=True,
                                                     note="record names no product/version (n/a)",
                                                     text="n/a"),
                                       f"description mentions {m.group(1)!r}"))
        for eid, ranges in hits.items():
            by_entry[eid][v.id] = (v, ranges)
    return _Index({k: list(d.values()) for k, d in by_entry.items()})


def _verdict(ranges: list[tuple[AffectedRange, str]], version: str | None
             ) -> tuple[FindingStatus, list[tuple[AffectedRange, str]], str]:
    groups: dict[str, list[tuple[AffectedRange, str]]] = defaultdict(list)
    for r, key in ranges:
        groups[r.origin].append((r, key))
    affected: list[tuple[AffectedRange, str]] = []
    clear: list[tuple[AffectedRange, str]] = []
    unknown: list[tuple[AffectedRange, str]] = []
    notes: list[str] = []
    for origin, items in groups.items():
        known = [(r, k) for r, k in items if not r.unknown]
        if not known or version is None:
            unknown.extend(items)
            if version is None:
                notes.append("component version unknown")
            continue
        results = [(r, k, contains(r, version)) for r, k in known]
        if any(c is None for _r, _k, c in results):
            unknown.extend((r, k) for r, k, c in results if c is None)
            notes.append(f"version {version!r} not comparable with {origin} ranges")
            continue
        unaff = [(r, k) for r, k, c in results if c and r.status == "unaffected"]
        aff = [(r, k) for r, k, c in results if c and r.status == "affected"]
        if unaff:
            clear.extend(unaff)
            notes.append(f"{origin}: inside an unaffected range")
        elif aff:
            affected.extend(aff)
        elif any(r.default_status == "affected" for r, _k in known):
            affected.extend((r, k) for r, k in known if r.default_status == "affected")
            notes.append(f"{origin}: outside the listed ranges, defaultStatus affected")
        else:
            clear.extend(known)
            notes.append(f"{origin}: outside every affected range")
    if affected:
        return FindingStatus.AFFECTED, affected, "; ".join(n for n in notes if "affected range" not in n)
    if clear:
        return FindingStatus.NOT_AFFECTED, clear, "; ".join(notes)
    return FindingStatus.UNKNOWN_RANGE, unknown, "; ".join(notes) or "no usable version range"


def _evidence_text(c: Component) -> str:
    if not c.evidence:
        return f"{c.name} {c.version or '(version unknown)'}"
    best = max(c.evidence, key=lambda e: e.confidence)
    where = f" at 0x{best.offset:x}" if best.offset is not None else ""
    text = best.text[:80]
    return f"{best.method.value} {text!r}{where} ({best.detail})" if best.detail else \
        f"{best.method.value} {text!r}{where}"


def _component_entry(c: Component, catalog: Catalog) -> CatalogEntry | None:
    return catalog.get(c.id) or catalog.by_purl(c.purl) or (catalog.by_cpe(c.cpe) if c.cpe else None) \
        or catalog.by_name(c.name)


def _record_of(v: Vulnerability, r: AffectedRange) -> str:
    return next((s for s in v.sources if s.startswith(r.origin.split(":")[0])),
                v.sources[0] if v.sources else v.id)


def _distro_matched(adv: Advisory, ranges: Iterable[AffectedRange], pkg: PackageRef) -> tuple[MatchedBy, ...]:
    return tuple(MatchedBy(record=f"osv:{adv.record}", range=r.describe(),
                           key=f"package {adv.package} ({adv.ecosystem})", origin="osv:distro")
                 for r in dict.fromkeys(ranges))


def _by_distro(f: Finding, verdicts: list[DistroVerdict], pkg: PackageRef) -> Finding:
    """The distribution's advisories decide ``f`` (the cautious answer wins among several)."""
    matched = tuple(m for vd in verdicts for m in _distro_matched(vd.advisory, vd.ranges, pkg))
    names = ", ".join(dict.fromkeys(vd.advisory.record for vd in verdicts))
    upstream = f"upstream: {f.status.value}"
    affected = [vd for vd in verdicts if vd.affected]
    unknown = [vd for vd in verdicts if vd.affected is None]
    if affected:
        vd = affected[0]
        return replace(f, status=FindingStatus.AFFECTED, matched_by=matched + f.matched_by, rule=RULE_DISTRO,
                       decided_by=vd.advisory.record, justification=None,
                       decision=f"{vd.advisory.record} ({vd.advisory.ecosystem}): {vd.explanation} ({upstream})")
    if unknown:
        vd = unknown[0]
        return replace(f, status=FindingStatus.UNKNOWN_RANGE, matched_by=matched + f.matched_by, rule=RULE_DISTRO,
                       decided_by=vd.advisory.record,
                       decision=f"{vd.advisory.record} ({vd.advisory.ecosystem}): {vd.explanation} ({upstream})")
    vd = verdicts[0]
    return replace(f, status=FindingStatus.NOT_AFFECTED, matched_by=matched + f.matched_by, rule=RULE_DISTRO,
                   decided_by=names, justification=FIXED_BY_DISTRIBUTION,
                   decision=f"{FIXED_BY_DISTRIBUTION}: {names} ({vd.advisory.ecosystem}): {vd.explanation} "
                            f"({upstream})")


def iter_matches(components: Iterable[Component], index: _Index, catalog: Catalog, *,
                 firmware_sha256: str | None = None, firmware_path: str | None = None,
                 distro: DistroIndex | None = None, default_distro: str | None = None) -> Iterator[Finding]:
    """Findings for ``components`` against a prepared index (see :func:`build_index`).

    ``distro``: distribution advisories (package-aware matching, see the module docstring);
    ``default_distro``: the release (``debian-13``) of installed packages whose image did not say.
    """
    for c in components:
        entry = _component_entry(c, catalog)
        if entry is None:
            continue
        pkg = c.installed_package()
        if pkg is not None and pkg.distro is None and default_distro:
            pkg = replace(pkg, distro=default_distro)
        use_distro = distro is not None and len(distro) > 0 and pkg is not None
        covered: set[str] = set()  # vulnerability ids a finding of this component already speaks for
        for v, ranges in index.by_entry.get(entry.id, ()):
            status, used, note = _verdict(ranges, c.version)
            best = v.best_cvss()
            matched = tuple(MatchedBy(record=_record_of(v, r),
                                      range=r.describe() + (f" [{r.status}]" if r.status != "affected" else ""),
                                      key=key, origin=r.origin) for r, key in dict.fromkeys(used))
            records = ", ".join(dict.fromkeys(m.record for m in matched)) or v.id
            decision = f"upstream range of {records}: {status.value}"
            if pkg is not None and not use_distro:
                decision += (f"; installed package {pkg.purl()}: no distribution advisories imported"
                             if pkg.distro else f"; installed package {pkg.name} {pkg.version}: release unknown")
            f = Finding(vuln_id=v.id, component_id=entry.id, component_purl=c.purl,
                        component_version=c.version, status=status, matched_by=matched,
                        evidence=(_evidence_text(c) + (f"; {note}" if note else ""))[:500],
                        firmware_sha256=firmware_sha256, firmware_path=firmware_path, cvss=best,
                        severity=v.severity(), cwes=v.cwes, kev=v.kev, summary=v.summary,
                        cwe_names=v.cwe_names, references=v.references,
                        rule=RULE_UPSTREAM, decided_by=records, decision=decision,
                        package_purl=pkg.purl() if pkg else None)
            if use_distro:
                assert distro is not None and pkg is not None
                advs = distro.for_vulnerability(pkg, (v.id, *v.aliases, *v.upstream))
                covered.update((v.id, *v.aliases, *v.upstream))
                if advs:
                    f = _by_distro(f, [judge(a, pkg.version) for a in advs], pkg)
                else:
                    f = replace(f, decision=f"{decision}; no {pkg.distro} advisory for "
                                            f"{pkg.source or pkg.name}: upstream range decides")
            yield f
        if not use_distro:
            continue
        assert distro is not None and pkg is not None
        # advisories of the release for vulnerabilities no upstream record named (a DSA naming
        # three CVEs of which one has an upstream record still speaks for the other two)
        for adv in distro.advisories(pkg):
            cves = [i for i in adv.vuln_ids if CVE_ID_RE.match(i)] or [adv.record]
            vids = [i for i in cves if i not in covered]
            if not vids:
                continue
            covered.update(vids)
            vd = judge(adv, pkg.version)
            av = adv.vulnerability
            best = av.best_cvss()
            status = (FindingStatus.AFFECTED if vd.affected else FindingStatus.UNKNOWN_RANGE
                      if vd.affected is None else FindingStatus.NOT_AFFECTED)
            for vid in vids:
                yield Finding(vuln_id=vid, component_id=entry.id, component_purl=c.purl,
                              component_version=c.version, status=status,
                              matched_by=_distro_matched(adv, vd.ranges, pkg), evidence=_evidence_text(c)[:500],
                              firmware_sha256=firmware_sha256, firmware_path=firmware_path, cvss=best,
                              severity=av.severity(), cwes=av.cwes, kev=av.kev, summary=av.summary,
                              cwe_names=av.cwe_names, references=av.references,
                              rule=RULE_DISTRO, decided_by=adv.record,
                              justification=FIXED_BY_DISTRIBUTION if vd.affected is False else None,
                              decision=(f"{FIXED_BY_DISTRIBUTION}: " if vd.affected is False else "")
                              + f"{adv.record} ({adv.ecosystem}): {vd.explanation} (no upstream record)",
                              package_purl=pkg.purl())


def match_components(components: Iterable[Component], vulns: Iterable[Vulnerability], catalog: Catalog, *,
                     firmware_sha256: str | None = None, firmware_path: str | None = None,
                     default_distro: str | None = None) -> list[Finding]:
    """Match components against vulnerabilities; one finding per identity match (any status)."""
    vulns = list(vulns)
    index = build_index(vulns, catalog)
    return list(iter_matches(components, index, catalog, firmware_sha256=firmware_sha256,
                             firmware_path=firmware_path, distro=DistroIndex(vulns),
                             default_distro=default_distro))


def match_scan_results(results: Iterable[ScanResult], vulns: Iterable[Vulnerability],
                       catalog: Catalog, *, default_distro: str | None = None,
                       distro: DistroIndex | None = None) -> list[Finding]:
    """Match the contained components of every scan result; findings carry the firmware.

    ``distro`` is the distribution-advisory index of ``vulns`` when the caller already built it."""
    vulns = list(vulns)
    index = build_index(vulns, catalog)
    if distro is None:
        distro = DistroIndex(vulns)
    out: list[Finding] = []
    for r in results:
        out.extend(iter_matches(r.contained(), index, catalog, firmware_sha256=r.sha256, firmware_path=r.path,
                                distro=distro, default_distro=default_distro))
    return out
