"""Loading a supply-chain manifest (v1): reading, validation with file/line/field errors, records.

A manifest (YAML or JSON) names suppliers in tiers, the ECUs they deliver with their
firmware, and the vehicles that install those ECUs. It is validated against the JSON
Schema shipped in the package (``ecuscan/schemas/manifest-v1.schema.json``), then checked
for what a schema cannot say: unknown or duplicate ids and missing files. Every error
names the file, the line and the field (``demo.yaml:12: ecus[0].supplier: ...``).

Two readers, one result:

* the **exact reader** *composes* the YAML node tree (JSON is YAML), records each node's line
  under its JSON path and builds the data from the nodes by hand, so mapping keys always stay
  strings (``F189`` or ``1234`` as DID keys) and duplicate keys are refused;
* the **fast reader** (documents above :data:`FAST_READ_BYTES`) parses with :func:`json.loads`
  or libyaml and keeps no node tree. A manifest of 100,000 ECUs then loads in seconds instead
  of minutes; when it is invalid, the exact reader runs once more so the error still names
  the line (:class:`_Lines` computes the line map only when an error asks for it).

The schema is checked by a validator compiled once with ``fastjsonschema`` (no format checker,
no extra imports); only when it finds a problem does :mod:`jsonschema` run to list every error
with its path. Cycles in ``sources_from`` are allowed (suppliers do buy from each other) and
reported in :attr:`Manifest.warnings`.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ManifestError
from ..limits import DEFAULT_LIMITS, Limits
from .model import (
    Addressing,
    BenchSettings,
    BenchSpec,
    Codec,
    DidSpec,
    Ecu,
    FirmwareRef,
    Manifest,
    Supplier,
    Vehicle,
    can_id_problem,
)

SCHEMA_ID = "ecuscan/manifest/v1"

#: Documents larger than this are read by the fast reader (exact lines only when an error needs them).
FAST_READ_BYTES = 1 << 20

JsonPath = tuple[str | int, ...]


@lru_cache(maxsize=1)
def manifest_schema() -> dict[str, Any]:
    """The published JSON Schema of manifest v1 (a dict)."""
    text = resources.files("ecuscan.schemas").joinpath("manifest-v1.schema.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@lru_cache(maxsize=1)
def _fast_validator() -> Callable[[Any], Any]:
    # imported on first use: start-up of commands that read no large or cyclic manifest
    import fastjsonschema

    validate: Callable[[Any], Any] = fastjsonschema.compile(manifest_schema())
    return validate


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


def _is_json(text: str) -> bool:
    return text.lstrip().startswith("{")


def read_document(text: str, source: str, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, dict[JsonPath, int]]:
    """Parse YAML or JSON ``text`` into data plus a map from JSON path to 1-based line (exact reader).

    >>> data, lines = read_document("a:\\n  - x\\n  - {F189: 1}\\n", "m.yaml")
    >>> data, lines[("a", 1, "F189")]
    ({'a': ['x', {'F189': 1}]}, 3)
    """
    if len(text) > limits.max_document_bytes:
        raise ManifestError(f"larger than {limits.max_document_bytes} bytes", source=source)
    reader = _Reader(source, limits)
    if _is_json(text):
        data = _json_loads(text, source, limits)
        try:  # line numbers only; JSON is YAML, but be tolerant of the rare difference
            node = yaml.compose(text, Loader=_composer())
            if node is not None:
                reader.build(node, ())
        except (yaml.YAMLError, ManifestError, RecursionError):
            pass
        return data, reader.lines
    node = _compose_yaml(text, source)
    return reader.build(node, ()), reader.lines


def _composer() -> type[yaml.SafeLoader]:
    """libyaml's parser when PyYAML has it (marks and node tree are the same), else the pure-Python one."""
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def _yaml_error(exc: Exception, source: str) -> ManifestError:
    """A YAML parse error as a manifest error naming the line when the parser knows it."""
    mark = getattr(exc, "problem_mark", None)
    line = f"line {mark.line + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) if mark is not None else None
    return ManifestError(f"{line}invalid YAML: {problem or exc}", source=source)


def _compose_yaml(text: str, source: str) -> yaml.Node:
    try:
        node = yaml.compose(text, Loader=_composer())
    except (yaml.YAMLError, RecursionError) as exc:
        raise _yaml_error(exc, source) from exc
    if node is None:
        raise ManifestError("empty document", source=source)
    return node


