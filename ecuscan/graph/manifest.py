"""The supply-chain manifest (v1): loading, validation with file/line/field errors, records.

A manifest (YAML or JSON) names suppliers in tiers, the ECUs they deliver with their
firmware, and the vehicles that install those ECUs. It is validated against the JSON
Schema shipped in the package (``ecuscan/schemas/manifest-v1.schema.json``), then checked
for what a schema cannot say: unknown or duplicate ids and missing files. Every error
names the file, the line and the field (``demo.yaml:12: ecus[0].supplier: ...``).

Line numbers come from the YAML node tree: the document is *composed* (not loaded), each
node's start mark is recorded under its JSON path, and the data is built from the nodes by
hand, so mapping keys always stay strings (``F189`` or ``1234`` as DID keys) and duplicate
keys are refused. JSON is parsed by :mod:`json` and mapped to lines through the same
composer (JSON is YAML).

Cycles in ``sources_from`` are allowed (suppliers do buy from each other) and reported in
:attr:`Manifest.warnings`.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import networkx as nx
import yaml

from ..errors import ManifestError
from ..limits import DEFAULT_LIMITS, Limits

SCHEMA_ID = "ecuscan/manifest/v1"

#: A supplier tier: 1, 2, 3 ... or ``"oss"`` for open-source projects.
Tier = int | str

JsonPath = tuple[str | int, ...]


class Addressing(enum.StrEnum):
    """ISO-TP addressing mode of an ECU on the bench."""

    NORMAL_11BIT = "normal_11bit"
    NORMAL_FIXED_29BIT = "normal_fixed_29bit"


@dataclass(frozen=True)
class Supplier:
    """A supplier (tier 1, 2, 3 ... or ``oss``) and whom it sources from."""

    id: str
    name: str
    tier: Tier
    sources_from: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    tisax: str | None = None
    country: str | None = None
    contact: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class FirmwareRef:
    """One firmware image an ECU runs. ``path`` is resolved against the manifest's folder;
    ``declared_path`` is as written; ``sbom`` (resolved) is the supplier's declared SBOM."""

    path: str
    role: str = "application"
    version: str | None = None
    sbom: str | None = None
    sha256: str | None = None
    declared_path: str = ""
    base_address: int | None = None  # load address of a raw flash dump
    previous: str | None = None  # the previous release of this firmware (resolved path): audit diffs against it


@dataclass(frozen=True)
class DidSpec:
    """An OEM-specific data identifier read on the bench, with how to decode its value."""

    did: int
    codec: str
    name: str = ""
    length: int | None = None


@dataclass(frozen=True)
class BenchSpec:
    """How to reach one ECU on the bench and what it must answer.

    ``expect`` maps DID numbers to the expected decoded value.
    """

    tx_id: int | None = None
    rx_id: int | None = None
    addressing: Addressing = Addressing.NORMAL_11BIT
    target_address: int | None = None
    source_address: int | None = None
    expect: tuple[tuple[int, str], ...] = ()
    dids: tuple[DidSpec, ...] = ()
    #: For the built-in simulator only: ``{"values": {DID: text}, "faults": {...}, "response_delay": s}``
    #: (what the simulated ECU answers instead of the analysed release; see ecuscan.bench.simulator.Faults).
    simulate: Mapping[str, Any] | None = None
    #: SecurityAccess for ``verify --read-memory`` (see ecuscan.bench.targets.security_config).
    security: Mapping[str, Any] | None = None
    #: The ECU's CVN algorithm and regions (see ecuscan.bench.targets.cvn_config).
    cvn: Mapping[str, Any] | None = None

    def expected(self) -> dict[int, str]:
        """``expect`` as a dict."""
        return dict(self.expect)


@dataclass(frozen=True)
class Ecu:
    """An ECU variant: who supplies it, what firmware it runs, how it answers on the bench."""

    id: str
    name: str
    supplier: str
    firmware: tuple[FirmwareRef, ...] = ()
    hardware_part_number: str | None = None
    criticality: str | None = None
    bench: BenchSpec | None = None
    line: int | None = None


