"""Format-neutral facts about scan results, shared by the CycloneDX and SPDX writers.

Both writers say the same things in their own terms: the image's provenance and container
metadata become ``ecuscan:*`` name/value pairs (CycloneDX properties, SPDX annotations);
ids are derived from content so that the same input always gives the same document.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime

from ..formats.registry import offsets_are_file_offsets
from ..model import Component, Evidence, EvidenceMethod, ImageFormat, ScanResult
from ..textsafe import printable
from .records import SupplierInfo

#: Namespace of every property/annotation name ecuscan writes.
NS = "ecuscan"

#: Longest string copied from firmware into an SBOM field.
MAX_TEXT = 300

_UUID_NS = uuid.UUID("6d1b3f3e-6f0a-4c1e-9a57-2f1d0c6b8e11")


def clean(text: object, limit: int = MAX_TEXT) -> str:
    r"""A string from firmware made fit for an SBOM: control characters neutralised, length bounded.

    XML 1.0 cannot carry most control characters at all, so they are written as ``\xNN``.

    >>> clean("GCC\x00: (GNU) 13.2")
    'GCC\\x00: (GNU) 13.2'
    """
    return printable(str(text), limit)


def image_name(result: ScanResult) -> str:
    """The file name of an image (the last part of its path, members included).

    >>> from ecuscan.model import Provenance, Sha256
    >>> r = ScanResult(path="fw.zip!/app/bcm.elf", sha256=Sha256("0" * 64), size=1,
    ...                format=ImageFormat.ELF, provenance=Provenance(sha256=Sha256("0" * 64), size=1))
    >>> image_name(r)
    'bcm.elf'
    """
    name = result.path.rsplit("!", 1)[-1]
    return clean(os.path.basename(name.rstrip("/")) or name)


def is_firmware(result: ScanResult) -> bool:
    """Whether an image is firmware (a flash image, a bare-metal program) or a plain file of a tree.

    Flash formats (HEX, S-record, VBF, ODX, UEFI volumes, option ROMs), statically linked ELF
    programs, UEFI (EFI-subsystem) PE images and raw dumps with identified contents are firmware;
    a Linux program or library (it loads shared libraries or is one), a Windows program, a text
    file, or a blob whose bytes name nothing (package ownership aside) is a file.

    >>> from ecuscan.model import Provenance, Sha256
    >>> def r(fmt, **kw):
    ...     return ScanResult(path="x", sha256=Sha256("0" * 64), size=1, format=fmt,
    ...                       provenance=Provenance(sha256=Sha256("0" * 64), size=1), **kw)
    >>> is_firmware(r(ImageFormat.IHEX)), is_firmware(r(ImageFormat.ELF)), is_firmware(r(ImageFormat.RAW))
    (True, True, False)
    >>> is_firmware(r(ImageFormat.ELF, needed=("libc.so.6",))), is_firmware(r(ImageFormat.ELF, soname="libz.so.1"))
    (False, False)
    """
    if result.format is ImageFormat.ELF:
        return not result.needed and result.soname is None and result.elf_type != "dyn"
    if result.format is ImageFormat.PE:  # a UEFI application or driver; a Windows program is a file
        return result.metadata.get("pe:subsystem", "").startswith("EFI_")
    if result.format is ImageFormat.RAW:  # a dump whose own bytes name what it holds (not its package)
        return "content" not in result.metadata and any(
            e.method is not EvidenceMethod.PACKAGE_METADATA for c in result.contained() for e in c.evidence)
    return result.format is not ImageFormat.ARCHIVE


def image_version(result: ScanResult) -> str | None:
    """The image's own version when its container or identification table states one
    (VBF ``sw_version``, DID F189 application software version), else ``None``."""
    for key in ("sw_version", "did:F189", "version"):
        value = result.metadata.get(key)
        if value:
            return clean(value, 100)
    return None


def image_ref(result: ScanResult) -> str:
    """Stable document-local id of an image: its content hash."""
    return f"image-{result.sha256[:16]}"


def component_ref(result: ScanResult, comp: Component) -> str:
    """Stable document-local id of a component of an image (same component, same image, same id)."""
    key = f"{result.sha256}|{comp.id}|{comp.version or ''}|{comp.relation.value}"
    return f"component-{comp.id}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def sorted_results(results: Sequence[ScanResult]) -> list[ScanResult]:
    """Results in a stable order (by content hash, then path), duplicates of the same bytes and path dropped."""
    seen: dict[tuple[str, str], ScanResult] = {}
    for r in results:
        seen.setdefault((r.sha256, r.path), r)
    return [seen[k] for k in sorted(seen)]


def sorted_components(result: ScanResult) -> list[Component]:
    """Components of an image in a stable order."""
    return sorted(result.components, key=lambda c: (*c.sort_key(), c.purl))


def content_digest(results: Sequence[ScanResult], supplier: SupplierInfo | None, extra: str = "") -> str:
    """SHA-256 over everything a document is written from: same input, same digest."""
    doc = {"results": [r.to_dict() for r in sorted_results(results)],
           "supplier": [supplier.name, supplier.url, supplier.contact_email] if supplier else None,
           "extra": extra}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def serial_uuid(digest: str) -> uuid.UUID:
    """A UUID derived from a content digest (name-based, version 5)."""
    return uuid.uuid5(_UUID_NS, digest)


def location(ev: Evidence) -> str | None:
    """Where an evidence sits: ``offset 0x1a2b / address 0x08001a2b`` (the parts that are known).

    >>> from ecuscan.model import EvidenceMethod
    >>> location(Evidence(EvidenceMethod.SYMBOL, 0.9, offset=0x10, address=0x8000010))
    'offset 0x10 / address 0x8000010'
    """
    parts = []
    if ev.offset is not None:
        parts.append(f"offset 0x{ev.offset:x}")
    if ev.address is not None:
        parts.append(f"address 0x{ev.address:x}")
    return " / ".join(parts) or None


def evidence_value(ev: Evidence) -> str:
    """The evidence as one line: the ecuscan method, then the matched text (or the rule)."""
    body = ev.text or ev.detail
    return clean(f"{ev.method.value}: {body}" if body else ev.method.value)


def carries_version(comp: Component, ev: Evidence) -> bool:
    """True when this evidence states the component's version (its text holds the version)."""
    return bool(comp.version) and comp.version in ev.text  # type: ignore[operator]


