"""PE/COFF through LIEF: PE images generated here (headers written by tests/unit/formats/pebuild.py),
hostile variants of them, and real UEFI applications from Debian packages when cached."""

from __future__ import annotations

import dataclasses
import random
import struct
import time
from pathlib import Path

import pytest

from ecuscan import formats, provenance
from ecuscan.catalog import load_catalog
from ecuscan.errors import FormatError
from ecuscan.formats.pe import MAX_PE_SECTIONS, load_pe
from ecuscan.formats.te import load_te
from ecuscan.limits import DEFAULT_LIMITS, Limits
from ecuscan.model import Image, ImageFormat, Relation, SegmentKind
from ecuscan.sbom.facts import is_firmware
from ecuscan.scan.analysis import analyze_bytes
from ecuscan.scan.options import ScanOptions

from .pebuild import IMAGE_BASE, PeSpec, build_pe, import_bomb, to_te, with_rich_header

PDB = r"C:\Users\alice\src\ecutool\x64\Release\ecutool.pdb"
ZLIB = b"\0inflate 1.3.1 Copyright 1995-2024 Mark Adler \0"
TOOL = PeSpec(
    subsystem=3, dll=True, rodata=ZLIB,
    imports={"KERNEL32.dll": ["CreateFileW", "ReadFile"], "zlib1.dll": ["inflate", "inflateInit_"]},
    exports=["ecu_flash", "ecu_read"], export_name="ecutool.dll", pdb=PDB,
    version={"CompanyName": "Acme Automotive", "ProductName": "ECU Flash Tool", "FileVersion": "2.4.1.0"})

CACHE = Path.home() / ".cache" / "ecuscan" / "pe" / "x"


def _cached(rel: str) -> bytes:
    path = CACHE / rel
    if not path.is_file():
        pytest.skip(f"{path} not cached (download Debian's package with apt-get download, see "
                    "tests/unit/formats/test_uefi.py's module docstring)")
    return path.read_bytes()


def test_windows_dll_sections_imports_exports_version_and_build_provenance() -> None:
    blob = build_pe(TOOL).data
    assert formats.detect(blob) is ImageFormat.PE
    img = formats.load(blob, "ecutool.dll")
    assert (img.format, img.arch, img.bits, img.entry) == (ImageFormat.PE, "x86_64", 64, IMAGE_BASE + 0x1000)
    text, rdata, _rsrc = img.segments
    assert (text.name, text.kind, text.address) == (".text", SegmentKind.CODE, IMAGE_BASE + 0x1000)
    assert rdata.address == IMAGE_BASE + 0x2000 and rdata.kind is SegmentKind.RODATA
    assert blob[rdata.offset:rdata.offset + rdata.size] == blob[rdata.file_offset:rdata.file_offset + rdata.size]
    assert img.needed == ("KERNEL32.dll", "zlib1.dll")
    assert img.soname == "ecutool.dll"
    assert {(s.name, s.defined) for s in img.symbols} >= {("ecu_flash", True), ("inflate", False)}
    meta = img.metadata
    assert meta["pe:subsystem"] == "WINDOWS_CUI" and meta["pe:dll"] == "true"
    assert meta["pe:version:ProductName"] == "ECU Flash Tool"
    assert meta["pe:version:CompanyName"] == "Acme Automotive"
    assert meta["pe:version:FileVersion"] == "2.4.1.0"
    assert meta["pe:pdb"] == PDB and meta["pe:signed"] == "false"
    assert img.build_id == "0403020106050807090A0B0C0D0E0F107"  # GUID in Windows order, then the age
    prov = provenance.extract(img)
    assert PDB in prov.build_paths
    assert prov.build_id == img.build_id
    assert "2023-09-12T06:06:56" in " ".join(prov.timestamps)
    assert (prov.toolchains[0].name, prov.toolchains[0].version) == ("PE linker", "14.36")


