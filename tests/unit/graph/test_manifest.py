"""Manifest loading: the v1 shape, extensions, and errors that name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecuscan.errors import ManifestError
from ecuscan.manifest import Addressing, Codec, load_manifest, manifest_schema

from .conftest import GRAPHS

HEAD = "schema: ecuscan/manifest/v1\n"


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    (tmp_path / "fw.bin").write_bytes(b"x")
    return p


def test_small_manifest_records(small_manifest):
    m = small_manifest
    assert [s.id for s in m.suppliers] == ["acme", "brake", "rtosco", "siliconco", "cryptoco", "zlibp", "mirror"]
    assert m.supplier("zlibp").tier == "oss" and m.supplier("rtosco").tier == 2
    assert m.supplier("acme").tisax == "AL3"
    bcm = m.ecu("bcm")
    assert bcm.hardware_part_number == "BCM-100-A" and bcm.criticality == "asil-b"
    assert bcm.firmware[0].path == str(GRAPHS / "fw" / "bcm_app.bin")
    assert bcm.firmware[0].declared_path == "fw/bcm_app.bin"
    assert bcm.bench.tx_id == 0x726 and bcm.bench.rx_id == 0x72E
    assert bcm.bench.expected() == {0xF189: "2.4.1", 0xF190: "WVWZZZ1JZXW000001"}
    assert bcm.bench.dids[0].did == 0xF1A0 and bcm.bench.dids[0].codec is Codec.ASCII
    esc = m.ecu("esc")
    assert esc.bench.addressing is Addressing.NORMAL_FIXED_29BIT and esc.bench.tx_id == 0x18DA30F1
    assert m.vehicle("ev27").rxswin == ("R156-EV27-001",) and m.vehicle("van26").rxswin == ("R156-VAN26-004",)
    assert m.bench.simulate is True
    assert m.warnings == ()


def test_json_manifest_with_hex_strings():
    m = load_manifest(GRAPHS / "small.json")
    assert m.ecus[0].bench.tx_id == 0x726 and m.ecus[0].bench.rx_id == 1838
    assert m.supplier("zlibp").tier == "oss"


def test_design_example_shape_is_valid(tmp_path):
    # the v1 example of DESIGN.md, verbatim apart from file names
    (tmp_path / "sboms").mkdir()
    (tmp_path / "sboms" / "bcm_app.cdx.json").write_text("{}")
    (tmp_path / "bcm_app.elf").write_bytes(b"\x7fELF")
    p = tmp_path / "m.yaml"
    p.write_text("""schema: ecuscan/manifest/v1
name: Demo platform MY2027
suppliers:
  - {id: acme, name: ACME Electronics, tier: 1, sources_from: [rtosco, zlib]}
  - {id: rtosco, name: RTOS Co, tier: 2, provides: ["pkg:generic/freertos"]}
  - {id: zlib, name: zlib project, tier: oss, provides: ["pkg:generic/zlib"]}
ecus:
  - id: bcm
    name: Body Control Module
    supplier: acme
    firmware:
      - {path: bcm_app.elf, role: application, version: "2.4.1",
         sbom: sboms/bcm_app.cdx.json}
    bench: {tx_id: 0x726, rx_id: 0x72E, expect: {F189: "2.4.1"}}
vehicles:
  - {id: ev27, name: EV 2027, ecus: [bcm]}
