"""The CLI: ``ecuscan sbom`` (write / reconcile) and ``ecuscan diff``, with results served by the store.

The images are real files; their scan results are put in the store under the files' real
SHA-256 and the current scanner version, so the scanner serves them from its cache (the
CLI path is exercised end to end without depending on which signatures the catalog holds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ecuscan.cli import main
from ecuscan.model import ScanResult, Sha256
from ecuscan.scan.cache import scanner_version
from ecuscan.store import Store

from .sbom_samples import bcm_result, comp

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "sbom"


def seed(tmp_path: Path, name: str, result: ScanResult) -> tuple[str, str]:
    """Write a file, store ``result`` for its bytes; return (file path, store URL)."""
    f = tmp_path / name
    f.write_bytes(b"\x7fELF fake image " + name.encode() + result.sha256.encode())
    digest = Sha256(hashlib.sha256(f.read_bytes()).hexdigest())
    url = f"sqlite:///{tmp_path / 'inv.sqlite'}"
    r = dataclasses.replace(result, path=str(f), sha256=digest, scanner_version=scanner_version(),
                            provenance=dataclasses.replace(result.provenance, sha256=digest))
    with Store.open(url) as store:
        store.put(r)
    return str(f), url


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return res.exit_code, res.output


@pytest.mark.parametrize("form", [("sbom",), ("sbom", "write")])
def test_sbom_write_default_and_explicit(tmp_path: Path, form: tuple[str, ...]) -> None:
    img, url = seed(tmp_path, "bcm_app.elf", bcm_result())
    out = tmp_path / "bom.json"
    code, _ = run(*form, img, "--format", "cyclonedx-json", "-o", str(out), "--store", url,
                  "--timestamp", "2024-06-01T00:00:00Z", "--supplier", "ACME")
    assert code == 0
    text = out.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["metadata"]["component"]["supplier"]["name"] == "ACME"
    assert {c["name"] for c in bom["components"]} == {"Mbed TLS", "FreeRTOS", "zlib"}
    code2, _ = run(*form, img, "--format", "cyclonedx-json", "-o", str(out), "--store", url,
                   "--timestamp", "2024-06-01T00:00:00Z", "--supplier", "ACME")
    assert code2 == 0 and out.read_text() == text  # deterministic through the CLI too


def test_sbom_write_spdx_to_stdout(tmp_path: Path) -> None:
    img, url = seed(tmp_path, "bcm_app.elf", bcm_result())
    code, output = run("sbom", img, "-f", "spdx-tv", "--store", url)
    assert code == 0 and output.startswith("## Document Information\nSPDXVersion: SPDX-2.3")


def test_reconcile_exit_codes(tmp_path: Path) -> None:
    img, url = seed(tmp_path, "bcm_app.elf", bcm_result())
    code, output = run("sbom", "reconcile", img, "--declared", str(DATA / "supplier-bcm.cdx14.json"),
                       "--store", url, "--json")
    assert code == 0, output  # FreeRTOS mismatched, nothing undeclared
    doc = json.loads(output)
    assert doc["counts"] == {"matched": 1, "version_mismatch": 1, "undeclared": 0, "unconfirmed": 2,
                             "undeclared_uses": 1}
    assert doc["completeness"] == 0.5
    # the TCU's SBOM does not mention FreeRTOS: undeclared -> exit 1, table output
    code, output = run("sbom", "reconcile", img, "--declared", str(DATA / "supplier-tcu.spdx22.tv"), "--store", url)
    assert code == 1
    assert "undeclared" in output and "FreeRTOS" in output and "completeness" in output


def test_reconcile_bad_sbom_is_usage_error(tmp_path: Path) -> None:
    img, url = seed(tmp_path, "bcm_app.elf", bcm_result())
    bad = tmp_path / "evil.xml"
    bad.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><bom/>')
    res = CliRunner().invoke(main, ["sbom", "reconcile", img, "--declared", str(bad), "--store", url])
    assert res.exit_code == 2 and "refused" in res.output


def test_diff_cli(tmp_path: Path) -> None:
    old, url = seed(tmp_path, "old.elf", bcm_result())
    new, _ = seed(tmp_path, "new.elf", bcm_result(build_id=None, extra=(comp("lwip", "2.2.0"),), label="n"))
    code, output = run("diff", old, new, "--store", url, "--json")
    assert code == 1
    doc = json.loads(output)
    assert {i["kind"] for i in doc["indicators"]} >= {"build-id-missing", "network-facing-new"}
    same, _ = seed(tmp_path, "same.elf", bcm_result())
    code, output = run("diff", old, same, "--store", url)
    assert code == 0 and "no component changes" in output
