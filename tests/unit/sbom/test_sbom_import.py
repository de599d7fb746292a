"""Supplier SBOM import: real-world-shaped documents, hostile XML, limits, clear errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ecuscan.errors import LimitExceeded, SbomError
from ecuscan.limits import DEFAULT_LIMITS
from ecuscan.sbom import SbomFormat, write_sbom
from ecuscan.sbom.importer import SbomLimitExceeded, load_sbom

from .sbom_samples import bcm_result

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "sbom"


def test_cyclonedx_14_json_with_nested_components() -> None:
    doc = load_sbom(DATA / "supplier-bcm.cdx14.json")
    assert (doc.format, doc.spec_version) == (SbomFormat.CYCLONEDX_JSON, "1.4")
    assert doc.product is not None and doc.product.name == "BCM application"
    assert doc.product.supplier == "ACME Electronics GmbH"
    assert doc.product.hashes == (("SHA-256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),)
    by = {c.name: c for c in doc.components}
    assert set(by) == {"mbedTLS", "FreeRTOS Kernel", "acme-can-stack", "CMSIS-Core"}  # nested one included
    assert by["mbedTLS"].purl == "pkg:github/Mbed-TLS/mbedtls@v3.6.0" and by["mbedTLS"].version == "v3.6.0"
    assert by["FreeRTOS Kernel"].cpe.startswith("cpe:2.3:a:amazon:freertos:10.5.1")
    assert by["CMSIS-Core"].supplier == "Arm" and by["acme-can-stack"].supplier == "ACME"


def test_cyclonedx_15_xml() -> None:
    doc = load_sbom(DATA / "supplier-gw.cdx15.xml")
    assert (doc.format, doc.spec_version) == (SbomFormat.CYCLONEDX_XML, "1.5")
    assert doc.product.name == "central-gateway" and doc.product.version == "7.1.0"
    assert [(c.name, c.version, c.purl, c.cpe) for c in doc.components] == [
        ("lwip", "2.2.0", "pkg:generic/lwip@2.2.0", None),
        ("zlib", "1.2.13", None, "cpe:2.3:a:zlib:zlib:1.2.13:*:*:*:*:*:*:*")]
    assert doc.components[0].hashes[0][0] == "SHA-256"


def test_spdx_22_tag_value() -> None:
    doc = load_sbom(DATA / "supplier-tcu.spdx22.tv")
    assert (doc.format, doc.spec_version) == (SbomFormat.SPDX_TV, "2.2")
    assert doc.product.name == "tcu-firmware"
    by = {c.name: c for c in doc.components}
    assert by["mbed TLS"].cpe == "cpe:2.3:a:arm:mbed_tls:2.28.8:*:*:*:*:*:*:*"
    assert by["mbed TLS"].supplier == "Arm Limited"
    assert by["mbed TLS"].hashes == (("SHA-256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),)
    assert by["zlib"].purl == "pkg:generic/zlib@1.3.1"


def test_spdx_23_json_document_describes() -> None:
    doc = load_sbom(DATA / "supplier-ecu.spdx23.json")
    assert (doc.format, doc.spec_version) == (SbomFormat.SPDX_JSON, "2.3")
    assert doc.product.name == "ecu-m33-app" and doc.product.supplier == "Tier1 Controls"
    assert sorted(c.name for c in doc.components) == ["FreeRTOS-Kernel", "polarssl"]
    fr = next(c for c in doc.components if c.name == "FreeRTOS-Kernel")
    assert fr.hashes == (("SHA-1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),)


@pytest.mark.parametrize("fmt", list(SbomFormat))
def test_reads_what_ecuscan_writes(fmt: SbomFormat) -> None:
    text = write_sbom([bcm_result()], fmt)
    doc = load_sbom(text.encode(), name=f"own.{fmt.value}")
    assert doc.format is fmt and doc.product.name == "bcm_app.elf"
    assert sorted((c.name, c.version) for c in doc.components) == [
        ("FreeRTOS", "10.6.2"), ("Mbed TLS", "3.6.0"), ("zlib", "1.3.1")]


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">
  <components><component type="library"><name>&xxe;</name></component></components>
</bom>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">
  <components><component type="library"><name>&lol3;</name></component></components>
</bom>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_hostile_xml_is_refused(payload: bytes) -> None:
    with pytest.raises(SbomError, match=r"evil\.xml: refused: XML with a DTD"):
        load_sbom(payload, name="evil.xml")


def test_limits_size_depth_items(tmp_path: Path) -> None:
    small = replace(DEFAULT_LIMITS, max_document_bytes=100)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "pad": "x" * 200}))
    with pytest.raises(SbomLimitExceeded, match=r"big\.json: document of \d+ bytes exceeds"):
        load_sbom(big, limits=small)
    deep: dict = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(LimitExceeded, match="nesting deeper than 64"):
        load_sbom(json.dumps(deep).encode(), name="deep.json")
    with pytest.raises(SbomError, match="nesting too deep"):  # deeper than Python's parser
        load_sbom(b'{"bomFormat": "CycloneDX", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", name="d.json")
    many = {"bomFormat": "CycloneDX", "specVersion": "1.6",
            "components": [{"type": "library", "name": f"c{i}"} for i in range(50)]}
    with pytest.raises(SbomLimitExceeded, match="more than 40 elements"):
        load_sbom(json.dumps(many).encode(), name="many.json", limits=replace(DEFAULT_LIMITS, max_document_items=40))
    xml_many = ('<bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components>'
                + "<component type='library'><name>x</name></component>" * 30 + "</components></bom>")
    with pytest.raises(SbomLimitExceeded, match="more than 20 XML elements"):
        load_sbom(xml_many.encode(), name="m.xml", limits=replace(DEFAULT_LIMITS, max_document_items=20))


@pytest.mark.parametrize("payload, message", [
    (b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"type": "library"}]}',
     r"s\.json: components\[0\]: component without a name"),
    (b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "a", "version": {"x": 1}}]}',
     r"components\[0\]\.version: expected a string, got dict"),
    (b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "a", "hashes": [{"alg": 1}]}]}',
     r"components\[0\]\.hashes\[0\]"),
    (b'{"bomFormat": "CycloneDX", "specVersion": "9.9"}', "unsupported CycloneDX version"),
    (b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": {}}', r"components: expected a list"),
    (b'{"spdxVersion": "SPDX-2.1"}', "unsupported SPDX version"),
    (b'{"spdxVersion": "SPDX-2.3", "packages": [{"name": 3}]}', "invalid SPDX"),
    (b'{"bomFormat": "CycloneDX", "specVersion": "1.5", ', "invalid JSON at line 1"),
    (b'<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components><component><version>1</version>'
     b'</component></components></bom>', r"bom/components/component\[1\]: <component> without a <name>"),
    (b'<bom xmlns="urn:other"/>', "is not a CycloneDX <bom>"),
    (b"<bom><unclosed></bom>", "invalid XML"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"hello", "not a CycloneDX"),
    (b"SPDXVersion: SPDX-2.3\nPackageName: x\nSPDXID: bad id\n", "invalid SPDX"),
])
def test_bad_documents_name_file_and_element(payload: bytes, message: str) -> None:
    with pytest.raises(SbomError, match=message):
        load_sbom(payload, name="s.json")


def test_missing_file() -> None:
    with pytest.raises(SbomError, match=r"nope\.json: cannot read"):
        load_sbom(Path("/nonexistent/nope.json"), name="nope.json")
