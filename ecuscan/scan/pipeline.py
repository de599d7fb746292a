"""The scan pipeline: paths in, :class:`ScanOutcome` values out, results kept in the store.

The :class:`Scanner` is *handed* its collaborators (store, catalog, limits, observer). It expands
paths into files, looks results up in the store, hands the rest to an executor (in process, a
local process pool, or a dask cluster: :mod:`ecuscan.scan.executors`, :mod:`ecuscan.scan.dask`)
that runs :func:`~ecuscan.scan.analysis.analyze_path`, writes what comes back to the store in
batches, and adds the package metadata of each scanned directory tree. A bad input becomes a
:class:`ScanFailure` value and the batch goes on.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..catalog import Catalog, load_catalog
from ..errors import StoreError
from ..limits import Limits
from ..model import ScanFailure, ScanOutcome, ScanResult, Sha256
from ..safeio import NotRegularFile, WalkError, walk_files
from .analysis import FileOutcome, preload, scan_path, scan_task
from .cache import sha256_file
from .options import JOBS_AUTO, ScanOptions
from .packages import apply_packages, tree_package_index

if TYPE_CHECKING:
    from ..identify.packages import PackageIndex

    # a type only: SQLAlchemy (~0.15 s) is imported by whoever opens a store, not by a scan without one
    from ..store import Store
    from .deferred_store import DeferredStore


#: A file to analyse: its path, the directory tree it was found in, its SHA-256 if already hashed here.
_Item = tuple[str, str | None, Sha256 | None]


class ScanObserver(Protocol):
    """Progress callbacks; the CLI passes one that drives a progress bar."""

    def planned(self, total: int) -> None:
        """``total`` files are about to be scanned."""

    def finished(self, outcome: ScanOutcome, cached: bool) -> None:
        """One top-level file is done (``cached``: it came from the store)."""


#: Files recorded between two freezes of what survived them (see :func:`frozen_heap`).
REFREEZE_FILES = 128
_FROZEN_SCANS = [0]  # scans running now with the heap frozen by :func:`frozen_heap`
_FROZEN_LOCK = threading.Lock()


@contextlib.contextmanager
def frozen_heap() -> Iterator[Callable[[], None]]:
    """Keep what exists now out of the cyclic garbage collector's passes while a scan runs.

    A scan allocates millions of objects (results, evidence, LIEF's tables), so the collector
    runs hundreds of times, and each full pass walks every object alive: the modules, the catalog,
    the compiled signatures, the Hyperscan database, and the results kept so far (measured: 0.4-0.6 s
    of a 3 s scan of the root/armhf tree). :func:`gc.freeze` moves the objects alive now to a
    generation the collector skips (O(1)); what the scan frees is still freed by reference counting,
    and its cycles are still collected. Yields ``again()``: the young generations are collected and
    what survives is frozen too (after the first file has loaded what the analysis imports lazily,
    and every :data:`REFREEZE_FILES` files, as results accumulate). Everything is handed back to the
    collector at the end. A process that froze its heap itself (before forking workers) is left as
    it is.
    """
    with _FROZEN_LOCK:
        owned = _FROZEN_SCANS[0] > 0 or gc.get_freeze_count() == 0
        if owned:
            _FROZEN_SCANS[0] += 1
            gc.freeze()

    def again() -> None:
        if owned:
            gc.collect(1)  # the young garbage (a few ms), so that it is not frozen with the survivors
            gc.freeze()

    try:
        yield again
    finally:
        if owned:
            with _FROZEN_LOCK:
                _FROZEN_SCANS[0] -= 1
                if _FROZEN_SCANS[0] == 0:
                    gc.unfreeze()


_F = TypeVar("_F", bound=Callable[..., Any])


def with_frozen_heap(f: _F) -> _F:
    """Run ``f`` inside :func:`frozen_heap`: for a command that scans and then writes out what it
    found (the results stay out of the collector's passes until the output is written)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with frozen_heap():
            return f(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


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

    def __init__(self, store: Store | DeferredStore | None, *, catalog: Catalog | None = None,
                 options: ScanOptions | None = None, observer: ScanObserver | None = None) -> None:
        self.store = store
        self.catalog = catalog or load_catalog()
        self.options = options or ScanOptions()
        self.observer = observer
        self._unsaved: list[ScanResult] = []  # written to the store in batches (see _save)
        self._unsaved_paths: list[tuple[str, str]] = []
        self._saved_at = time.monotonic()
        #: Why the store stopped being used during this scan (damaged, unreachable): the scan
        #: went on without the cache, and the caller must say so (the run is incomplete).
        self.store_problems: list[str] = []
        self._tree_files: dict[str, list[str]] = {}  # the files of each directory tree being scanned
        self._tree_indexes: dict[str, PackageIndex | None] = {}  # their package databases, read once
        self._refreeze: Callable[[], None] = lambda: None  # set while a scan runs (see frozen_heap)
        self._recorded = 0

    def _store_failed(self, reason: str) -> None:
        """Go on without the store: no more lookups or writes in this scan; ``reason`` is kept."""
        if reason not in self.store_problems:
            self.store_problems.append(reason)
        self.store = None
        self._unsaved, self._unsaved_paths = [], []

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
            try:
                self.store.put_many(results, paths)
            except StoreError as exc:
                self._store_failed(f"could not be written: {exc}")
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

    @property
    def _consults_cache(self) -> bool:
        return self.store is not None and self.options.use_cache

    def _cached(self, path: str) -> tuple[Sha256 | None, list[ScanResult] | None, str | None]:
        """Hash ``path`` here and look it up (only where workers cannot consult the cache)."""
        try:
            sha = sha256_file(Path(path))
        except OSError as exc:
            return None, None, f"cannot read: {exc.strerror or exc}"
        except NotRegularFile as exc:
            return None, None, exc.message
        # the analysis of these bytes as a file of their own: one stored as a container's member
        # carries that container's path, parent and package evidence and is no answer here
        top = self._lookup(sha, path)
        return sha, ([top] if top is not None else None), None

    def _lookup(self, sha: Sha256, path: str) -> ScanResult | None:
        """The cached analysis of ``sha`` shown at ``path``; a store that cannot be read is a miss
        (and is not used again in this scan)."""
        if self.store is None:
            return None
        try:
            return self.store.get_analysis(sha, self.options.result_version(), path)
        except StoreError as exc:
            self._store_failed(f"could not be read: {exc}")
            return None

    def _record(self, results: list[ScanResult] | ScanFailure, cached: bool,
                root: str | None = None) -> list[ScanOutcome]:
        """Store what the bytes gave, then return it with the package metadata of its tree.

        The store keeps the analysis of the bytes alone: which package owns a file depends on
        the tree it was found in, so that evidence is added on every scan, cached or not.
        """
        self._recorded += 1
        if self._recorded % REFREEZE_FILES == 0:
            self._refreeze()
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
        self._tree_files, self._tree_indexes = {}, {}
        for path, root in items:
            if root is not None:
                self._tree_files.setdefault(root, []).append(path)
        with frozen_heap() as self._refreeze:
            try:
                yield from self._scan_items(items)
            finally:
                self._save(force=True)

    def _scan_items(self, items: Sequence[tuple[str, str | None]]) -> Iterator[ScanOutcome]:
        from ..identify.links import versions_from_links

        order: dict[str, int] = {}
        for i, (path, _root) in enumerate(items):
            order.setdefault(path, i)
        trees: dict[str, list[tuple[int, list[ScanOutcome]]]] = {}
        for root, outcomes in self._analyse(items):
            if root is None:
                yield from outcomes
            else:
                at = order.get(outcomes[0].path, len(order)) if outcomes else len(order)
                trees.setdefault(root, []).append((at, outcomes))
        for root in sorted(trees, key=lambda r: min(at for at, _group in trees[r])):
            # in the order the walk listed the files, not the order pool workers finished them: a rule
            # that cites the first file naming a version (identify.links) must not depend on timing
            outcomes = [o for _at, group in sorted(trees[root], key=lambda t: t[0]) for o in group]
            done = [o for o in outcomes if isinstance(o, ScanResult)]
            linked = iter(versions_from_links(done, self.catalog, self.options.limits))
            yield from (next(linked) if isinstance(o, ScanResult) else o for o in outcomes)

    def _analyse(self, items: Sequence[tuple[str, str | None]]) -> Iterator[tuple[str | None, list[ScanOutcome]]]:
        """Outcomes of ``items``, each file read once: the one map that analyses a file is hashed
        and the hash looked up in the cache by whoever maps it (this process, or a pool worker
        reading the store itself); only a miss is analysed, from the same map. Where the workers
        cannot read the store (a dask cluster, an in-memory store) this process hashes and looks
        up first, as the analysis goes (workers start on the first miss)."""
        lookup = self._consults_cache
        if self.options.dask:
            yield from self._after_lookups_here(items, self._analyse_on_dask)
            return
        from .executors import auto_workers

        # auto: sized by the batch (how many files will miss the cache is not known yet)
        workers = self.options.jobs if self.options.jobs != JOBS_AUTO else auto_workers(len(items))
        if workers > 1 and len(items) > 1:
            spec = self.store.url if lookup and self.store is not None else None
            if spec is None or _readable_by_workers(spec):
                yield from self._analyse_in_pool(((path, root, None) for path, root in items), workers, spec)
            else:
                yield from self._after_lookups_here(
                    items, lambda pending: self._analyse_in_pool(pending, workers, None))
            return
        for i, (path, root) in enumerate(items):
            found = scan_path(path, self.options, lookup=self._lookup if lookup else None)
            if i == 0:
                self._refreeze()  # what the first analysis imported and compiled lives as long as the process
            yield root, self._record_file(found, root)

    def _after_lookups_here(self, items: Sequence[tuple[str, str | None]],
                            analyse: Callable[[Iterator[tuple[str, str | None, Sha256 | None]]],
                                              Iterator[tuple[str | None, list[ScanOutcome]]]],
                            ) -> Iterator[tuple[str | None, list[ScanOutcome]]]:
        """``analyse`` the files the cache does not hold, looked up here first: this process hashes
        each file (a second read, where workers cannot consult the store themselves; a dask worker
        then checks that it maps the same bytes)."""
        lookup = self._consults_cache
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

        for outcome in analyse(misses()):
            yield from ready
            ready.clear()
            yield outcome
        yield from ready

    def _record_file(self, found: FileOutcome, root: str | None) -> list[ScanOutcome]:
        """:meth:`_record` of what :func:`scan_path` gave (a cache it could not read ends the
        use of the store in this scan)."""
        if found.store_error is not None and self.store is not None:
            self._store_failed(f"could not be read: {found.store_error}")
        return self._record(found.outcome, found.cached, root)

    #: Files handed to a pool worker per task: up to this many ...
    CHUNK_FILES = 8
    #: ... and up to about this many bytes (one large image is a task of its own). Small files
    #: go in groups so that the parent wakes, unpickles and records once per group, not per file.
    CHUNK_BYTES = 4 << 20

    def _analyse_in_pool(self, pending: Iterable[tuple[str, str | None, Sha256 | None]], workers: int,
                         store_spec: str | None) -> Iterator[tuple[str | None, list[ScanOutcome]]]:
        """``pending`` on a local pool of ``workers`` processes, through the one windowed loop, in
        chunks of small files (:data:`CHUNK_FILES`, :data:`CHUNK_BYTES`); ``store_spec``: the
        workers look each file not hashed here up there themselves.

        A chunk lost with its worker (an OOM kill, a segfault in a native parser) is run again file
        by file, each with one more try: only the file that kills workers ends as a failure."""
        from concurrent.futures.process import BrokenProcessPool

        from .executors import LocalPool, run_windowed

        preload()
        self._refreeze()  # before the workers fork: they inherit the frozen heap, and touch fewer of its pages
        options = self.options
        lost: list[_Item] = []
        first_pass = [True]
        with LocalPool(workers) as pool:
            def submit(chunk: list[_Item]) -> Future[list[FileOutcome]]:
                return pool.submit(pool_task, [(path, sha) for path, _root, sha in chunk], options, store_spec)

            def failed(chunk: list[_Item], exc: BaseException) -> list[FileOutcome]:
                if isinstance(exc, BrokenProcessPool) and first_pass[0]:
                    lost.extend(chunk)  # in flight when a worker died: run again, one file per task
                    return []
                # a worker died twice while this file was in flight
                return [FileOutcome(ScanFailure(path, f"worker failed: {exc.__class__.__name__}: {exc}", sha))
                        for path, _root, sha in chunk]

            def run(chunks: Iterable[list[_Item]], retries: int) -> Iterator[tuple[str | None, list[ScanOutcome]]]:
                for chunk, outcomes in run_windowed(submit, chunks, 2 * workers, failed, retries=retries,
                                                    retry_on=(BrokenProcessPool,)):
                    for (_path, root, _sha), found in zip(chunk, outcomes, strict=False):
                        yield root, self._record_file(found, root)

            yield from run(_chunks(pending, self.CHUNK_FILES, self.CHUNK_BYTES), 0)
            first_pass[0] = False
            yield from run([[item] for item in lost], 1)

    def _analyse_on_dask(self, pending: Iterable[tuple[str, str | None, Sha256 | None]]
                         ) -> Iterator[tuple[str | None, list[ScanOutcome]]]:
        """``pending`` on the dask cluster of ``options.dask``, through the same windowed loop."""
        from .dask import open_client, scan_distributed, shares_store

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
        if root not in self._tree_indexes:  # read once per scan of the tree
            self._tree_indexes[root] = tree_package_index(root, self._tree_files.get(root, ()), self.catalog,
                                                          self.options.limits)
        index = self._tree_indexes[root]
        return apply_packages(res, index, lambda p: os.path.relpath(p, root) if not p.count("!") else p)


def _readable_by_workers(spec: str) -> bool:
    """True when pool worker processes can open the store ``spec`` themselves (a file or a
    database server; not an in-memory SQLite database, which lives in this process only)."""
    if "://" not in spec:
        return bool(spec) and spec != ":memory:"
    if spec.startswith("sqlite"):
        rest = spec.split("://", 1)[1]
        return rest.startswith("/") and rest[1:] not in ("", ":memory:") and "mode=memory" not in rest
    return True


#: Stores opened by this pool worker process, by spec (``None``: it could not be opened; the
#: reason is kept in :data:`_READER_ERRORS`). Keyed by process id too: a forked worker never uses
#: a connection it inherited.
_READERS: dict[tuple[int, str], Store | None] = {}
_READER_ERRORS: dict[tuple[int, str], str] = {}


def _worker_store(spec: str) -> Store:
    """This worker's own connection to the store ``spec`` (:class:`StoreError` when it cannot be opened)."""
    key = (os.getpid(), spec)
    if key not in _READERS:
        from ..store import Store

        try:
            _READERS[key] = Store.open(spec)
        except StoreError as exc:
            _READERS[key], _READER_ERRORS[key] = None, str(exc)
    store = _READERS[key]
    if store is None:
        raise StoreError(_READER_ERRORS[key], source=spec)
    return store


def pool_task(items: list[tuple[str, Sha256 | None]], options: ScanOptions,
              store_spec: str | None) -> list[FileOutcome]:
    """What a pool worker runs for a chunk of files: :func:`scan_path` for each, looking it up in
    the store ``store_spec`` itself (the hash comes from the map it analyses, so a file is read
    once), or trusting the ``sha256`` this process already hashed and looked up."""
    version = options.result_version()

    def lookup(sha: Sha256, shown_at: str) -> ScanResult | None:
        assert store_spec is not None
        return _worker_store(store_spec).get_analysis(sha, version, shown_at)

    return [scan_path(path, options, sha, lookup=lookup if sha is None and store_spec is not None else None)
            for path, sha in items]


def _chunks(items: Iterable[_Item], max_files: int, max_bytes: int) -> Iterator[list[_Item]]:
    """``items`` in lists of at most ``max_files`` files and, but for one larger file, at most
    ``max_bytes`` bytes."""
    chunk: list[_Item] = []
    size = 0
    for item in items:
        try:
            grows = os.stat(item[0]).st_size
        except OSError:
            grows = 0  # the worker says why it cannot read it
        if chunk and size + grows > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += grows
        if len(chunk) >= max_files:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk
