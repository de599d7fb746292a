"""SBOM output: official validation, determinism, snapshots, and the facts each format carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as DET
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.validation.xml import XmlValidator
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.parser.tagvalue.parser import Parser as TvParser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from ecuscan.errors import SbomError
from ecuscan.sbom import SbomFormat, SupplierInfo, write_sbom

from .sbom_samples import bcm_result, gateway_hex_result

SNAPSHOTS = Path(__file__).resolve().parents[2] / "fixtures" / "sbom-snapshots"
WHEN = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SUPPLIER = SupplierInfo(name="ACME Electronics GmbH", url="https://acme.example")


def validate(text: str, fmt: SbomFormat) -> None:
    """The official validators of cyclonedx-python-lib (schema 1.6) and spdx-tools."""
    if fmt is SbomFormat.CYCLONEDX_JSON:
        assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    elif fmt is SbomFormat.CYCLONEDX_XML:
        assert XmlValidator(SchemaVersion.V1_6).validate_str(text) is None
    else:
        doc = (JsonLikeDictParser().parse(json.loads(text)) if fmt is SbomFormat.SPDX_JSON
               else TvParser().parse(text))
        assert validate_full_spdx_document(doc, "SPDX-2.3") == []


@pytest.mark.parametrize("fmt", list(SbomFormat))
@pytest.mark.parametrize("multi", [False, True])
def test_every_sbom_validates_and_is_deterministic(fmt: SbomFormat, multi: bool) -> None:
    results = [bcm_result(), gateway_hex_result()] if multi else [bcm_result()]
    text = write_sbom(results, fmt, supplier=SUPPLIER, timestamp=WHEN)
    validate(text, fmt)
    again = write_sbom(list(reversed(results)), fmt, supplier=SUPPLIER, timestamp=WHEN)
    assert again == text  # byte-identical, whatever the input order


@pytest.mark.parametrize("fmt", list(SbomFormat))
def test_snapshots(fmt: SbomFormat, update_snapshots: bool) -> None:
    """Output equals the committed snapshot; `pytest --update-snapshots` rewrites them (a test run never
    writes one: a missing snapshot fails)."""
    ext = {"cyclonedx-json": "cdx.json", "cyclonedx-xml": "cdx.xml", "spdx-json": "spdx.json", "spdx-tv": "spdx"}
    path = SNAPSHOTS / f"bcm.{ext[fmt.value]}"
    text = write_sbom([bcm_result()], fmt, supplier=SUPPLIER, timestamp=WHEN)
    validate(text, fmt)
    if update_snapshots:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"snapshot {path.name} is missing; `pytest --update-snapshots` writes it"
    assert path.read_text(encoding="utf-8") == text, f"{path.name} differs; `pytest --update-snapshots` to update"


def test_serial_and_timestamp_follow_content_or_caller() -> None:
    a = json.loads(write_sbom([bcm_result()], SbomFormat.CYCLONEDX_JSON))
    b = json.loads(write_sbom([bcm_result(mbedtls="3.6.1")], SbomFormat.CYCLONEDX_JSON))
    assert a["serialNumber"].startswith("urn:uuid:") and a["serialNumber"] != b["serialNumber"]
    assert "timestamp" not in a["metadata"]
    c = json.loads(write_sbom([bcm_result()], SbomFormat.CYCLONEDX_JSON, timestamp=WHEN,
                              serial="12345678-1234-5678-1234-567812345678"))
    assert c["serialNumber"] == "urn:uuid:12345678-1234-5678-1234-567812345678"
    assert c["metadata"]["timestamp"].startswith("2024-06-01T12:00:00")
    with pytest.raises(SbomError, match="not a UUID"):
        write_sbom([bcm_result()], SbomFormat.CYCLONEDX_JSON, serial="nope")
    with pytest.raises(SbomError, match="no scan results"):
        write_sbom([], SbomFormat.SPDX_JSON)


def _props(obj: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in obj.get("properties", []):
        out.setdefault(p["name"], []).append(p["value"])
    return out


def test_cyclonedx_content() -> None:
    r = bcm_result()
    bom = json.loads(write_sbom([r], SbomFormat.CYCLONEDX_JSON, supplier=SUPPLIER, timestamp=WHEN))
    assert bom["specVersion"] == "1.6"
    meta = bom["metadata"]["component"]
    assert meta["type"] == "firmware" and meta["name"] == "bcm_app.elf" and meta["version"] == "2.4.1"
    assert meta["hashes"] == [{"alg": "SHA-256", "content": r.sha256}]
    assert meta["supplier"]["name"] == "ACME Electronics GmbH"
    props = _props(meta)
    assert props["ecuscan:build-id"] == ["3f9a1c77e0"]
    assert props["ecuscan:toolchain"] == ["GCC 13.2.1"]
    assert sorted(props["ecuscan:toolchain-flag"]) == ["-O2", "-mcpu=cortex-m4"]
    assert "/home/ci/build/bcm/src/main.c" in props["ecuscan:build-path"]
    assert props["ecuscan:metadata:sw_part_number"] == ["32200123 AA"]
    assert any("CN=OEM Root CA 2024" in c for c in props["ecuscan:certificate"])
    # a hostile diagnostic string is neutralised (no raw ESC in the SBOM)
    assert "\x1b" not in json.dumps(bom, ensure_ascii=False)
    assert any("\\x1b[31m" in d for d in props["ecuscan:diagnostic"])

    comps = {c["name"]: c for c in bom["components"]}
    mbed = comps["Mbed TLS"]
    assert mbed["purl"] == "pkg:github/mbed-tls/mbedtls@3.6.0"
    assert mbed["cpe"] == "cpe:2.3:a:arm:mbed_tls:3.6.0:*:*:*:*:*:*:*"
    assert mbed["supplier"]["name"] == "Arm / TrustedFirmware.org"
    ident = {i["field"]: i for i in mbed["evidence"]["identity"]}
    assert ident["version"]["concludedValue"] == "3.6.0"
    assert ident["version"]["methods"] == [{"confidence": 0.95, "technique": "binary-analysis",
                                           "value": "version-string: Mbed TLS 3.6.0"}]
    assert len(ident["name"]["methods"]) == 2
    occ = {o["location"]: o for o in mbed["evidence"]["occurrences"]}
    assert occ["offset 0x3c10 / address 0x8003c10"]["symbol"] == "mbedtls_ssl_handshake"
    assert occ["offset 0x1a2b0 / address 0x801a2b0"]["offset"] == 0x1A2B0
    # USES: listed, marked, and a dependency of the image; contained ones are not dependencies
    assert _props(comps["zlib"])["ecuscan:relation"] == ["uses"]
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert deps[meta["bom-ref"]] == [comps["zlib"]["bom-ref"]]


def test_cyclonedx_multi_image_and_hex_offsets() -> None:
    bom = json.loads(write_sbom([bcm_result(), gateway_hex_result()], SbomFormat.CYCLONEDX_JSON, name="MY27 body"))
    assert bom["metadata"]["component"]["name"] == "MY27 body"
    images = [c for c in bom["components"] if c["type"] == "firmware"]
    assert sorted(i["name"] for i in images) == ["bcm_app.elf", "gw.hex"]
    lwip = next(c for c in bom["components"] if c["name"] == "lwIP")
    gw_ref = next(i["bom-ref"] for i in images if i["name"] == "gw.hex")
    assert _props(lwip)["ecuscan:image"] == [gw_ref]
    # HEX: evidence offsets are in the decoded payload, not the file: no occurrence.offset
    [occ] = lwip["evidence"]["occurrences"]
    assert occ["location"] == "offset 0x200 / address 0x200" and "offset" not in occ
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert sorted(deps[bom["metadata"]["component"]["bom-ref"]]) == sorted(i["bom-ref"] for i in images)


def test_cyclonedx_xml_parses_safely() -> None:
    text = write_sbom([bcm_result()], SbomFormat.CYCLONEDX_XML)
    root = DET.fromstring(text)
    ns = "{http://cyclonedx.org/schema/bom/1.6}"
    assert root.find(f"{ns}metadata/{ns}component").get("type") == "firmware"
    assert len(root.findall(f"{ns}components/{ns}component")) == 3


def test_spdx_content() -> None:
    r = bcm_result()
    doc = json.loads(write_sbom([r], SbomFormat.SPDX_JSON, supplier=SUPPLIER, timestamp=WHEN))
    assert doc["spdxVersion"] == "SPDX-2.3" and doc["creationInfo"]["created"] == "2024-06-01T12:00:00Z"
    pk = {p["name"]: p for p in doc["packages"]}
    img = pk["bcm_app.elf"]
    assert img["primaryPackagePurpose"] == "FIRMWARE"
    assert img["checksums"] == [{"algorithm": "SHA256", "checksumValue": r.sha256}]
    assert img["supplier"] == "Organization: ACME Electronics GmbH"
    refs = {(e["referenceType"], e["referenceLocator"]) for e in pk["Mbed TLS"]["externalRefs"]}
    assert refs == {("purl", "pkg:github/mbed-tls/mbedtls@3.6.0"),
                    ("cpe23Type", "cpe:2.3:a:arm:mbed_tls:3.6.0:*:*:*:*:*:*:*")}
    rels = {(x["spdxElementId"], x["relationshipType"], x["relatedSpdxElement"]) for x in doc["relationships"]}
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", img["SPDXID"]) in rels
    assert (img["SPDXID"], "CONTAINS", pk["Mbed TLS"]["SPDXID"]) in rels
    assert (img["SPDXID"], "DEPENDS_ON", pk["zlib"]["SPDXID"]) in rels
    assert (img["SPDXID"], "CONTAINS", pk["zlib"]["SPDXID"]) not in rels
    notes = [a["comment"] for p in doc["packages"] for a in p.get("annotations", [])]
    assert any("method=version-string" in n and "location=offset 0x1a2b0" in n and "text=Mbed TLS 3.6.0" in n
               for n in notes)
    assert any("ecuscan:build-id=3f9a1c77e0" in n for n in notes)
