"""The scan orchestrator: trees and root filesystems, package metadata, bad inputs, cache, jobs."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecuscan.cli import main
from ecuscan.model import EvidenceMethod, ScanFailure, ScanOutcome, ScanResult
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner
from ecuscan.store import Store

ZLIB_BANNER = b"\x00\x00 inflate 1.2.13 Copyright 1995-2022 Mark Adler \x00"
DPKG_STATUS = b"""Package: busybox
Status: install ok installed
Architecture: armhf
Version: 1:1.36.1-9
Description: Tiny utilities for small and embedded systems

Package: zlib1g
Status: install ok installed
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime
"""


def make_tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    # busybox without any version string: only the package database can say which version it is
    (root / "bin/busybox").write_bytes(b"\x7fBB-like-bytes-without-version" + bytes(range(256)) * 8)
    (root / "usr/lib/libz.so.1").write_bytes(b"\x00" * 512 + ZLIB_BANNER + b"\x00" * 512)
    (root / "var/lib/dpkg/status").write_bytes(DPKG_STATUS)
    (root / "var/lib/dpkg/info/busybox.list").write_bytes(b"/.\n/bin\n/bin/busybox\n")
    (root / "var/lib/dpkg/info/zlib1g:armhf.list").write_bytes(b"/usr/lib/libz.so.1\n")
    return root


class Counting:
    def __init__(self) -> None:
        self.cached = 0
        self.analysed = 0
        self.total = -1

    def planned(self, total: int) -> None:
        self.total = total

    def finished(self, outcome: ScanOutcome, cached: bool) -> None:
        if cached:
            self.cached += 1
        else:
            self.analysed += 1


def by_name(outcomes: list[ScanOutcome], suffix: str) -> ScanResult:
    hits = [o for o in outcomes if isinstance(o, ScanResult) and o.path.endswith(suffix)]
    assert len(hits) == 1, [o.path for o in outcomes]
    return hits[0]


def comp(result: ScanResult, cid: str) -> tuple[str | None, set[EvidenceMethod]]:
    c = next(c for c in result.components if c.id == cid)
    return c.version, {e.method for e in c.evidence}


def test_directory_tree_files_inherit_their_package(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "rootfs")
    outcomes = list(Scanner(None).scan_paths([root]))
    busybox = by_name(outcomes, "bin/busybox")
    assert comp(busybox, "busybox") == ("1.36.1", {EvidenceMethod.PACKAGE_METADATA})
    libz = by_name(outcomes, "usr/lib/libz.so.1")
    version, methods = comp(libz, "zlib")
    assert version == "1.2.13"
    assert {EvidenceMethod.VERSION_STRING, EvidenceMethod.PACKAGE_METADATA} <= methods


def test_rootfs_tarball_gives_the_same_components(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "rootfs")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(root, arcname=".")
    tgz = tmp_path / "rootfs.tar.gz"
    tgz.write_bytes(buf.getvalue())
    outcomes = list(Scanner(None).scan_paths([tgz]))
    top = outcomes[0]
    assert isinstance(top, ScanResult) and top.parent is None and top.path == str(tgz)
    assert {(c.id, c.version) for c in top.contained()} >= {("busybox", "1.36.1"), ("zlib", "1.2.13")}
    member = by_name(outcomes, "bin/busybox")
    assert member.parent == str(tgz)
    assert comp(member, "busybox") == ("1.36.1", {EvidenceMethod.PACKAGE_METADATA})


def test_bad_file_is_reported_and_the_batch_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "a_truncated.elf"
    bad.write_bytes(b"\x7fELF\x01\x01\x01" + b"\xff" * 9 + b"\x02\x00\x28\x00")  # header cut short
    good = tmp_path / "b_good.bin"
    good.write_bytes(ZLIB_BANNER)
    store = Store.open(f"sqlite:///{tmp_path / 'inv.sqlite'}")
    outcomes = list(Scanner(store).scan_paths([bad, good]))
    failures = [o for o in outcomes if isinstance(o, ScanFailure)]
    assert len(failures) == 1 and failures[0].path == str(bad)
    assert failures[0].reason  # says what is wrong
    assert comp(by_name(outcomes, "b_good.bin"), "zlib")[0] == "1.2.13"
    assert store.count() == 1 and store.check().ok
    store.close()


def test_unchanged_images_come_from_the_store(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "rootfs")
    url = f"sqlite:///{tmp_path / 'inv.sqlite'}"
    with Store.open(url) as store:
        first = Counting()
        list(Scanner(store, observer=first).scan_paths([root]))
        assert first.analysed == first.total == 5 and first.cached == 0
        second = Counting()
        again = list(Scanner(store, observer=second).scan_paths([root]))
        assert second.cached == 5 and second.analysed == 0
        assert comp(by_name(again, "bin/busybox"), "busybox")[0] == "1.36.1"
        third = Counting()
        list(Scanner(store, options=ScanOptions(use_cache=False), observer=third).scan_paths([root]))
        assert third.analysed == 5


def test_worker_processes_give_the_same_results(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "rootfs")
    one = sorted((o.path, o.to_dict()["components"].__repr__()) for o in Scanner(None).scan_paths([root]))
    two = sorted((o.path, o.to_dict()["components"].__repr__())
                 for o in Scanner(None, options=ScanOptions(jobs=2)).scan_paths([root]))
    assert one == two


def test_cli_exit_code_and_json_errors(tmp_path: Path) -> None:
    bad = tmp_path / "broken.hex"
    bad.write_text(":10000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF01\n")  # checksum should be 00
    good = tmp_path / "ok.bin"
    good.write_bytes(ZLIB_BANNER)
    res = CliRunner().invoke(main, ["scan", "--json", "--store", str(tmp_path / "s.sqlite"), str(bad), str(good)])
    assert res.exit_code == 3  # INCOMPLETE: an input named could not be analysed
    import json

    doc = json.loads(res.stdout)
    assert [e["path"] for e in doc["errors"]] == [str(bad)]
    assert "line 1" in doc["errors"][0]["error"]
    assert [r["path"] for r in doc["results"]] == [str(good)]
    assert [(i["stage"], i["source"]) for i in doc["incomplete"]] == [("scan", str(bad))]
    accepted = CliRunner().invoke(main, ["scan", "--json", "--allow-incomplete", "--store", str(tmp_path / "s.sqlite"),
                                         str(bad), str(good)])
    assert accepted.exit_code == 0 and json.loads(accepted.stdout)["errors"] == doc["errors"]


@pytest.mark.parametrize("flag", ["--base-address", "--jobs"])
def test_cli_rejects_bad_numbers(tmp_path: Path, flag: str) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"x")
    res = CliRunner().invoke(main, ["scan", flag, "zz", "--store", str(tmp_path / "s.sqlite"), str(f)])
    assert res.exit_code == 2


def _tar(entries: list[tuple[str, bytes]], links: list[tuple[str, str]] = ()) -> bytes:  # type: ignore[assignment]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def test_refused_members_become_diagnostics(tmp_path: Path) -> None:
    t = tmp_path / "fw.tar"
    t.write_bytes(_tar([("app.bin", ZLIB_BANNER)], links=[("etc/shadow", "../../../etc/shadow")]))
    outcomes = list(Scanner(None).scan_paths([t]))
    top = outcomes[0]
    assert isinstance(top, ScanResult)
    skipped = [d for d in top.diagnostics if d.code == "member-skipped"]
    assert len(skipped) == 1 and "etc/shadow" in skipped[0].message
    assert comp(by_name(outcomes, "app.bin"), "zlib")[0] == "1.2.13"


def test_member_limit_bounds_the_whole_tree(tmp_path: Path) -> None:
    """Nested containers share one budget: 3 archives of 3 files each exceed a tree limit of 8."""
    import dataclasses

    from ecuscan.limits import DEFAULT_LIMITS

    inner = _tar([(f"f{i}.bin", bytes([i]) * 64) for i in range(3)])
    outer = _tar([(f"part{j}.tar", inner) for j in range(3)])
    f = tmp_path / "nested.tar"
    f.write_bytes(outer)
    tight = ScanOptions(limits=dataclasses.replace(DEFAULT_LIMITS, max_members=8))
    outcome = Scanner(None, options=tight).scan_file(f)
    assert isinstance(outcome, ScanFailure)
    assert "max_members" in outcome.reason or "members" in outcome.reason
    roomy = ScanOptions(limits=dataclasses.replace(DEFAULT_LIMITS, max_members=20))
    results = Scanner(None, options=roomy).scan_file(f)
    assert isinstance(results, list) and len(results) == 1 + 3 + 9


@pytest.mark.skipif(__import__("shutil").which("mksquashfs") is None, reason="squashfs-tools not installed")
def test_squashfs_root_filesystem(tmp_path: Path) -> None:
    """A squashfs image made by Debian's mksquashfs, scanned like any root filesystem."""
    import subprocess

    root = make_tree(tmp_path / "rootfs")
    (root / "bin/sh").symlink_to("busybox")  # a link inside the tree: not followed, not an error
    img = tmp_path / "rootfs.squashfs"
    subprocess.run(["mksquashfs", str(root), str(img), "-noappend", "-quiet", "-comp", "xz"], check=True,
                   capture_output=True)
    outcomes = list(Scanner(None).scan_paths([img]))
    top = outcomes[0]
    assert isinstance(top, ScanResult) and top.path == str(img)
    assert {(c.id, c.version) for c in top.contained()} >= {("busybox", "1.36.1"), ("zlib", "1.2.13")}
    assert comp(by_name(outcomes, "bin/busybox"), "busybox") == ("1.36.1", {EvidenceMethod.PACKAGE_METADATA})


