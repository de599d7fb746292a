"""SBOMs, reconciliation and diff on the real bare-metal images of the development corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.diff import diff_results
from ecuscan.model import ScanResult
from ecuscan.sbom import SbomFormat, write_sbom
from ecuscan.sbom.importer import load_sbom
from ecuscan.sbom.reconcile import reconcile
from ecuscan.scan.pipeline import Scanner

from .test_sbom_write import validate

pytestmark = pytest.mark.corpus
IMAGES = ["fw/tcu_m4_debug.elf", "fw/gw_m7_verstr.hex", "fw/ecu_m33_nover.elf"]


def truth(corpus: Path, rel: str) -> dict[str, str]:
    files = json.loads((corpus / "baremetal.json").read_text())["files"]
    entry = next(f for f in files if f["file"] == rel)
    return {c["component"]: c["version"] for c in entry["components"]}


def scan(corpus: Path, rel: str) -> ScanResult:
    res = Scanner(None).scan_file(corpus / rel)
    assert isinstance(res, list), res
    return res[0]


@pytest.mark.parametrize("rel", IMAGES)
def test_real_image_sboms_validate_and_match_ground_truth(corpus: Path, rel: str) -> None:
    result = scan(corpus, rel)
    expected = truth(corpus, rel)
    for fmt in SbomFormat:
        text = write_sbom([result], fmt)
        validate(text, fmt)
        assert write_sbom([result], fmt) == text
        declared = load_sbom(text.encode(), name=rel)
        got = {(c.name, c.version) for c in declared.components}
        assert got == {(c.name, c.version) for c in result.components}
    for c in result.contained():
        assert c.id in expected, f"{c.id} not in the ground truth of {rel}"
        if c.version:
            assert c.version == expected[c.id]


def test_reconcile_against_ground_truth_sbom(corpus: Path, tmp_path: Path) -> None:
    rel = "fw/gw_m7_verstr.hex"
    expected = truth(corpus, rel)
    sbom = {"bomFormat": "CycloneDX", "specVersion": "1.5",
            "components": [{"type": "library", "name": n, "version": v} for n, v in expected.items()]}
    (tmp_path / "gw.cdx.json").write_text(json.dumps(sbom))
    result = scan(corpus, rel)
    r = reconcile(result, load_sbom(tmp_path / "gw.cdx.json"), load_catalog())
    assert r.undeclared == () and r.version_mismatch == ()
    assert {i.key for i in r.matched} == {c.id for c in result.components}
    # drop one the scanner finds: it must come back as undeclared
    victim = result.contained()[0].id
    sbom["components"] = [c for c in sbom["components"] if load_catalog().resolve(c["name"]) is None
                          or load_catalog().resolve(c["name"]).id != victim]
    (tmp_path / "gw2.cdx.json").write_text(json.dumps(sbom))
    r2 = reconcile(result, load_sbom(tmp_path / "gw2.cdx.json"), load_catalog())
    assert [i.key for i in r2.undeclared] == [victim] and not r2.passed


def test_diff_between_real_images(corpus: Path) -> None:
    old, new = scan(corpus, "fw/tcu_m4_debug.elf"), scan(corpus, "fw/gw_m7_verstr.elf")
    d = diff_results(old, new, load_catalog())
    assert {c.id for c in d.added} == {c.id for c in new.components} - {c.id for c in old.components}
    assert {c.id for c in d.removed} == {c.id for c in old.components} - {c.id for c in new.components}
    old_flags = {f for t in old.provenance.toolchains for f in t.flags}
    new_flags = {f for t in new.provenance.toolchains for f in t.flags}
    assert any(i.kind.value == "flags-changed" for i in d.indicators) == (old_flags != new_flags)
