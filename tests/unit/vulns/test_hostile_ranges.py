"""Ranges that cannot lie, and an import that cannot hang (issue 13, item 4 and the `vulns import` cases).

Each record here is a real NVD / CVE 5 record of the test data with one field changed the way a
broken or hostile feed would write it; each case failed on main before this change.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ecuscan.catalog import Catalog
from ecuscan.cli import main
from ecuscan.vulns.match import match_components
from ecuscan.vulns.parsers import parse_record
from ecuscan.vulns.ranges import bounds_problem, release_key
from ecuscan.vulns.records import FindingStatus

from .vulns_helpers import DATA, component, record


def _nvd_mbedtls(**bounds: Any) -> dict[str, Any]:
    """NVD CVE-2021-44732 (Mbed TLS) with one cpeMatch whose bounds are replaced by ``bounds``."""
    raw = copy.deepcopy(record("nvd/CVE-2021-44732"))
    nodes = raw["configurations"][0]["nodes"]
    match = dict(nodes[0]["cpeMatch"][0])
    for k in ("versionStartIncluding", "versionStartExcluding", "versionEndIncluding", "versionEndExcluding"):
        match.pop(k, None)
    match.update(bounds)
    match["criteria"] = "cpe:2.3:a:arm:mbed_tls:*:*:*:*:*:*:*:*"
    raw["configurations"] = [{"nodes": [{"operator": "OR", "negate": False, "cpeMatch": [match]}]}]
    return raw


def _verdicts(catalog: Catalog, raw: dict[str, Any], fmt: str, versions: list[str]) -> dict[str, FindingStatus]:
    v = parse_record(fmt, raw)
    out = {}
    for ver in versions:
        found = match_components([component(catalog, "mbedtls", ver)], [v], catalog)
        assert len(found) == 1, found
        out[ver] = found[0].status
    return out


def test_inverted_range_matches_nothing_and_is_a_feed_problem(catalog: Catalog) -> None:
    raw = _nvd_mbedtls(versionStartIncluding="3.0", versionEndExcluding="2.0")
    v = parse_record("nvd", raw)
    assert any("inverted range" in p for p in v.problems()), v.problems()
    verdicts = _verdicts(catalog, raw, "nvd", ["1.0", "2.28.3", "3.6.0"])
    # before: univers read ">=3.0, <2.0" as "<2.0 or >=3.0", so 1.0 and 3.6.0 were affected
    assert set(verdicts.values()) == {FindingStatus.UNKNOWN_RANGE}
    assert bounds_problem("3.0", "2.0") is not None and bounds_problem("2.0", "3.0") is None


def test_numbers_longer_than_18_digits_are_not_truncated(catalog: Catalog) -> None:
    assert release_key("999999999999999999999") > release_key("999999999999999999990")
    assert release_key("1.1000000000000000000001") > release_key("1.1000000000000000000000")
    raw = _nvd_mbedtls(versionStartIncluding="999999999999999999999")
    verdicts = _verdicts(catalog, raw, "nvd", ["2.28.3"])
    assert verdicts["2.28.3"] is FindingStatus.NOT_AFFECTED  # was AFFECTED (bound truncated to 18 nines)


@pytest.mark.parametrize("where", ["nvd", "cve5", "osv"])
def test_a_number_where_a_version_belongs_is_refused_not_widened(catalog: Catalog, where: str) -> None:
    if where == "nvd":
        raw, fmt = _nvd_mbedtls(versionEndExcluding=2.287), "nvd"
    elif where == "cve5":
        raw, fmt = copy.deepcopy(record("cve5/CVE-2023-3724")), "cve5"
        raw["containers"]["cna"]["affected"][0]["versions"] = [
            {"version": "0", "lessThan": 2.287, "status": "affected", "versionType": "custom"}]
        raw["containers"]["cna"]["affected"][0].update(vendor="arm", product="mbed tls")
    else:
        fmt = "osv"
        raw = {"id": "OSV-TEST-1", "modified": "2024-01-01T00:00:00Z", "schema_version": "1.6.0",
               "affected": [{"package": {"ecosystem": "GitHub Actions", "name": "mbedtls"},
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": 2.287}]}]}]}
    v = parse_record(fmt, raw)
    assert any("JSON float" in p for p in v.problems()), v.problems()
    if where == "nvd":  # before: the bound was dropped and the range became "all versions"
        assert _verdicts(catalog, raw, fmt, ["3.6.0"])["3.6.0"] is FindingStatus.UNKNOWN_RANGE


def test_unparseable_lower_bound_is_a_problem_not_a_wider_range(catalog: Catalog) -> None:
    raw = copy.deepcopy(record("cve5/CVE-2023-3724"))
    raw["containers"]["cna"]["affected"][0]["versions"] = [
        {"version": "two point one", "lessThan": "2.28.5", "status": "affected", "versionType": "custom"}]
    raw["containers"]["cna"]["affected"][0].update(vendor="arm", product="mbed tls")
    v = parse_record("cve5", raw)
    assert any("unusable lower bound" in p for p in v.problems())
    found = match_components([component(catalog, "mbedtls", "1.0.0")], [v], catalog)
    assert [f.status for f in found] == [FindingStatus.UNKNOWN_RANGE]  # was AFFECTED (lower bound ignored)


def test_import_lists_feed_problems_and_match_reports_them(tmp_path: Path) -> None:
    feed = tmp_path / "bad-range.json"
    feed.write_text(json.dumps(_nvd_mbedtls(versionStartIncluding="3.0", versionEndExcluding="2.0")), "utf-8")
    store = f"sqlite:///{tmp_path / 's.sqlite'}"
    r = CliRunner().invoke(main, ["vulns", "import", str(feed), "--store", store, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["added"] == 1 and doc["problems"][0]["record"] == "CVE-2021-44732"
    assert "inverted" in doc["problems"][0]["message"]
    r = CliRunner().invoke(main, ["vulns", "match", "--store", store, "--json"])
    assert r.exit_code == 0, r.output
    assert any("CVE-2021-44732" in p and "inverted" in p for p in json.loads(r.output)["feed_problems"])


def test_import_of_a_document_that_is_not_json_is_incomplete(tmp_path: Path) -> None:
    bad = tmp_path / "notjson.json"
    bad.write_text("this is not JSON", "utf-8")
    store = f"sqlite:///{tmp_path / 's.sqlite'}"
    r = CliRunner().invoke(main, ["vulns", "import", str(bad), "--store", store])
    assert r.exit_code == 3, r.output  # was 0 ("1 failed")
    assert "INCOMPLETE" in r.output
    r = CliRunner().invoke(main, ["vulns", "import", str(bad), "--store", store, "--allow-incomplete"])
    assert r.exit_code == 0, r.output
    good = DATA / "nvd" / "CVE-2021-44732.json"
    r = CliRunner().invoke(main, ["vulns", "import", str(good), str(bad), "--store", store])
    assert r.exit_code == 3 and "1 added" in r.output


def _run_import_with_deadline(args: list[str], seconds: float) -> Any:
    box: dict[str, Any] = {}

    def run() -> None:
        box["result"] = CliRunner().invoke(main, args)

    t = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"vulns import still running after {seconds}s (blocked)"
    return box["result"], time.monotonic() - start


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_in_a_feed_directory_does_not_block(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "CVE-2021-44732.json").write_bytes((DATA / "nvd" / "CVE-2021-44732.json").read_bytes())
    os.mkfifo(feeds / "trap.json")
    result, took = _run_import_with_deadline(
        ["vulns", "import", str(feeds), "--store", f"sqlite:///{tmp_path / 's.sqlite'}"], 20)
    assert result.exit_code == 3, result.output
    assert "not a regular file (a FIFO)" in result.output and "1 added" in result.output
    assert took < 20


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused_before_reading(tmp_path: Path) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result, _ = _run_import_with_deadline(
        ["vulns", "import", "/dev/zero", "--store", f"sqlite:///{tmp_path / 's.sqlite'}"], 20)
    grew_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.exit_code == 3, result.output  # was MemoryError after reading GiBs
    assert "character device" in result.output
    assert grew_kib < 64 * 1024
