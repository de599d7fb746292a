"""Fixtures for the graph tests: the small hand-checked portfolio with hand-made scans."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ecuscan.catalog import Catalog, CatalogEntry
from ecuscan.graph.build import SupplyGraph, build_graph
from ecuscan.manifest import Manifest, load_manifest
from ecuscan.model import (
    Component,
    ComponentId,
    Evidence,
    EvidenceMethod,
    ImageFormat,
    Provenance,
    Relation,
    ScanResult,
    Sha256,
)

GRAPHS = Path(__file__).resolve().parents[3] / "graphs" / "tests"


def catalog() -> Catalog:
    """A fixed catalog so the tests do not depend on the shipped data file."""
    e = CatalogEntry
    return Catalog([
        e(ComponentId("zlib"), "zlib", "pkg:generic/zlib", aliases=("libz",)),
        e(ComponentId("freertos"), "FreeRTOS", "pkg:generic/freertos"),
        e(ComponentId("mbedtls"), "Mbed TLS", "pkg:github/Mbed-TLS/mbedtls", cpes=(("arm", "mbed_tls"),),
          aliases=("mbedTLS",)),
        e(ComponentId("cmsis"), "CMSIS", "pkg:github/ARM-software/CMSIS_5"),
        e(ComponentId("lwip"), "lwIP", "pkg:generic/lwip"),
    ])


def comp(cat: Catalog, cid: str, version: str | None, relation: Relation = Relation.CONTAINS,
         evidence: int = 1) -> Component:
    entry = cat.get(cid)
    assert entry is not None
    return Component(id=ComponentId(cid), name=entry.name, version=version, purl=entry.purl(version),
                     relation=relation, confidence=0.9,
                     evidence=tuple(Evidence(EvidenceMethod.VERSION_STRING, 0.9, text=f"{cid} {version}")
                                    for _ in range(evidence)))


def scan(path: str, *components: Component) -> ScanResult:
    sha = Sha256(f"{abs(hash(path)):064x}"[-64:])
    return ScanResult(path=path, sha256=sha, size=1, format=ImageFormat.RAW,
                      provenance=Provenance(sha256=sha, size=1), components=components)


@dataclass(frozen=True)
class Decl:
    name: str
    version: str | None
    purl: str | None = None
    cpe: str | None = None
    supplier: str | None = None
    hashes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeclSbom:
    components: tuple[Decl, ...]


def small_inputs(m: Manifest, cat: Catalog) -> tuple[dict[str, ScanResult], dict[str, DeclSbom]]:
    fw = {Path(f.path).name: f.path for e in m.ecus for f in e.firmware}
    scans = {
        fw["bcm_app.bin"]: scan("bcm_app", comp(cat, "zlib", "1.2.11", evidence=3), comp(cat, "freertos", "10.4.3")),
        fw["gw_app.bin"]: scan("gw_app", comp(cat, "zlib", "1.3.1"), comp(cat, "mbedtls", "3.6.0"),
                               comp(cat, "freertos", "10.5.1")),
        fw["gw_boot.bin"]: scan("gw_boot", comp(cat, "cmsis", "5.9.0")),
        fw["esc.bin"]: scan("esc", comp(cat, "freertos", "10.4.3"), comp(cat, "lwip", None, Relation.USES)),
    }
    declared = {fw["gw_app.bin"]: DeclSbom((Decl("zlib", "1.3.1", "pkg:generic/zlib@1.3.1"),
                                            Decl("mbed TLS", "3.6.0"), Decl("crc-lib", "0.3")))}
    return scans, declared


@pytest.fixture
def small_manifest() -> Manifest:
    return load_manifest(GRAPHS / "small.yaml")


@pytest.fixture
def small(small_manifest: Manifest) -> SupplyGraph:
    cat = catalog()
    scans, declared = small_inputs(small_manifest, cat)
    return build_graph(small_manifest, scans, declared, cat)
