"""The vulnerability feed formats ecuscan imports: one module and one registry line each.

A feed format is a name (stored with every record as its source, so it must never change), a
label for messages, and the module that knows the format. The module provides three functions:

``probe(doc) -> Iterable[raw] | None``
    Given a parsed JSON object, the raw records it holds when it is this format (a single
    record gives ``[doc]``, a bundle or an API page gives its items), ``None`` when it is not.
    Formats are probed in registration order; the first that recognises a document takes it.
``record_key(raw) -> (id, modified)``
    The record's id and its last-modified timestamp as written (checked and normalised here:
    a newer record replaces an older one in the store, an equal one is ``unchanged``).
``parse(raw) -> Vulnerability``
    The record as a :class:`~ecuscan.vulns.records.Vulnerability`; :class:`FeedError` when it
    is not one. Called at import time (a record that does not parse is not stored) and again
    when matching reads the store.

The module is imported on first use. Adding a feed format = one module + one line below (see
docs/extending-feeds.md).

>>> [f.name for f in registered()]
['cve5', 'nvd', 'osv']
>>> [fmt for fmt, _raw in split_document([{"id": "GHSA-x", "modified": "2024-01-01T00:00:00Z",
...                                         "affected": []}, {"cves": []}], "doc.json")]
['osv']
>>> feed_format("csaf")
Traceback (most recent call last):
...
ecuscan.errors.FeedError: unknown feed format 'csaf' (known: cve5, nvd, osv)
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from ...errors import FeedError
from ..records import Vulnerability

#: the longest record id accepted (ids are part of the store's primary key)
MAX_RECORD_ID_CHARS = 90


def normalize_timestamp(value: Any) -> str:
    """An ISO 8601 timestamp in one sortable UTC form; naive times are taken as UTC.

    >>> normalize_timestamp("2023-10-18T03:52:00.816Z")
    '2023-10-18T03:52:00.816000Z'
    >>> normalize_timestamp("2022-12-13T00:00:00")
    '2022-12-13T00:00:00.000000Z'
    """
    if not isinstance(value, str) or not value:
        raise ValueError("missing timestamp")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class FeedFormat:
    """A feed format: ``name`` (the store's source name), ``label`` (for messages) and ``module``
    (dotted name of the module with ``probe``, ``record_key`` and ``parse``)."""

    name: str
    label: str
    module: str

    def _mod(self) -> ModuleType:
        return importlib.import_module(self.module)

    def probe(self, doc: Mapping[str, Any]) -> Iterable[Any] | None:
        """The raw records of ``doc`` if it is this format, else ``None``."""
        found: Iterable[Any] | None = self._mod().probe(doc)
        return found

    def key(self, raw: Any) -> tuple[str, str]:
        """``(record id, normalized modified)`` of a raw record, or :class:`FeedError`."""
        if not isinstance(raw, Mapping):
            raise FeedError("record is not a JSON object")
        try:
            rid, mod = self._mod().record_key(raw)
            if not isinstance(rid, str) or not rid or len(rid) > MAX_RECORD_ID_CHARS:
                raise FeedError(f"bad record id {rid!r}")
            return rid, normalize_timestamp(mod)
        except (KeyError, TypeError) as exc:
            raise FeedError(f"missing field {exc}") from exc
        except ValueError as exc:
            raise FeedError(f"bad modified date: {exc}") from exc

    def parse(self, raw: Any) -> Vulnerability:
        """One raw record parsed; :class:`FeedError` naming the record if it is not one."""
        if not isinstance(raw, Mapping):
            raise FeedError(f"{self.name} record is not a JSON object")
        try:
            vuln: Vulnerability = self._mod().parse(raw)
            return vuln
        except FeedError:
            raise
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise FeedError(f"malformed {self.name} record: {exc.__class__.__name__}: {exc}",
                            source=self._id_of(raw)) from exc

    def _id_of(self, raw: Mapping[str, Any]) -> str:
        try:
            rid = self._mod().record_key(raw)[0]
        except (KeyError, TypeError, AttributeError, ValueError):
            return ""
        return str(rid or "")[:MAX_RECORD_ID_CHARS]


_FORMATS: dict[str, FeedFormat] = {}


def register(fmt: FeedFormat) -> FeedFormat:
    """Add a feed format (or replace the one of the same name, keeping its place in the probe order)."""
    _FORMATS[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    """Remove a feed format (records of it already in a store then fail to load, named)."""
    _FORMATS.pop(name, None)


def registered() -> list[FeedFormat]:
    """The feed formats in probe order."""
    return list(_FORMATS.values())


def feed_format(name: str) -> FeedFormat:
    """The format registered under ``name``; :class:`FeedError` for an unknown one."""
    try:
        return _FORMATS[str(name)]
    except KeyError:
        raise FeedError(f"unknown feed format {str(name)!r} (known: {', '.join(_FORMATS)})") from None


def _labels() -> str:
    labels = [f.label for f in _FORMATS.values()]
    return " or ".join(filter(None, (", ".join(labels[:-1]), labels[-1] if labels else "")))


def split_document(doc: Any, source: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(format name, raw record)`` for every record a feed document holds.

    A JSON list is split into its items, each probed on its own (nesting is bounded by the
    depth limit checked when the document was parsed); an object is given to each format's
    probe in registration order.
    """
    if isinstance(doc, list):
        for item in doc:
            yield from split_document(item, source)
        return
    if not isinstance(doc, Mapping):
        raise FeedError("not a vulnerability record (JSON object expected)", source=source)
    for fmt in _FORMATS.values():
        records = fmt.probe(doc)
        if records is not None:
            for raw in records:
                yield fmt.name, raw
            return
    raise FeedError(f"unrecognised feed document (not {_labels()})", source=source)


def record_key(fmt: str, raw: Any) -> tuple[str, str]:
    """``(record id, normalized modified)`` of a raw record of format ``fmt``, or :class:`FeedError`."""
    if not isinstance(raw, Mapping):
        raise FeedError("record is not a JSON object")
    return feed_format(fmt).key(raw)


def parse_record(fmt: str, raw: Any) -> Vulnerability:
    """Parse one raw record of the registered format ``fmt``; :class:`FeedError` if it is not one."""
    if not isinstance(raw, Mapping):
        raise FeedError(f"{fmt} record is not a JSON object")
    return feed_format(fmt).parse(raw)


# ---------------------------------------------------------------------------------- the formats
register(FeedFormat("cve5", "CVE JSON 5", "ecuscan.vulns.formats.cve5"))
register(FeedFormat("nvd", "NVD API 2.0", "ecuscan.vulns.formats.nvd"))
register(FeedFormat("osv", "OSV", "ecuscan.vulns.formats.osv"))
