"""Tests of the rpm database reader on real rpm databases and on corrupt/hostile ones."""

from __future__ import annotations

import dataclasses
import fnmatch
import gzip
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecuscan.errors import EcuscanError, FormatError, LimitExceeded, UnsupportedFormat
from ecuscan.identify import rpmdb
from ecuscan.identify.rpmdb import (
    RPMDB_PATTERNS,
    RpmDbFormat,
    RpmPackage,
    parse_header,
    read_rpmdb,
    source_package_name,
)
from ecuscan.limits import DEFAULT_LIMITS

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "rpm"
GENERATOR = DATA / "make_rpmdb.py"
SQLITE_PATH = "var/lib/rpm/rpmdb.sqlite"

ZLIB = RpmPackage(
    name="zlib", version="1.3.1", release="r0", epoch=None, arch="noarch",
    sourcerpm="zlib-1.3.1-r0.src.rpm", license="Zlib", vendor="ecuscan tests",
    packager="ecuscan tests <tests@example.invalid>", distribution="ecuscan-test-distro",
    url="https://example.invalid/zlib",
    files=("/usr/include/zlib.h", "/usr/lib/libz.so.1", "/usr/lib/libz.so.1.3.1"))
LIBSSL = RpmPackage(
    name="libssl3", version="3.0.15", release="r2", epoch=1, arch="noarch",
    sourcerpm="openssl-3.0.15-r2.src.rpm", license="Apache-2.0", vendor="ecuscan tests",
    files=("/etc/ssl/openssl.cnf", "/usr/lib/engines-3/afalg.so", "/usr/lib/libssl.so.3"))


def _fixture(name: str) -> bytes:
    return gzip.decompress((DATA / name).read_bytes())


@pytest.fixture(scope="module")
def sqlite_db() -> bytes:
    return _fixture("rpmdb.sqlite.gz")


@pytest.fixture(scope="module")
def blobs(sqlite_db: bytes) -> list[bytes]:
    conn = sqlite3.connect(":memory:")
    image = bytearray(sqlite_db)
    image[18:20] = b"\x01\x01"
    conn.deserialize(bytes(image))
    out = [bytes(b) for (b,) in conn.execute("SELECT blob FROM Packages ORDER BY hnum")]
    conn.close()
    return out


def _make_sqlite(tmp_path: Path, sql: str, rows: list[tuple[object, ...]] = (), name: str = "x.sqlite") -> bytes:
    path = tmp_path / name
    conn = sqlite3.connect(path)
    conn.executescript(sql)
    if rows:
        conn.executemany("INSERT INTO Packages(hnum, blob) VALUES (?, ?)", rows)
    conn.commit()
    conn.close()
    return path.read_bytes()


# --- real databases --------------------------------------------------------------------------------

def test_committed_sqlite_fixture_reads_every_field(sqlite_db: bytes) -> None:
    db = read_rpmdb(SQLITE_PATH, sqlite_db)
    assert db.format is RpmDbFormat.SQLITE
    assert db.skipped == 0
    assert db.path == SQLITE_PATH
    assert sorted(db.packages, key=lambda p: p.name) == [LIBSSL, ZLIB]
    by_name = {p.name: p for p in db.packages}
    assert by_name["libssl3"].source_name == "openssl"
    assert by_name["libssl3"].evr == "1:3.0.15-r2"
    assert by_name["zlib"].source_name == "zlib"
    assert by_name["zlib"].evr == "1.3.1-r0"
    assert "/usr/lib/libz.so.1.3.1" in by_name["zlib"].files


def test_sqlite_fixture_really_is_wal_mode_as_rpm_leaves_it(sqlite_db: bytes) -> None:
    # rpm writes its sqlite database in WAL mode; the reader must cope without a -wal file.
    assert sqlite_db[18:20] == b"\x02\x02"
    assert sqlite_db.startswith(b"SQLite format 3\x00")


@pytest.mark.parametrize("name", ["Packages-bdb4096.gz", "Packages-bdb65536.gz"])
def test_committed_bdb_fixtures_give_the_same_packages(name: str, sqlite_db: bytes) -> None:
    data = _fixture(name)
    db = read_rpmdb("var/lib/rpm/Packages", data)
    assert db.format is RpmDbFormat.BDB
    assert db.skipped == 0
    assert sorted(db.packages, key=lambda p: p.name) == sorted(read_rpmdb(SQLITE_PATH, sqlite_db).packages,
                                                               key=lambda p: p.name)


