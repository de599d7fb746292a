"""End-to-end ``ecuscan scan --json`` against one plain regex pass over the same bytes, side by side.

    .venv/bin/python tests/benchmarks/bench_scan_e2e.py [--tree root/armhf] [--runs 3] [--jobs 1 auto]
                                                        [--scaling] [--big-mib 256] [--ecuscan CMD]
                                                        [--baseline CMD] [--cpu] [--scaling-runs N]

Everything is measured as the user runs it: a fresh process per run, wall clock from start to
exit, start-up included. The baseline is one process that walks the same tree and runs
``re.finditer(rb"[\\x20-\\x7e]{6,}", mmap)`` over every regular file (the cheapest pass any
string-based identifier must make). Runs alternate (baseline, scan, baseline, scan ...) so both
see the same machine load; the best of ``--runs`` of each is compared, and every run is printed.

- ``ratio`` = scan MB/s / regex MB/s over the same bytes (target >= 0.5).
- ``--no-cache`` is passed and the store is a fresh SQLite file per run (``$ECUSCAN_STORE``), so
  each scan analyses every file.
- ``--scaling``: 1 and 2 workers over 1x, 2x and 4x the tree (copies of the tree side by side
  under a temporary directory, so the bytes differ in path only; no cache).
- ``--baseline CMD``: also run CMD (another ecuscan, e.g. a ``git archive main`` copy run with
  ``PYTHONPATH``) in the same alternation (regex, baseline, scan, regex ...), so before and after
  are measured under the same load; its ratio is printed beside the scan's.
- ``--cpu``: also print the CPU seconds (user + system, the process and its workers) of each
  command's best run: on a loaded machine wall time says how much of the CPUs a scan got, CPU
  time how much work it did.
- ``--bytecode``: run the timed commands as an installed ecuscan runs, with its modules' bytecode
  (``__pycache__``): ``PYTHONDONTWRITEBYTECODE`` is removed from their environment and each command
  runs once untimed first. Without it they inherit the environment (a sandbox that sets it compiles
  every module from source at every start, ~0.2 s of CPU). The regex pass is not affected.
- The load average is printed before and after each side-by-side comparison.
- ``--big-mib N``: peak RSS of scanning a tree holding one N MiB ELF image (a real ELF from the
  tree, padded) next to that image's size (target <= 1.2x), from ``wait4``'s ru_maxrss of the
  process and its children.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache" / "ecuscan" / "dev-corpus"))
#: Commands run from here, not from the checkout: ``python -m ecuscan`` must import the ecuscan the
#: command line names (a baseline's PYTHONPATH), not the one in the current directory.
CWD = tempfile.gettempdir()
REGEX = r"""
import mmap, os, re, sys
pat = re.compile(rb"[\x20-\x7e]{6,}")
n = 0
for root in sys.argv[1:]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            if os.path.islink(p) or not os.path.isfile(p) or not os.path.getsize(p):
                continue
            with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                for _ in pat.finditer(m):
                    n += 1
print(n)
"""


def tree_bytes(root: Path) -> tuple[int, int, int]:
    """(bytes, files, largest file) of the regular files under ``root``."""
    total = files = largest = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file():
                continue
            size = p.stat().st_size
            total, files, largest = total + size, files + 1, max(largest, size)
    return total, files, largest


#: CPU seconds (user + system) of the last command :func:`run` waited for, with its reaped children.
LAST_CPU = [0.0]


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """(wall seconds, peak RSS KiB of the process tree, exit code) of one command."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=CWD)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wait4 reaped it: its children's times are in
    LAST_CPU[0] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} exited {code}: {err[-2000:]}")
    return wall, usage.ru_maxrss, code


