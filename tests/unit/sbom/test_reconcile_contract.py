"""The reconciliation's decisions and its JSON form, case by case (each case was a planted bug that
the rest of the suite let through: tests/benchmarks/bench_mutation.py)."""

from __future__ import annotations

import dataclasses

from ecuscan.model import Component, ComponentId, Relation
from ecuscan.sbom import DeclaredComponent, DeclaredSbom, SbomFormat
from ecuscan.sbom.reconcile import normalize_version, reconcile, versions_equal

from .sbom_samples import CATALOG, bcm_result


def declared(*items: DeclaredComponent) -> DeclaredSbom:
    return DeclaredSbom(source="acme/bcm.cdx.json", format=SbomFormat.CYCLONEDX_JSON, spec_version="1.6",
                        product=None, components=items)


def test_trailing_zeros_fold_down_to_major_minor_only() -> None:
    assert normalize_version("2.0.0") == "2.0"
    assert normalize_version("2.0") == "2.0"  # not "2": a major.minor release stays one
    assert normalize_version("10.0.00") == "10.0"
    assert versions_equal("v3.6.0", "3.6") and not versions_equal("3.6.0", "3.6.1")
    assert not versions_equal(None, None) and not versions_equal("1.0", None)


def test_a_declaration_without_version_confirms_a_found_version() -> None:
    """A supplier SBOM that names the component but no version is incomplete, not wrong."""
    r = reconcile(bcm_result(), declared(DeclaredComponent("Mbed TLS", None), DeclaredComponent("FreeRTOS", "")),
                  CATALOG)
    assert [i.key for i in r.matched] == ["freertos", "mbedtls"]
    assert r.version_mismatch == ()


def test_a_found_component_without_version_matches_any_declared_version() -> None:
    found = bcm_result(mbedtls="")
    r = reconcile(found, declared(DeclaredComponent("Mbed TLS", "3.6.0"), DeclaredComponent("FreeRTOS", "10.6.2")),
                  CATALOG)
    assert [i.key for i in r.matched] == ["freertos", "mbedtls"]


def test_differing_versions_on_both_sides_are_a_mismatch() -> None:
    r = reconcile(bcm_result(), declared(DeclaredComponent("Mbed TLS", "3.5.2"),
                                         DeclaredComponent("FreeRTOS", "10.6.2")), CATALOG)
    assert [i.key for i in r.version_mismatch] == ["mbedtls"]
    assert r.completeness == 0.5


def test_the_image_listed_as_its_own_component_is_skipped_and_the_rest_still_count() -> None:
    """CycloneDX tools often list the product itself among the components, before the libraries."""
    sbom = declared(DeclaredComponent("bcm_app.elf", "2.4.1"), DeclaredComponent("Mbed TLS", "3.6.0"),
                    DeclaredComponent("FreeRTOS", "10.6.2"))
    r = reconcile(bcm_result(), sbom, CATALOG)
    assert [i.key for i in r.matched] == ["freertos", "mbedtls"]
    assert r.unconfirmed == () and r.undeclared == ()
    # only the file name counts, not a directory of the scanned path
    r = reconcile(bcm_result(), declared(DeclaredComponent("bcm-2.4.1", "2.4.1")), CATALOG)
    assert [i.key for i in r.unconfirmed] == ["name:bcm241"]
    # a path without a directory is its own file name
    bare = dataclasses.replace(bcm_result(), path="bcm_app.elf")
    r = reconcile(bare, declared(DeclaredComponent("bcm_app.elf", "2.4.1"), DeclaredComponent("Mbed TLS", "3.6.0")),
                  CATALOG)
    assert [i.key for i in r.matched] == ["mbedtls"] and r.unconfirmed == ()


