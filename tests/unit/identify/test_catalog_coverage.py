"""Every catalog entry is named by at least one ground truth on real bytes, or is listed, with the
reason, in ``tests/benchmarks/catalog_uncovered.yaml`` (issue 12: "every entry has at least one test
on real bytes").

The truths are the project's own truth files, read by ``tests/benchmarks/catalog_coverage.py`` (never
ecuscan's output): the miner's generated per-entry table in docs/accuracy.md with its project list,
the firmware set's truth, the MCU/RTOS and automotive build recipes, the real-bytes fixtures of hand
entries, and the development corpus ground truth (fetched by CI, not committed: the check that needs
it skips with a reason when it is absent). Images built only on a developer's machine (no committed
truth) do not count. That each truth's bytes are found is tested next to each
source (test_mined_catalog, test_firmware_*, test_mcu_sources, test_automotive_entries,
test_realbytes_entries); ``catalog_coverage.py --scan`` re-checks all of them at once.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from ecuscan.catalog import load_catalog

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "catalog_coverage.py"
_spec = importlib.util.spec_from_file_location("catalog_coverage", _PATH)
assert _spec is not None and _spec.loader is not None
cc = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("catalog_coverage", cc)  # its dataclasses look their module up
_spec.loader.exec_module(cc)

CAT = load_catalog()
COMMITTED = cc.collect(CAT, committed_only=True)
EXCEPTIONS = cc.load_exceptions()


def _dev_corpus_present() -> bool:
    return (cc.DEV_CORPUS / "dev-corpus.json").is_file()


def test_catalog_has_at_least_300_entries() -> None:
    assert len(CAT) >= 300


def test_truth_sources_are_read() -> None:
    # a parser that silently read nothing would turn every entry into "uncovered" or, worse, hide a
    # source: each committed kind must name entries
    for kind in cc.COMMITTED_KINDS:
        assert any(kind in COMMITTED.kinds(e) for e in COMMITTED.entries), f"no entry named by {kind}"
    mined = [e for e in COMMITTED.entries if "mined" in COMMITTED.kinds(e)]
    assert len(mined) >= 200, len(mined)


def test_every_truth_name_resolves_to_an_entry() -> None:
    cov = cc.collect(CAT, local_builds=False) if _dev_corpus_present() else COMMITTED
    assert not cov.unresolved, f"truth names the catalog does not resolve: {sorted(cov.unresolved)}"


def test_exception_file_names_catalog_entries_with_reasons() -> None:
    unknown = sorted(e for e in EXCEPTIONS if CAT.get(e) is None)
    assert not unknown, f"catalog_uncovered.yaml lists ids the catalog does not have: {unknown}"
    assert all(len(reason) >= 40 for reason in EXCEPTIONS.values())


def test_every_entry_has_a_real_bytes_truth_or_a_listed_reason() -> None:
    missing = [e for e in COMMITTED.uncovered() if e not in EXCEPTIONS]
    if not missing:
        return
    if not _dev_corpus_present():
        pytest.skip(f"{len(missing)} entries have no committed truth and the development corpus ground truth "
                    f"({cc.DEV_CORPUS}/dev-corpus.json) is absent: {missing[:8]}...")
    full = cc.collect(CAT, local_builds=False)
    missing = [e for e in full.uncovered() if e not in EXCEPTIONS]
    assert not missing, ("entries with no ground truth on real bytes and no reason in "
                         f"tests/benchmarks/catalog_uncovered.yaml: {missing}")


def test_listed_exceptions_are_really_uncovered() -> None:
    covered = sorted(e for e in EXCEPTIONS if COMMITTED.truths.get(e))
    assert not covered, f"listed in catalog_uncovered.yaml but covered by a committed truth: {covered}"
    if _dev_corpus_present():
        full = cc.collect(CAT, local_builds=False)
        covered = sorted(e for e in EXCEPTIONS if full.truths.get(e))
        assert not covered, f"listed in catalog_uncovered.yaml but covered by the development corpus: {covered}"


def test_mined_table_rows_are_miner_projects() -> None:
    # the generated table and the project list agree: an entry in the table is a project the miner fetched
    import yaml

    projects = {p["id"] for p in yaml.safe_load(cc.PROJECTS.read_text("utf-8"))["projects"] if not p.get("skip")}
    table, recall = cc._mined_table(cc.DOCS.read_text("utf-8"))
    assert table and recall
    assert set(table) <= projects, sorted(set(table) - projects)
    # and every shipped mined entry (linux-*.yaml) is in the table, with files of its own project
    mined_ids = set()
    for f in (cc.REPO / "ecuscan" / "catalog" / "domains").glob("linux-*.yaml"):
        mined_ids |= {c["id"] for c in yaml.safe_load(f.read_text("utf-8"))["components"]}
    assert mined_ids <= set(table), sorted(mined_ids - set(table))
    assert all(table[e][0] > 0 for e in mined_ids), sorted(e for e in mined_ids if table[e][0] == 0)


def test_report_lists_uncovered_entries_with_reasons() -> None:
    text = cc.report(COMMITTED, EXCEPTIONS)
    for e in COMMITTED.uncovered():
        assert e in text
    assert f"{len(CAT)} catalog entries" in text