def _scan_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ecuscan", "scan", *argv], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parent.parent)


def test_an_input_that_cannot_be_read_is_incomplete_not_a_usage_error(tmp_path: Path) -> None:
    """A FIFO named on the command line is never read (it could block forever): exit 3, and the
    good input beside it is still reported; --allow-incomplete accepts the run; a usage error stays 2."""
    import json
    import os

    fifo = tmp_path / "pipe.bin"
    os.mkfifo(fifo)
    good = tmp_path / "ok.bin"
    good.write_bytes(ZLIB_BANNER)
    store = str(tmp_path / "s.sqlite")
    res = _scan_cli("--json", "--store", store, str(fifo), str(good))
    assert res.returncode == 3, res.stderr
    doc = json.loads(res.stdout)
    assert [e["path"] for e in doc["errors"]] == [str(fifo)] and "not a regular file" in doc["errors"][0]["error"]
    assert [r["path"] for r in doc["results"]] == [str(good)]
    assert "INCOMPLETE" in res.stderr and "Traceback" not in res.stderr
    assert _scan_cli("--allow-incomplete", "--store", store, str(fifo), str(good)).returncode == 0
    assert _scan_cli("--jobs", "0", "--store", store, str(good)).returncode == 2
    assert _scan_cli("--store", store, str(tmp_path / "missing.bin")).returncode == 2  # usage: no such path


