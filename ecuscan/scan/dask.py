"""Per-image scanning spread over a dask.distributed cluster (``ecuscan scan --dask ...``).

dask.distributed does the scheduling, worker supervision and restarts; this module only
decides *what* is sent and how results come back:

- The parent checks the cache first (as for ``--jobs``), then submits one task per image
  that still needs analysis: :func:`ecuscan.scan.analysis.scan_task` on the image's *path*.
  Workers read the image from a path they share with the parent (the same file system at
  the same place: trivially true for ``local``, an NFS/CIFS mount for a remote cluster).
  Bytes are never shipped: the parent would have to read every image a second time and
  push it through the scheduler, and a firmware portfolio is mostly large images. A worker
  hashes the file before analysing it, so a path that holds other bytes on the worker (a
  mount that is not really shared) becomes a :class:`ScanFailure`, never a wrong result.
- Tasks go through ``Client.get_executor()`` into the same windowed loop as the local
  process pool (:func:`ecuscan.scan.executors.run_windowed`): at most a window of tasks is in
  flight (a few per worker thread) and results are yielded as they arrive, so the caller
  (the one writer) stores each image as soon as it is done. This module does not import the
  scanner: the task function is handed in.
- A worker process that dies (OOM kill, segfault in a native parser) loses only the task
  it was running: the scheduler resubmits it elsewhere, up to its ``allowed-failures``
  (``distributed.scheduler.allowed-failures``; ``local`` clusters use ``worker_deaths``).
  (Clusters ecuscan starts hand each worker one task at a time, see :data:`SCHEDULER_CONFIG`.)
  An image that kills every worker it lands on ends as ``KilledWorker`` and becomes a
  :class:`ScanFailure`; the batch goes on. ``retries`` additionally re-runs a task whose
  function raised (``analyze_path`` itself never raises for a bad input).

Spec strings: ``local`` (a LocalCluster with one single-threaded worker process per CPU),
``local:N`` (N worker processes) or ``tcp://HOST:PORT`` (an existing scheduler).

>>> parse_spec("local:3")
DaskSpec(address=None, workers=3)
>>> parse_spec("tcp://10.0.0.5:8786")
DaskSpec(address='tcp://10.0.0.5:8786', workers=None)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import EcuscanError
from ..model import ScanFailure, ScanResult, Sha256

#: What a scan task returns: all results of one top-level image, or why it could not be scanned.
TaskResult = list[ScanResult] | ScanFailure
#: A scan task: ``(path, options, sha256) -> TaskResult``; must be a picklable top-level function.
Task = Callable[[str, Any, Sha256 | None], TaskResult]


class DaskError(EcuscanError):
    """The dask cluster could not be reached or started, or the spec is malformed."""


@dataclass(frozen=True)
class DaskSpec:
    """Where to run: an existing scheduler (``address``) or a local cluster of ``workers`` processes."""

    address: str | None = None
    workers: int | None = None


def parse_spec(spec: str) -> DaskSpec:
    """Parse ``local``, ``local:N`` or ``tcp://HOST:PORT`` (also ``tls://``, ``inproc://``)."""
    text = spec.strip()
    if text == "local":
        return DaskSpec(workers=max(1, os.cpu_count() or 1))
    if text.startswith("local:"):
        count = text[len("local:"):]
        if not count.isdigit() or not 1 <= int(count) <= 1024:
            raise DaskError(f"worker count must be a number from 1 to 1024, not {count!r}", source=spec)
        return DaskSpec(workers=int(count))
    if "://" in text and text.split("://", 1)[1]:
        return DaskSpec(address=text)
    raise DaskError("expected local, local:N or tcp://SCHEDULER:PORT", source=spec)


@contextmanager
def open_client(spec: str, *, worker_deaths: int = 3, connect_timeout: str = "30s") -> Iterator[Any]:
    """A connected ``distributed.Client`` for ``spec``; a local cluster is shut down on exit.

    ``worker_deaths``: how often a task may be running on a worker that dies before it is
    given up (applies to local clusters; a remote scheduler has its own setting).
    """
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - dask is an optional dependency
        raise DaskError("dask.distributed is not installed (pip install 'ecuscan[dask]')", source=spec) from exc
    target = parse_spec(spec)
    if target.address is not None:
        try:
            client = Client(target.address, timeout=connect_timeout)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise DaskError(f"cannot reach the dask scheduler: {exc}", source=spec) from exc
        with client:
            yield client
        return
    try:
        cluster = local_cluster(target.workers or 1, worker_deaths=worker_deaths)
    except (OSError, TimeoutError) as exc:
        raise DaskError(f"cannot start a local dask cluster: {exc}", source=spec) from exc
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        yield client


