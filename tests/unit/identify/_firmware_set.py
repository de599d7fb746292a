"""Shared access to the held-out firmware set for the tests on real bytes (see
``tests/benchmarks/firmware_set/fetch.sh``); the tests skip when the download cache is absent."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.formats import load
from ecuscan.identify import identify
from ecuscan.model import Relation

ROOT = Path(os.environ.get("ECUSCAN_FIRMWARE_SET", Path.home() / ".cache/ecuscan/firmware"))
TRUTH = Path(__file__).resolve().parents[2] / "benchmarks" / "firmware_truth.json"
FILES: list[dict] = json.loads(TRUTH.read_text())["files"]  # type: ignore[type-arg]

# the benchmark script's version comparison, so tests and figures judge alike
_spec = importlib.util.spec_from_file_location("bench_firmware_accuracy", TRUTH.parent / "bench_firmware_accuracy.py")
assert _spec is not None and _spec.loader is not None
_BENCH = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_BENCH)


def pick(component: str, per_suite: int = 3, versioned: bool = True) -> list[tuple[str, str | None]]:
    """Up to ``per_suite`` (file, truth version) per Debian release for ``component``: files whose
    version text is in the bytes when ``versioned``, else files whose version cannot be read from them
    (no version in the truth, or its text absent from the bytes)."""
    out: list[tuple[str, str | None]] = []
    count: dict[str, int] = {}
    for f in FILES:
        for c in f["components"]:
            if c["component"] != component or count.get(f["suite"], 0) >= per_suite:
                continue
            if versioned != bool(c["version"] and c["version_text_in_bytes"]):
                continue
            count[f["suite"]] = count.get(f["suite"], 0) + 1
            out.append((f["file"], c["version"]))
    return out


def has(comps: set[tuple[str, str | None]], cid: str, version: str | None) -> bool:
    """``(cid, version)`` is among ``comps``, versions compared as the benchmark does (``2.8`` is ``2.8.0``)."""
    return any(c == cid and _BENCH.same_version(v, version) for c, v in comps)


def truth_ids(rel: str) -> set[str]:
    return {c["component"] for f in FILES if f["file"] == rel for c in f["components"]}


def found(rel: str) -> set[tuple[str, str | None]]:
    path = ROOT / rel
    if not path.is_file():
        pytest.skip(f"firmware set not downloaded ({path}); run tests/benchmarks/firmware_set/fetch.sh")
    image = load(path.read_bytes(), rel)
    return {(c.id, c.version) for c in identify(image, load_catalog()) if c.relation is Relation.CONTAINS}
