"""The feed-format registry: a format added by one module and one registry line, taken from
docs/extending-feeds.md, imported end to end through ``ecuscan vulns import`` and matched."""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecuscan.catalog import Catalog
from ecuscan.cli import main
from ecuscan.errors import FeedError
from ecuscan.store import Store
from ecuscan.vulns import formats
from ecuscan.vulns.feeds import import_feeds
from ecuscan.vulns.match import load_vulnerabilities_checked, match_components
from ecuscan.vulns.records import FindingStatus

from .vulns_helpers import DATA, component

DOC = Path(__file__).resolve().parents[3] / "docs" / "extending-feeds.md"
MODULE = "ecuscan.vulns.formats.acme"


def _block(tag: str) -> str:
    """The fenced block of docs/extending-feeds.md whose info string ends with ``tag``."""
    found = re.findall(rf"^```\w+ {re.escape(tag)}\n(.*?)^```$", DOC.read_text("utf-8"), re.MULTILINE | re.DOTALL)
    assert len(found) == 1, f"docs/extending-feeds.md: expected one block tagged {tag!r}, found {len(found)}"
    return str(found[0])


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The documented module installed as ecuscan.vulns.formats.acme and the documented registry
    line run in the registry's namespace; both undone afterwards."""
    mod = types.ModuleType(MODULE)
    mod.__file__ = str(DOC)
    exec(compile(_block("acme-module"), f"{DOC}:acme-module", "exec"), mod.__dict__)  # our own doc
    monkeypatch.setitem(sys.modules, MODULE, mod)
    monkeypatch.setattr(formats, "_FORMATS", dict(formats._FORMATS))
    line = _block("acme-registry").strip()
    assert line.count("\n") == 0, "the registry change is one line"
    exec(line, vars(formats))  # our own doc
    yield


def _advisory(tmp_path: Path, **changes: object) -> Path:
    doc = json.loads(_block("acme-advisory"))
    doc.update(changes)
    p = tmp_path / f"{doc['acme_advisory']}.json"
    p.write_text(json.dumps(doc), "utf-8")
    return p


def test_the_builtin_formats_are_registered_in_probe_order() -> None:
    assert [(f.name, f.label, f.module) for f in formats.registered()] == [
        ("cve5", "CVE JSON 5", "ecuscan.vulns.formats.cve5"), ("nvd", "NVD API 2.0", "ecuscan.vulns.formats.nvd"),
        ("osv", "OSV", "ecuscan.vulns.formats.osv")]
    with pytest.raises(FeedError, match=r"unknown feed format 'acme' \(known: cve5, nvd, osv\)"):
        formats.feed_format("acme")


def test_without_the_format_the_document_is_not_imported(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["vulns", "import", str(_advisory(tmp_path)), "--json"],
                           env={"ECUSCAN_STORE": str(tmp_path / "s.sqlite")})
    assert r.exit_code == 3, r.output
    report = json.loads(r.stdout)
    assert (report["added"], report["failed"], report["complete"]) == (0, 1, False)
    assert "unrecognised feed document (not CVE JSON 5, NVD API 2.0 or OSV)" in json.dumps(report["errors"])