def _json_loads(text: str, source: str, limits: Limits) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):  # the exact reader refuses duplicate keys; so does this one
            seen: set[str] = set()
            dup = next(k for k, _ in items if k in seen or seen.add(k))  # type: ignore[func-returns-value]
            raise ManifestError(f"duplicate key {dup!r}", source=source)
        return out

    try:  # the size is bounded by limits.max_document_bytes before this is called
        return json.loads(text, object_pairs_hook=pairs)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ManifestError(f"invalid JSON: {exc}", source=source) from exc


def _fast_read(text: str, source: str, limits: Limits) -> Any:
    if _is_json(text):
        return _json_loads(text, source, limits)
    parser = _composer()(text)
    try:
        data = _EventBuilder(source, limits).build(parser)
    except (yaml.YAMLError, RecursionError) as exc:
        raise _yaml_error(exc, source) from exc
    finally:
        parser.dispose()
    if data is None:
        raise ManifestError("empty document", source=source)
    return data


class _EventBuilder:
    """Data straight from libyaml's event stream, with the exact reader's rules (string keys, no
    duplicates, bounded nesting and alias expansion) and without a node tree: a 100,000-ECU YAML
    manifest never holds millions of nodes with their marks (measured: 1.4 GiB composed).

    Written by hand because PyYAML builds data only from a composed node tree; the loop keeps its
    state in local variables and resolves each distinct short plain scalar once (manifests repeat
    the same versions, roles and tiers thousands of times), which halves the time per event.
    """

    #: Plain scalars up to this length are resolved once and remembered (at most _MEMO_ENTRIES).
    _MEMO_CHARS = 64
    _MEMO_ENTRIES = 1 << 14

    def __init__(self, source: str, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.resolver = yaml.resolver.Resolver()
        #: first characters of plain scalars that may resolve to something other than a string
        self.firsts = frozenset(k for k in self.resolver.yaml_implicit_resolvers if k is not None)
        self.scalars = yaml.SafeLoader("")
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, collections inside it, expanded)
        self.memo: dict[str, Any] = {}  # plain scalar text -> its (immutable) value

    def _error(self, event: yaml.Event, message: str) -> ManifestError:
        where = f"line {event.start_mark.line + 1}: " if event.start_mark is not None else ""
        return ManifestError(f"{where}{message}", source=self.source)

    def _scalar(self, ev: yaml.ScalarEvent) -> Any:
        if ev.tag is None and (not ev.implicit[0] or ev.value[:1] not in self.firsts):
            return ev.value  # quoted, or plain text no implicit type can start with (ids, names): a string
        plain = ev.tag is None and len(ev.value) <= self._MEMO_CHARS
        if plain and ev.value in self.memo:
            return self.memo[ev.value]
        tag = ev.tag if ev.tag not in (None, "!") else \
            self.resolver.resolve(yaml.ScalarNode, ev.value, ev.implicit)  # type: ignore[no-untyped-call]
        # the tag's constructor directly: construct_object would keep every node in its memo
        construct = self.scalars.yaml_constructors.get(tag) or self.scalars.yaml_constructors[None]
        try:
            value = construct(self.scalars, yaml.ScalarNode(tag, ev.value, style=ev.style))
        except yaml.YAMLError as exc:
            raise self._error(ev, f"bad value: {exc}") from exc
        if plain and len(self.memo) < self._MEMO_ENTRIES:
            # implicit types are str, int, float, bool, None and timestamps: immutable, safe to share
            self.memo[ev.value] = value
        return value

    def build(self, parser: Any) -> Any:
        """The document's data from ``parser`` (a PyYAML parser: ``get_event`` until the stream ends)."""
        get_event = parser.get_event
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        map_end, seq_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
        firsts, scalar, anchors = self.firsts, self._scalar, self.anchors
        max_depth, max_items = self.limits.max_document_depth, self.limits.max_document_items
        # the open collection: its container, pending key (mappings), collections inside it
        # (aliases expanded), anchor; the enclosing ones are saved on ``stack``
        cur: Any = None
        is_map = False
        key: str | None = None
        size = 0
        anchor: str | None = None
        stack: list[tuple[Any, bool, str | None, int, str | None]] = []
        root: Any = None
        documents = 0
        while True:
            ev = get_event()
            kind = type(ev)
            if kind is scalar_event:  # the common case first
                text = ev.value
                if is_map and key is None:
                    if text in cur:
                        raise self._error(ev, f"{text}: duplicate key")
                    key = text
                    continue
                if ev.tag is None and (not ev.implicit[0] or text[:1] not in firsts):
                    value = text
                else:
                    value = scalar(ev)
                if ev.anchor is not None:
                    anchors[ev.anchor] = (value, 0)
                if cur is None:
                    root = value
                elif is_map:
                    cur[key] = value
                    key = None
                else:
                    cur.append(value)
                continue
            if kind is map_start or kind is seq_start:
                depth = len(stack) + (cur is not None)
                if depth >= max_depth:
                    raise self._error(ev, f"nesting deeper than {max_depth}")
                if is_map and key is None:
                    raise self._error(ev, "mapping keys must be plain scalars")
                if cur is not None:
                    stack.append((cur, is_map, key, size, anchor))
                is_map = kind is map_start
                cur, key, size, anchor = ({} if is_map else []), None, 1, ev.anchor
                continue
            if kind is map_end or kind is seq_end:
                value, vsize = cur, size
                if anchor is not None:
                    anchors[anchor] = (value, vsize)
                if not stack:
                    root, cur, is_map, key, size, anchor = value, None, False, None, 0, None
                    continue
                cur, is_map, key, size, anchor = stack.pop()
            elif kind is alias_event:
                if ev.anchor not in anchors:
                    raise self._error(ev, f"unknown alias *{ev.anchor}")
                value, vsize = anchors[ev.anchor]
                if cur is None:
                    root = value
                    continue
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise self._error(ev, "expected a single document")
                continue
            elif kind is yaml.StreamEndEvent or ev is None:
                return root
            else:  # stream start, document end
                continue
            size += vsize
            if size > max_items:
                raise self._error(ev, f"more than {max_items} nodes (alias bomb?)")
            if is_map:
                if key is None:
                    raise self._error(ev, "mapping keys must be plain scalars")
                cur[key] = value
                key = None
            else:
                cur.append(value)


