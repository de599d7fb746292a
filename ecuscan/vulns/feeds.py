"""The offline import of vulnerability feeds into the store.

The feed formats (CVE JSON 5, NVD CVE API 2.0, OSV ...) are registered in
:mod:`ecuscan.vulns.formats`: each recognises its documents, keys and parses its records.
The importer walks files, directories and zips (the CVE list release zip, OSV ecosystem
zips), asks the registry for each document's records, stores raw records through
:meth:`Store.put_vuln_record` (so a newer ``modified`` replaces an older one and a repeated
import changes nothing) and reports bad records without stopping.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import FeedError, LimitExceeded
from ..limits import DEFAULT_LIMITS, Limits
from ..store import Store
from .distro import family_of_ecosystem
from .formats import normalize_timestamp, parse_record, record_key, split_document
from .records import ImportIssue, ImportReport

# re-exported: importers of ecuscan.vulns.feeds (the fuzz harness, VEX) use these names from here
__all__ = ["check_depth", "import_feeds", "normalize_timestamp", "open_regular", "parse_json", "parse_record",
           "read_regular_file", "record_key", "split_document"]


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of ``path`` if it is a regular file, else :class:`FeedError`.

    Opened with ``O_NONBLOCK`` so that a FIFO cannot block the open, then checked with
    ``fstat`` (the object actually opened, not the name): FIFOs, devices (``/dev/zero``) and
    sockets are refused before a byte is read. The caller closes the descriptor.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FeedError(f"cannot read: {exc.strerror or exc}", source=str(path)) from exc
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise FeedError(f"cannot read: {exc.strerror or exc}", source=str(path)) from exc
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise FeedError(f"not a regular file ({_kind(mode)}): refused", source=str(path))
    return fd


def read_regular_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (size checked before reading, and
    at most ``limit + 1`` bytes read in case the file grows)."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise LimitExceeded(f"document is {size} bytes, limit {limit}", source=str(path))
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise LimitExceeded(f"document is larger than the limit of {limit} bytes", source=str(path))
    return data


def check_depth(doc: Any, limit: int, source: str) -> None:
    """Refuse JSON nested deeper than ``limit`` (iterative walk, no recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise LimitExceeded(f"JSON nested deeper than {limit}", source=source)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))