def file_offsets_are_buffer_offsets(result: ScanResult) -> bool:
    """True when evidence offsets are offsets in the file itself (ELF, PE, raw), not in a decoded payload.

    The format registry says so (:attr:`FormatInfo.offsets`).
    """
    return offsets_are_file_offsets(result.format)


def image_facts(result: ScanResult) -> Iterator[tuple[str, str]]:
    """``(ecuscan:name, value)`` pairs describing an image: container facts, provenance, metadata."""
    p = result.provenance
    yield f"{NS}:path", clean(result.path)
    yield f"{NS}:format", result.format.value
    for key, value in (("arch", result.arch), ("bits", result.bits), ("elf-type", result.elf_type),
                       ("endianness", result.endianness.value if result.endianness else None),
                       ("soname", result.soname), ("scanner-version", result.scanner_version or None),
                       ("parent", result.parent)):
        if value is not None:
            yield f"{NS}:{key}", clean(value)
    if result.entry is not None:
        yield f"{NS}:entry", f"0x{result.entry:x}"
    yield f"{NS}:size", str(result.size)
    if p.build_id:
        yield f"{NS}:build-id", clean(p.build_id)
    for t in p.toolchains:
        yield f"{NS}:toolchain", clean(f"{t.name} {t.version or ''}".strip())
        yield f"{NS}:toolchain-banner", clean(t.text)
        for fl in t.flags:
            yield f"{NS}:toolchain-flag", clean(fl)
    for bp in p.build_paths:
        yield f"{NS}:build-path", clean(bp)
    for u in p.users:
        yield f"{NS}:build-user", clean(u)
    for h in p.hosts:
        yield f"{NS}:build-host", clean(h)
    for ts in p.timestamps:
        yield f"{NS}:build-timestamp", clean(ts)
    if p.stripped is not None:
        yield f"{NS}:stripped", str(p.stripped).lower()
    yield f"{NS}:has-dwarf", str(p.has_dwarf).lower()
    for c in p.certificates:
        desc = f"{c.kind} sha256={c.sha256} offset=0x{c.offset:x} size={c.size}"
        if c.subject:
            desc += f" subject={c.subject}"
        if c.key_type:
            desc += f" key={c.key_type}"
        yield f"{NS}:certificate", clean(desc)
    for key, value in sorted(result.metadata.items()):
        yield f"{NS}:metadata:{clean(key, 80)}", clean(value)
    for s in result.segments:
        addr = f"0x{s.address:x}" if s.address is not None else "-"
        yield f"{NS}:segment", clean(f"{s.name} address={addr} size={s.size} sha256={s.sha256 or '-'}")
    for d in result.diagnostics:
        yield f"{NS}:diagnostic", clean(f"{d.severity.value} {d.code}: {d.message}")


def component_facts(comp: Component) -> Iterator[tuple[str, str]]:
    """``(ecuscan:name, value)`` pairs describing a found component (besides its evidence)."""
    yield f"{NS}:component-id", clean(comp.id)
    yield f"{NS}:relation", comp.relation.value
    yield f"{NS}:confidence", f"{comp.confidence:.2f}"


def iso(ts: datetime) -> str:
    """ISO 8601 with seconds, no microseconds."""
    return ts.replace(microsecond=0).isoformat()

