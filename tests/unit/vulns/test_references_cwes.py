"""Reference URLs and CWE names, from the real records in tests/fixtures/vulns (copies of the CVE list
and NVD records listed in its README) through `vulns import`, the store, matching and the report.

The expected values are read from the raw JSON here, by the test's own walk of each format's
published layout (CVE 5 ``containers.*.references[].url`` and ``problemTypes[].descriptions[]``,
NVD ``references[].url`` and ``weaknesses[].description[].value``, OSV ``references[].url``),
not through the parsers under test.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from report.sample_doc import sample_doc

from ecuscan.cli import main
from ecuscan.limits import DEFAULT_LIMITS
from ecuscan.report.html import render_html
from ecuscan.report.markdown import render_markdown
from ecuscan.store import Store
from ecuscan.vulns.feeds import import_feeds
from ecuscan.vulns.match import load_vulnerabilities
from ecuscan.vulns.parsers import parse_record

from .vulns_helpers import DATA, record

CVE5 = sorted(p.stem for p in (DATA / "cve5").glob("*.json"))
NVD = sorted(p.stem for p in (DATA / "nvd").glob("*.json"))


def _unique(urls: list[Any]) -> list[str]:
    out: list[str] = []
    for u in urls:
        if isinstance(u, str) and u not in out:
            out.append(u)
    return out


def _cve5_urls(raw: dict[str, Any]) -> list[str]:
    containers = [raw["containers"]["cna"], *raw["containers"].get("adp", [])]
    return _unique([r.get("url") for c in containers for r in c.get("references", [])])


def _nvd_urls(raw: dict[str, Any]) -> list[str]:
    return _unique([r.get("url") for r in raw.get("references", [])])


@pytest.mark.parametrize("name", CVE5)
def test_cve5_record_keeps_every_reference_of_cna_and_adp(name: str) -> None:
    raw = record(f"cve5/{name}")
    v = parse_record("cve5", raw)
    expected = _cve5_urls(raw)[:DEFAULT_LIMITS.max_vuln_references]
    assert list(v.references) == expected
    assert v.to_dict()["references"] == expected


@pytest.mark.parametrize("name", NVD)
def test_nvd_record_keeps_every_reference_once(name: str) -> None:
    raw = record(f"nvd/{name}")
    v = parse_record("nvd", raw)
    assert list(v.references) == _nvd_urls(raw)
    assert v.references, name  # every NVD record of the set has references


def test_adp_references_are_kept_after_the_cna_ones() -> None:
    # glibc CVE-2024-2961: 16 CNA references, 19 from CISA-ADP, 19 distinct URLs
    raw = record("cve5/CVE-2024-2961")
    v = parse_record("cve5", raw)
    assert len(v.references) == 19
    adp_only = [r["url"] for a in raw["containers"]["adp"] for r in a.get("references", [])
                if r["url"] not in {x["url"] for x in raw["containers"]["cna"]["references"]}]
    assert adp_only and all(u in v.references for u in adp_only)
    assert v.references[0] == raw["containers"]["cna"]["references"][0]["url"]


def test_osv_record_keeps_its_references() -> None:
    path = DATA / "distro" / "osv" / "DEBIAN-CVE-2024-25062.json"
    raw = json.loads(path.read_text("utf-8"))
    v = parse_record("osv", raw)
    assert list(v.references) == _unique([r["url"] for r in raw["references"]])
    assert v.references == ("https://security-tracker.debian.org/tracker/CVE-2024-25062",)


# ------------------------------------------------------------------------------------------ CWE names

@pytest.mark.parametrize(("name", "expected"), [
    ("CVE-2022-29503", [("CWE-119", "Improper Restriction of Operations within the Bounds of a Memory Buffer")]),
    ("CVE-2023-3724", [("CWE-20", "Improper Input Validation")]),
    ("CVE-2024-2961", [("CWE-787", "Out-of-bounds Write")]),
    ("CVE-2024-38373", [("CWE-126", "Buffer Over-read")]),
    # Zephyr's CNA appends the weakness's description to the name: the name ends where it starts
    ("CVE-2023-4264", [("CWE-120", "Buffer Copy without Checking Size of Input ('Classic Buffer Overflow')"),
                       ("CWE-121", "Stack-based Buffer Overflow"), ("CWE-122", "Heap-based Buffer Overflow")]),
    ("CVE-2023-5753", [("CWE-120", "Buffer Copy without Checking Size of Input ('Classic Buffer Overflow')"),
                       ("CWE-191", "Integer Underflow (Wrap or Wraparound)")]),
    # JFrog writes the id alone: an id, no name
    ("CVE-2021-42374", [("CWE-125", None)]),
    # MITRE's n/a problem type and curl's record without one: no weakness at all
    ("CVE-2018-25032", []),
    ("CVE-2023-38545", []),
])
def test_cve5_problem_types_give_ids_and_names(name: str, expected: list[tuple[str, str | None]]) -> None:
    v = parse_record("cve5", record(f"cve5/{name}"))
    assert [(w["id"], w["name"]) for w in v.weaknesses()] == expected
    # every name is text of the record's own problem type for that id
    raw_texts = [d.get("description", "") for c in (record(f"cve5/{name}")["containers"]["cna"],)
                 for pt in c.get("problemTypes", []) for d in pt.get("descriptions", [])]
    for cwe, cwe_name in v.cwe_names:
        assert any(t.startswith(cwe) and cwe_name in t for t in raw_texts), (cwe, cwe_name)


@pytest.mark.parametrize("name", NVD)
def test_nvd_weaknesses_are_ids_without_names(name: str) -> None:
    raw = record(f"nvd/{name}")
    v = parse_record("nvd", raw)
    ids = _unique([d["value"] for w in raw.get("weaknesses", []) for d in w["description"]
                   if d["value"].startswith("CWE-")])
    assert list(v.cwes) == ids
    assert v.cwe_names == ()  # NVD names no weakness; none is invented


def _import_all(store: Store) -> None:
    rep = import_feeds(store, [DATA / "cve5", DATA / "nvd"])
    assert rep.failed == 0 and rep.added == len(CVE5) + len(NVD), rep


def test_store_keeps_names_from_import_and_nvd_records_show_them(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "inv.sqlite"))
    try:
        _import_all(store)
        names = store.cwe_names()
        assert names["CWE-787"] == "Out-of-bounds Write"  # from glibc's CVE 5 record
        assert names["CWE-119"].startswith("Improper Restriction of Operations")
        assert "CWE-125" not in names and "CWE-79" not in names and "CWE-203" not in names
        by_id = {v.id: v for v in load_vulnerabilities(store)}
    finally:
        store.close()
    # musl's NVD record (CWE-787 id only) takes the name glibc's CVE 5 record gave
    assert by_id["CVE-2020-28928"].weaknesses() == [{"id": "CWE-787", "name": "Out-of-bounds Write"}]
    # dnsmasq's NVD CWE-122: named by Zephyr's and ThreadX's CVE 5 records
    assert by_id["CVE-2020-25681"].weaknesses() == [{"id": "CWE-122", "name": "Heap-based Buffer Overflow"}]
    # no record names CWE-79 or CWE-203/385: they stay ids
    assert by_id["CVE-2021-43523"].weaknesses() == [{"id": "CWE-79", "name": None}]
    assert [w["name"] for w in by_id["CVE-2024-23170"].weaknesses()] == [None, None]
    # references survive the store: a record's URLs as imported
    assert list(by_id["CVE-2020-28928"].references) == _nvd_urls(record("nvd/CVE-2020-28928"))
    assert list(by_id["CVE-2024-2961"].references) == _cve5_urls(record("cve5/CVE-2024-2961"))


def test_names_in_the_store_serve_a_later_nvd_only_import(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "inv.sqlite"))
    try:
        assert import_feeds(store, [DATA / "cve5" / "CVE-2024-2961.json"]).added == 1
        with store.engine.begin() as conn:  # the CVE 5 record goes; the name it gave stays
            conn.exec_driver_sql("DELETE FROM vuln_records")
        assert import_feeds(store, [DATA / "nvd" / "CVE-2022-30790.json"]).added == 1
        (uboot,) = load_vulnerabilities(store)
    finally:
        store.close()
    assert uboot.weaknesses() == [{"id": "CWE-787", "name": "Out-of-bounds Write"}]


def test_reimport_is_unchanged_and_the_name_kept_does_not_depend_on_order(tmp_path: Path) -> None:
    a, b = Store.open(str(tmp_path / "a.sqlite")), Store.open(str(tmp_path / "b.sqlite"))
    try:
        import_feeds(a, [DATA / "cve5" / "CVE-2023-4264.json", DATA / "cve5" / "CVE-2024-2212.json"])
        import_feeds(b, [DATA / "cve5" / "CVE-2024-2212.json", DATA / "cve5" / "CVE-2023-4264.json"])
        assert a.cwe_names() == b.cwe_names()
        assert a.cwe_names()["CWE-122"] == "Heap-based Buffer Overflow"
        again = import_feeds(a, [DATA / "cve5"])
        assert again.failed == 0 and again.unchanged == 2 and again.added == len(CVE5) - 2
    finally:
        a.close()
        b.close()


def test_a_store_made_before_the_names_table_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    store = Store.open(str(path))
    try:
        _import_all(store)
    finally:
        store.close()
    con = sqlite3.connect(path)  # the schema-1 store as an older ecuscan wrote it
    con.execute("DROP TABLE cwe_names")
    con.commit()
    con.close()
    store = Store.open(str(path))
    try:
        assert store.cwe_names() == {}
        by_id = {v.id: v for v in load_vulnerabilities(store)}
        assert store.check().ok
    finally:
        store.close()
    # the names of the records it holds are still pooled at matching time
    assert by_id["CVE-2020-28928"].cwe_name("CWE-787") == "Out-of-bounds Write"


# ------------------------------------------------------------------------------------------ bounds

def test_hostile_reference_lists_are_bounded() -> None:
    raw = copy.deepcopy(record("nvd/CVE-2022-48174"))
    limit = DEFAULT_LIMITS.max_vuln_references
    raw["references"] = ([{"url": "https://x.example/" + "a" * DEFAULT_LIMITS.max_vuln_reference_chars},
                          {"url": "javascript:alert(1)"}, {"url": 7}, {"url": "https://evil.example/\x1b[2J"},
                          "https://not-an-object.example/", {"url": "https://ok.example/0"}]
                         + [{"url": f"https://many.example/{i}"} for i in range(5 * limit)])
    v = parse_record("nvd", raw)
    assert len(v.references) == limit
    assert v.references[0] == "https://ok.example/0"
    assert all(u.startswith("https://") and len(u) <= DEFAULT_LIMITS.max_vuln_reference_chars for u in v.references)


def test_hostile_problem_types_are_bounded() -> None:
    raw = copy.deepcopy(record("cve5/CVE-2023-3724"))
    cna = raw["containers"]["cna"]
    cna["problemTypes"] = [{"descriptions": [
        {"cweId": "CWE-20", "description": "CWE-20 " + "Improper Input Validation of Things " * 40, "type": "CWE"},
        {"cweId": 20, "description": ["CWE-21"], "type": "CWE"},
        *({"cweId": f"CWE-{1000 + i}", "description": f"CWE-{1000 + i} Name {i}", "type": "CWE"} for i in range(200)),
    ]}]
    v = parse_record("cve5", raw)
    assert len(v.cwes) == DEFAULT_LIMITS.max_vuln_cwes and v.cwes[0] == "CWE-20"
    name = v.cwe_name("CWE-20")
    assert name is not None and name.endswith("…") and len(name) <= DEFAULT_LIMITS.max_cwe_name_chars
    assert name.startswith("Improper Input Validation of Things")
    assert all(c in v.cwes for c, _ in v.cwe_names)


# ------------------------------------------------------------------------------------------ report

def _doc(tmp_path: Path) -> dict[str, Any]:
    """The renderer tests' sample audit document with a finding as the audit fills it from the store."""
    store = Store.open(str(tmp_path / "inv.sqlite"))
    try:
        _import_all(store)
        v = {x.id: x for x in load_vulnerabilities(store)}["CVE-2020-28928"]
    finally:
        store.close()
    finding = {"id": v.id, "severity": "medium", "score": 5.5, "component": "musl", "version": "1.2.1",
               "purl": "pkg:generic/musl@1.2.1", "status": "affected", "exposed": True, "firmware": [],
               "ecus": [], "vehicles": [], "range": "<=1.2.1", "matched_by": "nvd", "suppressed": False,
               "summary": v.summary, "description": v.description, "cwes": list(v.cwes),
               "weaknesses": v.weaknesses(), "references": list(v.references), "kev": False}
    doc = sample_doc()
    doc["vulnerabilities"] = [{**doc["vulnerabilities"][0], **finding}]
    return doc