def parse_json(data: bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse a JSON document within the size and depth limits."""
    if len(data) > limits.max_document_bytes:
        raise LimitExceeded(f"document is {len(data)} bytes, limit {limits.max_document_bytes}", source=source)
    try:
        doc = json.loads(data)
    except RecursionError as exc:
        raise LimitExceeded("JSON nested too deeply", source=source) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"not JSON: {exc}", source=source) from exc
    check_depth(doc, limits.max_document_depth, source)
    return doc


class _Importer:
    def __init__(self, store: Store, limits: Limits) -> None:
        self.store = store
        self.limits = limits
        self.counts = {"added": 0, "updated": 0, "unchanged": 0, "older": 0, "failed": 0, "files": 0}
        self.errors: list[ImportIssue] = []
        self.advisories = 0
        self.problems: list[ImportIssue] = []  # stored records with version statements that cannot be evaluated
        self.records = 0
        self.members = 0
        self.unpacked = 0

    def issue(self, file: str, record: str | None, message: str) -> None:
        self.counts["failed"] += 1
        if len(self.errors) < self.limits.max_items_per_kind:
            self.errors.append(ImportIssue(file, record, message))

    def document(self, data: bytes, name: str) -> None:
        self.counts["files"] += 1
        try:
            doc = parse_json(data, name, self.limits)
            items = split_document(doc, name)
            for fmt, raw in items:
                self.records += 1
                if self.records > self.limits.max_document_items:
                    raise LimitExceeded(f"more than {self.limits.max_document_items} records", source=name)
                self.record(fmt, raw, name)
        except LimitExceeded:
            raise
        except FeedError as exc:
            self.issue(name, None, exc.message)

    def record(self, fmt: str, raw: Any, name: str) -> None:
        rid: str | None = raw.get("id") if isinstance(raw, Mapping) and isinstance(raw.get("id"), str) else None
        try:
            rid, modified = record_key(fmt, raw)
            parsed = parse_record(fmt, raw)  # validate: a record that cannot be parsed is not stored
        except FeedError as exc:
            self.issue(name, rid, exc.message)
            return
        if any(r.origin == "osv" and family_of_ecosystem(r.vendor) for r in parsed.affected):
            self.advisories += 1
        for problem in parsed.problems()[:20]:
            if len(self.problems) < self.limits.max_items_per_kind:
                self.problems.append(ImportIssue(name, rid, problem))
        outcome = self.store.put_vuln_record(fmt, rid, modified, dict(raw))
        self.counts[outcome] += 1
        if outcome in ("added", "updated", "unchanged") and parsed.cwe_names:
            # the names a CVE 5 record gives serve the NVD/OSV records of the store that carry ids only
            self.store.put_cwe_names(parsed.cwe_names, f"{fmt}:{rid}")

    def path(self, path: Path) -> None:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for f in sorted(files):
                    if f.endswith((".json", ".zip")):
                        self.path(Path(root) / f)
            return
        name = str(path)
        try:
            # only regular files: a FIFO named *.json must not block, /dev/zero must not be read
            with os.fdopen(open_regular(path), "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size > self.limits.max_file_bytes:
                    raise LimitExceeded(f"file is {size} bytes, limit {self.limits.max_file_bytes}", source=name)
                if zipfile.is_zipfile(fh):
                    fh.seek(0)
                    with zipfile.ZipFile(fh) as zf:
                        self.zip(zf, name, 1)
                    return
                if size > self.limits.max_document_bytes:
                    raise LimitExceeded(f"document is {size} bytes, limit {self.limits.max_document_bytes}",
                                        source=name)
                fh.seek(0)
                data = fh.read(self.limits.max_document_bytes + 1)
            if len(data) > self.limits.max_document_bytes:
                raise LimitExceeded(f"document grew beyond the limit of {self.limits.max_document_bytes} bytes",
                                    source=name)
            self.document(data, name)
        except FeedError as exc:
            self.issue(name, None, exc.message)
        except OSError as exc:
            self.issue(name, None, f"cannot read: {exc.strerror or exc}")
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
            self.issue(name, None, f"bad zip: {exc}")
        except LimitExceeded as exc:
            self.issue(name, None, exc.message)

    def zip(self, zf: zipfile.ZipFile, name: str, depth: int) -> None:
        if depth > self.limits.max_container_depth:
            raise LimitExceeded(f"zip nested deeper than {self.limits.max_container_depth}", source=name)
        for info in zf.infolist():
            if info.is_dir() or not info.filename.endswith((".json", ".zip")):
                continue
            self.members += 1
            if self.members > self.limits.max_members:
                raise LimitExceeded(f"more than {self.limits.max_members} zip members", source=name)
            member = f"{name}!/{info.filename}"
            cap = min(self.limits.max_member_bytes, self.limits.max_document_bytes
                      if info.filename.endswith(".json") else self.limits.max_member_bytes)
            # the declared size is not trusted: read at most cap + 1 bytes
            try:
                with zf.open(info) as fh:
                    data = fh.read(cap + 1)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
                self.issue(member, None, f"cannot unpack: {exc}")
                continue
            if len(data) > cap:
                self.issue(member, None, f"member larger than the limit ({cap} bytes)")
                continue
            self.unpacked += len(data)
            if self.unpacked > self.limits.max_unpacked_bytes:
                raise LimitExceeded(f"more than {self.limits.max_unpacked_bytes} bytes unpacked", source=name)
            if info.filename.endswith(".zip"):
                try:
                    with zipfile.ZipFile(io.BytesIO(data)) as inner:
                        self.zip(inner, member, depth + 1)
                except zipfile.BadZipFile as exc:
                    self.issue(member, None, f"bad zip: {exc}")
            else:
                self.document(data, member)

    def report(self) -> ImportReport:
        c = self.counts
        return ImportReport(added=c["added"], updated=c["updated"], unchanged=c["unchanged"],
                            older=c["older"], failed=c["failed"], files=c["files"],
                            errors=tuple(self.errors), problems=tuple(self.problems),
                            distribution_advisories=self.advisories)


def import_feeds(store: Store, paths: list[str | os.PathLike[str]],
                 limits: Limits = DEFAULT_LIMITS) -> ImportReport:
    """Import feed files, directories and zips into ``store``; bad records are reported and skipped.

    Idempotent: importing the same input again reports every record ``unchanged``. A
    record whose ``modified`` is newer than the stored one replaces it; an older one is
    counted ``older`` and left alone.
    """
    imp = _Importer(store, limits)
    for p in paths:
        path = Path(p)
        if not path.exists():
            imp.issue(str(path), None, "no such file or directory")
            continue
        imp.path(path)
    return imp.report()