def test_a_documented_format_imports_end_to_end_and_matches(acme: None, tmp_path: Path, catalog: Catalog) -> None:
    assert [f.name for f in formats.registered()] == ["cve5", "nvd", "osv", "acme"]
    env = {"ECUSCAN_STORE": str(tmp_path / "s.sqlite")}
    path = _advisory(tmp_path)
    r = CliRunner().invoke(main, ["vulns", "import", str(path)], env=env)
    assert r.exit_code == 0, r.output
    # the console line the doc shows
    assert "1 document(s): 1 added, 0 updated, 0 unchanged, 0 older (kept newer), 0 failed" in r.stdout
    r = CliRunner().invoke(main, ["vulns", "import", str(path), "--json"], env=env)
    assert (json.loads(r.stdout)["unchanged"], r.exit_code) == (1, 0)
    newer = _advisory(tmp_path, updated="2025-04-01T00:00:00Z", affected={"introduced": "1.33.0", "fixed": "1.36.1"})
    r = CliRunner().invoke(main, ["vulns", "import", str(newer), "--json"], env=env)
    assert (json.loads(r.stdout)["updated"], r.exit_code) == (1, 0)
    with Store.open(env["ECUSCAN_STORE"]) as store:
        assert [(s, rid) for s, rid, _doc in store.vuln_records()] == [("acme", "ACME-SA-2025-007")]
        vulns, problems = load_vulnerabilities_checked(store)
    assert problems == []
    (v,) = vulns
    assert (v.id, v.aliases, v.sources, v.best_cvss().score if v.best_cvss() else None) == \
        ("ACME-SA-2025-007", ("CVE-2022-48174",), ("acme:ACME-SA-2025-007",), 9.8)
    versions = {"1.32.1": FindingStatus.NOT_AFFECTED, "1.33.0": FindingStatus.AFFECTED,
                "1.36.0": FindingStatus.AFFECTED, "1.36.1": FindingStatus.NOT_AFFECTED}
    findings = match_components([component(catalog, "busybox", ver) for ver in versions], vulns, catalog)
    assert {f.component_version: f.status for f in findings} == versions
    assert {(m.record, m.range, m.key) for f in findings for m in f.matched_by} == \
        {("acme:ACME-SA-2025-007", ">=1.33.0, <1.36.1", "cpe busybox:busybox")}


def test_the_documented_format_sits_beside_the_others(acme: None, tmp_path: Path) -> None:
    # an ACME advisory, a CVE 5 record and an OSV record in one directory: each to its format
    (tmp_path / "feeds").mkdir()
    _advisory(tmp_path / "feeds")
    (tmp_path / "feeds" / "cve.json").write_bytes((DATA / "cve5" / "CVE-2021-42374.json").read_bytes())
    (tmp_path / "feeds" / "bad.json").write_text('{"not": "a feed"}', "utf-8")
    with Store.open(str(tmp_path / "s.sqlite")) as store:
        report = import_feeds(store, [tmp_path / "feeds"])
        sources = sorted((s, rid) for s, rid, _doc in store.vuln_records())
    assert sources == [("acme", "ACME-SA-2025-007"), ("cve5", "CVE-2021-42374")]
    assert (report.added, report.failed) == (2, 1)
    assert [e.message for e in report.errors] == [
        "unrecognised feed document (not CVE JSON 5, NVD API 2.0, OSV or ACME advisory)"]


def test_a_bad_record_of_the_documented_format_is_named_and_skipped(acme: None, tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "s.sqlite")) as store:
        no_cpe = import_feeds(store, [_advisory(tmp_path, cpe="busybox")])
        no_date = import_feeds(store, [_advisory(tmp_path, updated=None)])
        long_id = import_feeds(store, [_advisory(tmp_path, acme_advisory="A" * 91)])
        stored = list(store.vuln_records())
    assert [(e.record, e.message) for e in no_cpe.errors] == [("ACME-SA-2025-007", "ACME advisory without a CPE")]
    assert [e.message for e in no_date.errors] == ["bad modified date: missing timestamp"]
    assert [e.message for e in long_id.errors] == [f"bad record id {'A' * 91!r}"]
    assert stored == []
    with pytest.raises(FeedError, match="ACME advisory without a CPE"):
        formats.parse_record("acme", {"acme_advisory": "X", "cpe": 5})
    with pytest.raises(FeedError, match="acme record is not a JSON object"):
        formats.parse_record("acme", ["X"])


def test_unregistering_a_format_leaves_its_stored_records_named_not_crashing(acme: None, tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "s.sqlite")) as store:
        assert import_feeds(store, [_advisory(tmp_path)]).added == 1
        formats.unregister("acme")
        vulns, problems = load_vulnerabilities_checked(store)
    assert vulns == []
    assert problems == ["acme:ACME-SA-2025-007: record no longer parses: unknown feed format 'acme' "
                        "(known: cve5, nvd, osv)"]
