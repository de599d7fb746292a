"""Release diff and provenance drift between two scans of the same product.

:func:`diff_results` lists components added, removed and changed in version, and raises
*drift indicators*: signs that a release was built differently or somewhere else, or
carries something new — the SolarWinds-class question "why does this release suddenly
build elsewhere, with something new inside?".

Indicators and their severity:

=========================  ========  ===================================================
kind                       severity  raised when
=========================  ========  ===================================================
toolchain-changed          warning   a new compiler family appears (info: one only disappears)
toolchain-version-changed  info      same compiler family, other version
flags-changed              warning   the recorded compiler flags differ (info: no longer recorded)
build-host-changed         warning   new build host or build user names
build-root-changed         warning   build paths live under new root directories
build-paths-changed        info      paths changed under the same roots
build-id-missing           warning   the old image had a build-id, the new one has none
certificate-new            warning   a certificate / public key not in the old image
certificate-changed        warning   same subject, other certificate bytes
private-key-new            error     a private key that was not there before
certificate-removed        info      a certificate / key of the old image is gone
network-facing-new         warning   an added component the catalog marks network-facing
diagnostic-new             (its own) a warning or error about the new image the old one did not
                                     have (a binary that disagrees with its package, a bad CRC...)
=========================  ========  ===================================================

Policy: the CLI exits 1 when any indicator is ``warning`` or ``error``.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any

from .catalog import Catalog
from .model import Certificate, Component, ImageFormat, Provenance, ScanResult, Severity, Sha256


class DriftKind(enum.StrEnum):
    """What kind of provenance change an indicator reports."""

    TOOLCHAIN_CHANGED = "toolchain-changed"
    TOOLCHAIN_VERSION_CHANGED = "toolchain-version-changed"
    FLAGS_CHANGED = "flags-changed"
    BUILD_HOST_CHANGED = "build-host-changed"
    BUILD_ROOT_CHANGED = "build-root-changed"
    BUILD_PATHS_CHANGED = "build-paths-changed"
    BUILD_ID_MISSING = "build-id-missing"
    CERTIFICATE_NEW = "certificate-new"
    CERTIFICATE_CHANGED = "certificate-changed"
    CERTIFICATE_REMOVED = "certificate-removed"
    PRIVATE_KEY_NEW = "private-key-new"
    NETWORK_FACING_NEW = "network-facing-new"
    DIAGNOSTIC_NEW = "diagnostic-new"


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclass(frozen=True)
class DriftIndicator:
    """One provenance change, with a severity and a sentence a human can act on."""

    kind: DriftKind
    severity: Severity
    message: str
    old: tuple[str, ...] = ()
    new: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": self.kind.value, "severity": self.severity.value, "message": self.message,
                "old": list(self.old), "new": list(self.new)}


@dataclass(frozen=True)
class VersionChange:
    """A component present in both releases with another version."""

    id: str
    name: str
    old_version: str | None
    new_version: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "name": self.name, "old_version": self.old_version, "new_version": self.new_version}


@dataclass(frozen=True)
class ReleaseDiff:
    """What changed between two releases (see :func:`diff_results`)."""

    old: str
    new: str
    added: tuple[Component, ...]
    removed: tuple[Component, ...]
    changed: tuple[VersionChange, ...]
    indicators: tuple[DriftIndicator, ...]

    def at_least(self, severity: Severity) -> tuple[DriftIndicator, ...]:
        """Indicators of ``severity`` or worse."""
        return tuple(i for i in self.indicators if _RANK[i.severity] >= _RANK[severity])

    @property
    def drifted(self) -> bool:
        """True when an indicator of severity warning or error exists (the CLI's exit-1 policy)."""
        return bool(self.at_least(Severity.WARNING))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"old": self.old, "new": self.new, "drifted": self.drifted,
                "added": [c.to_dict() for c in self.added], "removed": [c.to_dict() for c in self.removed],
                "changed": [c.to_dict() for c in self.changed],
                "indicators": [i.to_dict() for i in self.indicators]}


def _fmt(items: set[str] | tuple[str, ...]) -> str:
    return ", ".join(sorted(items)) or "none"


