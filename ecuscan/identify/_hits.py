"""The internal record every identification method returns, before merging."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ..limits import Limits
from ..model import ComponentId, Evidence, EvidenceMethod, Image, Relation
from ..textsafe import printable

#: Confidence of one piece of evidence, by method (combined with noisy-OR when merged).
METHOD_CONFIDENCE: dict[EvidenceMethod, float] = {
    EvidenceMethod.VERSION_STRING: 0.9,
    EvidenceMethod.MARKER_STRING: 0.6,
    EvidenceMethod.SYMBOL: 0.8,
    EvidenceMethod.SONAME: 0.9,
    EvidenceMethod.FILE_NAME: 0.6,
    EvidenceMethod.NEEDED: 0.9,
    EvidenceMethod.SYMBOL_VERSION: 0.8,
    EvidenceMethod.DWARF_UNIT: 0.85,
    EvidenceMethod.DWARF_PRODUCER: 0.6,
    EvidenceMethod.PACKAGE_METADATA: 0.95,
    EvidenceMethod.CONSTANT: 0.7,
    EvidenceMethod.DECLARED: 0.5,
    EvidenceMethod.LINKED_LIBRARY: 0.6,
    EvidenceMethod.SAME_TREE: 0.5,
}

#: Confidence of a version taken from a bare version string (``version_hints``).
HINT_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Hit:
    """One method's claim: ``component`` (catalog id) at ``version`` with one piece of evidence."""

    component: ComponentId
    version: str | None
    relation: Relation
    evidence: Evidence


def make_evidence(image: Image | None, method: EvidenceMethod, text: str, *, limits: Limits,
                  offset: int | None = None, detail: str = "", address: int | None = None,
                  confidence: float | None = None) -> Evidence:
    """Build an :class:`Evidence` with bounded, control-character-free text and the load address."""
    if address is None and offset is not None and image is not None:
        address = image.address_of(offset)
    conf = METHOD_CONFIDENCE.get(method, 0.5) if confidence is None else confidence
    return Evidence(method=method, confidence=conf,
                    text=printable(text, limits.max_evidence_text), offset=offset,
                    address=address, detail=detail[:limits.max_evidence_text])


def file_name(path: str) -> str:
    r"""The last part of an image's path, members of containers included.

    >>> file_name("fw.tar!/usr/lib/libz.so.1"), file_name("C:\\fw\\bcm.elf")
    ('libz.so.1', 'bcm.elf')
    """
    return posixpath.basename(path.replace("\\", "/").split("!/")[-1])


def decode(raw: bytes) -> str:
    """Bytes from the image as text (latin-1 never fails; the text is escaped later)."""
    return raw.decode("latin-1")
