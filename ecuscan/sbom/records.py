"""Records of the SBOM stage: output formats, supplier identity, and imported (declared) SBOMs.

A supplier SBOM, whatever its format, is read into one format-neutral :class:`DeclaredSbom`
so reconciliation never looks at CycloneDX or SPDX specifics.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class SbomFormat(enum.StrEnum):
    """An SBOM serialisation ecuscan writes (and reads)."""

    CYCLONEDX_JSON = "cyclonedx-json"
    CYCLONEDX_XML = "cyclonedx-xml"
    SPDX_JSON = "spdx-json"
    SPDX_TV = "spdx-tv"

    @property
    def is_cyclonedx(self) -> bool:
        """True for the CycloneDX formats.

        >>> SbomFormat("cyclonedx-xml").is_cyclonedx
        True
        """
        return self in (SbomFormat.CYCLONEDX_JSON, SbomFormat.CYCLONEDX_XML)


@dataclass(frozen=True)
class SupplierInfo:
    """Who supplied the described firmware (written as the metadata component's supplier)."""

    name: str
    url: str | None = None
    contact_email: str | None = None


@dataclass(frozen=True)
class DeclaredComponent:
    """One component as a supplier SBOM states it (nothing here was observed by ecuscan).

    ``hashes`` are ``(algorithm, lower-case hex)`` pairs; ``ref`` is the document-local id
    (CycloneDX bom-ref / SPDXID), kept so reports can point into the supplier's file.
    """

    name: str
    version: str | None = None
    purl: str | None = None
    cpe: str | None = None
    supplier: str | None = None
    hashes: tuple[tuple[str, str], ...] = ()
    ref: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "version": self.version, "purl": self.purl, "cpe": self.cpe,
                "supplier": self.supplier, "hashes": [{"alg": a, "content": h} for a, h in self.hashes],
                "ref": self.ref}


@dataclass(frozen=True)
class DeclaredSbom:
    """A supplier SBOM read into format-neutral form.

    ``source`` names the file (or the name given for bytes); ``product`` is the described
    item (CycloneDX metadata.component, SPDX package the document DESCRIBES), when stated.
    """

    source: str
    format: SbomFormat
    spec_version: str
    product: DeclaredComponent | None
    components: tuple[DeclaredComponent, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"source": self.source, "format": self.format.value, "spec_version": self.spec_version,
                "product": self.product.to_dict() if self.product else None,
                "components": [c.to_dict() for c in self.components]}
