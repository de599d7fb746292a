"""The analysis of one file: what a worker process runs.

``file -load-> Image -identify-> Components / -provenance-> Provenance -> ScanResult``

:func:`analyze_path` maps a file once; that one map is hashed, detected, loaded and identified.
:func:`analyze_bytes` recurses into containers within the limits: every member becomes a result
of its own with ``parent`` set. A bad input becomes a :class:`ScanFailure` value, never an
exception. Nothing here knows about the store, the executors or the batch (see
:mod:`ecuscan.scan.pipeline`).
"""

from __future__ import annotations

import dataclasses
import mmap
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalog import Catalog, load_catalog
from ..errors import EcuscanError, LimitExceeded, StoreError
from ..identity import TABLE, identification_metadata
from ..model import (
    Buffer,
    Component,
    Diagnostic,
    ImageFormat,
    Provenance,
    Relation,
    ScanFailure,
    ScanResult,
    Severity,
    Sha256,
)
from ..safeio import NotRegularFile, open_regular
from .cache import sha256_of_buffer
from .documentation import compressed_document, is_documentation, linker_script_components, linker_script_references
from .options import ScanOptions
from .packages import apply_packages, merge_components, package_index, package_listing, wants_package_db

if TYPE_CHECKING:
    from ..formats.archive import UnpackBudget


def analyze_image(data: Buffer, path: str, *, catalog: Catalog, options: ScanOptions,
                  sha256: Sha256 | None = None, parent: str | None = None) -> ScanResult:
    """Analyse one non-container image held in ``data``."""
    from .. import formats, identify, provenance
    from ..identify.signatures import DID_TABLE
    from ..provenance import prefilter

    limits = options.limits
    image = formats.load(data, path, base_address=options.base_address, limits=limits)
    size = len(data)
    if sha256 is None:
        sha256 = Sha256(sha256_of_buffer(data))
    metadata = dict(image.metadata)
    components: tuple[Component, ...] = ()
    ident: Mapping[str, str] | None = None
    listing = (package_listing(path, data, catalog, limits)
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
        components = linker_script_components(refs, catalog, limits)
        prov = Provenance(sha256=sha256, size=size)
        metadata["content"] = "GNU ld script: " + ", ".join(refs)[:500]
    else:
        components = identify.identify(image, catalog, limits)
        # the identification tables at the places identification's pattern pass found (read before
        # provenance, which releases that pass): no pass of their own over the bytes
        shared, found = prefilter.peek(image.data, [DID_TABLE])
        if shared:
            ident = identification_metadata(image, tables=prefilter.finditer(TABLE, image.data, found, DID_TABLE))
        prov = provenance.extract(image, limits, file_sha256=sha256, file_size=size)
    segments = provenance.segment_hashes(image)
    metadata.update(ident if ident is not None else identification_metadata(image))
    return ScanResult(
        path=path, sha256=sha256, size=size, format=image.format, provenance=prov,
        components=merge_components(components, ()), segments=segments, arch=image.arch,
        bits=image.bits, endianness=image.endianness, entry=image.entry, elf_type=image.elf_type,
        soname=image.soname, needed=image.needed[:limits.max_items_per_kind], metadata=metadata,
        diagnostics=image.diagnostics,
        scanner_version=options.result_version(), parent=parent)


def _container_result(path: str, sha256: Sha256, size: int, members: Sequence[ScanResult],
                      diagnostics: Sequence[Diagnostic], parent: str | None, version: str,
                      fmt: ImageFormat = ImageFormat.ARCHIVE) -> ScanResult:
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
        path=path, sha256=sha256, size=size, format=fmt,
        provenance=Provenance(sha256=sha256, size=size),
        components=tuple(sorted(union.values(), key=Component.sort_key)),
        metadata={"members": str(len(members))}, diagnostics=tuple(diagnostics),
        scanner_version=version, parent=parent)