@dataclass(frozen=True)
class Vehicle:
    """A vehicle line / type and the ECUs it installs. ``rxswin``: UN R156 identifiers."""

    id: str
    name: str
    ecus: tuple[str, ...] = ()
    rxswin: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class BenchSettings:
    """The top-level ``bench:`` section: which CAN interface, or the built-in simulator."""

    simulate: bool = False
    interface: str | None = None
    channel: str | None = None
    bitrate: int | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Manifest:
    """A validated supply-chain manifest. ``warnings`` lists sourcing cycles and oddities."""

    name: str
    suppliers: tuple[Supplier, ...]
    ecus: tuple[Ecu, ...]
    vehicles: tuple[Vehicle, ...]
    feeds: tuple[str, ...] = ()
    vex: tuple[str, ...] = ()
    bench: BenchSettings = field(default_factory=BenchSettings)
    source: str = "<manifest>"
    base_dir: str = "."
    warnings: tuple[str, ...] = ()

    def supplier(self, supplier_id: str) -> Supplier | None:
        """The supplier with this id."""
        return next((s for s in self.suppliers if s.id == supplier_id), None)

    def ecu(self, ecu_id: str) -> Ecu | None:
        """The ECU with this id."""
        return next((e for e in self.ecus if e.id == ecu_id), None)

    def vehicle(self, vehicle_id: str) -> Vehicle | None:
        """The vehicle with this id."""
        return next((v for v in self.vehicles if v.id == vehicle_id), None)


