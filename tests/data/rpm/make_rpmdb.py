"""Build a tiny rpm database from our own spec files, with Debian's ``rpm``/``rpmbuild``.

Usage: ``python tests/data/rpm/make_rpmdb.py OUTDIR [--bdb] [--fixtures]``

Two packages are built from the specs below (our own, invented content) and installed with
``rpm --justdb`` (sqlite backend) into ``OUTDIR/db/rpmdb.sqlite``. With ``--bdb`` the same
header blobs are also loaded with Berkeley DB's ``db_load`` into hash databases
``OUTDIR/bdb4096/Packages`` and ``OUTDIR/bdb65536/Packages`` (page sizes 4096 and 65536, so the
headers sit on overflow pages and on the hash pages themselves), keyed like rpm's own BDB
backend (4-byte native-order header number; record 0 holds the highest header number).
Debian's rpm reads them with ``--define '_db_backend bdb_ro'``. With ``--fixtures`` the
committed test files are (re)written next to this script. See README.md.
"""

from __future__ import annotations

import argparse
import gzip
import pathlib
import shutil
import sqlite3
import struct
import subprocess

ZLIB_SPEC = """\
Name: zlib
Version: 1.3.1
Release: r0
Summary: ecuscan test package (not the real zlib)
License: Zlib
Vendor: ecuscan tests
Packager: ecuscan tests <tests@example.invalid>
Distribution: ecuscan-test-distro
URL: https://example.invalid/zlib
BuildArch: noarch
%description
Fixture package for ecuscan's rpm database reader.
%install
mkdir -p %{buildroot}/usr/lib %{buildroot}/usr/include
echo not-a-library > %{buildroot}/usr/lib/libz.so.1.3.1
ln -s libz.so.1.3.1 %{buildroot}/usr/lib/libz.so.1
echo header > %{buildroot}/usr/include/zlib.h
%files
/usr/lib/libz.so.1.3.1
/usr/lib/libz.so.1
/usr/include/zlib.h
"""

# A source package (openssl) whose binary subpackage (libssl3) has another name, and an Epoch.
OPENSSL_SPEC = """\
Name: openssl
Epoch: 1
Version: 3.0.15
Release: r2
Summary: ecuscan test package (not the real openssl)
License: Apache-2.0
Vendor: ecuscan tests
BuildArch: noarch
%description
Fixture source package.
%package -n libssl3
Summary: ecuscan test subpackage
%description -n libssl3
Fixture binary package whose name differs from its source package.
%install
mkdir -p %{buildroot}/usr/lib/engines-3 %{buildroot}/etc/ssl
echo not-a-library > %{buildroot}/usr/lib/libssl.so.3
echo not-a-library > %{buildroot}/usr/lib/engines-3/afalg.so
echo conf > %{buildroot}/etc/ssl/openssl.cnf
%files -n libssl3
/usr/lib/libssl.so.3
/usr/lib/engines-3/afalg.so
%config /etc/ssl/openssl.cnf
"""


def build(out: pathlib.Path) -> pathlib.Path:
    """Build both packages and install them into ``out/db`` (sqlite backend); return that directory."""
    out = out.resolve()
    top = out / "top"
    db = out / "db"
    db.mkdir(parents=True, exist_ok=True)
    for name, spec in (("zlib", ZLIB_SPEC), ("openssl", OPENSSL_SPEC)):
        spec_path = out / f"{name}.spec"
        spec_path.write_text(spec)
        subprocess.run(
            ["rpmbuild", "--quiet", "--define", f"_topdir {top}", "--define", "_build_id_links none",
             "-bb", str(spec_path)],
            check=True, capture_output=True)
    rpms = sorted(str(p) for p in (top / "RPMS").rglob("*.rpm"))
    subprocess.run(
        ["rpm", "--define", "_db_backend sqlite", "--dbpath", str(db), "--justdb", "--nodeps",
         "--noscripts", "--ignorearch", "--ignoreos", "-i", *rpms],
        check=True, capture_output=True)
    return db


def db_load_tool() -> str | None:
    """Berkeley DB's loader (Debian package db5.3-util, or db-util's ``db_load``), if installed."""
    return shutil.which("db5.3_load") or shutil.which("db_load")


def to_bdb(sqlite_db: pathlib.Path, out: pathlib.Path, pagesize: int) -> pathlib.Path:
    """Load the header blobs of ``sqlite_db`` into a Berkeley DB hash file ``out/Packages``."""
    tool = db_load_tool()
    if tool is None:
        raise RuntimeError("db_load not found (Debian package: db5.3-util)")
    conn = sqlite3.connect(f"file:{sqlite_db}?mode=ro", uri=True)
    try:
        rows = [(int(h), bytes(b)) for h, b in conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")]
    finally:
        conn.close()
    lines = ["VERSION=3", "format=bytevalue", "type=hash", f"db_pagesize={pagesize}", "HEADER=END"]
    for hnum, blob in [(0, struct.pack("=I", max(h for h, _ in rows))), *rows]:
        lines += [" " + struct.pack("=I", hnum).hex(), " " + blob.hex()]
    lines.append("DATA=END")
    out.mkdir(parents=True, exist_ok=True)
    dump = out / "Packages.dump"
    dump.write_text("\n".join(lines) + "\n")
    target = out / "Packages"
    target.unlink(missing_ok=True)
    subprocess.run([tool, "-f", str(dump), str(target)], check=True, capture_output=True)
    dump.unlink()
    return target


def _gzip(src: pathlib.Path, dst: pathlib.Path) -> None:
    with gzip.GzipFile(dst, "wb", compresslevel=9, mtime=0) as f:
        f.write(src.read_bytes())


def main() -> None:
    """Command-line entry: build into OUTDIR and print the database files made."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("outdir", type=pathlib.Path)
    ap.add_argument("--bdb", action="store_true", help="also write Berkeley DB hash copies")
    ap.add_argument("--fixtures", action="store_true", help="rewrite the committed fixtures")
    args = ap.parse_args()
    if shutil.which("rpmbuild") is None:
        raise SystemExit("rpmbuild not found (Debian package: rpm)")
    db = build(args.outdir) / "rpmdb.sqlite"
    print(db)
    if args.bdb or args.fixtures:
        small = to_bdb(db, args.outdir.resolve() / "bdb4096", 4096)
        large = to_bdb(db, args.outdir.resolve() / "bdb65536", 65536)
        print(small, large)
        if args.fixtures:
            here = pathlib.Path(__file__).resolve().parent
            _gzip(db, here / "rpmdb.sqlite.gz")
            _gzip(small, here / "Packages-bdb4096.gz")
            _gzip(large, here / "Packages-bdb65536.gz")


if __name__ == "__main__":
    main()
