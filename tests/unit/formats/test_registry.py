"""The format registry: one list, metadata that drives detection, loading, docs and SBOM offsets,
and the worked example of docs/extending.md (a toy format registered at run time) kept true."""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecuscan import formats
from ecuscan.catalog import load_catalog
from ecuscan.errors import FormatError, UnsupportedFormat
from ecuscan.formats import registry
from ecuscan.formats.base import Format, OffsetMap
from ecuscan.model import Image, ImageFormat, Provenance, ScanResult, Sha256
from ecuscan.sbom.facts import file_offsets_are_buffer_offsets
from ecuscan.scan.analysis import analyze_bytes
from ecuscan.scan.options import ScanOptions

ROOT = Path(__file__).resolve().parents[3]
SCAN_DOC = ROOT / "docs" / "scan-json.md"
EXTENDING = ROOT / "docs" / "extending.md"
BEGIN, END = "<!-- format-table:begin -->", "<!-- format-table:end -->"


def test_every_image_format_is_registered_once_and_raw_is_last() -> None:
    names = [i.name for i in registry.infos()]
    assert len(names) == len(set(names))
    assert names[-1] == "raw"
    # every byte format of the enum has exactly one format module (a directory is not bytes)
    assert {f.value for f in ImageFormat} - {"directory"} == set(names)
    assert all(isinstance(f, Format) for f in registry.formats())


def test_format_table_in_scan_json_doc_is_generated_from_the_registry() -> None:
    table = registry.format_table()
    text = SCAN_DOC.read_text()
    if os.environ.get("ECUSCAN_UPDATE_DOCS"):
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _m: f"{BEGIN}\n{table}\n{END}", text,
                      flags=re.S)
        SCAN_DOC.write_text(text)
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == table, "docs/scan-json.md format table is stale (ECUSCAN_UPDATE_DOCS=1 regenerates it)"


@pytest.mark.parametrize(("sample", "expected"), [
    (b"\x7fELF\x02\x01\x01" + bytes(57), ImageFormat.ELF),
    (b":100000000000042000000000000000000000000000DC\n", ImageFormat.IHEX),
    (b"S00600004844521B\n", ImageFormat.SREC),
    (b"vbf_version = 2.6;\nheader {}", ImageFormat.VBF),
    (b"<?xml version='1.0'?><ODX VERSION='2.2.0'></ODX>", ImageFormat.ODX),
    (b"!<arch>\n", ImageFormat.ARCHIVE),
    (b"\x1f\x8b\x08" + bytes(20), ImageFormat.ARCHIVE),
    (b"070701" + b"0" * 104, ImageFormat.ARCHIVE),
    (b"MZ" + bytes(58) + (64).to_bytes(4, "little") + b"PE\0\0" + bytes(64), ImageFormat.PE),
    (b"MZ" + bytes(200), ImageFormat.RAW),  # an MZ header without a PE signature is not PE
    (b"\x55\xaa" + bytes(200), ImageFormat.RAW),  # no PCIR structure: not an option ROM
    (b"_FVH" * 64, ImageFormat.RAW),  # signature without a checksummed header: not a volume
    (bytes(100), ImageFormat.RAW),
])
def test_detect_runs_the_probes_in_registry_order(sample: bytes, expected: ImageFormat) -> None:
    assert formats.detect(sample) is expected


def test_tar_is_a_container_and_load_refuses_it_naming_the_file() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("a.bin")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    blob = buf.getvalue()
    assert formats.is_container(blob)
    with pytest.raises(UnsupportedFormat, match=r"t\.tar"):
        formats.load(blob, "t.tar")
    assert [m.name for m in formats.iter_members(blob, "t.tar")] == ["a.bin"]
    with pytest.raises(UnsupportedFormat, match="not a container"):
        list(formats.iter_members(b"\x00" * 10, "x.bin"))