def analyze_bytes(data: Buffer, path: str, *, catalog: Catalog, options: ScanOptions,
                  sha256: Sha256 | None = None, parent: str | None = None,
                  depth: int = 0, budget: UnpackBudget | None = None) -> list[ScanResult]:
    """Analyse bytes that may be a container: returns the top result first, then every member.

    Every registered container format (:func:`ecuscan.formats.registry.iter_members`) has its
    members scanned, each a result of its own with ``parent`` set: an archive or filesystem image
    is only its members (its result is their union); a container that is also one image (a UEFI
    firmware volume, an option ROM) is analysed as that image too, and its result adds what its
    members show. ``budget`` is shared by every nested container of one top-level file, so the
    member and unpacked-byte limits bound the whole tree, not each container alone. Entries the
    unpacker refuses (links, devices, unsafe names, oversized members) become diagnostics of the
    container.
    """
    from ..formats._util import budget_scope
    from ..formats.archive import UnpackBudget
    from ..formats.base import OffsetMap
    from ..formats.registry import find

    limits = options.limits
    if budget is None:  # a top-level input: one decode budget for everything decompressed from it
        with budget_scope(limits):
            return analyze_bytes(data, path, catalog=catalog, options=options, sha256=sha256, parent=parent,
                                 depth=depth, budget=UnpackBudget())
    if sha256 is None:
        sha256 = Sha256(sha256_of_buffer(data))
    info = find(data).info
    if not info.container:
        return [analyze_image(data, path, catalog=catalog, options=options, sha256=sha256, parent=parent)]
    if depth >= limits.max_container_depth:
        raise LimitExceeded(f"containers nested deeper than {limits.max_container_depth}", source=path)
    if info.offsets is OffsetMap.MEMBERS:  # an archive: nothing but its members
        if compressed_document(path, data):
            shown = _container_result(path, sha256, len(data), (), (), parent, options.result_version(), info.format)
            return [dataclasses.replace(shown, metadata={**shown.metadata,
                                                         "content": "compressed documentation (not unpacked)"})]
        direct, members, diagnostics = _scan_members(data, path, catalog, options, depth, budget)
        return [_container_result(path, sha256, len(data), direct, diagnostics, parent, options.result_version(),
                                  info.format), *members]
    image = analyze_image(data, path, catalog=catalog, options=options, sha256=sha256, parent=parent)
    direct, members, diagnostics = _scan_members(data, path, catalog, options, depth, budget)
    own = {(c.id, c.version, c.relation) for c in image.components}
    shown = _container_result(path, sha256, len(data), direct, (), parent, image.scanner_version, info.format)
    more = [c for c in shown.components if (c.id, c.version, c.relation) not in own
            and not (c.version is None and any(o[0] == c.id and o[2] is c.relation for o in own))]
    top = dataclasses.replace(
        image, components=merge_components(image.components, more),
        metadata={**image.metadata, "members": str(len(direct))},
        diagnostics=(*image.diagnostics, *diagnostics))
    return [top, *members]


def _scan_members(data: Buffer, path: str, catalog: Catalog, options: ScanOptions, depth: int,
                  budget: UnpackBudget) -> tuple[list[ScanResult], list[ScanResult], list[Diagnostic]]:
    """The members of the container ``data`` (any registered container format), each analysed
    (recursively, under the shared ``budget``): ``(direct members, all results below, notes)``."""
    from ..formats.archive import Skipped
    from ..formats.registry import iter_members
    from ..identify.links import versions_from_links

    limits = options.limits
    skipped: list[Skipped] = []
    members: list[ScanResult] = []
    direct: list[ScanResult] = []
    diagnostics: list[Diagnostic] = []
    db_files: dict[str, bytes] = {}
    prefix = path + "!"

    def inner(p: str) -> str:  # a member's path inside this container
        return p[len(prefix):] if p.startswith(prefix) else p

    for member in iter_members(data, path, limits=limits, depth=depth, skipped=skipped, budget=budget):
        if wants_package_db(inner(member.path)):
            db_files[inner(member.path)] = bytes(member.data)
        try:
            sub = analyze_bytes(member.data, member.path, catalog=catalog, options=options,
                                parent=path, depth=depth + 1, budget=budget)
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
    index = package_index(db_files, catalog) if db_files and options.package_metadata else None
    direct = apply_packages(direct, index, inner)
    direct = versions_from_links(direct, catalog, limits)
    by_path = {r.path: r for r in direct}
    members = [by_path.get(m.path, m) for m in members]
    diagnostics += _member_summary(members, prefix)
    return direct, members, diagnostics


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


