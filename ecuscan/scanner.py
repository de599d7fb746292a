"""The scan orchestrator: paths in, :class:`ScanOutcome` values out, results kept in the store.

``file -load-> Image -identify-> Components / -provenance-> Provenance -> ScanResult -> store``

The scanner is *handed* its collaborators (store, catalog, limits, observer). A bad input
becomes a :class:`ScanFailure` value and the batch goes on. Files are memory-mapped and
hashed first; an unchanged image (same SHA-256, same scanner version) is read from the
store without being analysed again. Containers (zip/tar/cpio/squashfs/.deb) are unpacked
recursively within the limits; every member becomes a result of its own with ``parent``
set, and the container's result lists the union of what its members contain.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import mmap
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from . import __version__
from .catalog import Catalog, load_catalog
from .errors import EcuscanError, LimitExceeded
from .identity import identification_metadata
from .limits import DEFAULT_LIMITS, Limits
from .model import (
    Buffer,
    Component,
    Diagnostic,
    EvidenceMethod,
    ImageFormat,
    Provenance,
    Relation,
    ScanFailure,
    ScanOutcome,
    ScanResult,
    Severity,
    Sha256,
)
from .safeio import NotRegularFile, WalkError, open_regular, read_regular, walk_files
from .store import Store

if TYPE_CHECKING:
    from .formats.archive import UnpackBudget
    from .identify.packages import PackageIndex


#: What an analysis depends on, besides the bytes: the catalog data and every module whose code
#: shapes a stored result (tests/unit/scan/test_cache_key.py checks that each module an analysis loads is
#: here or is known not to shape results).
_ANALYSIS_SOURCES = ("data", "catalog", "limits.py", "identify", "formats", "provenance", "scanner.py",
                     "identity.py", "model.py", "textsafe.py", "vulns/distro.py", "vulns/records.py")


@lru_cache(maxsize=1)
def scanner_version() -> str:
    """Version string that keys the cache: the package version plus a digest of the catalog data
    and of the analysing code, so a changed signature or rule invalidates cached results."""
    from importlib import resources
    from importlib.abc import Traversable

    digest = hashlib.sha256()
    root = resources.files("ecuscan")

    def add(node: Traversable, name: str) -> None:
        if node.is_dir():
            for child in sorted(node.iterdir(), key=lambda c: c.name):
                if (child.is_dir() and child.name != "__pycache__") or child.name.endswith((".py", ".yaml", ".json")):
                    add(child, f"{name}/{child.name}")
        elif node.is_file():
            digest.update(name.encode() + b"\0" + node.read_bytes())

    for rel in _ANALYSIS_SOURCES:
        node = root
        for part in rel.split("/"):
            node = node.joinpath(part)
        add(node, rel)
    return f"{__version__}+{digest.hexdigest()[:10]}"


#: ``ScanOptions.jobs`` value for "as many worker processes as pay" (:func:`ecuscan.executors.auto_workers`).
JOBS_AUTO = 0


@dataclass(frozen=True)
class ScanOptions:
    """How a batch is scanned."""

    base_address: int | None = None  # load address of raw flash dumps
    use_cache: bool = True
    jobs: int = 1  # worker processes; JOBS_AUTO: one per CPU for batches of many files
    limits: Limits = DEFAULT_LIMITS
    dask: str | None = None  # ``local[:N]`` or ``tcp://HOST:PORT``: analyse on a dask cluster (see ecuscan.distributed)
    #: Use package databases (dpkg, opkg, rpm, control files, changelogs); off judges the bytes alone
    package_metadata: bool = True

    def result_version(self) -> str:
        """The version results are stored and looked up under: :func:`scanner_version` plus the
        options that change what a file's analysis says (a raw dump's load address; no package
        metadata), so a result made one way is never served for a scan made the other way."""
        extra = []
        if self.base_address is not None:
            extra.append(f"base={self.base_address:#x}")
        if not self.package_metadata:
            extra.append("nopkg")
        return scanner_version() + "".join(f";{e}" for e in extra)


class ScanObserver(Protocol):
    """Progress callbacks; the CLI passes one that drives a progress bar."""

    def planned(self, total: int) -> None:
        """``total`` files are about to be scanned."""

    def finished(self, outcome: ScanOutcome, cached: bool) -> None:
        """One top-level file is done (``cached``: it came from the store)."""


def sha256_file(path: Path) -> Sha256:
    """SHA-256 of a regular file, read in chunks (:class:`~ecuscan.safeio.NotRegularFile` for a
    FIFO, device or socket: those are never read)."""
    with os.fdopen(open_regular(path), "rb") as f:
        return Sha256(hashlib.file_digest(f, "sha256").hexdigest())


def _merge_components(found: Iterable[Component], extra: Iterable[Component]) -> tuple[Component, ...]:
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
    return tuple(sorted(out, key=lambda c: (c.relation.value, c.id, c.version or "")))


_DOC_DIRS = ("/share/doc/", "/share/man/", "/share/info/", "/share/gtk-doc/", "/share/help/")
_DOC_NAME = re.compile(r"(?i)^(?:changelog|changes|news|readme|authors|thanks|history)(?:[._-][\w.-]*)?$"
                       r"|\.(?:md|rst|html?)$")


#: Document markup, recognised at the start of a line in the first 64 KiB: POD (Perl's
#: documentation, in ``.pod`` files and inside modules), roff man pages, Texinfo, HTML.
_DOC_MARKUP = re.compile(rb"(?m)^(?:=(?:pod|head[1-6]|over|item|back|encoding|begin|end|for)\b"
                         rb"|\.(?:TH|Dt|Dd|SH|Sh)[ \t]|\\input texinfo|@node |<!DOCTYPE html|<html\b)")


def _is_text(head: bytes) -> bool:
    """No NUL and almost only printable ASCII/UTF-8 bytes and whitespace."""
    if not head or b"\x00" in head:
        return False
    control = sum(head.count(bytes([c])) for c in (*range(1, 9), 11, 12, *range(14, 32), 127))
    return control <= len(head) // 200


def is_documentation(path: str, data: Buffer) -> bool:
    r"""True for a text document (changelog, man page, README, POD ...) by its path or its content.

    A document by path: in a ``share/doc`` / ``share/man`` ... directory, or named like a
    changelog/NEWS/README/Markdown/HTML file. A document by content, wherever it lives and
    whatever its name: text whose lines carry document markup (POD ``=head1``/``=item``/``=cut``
    in at least two places, a roff man page's ``.TH``/``.SH``, Texinfo, HTML): Perl's ``.pod``
    files under a library directory quote the releases of the libraries they document. Either
    way the bytes must be text (no NUL in the first 64 KiB), so a binary is still analysed.

    >>> is_documentation("pkg.deb!/usr/share/doc/zlib1g/changelog.gz!/changelog", b"zlib (1:1.3)")
    True
    >>> is_documentation("usr/lib/libz.so.1", b"zlib 1.3"), is_documentation("docs/README", b"\x7fELF\x00")
    (False, False)
    >>> is_documentation("usr/lib/perl5/Net/SSLeay.pod", b"=head1 NAME\n\nNet::SSLeay\n\n=head1 OpenSSL 1.0.0d\n")
    True
    """
    p = "/" + path.replace("\\", "/").replace("!/", "/").lstrip("/")
    name = p.rsplit("/", 1)[-1]
    head = bytes(data[:65536])
    if b"\x00" in head:
        return False
    if any(d in p for d in _DOC_DIRS) or _DOC_NAME.search(name):
        return True
    if not _is_text(head):
        return False
    marks = _DOC_MARKUP.findall(head)
    return len(marks) >= 2 or (len(marks) == 1 and not marks[0].startswith(b"="))


_LD_SCRIPT = re.compile(rb"\A(?:\s|/\*.*?\*/)*(?:OUTPUT_FORMAT|GROUP|INPUT|SEARCH_DIR|OUTPUT_ARCH)\s*\(", re.DOTALL)
_LD_REF = re.compile(rb"[^\s()]+?\.(?:so(?:\.\d+)*|a)(?=[\s()]|$)")


def linker_script_references(data: Buffer) -> list[str] | None:
    r"""The files a GNU ld script (``libc.so`` on glibc systems) names, or ``None`` when the
    bytes are no linker script (text starting, after comments, with a linker command).

    >>> linker_script_references(b"/* GNU ld script */\nGROUP ( /lib/libc.so.6 /usr/lib/libc_nonshared.a "
    ...                          b"AS_NEEDED ( /lib/ld-linux.so.2 ) )\n")
    ['/lib/libc.so.6', '/usr/lib/libc_nonshared.a', '/lib/ld-linux.so.2']
    >>> linker_script_references(b"\x7fELF") is None
    True
    """
    head = bytes(data[:65536])
    if len(data) > 65536 or not _is_text(head) or not _LD_SCRIPT.match(head):
        return None
    return [m.decode("utf-8", "replace") for m in _LD_REF.findall(head)][:64]


def _linker_script_components(refs: list[str], catalog: Catalog, limits: Limits) -> tuple[Component, ...]:
    """USES components for the libraries a linker script points the linker at (it holds no code)."""
    from .identify import merge_hits
    from .identify._hits import Hit, make_evidence
    from .identify.symbols import match_soname

    hits = []
    for ref in refs:
        for entry, _version, rule in match_soname(catalog, ref.rsplit("/", 1)[-1]):
            hits.append(Hit(entry.id, None, Relation.USES, make_evidence(
                None, EvidenceMethod.NEEDED, ref, limits=limits, detail=f"ld script; {rule}")))
    return merge_hits(hits, catalog, limits)


def _package_listing(path: str, data: Buffer, catalog: Catalog,
                     limits: Limits) -> tuple[tuple[Component, ...], int] | None:
    """The catalog components a package database file lists, and its package count.

    ``None`` when ``path`` is no package listing (file lists and control files are not: they
    describe one package's files, which the scanner applies to those files).
    """
    from .identify.packages import PackageIndex

    inner = path.replace("\\", "/").split("!/")[-1]
    if (not _wants_package_db(inner) or inner.endswith((".list", "/control", "os-release"))
            or "/changelog" in inner):
        return None  # os-release names the distribution release, it lists no packages
    if len(data) > limits.max_document_bytes:
        return None
    index = PackageIndex.from_files({inner.lstrip("/"): bytes(data)}, catalog, limits)
    return index.listed_components(), len(index.packages)


def _merge_package(found: Sequence[Component], owned: Iterable[Component],
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
            out = list(_merge_components(out, (comp,)))
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
    out.sort(key=lambda c: (c.relation.value, c.id, c.version or ""))
    return tuple(out), notes


def analyze_image(data: Buffer, path: str, *, catalog: Catalog, options: ScanOptions,
                  sha256: Sha256 | None = None, parent: str | None = None) -> ScanResult:
    """Analyse one non-container image held in ``data``."""
    from . import formats, identify, provenance

    limits = options.limits
    image = formats.load(data, path, base_address=options.base_address, limits=limits)
    size = len(data)
    if sha256 is None:
        sha256 = Sha256(hashlib.sha256(data).hexdigest())
    metadata = dict(image.metadata)
    components: tuple[Component, ...] = ()
    listing = (_package_listing(path, data, catalog, limits)
               if image.format is ImageFormat.RAW and options.package_metadata else None)
    if listing is not None:
        # a package database or image manifest: what it says is installed is its content
        components, count = listing
        prov = Provenance(sha256=sha256, size=size)
        metadata["content"] = f"package database ({count} packages)"
    elif image.format is ImageFormat.RAW and is_documentation(path, data):
        # a changelog or man page names old releases of many projects ("PolarSSL 1.3.0",
        # "QNX 6.5"): mentions, not contents; its package's metadata still applies to it
        prov = Provenance(sha256=sha256, size=size)
        metadata["content"] = "documentation (not identified)"
    elif image.format is ImageFormat.RAW and (refs := linker_script_references(data)) is not None:
        # a GNU ld script (glibc's libc.so) is text that sends the linker to other files: what it
        # names is used, nothing is contained (its name is no library's file name)
        components = _linker_script_components(refs, catalog, limits)
        prov = Provenance(sha256=sha256, size=size)
        metadata["content"] = "GNU ld script: " + ", ".join(refs)[:500]
    else:
        components = identify.identify(image, catalog, limits)
        prov = provenance.extract(image, limits, file_sha256=sha256, file_size=size)
    segments = provenance.segment_hashes(image)
    metadata.update(identification_metadata(image))
    return ScanResult(
        path=path, sha256=sha256, size=size, format=image.format, provenance=prov,
        components=_merge_components(components, ()), segments=segments, arch=image.arch,
        bits=image.bits, endianness=image.endianness, entry=image.entry, elf_type=image.elf_type,
        soname=image.soname, needed=image.needed[:limits.max_items_per_kind], metadata=metadata,
        diagnostics=image.diagnostics,
        scanner_version=options.result_version(), parent=parent)


def _container_result(path: str, sha256: Sha256, size: int, members: Sequence[ScanResult],
                      diagnostics: Sequence[Diagnostic], parent: str | None, version: str) -> ScanResult:
    union: dict[tuple[str, str | None, Relation], Component] = {}
    for m in members:
        for c in m.components:
            key = (c.id, c.version, c.relation)
            if key in union:
                have = union[key]
                union[key] = dataclasses.replace(have, confidence=max(have.confidence, c.confidence))
            else:
                union[key] = c
    versioned = {(cid, rel) for (cid, v, rel) in union if v is not None}
    for bare in [k for k in union if k[1] is None and (k[0], k[2]) in versioned]:
        del union[bare]  # one member knew the version another's bare marker lacked: one component
    return ScanResult(
        path=path, sha256=sha256, size=size, format=ImageFormat.ARCHIVE,
        provenance=Provenance(sha256=sha256, size=size),
        components=tuple(sorted(union.values(), key=lambda c: (c.relation.value, c.id, c.version or ""))),
        metadata={"members": str(len(members))}, diagnostics=tuple(diagnostics),
        scanner_version=version, parent=parent)


def _apply_packages(results: list[ScanResult], index: PackageIndex | None,
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
            components, merged_notes = _merge_package(r.components, owned, built_in)
            notes += merged_notes
        out.append(dataclasses.replace(r, components=components, diagnostics=(*r.diagnostics, *notes))
                   if notes or components is not r.components else r)
    return out


def analyze_bytes(data: Buffer, path: str, *, catalog: Catalog, options: ScanOptions,
                  sha256: Sha256 | None = None, parent: str | None = None,
                  depth: int = 0, budget: UnpackBudget | None = None) -> list[ScanResult]:
    """Analyse bytes that may be a container: returns the top result first, then every member.

    ``budget`` is shared by every nested container of one top-level file, so the member and
    unpacked-byte limits bound the whole tree, not each container alone. Entries the unpacker
    refuses (links, devices, unsafe names, oversized members) become diagnostics of the container.
    """
    from .formats import detect
    from .formats._util import budget_scope
    from .formats.archive import Skipped, UnpackBudget, is_container, iter_members
    limits = options.limits
    if budget is None:  # a top-level input: one decode budget for everything decompressed from it
        with budget_scope(limits):
            return analyze_bytes(data, path, catalog=catalog, options=options, sha256=sha256, parent=parent,
                                 depth=depth, budget=UnpackBudget())
    if sha256 is None:
        sha256 = Sha256(hashlib.sha256(data).hexdigest())
    if detect(data) is not ImageFormat.ARCHIVE:
        return [analyze_image(data, path, catalog=catalog, options=options, sha256=sha256, parent=parent)]
    if depth >= limits.max_container_depth:
        raise LimitExceeded(f"containers nested deeper than {limits.max_container_depth}", source=path)
    skipped: list[Skipped] = []
    members: list[ScanResult] = []
    direct: list[ScanResult] = []
    diagnostics: list[Diagnostic] = []
    db_files: dict[str, bytes] = {}
    prefix = path + "!"
    for member in iter_members(data, path, limits=limits, depth=depth, skipped=skipped, budget=budget):
        inner = member.path[len(prefix):] if member.path.startswith(prefix) else member.path
        if _wants_package_db(inner):
            db_files[inner] = bytes(member.data)
        try:
            if is_container(member.data):
                sub = analyze_bytes(member.data, member.path, catalog=catalog, options=options,
                                    parent=path, depth=depth + 1, budget=budget)
            else:
                sub = [analyze_image(member.data, member.path, catalog=catalog, options=options, parent=path)]
        except EcuscanError as exc:
            diagnostics.append(Diagnostic(code="member-unreadable", message=str(exc), severity=Severity.WARNING))
            continue
        direct.append(sub[0])
        members.extend(sub)
    for sk in skipped[:limits.max_items_per_kind]:
        diagnostics.append(Diagnostic(code="member-skipped", message=f"{sk.path}: {sk.reason}",
                                      severity=Severity.INFO))
    if len(skipped) > limits.max_items_per_kind:
        diagnostics.append(Diagnostic(code="member-skipped", severity=Severity.INFO,
                                      message=f"{len(skipped) - limits.max_items_per_kind} more entries skipped"))
    index = _package_index(db_files, catalog) if db_files and options.package_metadata else None
    direct = _apply_packages(direct, index, lambda p: p[len(prefix):] if p.startswith(prefix) else p)
    from .identify.links import versions_from_links

    direct = versions_from_links(direct, catalog, limits)
    by_path = {r.path: r for r in direct}
    members = [by_path.get(m.path, m) for m in members]
    diagnostics += _member_summary(members, prefix)
    top = _container_result(path, sha256, len(data), direct, diagnostics, parent, options.result_version())
    return [top, *members]


def _member_summary(members: Sequence[ScanResult], prefix: str) -> list[Diagnostic]:
    """One diagnostic per code of the members' warnings and errors, so the container shows them."""
    by_code: dict[tuple[str, Severity], list[str]] = {}
    for m in members:
        for d in m.diagnostics:
            if d.severity in (Severity.WARNING, Severity.ERROR) and m.parent == prefix[:-1]:
                by_code.setdefault((d.code, d.severity), []).append(m.path[len(prefix) + 1:])
    out = []
    for (code, severity), paths in sorted(by_code.items()):
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        out.append(Diagnostic(code=code, severity=severity,
                              message=f"{len(paths)} member(s): {shown} (their results have the details)"))
    return out


def _open_mapped(path: Path) -> tuple[Buffer, object]:
    """Memory-map a regular file (empty files give ``b""``). Returns the buffer and what to close.

    Raises :class:`~ecuscan.safeio.NotRegularFile` for anything else (a FIFO would block,
    ``/dev/zero`` never ends), :class:`OSError` when it cannot be opened."""
    f = os.fdopen(open_regular(path), "rb")
    try:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            f.close()
            return b"", None
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError:
        f.close()
        raise
    f.close()
    return mm, mm


def analyze_path(path: str, options: ScanOptions, sha256: Sha256 | None = None, *,
                 verify: bool = False) -> list[ScanResult] | ScanFailure:
    """Analyse one file; never raises for a bad input (returns :class:`ScanFailure`).

    The file is mapped once, and that one map is hashed (unless ``sha256`` is given), detected,
    loaded and identified: nothing is read twice. ``verify``: hash the map and refuse it when
    it is not ``sha256`` (the bytes changed since they were hashed, or a dask worker sees
    another file at that path). Top-level so that worker processes can run it.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > options.limits.max_file_bytes:
            return ScanFailure(path, f"file is {size} bytes, over the limit of {options.limits.max_file_bytes}")
        data, closer = _open_mapped(p)
    except OSError as exc:
        return ScanFailure(path, f"cannot read: {exc.strerror or exc}")
    except NotRegularFile as exc:
        return ScanFailure(path, exc.message)
    try:
        if sha256 is None or verify:
            seen = Sha256(_sha256_of_buffer(data))
            if sha256 is not None and seen != sha256:
                return ScanFailure(path, "the file holds other bytes than when it was hashed (changed during the "
                                         "scan, or a dask worker's path is not really shared)", sha256)
            sha256 = seen
        return analyze_bytes(data, path, catalog=load_catalog(), options=options, sha256=sha256)
    except EcuscanError as exc:
        return ScanFailure(path, exc.message if exc.source else str(exc), sha256)
    except (MemoryError, RecursionError) as exc:
        return ScanFailure(path, f"input too complex: {exc.__class__.__name__}", sha256)
    except Exception as exc:  # a bug must not end the batch; it is reported as such
        return ScanFailure(path, f"internal error while scanning ({exc.__class__.__name__}: {exc})", sha256)
    finally:
        if isinstance(closer, mmap.mmap):
            try:
                closer.close()
            except BufferError:
                pass  # a result still references the map; the GC closes it


def _sha256_of_buffer(data: Buffer) -> str:
    """Hex SHA-256 of a whole buffer (an mmap is hashed in place, without a copy)."""
    with memoryview(data) as view:
        return hashlib.sha256(view).hexdigest()


def scan_task(path: str, options: ScanOptions, sha256: Sha256 | None) -> list[ScanResult] | ScanFailure:
    """What a dask worker runs for one image: :func:`analyze_path`, refusing bytes other than the
    ones the parent hashed (a path that is not really shared). Picklable by reference."""
    return analyze_path(path, options, sha256, verify=sha256 is not None)


def _preload() -> None:
    """Import and load what every analysis needs, before worker processes are forked from this one
    (they inherit it instead of each paying for it: LIEF alone takes about a second)."""
    from . import identify, provenance  # noqa: F401
    from .formats import elf

    elf.preload()
    load_catalog()


def expand_paths(paths: Iterable[str | os.PathLike[str]], limits: Limits) -> Iterator[tuple[str, str | None]]:
    """Files to scan: each given file, and every regular file below each given directory.

    Yields ``(file, tree_root)``; symlinks are not followed; the walk has no recursion (a tree
    10,000 directories deep is walked like any other). A directory that cannot be listed is
    yielded itself, so that scanning it reports why. Bounded by ``limits.max_members`` per
    directory tree.
    """
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            count = 0
            errors: list[WalkError] = []
            for fp in walk_files(str(p), errors):
                count += 1
                if count > limits.max_members:
                    return
                yield fp, str(p)
            for e in errors[:limits.max_items_per_kind]:
                yield e.path, str(p)
        else:
            yield str(p), None


class Scanner:
    """Scans batches of paths, using and filling the store.

    >>> Scanner(store=None).options.jobs
    1
    """

    def __init__(self, store: Store | None, *, catalog: Catalog | None = None,
                 options: ScanOptions | None = None, observer: ScanObserver | None = None) -> None:
        self.store = store
        self.catalog = catalog or load_catalog()
        self.options = options or ScanOptions()
        self.observer = observer
        self._unsaved: list[ScanResult] = []  # written to the store in batches (see _save)
        self._unsaved_paths: list[tuple[str, str]] = []
        self._saved_at = time.monotonic()

    #: Most results written to the store per transaction ...
    SAVE_BATCH = 512
    #: ... and the longest a result waits for its transaction: a killed scan loses at most this
    #: much work, and a slow scan still fills the store as it goes.
    SAVE_SECONDS = 1.0

    def _save(self, force: bool = False) -> None:
        """Write the results analysed since the last write in one transaction: when a batch is
        full or has waited ``SAVE_SECONDS``, or ``force`` (at the end of a scan)."""
        if self.store is None or not (self._unsaved or self._unsaved_paths):
            return
        if (force or len(self._unsaved) + len(self._unsaved_paths) >= self.SAVE_BATCH
                or time.monotonic() - self._saved_at >= self.SAVE_SECONDS):
            results, paths = self._unsaved, self._unsaved_paths
            self._unsaved, self._unsaved_paths = [], []
            self.store.put_many(results, paths)
            self._saved_at = time.monotonic()

    def scan_file(self, path: str | os.PathLike[str]) -> list[ScanResult] | ScanFailure:
        """Scan one file (cached when possible); returns its results or a failure."""
        outcomes = list(self._scan([(str(path), None)]))
        results = [o for o in outcomes if isinstance(o, ScanResult)]
        failures = [o for o in outcomes if isinstance(o, ScanFailure)]
        return failures[0] if failures and not results else results

    def scan_paths(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[ScanOutcome]:
        """Scan files and directory trees; yields one outcome per top-level file, then its members."""
        items = list(expand_paths(paths, self.options.limits))
        if self.observer:
            self.observer.planned(len(items))
        yield from self._scan(items)

    def _cached(self, path: str) -> tuple[Sha256 | None, list[ScanResult] | None, str | None]:
        try:
            sha = sha256_file(Path(path))
        except OSError as exc:
            return None, None, f"cannot read: {exc.strerror or exc}"
        except NotRegularFile as exc:
            return None, None, exc.message
        if self.store is None or not self.options.use_cache:
            return sha, None, None
        # the analysis of these bytes as a file of their own: one stored as a container's member
        # carries that container's path, parent and package evidence and is no answer here
        top = self.store.get_analysis(sha, self.options.result_version(), path)
        return sha, ([top] if top is not None else None), None

    def _record(self, results: list[ScanResult] | ScanFailure, cached: bool,
                root: str | None = None) -> list[ScanOutcome]:
        """Store what the bytes gave, then return it with the package metadata of its tree.

        The store keeps the analysis of the bytes alone: which package owns a file depends on
        the tree it was found in, so that evidence is added on every scan, cached or not.
        """
        if isinstance(results, ScanFailure):
            if self.observer:
                self.observer.finished(results, cached)
            return [results]
        if self.store is not None:
            if cached:
                self._unsaved_paths.append((results[0].path, results[0].sha256))
            else:
                self._unsaved.extend(results)
            self._save()
        shown = self._with_tree_packages(results, root)
        if self.observer:
            self.observer.finished(shown[0] if isinstance(shown, list) else shown, cached)
        return list(shown) if isinstance(shown, list) else [shown]

    def _scan(self, items: Sequence[tuple[str, str | None]]) -> Iterator[ScanOutcome]:
        """Outcomes of files given one by one as they come; those of a directory tree together at
        the end, once every file of the tree is known (a file's version may come from a library it
        loads: :func:`~ecuscan.identify.links.versions_from_links`). Each file is stored as soon as
        it is analysed either way."""
        try:
            yield from self._scan_items(items)
        finally:
            self._save(force=True)

    def _scan_items(self, items: Sequence[tuple[str, str | None]]) -> Iterator[ScanOutcome]:
        from .identify.links import versions_from_links

        trees: dict[str, list[ScanOutcome]] = {}
        for root, outcomes in self._analyse(items):
            if root is None:
                yield from outcomes
            else:
                trees.setdefault(root, []).extend(outcomes)
        for outcomes in trees.values():
            done = [o for o in outcomes if isinstance(o, ScanResult)]
            linked = iter(versions_from_links(done, self.catalog, self.options.limits))
            yield from (next(linked) if isinstance(o, ScanResult) else o for o in outcomes)

    def _analyse(self, items: Sequence[tuple[str, str | None]]) -> Iterator[tuple[str | None, list[ScanOutcome]]]:
        """Outcomes of ``items``: cache lookups are made as the analysis goes (workers start on the
        first miss, not after every file of the batch has been hashed and looked up)."""
        lookup = self.store is not None and self.options.use_cache
        ready: list[tuple[str | None, list[ScanOutcome]]] = []  # cached or unreadable, found on the way

        def misses() -> Iterator[tuple[str, str | None, Sha256 | None]]:
            for path, root in items:
                if not lookup:  # no cache to consult: the file is hashed from the one map that analyses it
                    yield path, root, None
                    continue
                sha, cached, error = self._cached(path)
                if error is not None:
                    ready.append((root, self._record(ScanFailure(path, error), False)))
                elif cached is not None:
                    ready.append((root, self._record(cached, True, root)))
                else:
                    yield path, root, sha

        pending = misses()
        first = next(pending, None)
        if first is not None:
            pending = itertools.chain([first], pending)
            if self.options.dask:
                analysed = self._analyse_on_dask(pending)
            else:
                from .executors import auto_workers

                # auto: sized by the batch (how many files will miss the cache is not known yet)
                workers = self.options.jobs if self.options.jobs != JOBS_AUTO else auto_workers(len(items))
                analysed = (self._analyse_in_pool(pending, workers) if workers > 1 and len(items) > 1
                            else ((root, self._record(analyze_path(path, self.options, sha), False, root))
                                  for path, root, sha in pending))
            for outcome in analysed:
                yield from ready
                ready.clear()
                yield outcome
        yield from ready

    def _analyse_in_pool(self, pending: Iterable[tuple[str, str | None, Sha256 | None]],
                         workers: int) -> Iterator[tuple[str | None, list[ScanOutcome]]]:
        """``pending`` on a local pool of ``workers`` processes, through the one windowed loop."""
        from concurrent.futures.process import BrokenProcessPool

        from .executors import LocalPool, run_windowed

        _preload()
        options = self.options
        with LocalPool(workers) as pool:
            def submit(item: tuple[str, str | None, Sha256 | None]) -> Future[list[ScanResult] | ScanFailure]:
                return pool.submit(analyze_path, item[0], options, item[2])

            def failed(item: tuple[str, str | None, Sha256 | None], exc: BaseException) -> ScanFailure:
                # a worker died (OOM kill, segfault in a native parser) twice while this file was in flight
                return ScanFailure(item[0], f"worker failed: {exc.__class__.__name__}: {exc}", item[2])

            for (_path, root, _sha), res in run_windowed(submit, pending, 2 * workers, failed, retries=1,
                                                         retry_on=(BrokenProcessPool,)):
                yield root, self._record(res, False, root)

    def _analyse_on_dask(self, pending: Iterable[tuple[str, str | None, Sha256 | None]]
                         ) -> Iterator[tuple[str | None, list[ScanOutcome]]]:
        """``pending`` on the dask cluster of ``options.dask``, through the same windowed loop."""
        from .distributed import open_client, scan_distributed, shares_store

        assert self.options.dask is not None
        roots: dict[str, str | None] = {}

        def sent() -> Iterator[tuple[str, Sha256 | None]]:
            for path, root, sha in pending:
                roots[path] = root
                yield path, sha

        # a database server is written by the workers themselves, concurrently; a SQLite file by this process
        shared = self.store.url if self.store is not None and shares_store(self.store.url) else None
        with open_client(self.options.dask) as client:
            for path, res in scan_distributed(sent(), self.options, client, task=scan_task, store_url=shared):
                root = roots[path]
                yield root, (self._record(res, False, root) if shared is None or isinstance(res, ScanFailure)
                             else self._stored_by_worker(res, root))

    def _stored_by_worker(self, results: list[ScanResult], root: str | None) -> list[ScanOutcome]:
        """What :meth:`_record` returns for results a worker has already written to the store."""
        shown = self._with_tree_packages(results, root)
        outcomes: list[ScanOutcome] = list(shown) if isinstance(shown, list) else [shown]
        if self.observer:
            self.observer.finished(outcomes[0], False)
        return outcomes

    def _with_tree_packages(self, res: list[ScanResult] | ScanFailure,
                            root: str | None) -> list[ScanResult] | ScanFailure:
        """For files inside a scanned directory tree, add package-database evidence."""
        if isinstance(res, ScanFailure) or root is None or not self.options.package_metadata:
            return res
        index = _tree_package_index(root, self.catalog, self.options.limits)
        return _apply_packages(res, index, lambda p: os.path.relpath(p, root) if not p.count("!") else p)


def _wants_package_db(path: str) -> bool:
    """True for paths that the package-metadata reader wants (dpkg/opkg status, lists, .deb control)."""
    from .identify.packages import PackageIndex

    p = path.lstrip("./")
    return PackageIndex.wants(p) or PackageIndex.wants("/" + p)


def _package_index(db_files: Mapping[str, bytes], catalog: Catalog) -> PackageIndex:
    from .identify.packages import PackageIndex

    return PackageIndex.from_files(db_files, catalog)


@lru_cache(maxsize=8)
def _tree_package_index(root: str, catalog: Catalog, limits: Limits) -> PackageIndex | None:
    """The package index of a scanned directory tree, read once per tree (``None``: it has none)."""
    db = _tree_package_db(root, limits)
    return _package_index(db, catalog) if db else None


def _tree_package_db(root: str, limits: Limits) -> dict[str, bytes]:
    """The package-database files under a directory tree (dpkg/opkg status and lists ...)."""
    out: dict[str, bytes] = {}
    total = 0
    for fp in walk_files(root):
        rel = os.path.relpath(fp, root)
        if not _wants_package_db(rel):
            continue
        try:
            data = read_regular(fp, limits.max_document_bytes - total)
        except (OSError, EcuscanError):
            continue  # unreadable, special, or over what is left: a package database this large is not a real one
        total += len(data)
        out[rel] = data
    return out