def test_bdb_fixtures_cover_overflow_pages_and_on_page_items() -> None:
    small, large = _fixture("Packages-bdb4096.gz"), _fixture("Packages-bdb65536.gz")
    small_types = {small[i * 4096 + 25] for i in range(len(small) // 4096)}
    large_types = {large[i * 65536 + 25] for i in range(len(large) // 65536)}
    assert rpmdb._P_OVERFLOW in small_types  # headers live on overflow pages
    assert rpmdb._P_OVERFLOW not in large_types  # headers sit on the hash page itself
    assert rpmdb._P_HASH in small_types and rpmdb._P_HASH in large_types


def test_patterns_match_rpm_database_locations() -> None:
    def wanted(path: str) -> bool:
        return any(fnmatch.fnmatch(path, pat) for pat in RPMDB_PATTERNS)

    for path in ("var/lib/rpm/rpmdb.sqlite", "rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite",
                 "/var/lib/rpm/Packages", "img.tar!/usr/lib/sysimage/rpm/Packages"):
        assert wanted(path), path
    for path in ("var/lib/dpkg/status", "var/lib/rpm/Name", "var/lib/rpm/rpmdb.sqlite-wal",
                 "usr/share/doc/rpm/Packages.txt"):
        assert not wanted(path), path


def test_source_package_name() -> None:
    assert source_package_name("openssl-3.0.15-r2.src.rpm") == "openssl"
    assert source_package_name("perl-Text-Tabs+Wrap-2013.0523-999.fc38.nosrc.rpm") == "perl-Text-Tabs+Wrap"
    assert source_package_name("zlib.src.rpm") is None
    assert source_package_name("zlib-1.3.1-r0.x86_64.rpm") is None


needs_rpm = pytest.mark.skipif(shutil.which("rpmbuild") is None or shutil.which("rpm") is None,
                               reason="needs rpmbuild and rpm (Debian package: rpm)")


def _rpm_query(dbpath: Path, *args: str, backend: str = "sqlite") -> str:
    return subprocess.run(["rpm", "--define", f"_db_backend {backend}", "--dbpath", str(dbpath), *args],
                          check=True, capture_output=True, text=True).stdout


@needs_rpm
def test_fresh_rpm_database_matches_what_rpm_itself_reports(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), str(tmp_path)], check=True, capture_output=True)
    dbdir = tmp_path / "db"
    db = read_rpmdb(SQLITE_PATH, (dbdir / "rpmdb.sqlite").read_bytes())
    assert db.skipped == 0
    ours = {p.name: p for p in db.packages}
    fmt = "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\t%{VENDOR}\\n"
    theirs = [line.split("\t") for line in _rpm_query(dbdir, "-qa", "--qf", fmt).splitlines()]
    assert sorted(row[0] for row in theirs) == sorted(ours) == ["libssl3", "zlib"]
    for name, epoch, version, release, arch, srpm, lic, vendor in theirs:
        p = ours[name]
        assert (str(p.epoch) if p.epoch is not None else "(none)") == epoch
        assert (p.version, p.release, p.arch, p.sourcerpm, p.license, p.vendor) == \
            (version, release, arch, srpm, lic, vendor)
        assert sorted(p.files) == sorted(_rpm_query(dbdir, "-ql", name).split())
    # same content as the committed fixture (which this generator made)
    assert sorted(db.packages, key=lambda p: p.name) == [LIBSSL, ZLIB]


@needs_rpm
@pytest.mark.skipif(shutil.which("db5.3_load") is None and shutil.which("db_load") is None,
                    reason="needs db_load (Debian package: db5.3-util)")
def test_bdb_database_rpm_reads_is_read_the_same(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), str(tmp_path), "--bdb"], check=True, capture_output=True)
    for sub in ("bdb4096", "bdb65536"):
        dbdir = tmp_path / sub
        theirs = sorted(_rpm_query(dbdir, "-qa", "--qf", "%{NAME} %{EVR}\\n", backend="bdb_ro").split("\n")[:-1])
        db = read_rpmdb("var/lib/rpm/Packages", (dbdir / "Packages").read_bytes())
        assert sorted(f"{p.name} {p.evr}" for p in db.packages) == theirs == ["libssl3 1:3.0.15-r2", "zlib 1.3.1-r0"]


# --- hostile databases -----------------------------------------------------------------------------

def test_non_database_named_rpmdb_sqlite_is_unsupported() -> None:
    with pytest.raises(UnsupportedFormat, match=r"rpmdb\.sqlite: not an rpm database"):
        read_rpmdb(SQLITE_PATH, b"#!/bin/sh\necho hello\n" * 100)
    with pytest.raises(UnsupportedFormat):
        read_rpmdb(SQLITE_PATH, b"")


