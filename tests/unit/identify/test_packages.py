"""Package metadata in trees and packages: opkg, Yocto, rpm, Built-Using, bytes-vs-package conflicts.

Every case runs the real scanner over a real directory tree or .deb built in the test, so the
package reader, the ownership lookup and the merge with what the bytes say are all exercised.
"""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.identify.packages import PackageIndex, built_using
from ecuscan.model import EvidenceMethod, Relation, ScanResult
from ecuscan.scan.documentation import is_documentation
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner

CAT = load_catalog()
RPM_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "rpm" / "rpmdb.sqlite.gz"
#: Bytes with zlib's own version banner, and nothing else a signature knows.
ZLIB_1_2_13 = b"\x00" * 256 + b"\x00\x00 inflate 1.2.13 Copyright 1995-2022 Mark Adler \x00" + b"\x00" * 256
UNVERSIONED = b"\x7fnothing-known-here" + bytes(range(256)) * 4


def scan_tree(root: Path) -> dict[str, ScanResult]:
    out = {}
    for o in Scanner(None).scan_paths([root]):
        assert isinstance(o, ScanResult), o
        out[o.path.replace("\\", "/").split(str(root).replace("\\", "/"), 1)[-1].lstrip("/")] = o
    return out


def versions(result: ScanResult, cid: str) -> dict[str | None, set[EvidenceMethod]]:
    return {c.version: {e.method for e in c.evidence} for c in result.components
            if c.id == cid and c.relation is Relation.CONTAINS}


def test_opkg_status_and_file_lists_own_files(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "usr/lib/opkg/info").mkdir(parents=True)
    (root / "usr/lib").mkdir(exist_ok=True)
    (root / "usr/lib/libz.so.1").write_bytes(UNVERSIONED)
    (root / "usr/lib/opkg/status").write_bytes(
        b"Package: libz1\nVersion: 1.3.1-r0\nStatus: install user installed\nArchitecture: cortexa7t2hf-neon\n"
        b"Source: zlib_1.3.1.bb\n\nPackage: removed-thing\nVersion: 9.9\nStatus: deinstall ok not-installed\n")
    (root / "usr/lib/opkg/info/libz1.list").write_bytes(b"/usr/lib/libz.so.1\n")
    results = scan_tree(root)
    assert versions(results["usr/lib/libz.so.1"], "zlib") == {
        "1.3.1": {EvidenceMethod.PACKAGE_METADATA, EvidenceMethod.FILE_NAME}}


def test_yocto_manifest_names_packages_without_owning_files() -> None:
    manifest = b"libz1 cortexa7t2hf_neon 1.3.1-r0\nbusybox cortexa7t2hf_neon 1.36.1-r0\nbad line\n"
    idx = PackageIndex.from_files({"images/core-image-minimal.manifest": manifest}, CAT)
    assert {(p.name, p.version) for p in idx.packages.values()} == {("libz1", "1.3.1-r0"),
                                                                    ("busybox", "1.36.1-r0")}
    assert idx.components_for("/usr/lib/libz.so.1") == ()  # a manifest has no file lists


def test_rpm_database_in_a_tree_gives_files_their_package(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "var/lib/rpm").mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    (root / "var/lib/rpm/rpmdb.sqlite").write_bytes(gzip.decompress(RPM_FIXTURE.read_bytes()))
    (root / "usr/lib/libz.so.1.3.1").write_bytes(UNVERSIONED)
    (root / "usr/lib/unowned.bin").write_bytes(UNVERSIONED)
    results = scan_tree(root)
    z = versions(results["usr/lib/libz.so.1.3.1"], "zlib")
    assert z["1.3.1"] >= {EvidenceMethod.PACKAGE_METADATA}
    assert "zlib" not in {c.id for c in results["usr/lib/unowned.bin"].components}


