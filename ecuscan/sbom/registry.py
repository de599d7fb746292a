"""The SBOM formats ecuscan writes and reads: one registry line each.

A writer is a name (as given to ``--format``), the file suffix and media type of what it
writes, and the ``module:function`` that writes it, imported on first use (so a format's
library is loaded only when that format is asked for). A reader is a name, the syntax it
reads (``json``, ``xml`` or ``text``), a probe that says whether a parsed document is its
format, and the ``module:function`` that turns it into a :class:`~ecuscan.sbom.records.DeclaredSbom`.

Adding an SBOM format = one module with the function + one line below (see docs/extending.md).

>>> writer("spdx-json").suffix, writer("cyclonedx-xml").media_type
('.spdx.json', 'application/vnd.cyclonedx+xml')
>>> writer("csv")
Traceback (most recent call last):
...
ecuscan.errors.SbomError: unknown SBOM format 'csv' (known: cyclonedx-json, cyclonedx-xml, spdx-json, spdx-tv)
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import SbomError

Syntax = Literal["json", "xml", "text"]


def _resolve(target: str) -> Callable[..., Any]:
    module, attr = target.split(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    return fn


@dataclass(frozen=True)
class SbomWriter:
    """An SBOM output format. ``target`` is called as ``fn(results, *, supplier, timestamp, serial,
    name) -> str`` and must give byte-identical output for the same input."""

    name: str
    suffix: str
    media_type: str
    target: str

    def write(self, results: Sequence[Any], **options: Any) -> str:
        """The document for ``results`` (options: supplier, timestamp, serial, name)."""
        text: str = _resolve(self.target)(results, **options)
        return text


@dataclass(frozen=True)
class SbomReader:
    """An SBOM input format. ``probe`` gets the parsed document (a dict for JSON, the text for XML
    and tag-value) and says whether it is this format; ``target`` is called as
    ``fn(document, source, limits) -> DeclaredSbom``."""

    name: str
    syntax: Syntax
    probe: Callable[[Any], bool]
    target: str

    def read(self, document: Any, source: str, limits: Any) -> Any:
        """The declared SBOM read from ``document``."""
        return _resolve(self.target)(document, source, limits)


WRITERS: dict[str, SbomWriter] = {}
READERS: list[SbomReader] = []


def register_writer(w: SbomWriter) -> SbomWriter:
    """Add (or replace) an output format."""
    WRITERS[w.name] = w
    return w


def register_reader(r: SbomReader) -> SbomReader:
    """Add an input format (probed in registration order within its syntax)."""
    READERS.append(r)
    return r


def writer(name: str) -> SbomWriter:
    """The writer registered under ``name``; :class:`SbomError` for an unknown one."""
    try:
        return WRITERS[str(name)]
    except KeyError:
        raise SbomError(f"unknown SBOM format {str(name)!r} (known: {', '.join(sorted(WRITERS))})") from None


def reader_for(syntax: Syntax, document: Any) -> SbomReader | None:
    """The first registered reader of ``syntax`` whose probe accepts ``document``."""
    return next((r for r in READERS if r.syntax == syntax and r.probe(document)), None)


_SPDX_TV = re.compile(r"^SPDXVersion:", re.MULTILINE)

# ---------------------------------------------------------------------------------- the formats
register_writer(SbomWriter("cyclonedx-json", ".cdx.json", "application/vnd.cyclonedx+json",
                           "ecuscan.sbom.cyclonedx:write_json"))
register_writer(SbomWriter("cyclonedx-xml", ".cdx.xml", "application/vnd.cyclonedx+xml",
                           "ecuscan.sbom.cyclonedx:write_xml"))
register_writer(SbomWriter("spdx-json", ".spdx.json", "application/spdx+json", "ecuscan.sbom.spdx:write_json"))
register_writer(SbomWriter("spdx-tv", ".spdx", "text/spdx", "ecuscan.sbom.spdx:write_tagvalue"))

register_reader(SbomReader("cyclonedx-json", "json", lambda d: d.get("bomFormat") == "CycloneDX",
                           "ecuscan.sbom.importer:read_cyclonedx_json"))
register_reader(SbomReader("spdx-json", "json", lambda d: "spdxVersion" in d, "ecuscan.sbom.importer:read_spdx_json"))
register_reader(SbomReader("cyclonedx-xml", "xml", lambda _text: True, "ecuscan.sbom.importer:read_cyclonedx_xml"))
register_reader(SbomReader("spdx-tv", "text", lambda text: bool(_SPDX_TV.search(text)),
                           "ecuscan.sbom.importer:read_spdx_tv"))