@pytest.mark.parametrize("cut", [100, 4096, 50_000])
def test_truncated_sqlite_file_is_a_format_error(sqlite_db: bytes, cut: int) -> None:
    with pytest.raises(FormatError, match=SQLITE_PATH):
        read_rpmdb(SQLITE_PATH, sqlite_db[:cut])


def test_sqlite_with_other_schema_is_a_format_error(tmp_path: Path) -> None:
    data = _make_sqlite(tmp_path, "CREATE TABLE Contacts(name TEXT, phone TEXT);")
    with pytest.raises(FormatError, match="no Packages table"):
        read_rpmdb(SQLITE_PATH, data)
    data = _make_sqlite(tmp_path, "CREATE TABLE Packages(id INTEGER, payload BLOB);", name="y.sqlite")
    with pytest.raises(FormatError, match="not hnum and blob"):
        read_rpmdb(SQLITE_PATH, data)


def test_packages_view_is_refused_without_running_it(tmp_path: Path) -> None:
    # An endless recursive view named Packages: refused because it is not a table.
    data = _make_sqlite(tmp_path, """
        CREATE VIEW Packages AS WITH RECURSIVE n(hnum, blob) AS (SELECT 1, x'00'
        UNION ALL SELECT hnum + 1, blob FROM n) SELECT hnum, blob FROM n;""")
    start = time.monotonic()
    with pytest.raises(FormatError, match="no Packages table"):
        read_rpmdb(SQLITE_PATH, data)
    assert time.monotonic() - start < 5


def test_sql_work_budget_stops_a_long_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           blobs: list[bytes]) -> None:
    data = _make_sqlite(tmp_path, "CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob BLOB);",
                        [(i, blobs[0]) for i in range(1, 3000)])
    assert len(read_rpmdb(SQLITE_PATH, data).packages) == 2999
    monkeypatch.setattr(rpmdb, "_SQL_STEPS_BASE", 2000)
    monkeypatch.setattr(rpmdb, "_SQL_STEPS_PER_BYTE", 0)
    with pytest.raises(LimitExceeded, match="more work"):
        read_rpmdb(SQLITE_PATH, data)


