"""The cache key (scanner_version) covers every module whose code shapes a stored analysis: a
change there must never serve a stale result from the store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ecuscan import scanner

ROOT = Path(__file__).resolve().parents[3]
FIRMWARE = ROOT / "firmware"

#: Modules an analysis loads that do not decide what is stored: package roots, errors, the file
#: opening guard, the worker pool, the store itself.
NOT_SHAPING = {"ecuscan", "ecuscan.vulns", "ecuscan.errors", "ecuscan.safeio", "ecuscan.executors", "ecuscan.store"}

PROBE = """
import json, sys
from ecuscan.scanner import Scanner
paths = sys.argv[1:]
out = list(Scanner(None).scan_paths(paths))
assert all(hasattr(o, "components") for o in out), out
print(json.dumps(sorted(m for m in sys.modules if m.startswith("ecuscan"))))
"""


def _covered(module: str) -> bool:
    rel = module.removeprefix("ecuscan.").replace(".", "/")
    return any(rel == src.removesuffix(".py") or rel.startswith(src.rstrip("/") + "/")
               for src in scanner._ANALYSIS_SOURCES)


def test_every_module_an_analysis_loads_is_in_the_cache_key() -> None:
    images = [FIRMWARE / n for n in ("tcu_app.elf", "bcm_app.vbf", "bcm_app.hex", "sensor_raw.bin")]
    run = subprocess.run([sys.executable, "-c", PROBE, *map(str, images)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    loaded = json.loads(run.stdout.splitlines()[-1])
    assert "ecuscan.identify.signatures" in loaded  # the probe really analysed
    missing = [m for m in loaded if m not in NOT_SHAPING and not _covered(m)]
    assert not missing, f"modules that shape a stored analysis but are not in the cache key: {missing}"


KEY = "from ecuscan.scanner import scanner_version; print(scanner_version())"


def test_the_key_changes_with_the_data_and_code_it_covers(tmp_path: Path) -> None:
    """A copy of the package gives the same key; a changed AUTOSAR table, limit or catalog module another."""
    import os
    import shutil

    def key(root: Path) -> str:
        env = {**os.environ, "PYTHONPATH": str(root)}
        return subprocess.run([sys.executable, "-c", KEY], capture_output=True, text=True, check=True, env=env,
                              cwd=tmp_path).stdout.strip()

    base = tmp_path / "base"
    shutil.copytree(ROOT / "ecuscan", base / "ecuscan", ignore=shutil.ignore_patterns("__pycache__"))
    reference = key(base)
    assert reference == key(base)
    for rel in ("data/autosar_modules.yaml", "limits.py", "catalog/__init__.py", "catalog/components.yaml",
                "catalog/domains/firmware-rtos.yaml", "textsafe.py"):
        changed = tmp_path / rel.replace("/", "_")
        shutil.copytree(base, changed)
        with (changed / "ecuscan" / rel).open("a", encoding="utf-8") as f:
            f.write("\n# changed\n")
        assert key(changed) != reference, rel