def test_rich_header_names_the_microsoft_linker() -> None:
    blob = with_rich_header(build_pe(TOOL).data, [(0x0104, 30159, 12), (0x0102, 30159, 1)])
    img = load_pe(blob, "msvc.dll")
    assert img.metadata["pe:rich_entries"] == "2"
    assert [(t.name, t.version) for t in img.toolchains] == [("MSVC linker", "14.36")]
    assert [t.name for t in load_pe(build_pe(TOOL).data, "gnu.dll").toolchains] == ["PE linker"]


def test_scanner_identifies_components_in_pe_sections_and_locates_them() -> None:
    blob = build_pe(TOOL).data
    result = analyze_bytes(blob, "ecutool.dll", catalog=load_catalog(), options=ScanOptions(use_cache=False))[0]
    assert result.format is ImageFormat.PE and result.needed == ("KERNEL32.dll", "zlib1.dll")
    zlib = next(c for c in result.components if c.id == "zlib" and c.relation is Relation.CONTAINS)
    assert zlib.version == "1.3.1"
    ev = next(e for e in zlib.evidence if e.offset is not None and "1.3.1" in e.text)
    rdata = next(s for s in result.segments if s.name == ".rdata")
    assert rdata.offset <= ev.offset < rdata.offset + rdata.size  # found in the section's bytes
    assert ev.address == rdata.address + (ev.offset - rdata.offset)
    assert result.metadata["pe:version:ProductName"] == "ECU Flash Tool"
    assert not is_firmware(result)  # a Windows tool is a file; an EFI application is firmware
    efi = analyze_bytes(build_pe(PeSpec()).data, "app.efi", catalog=load_catalog(),
                        options=ScanOptions(use_cache=False))[0]
    assert efi.metadata["pe:subsystem"] == "EFI_APPLICATION" and is_firmware(efi)


def test_imported_functions_make_a_uses_component_like_elf_imports() -> None:
    ssl = ["SSL_new", "SSL_connect", "SSL_CTX_new", "SSL_read", "SSL_write", "SSL_free", "SSL_CTX_free"]
    blob = build_pe(PeSpec(subsystem=2, imports={"libssl-3-x64.dll": ssl})).data
    result = analyze_bytes(blob, "diag.exe", catalog=load_catalog(), options=ScanOptions(use_cache=False))[0]
    assert result.needed == ("libssl-3-x64.dll",)
    openssl = [c for c in result.components if c.id == "openssl"]
    assert [c.relation for c in openssl] == [Relation.USES]  # imported, not contained
    assert openssl[0].version is None


@pytest.mark.parametrize("cut", [2, 63, 0x80 + 3, 0x80 + 20, 0x80 + 100, 0x80 + 300])
def test_truncated_headers_are_a_format_error(cut: int) -> None:
    blob = build_pe(TOOL).data[:cut]
    with pytest.raises(FormatError, match=r"cut\.exe"):
        load_pe(blob, "cut.exe")


def test_section_count_that_lies_is_refused() -> None:
    built = build_pe(TOOL)
    for count in (0, MAX_PE_SECTIONS + 1, 0xFFFF):
        blob = bytearray(built.data)
        struct.pack_into("<H", blob, built.nsections_at, count)
        with pytest.raises(FormatError, match="sections"):
            formats.load(bytes(blob), "lie.exe") if count else load_pe(bytes(blob), "lie.exe")
    blob = bytearray(built.data)
    struct.pack_into("<H", blob, built.nsections_at, 40)  # plausible count, table past the end of the file
    with pytest.raises(FormatError, match="section table"):
        load_pe(bytes(blob[:0x400]), "lie.exe")


def test_optional_header_size_that_lies_is_refused() -> None:
    built = build_pe(TOOL)
    blob = bytearray(built.data)
    struct.pack_into("<H", blob, built.optsize_at, 0xFFFF)
    with pytest.raises(FormatError, match="optional header"):
        load_pe(bytes(blob), "lie.exe")


def test_section_size_that_lies_is_clipped_with_a_diagnostic() -> None:
    built = build_pe(TOOL)
    blob = bytearray(built.data)
    struct.pack_into("<I", blob, built.section_table_at + 8, 0x7FFFFFF0)  # .text VirtualSize
    struct.pack_into("<I", blob, built.section_table_at + 16, 0x7FFFFFF0)  # .text SizeOfRawData
    img = load_pe(bytes(blob), "big.exe")
    text = img.segments[0]
    assert text.offset + text.size == len(blob)
    assert any(d.code == "pe-truncated-section" for d in img.diagnostics)


