"""The bundled demo images in ``firmware/``: every (component, version) of ``expected.json`` is found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecuscan.cli import main

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware"
EXPECTED = FIRMWARE / "expected.json"

# image name in expected.json -> file scanned (raw images need their load address)
_FILES = {"bcm_app": "bcm_app.elf", "gw_app": "gw_app.elf", "tcu_app": "tcu_app.elf",
          "sensor_raw": "sensor_raw.bin"}


def _expected() -> dict[str, dict[str, object]]:
    if not EXPECTED.is_file():
        return {}
    return json.loads(EXPECTED.read_text())["images"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(_FILES))
def test_demo_image_components_and_versions(name: str) -> None:
    images = _expected()
    if name not in images or not (FIRMWARE / _FILES[name]).is_file():
        pytest.skip(f"demo image {name} not built")
    spec = images[name]
    args = ["scan", "--no-cache", "--json"]
    if _FILES[name].endswith(".bin"):
        args += ["--base-address", str(spec["base_address_hex"])]
    res = CliRunner().invoke(main, [*args, str(FIRMWARE / _FILES[name])])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["errors"] == []
    found = {(c["id"], c["version"]) for r in doc["results"] for c in r["components"]
             if c["relation"] == "contains"}
    want = {(c["id"], c["version"]) for c in spec["components"]}  # type: ignore[attr-defined]
    assert want, f"expected.json lists no components for {name}"
    assert want <= found, f"{name}: missing {sorted(want - found, key=str)}; found {sorted(found, key=str)}"
    # no component is reported with a version other than the expected one
    ids = {cid for cid, _ in want}
    wrong = {(cid, v) for cid, v in found if cid in ids and (cid, v) not in want}
    assert not wrong, f"{name}: contradicting versions {sorted(wrong, key=str)}"