@lru_cache(maxsize=1)
def manifest_schema() -> dict[str, Any]:
    """The published JSON Schema of manifest v1 (a dict)."""
    text = resources.files("ecuscan.schemas").joinpath("manifest-v1.schema.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


# ---------------------------------------------------------------------------------------------
# Reading: YAML/JSON text -> (data, {json path: line})


class _Reader:
    """Builds plain data from a composed YAML node tree and records each node's line."""

    def __init__(self, source: str, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.lines: dict[JsonPath, int] = {}
        self.count = 0
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: JsonPath, depth: int = 0) -> Any:
        self.count += 1
        if self.count > self.limits.max_document_items:
            raise ManifestError(f"more than {self.limits.max_document_items} nodes (alias bomb?)",
                                source=self.source)
        if depth > self.limits.max_document_depth:
            raise ManifestError(f"line {node.start_mark.line + 1}: nesting deeper than "
                                f"{self.limits.max_document_depth}", source=self.source)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for knode, vnode in node.value:
                if not isinstance(knode, yaml.ScalarNode):
                    raise ManifestError(f"line {knode.start_mark.line + 1}: mapping keys must be plain "
                                        "scalars", source=self.source)
                key = str(knode.value)
                if key in out:
                    raise ManifestError(f"line {knode.start_mark.line + 1}: {_fmt((*path, key))}: "
                                        "duplicate key", source=self.source)
                self.lines.setdefault((*path, key), knode.start_mark.line + 1)
                out[key] = self.build(vnode, (*path, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, (*path, i), depth + 1) for i, v in enumerate(node.value)]
        try:
            return self._scalars.construct_object(node)
        except yaml.YAMLError as exc:
            raise ManifestError(f"line {node.start_mark.line + 1}: {_fmt(path)}: bad value: {exc}",
                                source=self.source) from exc


def _fmt(path: Sequence[str | int]) -> str:
    """``('ecus', 0, 'bench', 'tx_id')`` -> ``ecus[0].bench.tx_id``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(document)"


def read_document(text: str, source: str, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, dict[JsonPath, int]]:
    """Parse YAML or JSON ``text`` into data plus a map from JSON path to 1-based line.

    >>> data, lines = read_document("a:\\n  - x\\n  - {F189: 1}\\n", "m.yaml")
    >>> data, lines[("a", 1, "F189")]
    ({'a': ['x', {'F189': 1}]}, 3)
    """
    if len(text) > limits.max_document_bytes:
        raise ManifestError(f"larger than {limits.max_document_bytes} bytes", source=source)
    reader = _Reader(source, limits)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ManifestError(f"invalid JSON: {exc}", source=source) from exc
        try:  # line numbers only; JSON is YAML, but be tolerant of the rare difference
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            if node is not None:
                reader.build(node, ())
        except (yaml.YAMLError, ManifestError, RecursionError):
            pass
        return data, reader.lines
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ManifestError(f"{line}invalid YAML: {exc.problem}", source=source) from exc
    except (yaml.YAMLError, RecursionError) as exc:
        raise ManifestError(f"invalid YAML: {exc}", source=source) from exc
    if node is None:
        raise ManifestError("empty document", source=source)
    return reader.build(node, ()), reader.lines


# ---------------------------------------------------------------------------------------------
# Validation and records


class _Ctx:
    def __init__(self, source: str, lines: Mapping[JsonPath, int]) -> None:
        self.source = source
        self.lines = lines

    def line(self, path: JsonPath) -> int | None:
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get(())

    def error(self, path: JsonPath, message: str) -> ManifestError:
        line = self.line(path)
        where = f"{self.source}:{line}" if line else self.source
        return ManifestError(f"{where}: {_fmt(path)}: {message}")


def _as_int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _did(value: str) -> int:
    return int(value[2:] if value.lower().startswith("0x") else value, 16)


def parse_manifest(data: Any, source: str = "<manifest>", base_dir: str | os.PathLike[str] = ".",
                   lines: Mapping[JsonPath, int] | None = None, *, check_files: bool = True) -> Manifest:
    """Validate parsed manifest data and turn it into a :class:`Manifest`.

    ``base_dir`` resolves relative paths; ``check_files`` makes missing firmware, SBOM,
    feed and VEX files an error.

    >>> m = parse_manifest({"schema": "ecuscan/manifest/v1", "suppliers": [{"id": "a", "tier": 1}],
    ...     "ecus": [{"id": "bcm", "supplier": "a"}], "vehicles": [{"id": "v", "ecus": ["bcm"]}]})
    >>> m.ecus[0].supplier, m.vehicles[0].ecus
    ('a', ('bcm',))
    >>> parse_manifest({"schema": "ecuscan/manifest/v1", "suppliers": [], "ecus": [],
    ...     "vehicles": [{"id": "v", "ecus": ["nope"]}]})
    Traceback (most recent call last):
    ...
    ecuscan.errors.ManifestError: <manifest>: vehicles[0].ecus[0]: unknown ECU 'nope'
    """
    ctx = _Ctx(source, lines or {})
    validator = jsonschema.Draft202012Validator(manifest_schema())
    errors = sorted(validator.iter_errors(data),
                    key=lambda e: (ctx.line(tuple(e.absolute_path)) or 0, list(map(str, e.absolute_path))))
    if errors:
        first = errors[0]
        msgs = [str(ctx.error(tuple(e.absolute_path), _schema_message(e))) for e in errors[:10]]
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise ManifestError("\n".join(msgs) + more) from (first if isinstance(first, Exception) else None)
    base = Path(base_dir)

    def resolve(path: JsonPath, rel: str, *, must_exist: bool) -> str:
        full = os.path.normpath(base / rel)
        if must_exist and check_files and not os.path.exists(full):
            raise ctx.error(path, f"file not found: {rel!r} (looked in {full})")
        return full

    warnings: list[str] = []
    suppliers: list[Supplier] = []
    seen: dict[str, int] = {}
    for i, s in enumerate(data["suppliers"]):
        if s["id"] in seen:
            raise ctx.error(("suppliers", i, "id"), f"duplicate supplier id {s['id']!r}")
        seen[s["id"]] = i
        suppliers.append(Supplier(id=s["id"], name=s.get("name", s["id"]), tier=s["tier"],
                                  sources_from=tuple(s.get("sources_from", ())),
                                  provides=tuple(s.get("provides", ())), tisax=s.get("tisax"),
                                  country=s.get("country"), contact=s.get("contact"),
                                  line=ctx.line(("suppliers", i))))
    tiers = {s.id: s.tier for s in suppliers}
    for i, s in enumerate(suppliers):
        for j, parent in enumerate(s.sources_from):
            if parent not in tiers:
                raise ctx.error(("suppliers", i, "sources_from", j), f"unknown supplier {parent!r}")
            pt = tiers[parent]
            if isinstance(s.tier, int) and isinstance(pt, int) and pt <= s.tier and parent != s.id:
                warnings.append(f"{source}:{s.line}: supplier {s.id!r} (tier {s.tier}) sources from "
                                f"{parent!r} (tier {pt}), which is not a higher tier number")
    warnings.extend(_cycle_warnings(suppliers, source))

    ecus: list[Ecu] = []
    ecu_ids: set[str] = set()
    for i, e in enumerate(data["ecus"]):
        if e["id"] in ecu_ids:
            raise ctx.error(("ecus", i, "id"), f"duplicate ECU id {e['id']!r}")
        ecu_ids.add(e["id"])
        if e["supplier"] not in tiers:
            raise ctx.error(("ecus", i, "supplier"), f"unknown supplier {e['supplier']!r}")
        fws = []
        for j, f in enumerate(e.get("firmware", ())):
            p = ("ecus", i, "firmware", j)
            fws.append(FirmwareRef(
                path=resolve((*p, "path"), f["path"], must_exist=True), role=f.get("role", "application"),
                version=f.get("version"),
                sbom=resolve((*p, "sbom"), f["sbom"], must_exist=True) if "sbom" in f else None,
                sha256=f["sha256"].lower() if "sha256" in f else None, declared_path=f["path"],
                base_address=_as_int(f["base_address"]) if "base_address" in f else None,
                previous=resolve((*p, "previous"), f["previous"], must_exist=True) if "previous" in f else None))
        bench = None
        if "bench" in e:
            b = e["bench"]
            bench = BenchSpec(
                tx_id=_as_int(b["tx_id"]) if "tx_id" in b else None,
                rx_id=_as_int(b["rx_id"]) if "rx_id" in b else None,
                addressing=Addressing(b.get("addressing", "normal_11bit")),
                target_address=_as_int(b["target_address"]) if "target_address" in b else None,
                source_address=_as_int(b["source_address"]) if "source_address" in b else None,
                expect=tuple((_did(k), str(v)) for k, v in b.get("expect", {}).items()),
                dids=tuple(DidSpec(did=_did(d["did"]), codec=d["codec"], name=d.get("name", ""),
                                   length=d.get("length")) for d in b.get("dids", ())),
                simulate=b.get("simulate"), security=b.get("security"), cvn=b.get("cvn"))
            limit = 0x7FF if bench.addressing is Addressing.NORMAL_11BIT else 0x1FFFFFFF
            for key in ("tx_id", "rx_id"):
                value = getattr(bench, key)
                if value is not None and value > limit:
                    raise ctx.error(("ecus", i, "bench", key),
                                    f"{value:#x} does not fit {bench.addressing.value} addressing")
        ecus.append(Ecu(id=e["id"], name=e.get("name", e["id"]), supplier=e["supplier"], firmware=tuple(fws),
                        hardware_part_number=e.get("hardware_part_number"), criticality=e.get("criticality"),
                        bench=bench, line=ctx.line(("ecus", i))))

    vehicles: list[Vehicle] = []
    vids: set[str] = set()
    for i, v in enumerate(data["vehicles"]):
        if v["id"] in vids:
            raise ctx.error(("vehicles", i, "id"), f"duplicate vehicle id {v['id']!r}")
        vids.add(v["id"])
        for j, eid in enumerate(v["ecus"]):
            if eid not in ecu_ids:
                raise ctx.error(("vehicles", i, "ecus", j), f"unknown ECU {eid!r}")
        rx = v.get("rxswin", ())
        vehicles.append(Vehicle(id=v["id"], name=v.get("name", v["id"]), ecus=tuple(dict.fromkeys(v["ecus"])),
                                rxswin=(rx,) if isinstance(rx, str) else tuple(rx), line=ctx.line(("vehicles", i))))

    feeds = tuple(resolve(("feeds", i), f, must_exist=True) for i, f in enumerate(data.get("feeds", ())))
    vex = tuple(resolve(("vex", i), f, must_exist=True) for i, f in enumerate(data.get("vex", ())))
    b = data.get("bench", {})
    settings = BenchSettings(simulate=bool(b.get("simulate", False)), interface=b.get("interface"),
                             channel=str(b["channel"]) if "channel" in b else None, bitrate=b.get("bitrate"),
                             timeout=float(b["timeout"]) if "timeout" in b else None)
    return Manifest(name=data.get("name", Path(source).stem), suppliers=tuple(suppliers), ecus=tuple(ecus),
                    vehicles=tuple(vehicles), feeds=feeds, vex=vex, bench=settings, source=source,
                    base_dir=str(base), warnings=tuple(warnings))


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        return f"unknown field(s): {err.message.split('(')[-1].rstrip(')')}"
    if err.validator == "oneOf" and err.context:
        return "; ".join(dict.fromkeys(c.message for c in err.context))
    return str(err.message)


def _cycle_warnings(suppliers: Sequence[Supplier], source: str) -> list[str]:
    g: nx.DiGraph[str] = nx.DiGraph()
    for s in suppliers:
        for p in s.sources_from:
            g.add_edge(s.id, p)
    out = []
    for scc in nx.strongly_connected_components(g):
        if len(scc) > 1 or any(g.has_edge(n, n) for n in scc):
            out.append(f"{source}: sourcing cycle among suppliers: {', '.join(sorted(scc))}")
    return sorted(out)


def load_manifest(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS,
                  check_files: bool = True) -> Manifest:
    """Read, validate and resolve a manifest file (YAML or JSON).

    Raises :class:`~ecuscan.errors.ManifestError` naming the file, line and field.
    """
    p = Path(path)
    source = str(path)
    try:
        size = p.stat().st_size
        if size > limits.max_document_bytes:
            raise ManifestError(f"larger than {limits.max_document_bytes} bytes", source=source)
        text = p.read_text("utf-8")
    except OSError as exc:
        raise ManifestError(f"cannot read: {exc.strerror or exc}", source=source) from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not UTF-8 text: {exc}", source=source) from exc
    data, lines = read_document(text, source, limits)
    return parse_manifest(data, source, p.parent, lines, check_files=check_files)
