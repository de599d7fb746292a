"""Do two checkouts of ecuscan give the same ``scan --json`` results? (speed work must not change a result)

    .venv/bin/python tests/benchmarks/compare_scan_results.py --baseline /tmp/main [--tree root/armhf root/arm64]
                                                               [--jobs 1] [--keep DIR]

``--baseline`` is a copy of the other checkout (``git archive main | tar -x -C /tmp/main``); it runs
as ``python -m ecuscan`` with ``PYTHONPATH`` set to it, this checkout with ``PYTHONPATH`` set to
this one, both with the same interpreter, ``--no-cache`` and a fresh SQLite store each. Every
result is compared field by field (components with versions, relations and evidence, provenance,
segments, metadata, diagnostics); only ``scanner_version`` (a digest of the code) may differ. Each
difference is printed with its path; the exit code is 1 when there is one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache" / "ecuscan" / "dev-corpus"))
#: Fields that name the code, not the result.
IGNORED = frozenset({"scanner_version"})


def scan(checkout: Path, tree: Path, jobs: str, tmp: str, tag: str) -> tuple[dict[str, Any], float]:
    env = {**os.environ, "PYTHONPATH": str(checkout), "ECUSCAN_STORE": f"sqlite:///{tmp}/{tag}.sqlite"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ecuscan", "scan", "--json", "--no-cache", "--jobs", jobs,
                           str(tree)], env=env, cwd=tmp, capture_output=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{checkout}: scan of {tree} exited {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return json.loads(proc.stdout), wall


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in IGNORED}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def diff(a: Any, b: Any, where: str, out: list[str], limit: int = 50) -> None:
    """Append a line per difference between ``a`` and ``b`` (at most ``limit``)."""
    if len(out) >= limit:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only in {'baseline' if k in a else 'this checkout'}")
            else:
                diff(a[k], b[k], f"{where}.{k}", out, limit)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items in the baseline, {len(b)} here")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            diff(x, y, f"{where}[{i}]", out, limit)
    elif a != b:
        out.append(f"{where}: baseline {json.dumps(a)[:200]} / here {json.dumps(b)[:200]}")


def compare(baseline: dict[str, Any], here: dict[str, Any]) -> tuple[int, int, list[str]]:
    """(results, components, differences) of two ``scan --json`` documents, results keyed by path."""
    a = {r["path"]: _strip(r) for r in baseline["results"]}
    b = {r["path"]: _strip(r) for r in here["results"]}
    out: list[str] = []
    for path in sorted(set(a) | set(b)):
        if path not in a or path not in b:
            out.append(f"{path}: only in {'baseline' if path in a else 'this checkout'}")
            continue
        diff(a[path], b[path], path, out)
    diff(_strip(baseline.get("errors")), _strip(here.get("errors")), "errors", out)
    return len(b), sum(len(r["components"]) for r in b.values()), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, type=Path, help="the other checkout (e.g. /tmp/main)")
    ap.add_argument("--tree", nargs="+", default=["root/armhf", "root/arm64"])
    ap.add_argument("--jobs", default="1")
    ap.add_argument("--keep", type=Path, help="write both JSON documents here")
    args = ap.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(prefix="ecuscan-compare-") as tmp:
        for name in args.tree:
            tree = Path(name) if Path(name).is_absolute() else CORPUS / name
            if not tree.is_dir():
                raise SystemExit(f"{tree} not found (fetch the development corpus first)")
            base, t_base = scan(args.baseline.resolve(), tree, args.jobs, tmp, "base")
            here, t_here = scan(HERE, tree, args.jobs, tmp, "here")
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for tag, doc in (("baseline", base), ("here", here)):
                    (args.keep / f"{tree.name}-{tag}.json").write_text(json.dumps(doc, indent=1, sort_keys=True))
            results, components, out = compare(base, here)
            status = "identical" if not out else f"{len(out)} differences"
            print(f"{tree.name}: {results} results, {components} components: {status} "
                  f"(baseline {t_base:.1f} s, this checkout {t_here:.1f} s)")
            for line in out:
                print("  " + line)
            failed = failed or bool(out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
