"""The scan's store is opened at its first use (``ecuscan/scan/deferred_store.py``), and a store
that cannot be opened is tried once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecuscan.errors import StoreError
from ecuscan.model import ScanResult
from ecuscan.scan.deferred_store import DeferredStore
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner
from ecuscan.store import Store


def _tree(root: Path, n: int) -> Path:
    root.mkdir()
    for i in range(n):
        (root / f"f{i:03d}.bin").write_bytes(f"\0inflate 1.2.{i} Copyright 1995-2022 Mark Adler\0".encode() * 8)
    return root


def test_nothing_is_opened_before_the_first_use(tmp_path: Path) -> None:
    db = tmp_path / "inv.sqlite"
    store = DeferredStore(str(db))
    assert not store.opened and store.url == str(db)
    store.close()  # closing a store never opened creates nothing
    assert not db.exists()
    assert store.get_analysis("0" * 64, "v", "x") is None  # a read opens (and creates) it
    assert store.opened and db.is_file()
    store.close()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_scan_fills_the_store_it_opened_on_the_way(tmp_path: Path, jobs: int) -> None:
    tree = _tree(tmp_path / "tree", 40)
    db = tmp_path / "inv.sqlite"
    with DeferredStore(str(db)) as store:
        scanner = Scanner(store, options=ScanOptions(use_cache=False, jobs=jobs))
        results = [o for o in scanner.scan_paths([tree]) if isinstance(o, ScanResult)]
        assert store.opened and not scanner.store_problems
    assert len(results) == 40
    with Store.open(str(db)) as opened:
        assert opened.count() == 40
        assert {r.sha256 for r in opened.results()} == {r.sha256 for r in results}


def test_a_store_that_cannot_be_opened_is_tried_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"x")
    calls: list[str] = []
    real_open = Store.open

    def counting_open(spec: str | None = None) -> Store:
        calls.append(str(spec))
        return real_open(spec)

    monkeypatch.setattr(Store, "open", staticmethod(counting_open))
    store = DeferredStore(str(blocker / "inv.sqlite"))  # a folder that is a file: cannot be created
    with pytest.raises(StoreError, match="cannot open store"):
        store.put_many([])
    with pytest.raises(StoreError, match="cannot open store"):
        store.get_analysis("0" * 64, "v", "x")
    assert len(calls) == 1 and not store.opened

    tree = _tree(tmp_path / "tree", 5)
    scanner = Scanner(DeferredStore(str(blocker / "inv.sqlite")), options=ScanOptions(use_cache=True, jobs=1))
    outcomes = list(scanner.scan_paths([tree]))
    assert len([o for o in outcomes if isinstance(o, ScanResult)]) == 5  # the scan went on without it
    assert len(scanner.store_problems) == 1 and "cannot open store" in scanner.store_problems[0]
