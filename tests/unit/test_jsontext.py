"""The JSON the CLI prints (orjson, ``ecuscan/jsontext.py``) is the text ``json.dumps(indent=2)`` writes."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ecuscan.jsontext import dumps_indented
from ecuscan.model import ScanResult
from ecuscan.scan.pipeline import Scanner

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def _stdlib(doc: object) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)


def test_a_scan_report_is_written_as_the_standard_library_writes_it() -> None:
    results = [o for o in Scanner(None).scan_paths(sorted(FIRMWARE.glob("*.elf"))) if isinstance(o, ScanResult)]
    assert results
    doc = {"schema": "ecuscan/scan-report/v1", "results": [r.to_dict() for r in results], "errors": []}
    assert dumps_indented(doc) == _stdlib(doc)
    assert json.loads(dumps_indented(doc)) == doc


_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 63), max_value=2 ** 64 - 1)
            | st.floats(allow_nan=False, allow_infinity=False, width=64) | st.text())
_docs = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@given(_docs)
def test_any_document_reads_back_the_same(doc: object) -> None:
    assert json.loads(dumps_indented(doc)) == json.loads(_stdlib(doc))


def test_integers_beyond_64_bits_and_unsorted_keys() -> None:
    doc = {"b": 2 ** 80, "a": ["é", {"z": 1, "y": None}]}
    assert dumps_indented(doc) == _stdlib(doc)
    assert dumps_indented({"b": 1, "a": 2}, sort_keys=False) == json.dumps({"b": 1, "a": 2}, indent=2)
