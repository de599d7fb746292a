"""The inventory store: scan results keyed by content hash, path history, vulnerability records.

The one module that knows SQL. SQLAlchemy Core gives one schema and one code path for
SQLite (the default, embedded, WAL mode) and PostgreSQL (a shared team inventory). Each
image is written in one transaction, so a killed process leaves either the whole image
or nothing. The schema is versioned in the ``meta`` table; :func:`Store.open` migrates.

URLs: ``sqlite:///PATH``, ``postgresql://user@host/db`` (psycopg 3), or a bare file path.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .errors import StoreError
from .model import ScanResult, Sha256

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


def default_store_url() -> str:
    """``$ECUSCAN_STORE``, else a per-user SQLite file under ``$XDG_DATA_HOME``/``~/.local/share``."""
    env = os.environ.get("ECUSCAN_STORE")
    if env:
        return env
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return str(Path(base) / "ecuscan" / "inventory.sqlite")


def _to_url(spec: str) -> str:
    if "://" in spec:
        if spec.startswith("postgresql://"):
            return "postgresql+psycopg://" + spec[len("postgresql://"):]
        return spec
    return "sqlite:///" + str(Path(spec).expanduser())


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
        """The stored result for this content hash (and scanner version, when given)."""
        q = sa.select(images_t.c.result, images_t.c.scanner_version).where(images_t.c.sha256 == sha256)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None or (scanner_version is not None and row[1] != scanner_version):
            return None
        return ScanResult.from_dict(json.loads(row[0]))

    def put(self, result: ScanResult) -> None:
        """Store one result (and the path it was seen at) in one transaction; replaces older ones."""
        self.put_many([result])

    def put_many(self, results: Iterable[ScanResult]) -> None:
        """Store several results (a container and its members) in one transaction."""
        now = time.time()
        try:
            with self.engine.begin() as conn:
                for result in results:
                    self._upsert(conn, images_t, {"sha256": result.sha256}, {
                        "scanner_version": result.scanner_version, "size": result.size,
                        "format": result.format.value, "scanned_at": now,
                        "result": json.dumps(result.to_dict(), sort_keys=True)})
                    self._upsert(conn, paths_t, {"path": result.path},
                                 {"sha256": result.sha256, "seen_at": now})
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot store results: {exc}", source=self.url) from exc

    def touch_path(self, path: str, sha256: str) -> None:
        """Record that ``path`` was seen holding ``sha256`` (a cached rescan)."""
        with self.engine.begin() as conn:
            self._upsert(conn, paths_t, {"path": path}, {"sha256": sha256, "seen_at": time.time()})

    def for_path(self, path: str) -> ScanResult | None:
        """The result last recorded for ``path``."""
        q = (sa.select(images_t.c.result).select_from(paths_t.join(images_t, paths_t.c.sha256 == images_t.c.sha256))
             .where(paths_t.c.path == path))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return ScanResult.from_dict(json.loads(row[0])) if row else None

    def results(self) -> Iterator[ScanResult]:
        """Every stored result, by hash."""
        with self.engine.connect() as conn:
            for (doc,) in conn.execute(sa.select(images_t.c.result).order_by(images_t.c.sha256)):
                yield ScanResult.from_dict(json.loads(doc))

    def hashes(self) -> set[Sha256]:
        """The content hashes held."""
        with self.engine.connect() as conn:
            return {Sha256(r[0]) for r in conn.execute(sa.select(images_t.c.sha256))}

    def count(self) -> int:
        """Number of stored image results."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(images_t)).scalar_one())

    def check(self) -> IntegrityReport:
        """Integrity check: the database's own check (SQLite) plus every stored document parses
        and matches its key; every path points at a stored image."""
        problems: list[str] = []
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                res = conn.execute(sa.text("PRAGMA integrity_check")).scalar_one()
                if res != "ok":
                    problems.append(f"sqlite integrity_check: {res}")
            n_images = 0
            for sha, doc in conn.execute(sa.select(images_t.c.sha256, images_t.c.result)):
                n_images += 1
                try:
                    r = ScanResult.from_dict(json.loads(doc))
                except (ValueError, KeyError, TypeError) as exc:
                    problems.append(f"image {sha}: unreadable result ({exc})")
                    continue
                if r.sha256 != sha:
                    problems.append(f"image {sha}: result is for {r.sha256}")
            dangling = conn.execute(
                sa.select(sa.func.count()).select_from(paths_t)
                .where(~paths_t.c.sha256.in_(sa.select(images_t.c.sha256)))).scalar_one()
            n_paths = conn.execute(sa.select(sa.func.count()).select_from(paths_t)).scalar_one()
        if dangling:
            problems.append(f"{dangling} path(s) point at no stored image")
        return IntegrityReport(images=n_images, paths=int(n_paths), problems=tuple(problems))

    # --- vulnerability records -----------------------------------------------------------

    def put_vuln_record(self, source: str, record_id: str, modified: str, doc: dict[str, Any]) -> str:
        """Insert or update a feed record; returns ``added``, ``updated``, ``unchanged`` or ``older``.

        A record replaces the stored one only when its ``modified`` (ISO 8601) is newer.
        """
        key = f"{source}:{record_id}"
        text = json.dumps(doc, sort_keys=True)
        with self.engine.begin() as conn:
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
        with self.engine.connect() as conn:
            for src, rid, doc in conn.execute(q):
                yield src, rid, json.loads(doc)

    # --- helpers --------------------------------------------------------------------------

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