def build_roots(paths: tuple[str, ...], depth: int = 2) -> set[str]:
    """The first ``depth`` directories of absolute build paths (``/home/alice``, ``C:/jenkins``).

    >>> sorted(build_roots(("/home/ci/build/x.c", "C:\\\\Jenkins\\\\ws\\\\a.c", "rel/a.c")))
    ['/home/ci', 'c:/jenkins/ws']
    """
    roots = set()
    for p in paths:
        q = p.replace("\\", "/")
        if len(q) > 2 and q[1] == ":" and q[0].isalpha():  # Windows drive: keep the drive, lower-cased
            parts = [x for x in q[2:].split("/") if x]
            roots.add(q[:2].lower() + "/" + "/".join(x.lower() for x in parts[:depth]))
        elif q.startswith("/"):
            parts = [x for x in q.split("/") if x]
            roots.add("/" + "/".join(parts[:depth]))
    return roots


def _compare_toolchains(old: ScanResult, new: ScanResult) -> list[DriftIndicator]:
    out = []
    o_tc, n_tc = old.provenance.toolchains, new.provenance.toolchains
    o_fam, n_fam = {t.name for t in o_tc}, {t.name for t in n_tc}
    if o_tc and n_tc and o_fam != n_fam:
        # a new tool family is drift; one that merely stopped leaving a banner is not alarming
        sev = Severity.WARNING if n_fam - o_fam else Severity.INFO
        out.append(DriftIndicator(DriftKind.TOOLCHAIN_CHANGED, sev,
                                  f"Built with another compiler: {_fmt(o_fam)} before, {_fmt(n_fam)} now.",
                                  tuple(sorted(o_fam)), tuple(sorted(n_fam))))
    elif o_tc and not n_tc:
        out.append(DriftIndicator(DriftKind.TOOLCHAIN_CHANGED, Severity.WARNING,
                                  f"The toolchain banner ({_fmt(o_fam)}) is gone from the new image.",
                                  tuple(sorted(o_fam)), ()))
    o_ver = {f"{t.name} {t.version}" for t in o_tc if t.version}
    n_ver = {f"{t.name} {t.version}" for t in n_tc if t.version}
    if o_fam == n_fam and o_ver and n_ver and o_ver != n_ver:
        out.append(DriftIndicator(DriftKind.TOOLCHAIN_VERSION_CHANGED, Severity.INFO,
                                  f"Compiler version changed: {_fmt(o_ver)} → {_fmt(n_ver)}.",
                                  tuple(sorted(o_ver)), tuple(sorted(n_ver))))
    o_fl = {f for t in o_tc for f in t.flags}
    n_fl = {f for t in n_tc for f in t.flags}
    if (o_fl or n_fl) and o_fl != n_fl:
        # flags that are simply no longer recorded (no DWARF producer) are a loss of information, not drift
        sev = Severity.WARNING if n_fl else Severity.INFO
        out.append(DriftIndicator(DriftKind.FLAGS_CHANGED, sev,
                                  f"Compiler flags changed: added {_fmt(n_fl - o_fl)}; removed {_fmt(o_fl - n_fl)}.",
                                  tuple(sorted(o_fl)), tuple(sorted(n_fl))))
    return out


def _compare_build_env(old: ScanResult, new: ScanResult) -> list[DriftIndicator]:
    out = []
    op, np_ = old.provenance, new.provenance
    o_who = {f"host:{h}" for h in op.hosts} | {f"user:{u}" for u in op.users}
    n_who = {f"host:{h}" for h in np_.hosts} | {f"user:{u}" for u in np_.users}
    if n_who - o_who:
        out.append(DriftIndicator(DriftKind.BUILD_HOST_CHANGED, Severity.WARNING,
                                  f"Built by a new host or user: {_fmt(n_who - o_who)} (before: {_fmt(o_who)}).",
                                  tuple(sorted(o_who)), tuple(sorted(n_who))))
    o_roots, n_roots = build_roots(op.build_paths), build_roots(np_.build_paths)
    if n_roots - o_roots and o_roots:
        out.append(DriftIndicator(DriftKind.BUILD_ROOT_CHANGED, Severity.WARNING,
                                  f"Build paths moved to new roots: {_fmt(n_roots - o_roots)} "
                                  f"(before: {_fmt(o_roots)}).", tuple(sorted(o_roots)), tuple(sorted(n_roots))))
    elif set(op.build_paths) != set(np_.build_paths) and op.build_paths:
        added = set(np_.build_paths) - set(op.build_paths)
        removed = set(op.build_paths) - set(np_.build_paths)
        out.append(DriftIndicator(DriftKind.BUILD_PATHS_CHANGED, Severity.INFO,
                                  f"Build paths changed under the same roots ({len(added)} new, "
                                  f"{len(removed)} gone).", tuple(sorted(removed)), tuple(sorted(added))))
    if op.build_id and not np_.build_id:
        out.append(DriftIndicator(DriftKind.BUILD_ID_MISSING, Severity.WARNING,
                                  f"The old image carried build-id {op.build_id}; the new one has none.",
                                  (op.build_id,), ()))
    return out


