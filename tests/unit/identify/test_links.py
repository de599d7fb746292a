"""Versions from the libraries a file loads, on real ELF files built in the test with gcc.

Three shared objects: ``libdemo.so.1`` names its release ("zlib-like" banner), ``libhelper.so``
is the same project's helper with no version in its bytes, and ``libother.so`` loads a library
of another project. Scanned as a tree, the helper takes the version of the library it loads;
scanned alone it stays version-less; the other project's file gets nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ecuscan.model import EvidenceMethod, Relation, ScanResult
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner
from ecuscan.store import Store

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the shared objects")


def _cc(out: Path, src: str, *flags: str) -> None:
    c = out.parent.parent.parent / (out.name + ".c")  # sources outside the scanned tree
    c.write_text(src)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(out), str(c), "-Wl,--no-as-needed", *flags],
                   check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("linked") / "rootfs"
    lib = root / "usr/lib"
    lib.mkdir(parents=True)
    # zlib's own library (its SONAME is one of zlib's), with zlib's version banner
    _cc(lib / "libz.so.1", 'const char deflate_copyright[] = " deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly '
        'and Mark Adler ";\nconst char *zlibVersion(void) { return deflate_copyright; }\n', "-Wl,-soname,libz.so.1")
    # a library of the same project: defines some of zlib's functions (its code, no version), loads libz.so.1
    src = ('extern const char *zlibVersion(void);\nint deflateEnd(void *s) { return s != 0; }\n'
           'int inflateEnd(void *s) { return s == 0; }\nunsigned long deflateBound(void *s, unsigned long n) '
           '{ return n + 13; }\nconst char *f(void) { return zlibVersion(); }\n')
    _cc(lib / "zhelper.so", src, "-L", str(lib), "-l:libz.so.1")
    # loads libz.so.1 but holds no zlib code itself: uses zlib, gets no zlib version
    _cc(lib / "user.so", 'extern const char *zlibVersion(void);\nconst char *g(void) { return zlibVersion(); }\n',
        "-L", str(lib), "-l:libz.so.1")
    return root


def _zlib(results: list[ScanResult], name: str) -> set[tuple[str | None, Relation]]:
    (r,) = [r for r in results if r.path.endswith(name)]
    return {(c.version, c.relation) for c in r.components if c.id == "zlib"}


def _scan(paths: list[Path], **kw: object) -> list[ScanResult]:
    return [o for o in Scanner(None, options=ScanOptions(**kw)).scan_paths(paths)  # type: ignore[arg-type]
            if isinstance(o, ScanResult)]


def test_helper_takes_the_version_of_the_library_it_loads(tree: Path) -> None:
    results = _scan([tree])
    assert _zlib(results, "libz.so.1") == {("1.2.13", Relation.CONTAINS)}
    assert _zlib(results, "zhelper.so") == {("1.2.13", Relation.CONTAINS)}
    (helper,) = [r for r in results if r.path.endswith("zhelper.so")]
    (z,) = [c for c in helper.components if c.id == "zlib"]
    (ev,) = [e for e in z.evidence if e.method is EvidenceMethod.LINKED_LIBRARY]
    assert ev.text.startswith("libz.so.1 -> ") and ev.text.endswith("zlib 1.2.13")
    assert z.purl.endswith("@1.2.13")
    assert _zlib(results, "user.so") == {(None, Relation.USES)}


def test_alone_the_helper_has_no_version(tree: Path) -> None:
    results = _scan([tree / "usr/lib/zhelper.so"])
    assert _zlib(results, "zhelper.so") == {(None, Relation.CONTAINS)}


def test_without_package_metadata_results_are_stored_apart(tmp_path: Path) -> None:
    """Results made without package metadata, or at another load address, are never served for
    a scan made the default way (and the other way round)."""
    root = tmp_path / "rootfs"
    (root / "usr/lib").mkdir(parents=True)
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "usr/lib/libthing.so.1").write_bytes(b"\x00" * 64 + b"invalid distance too far back\x00" + b"\x00" * 64)
    deb_like = root / "pkgs"
    deb_like.mkdir()
    (root / "var/lib/dpkg/status").write_bytes(
        b"Package: zlib1g\nStatus: install ok installed\nSource: zlib\nVersion: 1:1.3.1-1\n")
    (root / "var/lib/dpkg/info/zlib1g.list").write_bytes(b"/usr/lib/libthing.so.1\n")
    with Store.open(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        def zlib(**kw: object) -> set[str | None]:
            out = [o for o in Scanner(store, options=ScanOptions(**kw)).scan_paths([root])  # type: ignore[arg-type]
                   if isinstance(o, ScanResult) and o.path.endswith("libthing.so.1")]
            return {c.version for c in out[0].components if c.id == "zlib"}
        assert zlib() == {"1.3.1"}
        assert zlib(package_metadata=False) == {None}
        assert zlib() == {"1.3.1"}
        assert ScanOptions(base_address=0x8000000).result_version() != ScanOptions().result_version()


def test_a_services_tools_take_the_one_version_its_tree_names(tmp_path: Path) -> None:
    """scp names no release; ssh in the same tree does. A bundled library copy gets nothing this way."""
    root = tmp_path / "rootfs"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    pad = b"\x00" * 64
    (root / "usr/bin/ssh").write_bytes(pad + b"OpenSSH_9.6p1\x00" + pad)
    (root / "usr/bin/scp").write_bytes(pad + b"Server does not support limits@openssh.com extension\x00" + pad)
    (root / "usr/lib/libz.so.1.3.1").write_bytes(pad + b" inflate 1.3.1 Copyright 1995-2024 Mark Adler \x00" + pad)
    (root / "usr/bin/bootloader.bin").write_bytes(pad + b"invalid distance too far back\x00" + pad)
    results = _scan([root])

    def only(name: str, cid: str) -> set[str | None]:
        (r,) = [r for r in results if r.path.endswith(name)]
        return {c.version for c in r.components if c.id == cid and c.relation is Relation.CONTAINS}

    assert only("scp", "openssh") == {"9.6p1"}
    (scp,) = [r for r in results if r.path.endswith("scp")]
    (ev,) = [e for c in scp.components for e in c.evidence if e.method is EvidenceMethod.SAME_TREE]
    assert ev.text.endswith("usr/bin/ssh: OpenSSH 9.6p1")
    assert only("bootloader.bin", "zlib") == {None}  # zlib is a library: its copies are not assumed alike
    # two releases of the service in one tree: no guess
    (root / "usr/bin/ssh-old").write_bytes(pad + b"OpenSSH_8.4p1\x00" + pad)
    results = _scan([root])
    assert only("scp", "openssh") == {None}