#: Scheduler settings for clusters ecuscan starts. ``worker-saturation`` 1.0 hands a worker
#: only as many tasks as it has threads, so a worker that dies takes only the image it was
#: running with it (with the default 1.1 a queued bystander would be counted as suspicious
#: too, and could be given up together with an image that really kills workers). Set the
#: same on a shared scheduler (``DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0``).
SCHEDULER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0}


def local_cluster(workers: int, *, worker_deaths: int = 3) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes (not started
    in a context: use it as one), configured as :data:`SCHEDULER_CONFIG` says."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({**SCHEDULER_CONFIG, "distributed.scheduler.allowed-failures": worker_deaths}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,  # type: ignore[no-untyped-call]
                            dashboard_address=None, scheduler_port=0)


def window_for(client: Any) -> int:
    """Tasks kept in flight on ``client``'s cluster: four per worker thread, at least 8."""
    threads = sum(client.nthreads().values()) or 1
    return max(8, 4 * threads)


def failure_reason(exc: BaseException) -> str:
    """Why a dask task gave no result, in words for a :class:`ScanFailure`."""
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return "every dask worker that ran this image died (crash or out of memory)"
    if isinstance(exc, (FutureCancelledError, TimeoutError, OSError)):
        return f"dask task lost: {exc.__class__.__name__}: {exc}"
    return f"dask task failed: {exc.__class__.__name__}: {exc}"


def renamed(outcome: TaskResult, sent: str, given: str) -> TaskResult:
    """Results name the path the user gave, not the absolute path the worker read."""
    if sent == given:
        return outcome
    if isinstance(outcome, ScanFailure):
        return dataclasses.replace(outcome, path=given)

    def swap(p: str | None) -> str | None:
        return given + p[len(sent):] if p is not None and p.startswith(sent) else p

    return [dataclasses.replace(r, path=swap(r.path) or r.path, parent=swap(r.parent)) for r in outcome]


#: Stores opened by this worker process (one per URL, reused by every task it runs), and how many
#: results each has written: a worker writes a shared database itself, concurrently with the others.
_WORKER_STORES: dict[str, Any] = {}
_WORKER_WRITES: dict[str, int] = {}


def shares_store(url: str | None) -> bool:
    """True for a store the workers can write themselves: a database server (PostgreSQL), not a
    SQLite file on the machine of the process that started the scan."""
    return url is not None and "://" in url and not url.startswith("sqlite")


def stored_task(task: Task, store_url: str, path: str, options: Any, sha256: Sha256 | None) -> TaskResult:
    """``task`` on a worker, whose results the worker then writes to ``store_url`` itself (in one
    transaction per image, concurrently with the other workers; the store's upserts make a
    file seen by two workers at once safe)."""
    outcome = task(path, options, sha256)
    if isinstance(outcome, ScanFailure):
        return outcome
    try:
        store = _WORKER_STORES.get(store_url)
        if store is None:
            from ..store import Store

            store = _WORKER_STORES[store_url] = Store.open(store_url)
        store.put_many(outcome)
    except EcuscanError as exc:
        return ScanFailure(path, f"analysed, but the dask worker could not write the store: {exc}", sha256)
    _WORKER_WRITES[store_url] = _WORKER_WRITES.get(store_url, 0) + len(outcome)
    return outcome


def worker_writes() -> dict[str, int]:
    """Results this worker process wrote per store URL (for ``Client.run``: tests, monitoring)."""
    return dict(_WORKER_WRITES)


def scan_distributed(pending: Iterable[tuple[str, Sha256 | None]], options: Any, client: Any, *,
                     task: Task, retries: int = 1, window: int | None = None,
                     store_url: str | None = None) -> Iterator[tuple[str, TaskResult]]:
    """Run ``task`` for each ``(path, sha256)`` on the cluster; yield ``(path, outcome)`` as each finishes.

    Order is completion order. Relative paths are sent as absolute paths (a worker's working
    directory is not the caller's) and the results renamed back. At most ``window`` tasks are
    in flight (default :func:`window_for`). Never raises for a lost task: a task whose workers
    kept dying, or that failed ``retries + 1`` times, becomes a :class:`ScanFailure`.
    ``store_url``: each worker writes its results there itself (see :func:`stored_task`); the
    results it stores name the absolute path it read.
    """
    from .executors import run_windowed

    executor = client.get_executor(retries=retries, pure=False)

    def submit(item: tuple[str, Sha256 | None]) -> Any:
        if store_url is not None:
            return executor.submit(stored_task, task, store_url, os.path.abspath(item[0]), options, item[1])
        return executor.submit(task, os.path.abspath(item[0]), options, item[1])

    def failed(item: tuple[str, Sha256 | None], exc: BaseException) -> TaskResult:
        return ScanFailure(item[0], failure_reason(exc), item[1])

    for (path, _sha), outcome in run_windowed(submit, pending, window or window_for(client), failed):
        yield path, renamed(outcome, os.path.abspath(path), path)