def _cert_label(c: Certificate) -> str:
    return f"{c.kind} {c.subject or c.key_type or ''} sha256:{c.sha256[:16]}".replace("  ", " ")


def _compare_certificates(old: ScanResult, new: ScanResult) -> list[DriftIndicator]:
    out = []
    o_by = {c.sha256: c for c in old.provenance.certificates}
    n_by = {c.sha256: c for c in new.provenance.certificates}
    o_subjects = {c.subject: c for c in o_by.values() if c.subject}
    for sha in sorted(set(n_by) - set(o_by)):
        c = n_by[sha]
        if c.kind == "private-key":
            out.append(DriftIndicator(DriftKind.PRIVATE_KEY_NEW, Severity.ERROR,
                                      f"A private key appeared at offset 0x{c.offset:x} "
                                      f"({c.key_type or 'unknown type'}).",
                                      (), (_cert_label(c),)))
        elif c.subject and c.subject in o_subjects:
            was = o_subjects[c.subject]
            out.append(DriftIndicator(DriftKind.CERTIFICATE_CHANGED, Severity.WARNING,
                                      f"The certificate for {c.subject} changed (other bytes, "
                                      f"issuer {was.issuer or '?'} → {c.issuer or '?'}).",
                                      (_cert_label(was),), (_cert_label(c),)))
        else:
            out.append(DriftIndicator(DriftKind.CERTIFICATE_NEW, Severity.WARNING,
                                      f"New embedded {c.kind} at offset 0x{c.offset:x}: "
                                      f"{c.subject or c.key_type or sha[:16]}.",
                                      (), (_cert_label(c),)))
    n_subjects = {c.subject for c in n_by.values() if c.subject}
    for sha in sorted(set(o_by) - set(n_by)):
        c = o_by[sha]
        if c.subject and c.subject in n_subjects:
            continue  # reported as changed
        out.append(DriftIndicator(DriftKind.CERTIFICATE_REMOVED, Severity.INFO,
                                  f"Embedded {c.kind} {c.subject or sha[:16]} is gone.", (_cert_label(c),), ()))
    return out


def diff_results(old: ScanResult, new: ScanResult, catalog: Catalog) -> ReleaseDiff:
    """Components added / removed / changed and drift indicators from ``old`` to ``new``.

    Components are keyed by catalog id and relation; a component present in both with
    other versions is a version change, not an add plus a remove.
    """
    def keyed(r: ScanResult) -> dict[tuple[str, str], list[Component]]:
        out: dict[tuple[str, str], list[Component]] = {}
        for c in r.components:
            out.setdefault((c.id, c.relation.value), []).append(c)
        return out

    o, n = keyed(old), keyed(new)
    added = [c for k in sorted(set(n) - set(o)) for c in n[k]]
    removed = [c for k in sorted(set(o) - set(n)) for c in o[k]]
    changed = []
    for k in sorted(set(o) & set(n)):
        ov = {c.version for c in o[k] if c.version}
        nv = {c.version for c in n[k] if c.version}
        if ov and nv and ov != nv:  # an unknown version on one side is not a change
            changed.append(VersionChange(k[0], n[k][0].name, ", ".join(sorted(v or "?" for v in ov)),
                                         ", ".join(sorted(v or "?" for v in nv))))
    indicators = _compare_toolchains(old, new) + _compare_build_env(old, new) + _compare_certificates(old, new)
    before = {(d.code, d.message) for d in old.diagnostics}
    for d in new.diagnostics:
        if d.severity is not Severity.INFO and (d.code, d.message) not in before:
            indicators.append(DriftIndicator(DriftKind.DIAGNOSTIC_NEW, d.severity,
                                             f"New {d.severity.value} {d.code}: {d.message}", (), (d.code,)))
    for c in added:
        entry = catalog.get(c.id)
        if entry is not None and entry.network_facing:
            indicators.append(DriftIndicator(
                DriftKind.NETWORK_FACING_NEW, Severity.WARNING,
                f"New network-facing component {c.name} {c.version or ''}".rstrip() + " in this release.",
                (), (c.purl,)))
    indicators.sort(key=lambda i: (-_RANK[i.severity], i.kind.value, i.new, i.old))
    return ReleaseDiff(old=old.path, new=new.path, added=tuple(added), removed=tuple(removed),
                       changed=tuple(changed), indicators=tuple(indicators))


