"""Reconciliation of a supplier SBOM with what the scan found."""

from __future__ import annotations

from pathlib import Path

from ecuscan.model import Evidence, EvidenceMethod
from ecuscan.sbom import DeclaredComponent, DeclaredSbom, SbomFormat
from ecuscan.sbom.importer import load_sbom
from ecuscan.sbom.reconcile import normalize_version, reconcile

from .sbom_samples import CATALOG, bcm_result, comp

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "sbom"


def declared(*items: DeclaredComponent) -> DeclaredSbom:
    return DeclaredSbom(source="supplier.json", format=SbomFormat.CYCLONEDX_JSON, spec_version="1.6",
                        product=None, components=items)


def test_aliases_purls_and_cpes_meet() -> None:
    found = bcm_result()
    for d in (DeclaredComponent("mbedTLS", "3.6.0"), DeclaredComponent("mbed TLS", "v3.6.0"),
              DeclaredComponent("whatever", "3.6.0", purl="pkg:github/Mbed-TLS/mbedtls@3.6.0"),
              DeclaredComponent("x", "3.6.0", cpe="cpe:2.3:a:arm:mbed_tls:3.6.0:*:*:*:*:*:*:*"),
              DeclaredComponent("polarssl", "3.6")):
        r = reconcile(found, declared(d, DeclaredComponent("FreeRTOS", "10.6.2")), CATALOG)
        assert [i.key for i in r.matched] == ["freertos", "mbedtls"], d
        assert r.version_mismatch == () and r.unconfirmed == ()
        assert [i.key for i in r.undeclared_uses] == ["zlib"]  # DT_NEEDED only: informational
        assert r.passed and r.completeness == 1.0


def test_supplier_cdx14_against_scan() -> None:
    """The ACME SBOM states FreeRTOS 10.5.1, the binary holds 10.6.2; the CAN stack is unknown to us."""
    doc = load_sbom(DATA / "supplier-bcm.cdx14.json")
    r = reconcile(bcm_result(), doc, CATALOG)
    assert [i.key for i in r.matched] == ["mbedtls"]  # v3.6.0 == 3.6.0, purl spelled differently
    [mm] = r.version_mismatch
    assert (mm.key, mm.found_versions, mm.declared_versions) == ("freertos", ("10.6.2",), ("10.5.1",))
    unconf = {i.name: i for i in r.unconfirmed}
    assert set(unconf) == {"acme-can-stack", "CMSIS"}
    assert unconf["acme-can-stack"].detectable is False  # not in the catalog: cannot confirm
    assert unconf["CMSIS"].detectable is True  # catalog knows it, scan did not find it
    assert r.undeclared == () and r.passed
    assert r.completeness == 0.5  # 1 matched / (1 matched + 1 mismatch + 0 undeclared)


def test_undeclared_components_fail_with_evidence() -> None:
    lwip = comp("lwip", "2.1.3", evidence=(Evidence(EvidenceMethod.VERSION_STRING, 0.9, text="lwIP/2.1.3",
                                                    offset=0x5000),))
    found = bcm_result(extra=(lwip,))
    r = reconcile([found], declared(DeclaredComponent("Mbed TLS", "3.6.0")), CATALOG)
    assert [i.key for i in r.undeclared] == ["freertos", "lwip"]
    assert not r.passed
    assert r.completeness == 1 / 3
    d = r.to_dict()
    assert d["passed"] is False and d["counts"]["undeclared"] == 2
    lw = next(i for i in d["undeclared"] if i["key"] == "lwip")
    assert lw["found"][0]["evidence"][0]["text"] == "lwIP/2.1.3"


def test_empty_sbom_and_image_listed_as_component() -> None:
    r = reconcile(bcm_result(), declared(DeclaredComponent("bcm_app.elf", "2.4.1")), CATALOG)
    assert r.unconfirmed == ()  # the image itself is not a component
    assert {i.key for i in r.undeclared} == {"freertos", "mbedtls"}
    assert reconcile(bcm_result(), declared(), CATALOG).notes == ("the SBOM declares no components",)


def test_normalize_version() -> None:
    assert normalize_version("v2.28.0") == normalize_version("2.28")
    assert normalize_version("10.6.2") != normalize_version("10.6.20")
