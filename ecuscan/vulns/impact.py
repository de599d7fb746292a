"""Impact of findings through the supply chain: per component, firmware, ECU, vehicle, supplier.

:func:`aggregate_impact` takes findings and a :class:`Topology` (which firmware runs on
which ECU, which vehicles install which ECU, who delivered the ECU and who supplies whom)
and needs nothing else, so it is testable alone. :func:`topology_from_manifest` builds
the topology from a supply-chain manifest (:mod:`ecuscan.manifest`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL

from .records import Finding, Severity


@dataclass(frozen=True)
class Topology:
    """The supply-chain facts impact needs.

    ``firmware_ecus`` maps a firmware key (its path as given, or its sha256) to ECU ids;
    ``supplier_provides`` lists purls (version optional) a supplier provides.
    """

    firmware_ecus: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ecu_vehicles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ecu_supplier: Mapping[str, str] = field(default_factory=dict)
    supplier_sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    supplier_provides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def ecus_of(self, f: Finding) -> tuple[str, ...]:
        """ECUs running the firmware a finding is in."""
        keys = [k for k in (f.firmware_sha256, f.firmware_path, (f.firmware_path or "").split("!")[0]) if k]
        out: list[str] = []
        for k in keys:
            out.extend(e for e in self.firmware_ecus.get(k, ()) if e not in out)
        return tuple(out)


def finding_key(f: Finding) -> str:
    """A readable, stable key: ``CVE@purl in firmware``."""
    where = f" in {f.firmware_path}" if f.firmware_path else ""
    return f"{f.vuln_id}@{f.component_purl}{where}"


def _base(purl: str) -> tuple[str, str, str] | None:
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return None
    return p.type, (p.namespace or "").lower(), p.name.lower()


@dataclass(frozen=True)
class ImpactReport:
    """Exposed findings grouped along the supply chain (keys from :func:`finding_key`)."""

    by_component: Mapping[str, tuple[str, ...]]
    by_firmware: Mapping[str, tuple[str, ...]]
    by_ecu: Mapping[str, tuple[str, ...]]
    by_vehicle: Mapping[str, tuple[str, ...]]
    vehicle_ecus: Mapping[str, tuple[str, ...]]  # vehicle -> exposed ECUs
    by_supplier: Mapping[str, tuple[str, ...]]  # supplier -> findings in what it delivered
    worst: Severity | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        def d(m: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
            return {k: list(v) for k, v in sorted(m.items())}
        return {"by_component": d(self.by_component), "by_firmware": d(self.by_firmware),
                "by_ecu": d(self.by_ecu), "by_vehicle": d(self.by_vehicle),
                "vehicle_exposed_ecus": d(self.vehicle_ecus), "by_supplier": d(self.by_supplier),
                "worst_severity": self.worst.value if self.worst else None}


def _upstream(topo: Topology, supplier: str) -> list[str]:
    """Every supplier reachable through ``sources_from`` (cycles allowed), nearest first."""
    seen: list[str] = []
    queue = list(topo.supplier_sources.get(supplier, ()))
    while queue:
        s = queue.pop(0)
        if s in seen or s == supplier:
            continue
        seen.append(s)
        queue.extend(topo.supplier_sources.get(s, ()))
    return seen


def aggregate_impact(findings: Iterable[Finding], topo: Topology) -> ImpactReport:
    """Group the exposed (affected or unknown-range, not suppressed) findings along the chain.

    A finding counts for the supplier that delivered the ECU, and for every upstream supplier
    (through ``sources_from``) that declares it provides the component (by purl).

    >>> from ecuscan.vulns.records import FindingStatus
    >>> f = Finding(vuln_id="CVE-1", component_id="zlib", component_purl="pkg:generic/zlib@1.2.11",
    ...             component_version="1.2.11", status=FindingStatus.AFFECTED, matched_by=(),
    ...             firmware_path="bcm.elf")
    >>> t = Topology(firmware_ecus={"bcm.elf": ("bcm",)}, ecu_vehicles={"bcm": ("ev27",)},
    ...              ecu_supplier={"bcm": "acme"}, supplier_sources={"acme": ("zl",)},
    ...              supplier_provides={"zl": ("pkg:generic/zlib",)})
    >>> r = aggregate_impact([f], t)
    >>> r.vehicle_ecus["ev27"], sorted(r.by_supplier)
    (('bcm',), ['acme', 'zl'])
    """
    comp: dict[str, list[str]] = defaultdict(list)
    fw: dict[str, list[str]] = defaultdict(list)
    ecu: dict[str, list[str]] = defaultdict(list)
    veh: dict[str, list[str]] = defaultdict(list)
    veh_ecus: dict[str, list[str]] = defaultdict(list)
    sup: dict[str, list[str]] = defaultdict(list)
    worst: Severity | None = None

    def add(m: dict[str, list[str]], k: str, v: str) -> None:
        if v not in m[k]:
            m[k].append(v)

    for f in findings:
        if not f.exposed:
            continue
        key = finding_key(f)
        if f.severity and (worst is None or f.severity.rank() > worst.rank()):
            worst = f.severity
        add(comp, f.component_purl, key)
        if f.firmware_path or f.firmware_sha256:
            add(fw, (f.firmware_path or f.firmware_sha256 or "").split("!")[0], key)
        base = _base(f.component_purl)
        for e in topo.ecus_of(f):
            add(ecu, e, key)
            for v in topo.ecu_vehicles.get(e, ()):
                add(veh, v, key)
                add(veh_ecus, v, e)
            delivered_by = topo.ecu_supplier.get(e)
            if delivered_by:
                add(sup, delivered_by, key)
                for up in _upstream(topo, delivered_by):
                    if any(_base(p) == base for p in topo.supplier_provides.get(up, ())):
                        add(sup, up, key)
    def freeze(m: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
        return {k: tuple(v) for k, v in m.items()}

    return ImpactReport(by_component=freeze(comp), by_firmware=freeze(fw), by_ecu=freeze(ecu),
                        by_vehicle=freeze(veh), vehicle_ecus=freeze(veh_ecus), by_supplier=freeze(sup),
                        worst=worst)


def topology_from_manifest(manifest: Any) -> Topology:
    """A :class:`Topology` from an :class:`ecuscan.manifest.Manifest`."""
    fw: dict[str, list[str]] = defaultdict(list)
    for e in manifest.ecus:
        for ref in e.firmware:
            for key in {ref.path, getattr(ref, "declared_path", "") or ref.path}:
                if e.id not in fw[key]:
                    fw[key].append(e.id)
    veh: dict[str, list[str]] = defaultdict(list)
    for v in manifest.vehicles:
        for e_id in v.ecus:
            veh[e_id].append(v.id)
    return Topology(
        firmware_ecus={k: tuple(v) for k, v in fw.items()},
        ecu_vehicles={k: tuple(v) for k, v in veh.items()},
        ecu_supplier={e.id: e.supplier for e in manifest.ecus},
        supplier_sources={s.id: tuple(s.sources_from) for s in manifest.suppliers},
        supplier_provides={s.id: tuple(s.provides) for s in manifest.suppliers})