class _Lines(Mapping[JsonPath, int]):
    """The JSON path -> line map of a document, read with the exact reader on first use."""

    def __init__(self, text: str, source: str, limits: Limits) -> None:
        self._args = (text, source, limits)
        self._map: dict[JsonPath, int] | None = None

    def _get(self) -> dict[JsonPath, int]:
        if self._map is None:
            try:
                self._map = read_document(*self._args)[1]
            except ManifestError:
                self._map = {}
        return self._map

    def __getitem__(self, key: JsonPath) -> int:
        return self._get()[key]

    def __iter__(self) -> Any:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


# ---------------------------------------------------------------------------------------------
# Validation and records


class _Ctx:
    """Error context: the source and a (possibly lazy) line map; record lines only when they are cheap."""

    def __init__(self, source: str, lines: Mapping[JsonPath, int], base: Path, check_files: bool,
                 record_lines: bool = True) -> None:
        self.source = source
        self.lines = lines
        self.base = base
        self.check_files = check_files
        self.record_lines = record_lines
        self.warnings: list[str] = []
        self._exists: dict[str, bool] = {}
        self._resolved: dict[str, str] = {}

    def line(self, path: JsonPath) -> int | None:
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get(())

    def record_line(self, path: JsonPath) -> int | None:
        return self.line(path) if self.record_lines else None

    def error(self, path: JsonPath, message: str) -> ManifestError:
        line = self.line(path)
        where = f"{self.source}:{line}" if line else self.source
        return ManifestError(f"{where}: {_fmt(path)}: {message}")

    def resolve(self, path: JsonPath, rel: str) -> str:
        """``rel`` against the manifest's folder; a missing file is an error when files are checked."""
        full = self._resolved.get(rel)
        if full is None:  # thousands of ECUs name the same few files: resolve each once
            full = self._resolved[rel] = os.path.normpath(os.path.join(self.base, rel))
        if self.check_files:
            exists = self._exists.get(full)
            if exists is None:  # thousands of ECUs share a few images: stat each once
                exists = self._exists[full] = os.path.exists(full)
            if not exists:
                raise self.error(path, f"file not found: {rel!r} (looked in {full})")
        return full


def _as_int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


@lru_cache(maxsize=4096)  # manifests name the same few DIDs in every ECU
def _did(value: str) -> int:
    return int(value[2:] if value.lower().startswith("0x") else value, 16)


#: Manifest spelling -> addressing (a dict lookup: calling the enum costs more, 100,000 times).
_ADDRESSING = {a.value: a for a in Addressing}


