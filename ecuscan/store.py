"""The inventory store: scan results keyed by content hash, path history, vulnerability records.

The one module that knows SQL. SQLAlchemy Core gives one schema and one code path for
SQLite (the default, embedded, WAL mode) and PostgreSQL (a shared team inventory). Each
image is written in one transaction, so a killed process leaves either the whole image
or nothing. The schema is versioned in the ``meta`` table; :func:`Store.open` migrates.

URLs: ``sqlite:///PATH``, ``postgresql://user@host/db`` (psycopg 3), or a bare file path.

The images table is a cache of the analysis of *bytes*: a result is keyed by content hash, and
one found as the member of a container does not replace one analysed as a file of its own
(which :meth:`Store.get_analysis` serves). Writes are batched: :meth:`Store.put_many` writes any
number of results in one transaction with one multi-row statement per table and chunk. A
damaged database gives a :class:`StoreError` that says so (never a driver traceback);
:meth:`Store.check` reports the damage and :meth:`Store.repair` rebuilds an SQLite store from
what can still be read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .errors import StoreError
from .model import ScanResult, Sha256, preferred_cwe_name
from .store_location import default_store_url

SCHEMA_VERSION = 1

_md = sa.MetaData()

meta_t = sa.Table(
    "meta", _md,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

images_t = sa.Table(
    "images", _md,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("scanner_version", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("scanned_at", sa.Float, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
)

paths_t = sa.Table(
    "paths", _md,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("seen_at", sa.Float, nullable=False),
)

vulns_t = sa.Table(
    "vuln_records", _md,
    sa.Column("id", sa.String(128), primary_key=True),  # "<source>:<record id>"
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("record_id", sa.String(96), nullable=False, index=True),
    sa.Column("modified", sa.String(40), nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
)

#: CWE names the imported records gave ("CWE-787" -> "Out-of-bounds Write"), for the records that
#: carry ids only (NVD, OSV). Added after schema 1 without a version change: ``create_all`` adds the
#: table to an existing store, which then learns names from its next ``vulns import`` (and matching
#: also pools the names of the records it reads, so an older store shows them too).
cwe_names_t = sa.Table(
    "cwe_names", _md,
    sa.Column("cwe_id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(400), nullable=False),
    sa.Column("source", sa.String(128), nullable=False),  # the record that gave it: "<source>:<record id>"
)


def _to_url(spec: str) -> str:
    if "://" in spec:
        if spec.startswith("postgresql://"):
            return "postgresql+psycopg://" + spec[len("postgresql://"):]
        return spec
    return "sqlite:///" + str(Path(spec).expanduser())


#: Rows per multi-row INSERT (SQLite allows 32,766 bound parameters per statement; 6 per image row).
_CHUNK = 500
_REPAIR_HINT = "the store is damaged; `ecuscan store check` reports what, `ecuscan store check --repair` rebuilds it"


@contextlib.contextmanager
def _guard(url: str, doing: str) -> Iterator[None]:
    """Database errors (a damaged file, a lost server) become one clear :class:`StoreError`."""
    try:
        yield
    except sa.exc.DatabaseError as exc:
        orig = getattr(exc, "orig", None) or exc
        hint = f" ({_REPAIR_HINT})" if "malformed" in str(orig) or "not a database" in str(orig) else ""
        raise StoreError(f"cannot {doing}: {orig.__class__.__name__}: {str(orig)[:300]}{hint}", source=url) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot {doing}: {exc.__class__.__name__}: {str(exc)[:300]}", source=url) from exc


def _parse(doc: str, sha: str, url: str) -> ScanResult:
    try:
        return ScanResult.from_dict(json.loads(doc))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"stored result of image {sha} is unreadable ({exc.__class__.__name__}); {_REPAIR_HINT}",
                         source=url) from exc


@dataclass(frozen=True)
class RepairReport:
    """What :meth:`Store.repair` kept and lost, per table, and where the damaged file went."""

    kept: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    backup: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class IntegrityReport:
    """Result of :meth:`Store.check`: problems found (empty means the store is sound)."""

    images: int
    paths: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


class Store:
    """Inventory of scan results. Open with :meth:`open`; close with :meth:`close`."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, spec: str | None = None) -> Store:
        """Open (and create or migrate) the store at ``spec`` (URL or path)."""
        spec = spec or default_store_url()
        url = _to_url(spec)
        try:
            if url.startswith("sqlite:///"):
                path = Path(url[len("sqlite:///"):])
                path.parent.mkdir(parents=True, exist_ok=True)
                engine = sa.create_engine(url, connect_args={"timeout": 60})

                @sa.event.listens_for(engine, "connect")
                def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
                    cur = dbapi_conn.cursor()
                    cur.execute("PRAGMA journal_mode=WAL")
                    cur.execute("PRAGMA synchronous=NORMAL")
                    cur.execute("PRAGMA busy_timeout=60000")
                    cur.close()
            else:
                engine = sa.create_engine(url, pool_pre_ping=True)
            store = cls(engine, spec)
            store._migrate()
            return store
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open store: {exc.__class__.__name__}: {exc}", source=spec) from exc
        except OSError as exc:
            raise StoreError(f"cannot open store: {exc}", source=spec) from exc

    def _migrate(self) -> None:
        # Two processes opening a new store at once both try to create the tables; the loser
        # sees "already exists" and simply tries again (then finds them).
        for attempt in range(5):
            try:
                _md.create_all(self.engine, checkfirst=True)
                break
            except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(meta_t.c.value).where(meta_t.c.key == "schema_version")).first()
            if row is None:
                try:
                    conn.execute(meta_t.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
                except sa.exc.IntegrityError:
                    pass  # another process created it at the same moment
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(f"store schema {row[0]} is newer than this ecuscan ({SCHEMA_VERSION})",
                                 source=self.url)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scan results -------------------------------------------------------------------

    def get(self, sha256: str, scanner_version: str | None = None) -> ScanResult | None:
        """The stored result for this content hash (and scanner version, when given); a stored
        document that no longer parses is a miss (the next scan replaces it)."""
        q = sa.select(images_t.c.result, images_t.c.scanner_version).where(images_t.c.sha256 == sha256)
        with _guard(self.url, "read the store"), self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None or (scanner_version is not None and row[1] != scanner_version):
            return None
        try:
            return _parse(row[0], sha256, self.url)
        except StoreError:
            return None

    def get_analysis(self, sha256: str, scanner_version: str, path: str) -> ScanResult | None:
        """The cached analysis of these bytes as a file of their own, shown at ``path``.

        A result stored as the member of a container is no answer: its path, parent and package
        evidence came from that container (a direct scan of the same bytes analyses them).
        """
        top = self.get(sha256, scanner_version)
        if top is None or top.parent is not None:
            return None
        return top if top.path == path else dataclasses.replace(top, path=path)

    def put(self, result: ScanResult) -> None:
        """Store one result (and the path it was seen at) in one transaction; replaces older ones."""
        self.put_many([result])

    def put_many(self, results: Iterable[ScanResult], touched: Iterable[tuple[str, str]] = ()) -> None:
        """Store results (and paths seen holding known hashes, ``touched``) in one transaction,
        with one multi-row statement per table and chunk of rows.

        A result whose ``parent`` is set (a container member) replaces a stored result of the same
        bytes only when that one is from another scanner version or is itself a member result:
        the analysis of a file of its own is kept.
        """
        now = time.time()
        top: dict[str, dict[str, Any]] = {}
        members: dict[str, dict[str, Any]] = {}
        paths: dict[str, dict[str, Any]] = {}
        for result in results:
            row = {"sha256": result.sha256, "scanner_version": result.scanner_version, "size": result.size,
                   "format": result.format.value, "scanned_at": now,
                   "result": json.dumps(result.to_dict(), sort_keys=True)}
            (members if result.parent is not None else top)[result.sha256] = row
            paths[result.path] = {"path": result.path, "sha256": result.sha256, "seen_at": now}
        for path, sha in touched:
            paths[path] = {"path": path, "sha256": sha, "seen_at": now}
        for sha in top:
            members.pop(sha, None)
        with _guard(self.url, "store results"), self.engine.begin() as conn:
            self._upsert_rows(conn, images_t, ["sha256"], list(members.values()), members_only=True)
            self._upsert_rows(conn, images_t, ["sha256"], list(top.values()))
            self._upsert_rows(conn, paths_t, ["path"], list(paths.values()))

    def touch_path(self, path: str, sha256: str) -> None:
        """Record that ``path`` was seen holding ``sha256`` (a cached rescan)."""
        self.put_many([], [(path, sha256)])

    def for_path(self, path: str) -> ScanResult | None:
        """The result last recorded for ``path``."""
        q = (sa.select(images_t.c.result, images_t.c.sha256)
             .select_from(paths_t.join(images_t, paths_t.c.sha256 == images_t.c.sha256))
             .where(paths_t.c.path == path))
        with _guard(self.url, "read the store"), self.engine.connect() as conn:
            row = conn.execute(q).first()
        return _parse(row[0], row[1], self.url) if row else None

    def results(self) -> Iterator[ScanResult]:
        """Every stored result, by hash (:class:`StoreError` on a damaged store or document)."""
        with _guard(self.url, "read the store"), self.engine.connect() as conn:
            q = sa.select(images_t.c.result, images_t.c.sha256).order_by(images_t.c.sha256)
            for doc, sha in conn.execute(q):
                yield _parse(doc, sha, self.url)

    def hashes(self) -> set[Sha256]:
        """The content hashes held."""
        with _guard(self.url, "read the store"), self.engine.connect() as conn:
            return {Sha256(r[0]) for r in conn.execute(sa.select(images_t.c.sha256))}

    def count(self) -> int:
        """Number of stored image results."""
        with _guard(self.url, "read the store"), self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(images_t)).scalar_one())

    def check(self) -> IntegrityReport:
        """Integrity check: the database's own check (SQLite) plus every stored document parses
        and matches its key; every path points at a stored image. Damage the database itself
        reports (a malformed page) is a problem in the report, not an exception."""
        problems: list[str] = []
        n_images = n_paths = 0
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                try:
                    rows = [r[0] for r in conn.execute(sa.text("PRAGMA integrity_check(20)"))]
                except sa.exc.DatabaseError as exc:
                    rows = [f"cannot run: {getattr(exc, 'orig', exc)}"]
                if rows != ["ok"]:
                    problems.extend(f"sqlite integrity_check: {str(r)[:300]}" for r in rows)
            try:
                for sha, doc in conn.execute(sa.select(images_t.c.sha256, images_t.c.result)):
                    n_images += 1
                    try:
                        r = ScanResult.from_dict(json.loads(doc))
                    except (ValueError, KeyError, TypeError, AttributeError) as exc:
                        problems.append(f"image {sha}: unreadable result ({exc.__class__.__name__}: {str(exc)[:100]})")
                        continue
                    if r.sha256 != sha:
                        problems.append(f"image {sha}: result is for {r.sha256}")
                dangling = conn.execute(
                    sa.select(sa.func.count()).select_from(paths_t)
                    .where(~paths_t.c.sha256.in_(sa.select(images_t.c.sha256)))).scalar_one()
                n_paths = int(conn.execute(sa.select(sa.func.count()).select_from(paths_t)).scalar_one())
                if dangling:
                    problems.append(f"{dangling} path(s) point at no stored image")
                conn.execute(sa.select(sa.func.count()).select_from(vulns_t)).scalar_one()
                for (doc,) in conn.execute(sa.select(vulns_t.c.doc)):
                    json.loads(doc)
            except sa.exc.DatabaseError as exc:
                problems.append(f"reading the tables failed after {n_images} image(s): "
                                f"{str(getattr(exc, 'orig', exc))[:300]}")
            except ValueError as exc:
                problems.append(f"a vulnerability record is unreadable: {exc}")
        return IntegrityReport(images=n_images, paths=n_paths, problems=tuple(problems))

    def repair(self) -> RepairReport:
        """Rebuild the store from what can still be read; report what was kept and lost.

        SQLite: every row that reads back and (for images) parses and matches its hash is copied
        into a new database file, which replaces the damaged one; the damaged file is kept beside
        it as ``<name>.damaged-<time>``. Rows are read in chunks by rowid and one by one inside a
        chunk that fails, so one bad page costs only its own rows. PostgreSQL: the server keeps its
        own pages; unreadable image documents and dangling paths are deleted.
        Lost images are only a cache (the next scan analyses those files again); lost
        vulnerability records must be imported again (``ecuscan vulns import``).
        """
        if self.engine.dialect.name != "sqlite":
            return self._repair_rows()
        src = Path(self.engine.url.database or "")
        kept: dict[str, int] = {}
        lost: dict[str, int] = {}
        salvaged: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for table in (images_t, paths_t, vulns_t, cwe_names_t, meta_t):
                rows, bad = _salvage(conn, table)
                if table is images_t:
                    good = []
                    for row in rows:
                        try:
                            ok = ScanResult.from_dict(json.loads(row["result"])).sha256 == row["sha256"]
                        except (ValueError, KeyError, TypeError, AttributeError):
                            ok = False
                        if ok:
                            good.append(row)
                        else:
                            bad += 1
                    rows = good
                elif table is vulns_t:
                    good = []
                    for row in rows:
                        try:
                            json.loads(row["doc"])
                            good.append(row)
                        except ValueError:
                            bad += 1
                    rows = good
                salvaged[table.name] = rows
                kept[table.name], lost[table.name] = len(rows), bad
        shas = {r["sha256"] for r in salvaged["images"]}
        dangling = [r for r in salvaged["paths"] if r["sha256"] not in shas]
        salvaged["paths"] = [r for r in salvaged["paths"] if r["sha256"] in shas]
        kept["paths"] -= len(dangling)
        lost["paths"] += len(dangling)
        self.engine.dispose()
        fresh = src.with_name(src.name + ".rebuilt")
        for p in (fresh, Path(str(fresh) + "-wal"), Path(str(fresh) + "-shm")):
            p.unlink(missing_ok=True)
        new = Store.open(str(fresh))
        try:
            with _guard(str(fresh), "write the rebuilt store"), new.engine.begin() as conn:
                conn.execute(meta_t.delete())
                for table in (meta_t, images_t, paths_t, vulns_t, cwe_names_t):
                    rows = salvaged[table.name]
                    for i in range(0, len(rows), _CHUNK):
                        conn.execute(table.insert(), rows[i:i + _CHUNK])
                if not salvaged["meta"]:
                    conn.execute(meta_t.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            with new.engine.connect() as conn:
                conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        finally:
            new.close()
        backup = src.with_name(f"{src.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            old = Path(str(src) + suffix)
            if old.exists():
                old.rename(Path(str(backup) + suffix))
        fresh.rename(src)
        for suffix in ("-wal", "-shm"):
            Path(str(fresh) + suffix).unlink(missing_ok=True)
        self.engine = Store.open(str(src)).engine
        notes = []
        if lost.get("images"):
            notes.append(f"{lost['images']} cached image result(s) lost: the next scan analyses those files again")
        if lost.get("vuln_records"):
            notes.append(f"{lost['vuln_records']} vulnerability record(s) lost: run `ecuscan vulns import` again")
        return RepairReport(kept=kept, lost=lost, backup=str(backup), notes=tuple(notes))

    def _repair_rows(self) -> RepairReport:
        """Repair on a server database: delete unreadable image documents and dangling paths."""
        bad: list[str] = []
        with _guard(self.url, "repair the store"), self.engine.begin() as conn:
            total = 0
            for sha, doc in conn.execute(sa.select(images_t.c.sha256, images_t.c.result)):
                total += 1
                try:
                    if ScanResult.from_dict(json.loads(doc)).sha256 != sha:
                        bad.append(sha)
                except (ValueError, KeyError, TypeError, AttributeError):
                    bad.append(sha)
            for i in range(0, len(bad), _CHUNK):
                conn.execute(images_t.delete().where(images_t.c.sha256.in_(bad[i:i + _CHUNK])))
            gone = conn.execute(paths_t.delete().where(~paths_t.c.sha256.in_(sa.select(images_t.c.sha256))))
        notes = (f"{len(bad)} cached image result(s) lost: the next scan analyses those files again",) if bad else ()
        return RepairReport(kept={"images": total - len(bad)}, lost={"images": len(bad), "paths": gone.rowcount},
                            notes=notes)

    # --- vulnerability records -----------------------------------------------------------

    def put_vuln_record(self, source: str, record_id: str, modified: str, doc: dict[str, Any]) -> str:
        """Insert or update a feed record; returns ``added``, ``updated``, ``unchanged`` or ``older``.

        A record replaces the stored one only when its ``modified`` (ISO 8601) is newer.
        """
        key = f"{source}:{record_id}"
        text = json.dumps(doc, sort_keys=True)
        with _guard(self.url, "store a vulnerability record"), self.engine.begin() as conn:
            row = conn.execute(sa.select(vulns_t.c.modified, vulns_t.c.doc).where(vulns_t.c.id == key)).first()
            if row is None:
                conn.execute(vulns_t.insert().values(id=key, source=source, record_id=record_id,
                                                     modified=modified, doc=text))
                return "added"
            if row[1] == text:
                return "unchanged"
            if modified <= row[0]:
                return "older" if modified < row[0] else "unchanged"
            conn.execute(vulns_t.update().where(vulns_t.c.id == key).values(modified=modified, doc=text))
            return "updated"

    def vuln_records(self, source: str | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every stored feed record as ``(source, record_id, doc)``."""
        q = sa.select(vulns_t.c.source, vulns_t.c.record_id, vulns_t.c.doc).order_by(vulns_t.c.id)
        if source:
            q = q.where(vulns_t.c.source == source)
        with _guard(self.url, "read vulnerability records"), self.engine.connect() as conn:
            for src, rid, doc in conn.execute(q):
                try:
                    parsed = json.loads(doc)
                except ValueError as exc:
                    raise StoreError(f"stored vulnerability record {src}:{rid} is unreadable; {_REPAIR_HINT}",
                                     source=self.url) from exc
                yield src, rid, parsed

    def put_cwe_names(self, names: Iterable[tuple[str, str]], source: str) -> int:
        """Keep the CWE names a record gave (``(id, name)`` pairs); returns how many were written.

        Of two names for one id the shorter is kept (then the first in sort order), so the result
        does not depend on the order records are imported in.
        """
        wanted = {str(c)[:16]: str(n)[:400] for c, n in names if c and n}
        if not wanted:
            return 0
        written = 0
        with _guard(self.url, "store CWE names"), self.engine.begin() as conn:
            rows = conn.execute(sa.select(cwe_names_t.c.cwe_id, cwe_names_t.c.name)
                                .where(cwe_names_t.c.cwe_id.in_(sorted(wanted)))).all()
            have = {r[0]: r[1] for r in rows}
            for cwe, name in sorted(wanted.items()):
                if cwe not in have:
                    conn.execute(cwe_names_t.insert().values(cwe_id=cwe, name=name, source=source[:128]))
                    written += 1
                elif preferred_cwe_name(have[cwe], name) != have[cwe]:
                    conn.execute(cwe_names_t.update().where(cwe_names_t.c.cwe_id == cwe)
                                 .values(name=name, source=source[:128]))
                    written += 1
        return written

    def cwe_names(self) -> dict[str, str]:
        """Every CWE name kept from imported records: ``{"CWE-787": "Out-of-bounds Write", ...}``."""
        with _guard(self.url, "read CWE names"), self.engine.connect() as conn:
            return {str(c): str(n) for c, n in conn.execute(sa.select(cwe_names_t.c.cwe_id, cwe_names_t.c.name))}

    # --- helpers --------------------------------------------------------------------------

    def _upsert_rows(self, conn: sa.Connection, table: sa.Table, key: list[str], rows: Sequence[dict[str, Any]],
                     members_only: bool = False) -> None:
        """Insert-or-update ``rows`` (unique by ``key``) with multi-row statements.

        The statement is built and compiled once and executed with all rows: SQLAlchemy sends it as
        multi-row ``INSERT ... VALUES (...), (...) ON CONFLICT`` pages ("insertmanyvalues", which
        ``RETURNING`` enables on SQLite and PostgreSQL alike). Rendering the rows into a statement
        of our own instead made SQLAlchemy compile a new statement, with a bound parameter per
        value, for every chunk (about 3x the CPU per stored result).

        ``members_only``: an existing image row is replaced only when it is itself a member result
        (its document names a parent) or from another scanner version."""
        if not rows:
            return
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as insert_for
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as insert_for  # type: ignore[assignment]
        else:  # pragma: no cover - only the two dialects above are supported
            raise StoreError(f"unsupported database {dialect}", source=self.url)
        stmt = insert_for(table)
        update = {c: stmt.excluded[c] for c in rows[0] if c not in key}
        where = None
        if members_only:
            where = sa.or_(table.c.scanner_version != stmt.excluded.scanner_version,
                           ~table.c.result.contains('"parent": null'))
        upsert = stmt.on_conflict_do_update(index_elements=key, set_=update, where=where)
        if self.engine.dialect.insert_executemany_returning:
            conn.execute(upsert.returning(*(table.c[k] for k in key)), list(rows)).all()
        else:  # pragma: no cover - an SQLite older than 3.35 (no RETURNING): one prepared statement, many rows
            conn.execute(upsert, list(rows))

    def _upsert(self, conn: sa.Connection, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert
            stmt = sqlite_insert(table).values(**key, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=values))
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert
            pstmt = pg_insert(table).values(**key, **values)
            conn.execute(pstmt.on_conflict_do_update(index_elements=list(key), set_=values))
        else:  # pragma: no cover - only the two dialects above are supported
            raise StoreError(f"unsupported database {dialect}", source=self.url)


def _salvage(conn: sa.Connection, table: sa.Table) -> tuple[list[dict[str, Any]], int]:
    """The rows of an SQLite table that still read back, and how many did not (as far as known).

    Reads in chunks of rowids; inside a chunk that fails, row by row. Rowids are the ones the
    table's b-tree still lists; when even that fails, ranges up to the highest known rowid are
    probed."""
    cols = [c.name for c in table.columns]
    select = sa.select(*table.columns, sa.literal_column("rowid"))
    rows: list[dict[str, Any]] = []
    lost = 0
    try:
        top = conn.execute(sa.text(f"SELECT max(rowid) FROM {table.name}")).scalar() or 0  # noqa: S608
    except sa.exc.DatabaseError:
        top = 0
    if not top:
        try:
            return [dict(zip(cols, r[:len(cols)], strict=True)) for r in conn.execute(select)], 0
        except sa.exc.DatabaseError:
            return [], 1
    step = 256
    for lo in range(0, int(top) + 1, step):
        try:
            chunk = conn.execute(select.where(sa.literal_column("rowid").between(lo, lo + step - 1))).all()
            rows.extend(dict(zip(cols, r[:len(cols)], strict=True)) for r in chunk)
            continue
        except sa.exc.DatabaseError:
            pass
        for rowid in range(lo, lo + step):
            try:
                row = conn.execute(select.where(sa.literal_column("rowid") == rowid)).first()
            except sa.exc.DatabaseError:
                lost += 1
                continue
            if row is not None:
                rows.append(dict(zip(cols, row[:len(cols)], strict=True)))
    return rows, lost
