"""Synthetic supply chains: a tiny one for examples and a large OEM portfolio for benchmarks.

:func:`portfolio` makes a manifest plus scan results for an OEM with vehicle lines that
share ECU variants, each ECU running several firmware releases, each release holding
components (chosen with a skewed popularity, as in real fleets where a few libraries are
everywhere), with suppliers in three tiers plus open-source projects. The output is
deterministic for a seed. Nothing here reads files.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from ecuscan.graph.build import SupplyGraph, build_graph
from ecuscan.manifest import Ecu, FirmwareRef, Manifest, Supplier, Vehicle
from ecuscan.model import Component, ComponentId, Evidence, EvidenceMethod, ImageFormat, Provenance, ScanResult, Sha256


@dataclass(frozen=True)
class _Decl:
    name: str
    version: str | None
    purl: str | None
    cpe: str | None = None
    supplier: str | None = None
    hashes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _DeclSbom:
    components: tuple[_Decl, ...]


def tiny_manifest() -> Manifest:
    """A five-supplier, one-ECU manifest (used by the docstring examples)."""
    sup = (
        Supplier("acme", "ACME Electronics", 1, sources_from=("rtos", "zlib")),
        Supplier("rtos", "RTOS Co", 2, provides=("pkg:generic/freertos",)),
        Supplier("zlib", "zlib project", "oss", provides=("pkg:generic/zlib",)),
        Supplier("mirror", "Mirror GmbH", 2, provides=("zlib",)),
    )
    ecu = Ecu("bcm", "Body Control Module", "acme",
              firmware=(FirmwareRef(path="bcm.elf", version="2.4.1", declared_path="bcm.elf"),))
    return Manifest("tiny", sup, (ecu,), (Vehicle("ev", "EV", ("bcm",)),))


def tiny_graph() -> SupplyGraph:
    """The graph of :func:`tiny_manifest`; its firmware declares zlib 1.2.11, FreeRTOS 10.5.1
    and Mbed TLS 2.28.0 (which no supplier provides)."""
    sbom = _DeclSbom((_Decl("zlib", "1.2.11", "pkg:generic/zlib@1.2.11"),
                      _Decl("freertos", "10.5.1", "pkg:generic/freertos@10.5.1"),
                      _Decl("mbedtls", "2.28.0", "pkg:generic/mbedtls@2.28.0")))
    return build_graph(tiny_manifest(), declared={"bcm.elf": sbom})


@dataclass(frozen=True)
class Portfolio:
    """A synthetic manifest with its scan results (keyed by firmware path)."""

    manifest: Manifest
    scans: dict[str, ScanResult]


def portfolio(*, vehicles: int = 40, ecu_variants: int = 600, ecus_per_vehicle: int = 60,
              releases: int = 4, component_names: int = 400, versions: int = 6,
              components_per_firmware: int = 120, tier1: int = 25, tier2: int = 60, tier3: int = 80,
              oss: int = 150, seed: int = 1) -> Portfolio:
    """Generate an OEM portfolio. Edges ≈ firmware × components_per_firmware, so the defaults
    (600 variants × 4 releases × 120) give about 290k; raise the counts for 1M edges.

    >>> p = portfolio(vehicles=2, ecu_variants=3, ecus_per_vehicle=2, releases=1, component_names=5,
    ...               versions=1, components_per_firmware=2, tier1=1, tier2=1, tier3=1, oss=1)
    >>> len(p.manifest.ecus), len(p.scans)
    (3, 3)
    """
    rnd = random.Random(seed)
    t1 = [f"t1-{i}" for i in range(tier1)]
    t2 = [f"t2-{i}" for i in range(tier2)]
    t3 = [f"t3-{i}" for i in range(tier3)]
    os_ = [f"oss-{i}" for i in range(oss)]
    names = [f"lib{i:04d}" for i in range(component_names)]
    # each component name has one or two providers among tier 2/3 and OSS
    provides: dict[str, list[str]] = {s: [] for s in t2 + t3 + os_}
    pool = t2 + t3 + os_
    for n in names:
        for s in rnd.sample(pool, rnd.choice((1, 1, 1, 2))):
            provides[s].append(f"pkg:generic/{n}")
    suppliers: list[Supplier] = []
    for s in t1:
        src = rnd.sample(t2, min(len(t2), rnd.randint(2, 6))) + rnd.sample(os_, min(len(os_), rnd.randint(1, 5)))
        suppliers.append(Supplier(s, s.upper(), 1, sources_from=tuple(src)))
    for s in t2:
        src = rnd.sample(t3, min(len(t3), rnd.randint(0, 3)))
        suppliers.append(Supplier(s, s.upper(), 2, sources_from=tuple(src), provides=tuple(provides[s])))
    for s in t3:
        suppliers.append(Supplier(s, s.upper(), 3, provides=tuple(provides[s])))
    for s in os_:
        suppliers.append(Supplier(s, s, "oss", provides=tuple(provides[s])))
    # skewed popularity: a few components are in most firmware
    weights = [1.0 / (i + 1) ** 0.8 for i in range(component_names)]
    comps = {(n, v): Component(id=ComponentId(n), name=n, version=f"1.{v}.0", purl=f"pkg:generic/{n}@1.{v}.0",
                               confidence=0.9, evidence=(Evidence(EvidenceMethod.VERSION_STRING, 0.9),))
             for n in names for v in range(versions)}
    ecus: list[Ecu] = []
    scans: dict[str, ScanResult] = {}
    prov = Provenance(sha256=Sha256("0" * 64), size=0)
    for i in range(ecu_variants):
        fws = []
        for r in range(releases):
            path = f"fw/ecu{i:05d}_r{r}.bin"
            sha = Sha256(hashlib.sha256(path.encode()).hexdigest())
            chosen = set(rnd.choices(names, weights=weights, k=components_per_firmware))
            while len(chosen) < min(components_per_firmware, component_names):
                chosen.add(rnd.choice(names))
            cs = tuple(comps[n, min(versions - 1, r + rnd.randint(0, 1))] for n in sorted(chosen))
            scans[path] = ScanResult(path=path, sha256=sha, size=0, format=ImageFormat.RAW,
                                     provenance=prov, components=cs)
            fws.append(FirmwareRef(path=path, role="application", version=f"{r}.0", declared_path=path))
        ecus.append(Ecu(f"ecu{i:05d}", f"ECU variant {i}", rnd.choice(t1), firmware=tuple(fws)))
    vehs = [Vehicle(f"line{i:03d}", f"Vehicle line {i}",
                    tuple(sorted(rnd.sample([e.id for e in ecus], min(ecus_per_vehicle, len(ecus))))))
            for i in range(vehicles)]
    return Portfolio(Manifest("synthetic portfolio", tuple(suppliers), tuple(ecus), tuple(vehs)), scans)