def _check_schema(data: Any, ctx: _Ctx) -> None:
    # imported on first use: start-up of commands that read no large or cyclic manifest
    import fastjsonschema

    try:
        _fast_validator()(data)
        return
    except fastjsonschema.JsonSchemaException:
        pass
    # imported on first use: start-up of commands that read no large or cyclic manifest
    import jsonschema  # the full error list with paths, only for an invalid manifest

    validator = jsonschema.Draft202012Validator(manifest_schema())
    errors = sorted(validator.iter_errors(data),
                    key=lambda e: (ctx.line(tuple(e.absolute_path)) or 0, list(map(str, e.absolute_path))))
    if errors:
        first = errors[0]
        msgs = [str(ctx.error(tuple(e.absolute_path), _schema_message(e))) for e in errors[:10]]
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise ManifestError("\n".join(msgs) + more) from (first if isinstance(first, Exception) else None)


def _unique_ids(data: Sequence[Mapping[str, Any]], section: str, what: str, ctx: _Ctx) -> None:
    """Refuse the first record of ``section`` whose id an earlier record already has."""
    seen: set[str] = set()
    for i, d in enumerate(data):
        if d["id"] in seen:
            raise ctx.error((section, i, "id"), f"duplicate {what} id {d['id']!r}")
        seen.add(d["id"])


def _suppliers(data: Sequence[Mapping[str, Any]], ctx: _Ctx) -> tuple[Supplier, ...]:
    suppliers: list[Supplier] = []
    _unique_ids(data, "suppliers", "supplier", ctx)
    for i, d in enumerate(data):
        suppliers.append(Supplier(id=d["id"], name=d.get("name", d["id"]), tier=d["tier"],
                                  sources_from=tuple(d.get("sources_from", ())),
                                  provides=tuple(d.get("provides", ())), tisax=d.get("tisax"),
                                  country=d.get("country"), contact=d.get("contact"),
                                  line=ctx.record_line(("suppliers", i))))
    tiers = {s.id: s.tier for s in suppliers}
    for i, s in enumerate(suppliers):
        for j, parent in enumerate(s.sources_from):
            if parent not in tiers:
                raise ctx.error(("suppliers", i, "sources_from", j), f"unknown supplier {parent!r}")
            pt = tiers[parent]
            if isinstance(s.tier, int) and isinstance(pt, int) and pt <= s.tier and parent != s.id:
                where = f"{ctx.source}:{s.line}" if s.line else ctx.source
                ctx.warnings.append(f"{where}: supplier {s.id!r} (tier {s.tier}) sources from "
                                    f"{parent!r} (tier {pt}), which is not a higher tier number")
    ctx.warnings.extend(_cycle_warnings(suppliers, ctx.source))
    return tuple(suppliers)


def _firmware(f: Mapping[str, Any], p: JsonPath, ctx: _Ctx) -> FirmwareRef:
    return FirmwareRef(
        path=ctx.resolve((*p, "path"), f["path"]), role=f.get("role", "application"), version=f.get("version"),
        sbom=ctx.resolve((*p, "sbom"), f["sbom"]) if "sbom" in f else None,
        sha256=f["sha256"].lower() if "sha256" in f else None, declared_path=f["path"],
        base_address=_as_int(f["base_address"]) if "base_address" in f else None,
        previous=ctx.resolve((*p, "previous"), f["previous"]) if "previous" in f else None)


def _bench(b: Mapping[str, Any], p: JsonPath, ctx: _Ctx) -> BenchSpec:
    addressing = _ADDRESSING[b.get("addressing", "normal_11bit")]  # the schema allows these names only
    tx_id = _as_int(b["tx_id"]) if "tx_id" in b else None
    rx_id = _as_int(b["rx_id"]) if "rx_id" in b else None
    top = addressing.max_id
    for key, value in (("tx_id", tx_id), ("rx_id", rx_id)):
        if value is not None and not 0 <= value <= top:  # the common case without a call
            raise ctx.error((*p, key), can_id_problem(addressing, value) or f"{value:#x} out of range")
    return BenchSpec(
        tx_id=tx_id, rx_id=rx_id, addressing=addressing,
        target_address=_as_int(b["target_address"]) if "target_address" in b else None,
        source_address=_as_int(b["source_address"]) if "source_address" in b else None,
        expect=tuple([(_did(k), str(v)) for k, v in b["expect"].items()]) if "expect" in b else (),
        dids=tuple(DidSpec(did=_did(d["did"]), name=d.get("name", ""), codec=Codec.parse(d["codec"]),
                           length=d.get("length")) for d in b["dids"]) if "dids" in b else (),
        simulate=b.get("simulate"), security=b.get("security"), cvn=b.get("cvn"))


