"""Release diff of two directory trees (root filesystems): inventory, files, drift, CLI exit code."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ecuscan.catalog import load_catalog
from ecuscan.cli import main
from ecuscan.diff import DriftKind, diff_trees
from ecuscan.model import ScanResult
from ecuscan.scan.pipeline import Scanner

PAD = b"\x00" * 64


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def zlib(version: str) -> bytes:
    return PAD + f" inflate {version} Copyright 1995-2024 Mark Adler \0".encode() + PAD


OLD = {"usr/lib/libz.so.1": zlib("1.2.13"), "usr/bin/tool": PAD + b"plain program\0" + PAD,
       "etc/motd": b"hello\n"}
NEW = {"usr/lib/libz.so.1": zlib("1.3.1"), "usr/bin/tool": PAD + b"plain program\0" + PAD,
       "usr/lib/libmbedtls.so.21": PAD + b"mbed TLS 3.6.2\0" + PAD}


def test_trees_compare_inventories_and_files(tmp_path: Path) -> None:
    old, new = tree(tmp_path / "r1", OLD), tree(tmp_path / "r2", NEW)
    res = [o for o in Scanner(None).scan_paths([old, new]) if isinstance(o, ScanResult)]
    d = diff_trees(str(old), [r for r in res if r.path.startswith(str(old) + "/")],
                   str(new), [r for r in res if r.path.startswith(str(new) + "/")], load_catalog())
    assert [(c.id, c.old_version, c.new_version) for c in d.inventory.changed] == [("zlib", "1.2.13", "1.3.1")]
    assert [(c.id, c.version) for c in d.inventory.added] == [("mbedtls", "3.6.2")]
    assert d.added_files == ("usr/lib/libmbedtls.so.21",) and d.removed_files == ("etc/motd",)
    assert d.changed_files == 1  # libz.so.1; the unchanged tool is not compared
    (f,) = d.files
    assert f.new.endswith("usr/lib/libz.so.1") and [c.new_version for c in f.changed] == ["1.3.1"]
    assert [i.kind for i in d.indicators] == [DriftKind.NETWORK_FACING_NEW] and d.drifted


def test_cli_diff_of_two_trees(tmp_path: Path) -> None:
    old, new = tree(tmp_path / "r1", OLD), tree(tmp_path / "r2", NEW)
    store = f"sqlite:///{tmp_path / 's.sqlite'}"
    res = CliRunner().invoke(main, ["diff", "--store", store, "--json", str(old), str(new)])
    assert res.exit_code == 1, res.output  # new network-facing code: drift of severity warning
    doc = json.loads(res.output)
    assert doc["schema"] == "ecuscan/tree-diff/v1" and doc["drifted"] is True
    assert doc["added_files"] == ["usr/lib/libmbedtls.so.21"] and doc["changed_files"] == 1
    same = CliRunner().invoke(main, ["diff", "--store", store, str(old), str(tree(tmp_path / "r3", OLD))])
    assert same.exit_code == 0 and "no component changes" in same.output
    mixed = CliRunner().invoke(main, ["diff", "--store", store, str(old), str(old / "usr/lib/libz.so.1")])
    assert mixed.exit_code == 2


def test_a_new_warning_about_an_image_is_drift(tmp_path: Path) -> None:
    """A binary replaced by one that disagrees with its package: same components, a new warning."""
    from identify.test_packages import make_deb  # tests/ is on the path: the package tests' .deb builder

    from ecuscan.diff import diff_results
    from ecuscan.model import Severity

    def deb(path: Path, lib: bytes) -> Path:
        return make_deb(path, "Package: zlib1g\nSource: zlib\nVersion: 1:1.2.13-1\n", {"usr/lib/libz.so.1": lib})

    def top(path: Path) -> ScanResult:
        return next(o for o in Scanner(None).scan_paths([path]) if isinstance(o, ScanResult) and o.parent is None)

    good, swapped = top(deb(tmp_path / "a.deb", zlib("1.2.13"))), top(deb(tmp_path / "b.deb", zlib("1.3.1")))
    d = diff_results(good, swapped, load_catalog())
    assert not d.changed  # the package version is reported on both sides
    (i,) = [i for i in d.indicators if i.kind is DriftKind.DIAGNOSTIC_NEW]
    assert i.severity is Severity.WARNING and "package-version-conflict" in i.message and d.drifted
