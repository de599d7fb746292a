"""Automotive middleware entries on real bytes: COVESA DLT from Debian, socketcand, vsomeip and the
CommonAPI runtimes built from their real sources, kuksa-client from PyPI.

The bytes come from ``tests/fixtures/automotive/build.py`` (``python -m tests.fixtures.automotive.build``)
under ``$ECUSCAN_AUTOMOTIVE`` (default ``~/.cache/ecuscan/auto``); every test skips, naming the
command, when they are absent. Truths come from outside the catalog: Debian's package version
(upstream part) for DLT, the version each project's build files declare at the tag (``truth.json``,
written by the recipe from ``configure.ac`` / ``CMakeLists.txt``) or the PyPI release.
Entries were written from one release per project (DLT: bullseye and trixie; the others: the
first tag in the recipe's list); the other releases are held out and checked the same way.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecuscan.catalog import load_catalog
from ecuscan.cli import main
from ecuscan.formats import load
from ecuscan.identify import identify
from ecuscan.mining.apt import upstream_version
from ecuscan.model import Component, Relation

ROOT = Path(os.environ.get("ECUSCAN_AUTOMOTIVE") or Path.home() / ".cache" / "ecuscan" / "auto")
BUILT = ROOT / "built"
DEBIAN = ROOT / "root"
RECIPE = "python -m tests.fixtures.automotive.build"
CAT = load_catalog()
#: the entries these tests cover (dlt-daemon lives in components.yaml; the others in
#: ecuscan/catalog/domains/automotive-sources.yaml)
ENTRIES = ("dlt-daemon", "socketcand", "vsomeip", "commonapi", "commonapi-someip", "commonapi-dbus", "kuksa-client",
           "up-python")
DLT_RELEASES = {"bullseye": False, "trixie": False, "sid": True}  # release -> held out
#: DLT's tag v3.0.0 declares `project(automotive-dlt VERSION 3.0.1)` in its CMakeLists.txt, so the
#: library built from it says 3.0.1 (and is named libdlt.so.3.0.1) while Debian calls the release
#: 3.0.0: the upstream build system's version is the truth for what the bytes can say.
DLT_UPSTREAM_DECLARES = {"3.0.0": "3.0.1"}


def _found(comps: tuple[Component, ...] | list[Component], entry: str) -> set[str | None]:
    return {c.version for c in comps if c.id == entry and c.relation is Relation.CONTAINS}


def _elf_files(root: Path) -> Iterator[Path]:
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            with p.open("rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    yield p


# ------------------------------------------------------------------------------------- the entries

@pytest.mark.parametrize("entry", ENTRIES)
def test_entry_has_identity_and_a_version_rule(entry: str) -> None:
    e = CAT.get(entry)
    assert e is not None, entry
    assert e.purl_base.startswith("pkg:") and e.cpes, entry
    assert any("(?P<v>" in p for p in (*e.patterns, *e.sonames)), f"{entry}: no rule that reads a version"


# ---------------------------------------------------------------------------------- DLT (Debian)

def _dlt_trees() -> list[tuple[str, str, Path]]:
    return [(r, a, DEBIAN / f"{r}-{a}") for r in DLT_RELEASES for a in ("arm64", "armhf")]


def _deb_version(pkg_dir: Path) -> str:
    """The upstream version of the .deb unpacked in ``pkg_dir`` (its name is in the extraction marker)."""
    deb = (pkg_dir / ".extracted").read_text().strip()  # <pkg>_<version>_<arch>.deb, ':' written %3a
    return upstream_version(deb.split("_")[1].replace("%3a", ":"))


@pytest.mark.parametrize(("release", "arch", "tree"), _dlt_trees(), ids=[f"{r}-{a}" for r, a, _ in _dlt_trees()])
def test_dlt_library_and_daemon_at_the_package_version(release: str, arch: str, tree: Path) -> None:
    lib = next((p for p in (tree / "libdlt2", tree / "libdlt3") if (p / ".extracted").is_file()), None)
    if lib is None or not (tree / "dlt-daemon" / ".extracted").is_file():
        pytest.skip(f"no DLT packages of Debian {release}/{arch} under {tree} ({RECIPE} debian)")
    version = _deb_version(tree / "dlt-daemon")
    assert _deb_version(lib) == version
    truth = DLT_UPSTREAM_DECLARES.get(version, version)
    libs = [p for p in _elf_files(lib) if p.name.startswith("libdlt.so")]
    daemon = tree / "dlt-daemon" / "usr" / "bin" / "dlt-daemon"
    assert libs and daemon.is_file()
    for path in (*libs, daemon):
        comps = identify(load(path.read_bytes(), str(path)), CAT)
        assert _found(comps, "dlt-daemon") == {truth}, (path, comps)


@pytest.mark.parametrize(("release", "arch", "tree"), _dlt_trees(), ids=[f"{r}-{a}" for r, a, _ in _dlt_trees()])
def test_dlt_clients_use_the_library_and_never_claim_a_wrong_version(release: str, arch: str, tree: Path) -> None:
    pkgs = [tree / p for p in ("dlt-tools", "libdlt-examples") if (tree / p / ".extracted").is_file()]
    if not pkgs:
        pytest.skip(f"no DLT packages of Debian {release}/{arch} under {tree} ({RECIPE} debian)")
    version = _deb_version(pkgs[0])
    truth = DLT_UPSTREAM_DECLARES.get(version, version)
    files = [p for pkg in pkgs for p in _elf_files(pkg)]
    assert len(files) >= 10
    for path in files:
        comps = identify(load(path.read_bytes(), str(path)), CAT)
        assert any(c.id == "dlt-daemon" and c.relation is Relation.USES for c in comps), path
        assert _found(comps, "dlt-daemon") <= {truth}, (path, comps)


# ------------------------------------------------------------------------ built from real sources

def _truths() -> list[tuple[str, Path]]:
    found = sorted(BUILT.glob("*/*/truth.json")) if BUILT.is_dir() else []
    return [(f"{p.parent.parent.name}-{p.parent.name}", p) for p in found]


TRUTHS = _truths()


@pytest.mark.skipif(not TRUTHS, reason=f"nothing built under {BUILT} ({RECIPE})")
@pytest.mark.parametrize("truth_file", [p for _, p in TRUTHS], ids=[i for i, _ in TRUTHS])
def test_built_artefact_gives_the_version_its_sources_declare(truth_file: Path, tmp_path: Path) -> None:
    truth = json.loads(truth_file.read_text())
    entry, version = truth["entry"], truth["version"]
    assert entry in ENTRIES
    out = truth_file.parent
    files = [out / f for f in truth["files"]]
    elf = [f for f in files if f.read_bytes()[:4] == b"\x7fELF"]
    if elf:
        for path in elf:
            comps = identify(load(path.read_bytes(), str(path)), CAT)
            assert _found(comps, entry) == {version}, (path, [(c.id, c.version) for c in comps])
        return
    # a Python distribution: scanned as the installed tree it is, as a user scans it
    res = CliRunner().invoke(main, ["scan", "--json", "--no-cache", "-j", "1", "--store",
                                    str(tmp_path / "inv.sqlite"), str(out)])
    assert res.exit_code == 0, res.output
    found = {c.get("version") for r in json.loads(res.output)["results"] for c in r.get("components", [])
             if c.get("id") == entry and c.get("relation") == "contains"}
    assert version in found and found <= {version, None}, found


def test_each_project_has_a_held_out_release_built() -> None:
    if not TRUTHS:
        pytest.skip(f"nothing built under {BUILT} ({RECIPE})")
    docs = [json.loads(p.read_text()) for _, p in TRUTHS]
    by_entry: dict[str, set[bool]] = {}
    for d in docs:
        by_entry.setdefault(d["entry"], set()).add(d["held_out"])
    assert {e for e, kinds in by_entry.items() if kinds == {False, True}} == set(by_entry)


# ------------------------------------------------------------------------------------ precision

_ANCHOR = re.compile(rb"socketcand|vsomeip|CommonAPI|kuksa|up-python|DLT Package Version")
_OURS = set(ENTRIES)


@pytest.mark.skipif(not TRUTHS, reason=f"nothing built under {BUILT} ({RECIPE})")
def test_no_entry_fires_on_another_projects_artefact() -> None:
    """Every built file and DLT package file yields none of the other entries of this set."""
    owner: list[tuple[Path, str]] = []
    for _, tf in TRUTHS:
        t = json.loads(tf.read_text())
        owner += [(tf.parent / f, t["entry"]) for f in t["files"]]
    for _r, _a, tree in _dlt_trees():
        owner += [(p, "dlt-daemon") for p in _elf_files(tree)] if tree.is_dir() else []
    for path, entry in owner:
        if path.read_bytes()[:4] != b"\x7fELF":
            continue
        comps = identify(load(path.read_bytes(), str(path)), CAT)
        others = {c.id for c in comps if c.relation is Relation.CONTAINS} & (_OURS - {entry})
        assert not others, (path, others)


def test_no_entry_fires_on_the_development_corpus() -> None:
    """Files of the development corpus (Debian trixie packages of other projects) never hold one
    of these components (files naming them are checked; the rest cannot match a literal rule)."""
    corpus = Path.home() / ".cache" / "ecuscan" / "dev-corpus" / "root"
    if not corpus.is_dir():
        pytest.skip(f"no development corpus at {corpus}")
    checked = 0
    for path in _elf_files(corpus):
        data = path.read_bytes()
        if not _ANCHOR.search(data):
            continue
        checked += 1
        comps = identify(load(data, str(path)), CAT)
        wrong = {c.id for c in comps if c.relation is Relation.CONTAINS} & (_OURS - {"dlt-daemon"})
        assert not wrong, (path, wrong)