def test_offset_mapping_comes_from_the_registry() -> None:
    def result(fmt: ImageFormat) -> ScanResult:
        z = Sha256("0" * 64)
        return ScanResult(path="x", sha256=z, size=1, format=fmt, provenance=Provenance(sha256=z, size=1))

    file_mapped = {i.format for i in registry.infos() if i.offsets is OffsetMap.FILE}
    assert file_mapped == {ImageFormat.ELF, ImageFormat.PE, ImageFormat.TE, ImageFormat.RAW}
    for fmt in ImageFormat:
        assert file_offsets_are_buffer_offsets(result(fmt)) is (fmt in file_mapped)
    img = Image(path="x", format=ImageFormat.RAW, data=b"abcd")
    assert registry.file_offset_of(img, 3) == 3
    assert registry.file_offset_of(Image(path="x", format=ImageFormat.IHEX, data=b"abcd"), 3) is None


def _toy_module() -> types.ModuleType:
    """The code block of docs/extending.md's worked example, as a module."""
    text = EXTENDING.read_text()
    block = text.split("<!-- toy-format:begin -->", 1)[1].split("<!-- toy-format:end -->", 1)[0]
    code = block.split("```python", 1)[1].rsplit("```", 1)[0]
    mod = types.ModuleType("toy_format")
    exec(compile(code, str(EXTENDING), "exec"), mod.__dict__)
    return mod


@pytest.fixture()
def toy() -> types.ModuleType:
    mod = _toy_module()
    registry.register(mod.FORMATS[0])
    try:
        yield mod
    finally:
        registry.unregister("toy")


def test_docs_example_registers_a_toy_format_end_to_end(toy: types.ModuleType) -> None:
    blob = b"TOYF" + (0x08004000).to_bytes(4, "big") + b"\0zlib inflate 1.3.1 Copyright 1995-2024 Mark Adler\0"
    assert formats.detect(blob).value == "toy"
    assert registry.info("toy").description == "toy flash image"
    assert [i.name for i in registry.infos()][-2:] == ["toy", "raw"]
    img = formats.load(blob, "fw.toy")
    assert img.format is ImageFormat("toy") is toy.TOY
    assert img.segments[0].address == 0x08004000
    assert img.address_of(8) == 0x08004000 and registry.file_offset_of(img, 8) == 8
    with pytest.raises(FormatError, match=r"short\.toy: .*truncated"):
        formats.load(b"TOYF", "short.toy")
    # the scanner finds it through the registry; the result survives a JSON round trip
    results = analyze_bytes(blob, "fw.toy", catalog=load_catalog(), options=ScanOptions(use_cache=False))
    doc = json.loads(json.dumps(results[0].to_dict()))
    assert doc["format"] == "toy" and doc["metadata"]["toy:load_address"] == "0x8004000"
    back = ScanResult.from_dict(doc)
    assert back.format is toy.TOY
    found = {c.id: c for c in back.components}
    assert found["zlib"].version == "1.3.1"
    assert found["zlib"].evidence[0].address is not None  # located in flash via the toy's segment
    with pytest.raises(ValueError, match="already registered"):
        registry.register(toy.FORMATS[0])


def test_unregistered_toy_is_raw_again() -> None:
    assert formats.detect(b"TOYF\0\0\0\0payload").value == "raw"
    with pytest.raises(ValueError, match="built-in"):
        registry.unregister("elf")


def test_extended_names_are_checked() -> None:
    with pytest.raises(ValueError):
        ImageFormat.extend("Bad Name")
    assert ImageFormat.extend("elf") is ImageFormat.ELF


_MAGICS = [b"\x7fELF", b"MZ", b"VZ\x64\x86", b"\x55\xaa", b"PK\x03\x04", b"070701", b":10", b"S0", b"vbf_version =",
           b"<ODX", bytes(40) + b"_FVH", b"!<arch>\n"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(magic=st.sampled_from(_MAGICS), tail=st.binary(max_size=2048))
def test_any_bytes_detect_to_a_registered_format_and_load_or_fail_cleanly(magic: bytes, tail: bytes) -> None:
    blob = magic + tail
    fmt = formats.detect(blob)
    assert fmt.value in {i.name for i in registry.infos()}
    try:
        img = formats.load(blob, "h.bin")
    except FormatError as exc:
        assert str(exc).startswith("h.bin")
    else:
        assert img.format is fmt
        assert all(0 <= s.offset and s.offset + s.size <= len(img.data) for s in img.segments)
