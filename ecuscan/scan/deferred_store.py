"""The inventory store of a scan, opened when the scan first uses it.

Opening a store imports SQLAlchemy (about 0.2 s) and creates or checks the tables. A scan that
analyses a tree on a pool of workers first uses its store when the first results come back, so
opening it then puts that time beside the workers' analysis instead of before it. A scan that
looks every file up first opens it at the first file, as before. A store that cannot be opened
raises :class:`~ecuscan.errors.StoreError` from that first use, which the scan already turns into
"the scan went on without the store" (see ``Scanner.store_problems``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..store_location import default_store_url

if TYPE_CHECKING:
    from ..model import ScanResult, Sha256
    from ..store import Store


class DeferredStore:
    """A :class:`~ecuscan.store.Store` named by ``spec`` (URL or path; ``None``: the default
    store) and opened at its first read or write. Closed with :meth:`close` when it was opened.

    >>> s = DeferredStore("/srv/ecuscan/inventory.sqlite")
    >>> s.url, s.opened
    ('/srv/ecuscan/inventory.sqlite', False)
    """

    def __init__(self, spec: str | None = None) -> None:
        #: the store's spec as :meth:`Store.open` is given it (what ``Store.url`` says once open)
        self.url = spec or default_store_url()
        self._store: Store | None = None
        self._error: StoreError | None = None

    @property
    def opened(self) -> bool:
        """True once the store was opened."""
        return self._store is not None

    def _open(self) -> Store:
        if self._store is not None:
            return self._store
        if self._error is not None:  # one attempt: a store that could not be opened stays unused
            raise self._error
        from ..store import Store  # here: see the module's docstring

        try:
            self._store = Store.open(self.url)
        except StoreError as exc:
            self._error = exc
            raise
        return self._store

    def get_analysis(self, sha256: Sha256, scanner_version: str, path: str) -> ScanResult | None:
        """:meth:`Store.get_analysis`, opening the store first if needed."""
        return self._open().get_analysis(sha256, scanner_version, path)

    def put_many(self, results: Iterable[ScanResult], touched: Iterable[tuple[str, str]] = ()) -> None:
        """:meth:`Store.put_many`, opening the store first if needed."""
        self._open().put_many(results, touched)

    def close(self) -> None:
        """Close the store if it was opened."""
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> DeferredStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
