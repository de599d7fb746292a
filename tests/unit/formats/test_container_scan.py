"""Every registered container format has its members scanned like archive members: UEFI firmware
volumes and option ROMs are analysed as one image *and* member by member (each a result of its
own, with a member path and ``parent``), under the one unpack budget of the top-level file."""

from __future__ import annotations

import dataclasses
import io
import tarfile
import uuid
from pathlib import Path

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.limits import DEFAULT_LIMITS
from ecuscan.model import ImageFormat, Relation, ScanFailure, ScanResult
from ecuscan.scan.analysis import analyze_bytes
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner

from . import fvbuild as fv
from .pebuild import PeSpec, build_pe

FIRMWARE = Path.home() / ".cache" / "ecuscan" / "firmware"
NO_CACHE = ScanOptions(use_cache=False)


def _driver(n: int, name: str, zlib: str) -> bytes:
    marker = f"\0inflate {zlib} Copyright 1995-2022 Mark Adler \0".encode()
    pe = build_pe(PeSpec(subsystem=11, rodata=marker)).data
    return fv.ffs_file(uuid.UUID(int=n), fv.DRIVER, fv.stream(fv.section(fv.PE32, pe), fv.ui(name)))


def _zlib(r: ScanResult) -> list[str | None]:
    return sorted(c.version for c in r.components if c.id == "zlib" and c.relation is Relation.CONTAINS)


def test_volume_members_are_results_with_member_paths() -> None:
    blob = fv.volume(_driver(1, "OldZlibDxe", "1.2.11"), _driver(2, "NewZlibDxe", "1.3.1"))
    top, *members = analyze_bytes(blob, "fw.fd", catalog=load_catalog(), options=NO_CACHE)
    assert top.format is ImageFormat.UEFI_FV and top.parent is None
    by_path = {m.path: m for m in members}
    assert set(by_path) == {"fw.fd!/fv0/OldZlibDxe.efi", "fw.fd!/fv0/NewZlibDxe.efi"}
    old, new = by_path["fw.fd!/fv0/OldZlibDxe.efi"], by_path["fw.fd!/fv0/NewZlibDxe.efi"]
    assert old.format is new.format is ImageFormat.PE and old.parent == new.parent == "fw.fd"
    assert _zlib(old) == ["1.2.11"] and _zlib(new) == ["1.3.1"]  # each driver says which copy it holds
    assert _zlib(top) == ["1.2.11", "1.3.1"] and top.metadata["members"] == "2"
    assert top.sha256 != old.sha256 and old.sha256 != new.sha256


def test_option_rom_members_are_scanned() -> None:
    pe = build_pe(PeSpec(subsystem=11, rodata=b"\0inflate 1.3.1 Copyright 1995-2024 Mark Adler \0")).data
    rom = fv.option_rom(b"\xcb legacy x86 code", pe)
    top, *members = analyze_bytes(rom, "nic.rom", catalog=load_catalog(), options=NO_CACHE)
    assert top.format is ImageFormat.OPTION_ROM
    assert members and all(m.path.startswith("nic.rom!/") and m.parent == "nic.rom" for m in members)
    efi = [m for m in members if m.format is ImageFormat.PE]
    assert len(efi) == 1 and _zlib(efi[0]) == ["1.3.1"]


def _tar(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_volumes_inside_an_archive_share_its_unpack_budget(tmp_path: Path) -> None:
    """4 volumes of 2 drivers in a tar: 4 + 8 members. Each container alone stays within a tree
    limit of 8; the tree does not, so the scan refuses it (one budget for the whole file)."""
    volumes = [fv.volume(_driver(10 * i + 1, f"A{i}", "1.2.11"), _driver(10 * i + 2, f"B{i}", "1.3.1"))
               for i in range(4)]
    f = tmp_path / "bundle.tar"
    f.write_bytes(_tar([(f"fw{i}.fd", v) for i, v in enumerate(volumes)]))
    roomy = list(Scanner(None, options=NO_CACHE).scan_paths([f]))
    paths = [o.path for o in roomy]
    assert f"{f}!/fw1.fd!/fv0/B1.efi" in paths and len(roomy) == 1 + 4 + 8
    nested = next(o for o in roomy if o.path == f"{f}!/fw1.fd")
    assert isinstance(nested, ScanResult) and nested.format is ImageFormat.UEFI_FV and nested.parent == str(f)
    tight = ScanOptions(use_cache=False, limits=dataclasses.replace(DEFAULT_LIMITS, max_members=8))
    refused = Scanner(None, options=tight).scan_file(f)
    assert isinstance(refused, ScanFailure) and "max_members" in refused.reason


@pytest.mark.parametrize("rel", ["bullseye/amd64/root/ovmf/usr/share/OVMF/OVMF_CODE_4M.fd",
                                 "bullseye/arm64/root/qemu-efi-aarch64/usr/share/AAVMF/AAVMF_CODE.fd"])
def test_real_uefi_firmware_lists_its_drivers(rel: str) -> None:
    """Debian's OVMF/AAVMF builds (edk2): the DXE/PEI drivers appear as member results."""
    path = FIRMWARE / rel
    if not path.is_file():
        pytest.skip(f"{path} not fetched (Debian firmware packages under ~/.cache/ecuscan/firmware)")
    top, *members = Scanner(None, options=NO_CACHE).scan_paths([path])
    assert isinstance(top, ScanResult) and top.format is ImageFormat.UEFI_FV
    drivers = [m for m in members if isinstance(m, ScanResult) and m.format is ImageFormat.PE]
    assert len(drivers) > 20, len(drivers)
    assert all(m.path.startswith(f"{path}!/fv") and m.parent == str(path) for m in drivers)
    assert any(m.path.endswith("/DxeCore.efi") for m in drivers)
    edk2 = {c.version for m in drivers for c in m.components if c.id == "edk2"}
    assert edk2 and edk2 <= {c.version for c in top.components if c.id == "edk2"}
    assert int(top.metadata["members"]) == sum(1 for m in members if isinstance(m, ScanResult)
                                               and m.parent == str(path))