def test_corrupt_headers_are_skipped_and_counted(tmp_path: Path, blobs: list[bytes]) -> None:
    good = blobs[0]
    huge_il = struct.pack(">I", 0xFFFFFFFF) + good[4:]
    huge_dl = good[:4] + struct.pack(">I", 0x7FFFFFFF) + good[8:]
    rows = [(1, good), (2, good[: len(good) // 2]), (3, huge_il), (4, huge_dl), (5, "text, not a blob"),
            (6, None), (7, b"")]
    data = _make_sqlite(tmp_path, "CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob BLOB);", rows)
    db = read_rpmdb(SQLITE_PATH, data)
    assert [p.name for p in db.packages] == [parse_header(good).name]
    assert db.skipped == 6


def _patch_entry(blob: bytes, tag: int, *, offset: int | None = None, count: int | None = None) -> bytes:
    il = struct.unpack_from(">I", blob)[0]
    out = bytearray(blob)
    for i in range(il):
        pos = 8 + 16 * i
        if struct.unpack_from(">I", blob, pos)[0] == tag:
            if offset is not None:
                struct.pack_into(">i", out, pos + 8, offset)
            if count is not None:
                struct.pack_into(">I", out, pos + 12, count)
            return bytes(out)
    raise AssertionError(f"tag {tag} not in blob")


@pytest.mark.parametrize(("tag", "offset", "count", "message"), [
    (1000, 0x7FFFFFFF, None, "tag 1000 has type"),              # NAME offset far past the store
    (1000, -8, None, "tag 1000 has type"),                      # negative offset
    (1117, None, 0x7FFFFFFF, "claims 2147483647 strings"),      # BASENAMES count huge
    (1116, None, 0x3FFFFFFF, "do not fit the data store"),      # DIRINDEXES count huge
    (1116, None, 2, "3 basenames but 2 dirindexes"),            # counts disagree
])
def test_hostile_header_fields_are_format_errors(blobs: list[bytes], tag: int, offset: int | None,
                                                 count: int | None, message: str) -> None:
    zlib = next(b for b in blobs if parse_header(b).name == "zlib")
    with pytest.raises(FormatError, match=message):
        parse_header(_patch_entry(zlib, tag, offset=offset, count=count), source="hdr")


def test_dirindex_out_of_range_and_unterminated_string(blobs: list[bytes]) -> None:
    zlib = next(b for b in blobs if parse_header(b).name == "zlib")
    il = struct.unpack_from(">I", zlib)[0]
    entries = {struct.unpack_from(">I", zlib, 8 + 16 * i)[0]: i for i in range(il)}
    _, _, off, _ = struct.unpack_from(">IIiI", zlib, 8 + 16 * entries[1116])
    bad = bytearray(zlib)
    struct.pack_into(">I", bad, 8 + 16 * il + off, 99)
    with pytest.raises(FormatError, match="dirindex 99 is past"):
        parse_header(bytes(bad))
    # the last string of the store loses its NUL: point NAME at the final byte
    last = len(zlib) - 8 - 16 * il - 1
    cut = bytearray(zlib)
    cut[-1] = 0x41
    with pytest.raises(FormatError, match="runs past the data store"):
        parse_header(_patch_entry(bytes(cut), 1000, offset=last))


def test_limits_bound_files_and_size(sqlite_db: bytes) -> None:
    with pytest.raises(LimitExceeded, match="more than 4 files"):
        read_rpmdb(SQLITE_PATH, sqlite_db, dataclasses.replace(DEFAULT_LIMITS, max_document_items=4))
    with pytest.raises(LimitExceeded, match="larger than 1000"):
        read_rpmdb(SQLITE_PATH, sqlite_db, dataclasses.replace(DEFAULT_LIMITS, max_document_bytes=1000))


def test_bdb_corruptions_are_errors_or_skips() -> None:
    data = _fixture("Packages-bdb4096.gz")
    bad_pagesize = bytearray(data)
    struct.pack_into("<I", bad_pagesize, 20, 1000)
    with pytest.raises(FormatError, match="page size 1000,"):
        read_rpmdb("Packages", bytes(bad_pagesize))
    # overflow pages that hold 10 bytes each and chain to themselves: skipped, not looped over
    looped = bytearray(data)
    for pg in range(len(data) // 4096):
        if data[pg * 4096 + 25] == rpmdb._P_OVERFLOW:
            struct.pack_into("<I", looped, pg * 4096 + 16, pg)
            struct.pack_into("<H", looped, pg * 4096 + 22, 10)
    start = time.monotonic()
    db = read_rpmdb("Packages", bytes(looped))
    assert time.monotonic() - start < 5
    assert (len(db.packages), db.skipped) == (0, 2)
    # a hash page claiming more entries than fit
    many = bytearray(data)
    hash_page = next(pg for pg in range(len(data) // 4096) if data[pg * 4096 + 25] == rpmdb._P_HASH)
    struct.pack_into("<H", many, hash_page * 4096 + 20, 0xFFFF)
    with pytest.raises(FormatError, match="claims 65535 entries"):
        read_rpmdb("Packages", bytes(many))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_headers_parse_or_raise_format_error(blobs: list[bytes], data: st.DataObject) -> None:
    blob = bytearray(data.draw(st.sampled_from(blobs)))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    try:
        pkg = parse_header(bytes(blob[:cut] if data.draw(st.booleans()) else blob))
    except FormatError:
        return
    assert isinstance(pkg, RpmPackage) and pkg.name


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20479), st.integers(0, 255)), min_size=1, max_size=12))
def test_mutated_bdb_reads_or_raises_ecuscan_error(edits: list[tuple[int, int]]) -> None:
    data = bytearray(_fixture("Packages-bdb4096.gz"))
    for pos, value in edits:
        data[pos % len(data)] = value
    try:
        db = read_rpmdb("Packages", bytes(data))
    except EcuscanError:
        return
    assert len(db.packages) + db.skipped <= 3


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(100, 60_000), st.integers(0, 255)), min_size=1, max_size=16))
def test_mutated_sqlite_reads_or_raises_ecuscan_error(edits: list[tuple[int, int]]) -> None:
    data = bytearray(_fixture("rpmdb.sqlite.gz"))
    for pos, value in edits:
        data[pos % len(data)] = value
    try:
        db = read_rpmdb(SQLITE_PATH, bytes(data))
    except EcuscanError as exc:
        assert SQLITE_PATH in str(exc)
        return
    assert len(db.packages) + db.skipped <= 2


def test_schema_text_that_is_not_utf8_is_a_format_error(tmp_path: Path) -> None:
    # SQLite quotes the broken schema in its error message; Python cannot decode that message.
    data = bytearray(_make_sqlite(tmp_path, "CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob BLOB);"))
    at = data.index(b"CREATE TABLE")
    data[at + 7: at + 9] = b"\xda\xda"
    with pytest.raises(FormatError, match="corrupt schema text"):
        read_rpmdb(SQLITE_PATH, bytes(data))
