"""Distribution advisories: OSV records of distribution ecosystems, judged by that distribution's rules.

A Linux image built from distribution packages carries security fixes the distribution
backported without changing the upstream version (Debian's ``libxml2
2.12.7+dfsg+really2.9.14-2.1+deb13u3`` is "2.9.14" upstream, yet fixed for CVEs that upstream
fixed only in 2.11+). OSV publishes the distributions' own verdicts as records of ecosystems
such as ``Debian:13``, ``Ubuntu:22.04:LTS``, ``Alpine:v3.20``, ``Red Hat:enterprise_linux:9::appstream``,
``openSUSE:Leap 15.5``; their ``ECOSYSTEM`` ranges are in the distribution's version syntax
and compare by its rules: python-debian's :class:`debian.debian_support.Version` (dpkg's
algorithm: epochs, revisions, ``~``; Debian and Ubuntu), univers'
:class:`~univers.versions.RpmVersion` (rpmvercmp) and
:class:`~univers.versions.AlpineLinuxVersion` (``-rN``).

This module maps ecosystems and os-release ids onto one ``family-release`` key
(``debian-13``), builds the per-package index of advisories, and judges an installed package
version against one advisory. :mod:`ecuscan.vulns.match` decides what the verdict means for a
finding. The records themselves are stored like every other OSV record (the store's raw
record table), so no new store column is needed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from debian.debian_support import Version as DpkgVersion

from ..model import PackageRef

if TYPE_CHECKING:
    from .records import AffectedRange, Vulnerability

_SPACE_RE = re.compile(r"\s")


def debian_version(text: str) -> DpkgVersion:
    """``text`` as a Debian package version, compared by dpkg's rules (python-debian).

    python-debian parses what Debian policy's character set allows; dpkg also requires the
    upstream part to start with a digit, takes everything after the *last* hyphen as the
    revision and refuses white space. A version breaking one of these rules is refused here
    (``ValueError``), so that it is reported as no Debian version instead of being compared by
    a guess.

    >>> debian_version("1:2.9.14-2.1+deb13u3") > debian_version("2.12.7-1")
    True
    >>> debian_version("22.04.2-2") == debian_version("22.4.2-2")
    True
    >>> debian_version("a1.0")
    Traceback (most recent call last):
    ...
    ValueError: Debian version 'a1.0' does not start with a digit
    """
    if _SPACE_RE.search(text):  # python-debian's pattern ends in "$", which lets a final newline through
        raise ValueError(f"Debian version {text!r} contains white space")
    v = DpkgVersion(text)
    upstream = v.upstream_version or ""
    if not (upstream[:1].isascii() and upstream[:1].isdigit()):
        raise ValueError(f"Debian version {text!r} does not start with a digit")
    if v.debian_revision is None and "-" in upstream:
        raise ValueError(f"Debian version {text!r} has an invalid revision")
    return v


def _rpm_version(text: str) -> Any:
    """``text`` as an RPM version (univers' rpmvercmp)."""
    # univers is imported here: only advisories of RPM families compare with it, and the import costs
    # ~40 ms of every scan's start-up, which reads package databases through this module
    from univers.versions import RpmVersion

    return RpmVersion(text)


def _apk_version(text: str) -> Any:
    """``text`` as an Alpine package version (univers' apk order, ``-rN``)."""
    from univers.versions import AlpineLinuxVersion  # here: as in _rpm_version

    return AlpineLinuxVersion(text)


@dataclass(frozen=True)
class Family:
    """A distribution family: its version class, its os-release ids, and how much of a release counts."""

    name: str
    version_class: Callable[[str], Any]  # parses a version or raises ValueError / InvalidVersion
    os_ids: tuple[str, ...]
    release_parts: int  # 0: a rolling distribution (advisories name no release)


_FAMILIES = {f.name: f for f in (
    Family("debian", debian_version, ("debian",), 1),
    Family("ubuntu", debian_version, ("ubuntu",), 2),
    Family("alpine", _apk_version, ("alpine",), 2),
    Family("rhel", _rpm_version, ("rhel", "redhat"), 1),
    Family("rocky", _rpm_version, ("rocky",), 1),
    Family("almalinux", _rpm_version, ("almalinux",), 1),
    Family("opensuse", _rpm_version, ("opensuse-leap", "opensuse"), 2),
    Family("suse", _rpm_version, ("sles", "sled", "sles_sap"), 2),
    Family("mageia", _rpm_version, ("mageia",), 1),
    Family("photon", _rpm_version, ("photon",), 1),
    Family("azurelinux", _rpm_version, ("azurelinux", "mariner"), 1),
    Family("openeuler", _rpm_version, ("openeuler",), 2),
    Family("wolfi", _apk_version, ("wolfi",), 0),
    Family("chainguard", _apk_version, ("chainguard",), 0),
)}
# OSV ecosystem name (before the first ':') -> family
_ECOSYSTEM_FAMILY = {"debian": "debian", "ubuntu": "ubuntu", "alpine": "alpine", "red hat": "rhel",
                     "rocky linux": "rocky", "almalinux": "almalinux", "opensuse": "opensuse", "suse": "suse",
                     "mageia": "mageia", "photon os": "photon", "azure linux": "azurelinux",
                     "openeuler": "openeuler", "wolfi": "wolfi", "chainguard": "chainguard"}
_OS_ID_FAMILY = {i: f.name for f in _FAMILIES.values() for i in f.os_ids}
_SP_RE = re.compile(r"(\d+)\s*SP(\d+)", re.IGNORECASE)
_NUM_RE = re.compile(r"\d+")
_DEB_RELEASE_RE = re.compile(r"[+~]deb(\d{1,2})u\d+")
#: a CVE id
CVE_ID_RE = re.compile(r"^CVE-\d{4}-\d{4,}$")


def family_of_ecosystem(ecosystem: str | None) -> Family | None:
    """The distribution family of an OSV ecosystem name, or ``None`` for a language ecosystem.

    >>> family_of_ecosystem("Debian:13").name, family_of_ecosystem("Red Hat:enterprise_linux:9::appstream").name
    ('debian', 'rhel')
    >>> family_of_ecosystem("PyPI") is None
    True
    """
    if not ecosystem:
        return None
    name = _ECOSYSTEM_FAMILY.get(ecosystem.split(":", 1)[0].strip().lower())
    return _FAMILIES[name] if name else None


def _release(text: str, parts: int) -> str | None:
    if parts == 0:
        return None
    m = _SP_RE.search(text)
    nums = [m.group(1), m.group(2)] if m else _NUM_RE.findall(text)
    return ".".join(nums[:parts]) if nums else None


def release_of_ecosystem(ecosystem: str) -> str | None:
    """The release an OSV ecosystem name is about (``None``: every release of a rolling one).

    >>> [release_of_ecosystem(e) for e in ("Debian:13", "Ubuntu:Pro:18.04:LTS", "Alpine:v3.20",
    ...  "Red Hat:enterprise_linux:9::appstream", "SUSE:Linux Enterprise Server 15 SP5", "Wolfi")]
    ['13', '18.04', '3.20', '9', '15.5', None]
    """
    fam = family_of_ecosystem(ecosystem)
    if fam is None:
        return None
    rest = ecosystem.split(":", 1)[1] if ":" in ecosystem else ""
    return _release(rest, fam.release_parts)


def distro_key(family: str, release: str | None) -> str:
    """``debian-13``; a rolling distribution is its family name alone."""
    return f"{family}-{release}" if release else family


def distro_from_os_release(text: str) -> str | None:
    """The ``family-release`` key of an ``/etc/os-release`` file, ``None`` when it names neither.

    A distribution no OSV ecosystem covers keeps its own id (``poky-5.0``: Yocto's reference
    distribution), so the release is still reported.

    >>> distro_from_os_release('ID=debian\\nVERSION_ID="13"\\nVERSION_CODENAME=trixie\\n')
    'debian-13'
    >>> distro_from_os_release('ID=ubuntu\\nVERSION_ID="22.04"\\n')
    'ubuntu-22.04'
    >>> distro_from_os_release("ID=alpine\\nVERSION_ID=3.20.3")
    'alpine-3.20'
    >>> distro_from_os_release('ID=poky\\nVERSION_ID="5.0.4"\\n')
    'poky-5.0.4'
    """
    fields: dict[str, str] = {}
    for line in text.splitlines()[:200]:
        key, sep, value = line.partition("=")
        if sep and key.strip().isupper():
            fields[key.strip()] = value.strip().strip("'\"")[:100]
    os_id = fields.get("ID", "").lower()
    if not os_id or not re.fullmatch(r"[a-z0-9._-]{1,40}", os_id):
        return None
    version = fields.get("VERSION_ID", "")
    fam_name = _OS_ID_FAMILY.get(os_id)
    if fam_name is None:
        return distro_key(os_id, version if re.fullmatch(r"[0-9A-Za-z._-]{1,40}", version) else None)
    fam = _FAMILIES[fam_name]
    return distro_key(fam.name, _release(version, fam.release_parts))


def distro_from_package_version(version: str) -> str | None:
    """A Debian release named by a package revision (``+deb12u5``, ``~deb13u1``), else ``None``.

    >>> distro_from_package_version("2.5.0-1+deb12u5"), distro_from_package_version("2.9.0-1~deb13u1")
    ('debian-12', 'debian-13')
    >>> distro_from_package_version("1.5.7-1") is None
    True
    """
    m = _DEB_RELEASE_RE.search(version)
    return distro_key("debian", m.group(1)) if m else None


def distro_from_base_files(version: str) -> str | None:
    """Debian's ``base-files`` package version starts with the release number (``13.8``).

    >>> distro_from_base_files("13.8"), distro_from_base_files("12.4+deb12u11"), distro_from_base_files("13ubuntu10")
    ('debian-13', 'debian-12', None)
    """
    m = re.fullmatch(r"(\d{1,2})\.\d+(?:\+deb\d+u\d+)?", version.strip())
    return distro_key("debian", m.group(1)) if m else None


@lru_cache(maxsize=4096)
def parse_distro_version(family: Family, text: str) -> Any:
    """``text`` in the family's version class, ``None`` when it is no such version.

    Cached: one installed version is judged against every advisory of its package, and a
    parsed version is never changed."""
    if not text or len(text) > 200:
        return None
    from univers.versions import InvalidVersion  # here: as in _rpm_version

    try:
        return family.version_class(text)
    except (InvalidVersion, ValueError, TypeError):
        return None


def distro_range_problem(family: Family, rng: AffectedRange) -> str | None:
    """Why a distribution range cannot be evaluated (unparseable or inverted bounds), or ``None``."""
    if rng.unknown:
        return None
    parsed: dict[str, Any] = {}
    for label, b in (("exact version", rng.exact), ("lower bound", rng.lower), ("upper bound", rng.upper)):
        if b is None:
            continue
        v = parse_distro_version(family, b)
        if v is None:
            return f"unusable {label} {b[:80]!r} for {family.name} versions"
        parsed[label] = v
    lo, hi = parsed.get("lower bound"), parsed.get("upper bound")
    if lo is not None and hi is not None and rng.exact is None:
        if hi < lo:
            return f"inverted range: lower bound {rng.lower!r} is above upper bound {rng.upper!r}"
        if hi == lo and not (rng.lower_inclusive and rng.upper_inclusive) and rng.upper != "0":
            return f"empty range: lower bound equals upper bound {rng.upper!r}"
    return None


def distro_contains(family: Family, rng: AffectedRange, version: str) -> bool | None:
    """Whether the installed package ``version`` lies in ``rng`` by the family's rules; ``None``:
    either side cannot be compared."""
    if rng.unknown or rng.problem or distro_range_problem(family, rng) is not None:
        return None
    v = parse_distro_version(family, version)
    if v is None:
        return None
    if rng.exact is not None:
        ex = parse_distro_version(family, rng.exact)
        return None if ex is None else bool(v == ex)
    if rng.lower is not None:
        lo = parse_distro_version(family, rng.lower)
        if lo is None or v < lo or (v == lo and not rng.lower_inclusive):
            return False if lo is not None else None
    if rng.upper is not None:
        hi = parse_distro_version(family, rng.upper)
        if hi is None:
            return None
        return bool(v < hi or (v == hi and rng.upper_inclusive))
    return True


@dataclass(frozen=True)
class Advisory:
    """One distribution advisory about one source package of one release."""

    record: str  # DEBIAN-CVE-2024-25062, DSA-5765-1, ALPINE-CVE-..., RHSA-...
    vuln_ids: tuple[str, ...]  # the vulnerabilities it decides (its own id when a CVE, aliases, upstream)
    ecosystem: str
    family: Family
    release: str | None
    package: str
    ranges: tuple[AffectedRange, ...]
    vulnerability: Vulnerability

    @property
    def distro(self) -> str:
        """``debian-13``."""
        return distro_key(self.family.name, self.release)


@dataclass(frozen=True)
class DistroVerdict:
    """What one advisory says about an installed package version."""

    advisory: Advisory
    affected: bool | None  # None: the advisory's ranges could not be compared with the version
    explanation: str
    ranges: tuple[AffectedRange, ...]


def judge(adv: Advisory, version: str) -> DistroVerdict:
    """The advisory's verdict on ``version`` (the installed package's full distribution version)."""
    fam = adv.family
    if parse_distro_version(fam, version) is None:
        return DistroVerdict(adv, None, f"installed version {version!r} is no {fam.name} version", adv.ranges)
    results = [(r, distro_contains(fam, r, version)) for r in adv.ranges]
    inside = [r for r, c in results if c and r.status == "affected"]
    if inside:
        fixed = [r.upper for r in inside if r.upper]
        return DistroVerdict(adv, True, f"{version} is inside {adv.ecosystem} range "
                             f"{inside[0].describe()}" + ("" if fixed else " (no fixed version yet)"), tuple(inside))
    unusable = [r for r, c in results if c is None]
    if unusable:
        return DistroVerdict(adv, None, f"{adv.ecosystem} range {unusable[0].describe()} cannot be compared "
                             f"with {version}", tuple(unusable))
    fixed_in = sorted({r.upper for r in adv.ranges if r.upper and not r.upper_inclusive})
    how = f"fixed in {', '.join(fixed_in)}" if fixed_in else "outside every affected range"
    return DistroVerdict(adv, False, f"{how}; installed {version}", adv.ranges)


class DistroIndex:
    """Distribution advisories by (family, release, source package), from parsed OSV records."""

    def __init__(self, vulns: Iterable[Vulnerability]) -> None:
        self.by_package: dict[tuple[str, str | None, str], list[Advisory]] = defaultdict(list)
        self.records = 0
        for v in vulns:
            groups: dict[tuple[str, str], list[AffectedRange]] = defaultdict(list)
            for r in v.affected:
                if r.origin == "osv" and r.vendor and r.package and family_of_ecosystem(r.vendor):
                    groups[(r.vendor, r.package)].append(r)
            if not groups:
                continue
            self.records += 1
            ids = vuln_ids_of(v)
            for (eco, pkg), ranges in groups.items():
                fam = family_of_ecosystem(eco)
                assert fam is not None
                adv = Advisory(v.id, ids, eco, fam, release_of_ecosystem(eco), pkg, tuple(ranges), v)
                self.by_package[(fam.name, adv.release, pkg)].append(adv)

    def __len__(self) -> int:
        return self.records

    def advisories(self, pkg: PackageRef) -> list[Advisory]:
        """The advisories about ``pkg``'s source package (else its binary name) in its release."""
        if not pkg.distro:
            return []
        family, _, release = pkg.distro.partition("-")
        fam = _FAMILIES.get(family)
        if fam is None:
            return []
        rel = release or None
        out: list[Advisory] = []
        for name in dict.fromkeys(n for n in (pkg.source, pkg.name) if n):
            out.extend(self.by_package.get((fam.name, rel, name), ()))
            if fam.release_parts == 0 or rel is None:
                continue
            out.extend(self.by_package.get((fam.name, None, name), ()))  # release-less ecosystem names
        return out

    def for_vulnerability(self, pkg: PackageRef, ids: Iterable[str]) -> list[Advisory]:
        """The advisories about ``pkg`` that decide one of ``ids`` (a CVE and its aliases)."""
        wanted = set(ids)
        return [a for a in self.advisories(pkg) if wanted.intersection(a.vuln_ids)]


def vuln_ids_of(v: Vulnerability) -> tuple[str, ...]:
    """Every vulnerability id an advisory speaks for: its id, aliases, ``upstream`` ids, and the
    CVE inside a ``DEBIAN-CVE-…``/``ALPINE-CVE-…``-style id."""
    ids = [v.id, *v.aliases, *v.upstream]
    m = re.search(r"(CVE-\d{4}-\d{4,})$", v.id)
    if m:
        ids.append(m.group(1))
    return tuple(dict.fromkeys(ids))


def release_from_packages(versions: Mapping[str, str]) -> str | None:
    """The release named by most package revisions of a database (``+debNNuM``), else ``None``."""
    votes: dict[str, int] = defaultdict(int)
    for v in versions.values():
        d = distro_from_package_version(v)
        if d:
            votes[d] += 1
    return max(votes, key=lambda k: votes[k]) if votes else None
