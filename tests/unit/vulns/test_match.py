"""Matching the real CVE 5 / NVD records against component versions."""

from __future__ import annotations

import pytest

from ecuscan.catalog import Catalog
from ecuscan.vulns.match import match_components, merge_vulnerabilities
from ecuscan.vulns.parsers import parse_record
from ecuscan.vulns.records import Finding, FindingStatus, Vulnerability

from .vulns_helpers import component, record

A, N, U = FindingStatus.AFFECTED, FindingStatus.NOT_AFFECTED, FindingStatus.UNKNOWN_RANGE


def verdicts(catalog: Catalog, vulns: list[Vulnerability], cid: str, version: str | None) -> dict[str, Finding]:
    return {f.vuln_id: f for f in match_components([component(catalog, cid, version)], vulns, catalog)}


@pytest.mark.parametrize(("cid", "version", "cve", "status"), [
    ("busybox", "1.35.0", "CVE-2022-28391", A),  # NVD versionEndIncluding 1.35.0
    ("busybox", "1.35.0", "CVE-2022-48174", A),  # NVD versionEndIncluding 1.36.1
    ("busybox", "1.37.0", "CVE-2022-28391", N),
    ("busybox", "1.37.0", "CVE-2022-48174", N),
    ("busybox", "1.33.1", "CVE-2021-42374", A),  # CVE 5: "unspecified" lower bound, lessThan 1.34.0
    ("busybox", "1.34.0", "CVE-2021-42374", N),
    ("curl", "7.88.1", "CVE-2023-38545", A),  # affected/unaffected pair: 7.69.0 <= v < 8.4.0
    ("curl", "7.68.0", "CVE-2023-38545", N),  # inside the unaffected "< 7.69.0"
    ("curl", "8.4.0", "CVE-2023-38545", N),
    ("curl", "7.69.0", "CVE-2023-38545", A),
    ("curl", "7.68.0", "CVE-2023-38546", A),  # 38546 starts at 7.9.1
    ("curl", "7.9.0", "CVE-2023-38546", N),
    ("expat", "2.5.0", "CVE-2022-40674", N),  # fixed in 2.4.9
    ("expat", "2.4.8", "CVE-2022-40674", A),
    ("expat", "2.4.10", "CVE-2022-40674", N),  # numeric, not string, comparison
    ("mbedtls", "3.6.6", "CVE-2021-44732", N),
    ("mbedtls", "3.6.6", "CVE-2024-23170", N),
    ("mbedtls", "3.5.1", "CVE-2024-23170", A),
    ("mbedtls", "2.28.6", "CVE-2024-23170", A),
    ("mbedtls", "2.28.7", "CVE-2024-23170", N),
    ("mbedtls", "2.16.11", "CVE-2021-44732", A),
    ("mbedtls", "2.16.12", "CVE-2021-44732", N),
    ("mbedtls", "3.0.0", "CVE-2021-44732", A),  # exact CPE version 3.0.0:-
    ("mbedtls", "3.1.0", "CVE-2021-44732", N),
    ("uclibc-ng", "1.0.40", "CVE-2022-29503", A),  # Talos: exact version only
    ("uclibc-ng", "1.0.41", "CVE-2022-29503", N),
    ("uclibc-ng", "1.0.38", "CVE-2021-43523", A),  # NVD: < 1.0.39
    ("uclibc-ng", "1.0.40", "CVE-2021-43523", N),
    ("uclibc", "0.9.33.2", "CVE-2021-43523", A),
    ("zephyr", "3.4.0", "CVE-2023-4264", A),  # "0" .. <= "3.4", versionType git
    ("zephyr", "3.4", "CVE-2023-4264", A),
    ("zephyr", "3.5.0", "CVE-2023-4264", N),
    ("zephyr", "3.4.0", "CVE-2023-5753", A),  # "*" .. < "3.5"
    ("zephyr", "3.5", "CVE-2023-5753", N),
    ("freertos-plus-tcp", "4.1.0", "CVE-2024-38373", A),  # free text ">= 4.0.0, <= 4.1.0" and ADP range
    ("freertos-plus-tcp", "4.1.1", "CVE-2024-38373", N),
    ("freertos-plus-tcp", "3.1.0", "CVE-2024-38373", N),
])
def test_real_records(catalog: Catalog, vulns: list[Vulnerability], cid: str, version: str, cve: str,
                      status: FindingStatus) -> None:
    found = verdicts(catalog, vulns, cid, version)
    assert cve in found, f"{cid} {version}: no identity match for {cve}"
    assert found[cve].status is status, found[cve]
    assert found[cve].matched_by, "every finding names the record and range"


