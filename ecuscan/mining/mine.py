"""Propose catalog entries from a project's Debian binary packages (the mining set).

For every project, over its ELF files in each mining (release, architecture):

* **version templates**: each printable string that holds the package's exact upstream version is
  cut into (text before, version, text after); a template is the (before, after) pair, trimmed to
  a few lengths. A template seen in *every* mining release becomes a pattern whose ``v`` group is
  generalised from the shapes of the versions seen (``\\d+(?:\\.\\d+){1,3}`` for dotted numbers),
  so the version comes from the bytes and is never memorised.
* **standalone versions** (the version alone in a NUL-delimited string, joined to the product
  name by code: ``"%s utility, iproute2-%s"``) become a ``version_hints`` shape, used only when
  presence is proven by a marker or a soname.
* **markers**: strings without the version, present in every mining release of the project and in
  no file of any other project of the mining set (nor of the development corpus, when present);
  chosen greedily to cover the most files, at most :data:`MAX_MARKERS`.
* **sonames** from the project's library file names, and **programs** from its executables.
* **file-name versions**: a library stem whose real file name (``libpcap.so.1.10.5``) ends in the
  package's exact upstream version in *every* file of that stem in *every* mining release becomes
  a soname rule with a ``v`` group (the version read from the name, never memorised). One file
  whose suffix is anything else (``liblwip.so.2.2.0`` of lwIP 2.2.1, ``libnettle.so.8.10``) and
  the stem gets no such rule.

Nothing here decides what ships: :mod:`.evaluate` measures every proposed rule on the mining set
and on the held-out release, and only rules that hold are written.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .corpus import MINING_RELEASES, Project

#: Shortest string considered at all, and longest kept.
MIN_STRING = 4
MAX_STRING = 200
#: Bytes of text kept before / after the version in a template (longest variant).
MAX_BEFORE = 24
MAX_AFTER = 16
MIN_LITERAL = 4
MAX_PATTERNS = 3
MAX_MARKERS = 2
#: Most files read per project and state (a project with thousands of plug-ins is sampled).
MAX_FILES_PER_STATE = 400
#: Largest file read, bytes.
MAX_FILE_BYTES = 64 * 1024 * 1024

_STRINGS = re.compile(rb"[\x20-\x7e]{%d,%d}" % (MIN_STRING, MAX_STRING))
_MARKER_OK = re.compile(rb"[A-Za-z]{3}")
#: Strings that are build noise, not project identity (paths of the build machine, compiler banners).
_NOISE = re.compile(rb"^GCC: |/build/|/usr/(?:lib|include|share)/|^_|^\.|GLIBC_|GCC_\d|CXXABI|GLIBCXX|\.so(?:\.\d+)*$")
#: Strings a distribution adds (the ELF package note, "Debian 1.2-3" banners): not the project's own.
_DISTRO = re.compile(rb'[Dd]ebian|"type":"deb"|"os":"|Ubuntu|\+deb\d|~deb\d|\+b\d|reproducible-path|prefix-map'
                     rb'|-fstack-prot|\+dfsg|\+ds\b|\+repack')
#: Text right after a version that is a packaging revision ("-1)", "-3ubuntu"): the template is the
#: distribution's, not the project's.
_REVISION_AFTER = re.compile(rb"^(?:-\d|\+(?:dfsg|ds|repack|really|deb|b\d)|~)")
_SKIP_PATHS = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/locale/", "/usr/share/info/")


@dataclass(frozen=True)
class FileRec:
    """One ELF file of the mining or held-out set, with its ground truth."""

    state: str  # "<release>-<arch>"
    release: str
    project: str
    package: str
    version: str
    path: Path
    rel: str  # path inside the package


def corpus_files(root: Path, releases: Iterable[str], arches: Iterable[str],
                 projects: set[str] | None = None) -> Iterator[FileRec]:
    """ELF files of every fetched package of the given releases/arches (documentation trees skipped)."""
    for release in releases:
        for arch in arches:
            manifest = root / f"corpus-{release}-{arch}.json"
            if not manifest.exists():
                continue
            doc = json.loads(manifest.read_text("utf-8"))
            for pkg in sorted(doc["packages"].values(), key=lambda p: p["package"]):
                if projects is not None and pkg["project"] not in projects:
                    continue
                base = root / pkg["dir"]
                count = 0
                for p in sorted(base.rglob("*")):
                    rel = "/" + str(p.relative_to(base))
                    if p.is_symlink() or not p.is_file() or any(s in rel for s in _SKIP_PATHS):
                        continue
                    try:
                        with p.open("rb") as fh:
                            if fh.read(4) != b"\x7fELF":
                                continue
                    except OSError:
                        continue
                    count += 1
                    if count > MAX_FILES_PER_STATE:
                        break
                    yield FileRec(f"{release}-{arch}", release, pkg["project"], pkg["package"], pkg["version"],
                                  p, rel)


def _head(path: Path) -> bytes:
    """The bytes of a file the miner reads (the first :data:`MAX_FILE_BYTES`)."""
    with path.open("rb") as fh:
        return fh.read(MAX_FILE_BYTES)


def file_strings(path: Path) -> set[bytes]:
    """The printable strings of a file (bounded in count by :data:`MAX_FILE_BYTES`)."""
    return set(_STRINGS.findall(_head(path)))


def _standalone_short(data: bytes, version: bytes) -> bool:
    """Whether ``version``, shorter than :data:`MIN_STRING`, stands alone as a printable string of
    ``data`` (coreutils' ``9.7``): the strings :func:`file_strings` keeps are too long to show it."""
    return re.search(rb"(?<![\x20-\x7e])" + re.escape(version) + rb"(?![\x20-\x7e])", data) is not None


def _version_at(s: bytes, version: bytes) -> Iterator[int]:
    """Offsets where ``version`` stands in ``s`` as a whole version (no digit or ``.digit`` around)."""
    start = 0
    while True:
        i = s.find(version, start)
        if i < 0:
            return
        j = i + len(version)
        before_ok = i == 0 or not (s[i - 1:i].isdigit() or (s[i - 1:i] == b"." and i >= 2 and s[i - 2:i - 1].isdigit()))
        after_ok = j == len(s) or not (s[j:j + 1].isdigit() or (s[j:j + 1] == b"." and s[j + 1:j + 2].isdigit()))
        if before_ok and after_ok:
            yield i
        start = i + 1


def templates(s: bytes, version: bytes) -> set[tuple[bytes, bytes]]:
    """The (before, after) cuts of ``s`` around ``version``, trimmed to a few lengths.

    >>> sorted(templates(b"tcpdump version 4.99.5", b"4.99.5"))[:2]
    [(b'\\x00tcpdump version ', b'\\x00'), (b'sion ', b'\\x00')]
    """
    out: set[tuple[bytes, bytes]] = set()
    for i in _version_at(s, version):
        before, after = s[:i], s[i + len(version):]
        if _REVISION_AFTER.match(after):
            continue
        # the string's own ends are NUL-delimited in the binary: keep that as a literal
        b_full = before[-MAX_BEFORE:] if len(before) > MAX_BEFORE else b"\x00" + before
        a_full = after[:MAX_AFTER] if len(after) > MAX_AFTER else after + b"\x00"
        for b in {b_full, b_full[-12:], b_full[-5:]}:
            for a in {a_full, a_full[:8], a_full[:1]}:
                out.add((b, a))
    return out


def version_shape(versions: Iterable[str], *, parts_seen: bool = False) -> str:
    """A regex for the versions seen (the ``v`` group's body), generalised beyond them: any count of
    dotted numbers from two to four, and the non-numeric tails seen (``p1`` of OpenSSH) with their
    digits generalised.

    With ``parts_seen`` (the shape of a bare-version hint), only the counts of dotted numbers seen:
    a bare string has no text around it that tells the project's version from an address or another
    library's version (``127.0.0.1`` beside rsyslog's ``8.2504.0``, zlib's ``1.2.11`` beside
    elfutils' ``0.183``).

    >>> print(version_shape(["5.4.6", "5.3.3"]))
    \\d+(?:\\.\\d+){1,3}
    >>> print(version_shape(["8.4p1", "10.0p1"]))
    \\d+(?:\\.\\d+){1,3}(?:p\\d+)
    >>> print(version_shape(["8.2102.0", "8.2504.0"], parts_seen=True))
    \\d+(?:\\.\\d+){2}
    >>> print(version_shape(["7.5.1", "10.3"], parts_seen=True))
    \\d+(?:\\.\\d+){1,2}
    """
    tails: set[str] = set()
    others: set[str] = set()
    dots: set[int] = set()
    for v in versions:
        m = re.fullmatch(r"(\d+(?:\.\d+)+)(.*)", v)
        if m is None:
            others.add(re.sub(r"\d+", lambda _m: r"\d+", re.escape(v)))
        else:
            dots.add(m.group(1).count("."))
            tails.add(re.sub(r"\d+", lambda _m: r"\d+", re.escape(m.group(2))))
    body = r"\d+(?:\.\d+){1,3}"
    if parts_seen and dots:
        lo, hi = min(dots), max(dots)
        body = r"\d+(?:\.\d+)" + (f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}")
    alts = sorted(t for t in tails if t)
    shape = body + ("(?:" + "|".join(alts) + ")" + ("?" if "" in tails else "") if alts else "")
    if others:
        shape = "|".join([shape, *sorted(others, key=len, reverse=True)]) if tails else "|".join(sorted(others))
    return shape


def _lit(b: bytes) -> str:
    """``b`` as a regex literal in the catalog's text form (non-printable bytes as ``\\xNN``)."""
    out = []
    for ch in b:
        c = chr(ch)
        if ch == 0:
            out.append(r"\x00")
        elif 0x20 <= ch < 0x7f:
            out.append(re.escape(c))
        else:
            out.append(f"\\x{ch:02x}")
    return "".join(out)


def pattern_text(before: bytes, after: bytes, shape: str) -> str:
    """The catalog pattern for one template.

    >>> pattern_text(b"tcpdump version ", b"\\x00", r"\\d+(?:\\.\\d+){1,3}")
    'tcpdump\\\\ version\\\\ (?P<v>\\\\d+(?:\\\\.\\\\d+){1,3})\\\\x00'
    """
    guard_after = "" if after and not after[:1].isdigit() and after[:1] != b"." else r"(?![.]?\d)"
    return f"{_lit(before)}(?P<v>{shape}){guard_after}{_lit(after)}"


@dataclass
class ProjectMining:
    """What the miner found for one project, before evaluation."""

    project: str
    files: dict[str, int] = field(default_factory=dict)  # release -> ELF files read
    versions: dict[str, set[str]] = field(default_factory=dict)  # release -> upstream versions
    template_files: dict[tuple[bytes, bytes], dict[str, set[str]]] = field(default_factory=dict)
    standalone: dict[str, set[str]] = field(default_factory=dict)  # release -> files with a standalone version
    marker_files: dict[bytes, dict[str, set[str]]] = field(default_factory=dict)
    libraries: set[str] = field(default_factory=set)
    programs: dict[str, set[str]] = field(default_factory=dict)  # program name -> releases
    #: library stem -> release -> (dotted suffix of the file name, the file's upstream version) seen
    name_versions: dict[str, dict[str, set[tuple[str, str]]]] = field(default_factory=dict)


def mine_project(project: Project, files: list[FileRec]) -> ProjectMining:
    """Collect templates, standalone versions, marker candidates, libraries and programs of one project."""
    pm = ProjectMining(project.id)
    marker_counts: dict[bytes, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for f in files:
        pm.files[f.release] = pm.files.get(f.release, 0) + 1
        pm.versions.setdefault(f.release, set()).add(f.version)
        key = f"{f.state}:{f.rel}"
        name = f.rel.rsplit("/", 1)[-1]
        if ".so" in name:
            pm.libraries.add(name)
            nv = _NAME_VERSION.match(name)
            if nv is not None:
                pm.name_versions.setdefault(nv.group(1), {}).setdefault(f.release, set()).add(
                    (nv.group(2), f.version))
        elif "/bin/" in f.rel or "/sbin/" in f.rel or "/libexec/" in f.rel:
            pm.programs.setdefault(name, set()).add(f.release)
        try:
            data = _head(f.path)
        except OSError:
            continue
        strings = set(_STRINGS.findall(data))
        v = f.version.encode()
        if len(v) < MIN_STRING and _standalone_short(data, v):
            pm.standalone.setdefault(f.release, set()).add(key)  # "9.7": shorter than any string kept
        for s in strings:
            if _DISTRO.search(s):
                continue
            if v in s:
                if s == v:
                    pm.standalone.setdefault(f.release, set()).add(key)
                for t in templates(s, v):
                    pm.template_files.setdefault(t, {}).setdefault(f.release, set()).add(key)
            elif len(s) >= 10 and _MARKER_OK.search(s) and not _NOISE.search(s) and not re.search(rb"\d\.\d", s):
                marker_counts[s][f.release].add(key)
    every = set(MINING_RELEASES) & set(pm.files)
    pm.marker_files = {s: dict(r) for s, r in marker_counts.items() if set(r) >= every and every}
    return pm


def candidate_patterns(pm: ProjectMining) -> list[tuple[str, int]]:
    """Pattern texts whose template occurs in every mining release, with their file coverage, best first."""
    every = set(MINING_RELEASES) & set(pm.files)
    if not every:
        return []
    shape = version_shape(sorted(v for vs in pm.versions.values() for v in vs))
    scored: list[tuple[int, int, int, str, frozenset[str]]] = []
    for (before, after), by_rel in pm.template_files.items():
        if not set(by_rel) >= every:
            continue
        literal = len(before.strip(b"\x00")) + len(after.strip(b"\x00"))
        if max(len(before.strip(b"\x00")), len(after.strip(b"\x00"))) < MIN_LITERAL:
            continue
        if not re.search(rb"[A-Za-z]", before + after):
            continue
        cover = frozenset(k for ks in by_rel.values() for k in ks)
        # digits around the version (a build date, a copyright year) rarely survive the next release
        dated = int(bool(re.search(rb"\d", before.strip(b"\x00") + after.strip(b"\x00"))))
        scored.append((len(cover), dated, literal, pattern_text(before, after, shape), cover))
    scored.sort(key=lambda t: (-t[0], t[1], -t[2], t[3]))
    # greedy: each next pattern must add files the chosen ones miss, or be an equally good spare
    chosen: list[tuple[str, int]] = []
    covered: set[str] = set()
    for n, _dated, _lit_len, text, cover in scored:
        if len(chosen) >= MAX_PATTERNS * 3:
            break
        if chosen and cover <= covered and len(chosen) >= 2:
            continue
        chosen.append((text, n))
        covered |= cover
    return chosen


def drop_shared_markers(minings: dict[str, ProjectMining], other_strings: Iterable[tuple[str, set[bytes]]]) -> None:
    """Remove marker candidates found in another project's files (or the development corpus)."""
    owner: dict[bytes, set[str]] = defaultdict(set)
    for pid, pm in minings.items():
        for s in pm.marker_files:
            owner[s].add(pid)
    shared = {s for s, o in owner.items() if len(o) > 1}
    for source, strings in other_strings:
        for s in strings & owner.keys():
            if source not in owner[s]:
                shared.add(s)
    for pm in minings.values():
        for s in list(pm.marker_files):
            if s in shared:
                del pm.marker_files[s]


def candidate_markers(pm: ProjectMining) -> list[str]:
    """Markers that cover the most files (greedy set cover), as catalog regex texts."""
    universe: dict[bytes, set[str]] = {s: {k for ks in r.values() for k in ks} for s, r in pm.marker_files.items()}
    chosen: list[str] = []
    covered: set[str] = set()
    while universe and len(chosen) < MAX_MARKERS * 2:
        s, cover = max(universe.items(), key=lambda kv: (len(kv[1] - covered), _marker_score(kv[0]), kv[0]))
        if not cover - covered:
            break
        chosen.append(_lit(s))
        covered |= cover
        del universe[s]
    return chosen


def _marker_score(s: bytes) -> int:
    # prefer strings that read like the program's own messages over short identifiers
    return min(len(s), 40) + (10 if b" " in s else 0)


#: A library file name: its stem (``lib`` and name words, a word after a ``-`` starting with a letter),
#: then an optional release infix (``-9.16.50-Debian``, ``-9.20.30-1~deb13u1-Debian``, ``-2.4``), then
#: ``.so`` and an optional numeric suffix. The infix is never part of the stem: a rule written from a
#: stem that holds a release would only ever match that release (a memorised version).
_LIBRARY_NAME = re.compile(r"^(lib[\w+.]+?(?:-[A-Za-z][\w+.]*)*)(?:-\d[\w.~+-]*)?\.so(?:\.\d+)*$")


def soname_rules(pm: ProjectMining, taken: Counter[str]) -> list[str]:
    r"""``^libfoo(-<release>)?\.so(\.N)*$`` for each library stem only this project ships.

    >>> pm = ProjectMining("bind9", files={"bullseye": 1, "trixie": 1})
    >>> pm.libraries = {"libisc-9.16.50-Debian.so", "libisc-9.20.30-1~deb13u1-Debian.so", "libgnutls-dane.so.0"}
    >>> rules = soname_rules(pm, Counter({"libisc": 1, "libgnutls-dane": 1}))
    >>> rules
    ['^libgnutls\\-dane(?:-\\d[\\w.~+-]*)?\\.so(?:\\.\\d+)*$', '^libisc(?:-\\d[\\w.~+-]*)?\\.so(?:\\.\\d+)*$']
    >>> [bool(re.match(rules[1], n)) for n in ("libisc-9.18.24.so", "libisc-9.20.30-1-Debian.so", "libiscsi.so.7")]
    [True, True, False]
    """
    stems = set()
    for name in pm.libraries:
        m = _LIBRARY_NAME.match(name)
        if m and taken[m.group(1)] == 1:
            stems.add(m.group(1))
    return sorted(f"^{re.escape(s)}(?:-\\d[\\w.~+-]*)?\\.so(?:\\.\\d+)*$" for s in stems)[:6]


#: A library's real file name with a dotted suffix of two to four numbers: (stem, suffix).
_NAME_VERSION = re.compile(r"^(lib[\w+.-]+?)\.so\.(\d+(?:\.\d+){1,3})$")


def name_version_rules(pm: ProjectMining, taken: Counter[str]) -> list[str]:
    r"""Soname rules reading the version from a library's file name, for the stems where the miner
    proves the name's suffix is the package's upstream version in every file of every mining release.

    The ``v`` group has exactly the counts of dotted numbers seen, so the shorter DT_SONAME
    (``libpcap.so.0.8``) never matches it.

    >>> pm = ProjectMining("libpcap", files={"bullseye": 1, "trixie": 1})
    >>> pm.name_versions = {"libpcap": {"bullseye": {("1.10.0", "1.10.0")}, "trixie": {("1.10.5", "1.10.5")}},
    ...                     "libpcre": {"bullseye": {("8.39", "8.39")}, "trixie": {("8.10", "10.42")}}}
    >>> name_version_rules(pm, Counter({"libpcap": 1, "libpcre": 1}))
    ['^libpcap\\.so\\.(?P<v>\\d+\\.\\d+\\.\\d+)$']
    """
    every = set(MINING_RELEASES) & set(pm.files)
    out = []
    for stem, by_rel in sorted(pm.name_versions.items()):
        owner = _LIBRARY_NAME.match(f"{stem}.so")
        if not every or not set(by_rel) >= every or owner is None or taken[owner.group(1)] != 1:
            continue  # a stem another project also ships says nothing about which project it is
        seen = [pair for rel in every for pair in by_rel[rel]]
        if not all(suffix == version for suffix, version in seen):
            continue
        counts = sorted({suffix.count(".") for suffix, _v in seen})
        shape = (r"\d+" + r"\.\d+" * counts[0] if len(counts) == 1
                 else rf"\d+(?:\.\d+){{{counts[0]},{counts[-1]}}}")
        out.append(rf"^{re.escape(stem)}\.so\.(?P<v>{shape})$")
    return out[:6]


def library_stems(pm: ProjectMining) -> set[str]:
    """The stems of the project's library file names (:data:`_LIBRARY_NAME`)."""
    out = set()
    for name in pm.libraries:
        m = _LIBRARY_NAME.match(name)
        if m:
            out.add(m.group(1))
    return out


def propose(project: Project, pm: ProjectMining, taken: Counter[str]) -> dict[str, Any]:
    """A catalog entry proposal (metadata from ``projects.yaml``, rules from the mining)."""
    meta = project.meta
    entry: dict[str, Any] = {"id": project.id, "name": meta.get("name", project.id)}
    for k in ("vendor", "purl", "cpe", "kind", "network_facing", "aliases"):
        if k in meta:
            entry[k] = meta[k]
    entry["patterns"] = [t for t, _n in candidate_patterns(pm)]
    entry["markers"] = candidate_markers(pm)
    every = set(MINING_RELEASES) & set(pm.files)
    if every and set(pm.standalone) >= every:
        shape = version_shape(sorted(v for vs in pm.versions.values() for v in vs), parts_seen=True)
        entry["version_hints"] = [f"(?P<v>{shape})"]
    entry["sonames"] = soname_rules(pm, taken) + name_version_rules(pm, taken)
    progs = sorted(n for n, rels in pm.programs.items() if set(rels) >= every and len(n) >= 2)
    if meta.get("programs"):
        progs = sorted(set(progs) | set(meta["programs"]))
    if progs:
        entry["programs"] = progs[:80]
    return entry
