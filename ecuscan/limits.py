"""Named limits for everything read from outside, with documented defaults.

Every loader, unpacker, importer and decoder takes a :class:`Limits` and refuses
input that goes past it with :class:`ecuscan.errors.LimitExceeded`. The defaults
suit ECU images and Linux root filesystems on a 24 GiB lab machine; override them
with ``Limits(...)`` or ``dataclasses.replace(DEFAULT_LIMITS, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """Bounds on sizes, counts, depths and times for untrusted input."""

    #: Largest single file (image, SBOM, feed file) that is read at all.
    max_file_bytes: int = 4 * GiB
    #: Largest decoded payload of a text format (Intel HEX, S-record, VBF).
    max_decoded_bytes: int = 512 * MiB
    #: Highest address span a HEX/S-record image may cover before it is refused.
    max_address_span: int = 4 * GiB
    #: Most segments / sections / program headers kept from one image.
    max_segments: int = 4096
    #: Most ELF symbols read from one image.
    max_symbols: int = 500_000
    #: Most DWARF compile units read from one image.
    max_dwarf_units: int = 20_000
    #: Seconds spent at most reading DWARF of one image (the rest is skipped, with a diagnostic).
    max_dwarf_seconds: float = 20.0
    #: Deepest nesting of containers (zip in tar in squashfs ...).
    max_container_depth: int = 6
    #: Most members unpacked from one container tree.
    max_members: int = 100_000
    #: Most bytes unpacked from one container tree in total.
    max_unpacked_bytes: int = 8 * GiB
    #: Largest single member of a container that is unpacked.
    max_member_bytes: int = 1 * GiB
    #: Most identification hits recorded per component per image.
    max_evidence_per_component: int = 16
    #: Longest matched text kept in an evidence record.
    max_evidence_text: int = 200
    #: Most findings of one kind kept per image (build paths, certificates, strings ...).
    max_items_per_kind: int = 256
    #: Largest SBOM / feed / manifest / VEX document parsed.
    max_document_bytes: int = 256 * MiB
    #: Deepest JSON/XML nesting accepted in documents.
    max_document_depth: int = 64
    #: Most elements (components, records ...) read from one document.
    max_document_items: int = 1_000_000
    #: Largest ISO-TP payload accepted from the bus (ISO 15765-2 allows 4 GiB; identification
    #: never needs this much).
    max_isotp_payload: int = 64 * KiB
    #: Most frames read from one bus log for replay.
    max_log_frames: int = 5_000_000
    #: Most bytes decompressed in total from one top-level input: archive and PDX members and
    #: compressed streams and sections at any depth draw on one shared budget; sizes a format
    #: declares (zip central directory, tar headers) are checked against it before inflating.
    max_decompressed_bytes: int = 8 * GiB
    #: Largest PE/COFF file whose headers, imports and resources are parsed (larger: bytes scanned only).
    max_pe_bytes: int = 256 * MiB
    #: Deepest nesting inside a UEFI firmware volume (compressed / GUID-defined sections, volumes in volumes).
    max_uefi_depth: int = 8
    #: Most reference URLs kept from one vulnerability record (the rest are dropped; CVE 5 records
    #: of popular products list hundreds of distribution advisories).
    max_vuln_references: int = 64
    #: Longest reference URL kept (a longer one is dropped, not cut: a cut URL points elsewhere).
    max_vuln_reference_chars: int = 1000
    #: Most CWE weaknesses kept from one vulnerability record.
    max_vuln_cwes: int = 32
    #: Longest CWE name kept from a record's problem-type text (cut at a word, marked with "…").
    max_cwe_name_chars: int = 160


DEFAULT_LIMITS = Limits()
