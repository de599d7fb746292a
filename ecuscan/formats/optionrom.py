"""PCI expansion ROMs (option ROMs): legacy x86 and EFI images chained in one ROM.

Layout (PCI Firmware specification; UEFI specification, "PCI Option ROMs"): each image starts
with ``55 AA`` and points (offset 0x18) at its ``PCIR`` data structure, which gives the image
length in 512-byte units, the code type (0 = x86 BIOS, 3 = EFI) and whether it is the last
image. An EFI image header adds the subsystem, machine, whether the PE/COFF image is
EFI-compressed, and where it starts.

:func:`load_optionrom` gives one :class:`Image` of every image's payload (the EFI one
decompressed), :func:`iter_optionrom_members` yields each as a member (``image1.efi``), so the
PE loader reads the EFI driver's imports and build provenance. Hand-written: the structure is
four fixed fields, and no maintained Python library reads it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ecuscan.errors import FormatError, LimitExceeded
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Buffer, Diagnostic, Image, ImageFormat, Segment, SegmentKind

from ._util import as_view, check_file_size, sha256_of
from .base import FormatInfo, LoaderFormat, Member, OffsetMap, Skipped, UnpackBudget
from .uefi import efi_decompress

__all__ = ["FORMATS", "RomImage", "iter_optionrom_members", "load_optionrom", "rom_images"]

_CODE_TYPES = {0: "x86", 1: "open-firmware", 2: "pa-risc", 3: "efi"}
_EFI_SIGNATURE = 0x0EF1


@dataclass(frozen=True)
class RomImage:
    """One image of an option ROM: where it is, what it holds, its payload (decompressed)."""

    index: int
    offset: int
    length: int
    code_type: str
    vendor_id: int
    device_id: int
    payload: bytes
    payload_offset: int | None  # where the payload sits as is in the ROM (None when decompressed)
    efi_subsystem: int | None = None
    efi_machine: int | None = None

    @property
    def name(self) -> str:
        """Member name: ``image<index>.<efi|rom>``."""
        return f"image{self.index}.{'efi' if self.code_type == 'efi' else 'rom'}"


def _pcir(mv: memoryview, off: int) -> int | None:
    if off + 0x1A > len(mv) or bytes(mv[off:off + 2]) != b"\x55\xaa":
        return None
    pcir = off + int.from_bytes(mv[off + 0x18:off + 0x1A], "little")
    if pcir + 24 > len(mv) or bytes(mv[pcir:pcir + 4]) != b"PCIR":
        return None
    return pcir


def rom_images(data: Buffer, path: str, limits: Limits = DEFAULT_LIMITS,
               notes: list[Diagnostic] | None = None) -> list[RomImage]:
    """The images of the ROM, in order (bounded by ``max_segments`` and ``max_decoded_bytes``)."""
    mv = as_view(data)
    out: list[RomImage] = []
    off, decoded = 0, 0
    notes = notes if notes is not None else []
    while True:
        pcir = _pcir(mv, off)
        if pcir is None:
            if not out:
                raise FormatError("not a PCI option ROM (no 55 AA header pointing at a PCIR structure)", source=path)
            notes.append(Diagnostic("rom-bad-image", f"no valid image header at 0x{off:x}; the rest of the ROM "
                                    "is not read", offset=off))
            break
        if len(out) >= limits.max_segments:
            raise LimitExceeded(f"more than max_segments={limits.max_segments} images in the ROM", source=path)
        vendor, device = struct.unpack_from("<HH", mv, pcir + 4)
        units, = struct.unpack_from("<H", mv, pcir + 16)
        code, indicator = mv[pcir + 20], mv[pcir + 21]
        length = units * 512
        if length == 0 or off + length > len(mv):
            notes.append(Diagnostic("rom-bad-length", f"image at 0x{off:x} states {length} bytes; "
                                    f"the ROM has {len(mv) - off} left", offset=off))
            length = len(mv) - off
        image = _image(mv, off, length, code, vendor, device, len(out), path, limits.max_decoded_bytes - decoded,
                       notes)
        decoded += len(image.payload) if image.payload_offset is None else 0
        out.append(image)
        if indicator & 0x80 or off + length >= len(mv):
            break
        off += length
    return out


def _image(mv: memoryview, off: int, length: int, code: int, vendor: int, device: int, index: int,
           path: str, allowed: int, notes: list[Diagnostic]) -> RomImage:
    kind = _CODE_TYPES.get(code, f"type-{code}")
    body = mv[off:off + length]
    if code != 3 or len(body) < 0x1A or int.from_bytes(body[4:8], "little") != _EFI_SIGNATURE:
        return RomImage(index, off, length, kind, vendor, device, bytes(body), off)
    init_size = int.from_bytes(body[2:4], "little") * 512
    subsystem, machine, compression = struct.unpack_from("<HHH", body, 8)
    start = int.from_bytes(body[0x16:0x18], "little")
    end = min(len(body), init_size) if init_size else len(body)
    if start >= end:
        notes.append(Diagnostic("rom-bad-efi-offset", f"EFI image at 0x{off:x}: PE offset 0x{start:x} is "
                                "outside the image", offset=off))
        return RomImage(index, off, length, kind, vendor, device, bytes(body), off, subsystem, machine)
    pe = bytes(body[start:end])
    if compression == 0:
        return RomImage(index, off, length, kind, vendor, device, pe, off + start, subsystem, machine)
    try:
        out = efi_decompress(pe, allowed)
    except LimitExceeded as exc:
        raise LimitExceeded(exc.message, source=path) from exc
    except Exception as exc:  # the C decompressor's errors, a lying header: a corrupt image
        notes.append(Diagnostic("rom-decompress-failed", f"EFI image at 0x{off:x}: {exc}", offset=off))
        return RomImage(index, off, length, kind, vendor, device, pe, off + start, subsystem, machine)
    if out is None:
        notes.append(Diagnostic("uefi-compression-unsupported", f"EFI image at 0x{off:x} is EFI-compressed and "
                                "not decompressed (install uefi-firmware); its code was not scanned", offset=off))
        return RomImage(index, off, length, kind, vendor, device, pe, off + start, subsystem, machine)
    return RomImage(index, off, length, kind, vendor, device, out, None, subsystem, machine)


def load_optionrom(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS) -> Image:
    """Every image's payload (EFI images decompressed) as one image, one segment each."""
    check_file_size(data, path, limits)
    notes: list[Diagnostic] = []
    images = rom_images(data, path, limits, notes)
    segments, offset = [], 0
    for img in images:
        segments.append(Segment(name=img.name, address=None, offset=offset, size=len(img.payload),
                                kind=SegmentKind.CODE, file_offset=img.payload_offset,
                                sha256=sha256_of(img.payload)))
        offset += len(img.payload)
    first = images[0]
    meta = {"rom:vendor_id": f"0x{first.vendor_id:04x}", "rom:device_id": f"0x{first.device_id:04x}",
            "rom:images": ", ".join(i.code_type for i in images)}
    return Image(path=path, format=ImageFormat.OPTION_ROM, data=b"".join(i.payload for i in images),
                 segments=tuple(segments), metadata=meta, diagnostics=tuple(notes))


