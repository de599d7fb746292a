"""UEFI firmware volumes and PCI option ROMs: volumes and ROMs written here (tests/unit/formats/fvbuild.py),
hostile variants, and Debian's EDK2 and iPXE firmware when cached.

The real files come from Debian trixie's ovmf, qemu-efi-aarch64, ipxe, ipxe-qemu, systemd-boot-efi,
shim-signed and shim-unsigned packages, fetched with ``apt-get download`` under a private apt
configuration (as /work/shared/corpus/apt-trixie.sh sets up) and extracted with ``dpkg-deb -x``
into ``~/.cache/ecuscan/pe/x/<package>/``; the tests that need them skip when they are absent.
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from pathlib import Path

import pytest

from ecuscan import formats, provenance
from ecuscan.catalog import load_catalog
from ecuscan.errors import FormatError, LimitExceeded
from ecuscan.formats.optionrom import load_optionrom
from ecuscan.formats.uefi import load_uefi
from ecuscan.limits import Limits
from ecuscan.model import ImageFormat, Relation, SegmentKind
from ecuscan.scan.analysis import analyze_bytes
from ecuscan.scan.options import ScanOptions

from . import fvbuild as fv
from .pebuild import PeSpec, build_pe

ZLIB = b"\0inflate 1.3.1 Copyright 1995-2024 Mark Adler \0"
CACHE = Path.home() / ".cache" / "ecuscan" / "pe" / "x"


def _pe(marker: bytes = ZLIB) -> bytes:
    return build_pe(PeSpec(subsystem=11, rodata=marker)).data


def _guid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def _sample_volume() -> bytes:
    pe = _pe()
    inner = fv.volume(fv.ffs_file(_guid(5), fv.DRIVER, fv.stream(fv.section(fv.PE32, pe), fv.ui("InnerDxe"))))
    return fv.volume(
        fv.ffs_file(_guid(1), fv.DRIVER, fv.stream(fv.section(fv.PE32, pe), fv.ui("AcmeDxe"), fv.version("1.2"))),
        fv.ffs_file(_guid(2), fv.RAW_FILE, b"raw file data"),
        fv.ffs_file(_guid(3), fv.APPLICATION, fv.stream(fv.lzma_section(
            fv.stream(fv.section(fv.PE32, _pe(b"\0LZMA-ONLY-MARKER\0" + ZLIB)), fv.ui("LzmaApp"))))),
        fv.ffs_file(_guid(4), fv.FV_FILE, fv.stream(fv.section(fv.FV_IMAGE, inner))),
    )


def _cached(rel: str) -> bytes:
    path = CACHE / rel
    if not path.is_file():
        pytest.skip(f"{path} not cached (see this module's docstring for how to fetch it)")
    return path.read_bytes()


def test_volume_sections_lzma_and_nested_volumes() -> None:
    blob = _sample_volume()
    assert formats.detect(blob) is ImageFormat.UEFI_FV
    assert not formats.is_container(blob)  # loaded as one image; members are listed on request
    img = formats.load(blob, "fw.fd")
    names = [s.name for s in img.segments]
    assert names == ["fv0/AcmeDxe.efi", f"fv0/{str(_guid(2)).upper()}.raw", "fv0/LzmaApp.efi", "fv0/fv1/InnerDxe.efi"]
    acme, raw, lzma_app, inner = img.segments
    assert acme.kind is SegmentKind.CODE and raw.kind is SegmentKind.DATA
    assert blob[acme.file_offset:acme.file_offset + acme.size] == bytes(img.data[acme.offset:acme.offset + acme.size])
    assert lzma_app.file_offset is None  # decompressed: not in the file as is
    assert b"LZMA-ONLY-MARKER" in bytes(img.data[lzma_app.offset:lzma_app.offset + lzma_app.size])
    assert b"LZMA-ONLY-MARKER" not in blob
    assert inner.file_offset is not None
    assert img.metadata["uefi:versions"] == "1.2" and img.metadata["uefi:sections"] == "4"
    assert img.arch == "x86_64"  # the drivers' machine
    assert not img.diagnostics


def test_volume_members_are_pe_drivers() -> None:
    members = list(formats.iter_members(_sample_volume(), "fw.fd"))
    assert members[0].path == "fw.fd!/fv0/AcmeDxe.efi"
    pes = [formats.load(m.data, m.path) for m in members if m.name.endswith(".efi")]
    assert len(pes) == 3
    assert all(p.format is ImageFormat.PE and p.metadata["pe:subsystem"] == "EFI_BOOT_SERVICE_DRIVER" for p in pes)


def test_scanner_identifies_code_inside_lzma_sections() -> None:
    pe = _pe(b"\0" + b"x" * 8 + ZLIB)
    blob = fv.volume(fv.ffs_file(_guid(9), fv.DRIVER, fv.stream(fv.lzma_section(
        fv.stream(fv.section(fv.PE32, pe), fv.ui("Packed"))))))
    assert b"Mark Adler" not in blob
    result = analyze_bytes(blob, "packed.fd", catalog=load_catalog(), options=ScanOptions(use_cache=False))[0]
    assert result.format is ImageFormat.UEFI_FV
    zlib = [c for c in result.components if c.id == "zlib" and c.relation is Relation.CONTAINS]
    assert zlib and zlib[0].version == "1.3.1"


def test_efi_compressed_section_is_decompressed_or_reported() -> None:
    pytest.importorskip("uefi_firmware", reason="uefi-firmware provides the EFI/Tiano decompressor")
    blob = fv.volume(fv.ffs_file(_guid(7), fv.DRIVER, fv.stream(fv.compression_section(
        fv.stream(fv.section(fv.PE32, _pe(b"\0EFI-PACKED-MARKER\0")), fv.ui("EfiPacked"))))))
    img = load_uefi(blob, "efi.fd")
    assert [s.name for s in img.segments] == ["fv0/EfiPacked.efi"]
    assert b"EFI-PACKED-MARKER" in bytes(img.data) and b"EFI-PACKED-MARKER" not in blob
    blob = fv.volume(fv.ffs_file(_guid(8), fv.DRIVER, fv.stream(fv.tiano_section(
        fv.stream(fv.section(fv.PE32, _pe(b"\0TIANO-PACKED-MARKER\0")), fv.ui("TianoPacked"))))))
    img = load_uefi(blob, "tiano.fd")
    assert [s.name for s in img.segments] == ["fv0/TianoPacked.efi"] and not img.diagnostics
    assert b"TIANO-PACKED-MARKER" in bytes(img.data) and b"TIANO-PACKED-MARKER" not in blob


def test_without_a_tiano_decompressor_the_section_is_a_diagnostic(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uefi_firmware", reason="needed to write the EFI-compressed sample")
    blob = fv.volume(fv.ffs_file(_guid(7), fv.DRIVER, fv.stream(fv.compression_section(
        fv.stream(fv.section(fv.PE32, _pe()), fv.ui("EfiPacked"))))))
    monkeypatch.setitem(sys.modules, "uefi_firmware", None)  # import now fails, as when not installed
    img = load_uefi(blob, "efi.fd")
    assert img.segments == ()
    assert [d.code for d in img.diagnostics] == ["uefi-compression-unsupported"]
    assert "not scanned" in img.diagnostics[0].message


def test_brotli_section_is_reported_not_scanned() -> None:
    blob = fv.volume(fv.ffs_file(_guid(8), fv.DRIVER, fv.stream(fv.guid_section(fv.BROTLI_GUID, b"\x8b" * 40))))
    img = load_uefi(blob, "brotli.fd")
    assert [d.code for d in img.diagnostics] == ["uefi-compression-unsupported"]
    assert "Brotli" in img.diagnostics[0].message


def test_volume_after_a_reset_vector_is_found() -> None:
    blob = b"\x00\x04\x00\x14" + b"\xff" * (0x1000 - 4) + _sample_volume()  # as AAVMF: code, then the volume
    assert formats.detect(blob) is ImageFormat.UEFI_FV
    segments = formats.load(blob, "aavmf.fd").segments
    assert segments[0].name == "gap@0x0.bin"  # the bytes before the volume are scanned too
    assert (segments[0].file_offset, segments[0].size) == (0, 0x1000) and len(segments) == 5
    erased = b"\xff" * 0x1000 + _sample_volume() + b"\xff" * 0x1000
    assert len(formats.load(erased, "erased.fd").segments) == 4  # erased flash is not


def test_bad_header_checksum_is_not_a_volume() -> None:
    blob = bytearray(_sample_volume())
    blob[50] ^= 0x01
    assert formats.detect(bytes(blob)) is ImageFormat.RAW
    with pytest.raises(FormatError, match=r"bad\.fd: no valid UEFI firmware volume"):
        load_uefi(bytes(blob), "bad.fd")


def test_file_and_section_sizes_that_lie_are_diagnostics() -> None:
    pe = _pe()
    good = fv.ffs_file(_guid(1), fv.DRIVER, fv.stream(fv.section(fv.PE32, pe), fv.ui("Good")))
    lying_file = bytearray(fv.ffs_file(_guid(2), fv.DRIVER, fv.stream(fv.section(fv.PE32, pe))))
    lying_file[20:23] = (0xFFFFF0).to_bytes(3, "little")
    img = load_uefi(fv.volume(good, bytes(lying_file)), "lie.fd")
    assert [s.name for s in img.segments] == ["fv0/Good.efi"]
    assert [d.code for d in img.diagnostics] == ["uefi-bad-file"]
    lying_section = bytearray(fv.section(fv.PE32, pe))
    lying_section[:3] = (0x7FFFFF).to_bytes(3, "little")
    img = load_uefi(fv.volume(fv.ffs_file(_guid(3), fv.DRIVER, bytes(lying_section))), "lie2.fd")
    assert img.segments == () and [d.code for d in img.diagnostics] == ["uefi-bad-section"]


def test_nesting_is_bounded() -> None:
    inner = fv.stream(fv.section(fv.PE32, _pe()))
    for _ in range(12):
        inner = fv.stream(fv.compression_section(inner, algorithm=0))
    blob = fv.volume(fv.ffs_file(_guid(1), fv.DRIVER, inner))
    with pytest.raises(LimitExceeded, match=r"deep\.fd: .*max_uefi_depth"):
        load_uefi(blob, "deep.fd")
    assert load_uefi(blob, "deep.fd", limits=Limits(max_uefi_depth=16)).segments


def test_decompression_bomb_is_stopped() -> None:
    blob = fv.volume(fv.ffs_file(_guid(1), fv.DRIVER, fv.stream(fv.lzma_section(
        fv.stream(fv.section(fv.RAW, bytes(8 << 20)))))))
    assert len(blob) < 64 << 10
    with pytest.raises(LimitExceeded, match=r"bomb\.fd: .*max_decoded_bytes"):
        load_uefi(blob, "bomb.fd", limits=Limits(max_decoded_bytes=1 << 20))


def test_mutated_volumes_never_leak_an_exception() -> None:
    base = _sample_volume()
    rnd = random.Random(99)
    worst = 0.0
    for _ in range(300):
        blob = bytearray(base)
        for _ in range(rnd.randint(1, 6)):
            blob[rnd.randrange(72, len(blob))] = rnd.randrange(256)  # header kept: the walk is exercised
        start = time.perf_counter()
        try:
            load_uefi(bytes(blob), "fuzz.fd")
            list(formats.iter_members(bytes(blob), "fuzz.fd"))
        except FormatError:
            pass
        worst = max(worst, time.perf_counter() - start)
    assert worst < 2.0


def test_option_rom_legacy_and_compressed_efi_images() -> None:
    pytest.importorskip("uefi_firmware", reason="uefi-firmware provides the EFI decompressor")
    pe = _pe(b"\0ROM-EFI-MARKER\0")
    rom = fv.option_rom(b"legacy BIOS code", pe, vendor=0x1AF4, device=0x1041, compressed=True)
    assert formats.detect(rom) is ImageFormat.OPTION_ROM
    img = load_optionrom(rom, "nic.rom")
    assert [s.name for s in img.segments] == ["image0.rom", "image1.efi"]
    assert img.metadata["rom:images"] == "x86, efi" and img.metadata["rom:vendor_id"] == "0x1af4"
    efi = img.segments[1]
    assert bytes(img.data[efi.offset:efi.offset + efi.size]) == pe and efi.file_offset is None
    members = {m.name: m for m in formats.iter_members(rom, "nic.rom")}
    assert formats.detect(members["image1.efi"].data) is ImageFormat.PE
    legacy_only = fv.option_rom(b"legacy", None)
    assert list(formats.iter_members(legacy_only, "pxe.rom")) == []  # one image: the ROM is that image
    assert [s.name for s in load_optionrom(legacy_only, "pxe.rom").segments] == ["image0.rom"]


def test_option_rom_lengths_that_lie() -> None:
    rom = bytearray(fv.option_rom(b"legacy", _pe()))
    rom[0x1C + 16:0x1C + 18] = (0xFFFF).to_bytes(2, "little")  # image 0 claims 32 MiB
    img = load_optionrom(bytes(rom), "lie.rom")
    assert [d.code for d in img.diagnostics] == ["rom-bad-length"]
    assert img.segments[0].size == len(rom)


# --- real firmware from Debian packages ------------------------------------------------------


def test_real_ovmf_volumes_walk_to_pe_drivers() -> None:
    blob = _cached("ovmf/usr/share/OVMF/OVMF_CODE_4M.fd")
    img = formats.load(blob, "OVMF_CODE_4M.fd")
    assert img.format is ImageFormat.UEFI_FV and int(img.metadata["uefi:volumes"]) >= 2
    assert img.arch == "x86_64"
    names = {s.name.rsplit("/", 1)[-1] for s in img.segments}
    assert {"PeiCore.efi", "DxeCore.efi", "Shell.efi"} & names == {"PeiCore.efi", "DxeCore.efi"} | (
        {"Shell.efi"} & names)
    assert not [d for d in img.diagnostics if d.code.startswith("uefi-bad")]
    pes = [m for m in formats.iter_members(blob, "OVMF_CODE_4M.fd") if m.name.endswith(".efi")]
    assert len(pes) > 100
    for m in pes:
        pe = formats.load(m.data, m.path)
        assert pe.format is ImageFormat.PE and pe.arch == "x86_64"


def test_real_aavmf_volume_after_reset_code_has_pdb_paths() -> None:
    blob = _cached("qemu-efi-aarch64/usr/share/qemu-efi-aarch64/QEMU_EFI.fd")
    assert formats.detect(blob) is ImageFormat.UEFI_FV and blob[40:44] != b"_FVH"
    assert formats.load(blob, "QEMU_EFI.fd").arch == "aarch64"
    members = {m.name.rsplit("/", 1)[-1]: m for m in formats.iter_members(blob, "QEMU_EFI.fd")}
    dxe = formats.load(members["DxeCore.efi"].data, "DxeCore.efi")
    assert dxe.arch == "aarch64" and dxe.metadata["pe:subsystem"] == "EFI_BOOT_SERVICE_DRIVER"
    assert dxe.metadata["pe:pdb"].endswith("/DxeCore.dll")
    assert any(p.endswith("/DxeCore.dll") for p in dxe.build_paths)


def test_real_variable_store_is_scanned_as_data_with_its_certificates() -> None:
    img = formats.load(_cached("ovmf/usr/share/OVMF/OVMF_VARS_4M.ms.fd"), "OVMF_VARS_4M.ms.fd")
    assert img.format is ImageFormat.UEFI_FV and [s.name for s in img.segments] == ["fv0/volume.bin"]
    assert [d.code for d in img.diagnostics] == ["uefi-nvram-volume"]
    subjects = " ".join(c.subject or "" for c in provenance.extract(img).certificates)
    assert "Microsoft Corporation UEFI CA 2011" in subjects  # the enrolled db/KEK certificates


def test_real_ipxe_option_rom_with_compressed_efi_driver() -> None:
    pytest.importorskip("uefi_firmware", reason="uefi-firmware provides the EFI decompressor")
    blob = _cached("ipxe-qemu/usr/share/qemu/efi-virtio.rom")
    img = formats.load(blob, "efi-virtio.rom")
    assert img.format is ImageFormat.OPTION_ROM and img.metadata["rom:images"] == "x86, efi"
    assert img.metadata["rom:vendor_id"] == "0x1af4"
    members = {m.name: m for m in formats.iter_members(blob, "efi-virtio.rom")}
    efi = formats.load(members["image1.efi"].data, "image1.efi")
    assert efi.format is ImageFormat.PE and efi.arch == "x86_64"
    assert efi.metadata["pe:subsystem"] == "EFI_BOOT_SERVICE_DRIVER"
    assert b"iPXE" in members["image1.efi"].data and b"iPXE" in members["image0.rom"].data
