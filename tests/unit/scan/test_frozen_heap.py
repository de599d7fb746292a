"""The heap kept out of the cyclic GC's passes during a scan (ecuscan.scan.pipeline.frozen_heap)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecuscan.model import ScanResult
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner, frozen_heap, with_frozen_heap


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_frozen_while_inside_and_handed_back_after() -> None:
    with frozen_heap() as again:
        assert gc.get_freeze_count() > 0
        before = gc.get_freeze_count()
        kept = [[i] for i in range(1000)]  # survivors of the first file, say
        again()
        assert gc.get_freeze_count() >= before + 1000
        with frozen_heap():  # a nested scan (a command around the scanner) shares the freeze
            pass
        assert gc.get_freeze_count() > 0  # the inner exit did not thaw the outer scan's heap
    assert gc.get_freeze_count() == 0
    assert len(kept) == 1000


def test_young_cycles_are_collected_not_frozen() -> None:
    """``again()`` collects the young generations before it freezes: a cycle already dropped is freed."""
    class Node:
        pass

    with frozen_heap() as again:
        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        del a, b
        frozen = gc.get_freeze_count()
        again()
        assert not any(type(o) is Node for o in gc.get_objects())
        assert gc.get_freeze_count() >= frozen


def test_a_heap_frozen_by_the_application_is_left_as_it_is() -> None:
    gc.freeze()
    mine = gc.get_freeze_count()
    with frozen_heap() as again:
        again()  # not this scan's freeze: nothing more is frozen
        assert gc.get_freeze_count() == mine
    assert gc.get_freeze_count() == mine  # and nothing is thawed


def test_the_decorator_and_an_exception() -> None:
    @with_frozen_heap
    def fails() -> None:
        assert gc.get_freeze_count() > 0
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        fails()
    assert gc.get_freeze_count() == 0


def test_a_scan_leaves_nothing_frozen(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.bin").write_bytes(b"\x00zlib inflate 1.2.13 Copyright 1995-2022 Mark Adler\x00" * (i + 1))
    scanner = Scanner(None, options=ScanOptions(use_cache=False, jobs=1))
    seen = []
    for outcome in scanner.scan_paths([tmp_path]):
        seen.append(gc.get_freeze_count() > 0)
        assert isinstance(outcome, ScanResult)
    assert seen == [True] * 5  # frozen while the scan ran
    assert gc.get_freeze_count() == 0


def test_a_tree_comes_out_in_walk_order_whoever_finishes_first(tmp_path: Path) -> None:
    """Pool workers finish in any order; a tree's outcomes are put back in the order the walk listed
    its files before the tree-wide rules run (``identify.links`` cites the first file that names a
    version), so ``--jobs 2`` gives what ``--jobs 1`` gives, in the same order."""
    tree = tmp_path / "tree"
    tree.mkdir()
    # the first file in walk order is the slowest: a chunk of its own (over Scanner.CHUNK_BYTES),
    # full of digit.dot places; the small ones behind it finish first
    (tree / "a-big.bin").write_bytes(b"\x00v1.2.3 zlib 1.2.13\x00" * ((5 << 20) // 20))
    for i in range(40):
        (tree / f"b{i:02d}.bin").write_bytes(b"\x00inflate 1.2.13 Copyright 1995-2022 Mark Adler\x00" + bytes([i]))
    serial = list(Scanner(None, options=ScanOptions(use_cache=False, jobs=1)).scan_paths([tree]))
    pooled = list(Scanner(None, options=ScanOptions(use_cache=False, jobs=2)).scan_paths([tree]))
    assert [o.path for o in pooled] == [o.path for o in serial]
    assert Path(serial[0].path).name == "a-big.bin"
    assert [o.to_dict() for o in pooled] == [o.to_dict() for o in serial]  # type: ignore[union-attr]