def test_resource_tree_that_loops_loads_in_bounded_time() -> None:
    blob = build_pe(PeSpec(resource_loop=True)).data
    start = time.perf_counter()
    img = load_pe(blob, "loop.efi")
    assert time.perf_counter() - start < 5
    assert not any(k.startswith("pe:version:") for k in img.metadata)


@pytest.mark.parametrize("delay", [False, True])
def test_shared_import_tables_do_not_amplify(delay: bool) -> None:
    """20,000 descriptors sharing one 1,000-name table (a 0.4-0.7 MB file): LIEF alone built 20
    million entries from it (33 s, 2.5 GB); read by hand, each table is read once."""
    blob = import_bomb(20_000, 1_000, delay=delay)
    assert len(blob) < 1 << 20
    start = time.perf_counter()
    img = load_pe(blob, "bomb.exe")
    assert time.perf_counter() - start < 10
    assert img.needed == ("A.dll",)
    assert len(img.symbols) == 1_000 and img.symbols[0].name == "f0" and not img.symbols[0].defined


@pytest.mark.parametrize("overlay", [0, 1 << 20], ids=["whole", "overlay-left-out"])
def test_mutated_headers_never_leak_an_exception(overlay: int) -> None:
    """500 seeded random corruptions of the headers: an Image or a FormatError, each quickly
    (with an overlay long enough to be left out of what LIEF gets, too)."""
    base = build_pe(TOOL).data + bytes(overlay)
    rnd = random.Random(1234)
    worst = 0.0
    for _ in range(500):
        blob = bytearray(base)
        for _ in range(rnd.randint(1, 6)):
            blob[rnd.randrange(0, 0x800)] = rnd.randrange(256)
        start = time.perf_counter()
        try:
            load_pe(bytes(blob), "fuzz.dll")
        except FormatError:
            pass
        worst = max(worst, time.perf_counter() - start)
    assert worst < 2.0


def test_oversized_pe_is_scanned_as_bytes_with_a_warning() -> None:
    blob = build_pe(TOOL).data
    img = load_pe(blob, "huge.exe", limits=Limits(max_pe_bytes=1024))
    assert img.format is ImageFormat.PE and img.segments[0].size == len(blob)
    assert [d.code for d in img.diagnostics] == ["pe-too-large"]
    assert DEFAULT_LIMITS.max_pe_bytes > len(blob)


def test_real_signed_shim_signature_and_bundled_openssl() -> None:
    blob = _cached("shim-signed/usr/lib/shim/shimx64.efi.signed")
    result = analyze_bytes(blob, "shimx64.efi.signed", catalog=load_catalog(),
                           options=ScanOptions(use_cache=False))[0]
    meta = result.metadata
    assert result.format is ImageFormat.PE and result.arch == "x86_64"
    assert meta["pe:subsystem"] == "EFI_APPLICATION" and meta["pe:signed"] == "true"
    assert "Microsoft" in meta["pe:signer"]
    assert any(s.name == ".sbat" for s in result.segments)
    assert result.provenance.certificates  # the Authenticode certificates, found in the bytes
    assert any(c.id == "openssl" and c.version for c in result.contained())
    assert meta["pe:signature_digest"] == "ok" and not result.diagnostics
    tampered = bytearray(blob)
    text = next(s for s in result.segments if s.name == ".text")
    tampered[text.offset + 100] ^= 0x01  # one bit of code changed after signing
    img = load_pe(bytes(tampered), "tampered.efi")
    assert img.metadata["pe:signature_digest"] == "mismatch"
    assert [d.code for d in img.diagnostics] == ["pe-signature-mismatch"]