def iter_optionrom_members(data: Buffer, path: str, *, limits: Limits = DEFAULT_LIMITS, depth: int = 0,
                           skipped: list[Skipped] | None = None,
                           budget: UnpackBudget | None = None) -> Iterator[Member]:
    """Each image of the ROM as a member: ``image0.rom`` (x86), ``image1.efi`` (PE, decompressed).

    A ROM that is one stored image and nothing else has no members: it is that image (listing
    it would hand back the same bytes, a container of itself).
    """
    if depth > limits.max_container_depth:
        raise LimitExceeded(f"containers nested deeper than max_container_depth={limits.max_container_depth}",
                            source=path)
    budget = budget if budget is not None else UnpackBudget()
    images = rom_images(data, path, limits)
    if len(images) == 1 and images[0].payload_offset == 0 and len(images[0].payload) == len(as_view(data)):
        return
    for img in images:
        budget.take(len(img.payload), limits, path)
        yield Member(path=f"{path}!/{img.name}", name=img.name, data=img.payload)


def _probe(head: bytes, data: Buffer) -> bool:
    return head[:2] == b"\x55\xaa" and _pcir(memoryview(head), 0) is not None


#: Registration (ecuscan.formats.registry).
FORMATS = (LoaderFormat(
    FormatInfo(ImageFormat.OPTION_ROM, "PCI expansion ROM (option ROM): legacy x86 and EFI images",
               "application/x-pci-option-rom", "`55 AA`, and `PCIR` where offset 0x18 points",
               OffsetMap.PAYLOAD, container=True),
    _probe, load_optionrom, members_fn=iter_optionrom_members),)