def _damaged_store(tmp_path: Path, tree: Path) -> Path:
    """A real SQLite store filled by a scan of ``tree``, then one page in the middle overwritten."""
    from tests.fixtures.sqlite_pages import overwrite_middle_page

    db = tmp_path / "inv.sqlite"
    assert _scan_cli("--store", str(db), str(tree)).returncode == 0
    overwrite_middle_page(db)
    return db


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_damaged_store_costs_the_cache_not_the_scan(tmp_path: Path, jobs: str) -> None:
    """Scan goes on without the store, says so on stderr, prints every result, exits 3 (0 with
    --allow-incomplete). Both a damaged page inside the database and a file that is no database."""
    import json

    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(200):  # distinct files: many pages of results
        (tree / f"f{i:03d}.bin").write_bytes(f"\0inflate 1.2.{i} Copyright 1995-2022 Mark Adler\0".encode() * 40)
    reference = _scan_cli("--json", "--no-cache", "--jobs", jobs, str(tree))
    assert reference.returncode == 0, reference.stderr
    expected = sorted((r["path"], r["sha256"]) for r in json.loads(reference.stdout)["results"])
    assert len(expected) == 200

    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database " * 400)
    for db in (_damaged_store(tmp_path, tree), garbage):
        res = _scan_cli("--json", "--jobs", jobs, "--store", str(db), str(tree))
        assert res.returncode == 3, res.stderr
        assert "Traceback" not in res.stderr
        assert "warning: the store" in res.stderr and "went on without it" in res.stderr, res.stderr
        doc = json.loads(res.stdout)
        assert sorted((r["path"], r["sha256"]) for r in doc["results"]) == expected
        assert not doc["errors"] and [i["stage"] for i in doc["incomplete"]] == ["store"]
        accepted = _scan_cli("--allow-incomplete", "--jobs", jobs, "--store", str(db), str(tree))
        assert accepted.returncode == 0 and "INCOMPLETE" in accepted.stderr, accepted.stderr
