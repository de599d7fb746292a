"""Hand-written catalog entries on real Debian bytes that no other ground truth covered.

The packages are named in ``tests/fixtures/realbytes/debian.yaml`` and fetched (private apt state,
never installed) by ``python -m tests.fixtures.realbytes.fetch`` into ``~/.cache/ecuscan/coverage``
(or ``$ECUSCAN_REALBYTES``); the truth is each package's upstream version as Debian's archive index
states it. Every file the spec lists is scanned with package metadata off (the bytes alone): the entry
must be reported in at least one of them, at the upstream version when the spec says ``exact``, and
never at another version. Skipped with a reason when the packages are not fetched.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecuscan.model import Relation, ScanResult
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner
from tests.fixtures.realbytes.fetch import MANIFEST, ROOT, spec

SPEC = spec()
CASES = [(entry, release, arch) for entry, e in SPEC["entries"].items() for release in SPEC["releases"]
         for arch in e.get("arches", SPEC["arches"])]


def _reported(path: Path, entry: str) -> set[str | None]:
    scanner = Scanner(None, options=ScanOptions(use_cache=False, package_metadata=False))
    got: set[str | None] = set()
    for o in scanner.scan_paths([path]):
        if isinstance(o, ScanResult):
            got |= {c.version for c in o.components if c.id == entry and c.relation is Relation.CONTAINS}
    return got


@pytest.mark.parametrize(("entry", "release", "arch"), CASES, ids=[f"{e}-{r}-{a}" for e, r, a in CASES])
def test_entry_on_debian_package(entry: str, release: str, arch: str, request: pytest.FixtureRequest) -> None:
    import json

    if not MANIFEST.is_file():
        pytest.skip(f"{MANIFEST} absent: python -m tests.fixtures.realbytes.fetch")
    e = SPEC["entries"][entry]
    rows = [r for r in json.loads(MANIFEST.read_text("utf-8")).get(entry, [])
            if r["release"] == release and r["arch"] == arch]
    if not rows:
        pytest.skip(f"no package of {entry} fetched for Debian {release}/{arch} (the release may not have it)")
    if release in e.get("known_wrong", {}):
        request.applymarker(pytest.mark.xfail(reason=e["known_wrong"][release], strict=True))
    checked = 0
    for row in rows:
        root = ROOT / row["dir"]
        files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()
                 and any(re.search(rx, "/" + p.relative_to(root).as_posix()) for rx in e["files"])]
        assert files, f"{row['deb']}: none of {e['files']} in the package"
        for path in files:
            got = _reported(path, entry)
            checked += 1
            assert got, f"{path}: {entry} not reported (truth: {row['package']} {row['debian_version']})"
            if e["exact"]:
                assert got == {row["version"]}, f"{path}: {entry} reported {sorted(map(str, got))}, " \
                                                f"Debian's package is {row['debian_version']} ({row['version']})"
            else:
                assert got <= {None, row["version"]}, f"{path}: {entry} at {sorted(map(str, got))}"
    assert checked


def test_uclibc_ng_built_from_debian_source_package() -> None:
    """uClibc-ng 1.x built from Debian's uclibc-source (its upstream tarball; python -m
    tests.fixtures.realbytes.uclibc): the shared C library gives the release the package names."""
    import json

    from tests.fixtures.realbytes.uclibc import META

    if not META.is_file():
        pytest.skip(f"{META} absent: python -m tests.fixtures.realbytes.uclibc (builds uClibc-ng, a few minutes)")
    meta = json.loads(META.read_text("utf-8"))
    spec = SPEC["source_builds"]["uclibc-ng"]
    lib = ROOT / meta["dir"]
    files = [p for p in sorted(lib.iterdir()) if p.is_file() and not p.is_symlink()
             and any(re.search(rx, "/lib/" + p.name) for rx in spec["files"])]
    assert files, f"no {spec['files']} in {lib}"
    for path in files:
        assert _reported(path, "uclibc-ng") == {meta["version"]}, path


def test_uclibc_ng_release_comes_from_the_banner_of_a_renamed_copy(tmp_path: Path) -> None:
    """The shared C library under its SONAME (``libc.so.0``, no release in the name) still gives the
    release, from its banner ``uClibc-ng release release version 1.0.35.`` (version.c)."""
    import json
    import shutil

    from tests.fixtures.realbytes.uclibc import META

    if not META.is_file():
        pytest.skip(f"{META} absent: python -m tests.fixtures.realbytes.uclibc")
    meta = json.loads(META.read_text("utf-8"))
    (lib,) = sorted((ROOT / meta["dir"]).glob("libuClibc-*.so"))
    copy = tmp_path / "libc.so.0"
    shutil.copyfile(lib, copy)
    assert _reported(copy, "uclibc-ng") == {meta["version"]}


def test_uclibc_ng_libc_is_not_glibc() -> None:
    import json

    from tests.fixtures.realbytes.uclibc import META

    if not META.is_file():
        pytest.skip(f"{META} absent: python -m tests.fixtures.realbytes.uclibc")
    lib = ROOT / json.loads(META.read_text("utf-8"))["dir"]
    for path in sorted(lib.glob("libuClibc-*.so")):
        assert _reported(path, "glibc") == set(), path


def _nuttx_tags() -> list[tuple[str, str]]:
    from tests.fixtures.realbytes.nuttx import TAGS

    return TAGS


@pytest.mark.parametrize(("tag", "version"), _nuttx_tags())
def test_nuttx_simulator_built_from_release_tag(tag: str, version: str) -> None:
    """Apache NuttX's simulator (sim:nsh) built from a release tag with nuttx-apps (python -m
    tests.fixtures.realbytes.nuttx): the NSH greeting gives the release."""
    import json

    from tests.fixtures.realbytes.nuttx import SPEC as NUTTX
    from tests.fixtures.realbytes.nuttx import meta_path

    if not meta_path(tag).is_file():
        pytest.skip(f"{meta_path(tag)} absent: python -m tests.fixtures.realbytes.nuttx {tag} (several minutes)")
    meta = json.loads(meta_path(tag).read_text("utf-8"))
    assert meta["version"] == version
    for name in NUTTX["images"]:
        image = ROOT / meta["dir"] / name
        assert _reported(image, "nuttx") == {version}, image