@pytest.mark.parametrize(("rel", "arch"), [
    ("systemd-boot-efi/usr/lib/systemd/boot/efi/systemd-bootx64.efi", "x86_64"),
    ("ipxe/usr/lib/ipxe/ipxe-arm64.efi", "aarch64"),
    ("ipxe/usr/lib/ipxe/ipxe-riscv64.efi", "riscv64"),
    ("shim-unsigned/usr/lib/shim/mmx64.efi", "x86_64"),
])
def test_real_efi_applications_load(rel: str, arch: str) -> None:
    blob = _cached(rel)
    img = formats.load(blob, rel)
    assert img.format is ImageFormat.PE and img.arch == arch
    assert img.metadata["pe:subsystem"] == "EFI_APPLICATION"
    assert any(s.kind is SegmentKind.CODE and s.size for s in img.segments)
    for seg in img.segments:
        assert seg.address is not None and seg.offset + seg.size <= len(blob)
    if "ipxe" in rel:  # iPXE's converter writes a 1978 placeholder stamp: not a link time
        assert "pe:link_time" not in img.metadata


def test_te_image_sections_and_pdb_path() -> None:
    te = to_te(build_pe(PeSpec(machine=0xAA64, subsystem=11, pdb="/build/edk2/Build/PeiCore.dll", rodata=ZLIB)).data)
    assert formats.detect(te) is ImageFormat.TE
    img = formats.load(te, "PeiCore.te")
    assert (img.arch, img.bits) == ("aarch64", 64)
    assert img.metadata["pe:subsystem"] == "EFI_BOOT_SERVICE_DRIVER"
    assert img.metadata["pe:pdb"] == "/build/edk2/Build/PeiCore.dll"
    assert provenance.extract(img).build_paths[0] == "/build/edk2/Build/PeiCore.dll"
    text, rdata = img.segments
    assert text.address == IMAGE_BASE + 0x1000 and text.kind is SegmentKind.CODE
    assert b"Mark Adler" in te[rdata.offset:rdata.offset + rdata.size]
    result = analyze_bytes(te, "PeiCore.te", catalog=load_catalog(), options=ScanOptions(use_cache=False))[0]
    assert any(c.id == "zlib" and c.version == "1.3.1" for c in result.contained())


def test_te_headers_that_lie() -> None:
    te = bytearray(to_te(build_pe(PeSpec(pdb="/x.pdb")).data))
    te[4] = 90  # 90 sections: the table runs past the end of this small file
    with pytest.raises(FormatError, match=r"lie\.te: .*section table"):
        load_te(bytes(te[:600]), "lie.te")
    te = bytearray(to_te(build_pe(PeSpec()).data))
    struct.pack_into("<I", te, 40 + 16, 0x7FFFFFF0)  # .text SizeOfRawData
    struct.pack_into("<I", te, 40 + 8, 0x7FFFFFF0)  # .text VirtualSize
    img = load_te(bytes(te), "big.te")
    assert [d.code for d in img.diagnostics] == ["te-truncated-section"]
    assert all(s.offset + s.size <= len(te) for s in img.segments)
    assert formats.detect(b"VZ" + bytes(100)) is ImageFormat.RAW  # no known machine: not TE


def test_real_aavmf_pei_modules_are_te_with_pdb_paths() -> None:
    blob = _cached("qemu-efi-aarch64/usr/share/qemu-efi-aarch64/QEMU_EFI.fd")
    tes = [m for m in formats.iter_members(blob, "QEMU_EFI.fd") if m.name.endswith(".te")]
    assert len(tes) >= 3
    for m in tes:
        img = formats.load(m.data, m.path)
        assert img.format is ImageFormat.TE and img.arch == "aarch64"
        assert img.metadata["pe:pdb"].endswith(".dll")
    assert any(m.name.endswith("/PeiCore.te") for m in tes)


def test_lief_gets_the_file_with_the_hand_read_directories_blanked_and_nothing_else() -> None:
    """LIEF's copy is made straight from the caller's buffer (no copy of the file in between):
    the same bytes, with only the data directories this loader reads itself set to zero."""
    from ecuscan.formats.pe import _BLANKED, _for_lief, read_headers

    data = build_pe(PeSpec(imports={"KERNEL32.dll": ["ExitProcess"]})).data
    hdr = read_headers(data, "x.exe")
    feed = _for_lief(data, hdr)
    got = bytearray(len(data))
    assert feed.readinto(got) == len(data)
    first = hdr.pe_offset + 24 + (112 if hdr.bits == 64 else 96)
    want = bytearray(data)
    for index in _BLANKED:
        want[first + 8 * index:first + 8 * index + 8] = bytes(8)
    assert got == want and got != bytearray(data)  # the import directory was set, and is blanked


