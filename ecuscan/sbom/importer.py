"""Reading supplier SBOMs (untrusted): CycloneDX 1.4–1.6 JSON/XML, SPDX 2.2/2.3 JSON/tag-value.

Every document is bounded before it is parsed: its size (``Limits.max_document_bytes``),
its nesting depth (``max_document_depth``) and its number of elements
(``max_document_items``). XML goes through defusedxml with DTDs, entity declarations and
external references forbidden, so an XXE or billion-laughs document is refused, never
expanded.

Parsers:

* SPDX JSON and tag-value are parsed by spdx-tools (its JSON dict parser and its PLY
  tag-value parser), after the bounds checks.
* CycloneDX JSON and XML are read by a small bounded reader of our own over the parsed
  dict / defusedxml tree. cyclonedx-python-lib's deserialisers reject whole documents for
  single deviations common in real supplier files (unknown hash algorithms or enum values,
  licence shapes, missing bom-refs) and have no depth or item limits; reconciliation only
  needs name, version, purl, CPE, supplier and hashes, so a tolerant reader of those fields
  is the sturdier choice. Wrongly typed fields still raise, naming the element.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from ..errors import LimitExceeded, SbomError
from ..limits import DEFAULT_LIMITS, Limits
from .records import DeclaredComponent, DeclaredSbom, SbomFormat
from .registry import READERS, Syntax, reader_for

_CDX_NS = re.compile(r"^\{http://cyclonedx\.org/schema/bom/(?P<v>1\.\d+)\}bom$")
_TV_ITEM = re.compile(r"^(?:PackageName|FileName|Relationship|SnippetSPDXID|Annotator):", re.MULTILINE)


class SbomLimitExceeded(SbomError, LimitExceeded):
    """A supplier SBOM is larger, deeper or has more elements than the limits allow."""


def load_sbom(src: str | os.PathLike[str] | bytes, *, name: str | None = None,
              limits: Limits = DEFAULT_LIMITS) -> DeclaredSbom:
    """Read a supplier SBOM (a path or its bytes) into a :class:`DeclaredSbom`.

    ``name`` names the document in errors and in the result (default: the path).
    Raises :class:`SbomError` (or :class:`SbomLimitExceeded`) naming the file and the element.

    >>> doc = load_sbom(b'{"bomFormat": "CycloneDX", "specVersion": "1.5", '
    ...                 b'"components": [{"type": "library", "name": "zlib", "version": "1.3.1"}]}', name="s.json")
    >>> doc.spec_version, [(c.name, c.version) for c in doc.components]
    ('1.5', [('zlib', '1.3.1')])
    """
    if isinstance(src, bytes | bytearray):
        source = name or "<bytes>"
        data = bytes(src)
        if len(data) > limits.max_document_bytes:
            raise SbomLimitExceeded(f"document of {len(data)} bytes exceeds the limit of "
                                    f"{limits.max_document_bytes}", source=source)
    else:
        path = Path(src)
        source = name or str(path)
        try:
            size = path.stat().st_size
            if size > limits.max_document_bytes:
                raise SbomLimitExceeded(f"document of {size} bytes exceeds the limit of "
                                        f"{limits.max_document_bytes}", source=source)
            data = path.read_bytes()
        except OSError as exc:
            raise SbomError(f"cannot read: {exc.strerror or exc}", source=source) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SbomError(f"not UTF-8 text (byte {exc.start})", source=source) from exc
    head = text.lstrip()[:1]
    syntax: Syntax = "json" if head == "{" else "xml" if head == "<" else "text"
    document: Any = _load_json(text, source, limits) if syntax == "json" else text
    reader = reader_for(syntax, document)
    if reader is None:
        known = ", ".join(r.name for r in READERS)
        if syntax == "json":
            raise SbomError(f"JSON document is neither CycloneDX (bomFormat) nor SPDX (spdxVersion); formats read: "
                            f"{known}", source=source)
        raise SbomError(f"not a CycloneDX (JSON/XML) or SPDX (JSON/tag-value) document; formats read: {known}",
                        source=source)
    declared: DeclaredSbom = reader.read(document, source, limits)
    return declared


# ---------------------------------------------------------------------------- bounds

def _load_json(text: str, source: str, limits: Limits) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except RecursionError as exc:
        raise SbomLimitExceeded("JSON nesting too deep", source=source) from exc
    except json.JSONDecodeError as exc:
        raise SbomError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source=source) from exc
    if not isinstance(doc, dict):
        raise SbomError("top-level JSON value is not an object", source=source)
    _check_json_bounds(doc, source, limits)
    return doc


def _check_json_bounds(doc: Any, source: str, limits: Limits) -> None:
    """Iterative walk: refuse nesting deeper than ``max_document_depth`` or more values than
    ``max_document_items`` (so a hostile document cannot make later code recurse or loop long)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    count = 0
    while stack:
        value, depth = stack.pop()
        if depth > limits.max_document_depth:
            raise SbomLimitExceeded(f"nesting deeper than {limits.max_document_depth}", source=source)
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        count += len(children)
        if count > limits.max_document_items:
            raise SbomLimitExceeded(f"more than {limits.max_document_items} elements", source=source)
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


