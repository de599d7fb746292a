"""The adjudicated ground truth (``tests/benchmarks/truth_adjudications.json``) is well-founded.

Each adjudication names a Debian source package, the SHA-256 of its files and the lines of the
source that declare the version. Checked here: every adjudication applies to pairs of the
development corpus with exactly the truth it says it replaces; the file-by-line evidence holds in
the source as downloaded by ``tests/benchmarks/adjudicate_truth.py`` (skipped with a reason when the
sources were not fetched: that script downloads them); and the binaries' own bytes say the
adjudicated version (so the benchmark's second figure is the bytes against the source, not the
code against itself).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[2] / "benchmarks"
DOC = json.loads((HERE / "truth_adjudications.json").read_text("utf-8"))
CORPUS = Path.home() / ".cache/ecuscan/dev-corpus"
SOURCES = Path(os.environ.get("ECUSCAN_ADJUDICATION_SOURCES", Path.home() / ".cache/ecuscan/adjudications"))
ADJ = DOC["adjudications"]


def _corpus() -> dict:  # type: ignore[type-arg]
    path = CORPUS / "dev-corpus.json"
    if not path.is_file():
        pytest.skip(f"development corpus not present ({path})")
    return json.loads(path.read_text("utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("adj", ADJ, ids=[a["component"] for a in ADJ])
def test_adjudication_names_its_source(adj: dict) -> None:  # type: ignore[type-arg]
    assert adj["adjudicated_version"] != adj["truth_as_given"]
    assert adj["files"] and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in adj["files"].values())
    assert adj["evidence"] and all(e["file"] and e["line"] >= 1 and e["text"] for e in adj["evidence"])
    assert adj["reasoning"] and adj["obtained"]


@pytest.mark.parametrize("adj", ADJ, ids=[a["component"] for a in ADJ])
def test_adjudication_applies_to_the_corpus_and_matches_the_bytes(adj: dict) -> None:  # type: ignore[type-arg]
    files = [f for f in _corpus()["files"]
             if f["component"] == adj["component"] and f["debian_version"] == adj["debian_version"]]
    assert files, "the adjudication applies to no file of the corpus"
    assert {f["version"] for f in files} == {adj["truth_as_given"]}
    # the bytes of at least one file per architecture state the adjudicated version
    said = {f["arch"] for f in files if adj["adjudicated_version"].encode() in (CORPUS / f["file"]).read_bytes()}
    assert said == {f["arch"] for f in files}


@pytest.mark.parametrize("adj", ADJ, ids=[a["component"] for a in ADJ])
def test_adjudication_evidence_holds_in_the_downloaded_source(adj: dict) -> None:  # type: ignore[type-arg]
    dl = SOURCES / adj["debian_source"] / adj["debian_version"].replace(":", "%3a")
    trees = [dl / "patched", *sorted((dl / "orig").glob("*"))] if dl.is_dir() else []
    tree = next((t for t in trees if t.is_dir() and (t / adj["evidence"][0]["file"]).is_file()), None)
    if tree is None:
        pytest.skip(f"sources not downloaded ({dl}): python tests/benchmarks/adjudicate_truth.py")
    for ev in adj["evidence"]:
        lines = (tree / ev["file"]).read_text("utf-8", errors="replace").splitlines()
        assert lines[ev["line"] - 1] == ev["text"], (ev["file"], ev["line"])