def _ecus(data: Sequence[Mapping[str, Any]], suppliers: Mapping[str, Supplier], ctx: _Ctx) -> tuple[Ecu, ...]:
    ecus: list[Ecu] = []
    _unique_ids(data, "ecus", "ECU", ctx)
    for i, e in enumerate(data):
        if e["supplier"] not in suppliers:
            raise ctx.error(("ecus", i, "supplier"), f"unknown supplier {e['supplier']!r}")
        fws = tuple(_firmware(f, ("ecus", i, "firmware", j), ctx) for j, f in enumerate(e.get("firmware", ())))
        bench = _bench(e["bench"], ("ecus", i, "bench"), ctx) if "bench" in e else None
        ecus.append(Ecu(id=e["id"], name=e.get("name", e["id"]), supplier=e["supplier"], firmware=fws,
                        hardware_part_number=e.get("hardware_part_number"), criticality=e.get("criticality"),
                        bench=bench, line=ctx.record_line(("ecus", i))))
    return tuple(ecus)


def _vehicles(data: Sequence[Mapping[str, Any]], ecu_ids: Mapping[str, Any], ctx: _Ctx) -> tuple[Vehicle, ...]:
    vehicles: list[Vehicle] = []
    _unique_ids(data, "vehicles", "vehicle", ctx)
    for i, v in enumerate(data):
        for j, eid in enumerate(v["ecus"]):
            if eid not in ecu_ids:
                raise ctx.error(("vehicles", i, "ecus", j), f"unknown ECU {eid!r}")
        rx = v.get("rxswin", ())
        vehicles.append(Vehicle(id=v["id"], name=v.get("name", v["id"]), ecus=tuple(dict.fromkeys(v["ecus"])),
                                rxswin=(rx,) if isinstance(rx, str) else tuple(rx),
                                line=ctx.record_line(("vehicles", i))))
    return tuple(vehicles)


def _settings(b: Mapping[str, Any]) -> BenchSettings:
    return BenchSettings(simulate=bool(b.get("simulate", False)), interface=b.get("interface"),
                         channel=str(b["channel"]) if "channel" in b else None, bitrate=b.get("bitrate"),
                         timeout=float(b["timeout"]) if "timeout" in b else None)


def parse_manifest(data: Any, source: str = "<manifest>", base_dir: str | os.PathLike[str] = ".",
                   lines: Mapping[JsonPath, int] | None = None, *, check_files: bool = True,
                   record_lines: bool = True) -> Manifest:
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
    base = Path(base_dir)
    ctx = _Ctx(source, lines if lines is not None else {}, base, check_files, record_lines)
    _check_schema(data, ctx)
    suppliers = _suppliers(data["suppliers"], ctx)
    ecus = _ecus(data["ecus"], {s.id: s for s in suppliers}, ctx)
    vehicles = _vehicles(data["vehicles"], {e.id: e for e in ecus}, ctx)
    feeds = tuple(ctx.resolve(("feeds", i), f) for i, f in enumerate(data.get("feeds", ())))
    vex = tuple(ctx.resolve(("vex", i), f) for i, f in enumerate(data.get("vex", ())))
    return Manifest(name=data.get("name", Path(source).stem), suppliers=suppliers, ecus=ecus, vehicles=vehicles,
                    feeds=feeds, vex=vex, bench=_settings(data.get("bench", {})), source=source,
                    base_dir=str(base), warnings=tuple(ctx.warnings))


def _schema_message(err: Any) -> str:
    if err.validator == "additionalProperties":
        return f"unknown field(s): {err.message.split('(')[-1].rstrip(')')}"
    if err.validator == "oneOf" and err.context:
        return "; ".join(dict.fromkeys(c.message for c in err.context))
    return str(err.message)


def _cycle_warnings(suppliers: Sequence[Supplier], source: str) -> list[str]:
    # imported on first use: start-up of commands that read no large or cyclic manifest
    import networkx as nx

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
    if len(text) <= FAST_READ_BYTES:
        data, lines = read_document(text, source, limits)
        return parse_manifest(data, source, p.parent, lines, check_files=check_files)
    if len(text) > limits.max_document_bytes:
        raise ManifestError(f"larger than {limits.max_document_bytes} bytes", source=source)
    with _gc_paused():
        data = _fast_read(text, source, limits)
        return parse_manifest(data, source, p.parent, _Lines(text, source, limits), check_files=check_files,
                              record_lines=False)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of acyclic objects are created: each collection of
    the oldest generation walks the whole parsed document (measured: a third of the load time).

    Afterwards the objects alive are moved to the permanent generation (:func:`gc.freeze`): else
    the first full collection after the load walks the whole manifest once more (1-2 s for 100,000
    ECUs), and every later one again. They are still freed by reference counting (the manifest's
    records and data hold no cycles); ``gc.unfreeze()`` hands them back to the collector.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.enable()