def _with_overlay(blob: bytes, overlay: bytes) -> bytes:
    """``blob`` with ``overlay`` inserted where its certificate table was (or appended), the
    certificate table moved after it and its directory entry updated."""
    from ecuscan.formats.pe import _SECURITY, _directory, read_headers

    hdr = read_headers(blob, "x")
    mv = memoryview(blob)
    cert_off, cert_size = _directory(mv, hdr, _SECURITY)
    if not cert_size:
        return blob + overlay
    out = bytearray(blob[:cert_off]) + overlay
    out += bytes(-len(out) % 8)
    entry = hdr.pe_offset + 24 + (112 if hdr.bits == 64 else 96) + 8 * _SECURITY
    struct.pack_into("<I", out, entry, len(out))
    return bytes(out + blob[cert_off:cert_off + cert_size])


def _loaded_both_ways(blob: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Image, Image]:
    from ecuscan.formats import pe

    trimmed = load_pe(blob, "x.efi")
    with monkeypatch.context() as m:
        m.setattr(pe, "OVERLAY_KEPT", 1 << 62)
        whole = load_pe(blob, "x.efi")
    return trimmed, whole


@pytest.mark.parametrize("signed", [False, True])
def test_a_long_overlay_is_left_out_of_lief_and_nothing_read_changes(signed: bool,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """LIEF keeps a copy of the overlay beside its copy of the file; given the file without it (the
    certificate table moved up), it reads the same sections, resources, exports and signature."""
    from ecuscan.formats.pe import OVERLAY_KEPT, _without_overlay, read_headers

    base = _cached("shim-signed/usr/lib/shim/shimx64.efi.signed") if signed else build_pe(TOOL).data
    blob = _with_overlay(base, random.Random(5).randbytes(OVERLAY_KEPT + 4096))
    given = _without_overlay(memoryview(blob), read_headers(blob, "x"), [])
    assert given is not None and len(given) < len(base) + 8  # the file as signed, without the overlay
    trimmed, whole = _loaded_both_ways(blob, monkeypatch)
    differ = [f.name for f in dataclasses.fields(trimmed) if getattr(trimmed, f.name) != getattr(whole, f.name)]
    assert not differ
    meta = trimmed.metadata
    if signed:
        assert meta["pe:signed"] == "true" and "Microsoft" in meta["pe:signer"]
        assert meta["pe:signature_digest"] == "mismatch"  # the overlay was added after signing
    else:
        assert meta["pe:version:ProductName"] == "ECU Flash Tool"


def test_a_short_overlay_or_a_table_out_of_place_keeps_the_file_whole() -> None:
    from ecuscan.formats.pe import _SECURITY, OVERLAY_KEPT, _without_overlay, read_headers

    blob = build_pe(TOOL).data
    short = blob + bytes(OVERLAY_KEPT - 1)
    assert _without_overlay(memoryview(short), read_headers(short, "x"), []) is None
    long = bytes(blob + bytes(OVERLAY_KEPT + 1))
    hdr = read_headers(long, "x")
    assert _without_overlay(memoryview(long), hdr, []) is not None
    symbols = bytearray(long)  # a COFF symbol table whose string table would run past the end
    struct.pack_into("<II", symbols, hdr.pe_offset + 12, len(blob), 1 << 26)
    assert _without_overlay(memoryview(bytes(symbols)), hdr, []) is None
    cert = bytearray(long)  # a certificate table inside the section data
    struct.pack_into("<II", cert, hdr.pe_offset + 24 + 112 + 8 * _SECURITY, 0x200, 64)
    assert _without_overlay(memoryview(bytes(cert)), hdr, []) is None
