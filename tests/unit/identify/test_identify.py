"""Tests of component identification on real-looking bytes and on real corpus files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.formats import load
from ecuscan.identify import identify
from ecuscan.identify.packages import PackageIndex, upstream_version
from ecuscan.identify.signatures import compile_signatures, literal_anchor
from ecuscan.limits import Limits
from ecuscan.model import DwarfUnit, EvidenceMethod, Image, ImageFormat, Relation, Segment, Symbol

CAT = load_catalog()


def _raw(data: bytes, **kw: object) -> Image:
    return Image(path=str(kw.pop("path", "fw.bin")), format=ImageFormat.RAW, data=data,
                 segments=(Segment("flash", 0x08000000, 0, len(data)),), **kw)  # type: ignore[arg-type]


def _by_id(comps: tuple, cid: str) -> list:
    return [c for c in comps if c.id == cid]


def test_catalog_loads_compiles_and_is_large_enough() -> None:
    assert len(CAT) >= 50
    sig = compile_signatures(CAT)  # raises CatalogError on a pattern without an anchor
    assert sig.version_anchor_rx is not None and sig.marker_anchor_rx is not None
    for e in CAT:
        for p in e.patterns:
            rx = re.compile(p.encode())
            assert "v" in rx.groupindex, (e.id, p)
            assert len(literal_anchor(p.encode())) >= 3, (e.id, p)
        assert e.purl(None).startswith("pkg:")


@pytest.mark.parametrize(("blob", "cid", "version"), [
    (b"\x00\x00 deflate 1.3.1 Copyright 1995-2024 Jean-loup Gailly and Mark Adler \x00", "zlib", "1.3.1"),
    (b"\x00OpenSSL 3.0.13 30 Jan 2024\x00", "openssl", "3.0.13"),
    (b"\x00Mbed TLS 3.6.6\x00", "mbedtls", "3.6.6"),
    (b"\x00wolfSSL 5.7.2\x00", "wolfssl", "5.7.2"),
    (b"\x00SSH-2.0-dropbear_2025.89\x00", "dropbear", "2025.89"),
    (b"\x00syslogd started: BusyBox v1.36.1\x00", "busybox", "1.36.1"),
    (b"\x00U-Boot 2025.01-3+deb13u1 (Jun 24 2026 - 09:00:00 +0000)\x00", "u-boot", "2025.01"),
    (b"\x00FreeRTOS Kernel V10.6.2\x00", "freertos", "10.6.2"),
    # Debian's ABI-named release (6.1.0-28): the upstream version is the one in the build string
    (b"\x00Linux version 6.1.0-28-arm64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, "
     b"GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)\x00", "linux",
     "6.1.119"),
    (b"\x00Linux version 5.15.72-yocto-standard (oe-user@oe-host) (gcc 11.3.0) #1 SMP PREEMPT\x00", "linux", "5.15.72"),
    (b"\x00wpa_supplicant v2.10\nCopyright (c) 2003-2022\x00", "wpa_supplicant", "2.10"),
    (b"\x00lwIP 2.2.1\x00", "lwip", "2.2.1"),
])
def test_version_banner_found_with_offset(blob: bytes, cid: str, version: str) -> None:
    data = b"\x13\x37" * 500 + blob + b"\xff" * 300
    comps = identify(_raw(data), CAT)
    hit = [c for c in _by_id(comps, cid) if c.version == version]
    assert hit and hit[0].relation is Relation.CONTAINS
    ev = next(e for e in hit[0].evidence if e.method is EvidenceMethod.VERSION_STRING)
    assert ev.offset is not None
    assert data[ev.offset:ev.offset + len(ev.text)].decode("latin-1") == ev.text
    assert ev.address == 0x08000000 + ev.offset
    assert version in ev.text
    assert hit[0].purl.endswith("@" + version)


def test_an_abi_named_kernel_without_its_sublevel_is_present_without_a_version() -> None:
    # Ubuntu's release field "5.15.0-91-generic": major.minor, ".0" and the ABI number; the upstream
    # sublevel is nowhere in the string, so the kernel is reported without a version, never as 5.15.0
    data = (b"\x13\x37" * 500 + b"\x00Linux version 5.15.0-91-generic (buildd@lcy02-amd64-045) (gcc (Ubuntu "
            b"11.4.0-1ubuntu1~22.04) 11.4.0, GNU ld (GNU Binutils for Ubuntu) 2.38) #101-Ubuntu SMP Tue Nov 14 "
            b"13:30:08 UTC 2023\x00" + b"\xff" * 300)
    [kernel] = _by_id(identify(_raw(data), CAT), "linux")
    assert kernel.version is None


@pytest.mark.parametrize("blob", [
    b"\x00deflate Copyright Jean-loup\x00", b"\x00OpenSSL internal version\x00",
    b"\x00Mbed TLS x.y\x00", b"\x00SSH-2.0-dropbear_\x00", b"\x00FreeRTOS Kernel V\x00",
    b"\x00OpenSSL 1.2 is old\x00",
])
def test_versionless_lookalikes_give_no_version(blob: bytes) -> None:
    comps = identify(_raw(b"\x01" * 64 + blob + b"\x01" * 64), CAT)
    assert all(c.version is None for c in comps)


def test_uses_vs_contains_and_merging() -> None:
    syms = tuple(Symbol(n) for n in ("deflateInit2_", "inflateInit2_", "deflateEnd", "zlibVersion"))
    syms += (Symbol("SSL_CTX_new", defined=False, version="OPENSSL_3.0.0"),
             Symbol("memcpy", defined=False, version="GLIBC_2.17"))
    data = b"\x00" * 100 + b" inflate 1.3.1 Copyright 1995-2024 Mark Adler \x00" + b"\x00" * 100
    img = Image(path="/usr/lib/libfoo.so.1", format=ImageFormat.ELF, data=data, symbols=syms,
                needed=("libssl.so.3", "libc.so.6"),
                dwarf_units=(DwarfUnit("src/zlib-1.3.1/inflate.c", "/build"),))
    comps = identify(img, CAT)
    z = _by_id(comps, "zlib")
    assert len(z) == 1 and z[0].version == "1.3.1" and z[0].relation is Relation.CONTAINS
    methods = {e.method for e in z[0].evidence}
    assert {EvidenceMethod.VERSION_STRING, EvidenceMethod.SYMBOL, EvidenceMethod.DWARF_UNIT} <= methods
    assert z[0].confidence > max(e.confidence for e in z[0].evidence)
    ossl = _by_id(comps, "openssl")
    assert ossl and all(c.relation is Relation.USES and c.version is None for c in ossl)
    assert _by_id(comps, "glibc")[0].relation is Relation.USES


def test_library_version_text_in_importer_is_uses() -> None:
    # nginx -V style: the OpenSSL version macro quoted by a program that links libssl
    data = b"\x00built with OpenSSL 3.5.1 1 Jul 2025\x00"
    img = Image(path="/usr/sbin/nginx", format=ImageFormat.ELF, data=data, needed=("libssl.so.3",))
    ossl = _by_id(identify(img, CAT), "openssl")
    assert ossl and all(c.relation is Relation.USES for c in ossl)


def test_two_strong_versions_kept_weak_dropped() -> None:
    data = (b"\x00Mbed TLS 2.28.8\x00" + b"\x01" * 400 + b"\x00Mbed TLS 3.6.6\x00")
    versions = {c.version for c in _by_id(identify(_raw(data), CAT), "mbedtls")}
    assert versions == {"2.28.8", "3.6.6"}


def test_evidence_capped() -> None:
    data = b"".join(b"\x00Mbed TLS 3.6.6\x00" + b"\x01" * 300 for _ in range(40))
    comp = _by_id(identify(_raw(data), CAT, Limits(max_evidence_per_component=5)), "mbedtls")[0]
    assert len(comp.evidence) == 5


def test_soname_and_file_name_versions() -> None:
    img = Image(path="/usr/lib/libz.so.1.3.1", format=ImageFormat.ELF, data=b"\x00" * 64, soname="libz.so.1")
    z = _by_id(identify(img, CAT), "zlib")
    assert [c.version for c in z] == ["1.3.1"]
    assert {e.method for e in z[0].evidence} == {EvidenceMethod.SONAME, EvidenceMethod.FILE_NAME}


def test_package_index_dpkg() -> None:
    status = (b"Package: zlib1g\nStatus: install ok installed\nSource: zlib\n"
              b"Version: 1:1.3.dfsg+really1.3.1-1\n\nPackage: other\nVersion: 1\n")
    lst = b"/.\n/usr/lib/x86_64-linux-gnu/libz.so.1.3.1\n"
    idx = PackageIndex.from_files({"var/lib/dpkg/status": status,
                                   "var/lib/dpkg/info/zlib1g:amd64.list": lst}, CAT)
    (c,) = idx.components_for("/usr/lib/x86_64-linux-gnu/libz.so.1.3.1")
    assert (c.id, c.version) == ("zlib", "1.3.1")
    assert c.evidence[0].method is EvidenceMethod.PACKAGE_METADATA
    assert idx.components_for("/usr/bin/unknown") == ()
    assert PackageIndex.wants("rootfs/var/lib/dpkg/status")
    assert upstream_version("2:8.14.1-2+deb13u2") == "8.14.1"


@pytest.mark.corpus
def test_corpus_real_files(corpus: Path) -> None:
    cases = [("root/arm64/zlib1g/usr/lib/aarch64-linux-gnu/libz.so.1.3.1", "zlib", "1.3.1"),
             ("root/riscv64/libcurl4t64/usr/lib/riscv64-linux-gnu/libcurl.so.4.8.0", "curl", "8.14.1"),
             ("fw/tcu_m4_debug.elf", "mbedtls", "3.6.6"),
             ("fw/gw_m7_verstr.hex", "wolfssl", "5.7.2")]
    for rel, cid, version in cases:
        path = corpus / rel
        if not path.exists():
            pytest.skip(f"{rel} missing")
        image = load(path.read_bytes(), rel)
        comps = identify(image, CAT)
        assert any(c.id == cid and c.version == version and c.relation is Relation.CONTAINS
                   for c in comps), (rel, [(c.id, c.version) for c in comps])


def test_bare_hint_claimed_by_another_component_is_no_candidate() -> None:
    # lwIP and zlib proven by markers; two bare versions: zlib's hint only admits "1.x.y",
    # lwIP's admits both, but "1.3.1" is zlib's evidence, so "2.2.1" is lwIP's
    data = (b"\x00" * 64 + b"pbuf_free: p->ref > 0\x00" + b"\x00" * 300 + b"invalid distance too far back\x00"
            + b"\x00" * 300 + b"1.3.1\x00\x00\x00" + b"\x00" * 300 + b"2.2.1\x00\x00\x00" + b"\x00" * 64)
    found = {(c.id, c.version) for c in identify(_raw(data), load_catalog())}
    assert ("zlib", "1.3.1") in found
    assert ("lwip", "2.2.1") in found
    assert ("lwip", "1.3.1") not in found
    # without the zlib marker, lwIP has two candidates and stays version-less
    alone = data.replace(b"invalid distance too far back", b"x" * 29)
    found = {(c.id, c.version) for c in identify(_raw(alone), load_catalog())}
    assert ("lwip", None) in found and not any(c == "zlib" for c, _ in found)


def _x2n_table(n: int) -> bytes:
    """x^(2^k) modulo the CRC-32 polynomial, reflected (what zlib's crc32_combine tabulates)."""
    def multmodp(a: int, b: int) -> int:
        m, p = 1 << 31, 0
        while True:
            if a & m:
                p ^= b
                if a & (m - 1) == 0:
                    return p
            m >>= 1
            b = (b >> 1) ^ 0xEDB88320 if b & 1 else b >> 1
    out, x = [], 1 << 30  # x^1
    for _ in range(n):
        out.append(x)
        x = multmodp(x, x)
    return b"".join(v.to_bytes(4, "little") for v in out)


def test_bare_version_after_binary_data_is_a_hint_candidate() -> None:
    # a table of zlib's CRC code (a marker) directly followed by its version literal, no NUL between
    data = b"\x00" * 32 + _x2n_table(32) + b"1.3.1\x00\x00\x00"
    found = {(c.id, c.version) for c in identify(_raw(data), load_catalog())}
    assert ("zlib", "1.3.1") in found
    # the plain CRC-32 table is everybody's (util-linux, busybox, U-Boot): it proves no zlib
    table = bytearray()
    for n in range(256):
        c = n
        for _ in range(8):
            c = 0xEDB88320 ^ (c >> 1) if c & 1 else c >> 1
        table += c.to_bytes(4, "little")
    found = {c.id for c in identify(_raw(b"\x00" * 32 + bytes(table) + b"1.3.1\x00\x00\x00"), load_catalog())}
    assert "zlib" not in found


def test_debian_dwz_altlink_proves_source_package_and_admits_hint() -> None:
    # a Debian bluez tool: only its dwz alt-link names the source package; the bare "5.82" is its version
    data = (b"\x00" * 64 + b"/usr/lib/debug/.dwz/aarch64-linux-gnu/bluez.debug\x00" + b"\x00" * 200
            + b"\x005.82\x00\x00\x00" + b"\x00" * 64)
    assert ("bluez", "5.82") in {(c.id, c.version) for c in identify(_raw(data), CAT)}
    other = data.replace(b"/bluez.debug", b"/other.debug")
    assert not any(c.id == "bluez" for c in identify(_raw(other), CAT))


def _program(path: str, data: bytes, needed: tuple[str, ...]) -> Image:
    return Image(path=path, format=ImageFormat.ELF, data=data, elf_type="dyn", needed=needed,
                 segments=(Segment("load", 0x10000, 0, len(data)),))


def test_own_program_linking_its_library_takes_the_bare_version() -> None:
    # sudo's front end: "Sudo version %s" and the version are two strings joined by code; the
    # program's own code is in libsudo_util, which it links (a USES hit, no code evidence here)
    data = (b"\x00" * 64 + b"Sudo version %s\n\x00" + b"\x00" * 200 + b"1.9.16p2\x00\x00\x00"
            + b"\x00" * 200 + b"2.38\x00" + b"\x00" * 64)
    comps = identify(_program("/usr/bin/sudo", data, ("libsudo_util.so.0", "libc.so.6")), CAT)
    sudo = _by_id(comps, "sudo")
    assert [(c.version, c.relation) for c in sudo] == [("1.9.16p2", Relation.CONTAINS)], sudo
    assert "program of sudo" in sudo[0].evidence[0].detail
    # a program of another name linking the library only uses it: no version is taken from its strings
    other = identify(_program("/usr/bin/helper", data, ("libsudo_util.so.0",)), CAT)
    assert [(c.version, c.relation) for c in _by_id(other, "sudo")] == [(None, Relation.USES)]
    # two candidates of the hint's shape: a guess, so no version and no presence claimed
    two = data.replace(b"2.38\x00", b"1.9.15p5\x00")
    assert [(c.version, c.relation) for c in _by_id(identify(_program("/usr/bin/sudo", two,
                                                                        ("libsudo_util.so.0",)), CAT), "sudo")] \
        == [(None, Relation.USES)]


_MINED = Path(os.environ.get("ECUSCAN_MINED_CORPUS", Path.home() / ".cache/ecuscan/catalog")) / "root"


@pytest.mark.parametrize(("rel", "cid", "version"), [
    # bullseye and trixie are the miner's; sid is held out
    ("bullseye-armhf/sudo/usr/bin/sudo", "sudo", "1.9.5p2"),
    ("trixie-arm64/sudo/usr/bin/sudo", "sudo", "1.9.16p2"),
    ("sid-arm64/sudo/usr/bin/sudo", "sudo", "1.9.17p2"),
    # coreutils keeps its version in a string of three bytes ("9.7"), joined to "(GNU coreutils)" by code
    ("bullseye-arm64/coreutils/bin/ls", "coreutils", "8.32"),
    ("trixie-armhf/coreutils/usr/bin/ls", "coreutils", "9.7"),
    ("sid-arm64/coreutils/usr/bin/sort", "coreutils", "9.10"),
])
def test_version_joined_to_the_name_by_code_on_real_programs(rel: str, cid: str, version: str) -> None:
    path = _MINED / rel
    if not path.is_file():
        pytest.skip(f"{path} missing (python -m ecuscan.mining fetch)")
    comps = identify(load(path.read_bytes(), str(path)), CAT)
    assert [(c.version, c.relation) for c in _by_id(comps, cid)] == [(version, Relation.CONTAINS)], \
        [(c.id, c.version, c.relation) for c in comps]


def test_gstreamer_plugin_descriptor_gives_the_module_version() -> None:
    # a plug-in's descriptor (GST_PLUGIN_DEFINE): source, license and version strings, each aligned
    data = b"\x13\x37" * 500 + b"\x00gst-plugins-good\x00\x00\x00\x00LGPL\x00\x00\x00\x001.26.2\x00" + b"\xff" * 300
    found = [(c.version, c.relation) for c in identify(_raw(data), CAT) if c.id == "gst-plugins-good"]
    assert found == [("1.26.2", Relation.CONTAINS)]


def test_gstreamer_module_names_table_is_no_plugin_descriptor() -> None:
    # gst-inspect lists the plug-in modules by name: no license and version follow a name there
    data = (b"\x00" * 64 + b"gst-plugins-base\x00gst-plugins-good\x00gst-plugins-ugly\x00gst-plugins-bad\x00"
            + b"\x00" * 64 + b"1.28.8\x00" + b"\x00" * 64)
    assert not any(c.id == "gst-plugins-good" and c.version for c in identify(_raw(data), CAT))
