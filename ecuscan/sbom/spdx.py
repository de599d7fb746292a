"""SPDX 2.3 output through spdx-tools (JSON and tag-value).

The same facts as the CycloneDX writer, in SPDX terms:

* one package per image (``primaryPackagePurpose: FIRMWARE``, SHA-256 checksum, supplier
  when given); the document ``DESCRIBES`` each image;
* one package per third-party component (``LIBRARY``) with its version, supplier (the
  catalog vendor) and external references ``purl`` (PACKAGE-MANAGER) and ``cpe23Type``
  (SECURITY); the image ``CONTAINS`` what is inside it and ``DEPENDS_ON`` what it only uses;
* evidence as annotations on the component (one per evidence: ecuscan method, CycloneDX-
  equivalent technique, confidence, location, matched text) and the image's provenance
  and container facts as one annotation of ``ecuscan:name=value`` lines, since SPDX 2.3
  has no property mechanism.

Deterministic: SPDXIDs are derived from content hashes, packages, relationships and
annotations are sorted, and the document namespace is derived from the content. Without a
``timestamp`` the creation time is written as 1970-01-01T00:00:00Z (SPDX requires one;
pass the real time to state it).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from spdx_tools.spdx.model import (  # type: ignore[attr-defined]  # re-exported, not declared
    Actor,
    ActorType,
    Annotation,
    AnnotationType,
    Checksum,
    ChecksumAlgorithm,
    CreationInfo,
    Document,
    ExternalPackageRef,
    ExternalPackageRefCategory,
    Package,
    PackagePurpose,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
)
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.writer.json import json_writer
from spdx_tools.spdx.writer.tagvalue import tagvalue_writer

from .. import __version__
from ..errors import SbomError
from ..model import Component, Relation, ScanResult
from . import facts
from .cyclonedx import technique
from .records import SbomFormat, SupplierInfo

SPDX_VERSION = "SPDX-2.3"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ID_BAD = re.compile(r"[^A-Za-z0-9.-]+")


def spdx_id(ref: str) -> str:
    """An SPDXID from a document-local ref (only letters, digits, ``.`` and ``-`` are allowed).

    >>> spdx_id("component-freertos_kernel-0a1b")
    'SPDXRef-component-freertos-kernel-0a1b'
    """
    return "SPDXRef-" + _ID_BAD.sub("-", ref)


def _tool() -> Actor:
    return Actor(ActorType.TOOL, f"ecuscan-{__version__}")


def _image_package(result: ScanResult, supplier: SupplierInfo | None) -> Package:
    return Package(
        spdx_id=spdx_id(facts.image_ref(result)), name=facts.image_name(result),
        download_location=SpdxNoAssertion(), version=facts.image_version(result),
        file_name=facts.clean(result.path), files_analyzed=False,
        supplier=Actor(ActorType.ORGANIZATION, facts.clean(supplier.name), supplier.contact_email)
        if supplier else None,
        checksums=[Checksum(ChecksumAlgorithm.SHA256, result.sha256)],
        primary_package_purpose=PackagePurpose.FIRMWARE if facts.is_firmware(result) else PackagePurpose.FILE,
        comment=f"{'Firmware image' if facts.is_firmware(result) else 'File'} scanned by ecuscan "
                f"({result.format.value}, {result.size} bytes).")


def _component_package(result: ScanResult, comp: Component) -> Package:
    refs = []
    if comp.purl:
        refs.append(ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", comp.purl))
    if comp.cpe:
        refs.append(ExternalPackageRef(ExternalPackageRefCategory.SECURITY, "cpe23Type", comp.cpe))
    return Package(
        spdx_id=spdx_id(facts.component_ref(result, comp)), name=facts.clean(comp.name),
        download_location=SpdxNoAssertion(), version=facts.clean(comp.version) if comp.version else None,
        files_analyzed=False,
        supplier=Actor(ActorType.ORGANIZATION, facts.clean(comp.vendor)) if comp.vendor else None,
        external_references=refs, primary_package_purpose=PackagePurpose.LIBRARY,
        comment="; ".join(f"{n}={v}" for n, v in facts.component_facts(comp)))


def _evidence_annotations(result: ScanResult, comp: Component, when: datetime) -> list[Annotation]:
    out = []
    for e in comp.evidence:
        parts = [f"ecuscan evidence: method={e.method.value}", f"technique={technique(e.method).value}",
                 f"confidence={e.confidence:.2f}"]
        loc = facts.location(e)
        if loc:
            parts.append(f"location={loc}")
        if e.text:
            parts.append(f"text={facts.clean(e.text)}")
        if e.detail:
            parts.append(f"rule={facts.clean(e.detail)}")
        out.append(Annotation(spdx_id(facts.component_ref(result, comp)), AnnotationType.OTHER, _tool(),
                              when, "; ".join(parts)))
    return out


def build_document(results: Sequence[ScanResult], *, supplier: SupplierInfo | None = None,
                   timestamp: datetime | None = None, serial: str | None = None,
                   name: str | None = None) -> Document:
    """The spdx-tools model of a set of scan results (see the module docstring)."""
    ordered = facts.sorted_results(results)
    if not ordered:
        raise SbomError("no scan results to describe")
    digest = facts.content_digest(ordered, supplier, name or "")
    when = (timestamp or _EPOCH).astimezone(UTC).replace(microsecond=0)
    doc_name = facts.clean(name or (facts.image_name(ordered[0]) if len(ordered) == 1 else "firmware set"))
    serial_text = serial or str(facts.serial_uuid(digest))
    namespace = f"https://ecuscan.invalid/spdxdocs/{_ID_BAD.sub('-', doc_name)}-{_ID_BAD.sub('-', serial_text)}"
    creators = [_tool()]
    if supplier:
        creators.append(Actor(ActorType.ORGANIZATION, facts.clean(supplier.name), supplier.contact_email))
    info = CreationInfo(spdx_version=SPDX_VERSION, spdx_id="SPDXRef-DOCUMENT", name=doc_name,
                        document_namespace=namespace, creators=creators, created=when,
                        creator_comment="Generated from firmware bytes by ecuscan; evidence in annotations.")
    packages: dict[str, Package] = {}
    relationships: list[Relationship] = []
    annotations: list[Annotation] = []
    for r in ordered:
        img = _image_package(r, supplier)
        packages[img.spdx_id] = img
        relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, img.spdx_id))
        lines = "\n".join(f"{n}={v}" for n, v in facts.image_facts(r))
        annotations.append(Annotation(img.spdx_id, AnnotationType.OTHER, _tool(), when,
                                      f"ecuscan provenance:\n{lines}"))
        for comp in facts.sorted_components(r):
            pkg = _component_package(r, comp)
            packages[pkg.spdx_id] = pkg
            rel = RelationshipType.DEPENDS_ON if comp.relation is Relation.USES else RelationshipType.CONTAINS
            relationships.append(Relationship(img.spdx_id, rel, pkg.spdx_id))
            annotations.extend(_evidence_annotations(r, comp, when))
    return Document(
        creation_info=info, packages=[packages[k] for k in sorted(packages)],
        relationships=sorted(relationships, key=lambda x: (x.spdx_element_id, x.relationship_type.name,
                                                           str(x.related_spdx_element_id))),
        annotations=sorted(annotations, key=lambda a: (a.spdx_id, a.annotation_comment)))


def write_spdx(results: Sequence[ScanResult], fmt: SbomFormat, *, supplier: SupplierInfo | None = None,
               timestamp: datetime | None = None, serial: str | None = None, name: str | None = None) -> str:
    """SPDX 2.3 JSON or tag-value text for the results; the document is validated by spdx-tools
    before it is written."""
    if fmt not in (SbomFormat.SPDX_JSON, SbomFormat.SPDX_TV):
        raise SbomError(f"{fmt.value} is not an SPDX format")
    doc = build_document(results, supplier=supplier, timestamp=timestamp, serial=serial, name=name)
    problems = validate_full_spdx_document(doc, SPDX_VERSION)
    if problems:
        raise SbomError(f"SPDX document does not validate: {problems[0].validation_message}")
    buf = io.StringIO()
    if fmt is SbomFormat.SPDX_JSON:
        json_writer.write_document_to_stream(doc, buf, validate=False)
        buf.write("\n")
    else:
        tagvalue_writer.write_document_to_stream(doc, buf, validate=False)
    return buf.getvalue()


def write_json(results: Sequence[ScanResult], **options: Any) -> str:
    """SPDX 2.3 JSON (the ``spdx-json`` writer of :mod:`ecuscan.sbom.registry`)."""
    return write_spdx(results, SbomFormat.SPDX_JSON, **options)


def write_tagvalue(results: Sequence[ScanResult], **options: Any) -> str:
    """SPDX 2.3 tag-value (the ``spdx-tv`` writer of :mod:`ecuscan.sbom.registry`)."""
    return write_spdx(results, SbomFormat.SPDX_TV, **options)
