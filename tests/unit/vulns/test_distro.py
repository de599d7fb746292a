"""Package-aware matching: distribution advisories (OSV distribution ecosystems) judge installed packages.

Data: the real CVE 5 record CVE-2024-25062 (libxml2, CNA "n/a"), OSV ``DEBIAN-CVE-*`` records whose fixed
versions come from the trixie libxml2 package's own changelog (tests/fixtures/vulns/distro/README.md), and the
dev corpus' real trixie ``libxml2_2.12.7+dfsg+really2.9.14-2.1+deb13u3`` package.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from ecuscan.catalog import Catalog, load_catalog
from ecuscan.cli import main
from ecuscan.identify.packages import PackageIndex
from ecuscan.model import PackageRef
from ecuscan.vulns.distro import (
    DistroIndex,
    distro_from_os_release,
    family_of_ecosystem,
    judge,
    release_of_ecosystem,
)
from ecuscan.vulns.match import match_components
from ecuscan.vulns.parsers import parse_record
from ecuscan.vulns.records import FIXED_BY_DISTRIBUTION, RULE_DISTRO, RULE_UPSTREAM, FindingStatus, Vulnerability

from .test_cli_sarif_impact import SARIF_REQUIRED
from .vulns_helpers import DATA, component

DISTRO = DATA / "distro"
INSTALLED = "2.12.7+dfsg+really2.9.14-2.1+deb13u3"
LIBXML2_DEB = (Path.home() / ".cache/ecuscan/dev-corpus/debs/arm64"
               / "libxml2_2.12.7+dfsg+really2.9.14-2.1+deb13u3_arm64.deb")


def _osv(name: str) -> Vulnerability:
    return parse_record("osv", json.loads((DISTRO / "osv" / f"{name}.json").read_text("utf-8")))


def _upstream() -> Vulnerability:
    return parse_record("cve5", json.loads((DISTRO / "cve5" / "CVE-2024-25062.json").read_text("utf-8")))


def _advisories() -> list[Vulnerability]:
    return [_osv(p.stem) for p in sorted((DISTRO / "osv").glob("*.json"))]


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog()


def _libxml2(catalog: Catalog, revision: str | None = INSTALLED, distro: str | None = "debian-13") -> Any:
    c = component(catalog, "libxml2", "2.9.14")
    if revision is None:
        return c
    from dataclasses import replace
    return replace(c, package=PackageRef(type="deb", name="libxml2", version=revision, source="libxml2",
                                         distro=distro, db="var/lib/dpkg/status"))


def test_ecosystem_names_map_to_families_and_releases() -> None:
    assert [release_of_ecosystem(e) for e in ("Debian:11", "Debian:12", "Debian:13")] == ["11", "12", "13"]
    assert release_of_ecosystem("Ubuntu:22.04:LTS") == "22.04"
    assert release_of_ecosystem("Alpine:v3.19") == "3.19"
    assert release_of_ecosystem("openSUSE:Leap 15.5") == "15.5"
    assert family_of_ecosystem("Rocky Linux:9") is not None and family_of_ecosystem("npm") is None
    os_release = Path(__file__).resolve().parents[2] / "fixtures" / "distro" / "os-release-trixie"
    assert distro_from_os_release(os_release.read_text()) == "debian-13"


@pytest.mark.parametrize(("ecosystem", "fixed", "installed", "affected"), [
    # Debian: revisions, epochs and ~ (a backport sorts before the release it backports)
    ("Debian:13", "2.12.7+dfsg+really2.9.14-1", INSTALLED, False),
    ("Debian:13", "2.12.7+dfsg+really2.9.14-1", "2.12.7+dfsg+really2.9.14-0.4", True),
    ("Debian:12", "2.5.0-1+deb12u1", "2.5.0-1+deb12u5", False),
    ("Debian:12", "1:1.2.13-1", "1.3.1-1", True),  # the epoch wins over the upstream version
    ("Debian:13", "2.9.0-1", "2.9.0-1~deb13u1", True),  # ~ sorts below
    # RPM (rpmvercmp): numeric release parts, not strings
    ("Red Hat:enterprise_linux:9::appstream", "3.0.7-27.el9", "3.0.7-9.el9", True),
    ("Rocky Linux:9", "3.0.7-27.el9", "3.0.7-28.el9", False),
    # Alpine: -rN compares numerically
    ("Alpine:v3.20", "3.3.2-r10", "3.3.2-r9", True),
    ("Alpine:v3.20", "3.3.2-r10", "3.3.2-r11", False),
])
def test_distribution_versions_compare_by_their_own_rules(ecosystem: str, fixed: str, installed: str,
                                                          affected: bool) -> None:
    raw = {"schema_version": "1.6.0", "id": "TEST-ADV-1", "modified": "2024-01-01T00:00:00Z",
           "upstream": ["CVE-2000-0001"],
           "affected": [{"package": {"ecosystem": ecosystem, "name": "pkg"},
                         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}
    v = parse_record("osv", raw)
    assert not v.problems()
    fam = family_of_ecosystem(ecosystem)
    assert fam is not None
    pkg = PackageRef(type="deb", name="pkg", version=installed, source="pkg",
                     distro=f"{fam.name}-{release_of_ecosystem(ecosystem)}")
    advs = DistroIndex([v]).for_vulnerability(pkg, ["CVE-2000-0001"])
    assert len(advs) == 1
    assert judge(advs[0], installed).affected is affected


def test_an_inverted_distribution_range_is_a_feed_problem() -> None:
    raw = {"schema_version": "1.6.0", "id": "TEST-ADV-2", "modified": "2024-01-01T00:00:00Z",
           "affected": [{"package": {"ecosystem": "Debian:13", "name": "pkg"},
                         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0-1"}, {"fixed": "1.0-1"}]}]}]}
    v = parse_record("osv", raw)
    assert any("inverted" in p for p in v.problems())
    pkg = PackageRef(type="deb", name="pkg", version="1.5-1", source="pkg", distro="debian-13")
    assert judge(DistroIndex([v]).advisories(pkg)[0], "1.5-1").affected is None


def test_advisories_are_per_release_and_keyed_on_the_source_package() -> None:
    index = DistroIndex(_advisories())
    pkg13 = PackageRef(type="deb", name="libxml2", version=INSTALLED, source="libxml2", distro="debian-13")
    assert {a.record for a in index.advisories(pkg13)} == {
        "DEBIAN-CVE-2024-25062", "DEBIAN-CVE-2025-6021", "DEBIAN-CVE-2025-49794"}
    assert index.advisories(PackageRef(type="deb", name="libxml2", version="2.9.14+dfsg-1.3~deb12u1",
                                       source="libxml2", distro="debian-12")) == []
    assert index.advisories(PackageRef(type="deb", name="libxml2", version=INSTALLED, source="libxml2")) == []


def test_fixed_by_the_distribution_is_not_affected_with_the_advisory_named(shipped: Catalog) -> None:
    catalog = shipped
    vulns = [_upstream(), *_advisories()]
    before = match_components([_libxml2(catalog, None)], [_upstream()], catalog)
    assert [(f.vuln_id, f.status, f.rule) for f in before] == [
        ("CVE-2024-25062", FindingStatus.UNKNOWN_RANGE, RULE_UPSTREAM)]  # the CNA record is "n/a"
    assert before[0].exposed
    after = {f.vuln_id: f for f in match_components([_libxml2(catalog)], vulns, catalog)}
    f = after["CVE-2024-25062"]
    assert f.status is FindingStatus.NOT_AFFECTED and not f.exposed
    assert f.rule == RULE_DISTRO and f.decided_by == "DEBIAN-CVE-2024-25062"
    assert f.justification == FIXED_BY_DISTRIBUTION
    assert "fixed in 2.12.7+dfsg+really2.9.14-1" in f.decision and INSTALLED in f.decision
    assert f.package_purl == ("pkg:deb/debian/libxml2@2.12.7%2Bdfsg%2Breally2.9.14-2.1%2Bdeb13u3"
                              "?distro=debian-13")
    # the upstream record is still named beside the advisory (nothing hidden)
    assert {m.origin for m in f.matched_by} >= {"osv:distro", "cve5:cna"}
    # advisories for vulnerabilities no upstream record covers are findings too, decided by the distribution
    assert after["CVE-2025-6021"].rule == RULE_DISTRO and after["CVE-2025-6021"].status is FindingStatus.NOT_AFFECTED
    assert after["CVE-2025-49794"].status is FindingStatus.NOT_AFFECTED  # fixed in exactly the installed revision


def test_an_older_revision_stays_affected_by_the_distribution(shipped: Catalog) -> None:
    catalog = shipped
    vulns = [_upstream(), *_advisories()]
    old = {f.vuln_id: f for f in match_components(
        [_libxml2(catalog, "2.12.7+dfsg+really2.9.14-0.4")], vulns, catalog)}
    assert old["CVE-2024-25062"].status is FindingStatus.AFFECTED and old["CVE-2024-25062"].exposed
    assert old["CVE-2024-25062"].rule == RULE_DISTRO
    assert "inside Debian:13 range" in old["CVE-2024-25062"].decision
    assert old["CVE-2025-6021"].status is FindingStatus.AFFECTED


def test_without_a_release_or_an_advisory_the_upstream_range_decides_and_says_so(shipped: Catalog) -> None:
    catalog = shipped
    vulns = [_upstream(), *_advisories()]
    no_release = match_components([_libxml2(catalog, INSTALLED, None)], vulns, catalog)
    assert [(f.status, f.rule) for f in no_release] == [(FindingStatus.UNKNOWN_RANGE, RULE_UPSTREAM)]
    given = {f.vuln_id: f for f in match_components([_libxml2(catalog, INSTALLED, None)], vulns, catalog,
                                                    default_distro="debian-13")}
    assert given["CVE-2024-25062"].status is FindingStatus.NOT_AFFECTED
    only_other = match_components([_libxml2(catalog)], [_upstream(), _osv("DEBIAN-CVE-2025-6021")], catalog)
    f = next(x for x in only_other if x.vuln_id == "CVE-2024-25062")
    assert f.rule == RULE_UPSTREAM and f.status is FindingStatus.UNKNOWN_RANGE
    assert "no debian-13 advisory for libxml2: upstream range decides" in f.decision


def test_package_databases_give_coordinates_and_the_release(shipped: Catalog) -> None:
    status = (b"Package: libxml2\nStatus: install ok installed\nArchitecture: arm64\n"
              b"Version: 2.12.7+dfsg+really2.9.14-2.1+deb13u3\n\n"
              b"Package: libexpat1\nStatus: install ok installed\nSource: expat\nVersion: 2.9.0-1~deb13u1\n\n"
              b"Package: base-files\nStatus: install ok installed\nVersion: 13.8+deb13u8\n\n")
    os_release = (Path(__file__).resolve().parents[2] / "fixtures" / "distro" / "os-release-trixie").read_bytes()
    with_os = PackageIndex.from_files({"var/lib/dpkg/status": status, "usr/lib/os-release": os_release}, shipped)
    comps = {c.id: c for c in with_os.listed_components()}
    pkg = comps["expat"].installed_package()
    assert pkg is not None and (pkg.type, pkg.name, pkg.source, pkg.version, pkg.distro) == (
        "deb", "libexpat1", "expat", "2.9.0-1~deb13u1", "debian-13")
    assert pkg.purl() == "pkg:deb/debian/libexpat1@2.9.0-1~deb13u1?distro=debian-13"
    # no os-release: Debian's base-files version names the release
    only_status = PackageIndex.from_files({"var/lib/dpkg/status": status}, shipped)
    assert only_status.distro == "debian-13"
    opkg = b"Package: libxml2\nVersion: 2.9.14-r0\nSource: libxml2_2.9.14.bb\nStatus: install ok installed\n"
    yocto = PackageIndex.from_files({"usr/lib/os-release": b'ID=poky\nVERSION_ID="5.0.4"\n',
                                     "usr/lib/opkg/status": opkg}, shipped)
    ref = yocto.listed_components()[0].installed_package()
    assert ref is not None and (ref.type, ref.source, ref.distro) == ("ipk", "libxml2", "poky-5.0.4")


def _zip_of_advisories(tmp_path: Path) -> Path:
    z = tmp_path / "debian-osv.zip"
    with zipfile.ZipFile(z, "w") as zf:  # the layout of OSV's per-ecosystem all.zip dumps
        for p in sorted((DISTRO / "osv").glob("*.json")):
            zf.write(p, p.name)
    return z


@pytest.mark.skipif(not LIBXML2_DEB.is_file(), reason=f"dev corpus package absent: {LIBXML2_DEB}")
def test_the_real_trixie_package_before_and_after_the_advisories(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 's.sqlite'}"
    cli = CliRunner()

    def run(*args: str) -> Any:
        r = cli.invoke(main, [*args, "--store", store])
        assert r.exit_code == 0, r.output
        return r

    run("scan", str(LIBXML2_DEB))
    run("vulns", "import", str(DISTRO / "cve5"))

    def findings() -> dict[str, dict[str, Any]]:
        doc = json.loads(run("vulns", "match", "--all", "--json", "--sarif", str(tmp_path / "out.sarif")).output)
        return {f["vuln_id"]: f for f in doc["findings"] if f["component"]["id"] == "libxml2"}

    before = findings()
    assert before["CVE-2024-25062"]["status"] == "unknown-range" and before["CVE-2024-25062"]["exposed"]
    imported = run("vulns", "import", str(_zip_of_advisories(tmp_path)))
    assert "4 added" in imported.output and "4 distribution advisories" in imported.output
    after = findings()
    f = after["CVE-2024-25062"]
    assert (f["status"], f["exposed"], f["rule"], f["decided_by"], f["justification"]) == (
        "not-affected", False, "distro-advisory", "DEBIAN-CVE-2024-25062", "fixed by distribution")
    assert f["package"].startswith("pkg:deb/debian/libxml2@") and "distro=debian-13" in f["package"]
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    jsonschema.validate(sarif, SARIF_REQUIRED)
    res = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "CVE-2024-25062"]
    assert res[0]["level"] == "none" and "fixed by distribution" in res[0]["suppressions"][0]["justification"]
    assert res and res[0]["properties"]["rule"] == "distro-advisory"
    assert res[0]["properties"]["decidedBy"] == "DEBIAN-CVE-2024-25062"

    # the same bytes without package metadata: judged by the upstream record alone
    store2 = f"sqlite:///{tmp_path / 'np.sqlite'}"
    for args in (["scan", "--no-package-metadata", str(LIBXML2_DEB)], ["vulns", "import", str(DISTRO / "cve5")],
                 ["vulns", "import", str(_zip_of_advisories(tmp_path))]):
        r = cli.invoke(main, [*args, "--store", store2])
        assert r.exit_code == 0, r.output
    doc = json.loads(cli.invoke(main, ["vulns", "match", "--all", "--json", "--store", store2]).output)
    nopkg = {f["vuln_id"]: f for f in doc["findings"] if f["component"]["id"] == "libxml2"}
    assert nopkg["CVE-2024-25062"]["rule"] == "upstream-range"
    assert nopkg["CVE-2024-25062"]["status"] == "unknown-range" and nopkg["CVE-2024-25062"]["exposed"]
    assert "CVE-2025-6021" not in nopkg  # advisories apply to installed packages only


def test_an_alpine_tree_is_judged_by_alpine_advisories(shipped: Catalog) -> None:
    # apk's installed database (lib/apk/db/installed) and os-release of an Alpine 3.20 image
    apk = (b"C:Q1abc=\nP:libexpat\nV:2.6.2-r0\nA:x86_64\no:expat\nF:usr/lib\nR:libexpat.so.1.9.2\n\n"
           b"C:Q1def=\nP:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\nF:bin\nR:busybox\n\n")
    idx = PackageIndex.from_files({"lib/apk/db/installed": apk,
                                   "etc/os-release": b'ID=alpine\nVERSION_ID=3.20.3\n'}, shipped)
    assert idx.package_of("/usr/lib/libexpat.so.1.9.2") is not None
    (expat,) = idx.components_for("/usr/lib/libexpat.so.1.9.2")
    ref = expat.installed_package()
    assert ref is not None and (ref.type, ref.name, ref.source, ref.version, ref.distro) == (
        "apk", "libexpat", "expat", "2.6.2-r0", "alpine-3.20")
    # an advisory in the shape of OSV's Alpine records (source package, Alpine:vX.Y, -rN revisions)
    adv = parse_record("osv", {"schema_version": "1.6.0", "id": "ALPINE-CVE-2024-45490",
                               "modified": "2024-09-05T00:00:00Z", "upstream": ["CVE-2024-45490"],
                               "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "expat"},
                                             "ranges": [{"type": "ECOSYSTEM", "events": [
                                                 {"introduced": "0"}, {"fixed": "2.6.3-r0"}]}]}]})
    (f,) = match_components([expat], [adv], shipped)
    assert (f.vuln_id, f.status, f.rule, f.decided_by) == (
        "CVE-2024-45490", FindingStatus.AFFECTED, RULE_DISTRO, "ALPINE-CVE-2024-45490")


def test_an_advisory_for_several_cves_speaks_for_each(shipped: Catalog) -> None:
    # a DSA-style record: one advisory, two CVEs; only the first has an upstream record here
    dsa = parse_record("osv", {"schema_version": "1.6.0", "id": "DSA-9999-1", "modified": "2025-01-01T00:00:00Z",
                               "upstream": ["CVE-2024-25062", "CVE-2025-6170"],
                               "affected": [{"package": {"ecosystem": "Debian:13", "name": "libxml2"},
                                             "ranges": [{"type": "ECOSYSTEM", "events": [
                                                 {"introduced": "0"}, {"fixed": "2.12.7+dfsg+really2.9.14-2.1"}]}]}]})
    found = {f.vuln_id: f for f in match_components([_libxml2(shipped)], [_upstream(), dsa], shipped)}
    assert set(found) == {"CVE-2024-25062", "CVE-2025-6170"}
    assert all(f.decided_by == "DSA-9999-1" and f.status is FindingStatus.NOT_AFFECTED for f in found.values())


def test_an_rpm_tree_is_judged_by_its_distribution_with_rpm_rules(shipped: Catalog) -> None:
    import gzip

    rpmdb = gzip.decompress((DATA.parent / "rpm" / "rpmdb.sqlite.gz").read_bytes())  # libssl3 1:3.0.15-r2 (openssl)
    idx = PackageIndex.from_files({"var/lib/rpm/rpmdb.sqlite": rpmdb,
                                   "etc/os-release": b'ID="rocky"\nVERSION_ID="9.4"\n'}, shipped)
    comps = {c.id: c for c in idx.listed_components()}
    ref = comps["openssl"].installed_package()
    assert ref is not None and (ref.type, ref.name, ref.source, ref.version, ref.distro) == (
        "rpm", "libssl3", "openssl", "1:3.0.15-r2", "rocky-9")

    def advisory(fixed: str) -> Vulnerability:
        return parse_record("osv", {"schema_version": "1.6.0", "id": "RLSA-2099:0001",
                                    "modified": "2025-01-01T00:00:00Z", "upstream": ["CVE-2099-0001"],
                                    "affected": [{"package": {"ecosystem": "Rocky Linux:9", "name": "openssl"},
                                                  "ranges": [{"type": "ECOSYSTEM", "events": [
                                                      {"introduced": "0"}, {"fixed": fixed}]}]}]})

    (still,) = match_components([comps["openssl"]], [advisory("1:3.0.15-r10")], shipped)  # rpmvercmp: r2 < r10
    assert (still.status, still.decided_by) == (FindingStatus.AFFECTED, "RLSA-2099:0001")
    (fixed,) = match_components([comps["openssl"]], [advisory("3.0.16-1")], shipped)  # the epoch wins
    assert fixed.status is FindingStatus.NOT_AFFECTED and fixed.justification == FIXED_BY_DISTRIBUTION