#: A cache lookup: ``(sha256, path) ->`` the stored analysis of those bytes as a file of their own,
#: shown at ``path``, or ``None`` (:meth:`ecuscan.store.Store.get_analysis` with a result version).
Lookup = Callable[[Sha256, str], "ScanResult | None"]


@dataclass(frozen=True)
class FileOutcome:
    """What :func:`scan_path` gives for one file: its results (or why there are none), whether
    they came from the cache, and why the cache could not be consulted (``store_error``)."""

    outcome: list[ScanResult] | ScanFailure
    cached: bool = False
    store_error: str | None = None


def analyze_path(path: str, options: ScanOptions, sha256: Sha256 | None = None, *,
                 verify: bool = False) -> list[ScanResult] | ScanFailure:
    """Analyse one file; never raises for a bad input (returns :class:`ScanFailure`).

    The file is mapped once, and that one map is hashed (unless ``sha256`` is given), detected,
    loaded and identified: nothing is read twice. ``verify``: hash the map and refuse it when
    it is not ``sha256`` (the bytes changed since they were hashed, or a dask worker sees
    another file at that path). Top-level so that worker processes can run it.
    """
    return scan_path(path, options, sha256, verify=verify).outcome


def scan_path(path: str, options: ScanOptions, sha256: Sha256 | None = None, *, verify: bool = False,
              lookup: Lookup | None = None) -> FileOutcome:
    """:func:`analyze_path`, consulting the cache first when ``lookup`` is given: the one map of
    the file is hashed, the hash looked up, and only a miss is analysed (from the same map). A
    cache that cannot be read (:class:`~ecuscan.errors.StoreError`) is a miss, and said so in
    ``store_error``: the file is analysed all the same."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > options.limits.max_file_bytes:
            return FileOutcome(ScanFailure(
                path, f"file is {size} bytes, over the limit of {options.limits.max_file_bytes}"))
        data, closer = _open_mapped(p)
    except OSError as exc:
        return FileOutcome(ScanFailure(path, f"cannot read: {exc.strerror or exc}"))
    except NotRegularFile as exc:
        return FileOutcome(ScanFailure(path, exc.message))
    store_error = None
    try:
        if sha256 is None or verify:
            seen = Sha256(sha256_of_buffer(data))
            if sha256 is not None and seen != sha256:
                return FileOutcome(ScanFailure(
                    path, "the file holds other bytes than when it was hashed (changed during the scan, or a dask "
                          "worker's path is not really shared)", sha256))
            sha256 = seen
        if lookup is not None:
            try:
                hit = lookup(sha256, path)
            except StoreError as exc:
                hit, store_error = None, str(exc)
            if hit is not None:
                return FileOutcome([hit], cached=True)
        results = analyze_bytes(data, path, catalog=load_catalog(), options=options, sha256=sha256)
        return FileOutcome(results, store_error=store_error)
    except EcuscanError as exc:
        failure = ScanFailure(path, exc.message if exc.source else str(exc), sha256)
    except (MemoryError, RecursionError) as exc:
        failure = ScanFailure(path, f"input too complex: {exc.__class__.__name__}", sha256)
    except Exception as exc:  # a bug must not end the batch; it is reported as such
        failure = ScanFailure(path, f"internal error while scanning ({exc.__class__.__name__}: {exc})", sha256)
    finally:
        if isinstance(closer, mmap.mmap):
            try:
                closer.close()
            except BufferError:
                pass  # a result still references the map; the GC closes it
    return FileOutcome(failure, store_error=store_error)


def scan_task(path: str, options: ScanOptions, sha256: Sha256 | None) -> list[ScanResult] | ScanFailure:
    """What a dask worker runs for one image: :func:`analyze_path`, refusing bytes other than the
    ones the parent hashed (a path that is not really shared). Picklable by reference."""
    return analyze_path(path, options, sha256, verify=sha256 is not None)


def preload() -> None:
    """Import and load what every analysis needs, before worker processes are forked from this one
    (they inherit it instead of each paying for it: LIEF alone takes about a second)."""
    from .. import identify, provenance  # noqa: F401
    from ..formats import elf
    from ..identify.signatures import prefilter_pass

    elf.preload()
    # the compiled signatures and the Hyperscan database of the shared prefilter pass (about 0.7 s
    # per process to build) are inherited by forked workers too
    prefilter_pass(load_catalog())
