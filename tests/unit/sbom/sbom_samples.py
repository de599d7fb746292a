"""Hand-built scan results and a small catalog for the SBOM tests (the scanner is not needed)."""

from __future__ import annotations

import hashlib

from ecuscan.catalog import Catalog, CatalogEntry
from ecuscan.model import (
    Certificate,
    Component,
    ComponentId,
    Diagnostic,
    Endianness,
    Evidence,
    EvidenceMethod,
    ImageFormat,
    Provenance,
    Relation,
    ScanResult,
    Segment,
    Sha256,
    Toolchain,
)


def sha(text: str) -> Sha256:
    return Sha256(hashlib.sha256(text.encode()).hexdigest())


CATALOG = Catalog([
    CatalogEntry(id=ComponentId("mbedtls"), name="Mbed TLS", purl_base="pkg:github/Mbed-TLS/mbedtls",
                 vendor="Arm / TrustedFirmware.org", cpes=(("arm", "mbed_tls"), ("arm", "mbedtls")),
                 aliases=("mbedTLS", "mbed TLS", "polarssl"), purl_aliases=("pkg:generic/mbedtls",),
                 network_facing=True),
    CatalogEntry(id=ComponentId("freertos"), name="FreeRTOS", purl_base="pkg:github/FreeRTOS/FreeRTOS-Kernel",
                 vendor="Amazon", cpes=(("amazon", "freertos"),), aliases=("FreeRTOS Kernel", "freertos-kernel"),
                 kind="rtos"),
    CatalogEntry(id=ComponentId("zlib"), name="zlib", purl_base="pkg:generic/zlib", vendor="zlib project",
                 cpes=(("zlib", "zlib"),), aliases=("libz", "zlib1g")),
    CatalogEntry(id=ComponentId("lwip"), name="lwIP", purl_base="pkg:generic/lwip", vendor="lwIP project",
                 cpes=(("lwip_project", "lwip"),), network_facing=True),
    CatalogEntry(id=ComponentId("cmsis"), name="CMSIS", purl_base="pkg:github/ARM-software/CMSIS_5",
                 vendor="Arm", aliases=("CMSIS-Core",)),
])


def comp(cid: str, version: str | None, *, relation: Relation = Relation.CONTAINS,
         evidence: tuple[Evidence, ...] = ()) -> Component:
    entry = CATALOG.get(cid)
    assert entry is not None
    return Component(id=ComponentId(cid), name=entry.name, version=version, purl=entry.purl(version),
                     cpe=entry.cpe(version), vendor=entry.vendor, relation=relation,
                     confidence=max((e.confidence for e in evidence), default=0.5), evidence=evidence)


def bcm_result(*, mbedtls: str = "3.6.0", compiler: str = "13.2.1", flags: tuple[str, ...] = ("-O2", "-mcpu=cortex-m4"),
               build_paths: tuple[str, ...] = ("/home/ci/build/bcm/src/main.c", "/home/ci/build/bcm/src/can.c"),
               users: tuple[str, ...] = ("ci",), hosts: tuple[str, ...] = (), build_id: str | None = "3f9a1c77e0",
               certs: tuple[Certificate, ...] | None = None, extra: tuple[Component, ...] = (),
               label: str = "bcm-2.4.1") -> ScanResult:
    """A body-control-module ELF as the scanner would describe it."""
    digest = sha(label + mbedtls + compiler + "".join(flags) + "".join(build_paths) + str(build_id)
                 + "".join(c.id + str(c.version) for c in extra))
    if certs is None:
        certs = (Certificate(kind="x509-certificate", offset=0x4200, size=612, sha256=sha("oem-root-ca"),
                             subject="CN=OEM Root CA 2024", issuer="CN=OEM Root CA 2024", key_type="EC-P256"),)
    components = (
        comp("mbedtls", mbedtls, evidence=(
            Evidence(EvidenceMethod.VERSION_STRING, 0.95, text=f"Mbed TLS {mbedtls}", offset=0x1A2B0,
                     address=0x0801A2B0, detail="mbedtls-version"),
            Evidence(EvidenceMethod.SYMBOL, 0.8, text="mbedtls_ssl_handshake", offset=0x3C10,
                     address=0x08003C10, detail="symbols"),)),
        comp("freertos", "10.6.2", evidence=(
            Evidence(EvidenceMethod.SYMBOL, 0.85, text="xTaskCreate", offset=0x0900, address=0x08000900,
                     detail="symbols"),
            Evidence(EvidenceMethod.DWARF_UNIT, 0.7, text="/home/ci/build/bcm/FreeRTOS-Kernel-10.6.2/tasks.c",
                     detail="dwarf-path"),
            Evidence(EvidenceMethod.CONSTANT, 0.9, text="tskKERNEL_VERSION_NUMBER V10.6.2", offset=0x20010,
                     address=0x08020010, detail="freertos-version"),)),
        comp("zlib", "1.3.1", relation=Relation.USES, evidence=(
            Evidence(EvidenceMethod.NEEDED, 0.6, text="libz.so.1", detail="DT_NEEDED"),)),
        *extra,
    )
    prov = Provenance(
        sha256=digest, size=262144, build_id=build_id,
        toolchains=(Toolchain(name="GCC", version=compiler, source="comment",
                              text=f"GCC: (Arm GNU Toolchain {compiler}) {compiler}", flags=flags),),
        build_paths=build_paths, users=users, hosts=hosts, timestamps=("2024-05-02T10:11:12",),
        stripped=False, has_dwarf=True, certificates=certs)
    return ScanResult(
        path=f"/fw/{label}/bcm_app.elf", sha256=digest, size=262144, format=ImageFormat.ELF, provenance=prov,
        components=components,
        segments=(Segment(name=".text", address=0x08000000, offset=0x1000, size=0x30000, sha256=sha("text")),),
        arch="arm", bits=32, endianness=Endianness.LITTLE, entry=0x08000401, elf_type="exec",
        metadata={"sw_part_number": "32200123 AA", "sw_version": label.split("-")[-1], "did:F188": "32200123 AA"},
        diagnostics=(Diagnostic(code="elf-no-section-headers", message="odd\x1b[31m but readable"),),
        scanner_version="0.1.0+test")


def gateway_hex_result() -> ScanResult:
    """A gateway image loaded from Intel HEX (offsets are in the decoded payload)."""
    digest = sha("gateway")
    return ScanResult(
        path="/fw/gw.hex", sha256=digest, size=9000, format=ImageFormat.IHEX,
        provenance=Provenance(sha256=digest, size=9000),
        components=(comp("lwip", "2.2.0", evidence=(
            Evidence(EvidenceMethod.VERSION_STRING, 0.9, text="lwIP/2.2.0", offset=0x200, address=0x200,
                     detail="lwip-version"),)),),
        arch="arm", scanner_version="0.1.0+test")
