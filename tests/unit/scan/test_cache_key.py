"""The cache key (scanner_version) covers every module whose code shapes a stored analysis: a
change there must never serve a stale result from the store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecuscan.scan import cache
from ecuscan.scan.pipeline import Scanner

ROOT = Path(__file__).resolve().parents[3]
FIRMWARE = ROOT / "firmware"

#: Modules an analysis loads that do not decide what is stored: package roots, errors, the file
#: opening guard, the worker pool, the store itself.
NOT_SHAPING = {"ecuscan", "ecuscan.vulns", "ecuscan.errors", "ecuscan.safeio", "ecuscan.scan", "ecuscan.scan.executors",
               "ecuscan.store",
               # keeps parses between processes: what is read back equals a fresh parse (its own tests)
               "ecuscan.keptfile",
               # gives a large map's pages back after a pass: the bytes read are the same (its own tests)
               "ecuscan.mapped"}

PROBE = """
import json, sys
from ecuscan.scan.pipeline import Scanner
paths = sys.argv[1:]
out = list(Scanner(None).scan_paths(paths))
assert all(hasattr(o, "components") for o in out), out
print(json.dumps(sorted(m for m in sys.modules if m.startswith("ecuscan"))))
"""


def _covered(module: str) -> bool:
    rel = module.removeprefix("ecuscan.").replace(".", "/")
    return any(rel == src.removesuffix(".py") or rel.startswith(src.rstrip("/") + "/")
               for src in cache.ANALYSIS_SOURCES)


def test_every_module_an_analysis_loads_is_in_the_cache_key() -> None:
    images = [FIRMWARE / n for n in ("tcu_app.elf", "bcm_app.vbf", "bcm_app.hex", "sensor_raw.bin")]
    run = subprocess.run([sys.executable, "-c", PROBE, *map(str, images)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    loaded = json.loads(run.stdout.splitlines()[-1])
    assert "ecuscan.identify.signatures" in loaded  # the probe really analysed
    missing = [m for m in loaded if m not in NOT_SHAPING and not _covered(m)]
    assert not missing, f"modules that shape a stored analysis but are not in the cache key: {missing}"


KEY = "from ecuscan.scan.cache import scanner_version; print(scanner_version())"


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


# --- each file is read once, with the cache on, in process and in pool workers -------------------

def _tree(root: Path, n: int = 40) -> Path:
    root.mkdir()
    for i in range(n):
        (root / f"f{i:02d}.bin").write_bytes(f"\0zlib 1.2.{i} inflate 1.2.{i} Copyright Mark Adler\0".encode() * 30)
    return root


class _Seen:
    def __init__(self) -> None:
        self.cached: list[str] = []
        self.analysed: list[str] = []

    def planned(self, total: int) -> None:
        pass

    def finished(self, outcome: object, cached: bool) -> None:
        (self.cached if cached else self.analysed).append(getattr(outcome, "path", ""))


def _no_parent_hash(*_a: object) -> None:
    raise AssertionError("the parent read a file to hash it: the worker that maps it must")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_cached_rescan_reads_each_file_once_and_only_in_the_analysing_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    """The parent never hashes (pool workers are forked with the patch, so they would fail too if
    they went through sha256_file): the one map of each file is hashed and looked up."""
    import ecuscan.scan.analysis
    import ecuscan.scan.pipeline
    from ecuscan.scan.options import ScanOptions
    from ecuscan.store import Store

    monkeypatch.setattr(ecuscan.scan.pipeline, "sha256_file", _no_parent_hash)
    opened: list[str] = []
    real_open = ecuscan.scan.analysis.open_regular

    def counting_open(path: object) -> int:
        opened.append(str(path))
        return real_open(path)  # type: ignore[arg-type]

    monkeypatch.setattr(ecuscan.scan.analysis, "open_regular", counting_open)
    tree = _tree(tmp_path / "tree")
    options = ScanOptions(jobs=jobs)
    with Store.open(str(tmp_path / "s.sqlite")) as store:
        first, second = _Seen(), _Seen()
        one = {o.path: o for o in Scanner(store, options=options, observer=first).scan_paths([tree])}
        two = {o.path: o for o in Scanner(store, options=options, observer=second).scan_paths([tree])}
    assert len(first.analysed) == 40 and not first.cached
    assert len(second.cached) == 40 and not second.analysed, second.analysed
    assert {p: r.to_dict() for p, r in one.items()} == {p: r.to_dict() for p, r in two.items()}
    if jobs == 1:  # in this process: one open (one map) per file and scan
        assert len(opened) == 80 and len(set(opened)) == 40


@pytest.mark.parametrize("jobs", [1, 2])
def test_changed_bytes_are_analysed_again_even_with_the_same_size_and_mtime(tmp_path: Path, jobs: int) -> None:
    """The cache is keyed on the hash of the bytes mapped for the analysis, never on file metadata."""
    import os

    from ecuscan.scan.options import ScanOptions
    from ecuscan.store import Store

    tree = _tree(tmp_path / "tree")
    victim = tree / "f07.bin"
    stat = victim.stat()
    options = ScanOptions(jobs=jobs)
    with Store.open(str(tmp_path / "s.sqlite")) as store:
        before = {o.path: o for o in Scanner(store, options=options).scan_paths([tree])}
        old = victim.read_bytes()
        victim.write_bytes(old.replace(b"1.2.7", b"1.3.1"))
        os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert victim.stat().st_size == stat.st_size and victim.stat().st_mtime_ns == stat.st_mtime_ns
        seen = _Seen()
        after = {o.path: o for o in Scanner(store, options=options, observer=seen).scan_paths([tree])}
    assert seen.analysed == [str(victim)] and len(seen.cached) == 39
    got = after[str(victim)]
    assert got.sha256 != before[str(victim)].sha256
    assert [c.version for c in got.components if c.id == "zlib"] == ["1.3.1"]
