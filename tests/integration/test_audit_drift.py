"""``previous:`` releases in the manifest: the audit reports release changes and provenance drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIRMWARE

from ecuscan.cli import main

pytestmark = pytest.mark.skipif(not (FIRMWARE / "tcu_app.elf").is_file(), reason="demo firmware not built")

MANIFEST = """
schema: ecuscan/manifest/v1
name: drift check
suppliers: [{id: t1, name: Tier One, tier: 1}]
ecus:
  - id: tcu
    supplier: t1
    firmware:
      - {path: fw/release-2.elf, role: application, version: "2.0", previous: fw/release-1.elf}
vehicles: [{id: v, ecus: [tcu]}]
"""


def test_drift_between_releases_is_reported_and_can_gate(tmp_path: Path) -> None:
    (tmp_path / "fw").mkdir()
    # Release 1 is the telematics image; "release 2" is a different build (another CPU, toolchain
    # flags, build paths, and a network-facing TLS library that release 1 did not have).
    shutil.copy(FIRMWARE / "tcu_app.elf", tmp_path / "fw/release-1.elf")
    shutil.copy(FIRMWARE / "gw_app.elf", tmp_path / "fw/release-2.elf")
    (tmp_path / "m.yaml").write_text(MANIFEST)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["audit", str(tmp_path / "m.yaml"), "-o", str(out), "--no-bench",
                                    "--store", str(tmp_path / "s.sqlite"), "--fail-on", "drift"])
    assert res.exit_code == 1, res.output
    doc = json.loads((out / "report.json").read_text())
    drift = doc["drift"]
    messages = " | ".join(d["message"] for d in drift)
    assert any(d["severity"] in ("warning", "error") for d in drift)
    assert "wolfSSL" in messages  # a new network-facing component
    assert "component added: wolfSSL 5.7.2" in messages
    assert any(r.startswith("drift: tcu release-2.elf since release-1.elf") for r in doc["policy"]["reasons"])
    html = (out / "report.html").read_text()
    assert 'id="drift"' in html and "release-1.elf" in html
    # without the drift policy the same audit passes
    res = CliRunner().invoke(main, ["audit", str(tmp_path / "m.yaml"), "-o", str(tmp_path / "o2"), "--no-bench",
                                    "--store", str(tmp_path / "s.sqlite"), "--fail-on", "none"])
    assert res.exit_code == 0, res.output


def test_missing_previous_release_is_a_manifest_error(tmp_path: Path) -> None:
    (tmp_path / "fw").mkdir()
    shutil.copy(FIRMWARE / "gw_app.elf", tmp_path / "fw/release-2.elf")
    (tmp_path / "m.yaml").write_text(MANIFEST)
    res = CliRunner().invoke(main, ["graph", "validate", str(tmp_path / "m.yaml")])
    assert res.exit_code == 2
    assert "previous" in res.output and "release-1.elf" in res.output
