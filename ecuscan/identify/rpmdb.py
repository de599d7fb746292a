"""The rpm package database of a root filesystem: installed packages and the files they own.

Formats read (the database file's bytes are handed in; nothing is opened in place):

* ``rpmdb.sqlite`` — rpm >= 4.16's default backend (Fedora 33+, RHEL 9, openSUSE, Yocto with
  ``package-management``), at ``var/lib/rpm/`` or ``usr/lib/sysimage/rpm/``. Table
  ``Packages(hnum INTEGER PRIMARY KEY, blob BLOB)``; each blob is one package header in rpm's
  on-disk "header blob" layout (below). The bytes are loaded into an in-memory SQLite database
  with :meth:`sqlite3.Connection.deserialize` (rpm leaves the file in WAL mode; the copy is
  switched to a rollback journal first, as an in-memory database cannot use a WAL), and every
  statement runs under a work budget so a hostile schema or a looping b-tree cannot hang.
* ``Packages`` — the Berkeley DB *hash* database of rpm < 4.16 (RHEL 7/8, older Yocto): keys are
  4-byte header numbers, values the same header blobs. Read page by page here, without
  libdb: hash pages (type 13 and the older unsorted type 2) and overflow-page chains, in either
  byte order.

Not read: rpm's own ``Packages.db`` (NDB, openSUSE 15.x) — Debian's rpm is built without it, so
there is no real test data to check a reader against; a WAL file left beside ``rpmdb.sqlite``
(rpm checkpoints it on a clean exit); Berkeley DB btree/queue databases, encrypted BDB pages and
BDB duplicate-key pages (rpm never writes them for ``Packages``).

The header blob (the rpm file format's header structure without its 8-byte magic/reserved
prefix): big-endian ``il`` (index entries) and ``dl`` (data bytes), then ``il`` entries of
``tag, type, offset, count`` (4 x 32 bits), then the ``dl``-byte data store. It is parsed here by
hand: the maintained Python library for rpm files (``rpmfile``) reads whole ``.rpm`` files by
scanning for the header magic, which database blobs lack, and does not bound counts or offsets
for untrusted input. Every count and offset is checked against the blob and ``Limits``.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Generator
from dataclasses import dataclass
from enum import Enum

from ..errors import FormatError, LimitExceeded, UnsupportedFormat
from ..limits import DEFAULT_LIMITS, Limits

#: Path globs (fnmatch, relative to the tree root or an archive member path) of rpm databases.
RPMDB_PATTERNS: tuple[str, ...] = (
    "*var/lib/rpm/rpmdb.sqlite", "*usr/lib/sysimage/rpm/rpmdb.sqlite",
    "*var/lib/rpm/Packages", "*usr/lib/sysimage/rpm/Packages",
)


class RpmDbFormat(Enum):
    """The storage backend an rpm database was read from."""

    SQLITE = "sqlite"
    BDB = "bdb"


@dataclass(frozen=True)
class RpmPackage:
    """One installed rpm package, as its header in the database records it."""

    name: str
    version: str
    release: str
    epoch: int | None = None
    arch: str | None = None
    #: Source rpm file name, e.g. ``openssl-3.0.15-r2.src.rpm`` (absent for ``gpg-pubkey``).
    sourcerpm: str | None = None
    license: str | None = None
    vendor: str | None = None
    packager: str | None = None
    distribution: str | None = None
    url: str | None = None
    #: Absolute paths of the files (and directories) the package owns.
    files: tuple[str, ...] = ()

    @property
    def source_name(self) -> str | None:
        """The source package name from :attr:`sourcerpm` (see :func:`source_package_name`)."""
        return source_package_name(self.sourcerpm) if self.sourcerpm else None

    @property
    def evr(self) -> str:
        """``[epoch:]version-release``, rpm's full version string.

        >>> RpmPackage("libssl3", "3.0.15", "r2", epoch=1).evr
        '1:3.0.15-r2'
        """
        head = f"{self.epoch}:" if self.epoch is not None else ""
        return f"{head}{self.version}-{self.release}"


@dataclass(frozen=True)
class RpmDatabase:
    """What :func:`read_rpmdb` read: the packages, and how many headers were unreadable."""

    path: str
    format: RpmDbFormat
    packages: tuple[RpmPackage, ...]
    #: Headers skipped because they were corrupt (the rest of the database is still read).
    skipped: int = 0


def source_package_name(sourcerpm: str) -> str | None:
    """The package name in a source rpm file name (``name-version-release.src.rpm``).

    >>> source_package_name("zlib-1.3.1-r0.src.rpm"), source_package_name("gcc-c++-13.2-1.nosrc.rpm")
    ('zlib', 'gcc-c++')
    >>> source_package_name("garbage") is None
    True
    """
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if sourcerpm.endswith(suffix):
            parts = sourcerpm[: -len(suffix)].rsplit("-", 2)
            return parts[0] if len(parts) == 3 and parts[0] else None
    return None


# --- header blobs -------------------------------------------------------------------------------

_NAME, _VERSION, _RELEASE, _EPOCH = 1000, 1001, 1002, 1003
_DISTRIBUTION, _VENDOR, _LICENSE, _PACKAGER, _URL, _ARCH = 1010, 1011, 1014, 1015, 1020, 1022
_OLDFILENAMES, _SOURCERPM = 1027, 1044
_DIRINDEXES, _BASENAMES, _DIRNAMES = 1116, 1117, 1118
_WANTED = frozenset({_NAME, _VERSION, _RELEASE, _EPOCH, _DISTRIBUTION, _VENDOR, _LICENSE, _PACKAGER,
                     _URL, _ARCH, _OLDFILENAMES, _SOURCERPM, _DIRINDEXES, _BASENAMES, _DIRNAMES})
_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
_MAX_TYPE = 9
#: rpm itself refuses headers with more index entries than this (hdrchkTags).
_MAX_TAGS = 0xFFFF


class _Header:
    """Index of one header blob; values are decoded on demand with bounds checks."""

    def __init__(self, blob: bytes, source: str, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        if len(blob) < 8:
            raise FormatError(f"rpm header of {len(blob)} bytes is truncated", source=source)
        il, dl = struct.unpack_from(">II", blob)
        if not 0 < il <= _MAX_TAGS:
            raise FormatError(f"rpm header claims {il} index entries", source=source)
        if 8 + 16 * il + dl != len(blob):
            raise FormatError(f"rpm header claims {il} entries and {dl} data bytes but is "
                              f"{len(blob)} bytes long", source=source)
        self.blob = blob
        self.base = 8 + 16 * il  # where the data store starts in the blob
        self.dl = dl
        self.entries: dict[int, tuple[int, int, int]] = {}
        for tag, typ, offset, count in struct.iter_unpack(">IIiI", blob[8: 8 + 16 * il]):
            if typ > _MAX_TYPE or not 0 <= offset <= dl:
                raise FormatError(f"rpm header tag {tag} has type {typ} at offset {offset} "
                                  f"(data store is {dl} bytes)", source=source)
            if tag in _WANTED and tag not in self.entries:
                self.entries[tag] = (typ, offset, count)

    def strings(self, tag: int) -> list[str] | None:
        """The string(s) of ``tag`` (STRING, STRING_ARRAY or I18NSTRING), or None if absent."""
        if tag not in self.entries:
            return None
        typ, offset, count = self.entries[tag]
        if typ not in (_STRING, _STRING_ARRAY, _I18NSTRING):
            raise FormatError(f"rpm header tag {tag} has type {typ}, not a string", source=self.source)
        if typ == _STRING:
            count = 1
        # Each string takes at least its NUL byte, so count is bounded by the store size.
        if count == 0 or count > self.dl - offset:
            raise FormatError(f"rpm header tag {tag} claims {count} strings at offset {offset}",
                              source=self.source)
        if count > self.limits.max_document_items:
            raise LimitExceeded(f"rpm header tag {tag} has {count} strings", source=self.source)
        raw = self.blob
        pos, end = self.base + offset, len(raw)
        out: list[str] = []
        for _ in range(1 if typ == _I18NSTRING else count):
            nul = raw.find(b"\0", pos, end)
            if nul < 0:
                raise FormatError(f"rpm header tag {tag}: string runs past the data store", source=self.source)
            out.append(raw[pos:nul].decode("utf-8", "replace"))
            pos = nul + 1
        return out

    def string(self, tag: int) -> str | None:
        """The first string of ``tag``, or None if absent."""
        values = self.strings(tag)
        return values[0] if values else None

    def ints(self, tag: int) -> tuple[int, ...] | None:
        """The INT32 values of ``tag``, or None if absent."""
        if tag not in self.entries:
            return None
        typ, offset, count = self.entries[tag]
        if typ != _INT32 or count == 0 or offset + 4 * count > self.dl:
            raise FormatError(f"rpm header tag {tag}: {count} int32 values of type {typ} at offset "
                              f"{offset} do not fit the data store", source=self.source)
        return struct.unpack_from(f">{count}I", self.blob, self.base + offset)


def parse_header(blob: bytes, *, source: str = "rpm header", limits: Limits = DEFAULT_LIMITS) -> RpmPackage:
    """Decode one rpm header blob (as stored in the database) into an :class:`RpmPackage`.

    Raises :class:`~ecuscan.errors.FormatError` naming ``source`` if the blob is corrupt or
    lacks a name, version or release.
    """
    h = _Header(blob, source, limits)
    name, version, release = h.string(_NAME), h.string(_VERSION), h.string(_RELEASE)
    if not name or version is None or release is None:
        raise FormatError("rpm header has no name, version or release", source=source)
    epochs = h.ints(_EPOCH)
    return RpmPackage(
        name=name, version=version, release=release, epoch=epochs[0] if epochs else None,
        arch=h.string(_ARCH), sourcerpm=h.string(_SOURCERPM), license=h.string(_LICENSE),
        vendor=h.string(_VENDOR), packager=h.string(_PACKAGER), distribution=h.string(_DISTRIBUTION),
        url=h.string(_URL), files=_files(h))


def _files(h: _Header) -> tuple[str, ...]:
    basenames = h.strings(_BASENAMES)
    if basenames is None:  # headers from before rpm 4 carry whole paths
        return tuple(h.strings(_OLDFILENAMES) or ())
    dirnames = h.strings(_DIRNAMES) or []
    indexes = h.ints(_DIRINDEXES) or ()
    if len(indexes) != len(basenames):
        raise FormatError(f"rpm header has {len(basenames)} basenames but {len(indexes)} dirindexes",
                          source=h.source)
    out = []
    for base, i in zip(basenames, indexes):
        if i >= len(dirnames):
            raise FormatError(f"rpm header dirindex {i} is past its {len(dirnames)} dirnames", source=h.source)
        out.append(dirnames[i] + base)
    return tuple(out)


# --- database backends ---------------------------------------------------------------------------

_SQLITE_MAGIC = b"SQLite format 3\x00"
_BDB_HASH_MAGIC = 0x061561
#: SQLite virtual-machine steps allowed per byte of database (plus a fixed allowance): reading
#: every row takes far less; a recursive view or a corrupt looping b-tree runs into it.
_SQL_STEPS_PER_BYTE = 8
_SQL_STEPS_BASE = 20_000_000
_SQL_CHECK_EVERY = 1000


def _sqlite_blobs(path: str, data: bytes, limits: Limits) -> Generator[object, None, None]:
    """Yield the ``blob`` column of ``Packages`` from an in-memory copy of the database."""
    image = bytearray(data)
    if image[18:20] == b"\x02\x02":  # WAL mode: an in-memory copy must use a rollback journal
        image[18:20] = b"\x01\x01"
    budget = [(_SQL_STEPS_BASE + _SQL_STEPS_PER_BYTE * len(data)) // _SQL_CHECK_EVERY]

    def progress() -> int:
        budget[0] -= 1
        return 1 if budget[0] < 0 else 0

    conn = sqlite3.connect(":memory:")
    conn.text_factory = lambda raw: raw.decode("utf-8", "replace")  # hostile schema text is not UTF-8
    try:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, min(limits.max_document_bytes, 1_000_000_000))
        conn.set_progress_handler(progress, _SQL_CHECK_EVERY)
        conn.deserialize(image)  # SQLite takes its own copy
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute("PRAGMA query_only = ON")
        kinds = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE").fetchall()
        if kinds != [("table",)]:
            raise FormatError("SQLite database has no Packages table (not an rpm database)", source=path)
        columns = {str(row[1]).lower() for row in conn.execute("PRAGMA table_info('Packages')")}
        if not {"hnum", "blob"} <= columns:
            raise FormatError(f"rpm Packages table has columns {sorted(columns)}, not hnum and blob",
                              source=path)
        yield from (row[0] for row in conn.execute("SELECT blob FROM Packages"))
    except sqlite3.OperationalError as exc:
        if budget[0] < 0:
            raise LimitExceeded("reading the SQLite database took more work than its size allows",
                                source=path) from exc
        raise FormatError(f"SQLite database is unreadable: {exc}", source=path) from exc
    except sqlite3.Error as exc:
        raise FormatError(f"SQLite database is unreadable: {exc}", source=path) from exc
    except UnicodeDecodeError as exc:  # SQLite's error message quotes schema text that is not UTF-8
        raise FormatError("SQLite database is unreadable: corrupt schema text", source=path) from exc
    finally:
        conn.close()


_P_HASH_UNSORTED, _P_OVERFLOW, _P_HASHMETA, _P_HASH = 2, 7, 8, 13
_H_KEYDATA, _H_OFFPAGE = 1, 3
_PAGE_HEADER = 26


def _bdb_blobs(path: str, data: bytes, limits: Limits) -> Generator[object, None, None]:
    """Yield the values of a Berkeley DB hash database, walking its pages (see module doc)."""
    if len(data) < 512:
        raise FormatError("Berkeley DB file is shorter than one page", source=path)
    order = "<" if struct.unpack_from("<I", data, 12)[0] == _BDB_HASH_MAGIC else ">"
    pagesize, = struct.unpack_from(order + "I", data, 20)
    if pagesize not in {512 << i for i in range(8)} or data[24] != 0 or data[25] != _P_HASHMETA:
        raise FormatError(f"Berkeley DB page size {pagesize}, encryption {data[24]} or meta page type "
                          f"{data[25]} not supported", source=path)
    npages = len(data) // pagesize
    if npages > limits.max_document_items:
        raise LimitExceeded(f"Berkeley DB has {npages} pages", source=path)
    for pgno in range(1, npages):
        page = memoryview(data)[pgno * pagesize:(pgno + 1) * pagesize]
        if page[25] not in (_P_HASH, _P_HASH_UNSORTED):
            continue
        nent, = struct.unpack_from(order + "H", page, 20)
        if _PAGE_HEADER + 2 * nent > pagesize:
            raise FormatError(f"Berkeley DB page {pgno} claims {nent} entries", source=path)
        offsets = struct.unpack_from(f"{order}{nent}H", page, _PAGE_HEADER)
        for i in range(1, nent, 2):  # entries alternate key, value; items are packed from the end
            key_off, off = offsets[i - 1], offsets[i]
            key_end = offsets[i - 2] if i >= 2 else pagesize  # an item ends where the one before starts
            if not _PAGE_HEADER <= off < key_off < key_end <= pagesize:
                raise FormatError(f"Berkeley DB page {pgno} item {i} is out of the page", source=path)
            end = key_off
            if page[key_off] == _H_KEYDATA and bytes(page[key_off + 1: key_end]) == b"\0\0\0\0":
                continue  # header number 0 holds rpm's instance counter, not a header
            if page[off] == _H_KEYDATA:
                yield bytes(page[off + 1: end])
            elif page[off] == _H_OFFPAGE and off + 12 <= end:
                first, total = struct.unpack_from(order + "II", page, off + 4)
                yield _bdb_overflow(path, data, order, pagesize, first, total, limits)
            else:
                yield None


def _bdb_overflow(path: str, data: bytes, order: str, pagesize: int, pgno: int, total: int,
                  limits: Limits) -> bytes | None:
    """Join an overflow-page chain of ``total`` bytes; None if the chain is broken."""
    if total > limits.max_document_bytes:
        raise LimitExceeded(f"Berkeley DB record of {total} bytes", source=path)
    if total > len(data):
        return None
    out = bytearray()
    seen: set[int] = set()
    while pgno and len(out) < total:
        if pgno in seen or (pgno + 1) * pagesize > len(data):
            return None
        seen.add(pgno)
        page = data[pgno * pagesize:(pgno + 1) * pagesize]
        if page[25] != _P_OVERFLOW:
            return None
        nxt, = struct.unpack_from(order + "I", page, 16)
        used, = struct.unpack_from(order + "H", page, 22)
        if used > pagesize - _PAGE_HEADER:
            return None
        out += page[_PAGE_HEADER:_PAGE_HEADER + used]
        pgno = nxt
    return bytes(out) if len(out) == total else None


def read_rpmdb(path: str, data: bytes, limits: Limits = DEFAULT_LIMITS) -> RpmDatabase:
    """Read every package header of an rpm database file (``rpmdb.sqlite`` or BDB ``Packages``).

    ``path`` names the file in messages; the format is recognised from the bytes. A corrupt or
    hostile database raises :class:`~ecuscan.errors.FormatError` (or its subclasses
    ``LimitExceeded`` / ``UnsupportedFormat``) naming ``path``; a single corrupt header is
    skipped and counted in :attr:`RpmDatabase.skipped`.

    >>> read_rpmdb("rpmdb.sqlite", b"not a database")
    Traceback (most recent call last):
    ecuscan.errors.UnsupportedFormat: rpmdb.sqlite: not an rpm database (no SQLite or Berkeley DB hash magic)
    """
    if len(data) > limits.max_document_bytes:
        raise LimitExceeded(f"rpm database of {len(data)} bytes is larger than "
                            f"{limits.max_document_bytes}", source=path)
    blobs: Generator[object, None, None]
    if data.startswith(_SQLITE_MAGIC):
        fmt, blobs = RpmDbFormat.SQLITE, _sqlite_blobs(path, data, limits)
    elif len(data) >= 16 and _BDB_HASH_MAGIC in (struct.unpack_from("<I", data, 12)[0],
                                                 struct.unpack_from(">I", data, 12)[0]):
        fmt, blobs = RpmDbFormat.BDB, _bdb_blobs(path, data, limits)
    else:
        raise UnsupportedFormat("not an rpm database (no SQLite or Berkeley DB hash magic)", source=path)
    packages: list[RpmPackage] = []
    skipped = files = 0
    try:
        for n, blob in enumerate(blobs):
            if n >= limits.max_document_items:
                raise LimitExceeded(f"rpm database has more than {limits.max_document_items} headers",
                                    source=path)
            if not isinstance(blob, bytes | bytearray | memoryview):
                skipped += 1
                continue
            if len(blob) > limits.max_document_bytes:
                raise LimitExceeded(f"rpm header of {len(blob)} bytes", source=path)
            try:
                pkg = parse_header(bytes(blob), source=f"{path} header {n + 1}", limits=limits)
            except LimitExceeded:
                raise
            except FormatError:
                skipped += 1
                continue
            files += len(pkg.files)
            if files > limits.max_document_items:
                raise LimitExceeded(f"rpm database lists more than {limits.max_document_items} files",
                                    source=path)
            packages.append(pkg)
    finally:
        blobs.close()  # closes the in-memory SQLite connection at once, also on errors
    return RpmDatabase(path=path, format=fmt, packages=tuple(packages), skipped=skipped)