def peak_rss_tree(cmd: list[str], env: dict[str, str]) -> int:
    """Peak RSS (KiB) over the process and all its descendants, sampled from /proc every 20 ms."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=CWD)
    peak = 0
    while proc.poll() is None:
        total = 0
        for pid in _descendants(proc.pid):
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            total = max(total, int(line.split()[1]))
            except OSError:
                pass
        peak = max(peak, total)
        time.sleep(0.02)
    return peak


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


#: Set by ``--bytecode``: the environment keys removed from the timed commands' environment.
DROP_ENV: set[str] = set()


def side_by_side(trees: list[Path], ecuscan: list[str], jobs: str, runs: int, label: str,
                 baseline: list[str] | None = None, cpu: bool = False) -> dict[str, float]:
    size, files, _ = (sum(x) for x in zip(*(tree_bytes(t) for t in trees), strict=True))
    load_before = os.getloadavg()
    regex: list[float] = []
    regex_cpu: list[float] = []
    timed: dict[str, list[tuple[float, float]]] = {"baseline": [], "ecuscan": []}
    peak = []
    commands = [("baseline", baseline)] if baseline else []
    commands.append(("ecuscan", ecuscan))
    with tempfile.TemporaryDirectory(prefix="ecuscan-e2e-") as tmp:
        if DROP_ENV:  # one untimed run each: the bytecode is written, as an install would have it
            for name, cmd in commands:
                assert cmd is not None
                env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
                env["ECUSCAN_STORE"] = f"sqlite:///{tmp}/{name}-warm.sqlite"
                run([*cmd, "scan", "--json", "--no-cache", "--jobs", jobs, *map(str, trees)], env)
        for i in range(runs):
            regex.append(run([sys.executable, "-c", REGEX, *map(str, trees)])[0])
            regex_cpu.append(LAST_CPU[0])
            for name, cmd in commands:
                assert cmd is not None
                env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
                env["ECUSCAN_STORE"] = f"sqlite:///{tmp}/{name}{i}.sqlite"
                wall, rss, _ = run([*cmd, "scan", "--json", "--no-cache", "--jobs", jobs, *map(str, trees)], env)
                timed[name].append((wall, LAST_CPU[0]))
                if name == "ecuscan":
                    peak.append(rss)
    mb = size / 1e6
    best_r = min(regex)
    load_after = os.getloadavg()
    print(f"{label}: {files} files, {mb:.1f} MB, --jobs {jobs}   (load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after)")
    print(f"  regex pass  {', '.join(f'{t:.2f}' for t in regex)} s  best {mb / best_r:.1f} MB/s"
          + (f"   CPU {min(regex_cpu):.2f} s" if cpu else ""))
    out = {"regex": best_r, "mb": mb}
    for name, _cmd in commands:
        walls = [w for w, _c in timed[name]]
        best = min(walls)
        cpu_best = min(c for _w, c in timed[name])
        median = sorted(regex)[runs // 2] / sorted(walls)[runs // 2]
        print(f"  {name:<10}  {', '.join(f'{t:.2f}' for t in walls)} s  best {mb / best:.1f} MB/s  "
              f"ratio (best/best) {best_r / best:.2f}   (median/median {median:.2f})"
              + (f"   CPU {cpu_best:.2f} s (CPU ratio {min(regex_cpu) / cpu_best:.2f})" if cpu else ""))
        out["scan" if name == "ecuscan" else name] = best
    print(f"  peak RSS {max(peak) / 1024:.0f} MiB")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", default="root/armhf", help="tree under the dev corpus (or an absolute path)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", nargs="*", default=["1", "auto"])
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--big-mib", type=int, default=0)
    ap.add_argument("--big-jobs", nargs="+", default=["1", "auto"])
    ap.add_argument("--ecuscan", default=str(Path(sys.executable).with_name("ecuscan")),
                    help="the command to run (e.g. 'env PYTHONPATH=/tmp/main python -m ecuscan' for a baseline)")
    ap.add_argument("--baseline", default=None,
                    help="a second command run in the same alternation (e.g. 'env PYTHONPATH=/tmp/main python -m "
                         "ecuscan'): before and after under the same load")
    ap.add_argument("--cpu", action="store_true", help="also print CPU seconds (process and workers)")
    ap.add_argument("--scaling-runs", type=int, default=0, help="runs per scaling point (default: --runs - 1)")
    ap.add_argument("--bytecode", action="store_true",
                    help="time the commands with their bytecode, as installed (see above)")
    args = ap.parse_args()
    if args.bytecode:
        DROP_ENV.add("PYTHONDONTWRITEBYTECODE")
    tree = Path(args.tree) if Path(args.tree).is_absolute() else CORPUS / args.tree
    if not tree.is_dir():
        raise SystemExit(f"{tree} not found (fetch the development corpus first)")
    ecuscan = shlex.split(args.ecuscan)
    baseline = shlex.split(args.baseline) if args.baseline else None
    for jobs in args.jobs:
        side_by_side([tree], ecuscan, jobs, args.runs, tree.name, baseline, args.cpu)
    if args.scaling:
        with tempfile.TemporaryDirectory(prefix="ecuscan-scale-") as tmp:
            copies = []
            for k in range(4):
                dest = Path(tmp) / f"copy{k}"
                shutil.copytree(tree, dest, symlinks=True)
                copies.append(dest)
            for factor in (1, 2, 4):
                for jobs in ("1", "2"):
                    side_by_side(copies[:factor], ecuscan, jobs, args.scaling_runs or max(1, args.runs - 1),
                                 f"{factor}x tree", baseline, args.cpu)
    if args.big_mib:
        big_rss(tree, ecuscan, args.big_mib, args.big_jobs)


def big_rss(tree: Path, ecuscan: list[str], mib: int, jobs_list: list[str]) -> None:
    """Peak RSS of scanning a tree with one large ELF image, against that image's size."""
    elf = max((p for p in tree.rglob("*.so*") if p.is_file() and not p.is_symlink()), key=lambda p: p.stat().st_size)
    with tempfile.TemporaryDirectory(prefix="ecuscan-big-") as tmp:
        big = Path(tmp) / "tree" / "big.elf"
        big.parent.mkdir()
        with big.open("wb") as f:
            f.write(elf.read_bytes())
            f.write(os.urandom(1 << 20) * max(1, mib))  # incompressible filler past the ELF's own bytes
        size = big.stat().st_size
        env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
        env["ECUSCAN_STORE"] = f"sqlite:///{tmp}/big.sqlite"
        idle = peak_rss_tree([*ecuscan, "scan", "--json", "--no-cache", str(elf)], env)
        for jobs in jobs_list:
            peak = peak_rss_tree([*ecuscan, "scan", "--json", "--no-cache", "--jobs", jobs, str(big.parent)], env)
            print(f"big image {size / 2**20:.0f} MiB, --jobs {jobs}: peak RSS {peak / 1024:.0f} MiB = "
                  f"{peak * 1024 / size:.2f}x the image; a scan of one small ELF peaks at {idle / 1024:.0f} MiB "
                  f"((peak - that) / image = {(peak - idle) * 1024 / size:.2f}x)")


if __name__ == "__main__":
    main()