def test_html_and_markdown_show_named_weakness_and_references_as_text(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    refs = doc["vulnerabilities"][0]["references"]
    html = render_html(doc)
    assert "<dt>weakness</dt><dd>CWE-787 Out-of-bounds Write</dd>" in html
    assert all(f"<li>{r}</li>" in html for r in refs if "&" not in r)
    assert "href=" not in html.split('id="vulns"', 1)[1].split("</section>", 1)[0]  # shown, never linked
    md = render_markdown(doc)
    assert "- **Weakness:** CWE-787 Out-of-bounds Write" in md
    assert all(f"`{r}`" in md for r in refs)


def test_vulns_import_then_match_json_round_trip(tmp_path: Path) -> None:
    store = str(tmp_path / "inv.sqlite")
    res = CliRunner().invoke(main, ["vulns", "import", str(DATA / "cve5"), str(DATA / "nvd"), "--store", store])
    assert res.exit_code == 0, res.output
    s = Store.open(store)
    try:
        assert s.cwe_names()["CWE-126"] == "Buffer Over-read"
        glibc = {v.id: v for v in load_vulnerabilities(s)}["CVE-2024-2961"]
    finally:
        s.close()
    d = glibc.to_dict()
    assert d["weaknesses"] == [{"id": "CWE-787", "name": "Out-of-bounds Write"}]
    assert d["references"] == _cve5_urls(record("cve5/CVE-2024-2961"))


def test_vulns_match_json_names_weaknesses_and_lists_references(tmp_path: Path) -> None:
    """A component matched against the imported records: the finding carries the record's CWE
    names (pooled from the store) and references, in `vulns match --json`'s finding form."""
    from ecuscan.vulns.match import build_index, iter_matches

    from .vulns_helpers import component, test_catalog

    store = Store.open(str(tmp_path / "inv.sqlite"))
    try:
        _import_all(store)
        vulns = load_vulnerabilities(store)
    finally:
        store.close()
    catalog = test_catalog()
    busybox = component(catalog, "busybox", "1.36.1")
    found = [f for f in iter_matches([busybox], build_index(vulns, catalog), catalog) if f.vuln_id == "CVE-2022-48174"]
    assert found, "busybox 1.36.1 is in CVE-2022-48174's NVD range (<= 1.36.1)"
    d = found[0].to_dict()
    # NVD gives CWE-787 as an id; glibc's CVE 5 record in the same store names it
    assert d["weaknesses"] == [{"id": "CWE-787", "name": "Out-of-bounds Write"}]
    assert d["references"] == _nvd_urls(record("nvd/CVE-2022-48174"))