def test_a_component_the_catalog_does_not_know_meets_its_found_namesake() -> None:
    """An in-house component found by another method (e.g. an AUTOSAR module) is matched by name."""
    canif = Component(id=ComponentId("autosar-canif"), name="AUTOSAR CanIf", version="6.2.1",
                      purl="pkg:generic/autosar-canif@6.2.1", relation=Relation.CONTAINS)
    r = reconcile(bcm_result(extra=(canif,)), declared(DeclaredComponent("autosar canif", "6.2.1"),
                                                       DeclaredComponent("Mbed TLS", "3.6.0"),
                                                       DeclaredComponent("FreeRTOS", "10.6.2")), CATALOG)
    assert [i.key for i in r.matched] == ["autosar-canif", "freertos", "mbedtls"]
    assert r.undeclared == () and r.unconfirmed == ()


def test_json_form_names_every_list_and_field() -> None:
    r = reconcile(bcm_result(), declared(DeclaredComponent("Mbed TLS", "3.6.0"),
                                         DeclaredComponent("ACME CAN stack", "4.1")), CATALOG)
    d = r.to_dict()
    assert d["sbom"] == "acme/bcm.cdx.json" == r.sbom
    assert d["images"] == ["/fw/bcm-2.4.1/bcm_app.elf"]
    assert d["completeness"] == 0.5 and d["passed"] is False
    assert d["counts"] == {"matched": 1, "version_mismatch": 0, "undeclared": 1, "unconfirmed": 1,
                           "undeclared_uses": 1}
    assert [i["key"] for i in d["matched"]] == ["mbedtls"]
    assert d["version_mismatch"] == []
    assert [i["key"] for i in d["undeclared_uses"]] == ["zlib"]
    assert d["notes"] == []
    [undeclared] = d["undeclared"]
    assert undeclared == {"key": "freertos", "name": "FreeRTOS", "found_versions": ["10.6.2"],
                          "declared_versions": [], "detectable": True,
                          "found": [c.to_dict() for c in bcm_result().components if c.id == "freertos"],
                          "declared": []}
    [unconfirmed] = d["unconfirmed"]
    assert unconfirmed["key"] == "name:acmecanstack" and unconfirmed["name"] == "ACME CAN stack"
    assert unconfirmed["detectable"] is False and unconfirmed["found"] == []
    assert unconfirmed["declared_versions"] == ["4.1"]
    assert unconfirmed["declared"] == [DeclaredComponent("ACME CAN stack", "4.1").to_dict()]


def test_completeness_is_rounded_to_four_places_in_json() -> None:
    canif = Component(id=ComponentId("autosar-canif"), name="AUTOSAR CanIf", version="6.2.1",
                      purl="pkg:generic/autosar-canif@6.2.1")
    r = reconcile(bcm_result(extra=(canif,)), declared(DeclaredComponent("Mbed TLS", "3.6.0"),
                                                       DeclaredComponent("FreeRTOS", "10.6.2")), CATALOG)
    assert r.completeness == 2 / 3
    assert r.to_dict()["completeness"] == 0.6667
    assert r.to_dict()["notes"] == []
    assert reconcile(bcm_result(), declared(), CATALOG).to_dict()["notes"] == ["the SBOM declares no components"]


def test_one_contained_copy_makes_a_component_undeclared() -> None:
    """An image set where zlib is only used by one image but built into another: the SBOM must list it."""
    user = bcm_result()  # zlib 1.3.1 through DT_NEEDED only
    holder = dataclasses.replace(bcm_result(label="gw-1.0"), path="/fw/gw.elf",
                                 components=tuple(dataclasses.replace(c, relation=Relation.CONTAINS)
                                                  for c in bcm_result().components if c.id == "zlib"))
    r = reconcile([user, holder], declared(DeclaredComponent("Mbed TLS", "3.6.0"),
                                           DeclaredComponent("FreeRTOS", "10.6.2")), CATALOG)
    assert [i.key for i in r.undeclared] == ["zlib"] and r.undeclared_uses == ()
    assert [c.relation for c in r.undeclared[0].found] == [Relation.USES, Relation.CONTAINS]