""")
    m = load_manifest(p)
    assert m.ecus[0].firmware[0].sbom == str(tmp_path / "sboms" / "bcm_app.cdx.json")


@pytest.mark.parametrize(("body", "expected"), [
    ("suppliers: [{id: a, tier: 1}]\necus:\n  - {id: e, supplier: zz}\nvehicles: []\n",
     "m.yaml:4: ecus[0].supplier: unknown supplier 'zz'"),
    ("suppliers:\n  - {id: a, tier: 1}\n  - {id: a, tier: 2}\necus: []\nvehicles: []\n",
     "m.yaml:4: suppliers[1].id: duplicate supplier id 'a'"),
    ("suppliers:\n  - {id: a, tier: 1, sources_from: [b]}\necus: []\nvehicles: []\n",
     "m.yaml:3: suppliers[0].sources_from[0]: unknown supplier 'b'"),
    ("suppliers: [{id: a, tier: 1}]\necus:\n  - {id: e, supplier: a}\n  - {id: e, supplier: a}\nvehicles: []\n",
     "m.yaml:5: ecus[1].id: duplicate ECU id 'e'"),
    ("suppliers: [{id: a, tier: 1}]\necus: []\nvehicles:\n  - id: v\n    ecus: [e1]\n",
     "m.yaml:6: vehicles[0].ecus[0]: unknown ECU 'e1'"),
    ("suppliers:\n  - {id: a, tier: two}\necus: []\nvehicles: []\n",
     "m.yaml:3: suppliers[0].tier:"),
    ("suppliers: [{id: a, tier: 1}]\necus:\n  - id: e\n    supplier: a\n    firmware:\n      - {path: missing.bin}\n"
     "vehicles: []\n", "m.yaml:7: ecus[0].firmware[0].path: file not found: 'missing.bin'"),
    ("suppliers: [{id: a, tier: 1}]\necus:\n  - id: e\n    supplier: a\n    bench: {tx_id: 0x800}\nvehicles: []\n",
     "m.yaml:6: ecus[0].bench.tx_id: 0x800 does not fit normal_11bit addressing"),
    ("suppliers: [{id: a, tier: 1}]\necus:\n  - id: e\n    supplier: a\n    bench: {tx_id: 'x12'}\nvehicles: []\n",
     "m.yaml:6: ecus[0].bench.tx_id:"),
    ("suppliers: [{id: a, tier: 1}]\necus:\n  - id: e\n    supplier: a\n    colour: red\nvehicles: []\n",
     "m.yaml:4: ecus[0]: unknown field(s): 'colour'"),
    ("suppliers: [{id: a, tier: 1}]\necus: []\nvehicles: 3\n", "m.yaml:4: vehicles: 3 is not of type 'array'"),
    ("suppliers: [{id: a, tier: 1}]\nsuppliers: []\necus: []\nvehicles: []\n", "line 3: suppliers: duplicate key"),
    ("suppliers: [{id: a, tier: 1}\n", "line 3: invalid YAML"),
])
def test_bad_manifests_name_file_line_field(tmp_path, body, expected):
    p = write(tmp_path, HEAD + body)
    with pytest.raises(ManifestError) as exc:
        load_manifest(p)
    assert expected in str(exc.value)
    assert str(p) in str(exc.value) or "m.yaml" in str(exc.value)


def test_json_errors_have_lines(tmp_path):
    p = write(tmp_path, '{\n "schema": "ecuscan/manifest/v1",\n "suppliers": [\n  {"id": "a", "tier": 0}\n ],\n'
                        ' "ecus": [], "vehicles": []\n}\n', "m.json")
    with pytest.raises(ManifestError, match=r"m\.json:4: suppliers\[0\]\.tier:"):
        load_manifest(p)


def test_wrong_schema_id_and_empty(tmp_path):
    with pytest.raises(ManifestError, match="schema"):
        load_manifest(write(tmp_path, "schema: ecuscan/manifest/v9\nsuppliers: []\necus: []\nvehicles: []\n"))
    with pytest.raises(ManifestError, match="empty document"):
        load_manifest(write(tmp_path, "# nothing\n"))
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path / "absent.yaml")


def test_alias_bomb_is_bounded(tmp_path):
    lines = [HEAD, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n")
    with pytest.raises(ManifestError, match="alias bomb"):
        load_manifest(write(tmp_path, "".join(lines)))


def test_cycles_are_warnings(tmp_path):
    m = load_manifest(GRAPHS / "cycle.yaml")
    assert any("sourcing cycle among suppliers: a, b, c" in w for w in m.warnings)


def test_schema_is_packaged_and_self_valid():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(manifest_schema())


@pytest.fixture
def fast_reader(monkeypatch):
    """Every manifest goes through the fast reader (normally only those above 1 MiB)."""
    from ecuscan.manifest import loader

    monkeypatch.setattr(loader, "FAST_READ_BYTES", 0)


def test_fast_reader_gives_the_same_manifest(fast_reader):
    import dataclasses

    from ecuscan.manifest import loader

    fast = load_manifest(GRAPHS / "small.yaml")
    exact_data, lines = loader.read_document((GRAPHS / "small.yaml").read_text(), "x")
    exact = loader.parse_manifest(exact_data, str(GRAPHS / "small.yaml"), GRAPHS, lines)

    def strip(m):  # record lines are left out by the fast reader (computed only for errors)
        return [dataclasses.replace(x, line=None) for x in (*m.suppliers, *m.ecus, *m.vehicles)]

    assert strip(fast) == strip(exact) and fast.bench == exact.bench and fast.warnings == exact.warnings


@pytest.mark.parametrize(("body", "expected"), [
    ("suppliers: [{id: a, tier: 1}]\necus:\n  - {id: e, supplier: zz}\nvehicles: []\n",
     "m.yaml:4: ecus[0].supplier: unknown supplier 'zz'"),
    ("suppliers: [{id: a, tier: 1}]\necus:\n  - id: e\n    supplier: a\n    bench: {tx_id: 0x800}\nvehicles: []\n",
     "m.yaml:6: ecus[0].bench.tx_id: 0x800 does not fit normal_11bit addressing"),
    ("suppliers: [{id: a, tier: 1}]\necus:\n  - id: e\n    supplier: a\n    bench: {tx_id: 'x12'}\nvehicles: []\n",
     "m.yaml:6: ecus[0].bench.tx_id:"),
    ("suppliers: [{id: a, tier: 1}]\nsuppliers: []\necus: []\nvehicles: []\n", "line 3: suppliers: duplicate key"),
    ("suppliers: [{id: a, tier: 1}\n", "line 3: invalid YAML"),
])
def test_fast_reader_errors_still_name_the_line(tmp_path, fast_reader, body, expected):
    with pytest.raises(ManifestError) as exc:
        load_manifest(write(tmp_path, HEAD + body))
    assert expected in str(exc.value)


def test_fast_reader_json_duplicates_and_alias_bomb(tmp_path, fast_reader):
    p = tmp_path / "m.json"
    p.write_text('{"schema": "ecuscan/manifest/v1", "suppliers": [], "suppliers": [], "ecus": [], "vehicles": []}')
    with pytest.raises(ManifestError, match="duplicate key 'suppliers'"):
        load_manifest(p)
    lines = [HEAD, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n")
    with pytest.raises(ManifestError, match="alias bomb"):
        load_manifest(write(tmp_path, "".join(lines)))


def test_schema_accepts_and_refuses_can_ids_like_before(tmp_path):
    # one schema (integer in range, or hex string) instead of oneOf: same answers
    import fastjsonschema
    import jsonschema

    from ecuscan.manifest import manifest_schema

    fast = fastjsonschema.compile(manifest_schema())
    full = jsonschema.Draft202012Validator(manifest_schema())
    for value, ok in ((0x7E0, True), ("0x7E0", True), (0x1FFFFFFF, True), (0x20000000, False), (-1, False),
                      ("7E0", False), ("0x123456789", False), (True, False), (1.5, False)):
        doc = {"schema": "ecuscan/manifest/v1", "suppliers": [{"id": "a", "tier": 1}],
               "ecus": [{"id": "e", "supplier": "a", "bench": {"tx_id": value}}], "vehicles": []}
        assert full.is_valid(doc) is ok, value
        try:
            fast(doc)
            assert ok, value
        except fastjsonschema.JsonSchemaException:
            assert not ok, value


@pytest.mark.parametrize("text", [
    (GRAPHS.parent / "demo.yaml").read_text(),
    (GRAPHS / "small.yaml").read_text(),
    "a: &x {k: [1, 0x10, '0x10', yes, ~, 1.5, 2027-01-01, F189]}\nb: *x\nc: &s text\nd: *s\n1234: [\"q\", '', ]\n",
    # repeated plain scalars (resolved once, then remembered) beside quoted and tagged spellings of them
    "a: [1, 1, '1', !!str 1, yes, yes, 'yes', 0x10, 0x10, 1.5, 1.5, ~, ~, '~', 2027-01-01, 2027-01-01]\n"
    "b: [{1: x, '2': y}, {yes: 1.5}, [0x10, 1, yes]]\n",
])
@pytest.mark.parametrize("memo_entries", [2, 1 << 14])
def test_event_reader_builds_what_the_exact_reader_builds(text, memo_entries, monkeypatch):
    from ecuscan.manifest import loader

    monkeypatch.setattr(loader._EventBuilder, "_MEMO_ENTRIES", memo_entries)  # also when the memo is full
    fast = loader._fast_read(text, "m.yaml", loader.DEFAULT_LIMITS)
    exact = loader.read_document(text, "m.yaml")[0]
    assert fast == exact
    assert repr(fast) == repr(exact)  # the same types too (1 is not True, '1' is not 1)


def test_event_reader_refuses_what_the_exact_reader_refuses():
    from ecuscan.manifest import loader

    for text, message in (("a: 1\n---\nb: 2\n", "single document"), ("? [a]\n: 1\n", "plain scalars"),
                          ("a: " + "[" * 70 + "]" * 70 + "\n", "nesting deeper")):
        with pytest.raises(ManifestError, match=message):
            loader._fast_read(text, "m.yaml", loader.DEFAULT_LIMITS)
