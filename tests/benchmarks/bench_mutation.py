"""Mutation testing of the core decision modules: how many planted bugs does the suite catch?

    .venv/bin/pip install -e '.[test]'          # mutmut is in the test extra
    .venv/bin/python tests/benchmarks/bench_mutation.py [--run] [--module ecuscan/sbom/reconcile.py] [--survivors]

mutmut (configured under ``[tool.mutmut]`` in pyproject.toml: the modules to mutate and the test
directories that judge them) copies the package to ``mutants/``, plants one small bug at a time
(an operator, a constant, a comparison, a dropped argument) and runs only the tests that cover the
mutated function. With ``--run`` this script runs ``mutmut run`` first (minutes per module on 2
cores; ``--module`` limits the run); then it reads mutmut's result files and prints, per module,
the mutants killed (a test failed), timed out (the bug made a test hang: caught), survived (no test
noticed) and the kill rate = (killed + timeout) / (all - not covered by any test). ``--survivors``
lists each survivor's diff, to kill it with a test or explain it as equivalent in
``docs/benchmarks.md``. Exit 1 when a module's kill rate is below ``--target`` (default 0.85).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MUTMUT = Path(sys.executable).with_name("mutmut")
def configured_modules() -> list[str]:
    """The modules pyproject.toml's ``[tool.mutmut] only_mutate`` names."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(conf["tool"]["mutmut"]["only_mutate"])


def module_name(path: str) -> str:
    """``ecuscan/sbom/reconcile.py`` -> ``ecuscan.sbom.reconcile``."""
    return path.removesuffix(".py").replace("/", ".")


def outcome(code: int | None) -> str:
    """One word for a mutant's recorded exit code, by mutmut's own table."""
    from mutmut.stats import status_by_exit_code

    return str(status_by_exit_code[code])


def results(path: str) -> Counter[str]:
    """Counts of outcomes for one module from ``mutants/<path>.meta``."""
    meta = ROOT / "mutants" / f"{path}.meta"
    if not meta.is_file():
        return Counter()
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return Counter(outcome(c) for c in codes.values())


def survivors(path: str) -> list[str]:
    """Mutant names of one module that no test noticed."""
    meta = ROOT / "mutants" / f"{path}.meta"
    if not meta.is_file():
        return []
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return sorted(k for k, c in codes.items() if outcome(c) == "survived")


def kill_rate(c: Counter[str]) -> float | None:
    """(killed + timeout) / mutants that some test covers; None when nothing ran."""
    judged = c["killed"] + c["timeout"] + c["survived"]
    return (c["killed"] + c["timeout"]) / judged if judged else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="store_true", help="run mutmut first (else only report the last run)")
    ap.add_argument("--module", action="append", default=[], help="limit to these module paths")
    ap.add_argument("--survivors", action="store_true", help="print each survivor's diff")
    ap.add_argument("--target", type=float, default=0.85)
    args = ap.parse_args()
    modules = args.module or configured_modules()
    if args.run:
        patterns = [f"{module_name(m)}.*" for m in modules]
        subprocess.run([str(MUTMUT), "run", "--max-children", "2", *patterns], cwd=ROOT, check=False,
                       stdout=subprocess.DEVNULL)
    print(f"{'module':<36} {'mutants':>7} {'killed':>7} {'timeout':>7} {'survived':>8} {'no test':>7} {'rate':>6}")
    total: Counter[str] = Counter()
    below = []
    for m in modules:
        c = results(m)
        total.update(c)
        rate = kill_rate(c)
        if rate is None or rate < args.target:
            below.append(m)
        print(f"{m:<36} {sum(c.values()):>7} {c['killed']:>7} {c['timeout']:>7} {c['survived']:>8} "
              f"{c['no tests']:>7} {'-' if rate is None else f'{rate:.1%}':>6}")
    rate = kill_rate(total)
    print(f"{'all':<36} {sum(total.values()):>7} {total['killed']:>7} {total['timeout']:>7} {total['survived']:>8} "
          f"{total['no tests']:>7} {'-' if rate is None else f'{rate:.1%}':>6}")
    if args.survivors:
        for m in modules:
            for name in survivors(m):
                shown = subprocess.run([str(MUTMUT), "show", name], cwd=ROOT, capture_output=True, text=True)
                print(shown.stdout)
    if below:
        print(f"below the target {args.target:.0%} (or not run): {', '.join(below)}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