def test_finding_explains_itself(catalog: Catalog, vulns: list[Vulnerability]) -> None:
    f = verdicts(catalog, vulns, "busybox", "1.35.0")["CVE-2022-28391"]
    (m,) = f.matched_by
    assert m.record == "nvd:CVE-2022-28391"
    assert m.range == "<=1.35.0"
    assert m.key == "cpe busybox:busybox"
    assert f.cvss is not None and f.cvss.score == 8.8 and f.cvss.vector.startswith("CVSS:3.1/")
    assert f.severity is not None and f.severity.value == "high"
    assert "CWE-88" in f.cwes
    assert f.exposed


def test_curl_explains_unaffected_range(catalog: Catalog, vulns: list[Vulnerability]) -> None:
    f = verdicts(catalog, vulns, "curl", "7.68.0")["CVE-2023-38545"]
    assert any("[unaffected]" in m.range and m.range.startswith("<7.69.0") for m in f.matched_by)
    assert not f.exposed


def test_na_record_without_nvd_is_unknown_range(catalog: Catalog) -> None:
    zlib_cve5 = parse_record("cve5", record("cve5/CVE-2018-25032"))
    found = {f.vuln_id: f for f in match_components([component(catalog, "zlib", "1.2.11")], [zlib_cve5], catalog)}
    f = found["CVE-2018-25032"]
    assert f.status is U  # never "affected" without a range
    assert "description mentions" in f.matched_by[0].key
    assert f.exposed  # unknown counts until triaged


def test_na_record_falls_back_to_nvd_configuration(catalog: Catalog) -> None:
    # Build the NVD configuration of CVE-2018-25032 (zlib before 1.2.12) in the NVD 2.0 shape:
    # the real NVD record is not bundled, so this one is made here and says so.
    nvd = {"id": "CVE-2018-25032", "published": "2022-03-25T09:15:08.187", "lastModified": "2024-01-01T00:00:00.000",
           "descriptions": [{"lang": "en", "value": "zlib before 1.2.12 allows memory corruption"}],
           "configurations": [{"nodes": [{"operator": "OR", "negate": False, "cpeMatch": [
               {"vulnerable": True, "criteria": "cpe:2.3:a:zlib:zlib:*:*:*:*:*:*:*:*",
                "versionEndExcluding": "1.2.12"},
               {"vulnerable": True, "criteria": "cpe:2.3:o:debian:debian_linux:9.0:*:*:*:*:*:*:*"}]}]}]}
    merged = merge_vulnerabilities([parse_record("cve5", record("cve5/CVE-2018-25032")), parse_record("nvd", nvd)])
    old = {f.vuln_id: f for f in match_components([component(catalog, "zlib", "1.2.11")], merged, catalog)}
    new = {f.vuln_id: f for f in match_components([component(catalog, "zlib", "1.2.12")], merged, catalog)}
    assert old["CVE-2018-25032"].status is A
    assert old["CVE-2018-25032"].matched_by[0].record == "nvd:CVE-2018-25032"
    assert new["CVE-2018-25032"].status is N


def test_unrelated_configurations_never_match(catalog: Catalog, vulns: list[Vulnerability]) -> None:
    # CVE-2022-40674 lists Debian and Fedora, CVE-2022-35737 NetApp and Splunk: only the
    # component's own vendor:product may match, so expat findings come from libexpat alone.
    for cid, version in (("busybox", "1.35.0"), ("expat", "2.4.8"), ("zlib", "1.2.11"), ("curl", "7.88.1")):
        for f in match_components([component(catalog, cid, version)], vulns, catalog):
            for m in f.matched_by:
                assert "debian" not in m.key and "fedora" not in m.key and "netapp" not in m.key
    busybox = verdicts(catalog, vulns, "busybox", "1.35.0")
    assert set(busybox) == {"CVE-2021-42374", "CVE-2022-28391", "CVE-2022-48174"}
    expat = verdicts(catalog, vulns, "expat", "2.4.8")
    assert set(expat) == {"CVE-2022-40674"}
    assert {m.key for m in expat["CVE-2022-40674"].matched_by} == {"cpe libexpat_project:libexpat"}


def test_nvd_dash_version_is_unknown(catalog: Catalog) -> None:
    from ecuscan.catalog import CatalogEntry
    from ecuscan.model import ComponentId
    cat = Catalog([*catalog.entries, CatalogEntry(id=ComponentId("lwip"), name="lwIP", purl_base="pkg:generic/lwip",
                                                  cpes=(("lwip_project", "lwip"),))])
    v = parse_record("nvd", record("nvd/CVE-2020-22283"))
    (f,) = match_components([component(cat, "lwip", "2.1.2")], [v], cat)
    assert f.status is U
    assert "'-'" in f.matched_by[0].range


def test_unknown_component_version_is_unknown_range(catalog: Catalog, vulns: list[Vulnerability]) -> None:
    f = verdicts(catalog, vulns, "busybox", None)["CVE-2022-28391"]
    assert f.status is U
    assert "version unknown" in f.evidence
