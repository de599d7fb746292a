"""Distribution advisories on a real Debian 13 tree: a root filesystem built by mmdebstrap (as the rootfs
benchmark builds its own), matched before and after importing the Debian advisories, and again with
``--no-package-metadata``. dpkg itself (``dpkg --compare-versions``) is the oracle for "fixed in the
installed revision".

The tree is built once into ~/.cache/ecuscan/vulns/ (needs mmdebstrap and Debian's mirrors); the test
scans the real dpkg database and os-release of that tree with the real binaries of the packages the
advisories are about (the whole 4700-file tree takes minutes; the figures for it are in the README).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ecuscan.cli import main

from .vulns_helpers import DATA

pytestmark = pytest.mark.slow

ROOTFS_TAR = Path.home() / ".cache/ecuscan/vulns/rootfs-trixie.tar"
PACKAGES = "libxml2,libexpat1,curl,zlib1g"
WANTED = ("usr/lib/os-release", "var/lib/dpkg/status", "var/lib/dpkg/info/")
LIBS = ("libxml2.so.2", "libz.so.1", "libcurl.so.4", "libexpat.so.1", "libc.so.6")


def _rootfs_tar() -> Path:
    if ROOTFS_TAR.is_file():
        return ROOTFS_TAR
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed (needed to build the Debian 13 root filesystem)")
    ROOTFS_TAR.parent.mkdir(parents=True, exist_ok=True)
    partial = ROOTFS_TAR.with_suffix(".partial.tar")
    r = subprocess.run(["mmdebstrap", "--variant=minbase", f"--include={PACKAGES}", "trixie", str(partial),
                        "deb http://deb.debian.org/debian trixie main",
                        "deb http://deb.debian.org/debian-security trixie-security main"],
                       capture_output=True, text=True, timeout=1200, check=False)
    if r.returncode != 0:
        pytest.skip(f"mmdebstrap could not build the tree (no mirror?): {r.stderr[-300:]}")
    partial.rename(ROOTFS_TAR)
    return ROOTFS_TAR


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rootfs")
    with tarfile.open(_rootfs_tar()) as tf:
        members = {m.name.removeprefix("./"): m for m in tf.getmembers()}
        for name, m in members.items():
            keep = name.startswith(WANTED) or (m.isfile() and name.rsplit("/", 1)[-1].startswith(LIBS)
                                               and "/lib/" in name)
            if keep and m.isfile():
                tf.extract(m, root, filter="data")
        # the libraries' links (libxml2.so.2 -> libxml2.so.2.9.14) are not needed: files are scanned
    return root


def _dpkg_ge(installed: str, fixed: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", installed, "ge", fixed], check=False).returncode == 0


def _installed(tree: Path) -> dict[str, str]:
    """source package -> installed version, from the tree's dpkg status (the highest of its binaries)."""
    out: dict[str, str] = {}
    for stanza in (tree / "var/lib/dpkg/status").read_text("utf-8").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " ")
        if "Package" in fields and "Version" in fields:
            out.setdefault(fields.get("Source", fields["Package"]).split(" ")[0], fields["Version"])
    return out


def _match(tree: Path, store: str, *extra: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    r = CliRunner().invoke(main, ["vulns", "match", "--scan", str(tree), "--all", "--json", "--store", store,
                                  *extra])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    return {(f["vuln_id"], f["component"]["id"], f["firmware"]["path"]): f for f in doc["findings"]}


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg (the version oracle) is not installed")
def test_debian_rootfs_before_and_after_the_advisories(tree: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 's.sqlite'}"
    upstream = [str(DATA / "cve5"), str(DATA / "nvd"), str(DATA / "distro" / "cve5")]
    r = CliRunner().invoke(main, ["vulns", "import", *upstream, "--store", store])
    assert r.exit_code == 0, r.output
    before = _match(tree, store)
    assert {k[0] for k, f in before.items() if f["exposed"]} >= {"CVE-2024-25062", "CVE-2018-25032"}
    assert all(f["rule"] == "upstream-range" for f in before.values())

    advisories = sorted((DATA / "distro" / "osv").glob("*.json"))
    r = CliRunner().invoke(main, ["vulns", "import", *map(str, advisories), "--store", store])
    assert r.exit_code == 0, r.output
    after = _match(tree, store)
    installed = _installed(tree)
    checked = 0
    for path in advisories:
        adv = json.loads(path.read_text("utf-8"))
        (cve,) = adv["upstream"]
        pkg = adv["affected"][0]["package"]["name"]
        fixed = adv["affected"][0]["ranges"][0]["events"][1]["fixed"]
        hits = [f for (vid, _c, _p), f in after.items() if vid == cve and f["rule"] == "distro-advisory"]
        assert hits, f"{cve}: no finding decided by {adv['id']}"
        for f in hits:
            assert f["decided_by"] == adv["id"]
            if _dpkg_ge(installed[pkg], fixed):
                assert (f["status"], f["exposed"], f["justification"]) == (
                    "not-affected", False, "fixed by distribution"), f
            else:
                assert f["status"] == "affected" and f["exposed"], f
            checked += 1
    assert checked >= 4
    # every finding no advisory decides keeps its upstream verdict (nothing fixed upstream-only is hidden)
    for key, f in before.items():
        if after[key]["rule"] == "upstream-range":
            assert (after[key]["status"], after[key]["exposed"]) == (f["status"], f["exposed"]), key
            assert "no debian-13 advisory" in after[key]["decision"], after[key]["decision"]
    exposed_before = sum(f["exposed"] for f in before.values())
    exposed_after = sum(f["exposed"] for f in after.values())
    assert exposed_after < exposed_before

    # the same binaries without package metadata: upstream ranges only
    nopkg = _match(tree, store, "--no-package-metadata")
    assert all(f["rule"] == "upstream-range" and f["package"] is None for f in nopkg.values())
    assert any(k[0] == "CVE-2024-25062" and f["exposed"] for k, f in nopkg.items())