def test_corrupt_rpm_database_is_reported_and_the_tree_still_scans(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "var/lib/rpm").mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    good = gzip.decompress(RPM_FIXTURE.read_bytes())
    (root / "var/lib/rpm/rpmdb.sqlite").write_bytes(good[: len(good) // 3])
    (root / "usr/lib/libz.so.1").write_bytes(ZLIB_1_2_13)
    results = scan_tree(root)
    db = results["var/lib/rpm/rpmdb.sqlite"]
    assert [d.code for d in db.diagnostics] == ["package-db-unreadable"]
    assert "var/lib/rpm/rpmdb.sqlite" in db.diagnostics[0].message
    assert versions(results["usr/lib/libz.so.1"], "zlib") == {
        "1.2.13": {EvidenceMethod.VERSION_STRING, EvidenceMethod.FILE_NAME}}


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_deb(path: Path, control: str, files: dict[str, bytes]) -> Path:
    """A real .deb (ar archive of debian-binary, control.tar.gz, data.tar.gz) built in the test."""
    parts = [(b"debian-binary", b"2.0\n"), (b"control.tar.gz", tar_gz({"./control": control.encode()})),
             (b"data.tar.gz", tar_gz({"./" + name: data for name, data in files.items()}))]
    out = bytearray(b"!<arch>\n")
    for name, data in parts:
        out += name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"100644".ljust(8)
        out += str(len(data)).encode().ljust(10) + b"`\n" + data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(bytes(out))
    return path


def scan_deb(deb: Path) -> dict[str, ScanResult]:
    out = {}
    for o in Scanner(None).scan_paths([deb]):
        assert isinstance(o, ScanResult), o
        out[o.path.split("!/", 1)[1] if "!/" in o.path else ""] = o
    return out


def test_bytes_that_disagree_with_their_package_are_reported_as_a_conflict(tmp_path: Path) -> None:
    control = "Package: zlib1g\nSource: zlib\nVersion: 1:1.3.1-1\nArchitecture: armhf\n"
    deb = make_deb(tmp_path / "zlib1g.deb", control, {"usr/lib/libz.so.1": ZLIB_1_2_13,
                                                       "usr/lib/agrees.so": UNVERSIONED})
    results = scan_deb(deb)
    lib = results["usr/lib/libz.so.1"]
    # the package database's version is reported, the bytes' evidence stays beside it
    assert versions(lib, "zlib") == {"1.3.1": {EvidenceMethod.PACKAGE_METADATA, EvidenceMethod.VERSION_STRING,
                                               EvidenceMethod.FILE_NAME}}
    (conflict,) = [d for d in lib.diagnostics if d.code == "package-version-conflict"]
    assert "1.2.13" in conflict.message and "1.3.1" in conflict.message
    assert not [d for d in results["usr/lib/agrees.so"].diagnostics if d.code == "package-version-conflict"]


def test_built_using_versions_only_what_the_bytes_show(tmp_path: Path) -> None:
    assert built_using("glibc (= 2.41-12+deb13u4), zlib (= 1:1.3.1-1)") == (
        ("glibc", "2.41-12+deb13u4"), ("zlib", "1:1.3.1-1"))
    control = ("Package: static-tool\nSource: busybox\nVersion: 1:1.37.0-6\n"
               "Built-Using: zlib (= 1:1.3.1-1)\nArchitecture: arm64\n")
    zlib_unversioned = b"\x00" * 64 + b"invalid distance too far back\x00incorrect header check\x00" + b"\x00" * 64
    deb = make_deb(tmp_path / "tool.deb", control, {"bin/static-with-zlib": zlib_unversioned,
                                                     "bin/no-zlib-here": UNVERSIONED})
    results = scan_deb(deb)
    assert versions(results["bin/static-with-zlib"], "zlib") == {
        "1.3.1": {EvidenceMethod.MARKER_STRING, EvidenceMethod.PACKAGE_METADATA}}
    assert versions(results["bin/no-zlib-here"], "zlib") == {}
    assert versions(results["bin/no-zlib-here"], "busybox")  # the owning package still applies


def test_documentation_mentions_are_not_components(tmp_path: Path) -> None:
    changelog = gzip.compress(b"mbedtls (3.6.6-1)\n  * PolarSSL 1.3.0 compatibility dropped\n  QNX 6.5 port\n")
    control = "Package: libmbedcrypto16\nSource: mbedtls\nVersion: 3.6.6-1\nArchitecture: arm64\n"
    deb = make_deb(tmp_path / "m.deb", control, {"usr/share/doc/libmbedcrypto16/changelog.gz": changelog,
                                                 "usr/share/doc/libmbedcrypto16/NEWS": gzip.decompress(changelog)})
    results = scan_deb(deb)
    plain = results["usr/share/doc/libmbedcrypto16/NEWS"]
    assert plain.metadata.get("content") == "documentation (not identified)"
    # its package's word applies to it (as to every file of the package), nothing from its text
    assert {(c.id, c.version) for c in plain.components} == {("mbedtls", "3.6.6")}
    assert {e.method for c in plain.components for e in c.evidence} == {EvidenceMethod.PACKAGE_METADATA}
    # compressed, it is not even unpacked: no member result, nothing identified
    packed = results["usr/share/doc/libmbedcrypto16/changelog.gz"]
    assert packed.metadata.get("content") == "compressed documentation (not unpacked)"
    assert packed.metadata.get("members") == "0"
    assert {(c.id, c.version) for c in packed.components} == {("mbedtls", "3.6.6")}
    assert {e.method for c in packed.components for e in c.evidence} == {EvidenceMethod.PACKAGE_METADATA}
    assert not any(p.startswith("usr/share/doc/libmbedcrypto16/changelog.gz!") for p in results)
    # the same text outside a documentation path is still analysed
    assert is_documentation("usr/share/doc/x/NEWS", b"text") and not is_documentation("etc/banner", b"text")


def test_imported_symbol_name_is_a_use_not_a_marker_of_contained_code() -> None:
    from ecuscan.identify import identify
    from ecuscan.model import Image, ImageFormat, Symbol
    # libnftables imports xtables_init_all from libxtables: the name is in its string table
    data = b"\x00xtables_init_all\x00" + b"\x00" * 64
    img = Image(path="libnftables.so.1", format=ImageFormat.ELF, data=data,
                symbols=(Symbol(name="xtables_init_all", address=None, defined=False),))
    assert {(c.id, c.relation) for c in identify(img, CAT) if c.id == "iptables"} == {("iptables", Relation.USES)}
    own = Image(path="libxtables.so.12", format=ImageFormat.ELF, data=data,
                symbols=(Symbol(name="xtables_init_all", address=0x1000, defined=True),))
    assert ("iptables", Relation.CONTAINS) in {(c.id, c.relation) for c in identify(own, CAT)}


DEMO = Path(__file__).resolve().parents[3] / "firmware"


def test_libgcc_code_signature_finds_the_runtime_in_a_stripped_image(tmp_path: Path) -> None:
    """tcu_app.elf links libgcc's __aeabi_uldivmod; stripped of every symbol, its code still shows."""
    # Only an ARM-capable objcopy can rewrite this ARM image; the host's x86 binutils cannot, so
    # there is no fallback to it (.ci/run installs binutils-arm-none-eabi).
    objcopy = shutil.which("arm-none-eabi-objcopy")
    src = DEMO / "tcu_app.elf"
    if objcopy is None:
        pytest.skip("arm-none-eabi-objcopy (Debian package binutils-arm-none-eabi) is not installed")
    stripped = tmp_path / "tcu_stripped.elf"
    subprocess.run([objcopy, "--strip-all", str(src), str(stripped)], check=True)
    (result,) = [o for o in Scanner(None).scan_paths([stripped]) if isinstance(o, ScanResult)]
    got = versions(result, "libgcc")
    assert len(got) == 1
    version, methods = next(iter(got.items()))
    assert EvidenceMethod.MARKER_STRING in methods
    assert version is not None and version[0].isdigit()  # from the GCC banner in .comment


def test_changelog_gives_a_version_only_to_what_the_bytes_show(tmp_path: Path) -> None:
    """A tree whose dpkg database was removed still has the packages' changelogs."""
    root = tmp_path / "rootfs"
    doc = root / "usr/share/doc/zlib1g"
    doc.mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    (doc / "changelog.Debian.gz").write_bytes(gzip.compress(
        b"zlib (1:1.3.dfsg+really1.3.1-1) unstable; urgency=medium\n\n  * New upstream.\n"))
    zlib_unversioned = b"\x00" * 64 + b"invalid distance too far back\x00incorrect header check\x00" + b"\x00" * 64
    (root / "usr/lib/libz-static-user.so").write_bytes(zlib_unversioned)
    (root / "usr/lib/other.bin").write_bytes(UNVERSIONED)
    (root / "usr/lib/zlib-1.2.13-copy.bin").write_bytes(ZLIB_1_2_13)
    results = scan_tree(root)
    assert versions(results["usr/lib/libz-static-user.so"], "zlib") == {
        "1.3.1": {EvidenceMethod.MARKER_STRING, EvidenceMethod.PACKAGE_METADATA}}
    assert versions(results["usr/lib/other.bin"], "zlib") == {}
    # a copy whose bytes name their own version keeps it: a changelog owns no files
    assert set(versions(results["usr/lib/zlib-1.2.13-copy.bin"], "zlib")) == {"1.2.13"}
    assert not results["usr/lib/zlib-1.2.13-copy.bin"].diagnostics


def test_changelog_that_is_not_one_is_reported_not_fatal() -> None:
    idx = PackageIndex.from_files({"usr/share/doc/x/changelog.Debian.gz": b"not gzip at all",
                                   "usr/share/doc/y/changelog.Debian": b"free text\n"}, CAT)
    assert set(idx.problems) == {"usr/share/doc/x/changelog.Debian.gz", "usr/share/doc/y/changelog.Debian"}
    assert idx.changelogs == {}


def test_openwrt_ipk_tar_form_is_a_package_with_metadata(tmp_path: Path) -> None:
    """OpenWrt's .ipk is a tar.gz (not an ar archive) of debian-binary, data.tar.gz, control.tar.gz."""
    control = b"Package: zlib\nVersion: 1.2.13-r1\nSource: package/libs/zlib\nArchitecture: arm_cortex-a7\n"
    ipk = tmp_path / "zlib_1.2.13-r1_arm_cortex-a7.ipk"
    ipk.write_bytes(tar_gz({"./debian-binary": b"2.0\n",
                            "./data.tar.gz": tar_gz({"./usr/lib/libz.so.1": UNVERSIONED}),
                            "./control.tar.gz": tar_gz({"./control": control})}))
    results = scan_deb(ipk)
    assert versions(results["usr/lib/libz.so.1"], "zlib") == {
        "1.2.13": {EvidenceMethod.PACKAGE_METADATA, EvidenceMethod.FILE_NAME}}
    # an ordinary tarball that merely holds a file called debian-binary later on is not a package
    plain = tmp_path / "plain.tar.gz"
    plain.write_bytes(tar_gz({"README": b"x", "debian-binary": b"2.0\n", "data.tar.gz": tar_gz({"a": b"b"})}))
    assert "data.tar.gz" in scan_deb(plain)


def test_merged_usr_tree_files_match_their_package_lists(tmp_path: Path) -> None:
    """dpkg lists /bin/mount; on a merged-/usr system the walk finds usr/bin/mount (bin -> usr/bin)."""
    root = tmp_path / "rootfs"
    (root / "usr/bin").mkdir(parents=True)
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    (root / "usr/bin/mount").write_bytes(UNVERSIONED)
    (root / "var/lib/dpkg/status").write_bytes(
        b"Package: mount\nStatus: install ok installed\nSource: util-linux (2.38.1-5)\nVersion: 2.38.1-5+deb12u3\n")
    (root / "var/lib/dpkg/info/mount.list").write_bytes(b"/.\n/bin\n/bin/mount\n")
    results = scan_tree(root)
    assert versions(results["usr/bin/mount"], "util-linux") == {"2.38.1": {EvidenceMethod.PACKAGE_METADATA}}


def test_container_shows_its_members_warnings(tmp_path: Path) -> None:
    control = "Package: zlib1g\nSource: zlib\nVersion: 1:1.3.1-1\nArchitecture: armhf\n"
    deb = make_deb(tmp_path / "zlib1g.deb", control, {"usr/lib/libz.so.1": ZLIB_1_2_13})
    top = scan_deb(deb)[""]
    (summary,) = [d for d in top.diagnostics if d.code == "package-version-conflict"]
    assert summary.message.startswith("1 member(s): usr/lib/libz.so.1")


def test_image_manifest_scanned_as_a_file_lists_its_components(tmp_path: Path) -> None:
    """A Yocto build's image manifest is what a supplier delivers beside the image: its packages."""
    manifest = tmp_path / "core-image-minimal-qemuarm.rootfs.manifest"
    manifest.write_bytes(b"busybox cortexa15t2hf_neon 1.36.1-r0\nlibz1 cortexa15t2hf_neon 1.3.1-r0\n"
                         b"zlib-dev cortexa15t2hf_neon 1.3.1-r0\nbase-files qemuarm 3.0.14-r0\n")
    (result,) = [o for o in Scanner(None).scan_paths([manifest]) if isinstance(o, ScanResult)]
    assert {(c.id, c.version) for c in result.components} == {("busybox", "1.36.1"), ("zlib", "1.3.1")}
    assert all(e.method is EvidenceMethod.PACKAGE_METADATA for c in result.components for e in c.evidence)
    assert result.metadata["content"] == "package database (4 packages)"
    (bytes_only,) = [o for o in Scanner(None, options=ScanOptions(package_metadata=False)).scan_paths([manifest])
                     if isinstance(o, ScanResult)]
    assert bytes_only.components == () and "content" not in bytes_only.metadata


def test_package_evidence_follows_the_tree_not_the_cache(tmp_path: Path) -> None:
    """The store keeps what the bytes say; which package owns a file depends on the tree scanned."""
    from ecuscan.store import Store

    root = tmp_path / "rootfs"
    (root / "usr/lib").mkdir(parents=True)
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "usr/lib/libz.so.1").write_bytes(ZLIB_1_2_13)
    (root / "var/lib/dpkg/status").write_bytes(
        b"Package: zlib1g\nStatus: install ok installed\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n")
    (root / "var/lib/dpkg/info/zlib1g.list").write_bytes(b"/usr/lib/libz.so.1\n")
    with Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}") as store:
        def scan(path: Path) -> ScanResult:
            hits = [o for o in Scanner(store).scan_paths([path])
                    if isinstance(o, ScanResult) and o.path.endswith("libz.so.1")]
            assert len(hits) == 1
            return hits[0]
        alone = scan(root / "usr/lib")  # no package database under this directory
        assert EvidenceMethod.PACKAGE_METADATA not in versions(alone, "zlib")["1.2.13"]
        in_tree = scan(root)  # cached bytes, the tree's package database applied
        assert EvidenceMethod.PACKAGE_METADATA in versions(in_tree, "zlib")["1.2.13"]
        again = scan(root / "usr/lib")
        assert EvidenceMethod.PACKAGE_METADATA not in versions(again, "zlib")["1.2.13"]