# ---------------------------------------------------------------------------- CycloneDX JSON

def _opt_str(obj: dict[str, Any], key: str, where: str, source: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise SbomError(f"{where}.{key}: expected a string, got {type(value).__name__}", source=source)
    return str(value)


def _cdx_json_component(obj: Any, where: str, source: str) -> DeclaredComponent:
    if not isinstance(obj, dict):
        raise SbomError(f"{where}: expected an object", source=source)
    name = _opt_str(obj, "name", where, source)
    if not name:
        raise SbomError(f"{where}: component without a name", source=source)
    supplier = None
    for key in ("supplier", "manufacturer", "publisher", "author"):
        val = obj.get(key)
        if isinstance(val, dict) and isinstance(val.get("name"), str):
            supplier = val["name"]
            break
        if isinstance(val, str) and val:
            supplier = val
            break
    hashes = []
    raw_hashes = obj.get("hashes", [])
    if not isinstance(raw_hashes, list):
        raise SbomError(f"{where}.hashes: expected a list", source=source)
    for j, h in enumerate(raw_hashes):
        if not isinstance(h, dict) or not isinstance(h.get("alg"), str) or not isinstance(h.get("content"), str):
            raise SbomError(f"{where}.hashes[{j}]: expected {{alg, content}} strings", source=source)
        hashes.append((h["alg"].upper(), h["content"].lower()))
    group = _opt_str(obj, "group", where, source)
    return DeclaredComponent(
        name=f"{group}/{name}" if group and not obj.get("purl") else name,
        version=_opt_str(obj, "version", where, source), purl=_opt_str(obj, "purl", where, source),
        cpe=_opt_str(obj, "cpe", where, source), supplier=supplier, hashes=tuple(hashes),
        ref=_opt_str(obj, "bom-ref", where, source))


def _walk_cdx_json(items: Any, where: str, source: str) -> Iterator[DeclaredComponent]:
    stack = [(items, where)]
    while stack:
        lst, at = stack.pop()
        if not isinstance(lst, list):
            raise SbomError(f"{at}: expected a list", source=source)
        for i, obj in enumerate(lst):
            here = f"{at}[{i}]"
            yield _cdx_json_component(obj, here, source)
            if isinstance(obj, dict) and "components" in obj:
                stack.append((obj["components"], f"{here}.components"))


def _cdx_version(spec: object, source: str) -> str:
    if not isinstance(spec, str) or not re.fullmatch(r"1\.\d+", spec):
        raise SbomError(f"specVersion: unsupported CycloneDX version {spec!r}", source=source)
    if spec not in ("1.2", "1.3", "1.4", "1.5", "1.6", "1.7"):
        raise SbomError(f"specVersion: unsupported CycloneDX version {spec!r} (1.2–1.7 are read)", source=source)
    return spec


def read_cyclonedx_json(doc: dict[str, Any], source: str, limits: Limits) -> DeclaredSbom:
    spec = _cdx_version(doc.get("specVersion"), source)
    product = None
    meta = doc.get("metadata")
    if meta is not None:
        if not isinstance(meta, dict):
            raise SbomError("metadata: expected an object", source=source)
        if meta.get("component") is not None:
            product = _cdx_json_component(meta["component"], "metadata.component", source)
    components = tuple(_walk_cdx_json(doc.get("components", []), "components", source))
    return DeclaredSbom(source=source, format=SbomFormat.CYCLONEDX_JSON, spec_version=spec,
                       product=product, components=components)


# ---------------------------------------------------------------------------- CycloneDX XML

def read_cyclonedx_xml(text: str, source: str, limits: Limits) -> DeclaredSbom:
    try:
        root = DET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SbomError(f"refused: XML with a DTD, entity declarations or external references ({exc})",
                        source=source) from exc
    except ParseError as exc:
        raise SbomError(f"invalid XML: {exc}", source=source) from exc
    m = _CDX_NS.match(root.tag)
    if m is None:
        raise SbomError(f"root element {root.tag!r} is not a CycloneDX <bom>", source=source)
    spec = _cdx_version(m.group("v"), source)
    ns = "{http://cyclonedx.org/schema/bom/" + spec + "}"
    # bounds: depth and element count, walked iteratively
    count = 0
    stack: list[tuple[Element, int]] = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        count += 1
        if count > limits.max_document_items:
            raise SbomLimitExceeded(f"more than {limits.max_document_items} XML elements", source=source)
        if depth > limits.max_document_depth:
            raise SbomLimitExceeded(f"XML nesting deeper than {limits.max_document_depth} "
                                    f"(at <{el.tag.removeprefix(ns)}>)", source=source)
        stack.extend((c, depth + 1) for c in el)

    def comp(el: Element, where: str) -> DeclaredComponent:
        name = (el.findtext(f"{ns}name") or "").strip()
        if not name:
            raise SbomError(f"{where}: <component> without a <name>", source=source)
        supplier = None
        for tag in ("supplier", "manufacturer"):
            s = el.find(f"{ns}{tag}")
            if s is not None and (s.findtext(f"{ns}name") or "").strip():
                supplier = (s.findtext(f"{ns}name") or "").strip()
                break
        if supplier is None:
            supplier = (el.findtext(f"{ns}publisher") or el.findtext(f"{ns}author") or "").strip() or None
        hashes = []
        for h in el.findall(f"{ns}hashes/{ns}hash"):
            alg = h.get("alg")
            if not alg or not (h.text or "").strip():
                raise SbomError(f"{where}/hashes/hash: needs an alg attribute and content", source=source)
            hashes.append((alg.upper(), (h.text or "").strip().lower()))

        def opt(tag: str) -> str | None:
            value = (el.findtext(f"{ns}{tag}") or "").strip()
            return value or None

        return DeclaredComponent(name=name, version=opt("version"), purl=opt("purl"), cpe=opt("cpe"),
                                 supplier=supplier, hashes=tuple(hashes), ref=el.get("bom-ref"))

    product = None
    meta_comp = root.find(f"{ns}metadata/{ns}component")
    if meta_comp is not None:
        product = comp(meta_comp, "metadata/component")
    found: list[DeclaredComponent] = []
    todo: list[tuple[Element, str]] = [(root, "bom")]
    while todo:
        parent, at = todo.pop()
        holder = parent.find(f"{ns}components")
        if holder is None:
            continue
        for i, el in enumerate(holder.findall(f"{ns}component")):
            here = f"{at}/components/component[{i + 1}]"
            found.append(comp(el, here))
            todo.append((el, here))
    return DeclaredSbom(source=source, format=SbomFormat.CYCLONEDX_XML, spec_version=spec,
                       product=product, components=tuple(found))


# ---------------------------------------------------------------------------- SPDX

def _spdx_version(version: object, source: str) -> str:
    if version not in ("SPDX-2.2", "SPDX-2.3"):
        raise SbomError(f"spdxVersion: unsupported SPDX version {version!r} (SPDX-2.2 and SPDX-2.3 are read)",
                        source=source)
    return str(version).removeprefix("SPDX-")


def read_spdx_json(doc: dict[str, Any], source: str, limits: Limits) -> DeclaredSbom:
    # imported for SPDX input only: spdx-tools is slow to import (start-up)
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser

    spec = _spdx_version(doc.get("spdxVersion"), source)
    document = _spdx_parse(lambda: JsonLikeDictParser().parse(doc), source)  # type: ignore[no-untyped-call]
    return _from_spdx(document, SbomFormat.SPDX_JSON, spec, source)


def read_spdx_tv(text: str, source: str, limits: Limits) -> DeclaredSbom:
    # imported for SPDX input only: spdx-tools is slow to import (start-up)
    from spdx_tools.spdx.parser.tagvalue.parser import Parser

    m = re.search(r"^SPDXVersion:\s*(\S+)", text, re.MULTILINE)
    spec = _spdx_version(m.group(1) if m else None, source)
    items = sum(1 for _ in _TV_ITEM.finditer(text))
    if items > limits.max_document_items:
        raise SbomLimitExceeded(f"more than {limits.max_document_items} elements", source=source)
    document = _spdx_parse(lambda: Parser().parse(text), source)  # type: ignore[no-untyped-call]
    return _from_spdx(document, SbomFormat.SPDX_TV, spec, source)


def _spdx_parse(parse: Any, source: str) -> Any:
    # imported for SPDX input only: spdx-tools is slow to import (start-up)
    from spdx_tools.spdx.parser.error import SPDXParsingError

    try:
        return parse()
    except SPDXParsingError as exc:
        msgs = exc.get_messages()  # type: ignore[no-untyped-call]
        more = f" (and {len(msgs) - 3} more)" if len(msgs) > 3 else ""
        raise SbomError("invalid SPDX: " + "; ".join(str(m) for m in msgs[:3]) + more, source=source) from exc
    except RecursionError as exc:
        raise SbomLimitExceeded("SPDX document nesting too deep", source=source) from exc
    except Exception as exc:  # spdx-tools raises assorted internal errors on odd input
        raise SbomError(f"invalid SPDX: {type(exc).__name__}: {exc}", source=source) from exc


def _from_spdx(document: Any, fmt: SbomFormat, spec: str, source: str) -> DeclaredSbom:
    # imported for SPDX input only: spdx-tools is slow to import (start-up)
    from spdx_tools.spdx.model import RelationshipType  # type: ignore[attr-defined]

    described = sorted(str(r.related_spdx_element_id) for r in document.relationships
                       if r.relationship_type == RelationshipType.DESCRIBES
                       and r.spdx_element_id == "SPDXRef-DOCUMENT")
    comps: list[DeclaredComponent] = []
    product = None
    for pkg in document.packages:
        purl = cpe = None
        for ref in pkg.external_references:
            if ref.reference_type == "purl" and purl is None:
                purl = ref.locator
            elif ref.reference_type in ("cpe23Type", "cpe22Type") and cpe is None:
                cpe = ref.locator
        supplier = getattr(pkg.supplier, "name", None)
        dc = DeclaredComponent(
            name=pkg.name, version=pkg.version, purl=purl, cpe=cpe, supplier=supplier,
            hashes=tuple((re.sub(r"^SHA(\d+)$", r"SHA-\1", c.algorithm.name).replace("_", "-"), c.value.lower())
                         for c in pkg.checksums),
            ref=pkg.spdx_id)
        if product is None and described and pkg.spdx_id == described[0]:
            product = dc
        else:
            comps.append(dc)
    return DeclaredSbom(source=source, format=fmt, spec_version=spec, product=product, components=tuple(comps))
