"""Offline import: files, directories, zips; idempotence; newer replaces older; bad records skipped."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import pytest

from ecuscan.errors import FeedError, LimitExceeded
from ecuscan.limits import Limits
from ecuscan.store import Store
from ecuscan.vulns.feeds import import_feeds, parse_json
from ecuscan.vulns.match import load_vulnerabilities
from ecuscan.vulns.parsers import parse_record

from .vulns_helpers import DATA, record

N_CVE5 = len(list((DATA / "cve5").glob("*.json")))
N_NVD = len(list((DATA / "nvd").glob("*.json")))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(str(tmp_path / "inv.sqlite"))
    yield s
    s.close()


def test_import_directories_is_idempotent(store: Store) -> None:
    first = import_feeds(store, [DATA / "cve5", DATA / "nvd"])
    assert first.added == N_CVE5 + N_NVD and first.failed == 0, first.errors
    second = import_feeds(store, [DATA / "cve5", DATA / "nvd"])
    assert (second.added, second.updated, second.unchanged, second.failed) == (0, 0, N_CVE5 + N_NVD, 0)
    assert sum(1 for _ in store.vuln_records()) == N_CVE5 + N_NVD
    vulns = {v.id: v for v in load_vulnerabilities(store)}
    # CVE 5 and NVD records of different CVEs: every id once
    assert len(vulns) == N_CVE5 + N_NVD
    assert vulns["CVE-2022-28391"].sources == ("nvd:CVE-2022-28391",)


def test_newer_modified_replaces_older(store: Store, tmp_path: Path) -> None:
    raw = record("nvd/CVE-2022-48174")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(raw))
    assert import_feeds(store, [old]).added == 1
    newer = copy.deepcopy(raw)
    newer["lastModified"] = "2027-01-01T00:00:00.000"
    newer["configurations"][0]["nodes"][0]["cpeMatch"][0]["versionEndIncluding"] = "1.36.0"
    (tmp_path / "new.json").write_text(json.dumps(newer))
    assert import_feeds(store, [tmp_path / "new.json"]).updated == 1
    # the old one again: older, not applied
    rep = import_feeds(store, [old])
    assert rep.older == 1 and rep.updated == 0
    (v,) = load_vulnerabilities(store)
    assert v.affected[0].upper == "1.36.0"


def test_bad_records_are_reported_and_skipped(store: Store, tmp_path: Path) -> None:
    good = record("cve5/CVE-2023-38545")
    no_id = copy.deepcopy(good)
    del no_id["cveMetadata"]["cveId"]
    bad_date = copy.deepcopy(record("nvd/CVE-2022-40674"))
    bad_date["lastModified"] = "yesterday"
    d = tmp_path / "feed"
    d.mkdir()
    (d / "a.json").write_text(json.dumps(good))
    (d / "b.json").write_text(json.dumps(no_id))
    (d / "c.json").write_text("{not json")
    (d / "d.json").write_text(json.dumps({"vulnerabilities": [{"cve": bad_date},
                                                               {"cve": record("nvd/CVE-2022-28391")}]}))
    (d / "e.json").write_text(json.dumps({"hello": "world"}))
    rep = import_feeds(store, [d])
    assert rep.added == 2  # CVE-2023-38545 and CVE-2022-28391 (from the NVD API response)
    assert rep.failed == 4
    text = "\n".join(str(e) for e in rep.errors)
    assert "b.json" in text and "cveId" in text
    assert "c.json" in text and "not JSON" in text
    assert "d.json [CVE-2022-40674]" in text and "modified date" in text
    assert "e.json" in text and "unrecognised" in text


def test_zip_of_cve_list_and_nested_zip(store: Store, tmp_path: Path) -> None:
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted((DATA / "nvd").glob("*.json")):
            z.write(f, f"CVE-x/{f.name}")
    outer = tmp_path / "cvelist.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted((DATA / "cve5").glob("*.json")):
            z.write(f, f"cves/2023/{f.name}")
        z.write(inner, "nvd.zip")
    rep = import_feeds(store, [outer])
    assert rep.added == N_CVE5 + N_NVD and rep.failed == 0, rep.errors
    assert import_feeds(store, [outer]).unchanged == N_CVE5 + N_NVD


def test_osv_records(store: Store, tmp_path: Path) -> None:
    osv = {"schema_version": "1.6.0", "id": "OSV-TEST-1", "modified": "2024-05-01T00:00:00Z",
           "aliases": ["CVE-2099-0001"], "summary": "test record written for this test",
           "affected": [
               {"package": {"ecosystem": "GIT", "name": "zlib", "purl": "pkg:generic/zlib"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.2.0"}, {"fixed": "1.2.12"}]}]},
               {"package": {"ecosystem": "Debian:12", "name": "zlib"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.2.13.dfsg-1"}]}]}]}
    z = tmp_path / "osv.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("OSV-TEST-1.json", json.dumps(osv))
    assert import_feeds(store, [z]).added == 1
    (v,) = load_vulnerabilities(store)
    assert v.aliases == ("CVE-2099-0001",)
    r = v.affected[0]
    assert (r.lower, r.upper, r.upper_inclusive) == ("1.2.0", "1.2.12", False)


def test_limits_are_enforced(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "big.json"
    f.write_text(json.dumps(record("cve5/CVE-2023-38545")))
    rep = import_feeds(store, [f], Limits(max_document_bytes=1000))
    assert rep.failed == 1 and "limit" in rep.errors[0].message
    deep = "[" * 100 + "]" * 100
    with pytest.raises(LimitExceeded, match="nested deeper"):
        parse_json(deep.encode(), "deep.json", Limits(max_document_depth=64))
    # zip members are read at most up to the limit, whatever the header claims
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.json", b" " * 5_000_000)
    rep = import_feeds(store, [z], Limits(max_member_bytes=100_000))
    assert rep.failed == 1 and "larger than the limit" in rep.errors[0].message
    many = tmp_path / "many.json"
    many.write_text(json.dumps([record("cve5/CVE-2023-38545")] * 5))
    rep = import_feeds(store, [many], Limits(max_document_items=3))
    assert rep.failed == 1 and "more than 3 records" in rep.errors[0].message


def test_parse_errors_name_the_record() -> None:
    with pytest.raises(FeedError, match="cveId"):
        parse_record("cve5", {"cveMetadata": {}, "containers": {}})
    raw = record("cve5/CVE-2023-38545")
    raw["containers"]["cna"]["affected"] = [{"vendor": "curl", "product": "curl", "versions": "oops"}]
    v = parse_record("cve5", raw)  # a malformed versions list leaves no usable range, not a crash
    assert all(r.unknown for r in v.affected)