@dataclass(frozen=True)
class TreeDiff:
    """What changed between two releases of a root filesystem or other directory tree.

    ``inventory`` compares the trees' contained components as wholes (which component versions
    the release carries, wherever they are); ``files`` are the per-file diffs of files present in
    both with other bytes that changed in components or raised indicators; ``indicators`` are
    those files' drift indicators (message prefixed with the file) plus new network-facing code.
    """

    old: str
    new: str
    inventory: ReleaseDiff
    added_files: tuple[str, ...]
    removed_files: tuple[str, ...]
    changed_files: int
    files: tuple[ReleaseDiff, ...]

    @property
    def indicators(self) -> tuple[DriftIndicator, ...]:
        """Every indicator: the inventory's and each changed file's."""
        return self.inventory.indicators + tuple(i for f in self.files for i in f.indicators)

    @property
    def drifted(self) -> bool:
        """True when an indicator of severity warning or error exists (the CLI's exit-1 policy)."""
        return any(_RANK[i.severity] >= _RANK[Severity.WARNING] for i in self.indicators)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"old": self.old, "new": self.new, "drifted": self.drifted, "inventory": self.inventory.to_dict(),
                "added_files": list(self.added_files), "removed_files": list(self.removed_files),
                "changed_files": self.changed_files, "files": [f.to_dict() for f in self.files]}


def _union(results: list[ScanResult], path: str) -> ScanResult:
    """One result holding every component the results contain (for the inventory comparison)."""

    comps: dict[tuple[str, str | None], Component] = {}
    for r in results:
        for c in r.contained():
            comps.setdefault((c.id, c.version), c)
    zero = Sha256("0" * 64)
    return ScanResult(path=path, sha256=zero, size=0, format=ImageFormat.ARCHIVE,
                      provenance=Provenance(sha256=zero, size=0), components=tuple(comps.values()))


def diff_trees(old_root: str, old: list[ScanResult], new_root: str, new: list[ScanResult],
               catalog: Catalog, *, limit: int = 10_000) -> TreeDiff:
    """Compare two scanned trees: files are paired by their path relative to each root."""

    def by_rel(root: str, results: list[ScanResult]) -> dict[str, ScanResult]:
        return {os.path.relpath(r.path, root): r for r in results if r.parent is None}

    o, n = by_rel(old_root, old), by_rel(new_root, new)
    inventory = diff_results(_union(list(o.values()), old_root), _union(list(n.values()), new_root), catalog)
    inventory = ReleaseDiff(old=old_root, new=new_root, added=inventory.added, removed=inventory.removed,
                            changed=inventory.changed, indicators=tuple(
                                i for i in inventory.indicators if i.kind is DriftKind.NETWORK_FACING_NEW))
    changed = [k for k in sorted(set(o) & set(n)) if o[k].sha256 != n[k].sha256]
    files = []
    for rel in changed[:limit]:
        d = diff_results(o[rel], n[rel], catalog)
        if d.added or d.removed or d.changed or d.indicators:
            files.append(ReleaseDiff(old=o[rel].path, new=n[rel].path, added=d.added, removed=d.removed,
                                     changed=d.changed, indicators=tuple(
                                         DriftIndicator(i.kind, i.severity, f"{rel}: {i.message}", i.old, i.new)
                                         for i in d.indicators if i.kind is not DriftKind.NETWORK_FACING_NEW)))
    return TreeDiff(old=old_root, new=new_root, inventory=inventory,
                    added_files=tuple(sorted(set(n) - set(o))[:limit]),
                    removed_files=tuple(sorted(set(o) - set(n))[:limit]),
                    changed_files=len(changed), files=tuple(files))
