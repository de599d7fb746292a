"""The matching decisions a user's verdict rests on, each asserted exactly (ecuscan.vulns.match).

Which record speaks for which component (CPE vendor:product only, purl, product or package name,
never a distribution's package record for an upstream component), how one source's ranges give
its answer (an unaffected range wins, then an affected one, then defaultStatus), how sources
combine (the cautious answer wins), and the answers that must stay "unknown-range" (no usable
range, a version that cannot be compared, an unknown component version). Records are built here
in the parsed form so each test names the one rule it pins.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ecuscan.catalog import Catalog
from ecuscan.model import (
    Component,
    ComponentId,
    Evidence,
    EvidenceMethod,
    ImageFormat,
    PackageRef,
    Provenance,
    Relation,
    ScanResult,
    Sha256,
)
from ecuscan.vulns.match import (
    build_index,
    load_vulnerabilities_checked,
    match_components,
    match_scan_results,
    merge_vulnerabilities,
    resolve_range,
)
from ecuscan.vulns.records import (
    FIXED_BY_DISTRIBUTION,
    RULE_DISTRO,
    RULE_UPSTREAM,
    AffectedRange,
    Cvss,
    Finding,
    FindingStatus,
    Severity,
    Vulnerability,
)

from .vulns_helpers import component

A, N, U = FindingStatus.AFFECTED, FindingStatus.NOT_AFFECTED, FindingStatus.UNKNOWN_RANGE


def vuln(*ranges: AffectedRange, vid: str = "CVE-2099-0001", description: str = "", **kw: object) -> Vulnerability:
    sources = kw.pop("sources", None) or tuple(dict.fromkeys(f"{r.origin.split(':')[0]}:{vid}" for r in ranges))
    return Vulnerability(id=vid, affected=ranges, description=description, sources=sources, **kw)  # type: ignore[arg-type]


def bb(origin: str = "nvd", **kw: object) -> AffectedRange:
    """A range naming BusyBox by CPE."""
    return AffectedRange(origin=origin, cpe="busybox:busybox", **kw)  # type: ignore[arg-type]


def one(catalog: Catalog, v: Vulnerability | list[Vulnerability], version: str | None, cid: str = "busybox") -> Finding:
    (f,) = match_components([component(catalog, cid, version)], v if isinstance(v, list) else [v], catalog)
    return f


# ------------------------------------------------------------------------------ identity
def test_a_cpe_is_the_only_key_of_its_range(catalog: Catalog) -> None:
    # a CPE naming another product never matches by the product name it also carries
    r = AffectedRange(origin="cve5:cna", cpe="debian:debian_linux", product="busybox", package="busybox",
                      purl="pkg:generic/busybox")
    assert resolve_range(r, catalog) is None
    e, key = resolve_range(bb(), catalog) or (None, "")
    assert e is not None and (e.id, key) == ("busybox", "cpe busybox:busybox")


def test_vendor_product_pairs_match_only_their_own_entry(catalog: Catalog) -> None:
    assert resolve_range(AffectedRange(origin="nvd", cpe="haxx:libcurl"), catalog)[0].id == "curl"  # type: ignore[index]
    assert resolve_range(AffectedRange(origin="nvd", cpe="busybox:busybox_extras"), catalog) is None
    assert resolve_range(AffectedRange(origin="nvd", cpe="other:busybox"), catalog) is None


def test_purl_then_product_then_package_name(catalog: Catalog) -> None:
    by_purl = resolve_range(AffectedRange(origin="cve5:cna", purl="pkg:github/libexpat/libexpat", product="zlib"),
                            catalog)
    assert by_purl is not None and (by_purl[0].id, by_purl[1]) == ("expat", "purl pkg:github/libexpat/libexpat")
    by_product = resolve_range(AffectedRange(origin="cve5:cna", product="libcurl", package="zlib"), catalog)
    assert by_product is not None and (by_product[0].id, by_product[1]) == \
        ("curl", "product name 'libcurl' (catalog alias of curl)")
    by_package = resolve_range(AffectedRange(origin="cve5:cna", product="nothing-known", package="zlib"), catalog)
    assert by_package is not None and (by_package[0].id, by_package[1]) == \
        ("zlib", "package name 'zlib' (catalog alias of zlib)")
    assert resolve_range(AffectedRange(origin="cve5:cna", product="nothing-known"), catalog) is None
    assert resolve_range(AffectedRange(origin="cve5:cna"), catalog) is None


@pytest.mark.parametrize("r", [
    AffectedRange(origin="osv", package="busybox", purl="pkg:deb/debian/busybox", vendor="Debian:13"),
    AffectedRange(origin="osv", package="busybox", vendor="Debian:13"),
    AffectedRange(origin="osv", package="busybox", vendor="Alpine:v3.20"),
    AffectedRange(origin="osv", package="busybox", purl="pkg:apk/alpine/busybox"),
    AffectedRange(origin="osv", package="curl", purl="pkg:rpm/redhat/curl"),
])
def test_distribution_package_records_never_judge_an_upstream_component(catalog: Catalog, r: AffectedRange) -> None:
    assert resolve_range(r, catalog) is None


def test_an_upstream_osv_record_matches_by_purl_or_name(catalog: Catalog) -> None:
    r = AffectedRange(origin="osv", package="busybox", vendor="OSS-Fuzz")
    assert resolve_range(r, catalog) is not None
    r2 = AffectedRange(origin="cve5:cna", package="busybox", vendor="Debian")  # a CNA vendor, not an ecosystem
    assert resolve_range(r2, catalog) is not None


def test_a_component_outside_the_catalog_gets_no_findings(catalog: Catalog) -> None:
    stranger = Component(id=ComponentId("acme-rtos"), name="ACME RTOS", version="1.0", purl="pkg:generic/acme-rtos")
    assert match_components([stranger], [vuln(bb(upper="9.9"))], catalog) == []
    # but a component whose id is unknown is found by its name
    named = Component(id=ComponentId("bb"), name="busybox", version="1.0", purl="pkg:generic/bb")
    assert [f.status for f in match_components([named], [vuln(bb(upper="9.9"))], catalog)] == [A]


# ------------------------------------------------------------------------ records naming no product
def test_a_nameless_record_is_attached_by_the_products_its_description_names(catalog: Catalog) -> None:
    v = vuln(AffectedRange(origin="cve5:cna", unknown=True, note="vendor/product n/a", text="n/a"),
             description="A flaw in BusyBox's hush lets ... zlib is not involved")
    idx = build_index([v], catalog)
    assert sorted(idx.by_entry) == ["busybox", "zlib"]
    f = one(catalog, v, "1.36.1")
    assert f.status is U
    (m,) = f.matched_by
    assert (m.key, m.origin, m.range, m.record) == \
        ("description mentions 'BusyBox'", "cve5:cna", "unknown (record names no product/version (n/a))",
         "cve5:CVE-2099-0001")


def test_description_mentions_need_whole_names(catalog: Catalog) -> None:
    v = vuln(AffectedRange(origin="cve5:cna", unknown=True), description="busyboxes and libzlibx and curl-like")
    assert build_index([v], catalog).by_entry == {}


def test_a_record_that_names_a_product_is_not_attached_by_its_description(catalog: Catalog) -> None:
    v = vuln(AffectedRange(origin="cve5:cna", product="zlib", exact="1.2.11"), description="BusyBox and zlib")
    assert sorted(build_index([v], catalog).by_entry) == ["zlib"]


def test_a_record_without_ranges_is_attached_with_origin_record(catalog: Catalog) -> None:
    v = vuln(description="curl is affected", sources=("x:CVE-2099-0001",))
    (f,) = match_components([component(catalog, "curl", "8.0.0")], [v], catalog)
    assert (f.status, f.matched_by[0].origin) == (U, "record")


# ------------------------------------------------------------------------- one source's answer
@pytest.mark.parametrize(("ranges", "version", "status"), [
    ((bb(lower="1.30", upper="1.36.0"),), "1.29.9", N),
    ((bb(lower="1.30", upper="1.36.0"),), "1.30", A),
    ((bb(lower="1.30", upper="1.36.0"),), "1.35.99", A),
    ((bb(lower="1.30", upper="1.36.0"),), "1.36.0", N),
    ((bb(lower="1.30", lower_inclusive=False, upper="1.36.0", upper_inclusive=True),), "1.30", N),
    ((bb(lower="1.30", lower_inclusive=False, upper="1.36.0", upper_inclusive=True),), "1.36.0", A),
    ((bb(exact="1.35.0"),), "1.35.0", A),
    ((bb(exact="1.35.0"),), "1.35.1", N),
    ((bb(exact="1.35.0"), bb(exact="1.36.0")), "1.36.0", A),
    ((bb(),), "0.1", A),  # no bounds: all versions
    # CVE 5: an unaffected range containing the version wins inside its source (curl's pairs)
    ((bb("cve5:cna", upper="2.0"), bb("cve5:cna", upper="1.5", status="unaffected")), "1.4", N),
    ((bb("cve5:cna", upper="2.0"), bb("cve5:cna", upper="1.5", status="unaffected")), "1.5", A),
    # defaultStatus affected: outside every listed range is still affected
    ((bb("cve5:cna", exact="1.0", status="unaffected", default_status="affected"),), "1.1", A),
    ((bb("cve5:cna", exact="1.0", status="unaffected", default_status="affected"),), "1.0", N),
    ((bb("cve5:cna", upper="1.0", default_status="unaffected"),), "1.1", N),
    # letter-suffixed releases
    ((bb(lower="1.1.1", upper="1.1.1w"),), "1.1.1v", A),
    ((bb(lower="1.1.1", upper="1.1.1w"),), "1.1.1w", N),
])
def test_one_source(catalog: Catalog, ranges: tuple[AffectedRange, ...], version: str, status: FindingStatus) -> None:
    assert one(catalog, vuln(*ranges), version).status is status


def test_the_matched_ranges_are_the_ones_that_decided(catalog: Catalog) -> None:
    v = vuln(bb(upper="1.0"), bb(lower="2.0", upper="3.0"), bb(lower="5.0", upper="6.0"))
    f = one(catalog, v, "2.5")
    assert [m.range for m in f.matched_by] == [">=2.0, <3.0"]
    assert (f.decided_by, f.decision, f.rule) == \
        ("nvd:CVE-2099-0001", "upstream range of nvd:CVE-2099-0001: affected", "upstream-range")
    clear = one(catalog, v, "4.0")
    assert [m.range for m in clear.matched_by] == ["<1.0", ">=2.0, <3.0", ">=5.0, <6.0"]
    assert clear.evidence.endswith("; nvd: outside every affected range")
    pair = one(catalog, vuln(bb("cve5:cna", upper="2.0"), bb("cve5:cna", upper="1.5", status="unaffected")), "1.0")
    assert [m.range for m in pair.matched_by] == ["<1.5 [unaffected]"]
    assert pair.evidence.endswith("; cve5:cna: inside an unaffected range")
    default = one(catalog, vuln(bb("cve5:cna", exact="1.0", status="unaffected", default_status="affected")), "1.1")
    assert default.evidence.endswith("; cve5:cna: outside the listed ranges, defaultStatus affected")


# --------------------------------------------------------------------------------- unknown
def test_an_unknown_component_version_is_unknown_range_never_a_verdict(catalog: Catalog) -> None:
    f = one(catalog, vuln(bb(upper="9.9"), bb("cve5:cna", upper="9.9")), None)
    assert f.status is U
    assert f.evidence.endswith("; component version unknown; component version unknown")
    assert len(f.matched_by) == 2


def test_a_version_that_cannot_be_compared_is_unknown_range(catalog: Catalog) -> None:
    f = one(catalog, vuln(bb(upper="1.36.0")), "git-1a2b3c")
    assert f.status is U
    assert "version 'git-1a2b3c' not comparable with nvd ranges" in f.evidence
    assert [m.range for m in f.matched_by] == ["<1.36.0"]


def test_only_unknown_ranges_give_unknown_range(catalog: Catalog) -> None:
    f = one(catalog, vuln(bb(unknown=True, note="NVD version '-' (no version range)")), "1.0")
    assert (f.status, f.evidence) == (U, "BusyBox 1.0; no usable version range")
    assert [m.range for m in f.matched_by] == ["unknown (NVD version '-' (no version range))"]


def test_an_invalid_range_is_unknown_not_all_versions(catalog: Catalog) -> None:
    f = one(catalog, vuln(bb(lower="3.0", upper="2.0")), "2.5")
    assert f.status is U


# -------------------------------------------------------------------------- across sources
@pytest.mark.parametrize(("ranges", "status"), [
    ((bb("nvd", upper="1.36.0"), bb("cve5:cna", upper="1.0")), A),  # one source says affected: affected
    ((bb("nvd", upper="1.0"), bb("cve5:cna", upper="1.0")), N),
    ((bb("nvd", upper="1.0"), bb("cve5:cna", unknown=True)), N),  # a clear answer beats no answer
    ((bb("nvd", unknown=True), bb("cve5:cna", unknown=True)), U),
    ((bb("nvd", upper="1.36.0"), bb("cve5:cna", unknown=True)), A),
    ((bb("nvd", upper="1.36.0"), bb("cve5:cna", upper="2.0", status="unaffected")), A),  # unaffected is per source
])
def test_across_sources_the_cautious_answer_wins(catalog: Catalog, ranges: tuple[AffectedRange, ...],
                                                 status: FindingStatus) -> None:
    assert one(catalog, vuln(*ranges), "1.35.0").status is status


def test_affected_across_sources_names_only_the_affected_ranges(catalog: Catalog) -> None:
    v = vuln(bb("nvd", upper="1.36.0"), bb("cve5:cna", upper="1.0"))
    f = one(catalog, v, "1.35.0")
    assert [(m.origin, m.record, m.range) for m in f.matched_by] == [("nvd", "nvd:CVE-2099-0001", "<1.36.0")]
    assert f.decision == "upstream range of nvd:CVE-2099-0001: affected"
    assert "outside every affected range" not in f.evidence


def test_records_of_each_source_are_named(catalog: Catalog) -> None:
    v = vuln(bb("cve5:adp", upper="9.0"), bb("nvd", upper="9.0"), sources=("nvd:CVE-2099-0001", "cve5:CVE-2099-0001"))
    f = one(catalog, v, "1.0")
    assert sorted((m.origin, m.record) for m in f.matched_by) == \
        [("cve5:adp", "cve5:CVE-2099-0001"), ("nvd", "nvd:CVE-2099-0001")]
    assert f.decided_by == "cve5:CVE-2099-0001, nvd:CVE-2099-0001"


# --------------------------------------------------------------------------- finding content
def test_a_finding_carries_the_record_facts(catalog: Catalog) -> None:
    v = vuln(bb(upper="2.0"), summary="hush overflow", kev=True, cwes=("CWE-787",),
             cvss=(Cvss(version="3.1", score=9.8, vector="CVSS:3.1/AV:N", severity=Severity.CRITICAL, source="nvd"),))
    (f,) = match_components([component(catalog, "busybox", "1.0")], [v], catalog, firmware_sha256="ab" * 32,
                            firmware_path="fw.bin")
    assert (f.vuln_id, f.component_id, f.component_version, f.summary, f.kev, f.cwes) == \
        ("CVE-2099-0001", "busybox", "1.0", "hush overflow", True, ("CWE-787",))
    assert (f.firmware_sha256, f.firmware_path, f.severity, f.cvss.score if f.cvss else None) == \
        ("ab" * 32, "fw.bin", Severity.CRITICAL, 9.8)
    assert f.component_purl == component(catalog, "busybox", "1.0").purl
    assert f.evidence == "BusyBox 1.0"
    assert f.package_purl is None


def test_withdrawn_records_are_not_loaded_and_broken_ones_are_named(tmp_path: object) -> None:
    from pathlib import Path

    from ecuscan.store import Store
    assert isinstance(tmp_path, Path)
    osv = {"id": "OSV-1", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"name": "busybox"},
           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0"}, {"fixed": "2.0"}]}]}]}
    with Store.open(str(tmp_path / "s.sqlite")) as store:
        store.put_vuln_record("osv", "OSV-1", "2024-01-01T00:00:00.000000Z", osv)
        store.put_vuln_record("osv", "OSV-2", "2024-01-01T00:00:00.000000Z", {**osv, "id": "OSV-2", "withdrawn": "x"})
        store.put_vuln_record("nvd", "CVE-X", "2024-01-01T00:00:00.000000Z", {"id": ""})
        vulns, problems = load_vulnerabilities_checked(store)
    assert [v.id for v in vulns] == ["OSV-1"]
    assert problems == ["nvd:CVE-X: record no longer parses: NVD record without id",
                        "osv:OSV-1: osv: inverted range: lower bound '3.0' is above upper bound '2.0'"]


def test_merge_pools_ranges_and_keeps_the_newest_modified() -> None:
    a = vuln(bb("cve5:cna", upper="1.0"), modified="2024-01-01", published="2023-01-01", summary="a")
    b = vuln(bb("nvd", upper="2.0"), modified="2024-06-01", published="2022-01-01", summary="b", kev=True,
             aliases=("GHSA-1",), cwes=("CWE-1",), upstream=("CVE-2",))
    (m,) = merge_vulnerabilities([a, b, vuln(vid="CVE-0")])[1:]
    assert (m.summary, m.published, m.modified, m.kev, m.aliases, m.cwes, m.upstream) == \
        ("a", "2023-01-01", "2024-06-01", True, ("GHSA-1",), ("CWE-1",), ("CVE-2",))
    assert [r.origin for r in m.affected] == ["cve5:cna", "nvd"]
    assert m.sources == ("cve5:CVE-2099-0001", "nvd:CVE-2099-0001")
    assert [v.id for v in merge_vulnerabilities([b, vuln(vid="CVE-0")])] == ["CVE-0", "CVE-2099-0001"]


# ------------------------------------------------------------- installed packages, distribution advisories
def _pkg(version: str = "1:1.36.1-9", distro: str | None = "debian-13") -> PackageRef:
    return PackageRef(type="deb", name="busybox", version=version, source="busybox", distro=distro)


def _installed(catalog: Catalog, version: str = "1:1.36.1-9", distro: str | None = "debian-13") -> Component:
    return replace(component(catalog, "busybox", "1.36.1"), package=_pkg(version, distro))


def _dsa(fixed: str | None = "1:1.36.1-9", vid: str = "DEBIAN-CVE-2099-0001", eco: str = "Debian:13",
         aliases: tuple[str, ...] = ()) -> Vulnerability:
    r = AffectedRange(origin="osv", vendor=eco, package="busybox", upper=fixed, text="ECOSYSTEM")
    return Vulnerability(id=vid, aliases=aliases, affected=(r,), sources=(f"osv:{vid}",), summary="dsa")


UPSTREAM = vuln(bb(upper="1.37.0"))  # upstream: 1.36.1 is affected


def _match(catalog: Catalog, c: Component, vulns: list[Vulnerability], **kw: str) -> dict[str, Finding]:
    return {f.vuln_id: f for f in match_components([c], vulns, catalog, **kw)}


def test_a_distribution_fix_decides_not_affected_and_says_so(catalog: Catalog) -> None:
    f = _match(catalog, _installed(catalog), [UPSTREAM, _dsa()])["CVE-2099-0001"]
    assert (f.status, f.rule, f.decided_by, f.justification) == \
        (N, RULE_DISTRO, "DEBIAN-CVE-2099-0001", FIXED_BY_DISTRIBUTION)
    assert f.decision == (f"{FIXED_BY_DISTRIBUTION}: DEBIAN-CVE-2099-0001 (Debian:13): fixed in 1:1.36.1-9; "
                          "installed 1:1.36.1-9 (upstream: affected)")
    assert [(m.record, m.range, m.key, m.origin) for m in f.matched_by] == [
        ("osv:DEBIAN-CVE-2099-0001", "<1:1.36.1-9", "package busybox (Debian:13)", "osv:distro"),
        ("nvd:CVE-2099-0001", "<1.37.0", "cpe busybox:busybox", "nvd")]
    assert f.package_purl == "pkg:deb/debian/busybox@1:1.36.1-9?distro=debian-13"


def test_a_distribution_still_vulnerable_decides_affected(catalog: Catalog) -> None:
    f = _match(catalog, _installed(catalog, "1:1.36.1-8"), [UPSTREAM, _dsa()])["CVE-2099-0001"]
    assert (f.status, f.rule, f.decided_by, f.justification) == (A, RULE_DISTRO, "DEBIAN-CVE-2099-0001", None)
    assert f.decision == ("DEBIAN-CVE-2099-0001 (Debian:13): 1:1.36.1-8 is inside Debian:13 range <1:1.36.1-9 "
                          "(upstream: affected)")
    nofix = _match(catalog, _installed(catalog, "1:1.36.1-8"), [UPSTREAM, _dsa(None)])["CVE-2099-0001"]
    assert nofix.status is A and nofix.decision.endswith("(no fixed version yet) (upstream: affected)")


def test_among_several_advisories_the_cautious_answer_wins(catalog: Catalog) -> None:
    fixed, open_ = _dsa(), _dsa("1:1.36.1-10", vid="DSA-9999-1", aliases=("CVE-2099-0001",))
    f = _match(catalog, _installed(catalog), [UPSTREAM, fixed, open_])["CVE-2099-0001"]
    assert (f.status, f.decided_by) == (A, "DSA-9999-1")
    both_fixed = _match(catalog, _installed(catalog, "1:1.36.1-10"), [UPSTREAM, fixed, open_])["CVE-2099-0001"]
    assert (both_fixed.status, both_fixed.decided_by) == (N, "DEBIAN-CVE-2099-0001, DSA-9999-1")
    assert both_fixed.decision.startswith(f"{FIXED_BY_DISTRIBUTION}: DEBIAN-CVE-2099-0001, DSA-9999-1 (Debian:13): ")


def test_an_installed_version_the_distribution_cannot_compare_is_unknown(catalog: Catalog) -> None:
    f = _match(catalog, _installed(catalog, "abc"), [UPSTREAM, _dsa()])["CVE-2099-0001"]
    assert (f.status, f.rule, f.decided_by, f.justification) == (U, RULE_DISTRO, "DEBIAN-CVE-2099-0001", None)
    assert f.decision == ("DEBIAN-CVE-2099-0001 (Debian:13): installed version 'abc' is no debian version "
                          "(upstream: affected)")


def test_without_advisories_the_upstream_range_decides_and_the_finding_says_why(catalog: Catalog) -> None:
    f = _match(catalog, _installed(catalog), [UPSTREAM])["CVE-2099-0001"]
    assert (f.status, f.rule, f.decided_by) == (A, RULE_UPSTREAM, "nvd:CVE-2099-0001")
    assert f.decision == ("upstream range of nvd:CVE-2099-0001: affected; installed package "
                          "pkg:deb/debian/busybox@1:1.36.1-9?distro=debian-13: no distribution advisories imported")
    no_release = _match(catalog, _installed(catalog, distro=None), [UPSTREAM])["CVE-2099-0001"]
    assert no_release.decision == ("upstream range of nvd:CVE-2099-0001: affected; installed package "
                                   "busybox 1:1.36.1-9: release unknown")
    other_cve = _match(catalog, _installed(catalog), [UPSTREAM, _dsa(vid="DEBIAN-CVE-2099-0002")])["CVE-2099-0001"]
    assert (other_cve.status, other_cve.rule) == (A, RULE_UPSTREAM)
    assert other_cve.decision == ("upstream range of nvd:CVE-2099-0001: affected; no debian-13 advisory for "
                                  "busybox: upstream range decides")


def test_advisories_of_another_release_do_not_decide(catalog: Catalog) -> None:
    f = _match(catalog, _installed(catalog), [UPSTREAM, _dsa(eco="Debian:12")])["CVE-2099-0001"]
    assert (f.status, f.rule) == (A, RULE_UPSTREAM)


def test_the_default_release_applies_to_packages_whose_image_did_not_say(catalog: Catalog) -> None:
    c = _installed(catalog, distro=None)
    f = _match(catalog, c, [UPSTREAM, _dsa()], default_distro="debian-13")["CVE-2099-0001"]
    assert (f.status, f.rule, f.package_purl) == (N, RULE_DISTRO, "pkg:deb/debian/busybox@1:1.36.1-9?distro=debian-13")
    wrong = _match(catalog, _installed(catalog, distro="debian-12"), [UPSTREAM, _dsa()],
                   default_distro="debian-13")["CVE-2099-0001"]
    assert wrong.rule == RULE_UPSTREAM  # the image's own release is kept


def test_advisories_with_no_upstream_record_become_findings_of_their_own(catalog: Catalog) -> None:
    dsa = _dsa("1:1.36.1-10", vid="DSA-9999-1", aliases=("CVE-2099-0001", "CVE-2099-0002", "CVE-2099-0003"))
    found = _match(catalog, _installed(catalog), [UPSTREAM, dsa])
    assert sorted(found) == ["CVE-2099-0001", "CVE-2099-0002", "CVE-2099-0003"]
    own = found["CVE-2099-0002"]
    assert (own.status, own.rule, own.decided_by, own.justification, own.summary) == \
        (A, RULE_DISTRO, "DSA-9999-1", None, "dsa")
    assert own.decision == "DSA-9999-1 (Debian:13): 1:1.36.1-9 is inside Debian:13 range <1:1.36.1-10 " \
                           "(no upstream record)"
    assert [(m.record, m.origin) for m in own.matched_by] == [("osv:DSA-9999-1", "osv:distro")]
    fixed = _match(catalog, _installed(catalog, "1:1.36.1-10"), [dsa])
    assert sorted(fixed) == ["CVE-2099-0001", "CVE-2099-0002", "CVE-2099-0003"]
    f = fixed["CVE-2099-0003"]
    assert (f.status, f.justification) == (N, FIXED_BY_DISTRIBUTION)
    assert f.decision == (f"{FIXED_BY_DISTRIBUTION}: DSA-9999-1 (Debian:13): fixed in 1:1.36.1-10; installed "
                          "1:1.36.1-10 (no upstream record)")
    # an advisory that is not about a CVE is a finding under its own id
    plain = _match(catalog, _installed(catalog), [_dsa(vid="DSA-9999-2")])
    assert sorted(plain) == ["DSA-9999-2"]
    unknown = _match(catalog, _installed(catalog, "abc"), [_dsa(vid="DSA-9999-3")])
    assert unknown["DSA-9999-3"].status is U


# ------------------------------------------------------------------------------ scans and evidence
def test_scan_results_are_matched_by_their_contained_components(catalog: Catalog) -> None:
    contained = replace(component(catalog, "busybox", "1.36.1"), evidence=(
        Evidence(EvidenceMethod.MARKER_STRING, 0.4, "BusyBox", offset=0x10),
        Evidence(EvidenceMethod.VERSION_STRING, 0.9, "BusyBox v1.36.1 (2024-01-01)", offset=0x1F0, detail="busybox"),
    ))
    used = replace(component(catalog, "zlib", "1.2.11"), relation=Relation.USES)
    prov = Provenance(sha256=Sha256("cd" * 32), size=4)
    results = [ScanResult(path="fw/app.elf", sha256=Sha256("cd" * 32), size=4, format=ImageFormat.ELF,
                          provenance=prov, components=(contained, used))]
    zlib = vuln(AffectedRange(origin="nvd", cpe="zlib:zlib", upper="1.2.12"), vid="CVE-2099-0009")
    (f,) = match_scan_results(results, [UPSTREAM, zlib], catalog)
    assert (f.vuln_id, f.firmware_path, f.firmware_sha256, f.status) == ("CVE-2099-0001", "fw/app.elf", "cd" * 32, A)
    assert f.evidence == "version-string 'BusyBox v1.36.1 (2024-01-01)' at 0x1f0 (busybox)"
    no_detail = replace(contained, evidence=(Evidence(EvidenceMethod.SYMBOL, 0.7, "busybox_main"),))
    (g,) = match_components([no_detail], [UPSTREAM], catalog)
    assert g.evidence == "symbol 'busybox_main'"
    unknown = replace(contained, version=None, evidence=())
    (h,) = match_components([unknown], [UPSTREAM], catalog)
    assert h.evidence == "BusyBox (version unknown); component version unknown"


# ------------------------------------------------------------------------------ more edges
def test_merge_takes_what_the_first_record_lacks() -> None:
    a = vuln(bb("cve5:cna", upper="1.0"))
    c1 = Cvss(version="3.1", score=5.0, vector="v1", severity=Severity.MEDIUM, source="cna")
    c2 = Cvss(version="3.1", score=9.0, vector="v2", severity=Severity.CRITICAL, source="nvd")
    b = vuln(bb("nvd", upper="2.0"), description="from nvd", published="2022-01-01", modified="2024-06-01",
             summary="nvd summary", cvss=(c2,))
    (m,) = merge_vulnerabilities([replace(a, cvss=(c1,)), b])
    assert (m.description, m.published, m.modified, m.summary, m.cvss) == \
        ("from nvd", "2022-01-01", "2024-06-01", "nvd summary", (c1, c2))
    (n,) = merge_vulnerabilities([a, vuln(bb("nvd", upper="2.0"))])
    assert (n.modified, n.published, n.description) == (None, None, "")


def _cat(catalog: Catalog, *extra: tuple[str, str]) -> Catalog:
    from ecuscan.catalog import CatalogEntry
    return Catalog([*catalog.entries, *(CatalogEntry(id=ComponentId(i), name=n, purl_base=f"pkg:generic/{i}")
                                        for i, n in extra)])


def test_description_mentions_prefer_the_longest_name_and_skip_short_ones(catalog: Catalog) -> None:
    cat = _cat(catalog, ("acme", "Acme"), ("acme-tls", "Acme TLS"), ("abc", "Abc"))
    v = vuln(AffectedRange(origin="cve5:cna", unknown=True), description="A flaw in Acme TLS 3.0 (see abc).")
    idx = build_index([v], cat)
    assert sorted(idx.by_entry) == ["acme-tls"]
    ((_v, [(r, key)]),) = idx.by_entry["acme-tls"]
    assert (key, r.text, r.unknown, r.origin) == ("description mentions 'Acme TLS'", "n/a", True, "cve5:cna")


def test_only_the_first_2000_characters_of_a_description_are_searched(catalog: Catalog) -> None:
    near = vuln(AffectedRange(origin="cve5:cna", unknown=True), description=" " * 1996 + "zlib")
    far = vuln(AffectedRange(origin="cve5:cna", unknown=True), description=" " * 1997 + "zlib")
    assert sorted(build_index([near], catalog).by_entry) == ["zlib"]
    assert build_index([far], catalog).by_entry == {}


def test_a_record_naming_a_product_by_cpe_alone_is_not_attached_by_its_description(catalog: Catalog) -> None:
    v = vuln(bb(exact="1.0"), description="BusyBox with zlib")
    assert sorted(build_index([v], catalog).by_entry) == ["busybox"]


def test_an_unknown_source_does_not_hide_a_later_affected_one(catalog: Catalog) -> None:
    f = one(catalog, vuln(bb("cve5:cna", unknown=True), bb("nvd", upper="1.36.0")), "1.35.0")
    assert (f.status, [m.origin for m in f.matched_by]) == (A, ["nvd"])
    g = one(catalog, vuln(bb("cve5:cna", upper="9.0"), bb("nvd", upper="1.36.0")), None)
    assert g.evidence == "BusyBox (version unknown); component version unknown; component version unknown"


def test_the_notes_of_several_sources_are_all_kept(catalog: Catalog) -> None:
    clear = one(catalog, vuln(bb("nvd", upper="1.0"), bb("cve5:cna", upper="1.0")), "1.35.0")
    assert clear.evidence == "BusyBox 1.35.0; nvd: outside every affected range; cve5:cna: outside every affected range"
    default = one(catalog, vuln(bb("cve5:cna", exact="1.0", status="unaffected", default_status="affected"),
                                bb("cve5:adp", exact="1.0", status="unaffected", default_status="affected")), "1.35.0")
    assert default.evidence == ("BusyBox 1.35.0; cve5:cna: outside the listed ranges, defaultStatus affected; "
                                "cve5:adp: outside the listed ranges, defaultStatus affected")


def test_a_component_is_found_by_id_purl_cpe_or_name(catalog: Catalog) -> None:
    v = [vuln(bb(upper="9.0"))]
    by_purl = Component(id=ComponentId("x1"), name="x1", version="1.0", purl="pkg:generic/busybox@1.0")
    by_cpe = Component(id=ComponentId("x2"), name="x2", version="1.0", purl="pkg:generic/x2",
                       cpe="cpe:2.3:a:busybox:busybox:1.0:*:*:*:*:*:*:*")
    for c in (by_purl, by_cpe):
        assert [(f.component_id, f.status) for f in match_components([c], v, catalog)] == [("busybox", A)], c


def test_a_record_without_sources_is_named_by_its_id(catalog: Catalog) -> None:
    v = Vulnerability(id="CVE-2099-0005", affected=(bb(upper="9.0"),), sources=())
    f = one(catalog, v, "1.0")
    assert ([m.record for m in f.matched_by], f.decided_by) == (["CVE-2099-0005"], "CVE-2099-0005")
    w = Vulnerability(id="CVE-2099-0006", affected=(bb(upper="9.0"),), sources=("osv:GHSA-1",))
    assert [m.record for m in one(catalog, w, "1.0").matched_by] == ["osv:GHSA-1"]


def test_distribution_verdicts_name_the_advisory_then_the_upstream_ranges(catalog: Catalog) -> None:
    expected = [("osv:DEBIAN-CVE-2099-0001", "osv:distro"), ("nvd:CVE-2099-0001", "nvd")]
    for version in ("1:1.36.1-8", "abc", "1:1.36.1-9"):
        f = _match(catalog, _installed(catalog, version), [UPSTREAM, _dsa()])["CVE-2099-0001"]
        assert [(m.record, m.origin) for m in f.matched_by] == expected, version


def test_an_advisory_only_finding_carries_the_component_the_firmware_and_the_advisory_facts(catalog: Catalog) -> None:
    c = replace(_installed(catalog), evidence=(Evidence(EvidenceMethod.PACKAGE_METADATA, 1.0, "busybox 1:1.36.1-9",
                                                        detail="var/lib/dpkg/status"),))
    dsa = replace(_dsa("1:1.36.1-10", vid="DSA-9999-1", aliases=("CVE-2099-0002",)), kev=True, cwes=("CWE-787",),
                  cvss=(Cvss(version="3.1", score=7.5, vector="CVSS:3.1/AV:N", severity=Severity.HIGH, source="osv"),))
    covered = _dsa("1:1.36.1-10", vid="DEBIAN-CVE-2099-0001")
    prov = Provenance(sha256=Sha256("ef" * 32), size=4)
    scan = ScanResult(path="rootfs.img", sha256=Sha256("ef" * 32), size=4, format=ImageFormat.ELF, provenance=prov,
                      components=(c,))
    found = {f.vuln_id: f for f in match_scan_results([scan], [UPSTREAM, covered, dsa], catalog)}
    assert sorted(found) == ["CVE-2099-0001", "CVE-2099-0002"]  # the second advisory is not lost behind the first
    f = found["CVE-2099-0002"]
    assert (f.component_id, f.component_purl, f.component_version, f.firmware_sha256, f.firmware_path) == \
        ("busybox", c.purl, "1.36.1", "ef" * 32, "rootfs.img")
    assert (f.cvss.score if f.cvss else None, f.severity, f.cwes, f.kev, f.package_purl) == \
        (7.5, Severity.HIGH, ("CWE-787",), True, "pkg:deb/debian/busybox@1:1.36.1-9?distro=debian-13")
    assert f.evidence == "package-metadata 'busybox 1:1.36.1-9' (var/lib/dpkg/status)"
    assert found["CVE-2099-0001"].rule == RULE_DISTRO
    # the release an image did not state comes from default_distro here too
    unstated = replace(scan, components=(replace(c, package=_pkg(distro=None)),))
    g = {f.vuln_id: f for f in match_scan_results([unstated], [UPSTREAM, covered], catalog, default_distro="debian-13")}
    assert g["CVE-2099-0001"].rule == RULE_DISTRO


def test_the_source_package_names_the_missing_advisory(catalog: Catalog) -> None:
    pkg = PackageRef(type="deb", name="busybox-static", version="1:1.36.1-9", source="busybox", distro="debian-13")
    c = replace(component(catalog, "busybox", "1.36.1"), package=pkg)
    f = _match(catalog, c, [UPSTREAM, _dsa(vid="DEBIAN-CVE-2099-0002")])["CVE-2099-0001"]
    assert f.decision.endswith("; no debian-13 advisory for busybox: upstream range decides")


def test_evidence_is_bounded_to_500_characters(catalog: Catalog) -> None:
    long_version = "1." + "1" * 600
    f = one(catalog, vuln(bb(upper="2.0")), long_version)
    assert len(f.evidence) == 500
    c = replace(_installed(catalog), version="1." + "1" * 600)
    own = _match(catalog, c, [_dsa(vid="DSA-9999-5")])["DSA-9999-5"]
    assert len(own.evidence) == 500


def test_a_range_that_cannot_be_compared_does_not_hide_another_source(catalog: Catalog) -> None:
    # an inverted range built by hand (parsers mark these unknown): that source is unknown, NVD still decides
    f = one(catalog, vuln(bb("cve5:cna", lower="3.0", upper="2.0"), bb("nvd", upper="1.36.0")), "1.35.0")
    assert (f.status, [m.origin for m in f.matched_by]) == (A, ["nvd"])
    assert f.evidence == "BusyBox 1.35.0; version '1.35.0' not comparable with cve5:cna ranges"


def test_components_after_one_outside_the_catalog_are_still_matched(catalog: Catalog) -> None:
    stranger = Component(id=ComponentId("acme-rtos"), name="ACME RTOS", version="1.0", purl="pkg:generic/acme-rtos")
    found = match_components([stranger, component(catalog, "busybox", "1.0")], [vuln(bb(upper="9.9"))], catalog)
    assert [(f.component_id, f.status) for f in found] == [("busybox", A)]


def test_a_component_is_found_by_its_catalog_id_first(catalog: Catalog) -> None:
    c = Component(id=ComponentId("busybox"), name="bb-fork", version="1.0", purl="pkg:generic/bb-fork")
    assert [f.component_id for f in match_components([c], [vuln(bb(upper="9.9"))], catalog)] == ["busybox"]


def test_evidence_text_is_cut_at_80_characters(catalog: Catalog) -> None:
    long_text = Evidence(EvidenceMethod.MARKER_STRING, 0.5, "x" * 100)
    c = replace(component(catalog, "busybox", "1.0"), evidence=(long_text,))
    (f,) = match_components([c], [vuln(bb(upper="9.9"))], catalog)
    assert f.evidence == f"marker-string {'x' * 80!r}"


def test_a_name_two_entries_share_is_attributed_as_the_catalog_does(catalog: Catalog) -> None:
    cat = _cat(catalog, ("first-co", "Shared Lib"), ("second-co", "Shared Lib"))
    assert cat.by_name("shared lib") is not None and cat.by_name("shared lib").id == "first-co"  # type: ignore[union-attr]
    v = vuln(AffectedRange(origin="cve5:cna", unknown=True), description="Shared Lib overflows")
    assert sorted(build_index([v], cat).by_entry) == ["first-co"]
