"""The contract of ecuscan.vulns.distro, decision by decision: ecosystem names, os-release files,
package revisions, Debian version syntax and order, range checks, verdicts and the advisory index.

Debian version order is judged by dpkg itself (``dpkg --compare-versions``), the tool whose order
Debian's advisories are written for; the other expectations are written here from the formats'
published rules (os-release(5), OSV's ecosystem names, Debian policy 5.6.12), not from the module.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import replace

import pytest

from ecuscan.model import PackageRef
from ecuscan.vulns.distro import (
    CVE_ID_RE,
    DistroIndex,
    debian_version,
    distro_contains,
    distro_from_base_files,
    distro_from_os_release,
    distro_from_package_version,
    distro_key,
    distro_range_problem,
    family_of_ecosystem,
    judge,
    parse_distro_version,
    release_from_packages,
    release_of_ecosystem,
    vuln_ids_of,
)
from ecuscan.vulns.records import AffectedRange, Vulnerability


def fam(name: str):  # type: ignore[no-untyped-def]
    f = family_of_ecosystem(name)
    assert f is not None
    return f


DEB = fam("Debian")


def rng(lower: str | None = None, upper: str | None = None, *, exact: str | None = None, li: bool = True,
        ui: bool = False, **kw: object) -> AffectedRange:
    return AffectedRange("osv", lower=lower, upper=upper, exact=exact, lower_inclusive=li, upper_inclusive=ui,
                         **kw)  # type: ignore[arg-type]


# --- ecosystem names -> family and release --------------------------------------------------------------

@pytest.mark.parametrize(("ecosystem", "family", "release"), [
    ("Debian:13", "debian", "13"),
    ("Debian:13.1", "debian", "13"),           # a Debian release is its major number
    ("Debian", "debian", None),                # no release in the name
    ("  debian :12", "debian", "12"),          # case and spaces around the family name
    ("Ubuntu:22.04:LTS", "ubuntu", "22.04"),
    ("Ubuntu:Pro:18.04:LTS", "ubuntu", "18.04"),
    ("Ubuntu:Pro", "ubuntu", None),            # no number at all
    ("Alpine:v3.20", "alpine", "3.20"),
    ("Alpine:v3", "alpine", "3"),
    ("Red Hat:enterprise_linux:9::appstream", "rhel", "9"),
    ("Red Hat:rhel_eus:8.6::baseos", "rhel", "8"),
    ("Rocky Linux:9", "rocky", "9"),
    ("AlmaLinux:8", "almalinux", "8"),
    ("openSUSE:Leap 15.5", "opensuse", "15.5"),
    ("SUSE:Linux Enterprise Server 15 SP5", "suse", "15.5"),
    ("SUSE:Linux Enterprise Server 12 sp3", "suse", "12.3"),   # SP in any case
    ("SUSE:Linux Enterprise Server 15SP6", "suse", "15.6"),
    ("SUSE:Linux Enterprise Server 15", "suse", "15"),
    ("SUSE:Linux Enterprise Real Time 2 15 SP4", "suse", "15.4"),   # "N SP M" wins over other numbers
    ("Mageia:9", "mageia", "9"),
    ("Photon OS:5.0", "photon", "5"),
    ("Azure Linux:3", "azurelinux", "3"),
    ("openEuler:24.03-LTS-SP1", "openeuler", "24.03"),
    ("Wolfi", "wolfi", None),                  # rolling: advisories name no release
    ("Wolfi:2024", "wolfi", None),
    ("Chainguard", "chainguard", None),
])
def test_ecosystem_family_and_release(ecosystem: str, family: str, release: str | None) -> None:
    f = family_of_ecosystem(ecosystem)
    assert f is not None and f.name == family
    assert release_of_ecosystem(ecosystem) == release


@pytest.mark.parametrize("ecosystem", [None, "", "PyPI", "npm", "Go", "crates.io", "Maven", "Debianish:13",
                                       "Red:Hat", ":Debian"])
def test_language_and_unknown_ecosystems_are_no_distribution(ecosystem: str | None) -> None:
    assert family_of_ecosystem(ecosystem) is None
    if ecosystem is not None:
        assert release_of_ecosystem(ecosystem) is None


def test_version_classes_by_family() -> None:
    # Debian and Ubuntu: dpkg order; RPM families: rpmvercmp; Alpine and Wolfi: apk's -rN
    for eco in ("Debian:13", "Ubuntu:24.04"):
        f = fam(eco)
        assert parse_distro_version(f, "1:1.0-1") > parse_distro_version(f, "2.0-1")
    for eco in ("Red Hat:rhel:9", "Rocky Linux:9", "AlmaLinux:9", "openSUSE:Leap 15.5", "SUSE:SLES 15",
                "Mageia:9", "Photon OS:5", "Azure Linux:3", "openEuler:22.03"):
        f = fam(eco)
        assert parse_distro_version(f, "3.0.7-27.el9") > parse_distro_version(f, "3.0.7-9.el9"), eco
    for eco in ("Alpine:v3.20", "Wolfi", "Chainguard"):
        f = fam(eco)
        assert parse_distro_version(f, "3.3.2-r10") > parse_distro_version(f, "3.3.2-r9"), eco
        assert parse_distro_version(f, "not a version") is None


def test_distro_key() -> None:
    assert distro_key("debian", "13") == "debian-13"
    assert distro_key("wolfi", None) == "wolfi"
    assert distro_key("wolfi", "") == "wolfi"


# --- os-release (os-release(5)) -------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "key"), [
    ('ID=debian\nVERSION_ID="13"\n', "debian-13"),
    ("ID=debian\nVERSION_ID='12'\n", "debian-12"),         # single quotes too
    ("ID=Debian\nVERSION_ID=11\n", "debian-11"),           # the id is compared in lower case
    ('ID=debian\n', "debian"),                              # sid/testing: no VERSION_ID
    ('NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\n', "ubuntu-22.04"),
    ("ID=alpine\nVERSION_ID=3.20.3", "alpine-3.20"),
    ('ID="rhel"\nVERSION_ID="9.4"\n', "rhel-9"),
    ('ID="redhat"\nVERSION_ID="8.10"\n', "rhel-8"),
    ('ID="rocky"\nVERSION_ID="9.3"\n', "rocky-9"),
    ('ID="almalinux"\nVERSION_ID="9.3"\n', "almalinux-9"),
    ('ID="opensuse-leap"\nVERSION_ID="15.5"\n', "opensuse-15.5"),
    ('ID="sles"\nVERSION_ID="15-SP5"\n', "suse-15.5"),
    ('ID="sled"\nVERSION_ID="15.4"\n', "suse-15.4"),
    ('ID="mariner"\nVERSION_ID="2.0"\n', "azurelinux-2"),
    ('ID="openEuler"\nVERSION_ID="22.03"\n', "openeuler-22.03"),
    ('ID=wolfi\nVERSION_ID=20230201\n', "wolfi"),          # rolling
    ('ID=poky\nVERSION_ID="5.0.4"\n', "poky-5.0.4"),       # no OSV ecosystem: its own id and version
    ('ID=poky\nVERSION_ID="5.0 beta"\n', "poky"),          # a version with a space is no version
    ('ID=poky\nVERSION_ID=' + "1" * 41 + "\n", "poky"),     # over 40 characters
    ('ID=poky\nVERSION_ID=' + "1" * 40 + "\n", "poky-" + "1" * 40),
    ('  ID = debian \n VERSION_ID = "13" \n', "debian-13"),  # spaces around keys and values
    ('ID=ubuntu\nID=debian\nVERSION_ID=13\n', "debian-13"),  # the last assignment wins
    ('# comment\nBROKEN LINE\nID=debian\nVERSION_ID=13\n', "debian-13"),
    ('ID=debian\nVERSION_ID=13=x\n', "debian-13"),         # the first '=' separates key and value
    ('ID=debian\nVERSION_ID=13\nID\n', "debian-13"),        # a line without '=' assigns nothing
    ('ID=poky\nVERSION_ID="5.0X"\n', "poky-5.0X"),          # only quotes are stripped
    ('ID=poky\nVERSION_ID=5.0A\n', "poky-5.0A"),            # upper and lower case letters
    ('ID=poky\nVERSION_ID=5.0a\n', "poky-5.0a"),
    ('ID=debian\nVERSION_ID=' + "x" * 100 + "7\n", "debian"),  # the value is cut at 100 characters
    ('id=debian\nversion_id=13\n', None),                   # keys are upper case
    ('VERSION_ID=13\n', None),                              # no ID
    ('ID=\n', None),
    ('ID="deb ian"\n', None),                               # not an os-release id
    ('ID=' + "a" * 41 + "\n", None),
    ('ID=' + "a" * 40 + "\n", "a" * 40),
])
def test_os_release(text: str, key: str | None) -> None:
    assert distro_from_os_release(text) == key


def test_os_release_reads_200_lines_and_100_characters_of_a_value() -> None:
    filler = "X=1\n" * 199
    assert distro_from_os_release(filler + "ID=debian\nVERSION_ID=13\n") == "debian"  # VERSION_ID is line 201
    assert distro_from_os_release("X=1\n" * 200 + "ID=debian\n") is None
    assert distro_from_os_release(f'ID=poky\nVERSION_ID="{"9" * 99}"\n') == "poky"
    # a value is cut at 100 characters before it is judged: the id stays too long, the cut is not a new id
    assert distro_from_os_release("ID=" + "a" * 100 + "b\n") is None


# --- releases named by packages ------------------------------------------------------------------------

@pytest.mark.parametrize(("version", "key"), [
    ("2.5.0-1+deb12u5", "debian-12"),
    ("2.9.0-1~deb13u1", "debian-13"),
    ("1:2.4.1-1+deb9u3", "debian-9"),
    ("1.0-1+deb12u15+b1", "debian-12"),
    ("1.5.7-1", None),
    ("1.0-1-deb12u1", None),   # only + or ~ introduce the release
    ("1.0-1+deb12", None),     # no update number
    ("1.0-1+deb12u", None),
    ("1.0-1+deb123u1", None),  # a release has at most two digits
    ("1.0-1+debu1", None),
])
def test_release_of_a_package_revision(version: str, key: str | None) -> None:
    assert distro_from_package_version(version) == key


@pytest.mark.parametrize(("version", "key"), [
    ("13.8", "debian-13"), (" 12.4 ", "debian-12"), ("12.4+deb12u11", "debian-12"), ("9.13", "debian-9"),
    ("13", None), ("13ubuntu10", None), ("123.1", None), ("13.8+deb13u1x", None), ("13.x", None), ("", None),
])
def test_release_of_base_files(version: str, key: str | None) -> None:
    assert distro_from_base_files(version) == key


def test_release_of_a_package_database_is_the_majority() -> None:
    assert release_from_packages({}) is None
    assert release_from_packages({"a": "1.0-1", "b": "2.0"}) is None
    assert release_from_packages({"a": "1.0-1+deb12u1", "b": "2-1+deb13u1", "c": "3-1~deb13u2",
                                  "d": "4-1"}) == "debian-13"
    assert release_from_packages({"a": "1.0-1+deb11u1", "b": "2-1+deb11u1", "c": "3-1+deb12u1"}) == "debian-11"
    assert release_from_packages({"a": "1-1+deb12u1"}) == "debian-12"


# --- Debian version syntax and order --------------------------------------------------------------------

@pytest.mark.parametrize("text", ["1.0", "1:1.0", "1.0-1", "1.0~rc1-1", "1.0+dfsg-1+deb13u2", "1:1:1-1",
                                  "2.1.12-stable-1.5", "0", "1.0-1~bpo12+1", "10:2.5.0.0-1"])
def test_debian_versions_dpkg_accepts(text: str) -> None:
    assert str(debian_version(text)) == text
    assert parse_distro_version(DEB, text) is not None


@pytest.mark.parametrize(("text", "why"), [
    ("a1.0", "does not start with a digit"),
    ("1:a", "does not start with a digit"),
    ("~1", "does not start with a digit"),
    ("1.0-", "invalid revision"),                # the last hyphen starts an (empty) revision
    ("1:1.0-1:2", "invalid revision"),          # ':' is no revision character
    ("1.0\n", "white space"),
    (" 1.0", "white space"),
    ("1.0-a b", "white space"),
])
def test_debian_versions_dpkg_refuses(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        debian_version(text)
    assert parse_distro_version(DEB, text) is None


@pytest.mark.parametrize("text", ["", "1.0_1", "1.0@1", "-1", "1:", "x:1.0", "\u0663.1"])
def test_debian_versions_python_debian_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        debian_version(text)
    assert parse_distro_version(DEB, text) is None


def test_a_version_over_200_characters_is_no_version() -> None:
    assert parse_distro_version(DEB, "1." + "0" * 198) is not None
    assert parse_distro_version(DEB, "1." + "0" * 199) is None


_PIECES = ["0", "1", "1.0", "1.00", "1.01", "1.0a", "1.0~", "1.0~rc1", "1.0+", "1.0+dfsg", "1.0.1", "2",
           "10", "1.0+really2.0", "01", "1~~", "1~~a", "1a", "1.a", "1+b1"]


def _dpkg(a: str, op: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False).returncode == 0


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg (the version order oracle) is not installed")
def test_debian_order_is_dpkgs_order() -> None:
    rnd = random.Random(13)
    versions = sorted({f"{e}{u}{r}" for e in ("", "1:") for u in _PIECES for r in ("", "-1", "-1.1", "-0~1", "-1+b2")})
    pairs = [("22.04.2-2", "22.4.2-2"), ("1.0-1", "1.0-1"), ("1:0", "2"), ("1.0~rc1", "1.0"), ("1.0", "1.0+b1")]
    pairs += [(rnd.choice(versions), rnd.choice(versions)) for _ in range(150)]
    for a, b in pairs:
        va, vb = debian_version(a), debian_version(b)
        assert (va < vb) is _dpkg(a, "lt", b), (a, b)
        assert (va == vb) is _dpkg(a, "eq", b), (a, b)
        assert (va > vb) is _dpkg(a, "gt", b), (a, b)


# --- range problems -------------------------------------------------------------------------------------

def test_range_problems() -> None:
    assert distro_range_problem(DEB, rng("1.0-1", "2.0-1")) is None
    assert distro_range_problem(DEB, rng(unknown=True, lower="x y")) is None
    msg = distro_range_problem(DEB, rng("a-1", "2.0-1"))
    assert msg == "unusable lower bound 'a-1' for debian versions"
    assert distro_range_problem(DEB, rng("1.0-1", "b")) == "unusable upper bound 'b' for debian versions"
    assert distro_range_problem(DEB, rng(exact="~x")) == "unusable exact version '~x' for debian versions"
    long = "z" * 300
    assert distro_range_problem(DEB, rng(long)) == f"unusable lower bound {long[:80]!r} for debian versions"
    assert distro_range_problem(fam("Alpine:v3.20"), rng("1.0-r1", "nope nope")) == (
        "unusable upper bound 'nope nope' for alpine versions")
    assert distro_range_problem(DEB, rng("2.0-1", "1.0-1")) == (
        "inverted range: lower bound '2.0-1' is above upper bound '1.0-1'")
    assert distro_range_problem(DEB, rng("1.0-1", "1.0-1")) == "empty range: lower bound equals upper bound '1.0-1'"
    assert distro_range_problem(DEB, rng("1.0-1", "1.0-1", li=False, ui=True)) is not None
    assert distro_range_problem(DEB, rng("1.0-1", "1.00-1", ui=True)) is None  # [x, x]: one version
    assert distro_range_problem(DEB, rng("1.0-1", "1.0-1", li=False, ui=False)) is not None
    assert distro_range_problem(DEB, rng("0", "0")) is None  # OSV "introduced 0, fixed 0": not an empty range
    # with an exact version, the bounds are not compared with each other
    assert distro_range_problem(DEB, rng("2.0-1", "1.0-1", exact="1.5-1")) is None


# --- containment ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("r", "version", "inside"), [
    (rng("1.0-1", "2.0-1"), "1.0-1", True),
    (rng("1.0-1", "2.0-1", li=False), "1.0-1", False),
    (rng("1.0-1", "2.0-1", li=False), "1.00-1", False),     # dpkg: equal to the lower bound
    (rng("1.0-1", "2.0-1", li=False), "1.0-1.1", True),
    (rng("1.0-1", "2.0-1"), "0.9-1", False),
    (rng("1.0-1", "2.0-1"), "2.0-1", False),
    (rng("1.0-1", "2.0-1", ui=True), "2.0-1", True),
    (rng("1.0-1", "2.0-1", ui=True), "2.0-1.1", False),
    (rng("1.0-1", "2.0-1"), "2.0-0.1", True),
    (rng("1.0-1", "2.0-1"), "1:1.5-1", False),               # the epoch wins
    (rng(None, "2.0-1"), "0.1", True),
    (rng(None, "2.0-1"), "2.0-1~deb13u1", True),             # ~ sorts before the release
    (rng("1.0-1", None), "99", True),
    (rng("1.0-1", None), "0.99", False),
    (rng("1.0-1", None, li=False), "1.0-1", False),
    (rng(), "1.0", True),                                    # no bounds: every version
    (rng(exact="1.04-1"), "1.4-1", True),                    # dpkg: 1.04 == 1.4
    (rng(exact="1.0-1"), "1.0-2", False),
    (rng("1.0-1", "2.0-1", unknown=True), "1.5-1", None),
    (rng("1.0-1", "2.0-1", problem="inverted", unknown=True), "1.5-1", None),
    (rng("1.0-1", "2.0-1", problem="bad"), "1.5-1", None),
    (rng("2.0-1", "1.0-1"), "1.5-1", None),                  # inverted
    (rng("x", "2.0-1"), "1.5-1", None),                      # unusable bound
    (rng(None, "2.0-1"), "x", None),                          # unusable installed version
    (rng(exact="1.0-1"), "", None),
])
def test_contains(r: AffectedRange, version: str, inside: bool | None) -> None:
    assert distro_contains(DEB, r, version) is inside


# --- verdicts -------------------------------------------------------------------------------------------

def _vuln(vid: str, *ranges: AffectedRange, aliases: tuple[str, ...] = (), upstream: tuple[str, ...] = ()
          ) -> Vulnerability:
    return Vulnerability(vid, aliases=aliases, affected=ranges, upstream=upstream)


def _osv(eco: str, pkg: str, lower: str | None, upper: str | None, **kw: object) -> AffectedRange:
    return rng(lower, upper, vendor=eco, package=pkg, **kw)


def _adv(*ranges: AffectedRange):  # type: ignore[no-untyped-def]
    index = DistroIndex([_vuln("DEBIAN-CVE-2024-0001", *ranges)])
    pkg = PackageRef(type="deb", name="p", version="1", source="p", distro="debian-13")
    (adv,) = index.advisories(pkg)
    return adv


def test_judge_affected_with_and_without_a_fix() -> None:
    a = _adv(_osv("Debian:13", "p", "0", "2.0-3"))
    v = judge(a, "2.0-2")
    assert v.affected is True and v.advisory is a
    assert v.explanation == "2.0-2 is inside Debian:13 range >=0, <2.0-3"
    assert v.ranges == a.ranges
    v = judge(_adv(_osv("Debian:13", "p", "0", None)), "2.0-2")
    assert v.affected is True and v.explanation.endswith(" (no fixed version yet)")
    # only the ranges the version is in are given as the reason
    inside, outside = _osv("Debian:13", "p", "3.0-1", "4.0-1"), _osv("Debian:13", "p", "0", "2.0-3")
    v = judge(_adv(inside, outside), "3.5-1")
    assert v.affected is True and v.ranges == (inside,)
    assert v.explanation == "3.5-1 is inside Debian:13 range >=3.0-1, <4.0-1"


def test_judge_not_affected_names_the_fixes() -> None:
    v = judge(_adv(_osv("Debian:13", "p", "0", "2.0-3"), _osv("Debian:13", "p", "3.0-1", "3.0-4"),
                   _osv("Debian:13", "p", "0", "2.0-3")), "3.0-4")  # each fix named once, in order
    assert v.affected is False
    assert v.explanation == "fixed in 2.0-3, 3.0-4; installed 3.0-4"
    assert len(v.ranges) == 3
    v = judge(_adv(_osv("Debian:13", "p", "0", "2.0-3", ui=True)), "2.0-4")
    assert v.affected is False and v.explanation == "outside every affected range; installed 2.0-4"
    v = judge(_adv(_osv("Debian:13", "p", "1.0-1", None)), "0.5-1")
    assert v.affected is False and v.explanation == "outside every affected range; installed 0.5-1"
    # an unusable (inverted) range keeps the verdict open even when other ranges say "fixed"
    a = _adv(_osv("Debian:13", "p", "0", "2.0-3"), _osv("Debian:13", "p", "3.0-1", "3.0-4"),
             _osv("Debian:13", "p", "5.0-1", "2.0-3"))
    v = judge(a, "4.0-1")
    assert v.affected is None and v.advisory is a
    assert v.explanation == "Debian:13 range >=5.0-1, <2.0-3 cannot be compared with 4.0-1"
    assert v.ranges == (a.ranges[2],)


def test_judge_an_affected_range_wins_over_an_unusable_one() -> None:
    a = _adv(_osv("Debian:13", "p", "x", "2.0-3"), _osv("Debian:13", "p", "0", "2.0-3"))
    v = judge(a, "1.0-1")
    assert v.affected is True and v.ranges == (a.ranges[1],)


def test_judge_unaffected_statements_do_not_make_a_version_affected() -> None:
    v = judge(_adv(_osv("Debian:13", "p", "0", "2.0-3", status="unaffected")), "1.0-1")
    assert v.affected is False


def test_judge_an_installed_version_that_is_no_version() -> None:
    a = _adv(_osv("Debian:13", "p", "0", "2.0-3"))
    v = judge(a, "not-a-version")
    assert v.affected is None
    assert v.explanation == "installed version 'not-a-version' is no debian version"
    assert v.ranges == a.ranges


# --- the advisory index ---------------------------------------------------------------------------------

def _pkg(name: str = "libfoo1", source: str | None = "foo", distro: str | None = "debian-13") -> PackageRef:
    return PackageRef(type="deb", name=name, version="1.0-1", source=source, distro=distro)


def test_index_keeps_distribution_statements_only() -> None:
    vulns = [
        _vuln("DEBIAN-CVE-2024-0001", _osv("Debian:13", "foo", "0", "1.0-2")),
        _vuln("CVE-2024-0002", rng("0", "1.0", vendor="foo", product="foo")),            # cve5-like: no package
        _vuln("GHSA-1", _osv("PyPI", "foo", "0", "1.0")),                                # language ecosystem
        _vuln("DEBIAN-CVE-2024-0003", replace(_osv("Debian:13", "foo", "0", "1.0-2"), origin="nvd")),
        _vuln("DEBIAN-CVE-2024-0004", replace(_osv("Debian:13", "foo", "0", "1.0-2"), package=None)),
        _vuln("DEBIAN-CVE-2024-0005", replace(_osv("Debian:13", "foo", "0", "1.0-2"), vendor=None)),
    ]
    index = DistroIndex(vulns)
    assert len(index) == 1
    assert [a.record for a in index.advisories(_pkg())] == ["DEBIAN-CVE-2024-0001"]
    assert len(DistroIndex([*vulns, _vuln("DSA-1-1", _osv("Debian:12", "foo", "0", "1-1")),
                            _vuln("DSA-2-1", _osv("Debian:11", "foo", "0", "1-1"))])) == 3


def test_index_groups_by_ecosystem_and_package() -> None:
    v = _vuln("DSA-1-1", _osv("Debian:13", "foo", "0", "1.0-2"), _osv("Debian:13", "foo", "1.5-1", "1.5-3"),
              _osv("Debian:12", "foo", "0", "0.9-1+deb12u1"), _osv("Debian:13", "bar", "0", "2-1"),
              aliases=("CVE-2024-0001",))
    index = DistroIndex([v])
    assert len(index) == 1
    (a13,) = index.advisories(_pkg())
    assert a13.ecosystem == "Debian:13" and a13.release == "13" and a13.package == "foo"
    assert a13.distro == "debian-13" and a13.family.name == "debian" and a13.vulnerability is v
    assert len(a13.ranges) == 2 and a13.vuln_ids == ("DSA-1-1", "CVE-2024-0001")
    (a12,) = index.advisories(_pkg(distro="debian-12"))
    assert a12.ranges == (v.affected[2],)
    assert [a.package for a in index.advisories(_pkg(name="bar", source=None))] == ["bar"]
    assert index.advisories(_pkg(distro="debian-11")) == []


def test_index_lookup_by_source_then_binary_name_once_each() -> None:
    index = DistroIndex([_vuln("DEBIAN-CVE-2024-0001", _osv("Debian:13", "foo", "0", "1-1")),
                         _vuln("DEBIAN-CVE-2024-0002", _osv("Debian:13", "libfoo1", "0", "1-1"))])
    assert [a.record for a in index.advisories(_pkg())] == ["DEBIAN-CVE-2024-0001", "DEBIAN-CVE-2024-0002"]
    same = _pkg(name="foo", source="foo")
    assert [a.record for a in index.advisories(same)] == ["DEBIAN-CVE-2024-0001"]
    assert [a.record for a in index.advisories(_pkg(name="foo", source=None))] == ["DEBIAN-CVE-2024-0001"]
    assert [a.record for a in index.advisories(_pkg(name="x", source="libfoo1"))] == ["DEBIAN-CVE-2024-0002"]


def test_index_release_less_records_and_packages() -> None:
    index = DistroIndex([_vuln("DEBIAN-CVE-2024-0001", _osv("Debian:13", "foo", "0", "1-1")),
                         _vuln("DEBIAN-CVE-2024-0002", _osv("Debian", "foo", "0", "1-1")),
                         _vuln("CGA-1", _osv("Wolfi", "foo", "0", "1-r1")),
                         _vuln("UBUNTU-CVE-2024-0003", _osv("Ubuntu:22.04:LTS", "foo", "0", "1-1"))])
    # a release's package sees its release's records and the release-less ones
    assert [a.record for a in index.advisories(_pkg())] == ["DEBIAN-CVE-2024-0001", "DEBIAN-CVE-2024-0002"]
    # a package of an unknown Debian release sees only the release-less ones
    assert [a.record for a in index.advisories(_pkg(distro="debian"))] == ["DEBIAN-CVE-2024-0002"]
    assert [a.record for a in index.advisories(_pkg(distro="wolfi"))] == ["CGA-1"]
    # a rolling distribution's binary-name advisory is found after its source name was looked up
    rolling = DistroIndex([_vuln("CGA-2", _osv("Wolfi", "libfoo1", "0", "1-r1"))])
    assert [a.record for a in rolling.advisories(_pkg(distro="wolfi"))] == ["CGA-2"]
    release_less = DistroIndex([_vuln("DEBIAN-CVE-2024-0009", _osv("Debian", "libfoo1", "0", "1-1"))])
    assert [a.record for a in release_less.advisories(_pkg(distro="debian"))] == ["DEBIAN-CVE-2024-0009"]
    assert [a.record for a in index.advisories(_pkg(distro="ubuntu-22.04"))] == ["UBUNTU-CVE-2024-0003"]
    assert index.advisories(_pkg(distro="ubuntu-24.04")) == []
    assert index.advisories(_pkg(distro=None)) == []
    assert index.advisories(_pkg(distro="")) == []
    assert index.advisories(_pkg(distro="poky-5.0")) == []


def test_index_for_vulnerability_matches_any_id() -> None:
    v1 = _vuln("DEBIAN-CVE-2024-0001", _osv("Debian:13", "foo", "0", "1-1"))
    v2 = _vuln("DSA-5000-1", _osv("Debian:13", "foo", "0", "1-1"), upstream=("CVE-2024-0002", "CVE-2024-0003"))
    index = DistroIndex([v1, v2])
    assert [a.record for a in index.for_vulnerability(_pkg(), ["CVE-2024-0001"])] == ["DEBIAN-CVE-2024-0001"]
    assert [a.record for a in index.for_vulnerability(_pkg(), ["GHSA-x", "CVE-2024-0003"])] == ["DSA-5000-1"]
    assert [a.record for a in index.for_vulnerability(_pkg(), ["DSA-5000-1"])] == ["DSA-5000-1"]
    assert index.for_vulnerability(_pkg(), ["CVE-2024-9999"]) == []
    assert index.for_vulnerability(_pkg(), []) == []


@pytest.mark.parametrize(("vid", "aliases", "upstream", "ids"), [
    ("DEBIAN-CVE-2024-25062", (), (), ("DEBIAN-CVE-2024-25062", "CVE-2024-25062")),
    ("ALPINE-CVE-2024-12345", (), (), ("ALPINE-CVE-2024-12345", "CVE-2024-12345")),
    ("CVE-2024-1234", ("CVE-2024-1234",), (), ("CVE-2024-1234",)),
    ("DSA-5765-1", ("CVE-2024-1", "CVE-2024-45490"), ("CVE-2024-45490", "CVE-2024-45491"),
     ("DSA-5765-1", "CVE-2024-1", "CVE-2024-45490", "CVE-2024-45491")),
    ("DEBIAN-CVE-2024-123", (), (), ("DEBIAN-CVE-2024-123",)),          # three digits: no CVE id
    ("DEBIAN-CVE-2024-12345-x", (), (), ("DEBIAN-CVE-2024-12345-x",)),  # the CVE id must end the record id
])
def test_vuln_ids_of(vid: str, aliases: tuple[str, ...], upstream: tuple[str, ...], ids: tuple[str, ...]) -> None:
    assert vuln_ids_of(_vuln(vid, aliases=aliases, upstream=upstream)) == ids


def test_cve_id_pattern() -> None:
    assert CVE_ID_RE.match("CVE-2024-1234") and CVE_ID_RE.match("CVE-2024-1234567")
    assert not CVE_ID_RE.match("CVE-2024-123") and not CVE_ID_RE.match("xCVE-2024-1234")
    assert not CVE_ID_RE.match("CVE-2024-1234x") and not CVE_ID_RE.match("CVE-24-1234")


def test_families_answer_each_os_id() -> None:
    ids = {"debian": "debian", "ubuntu": "ubuntu", "alpine": "alpine", "rhel": "rhel", "redhat": "rhel",
           "rocky": "rocky", "almalinux": "almalinux", "opensuse-leap": "opensuse", "opensuse": "opensuse",
           "sles": "suse", "sled": "suse", "sles_sap": "suse", "mageia": "mageia", "photon": "photon",
           "azurelinux": "azurelinux", "mariner": "azurelinux", "openeuler": "openeuler", "wolfi": "wolfi",
           "chainguard": "chainguard"}
    for os_id, family in ids.items():
        key = distro_from_os_release(f"ID={os_id}\nVERSION_ID=7.1\n")
        assert key is not None and key.split("-")[0] == family, os_id
