"""One windowed submit loop for every way of running scan tasks in parallel.

The scanner hands work to a ``concurrent.futures``-style executor: a local
:class:`~concurrent.futures.ProcessPoolExecutor` (``--jobs``) or a dask.distributed cluster
through ``Client.get_executor()`` (``--dask``). :func:`run_windowed` keeps at most ``window``
tasks in flight and yields each result as it completes, so the caller (the one writer) stores
results while the workers go on, and a batch of 100,000 files never holds 100,000 futures.

This module knows nothing about scanning (no import of the scanner): it runs functions.

>>> from concurrent.futures import ThreadPoolExecutor
>>> with ThreadPoolExecutor(2) as pool:
...     sorted(run_windowed(lambda x: pool.submit(pow, x, 2), [1, 2, 3], 2, lambda x, e: -1))
[(1, 1), (2, 4), (3, 9)]
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

_I = TypeVar("_I")
_R = TypeVar("_R")

#: ``--jobs auto`` gives a worker process to every this many files (a tree of a few files is
#: scanned in the calling process: starting and feeding workers would cost more than it saves).
FILES_PER_WORKER = 16


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def auto_workers(files: int, cpus: int | None = None) -> int:
    """How many worker processes pay for ``files`` files: one per :data:`FILES_PER_WORKER`, at most one
    per CPU, and 1 (no pool) for small batches.

    >>> auto_workers(3, cpus=8), auto_workers(40, cpus=8), auto_workers(10_000, cpus=2)
    (1, 2, 2)
    """
    return max(1, min(cpus or available_cpus(), files // FILES_PER_WORKER))


def run_windowed(submit: Callable[[_I], Future[_R]], items: Iterable[_I], window: int,
                 on_error: Callable[[_I, BaseException], _R], *, retries: int = 0,
                 retry_on: tuple[type[BaseException], ...] = ()) -> Iterator[tuple[_I, _R]]:
    """``(item, result)`` for every item, in completion order, with at most ``window`` in flight.

    ``submit(item)`` starts one task. A task that raises (or an item ``submit`` refuses) gives
    ``on_error(item, exception)`` as its result; an exception of a ``retry_on`` type is first
    retried up to ``retries`` times (a local pool broken by a crashing worker is rebuilt by
    ``submit`` and the items that were in flight in it run again). Never raises for a task.
    """
    todo = iter(items)
    running: dict[Future[_R], tuple[_I, int]] = {}
    ready: list[tuple[_I, _R]] = []

    def start(item: _I, tries: int) -> None:
        try:
            running[submit(item)] = (item, tries)
        except Exception as exc:  # the executor refused the task (shut down, broken, unpicklable)
            if isinstance(exc, retry_on) and tries < retries:
                start(item, tries + 1)
            else:
                ready.append((item, on_error(item, exc)))

    def fill() -> None:
        while len(running) < max(1, window):
            item = next(todo, _END)
            if item is _END:
                return
            start(item, 0)

    fill()
    while running or ready:
        yield from ready
        ready.clear()
        if not running:
            fill()
            continue
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for fut in done:
            item, tries = running.pop(fut)
            try:
                exc = fut.exception()
            except CancelledError as cancelled:  # cancelled by the executor (a cluster shutting down)
                exc = cancelled
            if exc is None:
                ready.append((item, fut.result()))
            elif isinstance(exc, retry_on) and tries < retries:
                start(item, tries + 1)
            else:
                ready.append((item, on_error(item, exc)))
        fill()


_END: Any = object()


class LocalPool:
    """A :class:`ProcessPoolExecutor` that is rebuilt when a worker dies (OOM kill, a segfault in a
    native parser), so one bad image does not end the batch.

    Workers are forked where the platform can (Linux): they inherit what the parent has already
    imported and loaded (the catalog, LIEF), instead of each paying for it again.
    """

    def __init__(self, workers: int, initializer: Callable[[], None] | None = None) -> None:
        self.workers = workers
        self._initializer = initializer
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork") if "fork" in methods else None
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                             initializer=_worker_init, initargs=(os.getpid(), self._initializer))
        return self._pool

    def submit(self, fn: Callable[..., _R], *args: Any) -> Future[_R]:
        """Submit ``fn(*args)``; a broken pool is replaced first."""
        try:
            return self._executor().submit(fn, *args)
        except BrokenProcessPool:
            self.close(wait_for=False)
            return self._executor().submit(fn, *args)

    def close(self, wait_for: bool = True) -> None:
        """Shut the pool down (cancelling what has not started when ``wait_for`` is false)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=wait_for, cancel_futures=not wait_for)

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(wait_for=exc[0] is None)


def _worker_init(parent: int, then: Callable[[], None] | None) -> None:
    """In each pool worker: exit when the parent is gone (a ``kill -9`` of the scan must not leave
    workers blocked on their task queue forever), then run the caller's initializer."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(70)  # the parent died: nobody will ever read this worker's results

    threading.Thread(target=watch, name="ecuscan-parent-watch", daemon=True).start()
    if then is not None:
        then()

