"""Writers for UEFI firmware volumes and PCI option ROMs, for tests (layouts from the PI and PCI
firmware specifications): sections, FFS files, volumes with a valid header checksum."""

from __future__ import annotations

import lzma
import struct
import uuid

FFS2 = uuid.UUID("8c8ce578-8a3d-4f1c-9935-896185c32dd3")
LZMA_GUID = uuid.UUID("ee4e5898-3914-4259-9d6e-dc7bd79403cf")
TIANO_GUID = uuid.UUID("a31280ad-481e-41b6-95e8-127f4c984779")
BROTLI_GUID = uuid.UUID("3d532050-5cda-4fd0-879e-0f7f630d5afb")

PE32, TE, RAW, UI, VERSION, FV_IMAGE, COMPRESSION, GUID_DEFINED = 0x10, 0x12, 0x19, 0x15, 0x14, 0x17, 0x01, 0x02
DRIVER, APPLICATION, RAW_FILE, FV_FILE = 0x07, 0x09, 0x01, 0x0B


def _pad(b: bytes, a: int, fill: bytes = b"\0") -> bytes:
    return b + fill * (-len(b) % a)


def section(stype: int, body: bytes) -> bytes:
    return (len(body) + 4).to_bytes(3, "little") + bytes([stype]) + body


def ui(name: str) -> bytes:
    return section(UI, name.encode("utf-16-le") + b"\0\0")


def version(text: str, build: int = 0) -> bytes:
    return section(VERSION, struct.pack("<H", build) + text.encode("utf-16-le") + b"\0\0")


def stream(*sections: bytes) -> bytes:
    return b"".join(_pad(s, 4) for s in sections)


def lzma_section(inner: bytes) -> bytes:
    """A GUID-defined section, EDK2's LZMA: the LZMA-alone layout, processing required."""
    packed = lzma.compress(inner, format=lzma.FORMAT_ALONE)
    packed = packed[:5] + struct.pack("<Q", len(inner)) + packed[13:]  # EDK2 states the size
    return guid_section(LZMA_GUID, packed)


def guid_section(guid: uuid.UUID, payload: bytes, attrs: int = 0x01) -> bytes:
    return section(GUID_DEFINED, guid.bytes_le + struct.pack("<HH", 4 + 20, attrs) + payload)


def tiano_section(inner: bytes) -> bytes:
    """A GUID-defined section, Tiano-compressed (EDK2's TianoCompress), processing required."""
    from uefi_firmware import efi_compressor

    return guid_section(TIANO_GUID, bytes(efi_compressor.TianoCompress(inner, len(inner))))


def compression_section(inner: bytes, algorithm: int = 1) -> bytes:
    """EFI_COMPRESSION_SECTION: type 1 (standard EFI compression) via uefi_firmware, or 0 (stored)."""
    if algorithm == 0:
        return section(COMPRESSION, struct.pack("<IB", len(inner), 0) + inner)
    from uefi_firmware import efi_compressor

    packed = bytes(efi_compressor.EfiCompress(inner, len(inner)))
    return section(COMPRESSION, struct.pack("<IB", len(inner), 1) + packed)


def ffs_file(guid: uuid.UUID, ftype: int, body: bytes, erase: int = 0xFF) -> bytes:
    size = 24 + len(body)
    state = 0x07 ^ erase  # HEADER_CONSTRUCTION | HEADER_VALID | DATA_VALID, in the volume's polarity
    head = guid.bytes_le + struct.pack("<BBBB", 0, 0, ftype, 0) + size.to_bytes(3, "little") + bytes([state])
    return head + body


def volume(*files: bytes, erase: int = 0xFF, size: int | None = None) -> bytes:
    """A volume: header (block map, checksum) then the files 8-byte aligned, then erased space."""
    body = b"".join(_pad(f, 8, bytes([erase])) for f in files)
    hdr_len = 56 + 16  # one block-map entry and the terminator
    length = size or _pad_len(hdr_len + len(body) + 24, 0x1000)
    attrs = 0x0004FEFF if erase == 0xFF else 0x0004F6FF
    head = bytearray(bytes(16) + FFS2.bytes_le + struct.pack("<Q", length) + b"_FVH"
                     + struct.pack("<IHHHBB", attrs, hdr_len, 0, 0, 0, 2)
                     + struct.pack("<II", length // 0x1000, 0x1000) + bytes(8))
    checksum = (-sum(struct.unpack_from(f"<{hdr_len // 2}H", head))) & 0xFFFF
    struct.pack_into("<H", head, 50, checksum)
    out = bytes(head) + body
    return out + bytes([erase]) * (length - len(out))


def _pad_len(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def option_rom(legacy: bytes, efi_pe: bytes | None, vendor: int = 0x8086, device: int = 0x100E,
               compressed: bool = False) -> bytes:
    """A ROM: a legacy x86 image, then (optionally) an EFI image with its PE32 driver."""
    def pcir(units: int, code: int, last: bool) -> bytes:
        return b"PCIR" + struct.pack("<HHHHB3BHHBBH", vendor, device, 0, 24, 0, 0, 0, 2, units, 1, code,
                                     0x80 if last else 0, 0)

    body = legacy.ljust(0x200 - 0x40, b"\0")
    units = (0x40 + len(body) + 511) // 512
    image0 = bytearray(b"\x55\xaa" + bytes([units]) + b"\xcb" + bytes(0x14) + struct.pack("<H", 0x1C) + bytes(2)
                       + pcir(units, 0, efi_pe is None))
    image0 = bytes(image0).ljust(0x40, b"\0") + body
    image0 = image0.ljust(units * 512, b"\0")
    if efi_pe is None:
        return image0
    payload = efi_pe
    if compressed:
        from uefi_firmware import efi_compressor

        payload = bytes(efi_compressor.EfiCompress(efi_pe, len(efi_pe)))
    start = 0x38
    units1 = (start + len(payload) + 511) // 512
    hdr = struct.pack("<HHIHHH", 0xAA55, units1, 0x0EF1, 11, 0x8664, 1 if compressed else 0) + bytes(8)
    hdr += struct.pack("<HH", start, 0x1C) + bytes(2) + pcir(units1, 3, True)
    image1 = hdr.ljust(start, b"\0") + payload
    return image0 + image1.ljust(units1 * 512, b"\0")
