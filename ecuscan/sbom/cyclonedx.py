"""CycloneDX 1.6 output through cyclonedx-python-lib (JSON and XML).

Shape of the document (one image):

* ``metadata.component`` is the image: type ``firmware``, its SHA-256, the supplier when
  given, and every provenance / container fact as an ``ecuscan:*`` property (build-id,
  toolchains and flags, build paths, users, hosts, certificates, VBF header fields as
  ``ecuscan:metadata:*``, segment hashes, reader diagnostics).
* ``components`` lists the third-party components found: purl, CPE, supplier (the
  catalog vendor), ``evidence.identity`` (one identity for the name, one for the version
  when some evidence states it; methods with technique, confidence and the matched text)
  and ``evidence.occurrences`` (``offset 0x.. / address 0x..``, the symbol for symbol hits).
* Components the image merely *uses* (DT_NEEDED and the like, ``Relation.USES``) are also
  listed (a dependency must point at a bom-ref in the document) but marked
  ``ecuscan:relation=uses``, and the image ``dependsOn`` exactly those: what is contained
  is inventory, what is used is a dependency.

Several images: ``metadata.component`` is a firmware *set* named by ``name``; each image is
then a ``firmware`` component of its own (and the set ``dependsOn`` its images, which gives
the dependency graph its root), and each third-party component says which image holds it
in ``ecuscan:image`` (the image's bom-ref).

``formulation`` is not written: cyclonedx-python-lib (11.x) has no model for it (the
``Bom.formulation`` property is commented out in the library), so build provenance lives
in the ``ecuscan:`` properties only.

Evidence technique mapping (ecuscan method → CycloneDX ``technique``): everything read out
of the binary's own bytes — version strings, markers, symbols, sonames, DT_NEEDED, symbol
versions, constants and DWARF units/producers (debug info is part of the binary; ecuscan
never sees source, so ``source-code-analysis`` would overstate it) — is
``binary-analysis``; package databases are ``manifest-analysis``; the file's own name is
``filename``; a statement from a supplier SBOM is ``other``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from cyclonedx.exception import CycloneDxException
from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component as CdxComponent
from cyclonedx.model.component import ComponentType
from cyclonedx.model.component_evidence import (
    AnalysisTechnique,
    ComponentEvidence,
    Identity,
    IdentityField,
    Method,
    Occurrence,
)
from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL

from .. import __version__
from ..errors import SbomError
from ..model import Component, EvidenceMethod, Relation, ScanResult
from . import facts
from .records import SbomFormat, SupplierInfo

_TECHNIQUE: dict[EvidenceMethod, AnalysisTechnique] = {
    EvidenceMethod.VERSION_STRING: AnalysisTechnique.BINARY_ANALYSIS,
    EvidenceMethod.MARKER_STRING: AnalysisTechnique.BINARY_ANALYSIS,
    EvidenceMethod.SYMBOL: AnalysisTechnique.BINARY_ANALYSIS,
    EvidenceMethod.SONAME: AnalysisTechnique.BINARY_ANALYSIS,
    EvidenceMethod.NEEDED: AnalysisTechnique.BINARY_ANALYSIS,
    EvidenceMethod.SYMBOL_VERSION: AnalysisTechnique.BINARY_ANALYSIS,
    EvidenceMethod.DWARF_UNIT: AnalysisTechnique.BINARY_ANALYSIS,
    EvidenceMethod.DWARF_PRODUCER: AnalysisTechnique.BINARY_ANALYSIS,
    EvidenceMethod.CONSTANT: AnalysisTechnique.BINARY_ANALYSIS,
    EvidenceMethod.PACKAGE_METADATA: AnalysisTechnique.MANIFEST_ANALYSIS,
    EvidenceMethod.FILE_NAME: AnalysisTechnique.FILENAME,
    EvidenceMethod.LINKED_LIBRARY: AnalysisTechnique.BINARY_ANALYSIS,
    EvidenceMethod.SAME_TREE: AnalysisTechnique.OTHER,
    EvidenceMethod.DECLARED: AnalysisTechnique.OTHER,
}


def technique(method: EvidenceMethod) -> AnalysisTechnique:
    """The CycloneDX analysis technique closest to an ecuscan evidence method.

    >>> technique(EvidenceMethod.PACKAGE_METADATA).value
    'manifest-analysis'
    >>> technique(EvidenceMethod.DWARF_UNIT).value
    'binary-analysis'
    """
    return _TECHNIQUE.get(method, AnalysisTechnique.OTHER)


def _dec(x: float) -> Decimal:
    return Decimal(f"{min(max(x, 0.0), 1.0):.2f}")


def _props(pairs: object) -> list[Property]:
    return [Property(name=n, value=v) for n, v in pairs]  # type: ignore[attr-defined]


def _supplier(info: SupplierInfo) -> OrganizationalEntity:
    return OrganizationalEntity(
        name=facts.clean(info.name),
        urls=[XsUri(info.url)] if info.url else None,
        contacts=[OrganizationalContact(email=info.contact_email)] if info.contact_email else None)


def _evidence(result: ScanResult, comp: Component) -> ComponentEvidence | None:
    if not comp.evidence:
        return None
    evs = sorted(comp.evidence, key=lambda e: (e.method.value, e.offset or -1, e.text, e.detail))
    name_methods = [Method(technique=technique(e.method), confidence=_dec(e.confidence),
                           value=facts.evidence_value(e)) for e in evs]
    identities = [Identity(field=IdentityField.NAME, confidence=_dec(comp.confidence),
                           concluded_value=facts.clean(comp.name), methods=name_methods)]
    ver = [e for e in evs if facts.carries_version(comp, e)]
    if ver:
        identities.append(Identity(
            field=IdentityField.VERSION, confidence=_dec(max(e.confidence for e in ver)),
            concluded_value=facts.clean(comp.version or ""),
            methods=[Method(technique=technique(e.method), confidence=_dec(e.confidence),
                            value=facts.evidence_value(e)) for e in ver]))
    occurrences = []
    ref = facts.component_ref(result, comp)
    for n, e in enumerate(evs):
        loc = facts.location(e)
        if loc is None:
            continue
        symbol = facts.clean(e.text or e.detail) if e.method is EvidenceMethod.SYMBOL else None
        # an explicit bom-ref: without one the library invents a random one, which breaks ordering
        occurrences.append(Occurrence(
            bom_ref=f"{ref}-occurrence-{n}", location=loc, symbol=symbol,
            offset=e.offset if facts.file_offsets_are_buffer_offsets(result) else None,
            additional_context=facts.clean(e.detail) if e.detail else None))
    return ComponentEvidence(identity=identities, occurrences=occurrences)


def _component(result: ScanResult, comp: Component, image_ref: str, many: bool) -> CdxComponent:
    try:
        purl = PackageURL.from_string(comp.purl) if comp.purl else None
    except ValueError as exc:
        raise SbomError(f"component {comp.id!r}: bad purl {comp.purl!r}: {exc}", source=result.path) from exc
    props = list(facts.component_facts(comp))
    if many:
        props.append((f"{facts.NS}:image", image_ref))
    return CdxComponent(
        type=ComponentType.LIBRARY, name=facts.clean(comp.name),
        version=facts.clean(comp.version) if comp.version else None,
        bom_ref=facts.component_ref(result, comp), purl=purl, cpe=comp.cpe,
        supplier=OrganizationalEntity(name=facts.clean(comp.vendor)) if comp.vendor else None,
        evidence=_evidence(result, comp), properties=_props(props))


def _image(result: ScanResult, supplier: SupplierInfo | None) -> CdxComponent:
    return CdxComponent(
        type=ComponentType.FIRMWARE if facts.is_firmware(result) else ComponentType.FILE,
        name=facts.image_name(result), bom_ref=facts.image_ref(result),
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=result.sha256)],
        supplier=_supplier(supplier) if supplier else None,
        version=facts.image_version(result),
        properties=_props(facts.image_facts(result)))


def build_bom(results: Sequence[ScanResult], *, supplier: SupplierInfo | None = None,
              timestamp: datetime | None = None, serial: str | None = None,
              name: str | None = None) -> Bom:
    """The CycloneDX model of a set of scan results (see the module docstring for its shape).

    ``serial`` is a UUID string; by default it is derived from the content, so the same
    input gives the same serial number. Without ``timestamp`` the document carries none.
    """
    ordered = facts.sorted_results(results)
    if not ordered:
        raise SbomError("no scan results to describe")
    digest = facts.content_digest(ordered, supplier, name or "")
    try:
        serial_uuid = UUID(serial) if serial else facts.serial_uuid(digest)
    except ValueError as exc:
        raise SbomError(f"serial number {serial!r} is not a UUID") from exc
    many = len(ordered) > 1
    if many:
        root = CdxComponent(type=ComponentType.FIRMWARE, name=facts.clean(name or "firmware set"),
                            bom_ref=f"firmware-set-{digest[:16]}",
                            supplier=_supplier(supplier) if supplier else None,
                            properties=[Property(name=f"{facts.NS}:images", value=str(len(ordered)))])
    else:
        root = _image(ordered[0], supplier)
    tool = CdxComponent(type=ComponentType.APPLICATION, name="ecuscan", version=__version__,
                        bom_ref="tool-ecuscan")
    meta = BomMetaData(component=root, timestamp=timestamp)
    if timestamp is None:
        meta.timestamp = None  # type: ignore[assignment]  # the library defaults to "now": omit instead
    meta.tools.components.add(tool)
    bom = Bom(metadata=meta, serial_number=serial_uuid)
    images = []
    for r in ordered:
        img = _image(r, None) if many else root
        if many:
            bom.components.add(img)
            images.append(img)
        used = []
        for comp in facts.sorted_components(r):
            c = _component(r, comp, img.bom_ref.value or "", many)
            bom.components.add(c)
            if comp.relation is Relation.USES:
                used.append(c)
        bom.register_dependency(img, used)
    if many:
        # the set is made of its images; this edge also gives the graph its root
        bom.register_dependency(root, images)
    return bom


def write_cyclonedx(results: Sequence[ScanResult], fmt: SbomFormat, *, supplier: SupplierInfo | None = None,
                    timestamp: datetime | None = None, serial: str | None = None,
                    name: str | None = None) -> str:
    """CycloneDX 1.6 JSON or XML text for the results (deterministic; see :func:`build_bom`)."""
    if not fmt.is_cyclonedx:
        raise SbomError(f"{fmt.value} is not a CycloneDX format")
    bom = build_bom(results, supplier=supplier, timestamp=timestamp, serial=serial, name=name)
    output_format = OutputFormat.JSON if fmt is SbomFormat.CYCLONEDX_JSON else OutputFormat.XML
    try:
        with warnings.catch_warnings():
            # an image that uses nothing has no dependsOn: that is the truth, not a gap
            warnings.filterwarnings("ignore", message=".*has no defined dependencies.*", category=UserWarning)
            text: str = make_outputter(bom, output_format, SchemaVersion.V1_6).output_as_string(indent=2)
    except CycloneDxException as exc:
        raise SbomError(f"cannot serialise CycloneDX: {exc}") from exc
    return text if text.endswith("\n") else text + "\n"


def write_json(results: Sequence[ScanResult], **options: Any) -> str:
    """CycloneDX 1.6 JSON (the ``cyclonedx-json`` writer of :mod:`ecuscan.sbom.registry`)."""
    return write_cyclonedx(results, SbomFormat.CYCLONEDX_JSON, **options)


def write_xml(results: Sequence[ScanResult], **options: Any) -> str:
    """CycloneDX 1.6 XML (the ``cyclonedx-xml`` writer of :mod:`ecuscan.sbom.registry`)."""
    return write_cyclonedx(results, SbomFormat.CYCLONEDX_XML, **options)


def validate_cyclonedx(text: str, fmt: SbomFormat) -> None:
    """Validate a CycloneDX 1.6 document with the library's official validators (strict JSON
    schema / XSD); raise :class:`SbomError` with the first problem."""
    # imported here for start-up speed: the validators load jsonschema and lxml, which writing needs not
    from cyclonedx.validation.json import JsonStrictValidator
    from cyclonedx.validation.xml import XmlValidator

    validator = (JsonStrictValidator(SchemaVersion.V1_6) if fmt is SbomFormat.CYCLONEDX_JSON
                 else XmlValidator(SchemaVersion.V1_6))
    error = validator.validate_str(text)
    if error is not None:
        raise SbomError(f"CycloneDX 1.6 {fmt.value} does not validate: {error}")
