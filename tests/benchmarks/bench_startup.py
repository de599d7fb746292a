"""Start-up of the CLI against the bare imports of its four base libraries, side by side.

    .venv/bin/python tests/benchmarks/bench_startup.py [--runs 3] [--ecuscan CMD]

Each command runs as a fresh process, as a user types it; the runs interleave (bare, --help,
graph validate, bare, ...) so that all three see the same machine load, and the best of
``--runs`` of each is compared. Targets: ``ecuscan --help`` <= 1.5x and ``ecuscan graph
validate graphs/demo.yaml`` <= 2.5x the bare ``python -c "import click, yaml, networkx, rich"``.
``--verbose`` prints the ten slowest imports of each command (``python -X importtime``).
``--scan`` adds the start-up of a scan: ``ecuscan scan --json --no-cache`` of one small ELF
(``firmware/gw_app.elf``) and of one text file, with no store (``$ECUSCAN_STORE`` removed from
their environment), in the same interleaved loop (no target; compare with ``--ecuscan`` runs of
another checkout).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


#: Commands run from here, not from the checkout: ``python -m ecuscan`` must import the ecuscan the
#: command line names (a baseline's PYTHONPATH), not the one in the current directory.
CWD = tempfile.gettempdir()


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, cwd=CWD, check=False, env=env)
    wall = time.perf_counter() - start
    if res.returncode not in (0, 1):
        raise SystemExit(f"{shlex.join(cmd)} exited {res.returncode}: {res.stderr.decode(errors='replace')[-1500:]}")
    return wall


def slowest_imports(cmd: list[str], count: int = 10) -> list[str]:
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=CWD, env=env, check=False)
    rows = []
    for line in res.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _self, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
            if cumulative.isdigit():
                rows.append((int(cumulative), name))
    return [f"{us / 1e6:6.2f} s  {name}" for us, name in sorted(rows, reverse=True)[:count]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ecuscan", default=f"{sys.executable} -m ecuscan",
                    help="the command to run (e.g. 'env PYTHONPATH=/tmp/main python -m ecuscan' for a baseline)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--scan", action="store_true", help="also time the start-up of a scan of one small file")
    args = ap.parse_args()
    ecuscan = shlex.split(args.ecuscan)
    commands = {
        "bare imports": [sys.executable, "-c", "import click, yaml, networkx, rich"],
        "ecuscan --help": [*ecuscan, "--help"],
        "graph validate demo": [*ecuscan, "graph", "validate", str(ROOT / "graphs" / "demo.yaml")],
    }
    no_store = {k: v for k, v in os.environ.items() if k != "ECUSCAN_STORE"}
    envs: dict[str, dict[str, str] | None] = {name: None for name in commands}
    if args.scan:
        text = Path(CWD) / "ecuscan-startup-note.txt"
        text.write_text("release notes: nothing here but words\n" * 20)
        scan = [*ecuscan, "scan", "--json", "--no-cache"]
        commands["scan one small ELF"] = [*scan, str(ROOT / "firmware" / "gw_app.elf")]
        commands["scan one text file"] = [*scan, str(text)]
        envs["scan one small ELF"] = envs["scan one text file"] = no_store
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(timed(cmd, envs.get(name)))
    bare = min(times["bare imports"])
    for name, runs in times.items():
        best = min(runs)
        print(f"{name:22s} best {best:5.2f} s  ({', '.join(f'{t:.2f}' for t in runs)})  {best / bare:4.2f}x bare")
        if args.verbose and name != "bare imports":
            for line in slowest_imports(commands[name]):
                print("      " + line)


if __name__ == "__main__":
    main()
