"""The batch inventory the scan command prints for many files: real scans of the demo firmware."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ecuscan.cli import main
from ecuscan.inventory import files_with_findings, inventory
from ecuscan.model import ScanResult
from ecuscan.scan.pipeline import Scanner

DEMO = Path(__file__).resolve().parents[2] / "firmware"


def test_inventory_counts_files_per_component_version() -> None:
    results = [o for o in Scanner(None).scan_paths([DEMO / "bcm_app.elf", DEMO / "bcm_app.hex",
                                                    DEMO / "tcu_app.elf"]) if isinstance(o, ScanResult)]
    rows = {(r.id, r.version): r for r in inventory(results)}
    per_file = {(c.id, c.version) for r in results for c in r.contained()}
    assert set(rows) == per_file
    for (cid, version), row in rows.items():
        assert row.files == sum(1 for r in results for c in r.contained() if (c.id, c.version) == (cid, version))
        assert row.example in {r.path for r in results}
    assert files_with_findings(results) == tuple(r for r in results if any(
        d.severity.value in ("warning", "error") for d in r.diagnostics))


def test_scan_of_many_files_prints_one_inventory(tmp_path: Path) -> None:
    runner = CliRunner()
    store = f"sqlite:///{tmp_path / 's.sqlite'}"
    images = [str(DEMO / n) for n in ("bcm_app.elf", "bcm_app.hex", "gw_app.elf", "tcu_app.elf")]
    many = runner.invoke(main, ["scan", "--store", store, "--summary", *images])
    assert many.exit_code == 0, many.output
    assert "file(s) scanned" in many.output and "recognised by" in many.output
    assert "build-id" not in many.output  # no per-image tables
    one = runner.invoke(main, ["scan", "--store", store, str(DEMO / "tcu_app.elf")])
    assert "build-id" in one.output and "recognised by" not in one.output
