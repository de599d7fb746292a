"""Fuzz benchmark: 100,000 mutated inputs across every parser of outside input.

    /work/venv/bin/python tests/benchmarks/bench_fuzz.py [--total 100000] [--seed 1] [--only elf,sbom]
                                                        [--save-crashes DIR]

Inputs are split between the targets of ``tests/fuzz/harness.py`` by weight; each input is
one seed file with 1-8 byte-level mutations drawn from a seeded RNG, so a run is
reproducible. Reported: uncaught exceptions (anything that is not an ``EcuscanError``;
target 0), inputs over 2 s (target 0), the slowest input per target, peak RSS of the
process, and "masked" internal errors: ``EcuscanError`` raised by a catch-all whose cause
is a programming error (TypeError, AttributeError, IndexError, KeyError ...) raised inside
ecuscan's own code: a user sees a clear error, but it is a bug's, so it counts as a crash.
An input still running after 20 s is interrupted with SIGALRM and counted as a hang. Each
target first runs its unmutated seeds untimed, so that lazy imports are not counted as an
input's parsing time (the first manifest input otherwise "takes" ~1 s: importing jsonschema).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fuzz"))

import harness

from ecuscan.errors import EcuscanError

SLOW = 2.0
HANG = 20.0


class Hang(BaseException):
    """Raised by the alarm handler inside a target that runs for too long."""


def _alarm(_sig: int, _frame: FrameType | None) -> None:
    raise Hang()


def _where(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in tb if "/ecuscan/" in f.filename and "/tests/" not in f.filename]
    frame = (ours or tb)[-1] if (ours or tb) else None
    return f"{Path(frame.filename).name}:{frame.lineno} {frame.name}" if frame else "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--total", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="")
    ap.add_argument("--save-crashes", default="")
    args = ap.parse_args()
    targets = [t for t in harness.TARGETS if not args.only or t.name in args.only.split(",")]
    weight = sum(t.weight for t in targets)
    signal.signal(signal.SIGALRM, _alarm)
    crashes: dict[tuple[str, str, str], tuple[int, bytes, str]] = {}
    masked: collections.Counter[tuple[str, str]] = collections.Counter()
    slow: list[tuple[str, float, int]] = []
    print(f"{'target':<11} {'inputs':>7} {'rejected':>8} {'ok':>7} {'crash':>5} {'>2s':>4} {'hang':>4} "
          f"{'max s':>6} {'mean ms':>7} {'wall s':>7}")
    totals = collections.Counter[str]()
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        for t in targets:
            n = round(args.total * t.weight / weight)
            rng = random.Random(f"{args.seed}:{t.name}")
            seeds = t.seeds()
            for seed in seeds:  # warm-up, untimed: lazy imports (jsonschema alone takes ~1 s) are not parsing
                try:
                    t.run(seed, work)
                except EcuscanError:
                    pass
            c = collections.Counter[str]()
            worst = 0.0
            t0 = time.perf_counter()
            for _ in range(n):
                muts = harness.random_mutations(rng, t.structured)
                data = harness.mutate(seeds[rng.randrange(len(seeds))], muts, seeds)
                start = time.perf_counter()
                signal.setitimer(signal.ITIMER_REAL, HANG)
                try:
                    t.run(data, work)
                    c["ok"] += 1
                except Hang:
                    c["hang"] += 1
                    crashes.setdefault((t.name, "Hang", "-"), (1, data, "over 20 s"))
                except EcuscanError as exc:
                    c["rejected"] += 1
                    m = harness.masked_bug(exc)
                    if m:
                        masked[(t.name, m)] += 1
                        crashes.setdefault((t.name, "masked", m), (0, data, str(exc)[:200]))
                except BaseException as exc:
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    c["crash"] += 1
                    key = (t.name, type(exc).__name__, _where(exc))
                    old = crashes.get(key)
                    crashes[key] = (old[0] + 1 if old else 1, data if not old or len(data) < len(old[1]) else old[1],
                                    f"{type(exc).__name__}: {str(exc)[:200]}")
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                took = time.perf_counter() - start
                worst = max(worst, took)
                if took > SLOW:
                    c["slow"] += 1
                    slow.append((t.name, took, len(data)))
                    crashes.setdefault((t.name, "slow", f"{took:.2f}s-{len(slow)}"), (0, data, f"took {took:.2f} s"))
            wall = time.perf_counter() - t0
            totals.update(c)
            totals["inputs"] += n
            print(f"{t.name:<11} {n:>7} {c['rejected']:>8} {c['ok']:>7} {c['crash']:>5} {c['slow']:>4} "
                  f"{c['hang']:>4} {worst:>6.2f} {1000 * wall / max(n, 1):>7.2f} {wall:>7.1f}", flush=True)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\ninputs {totals['inputs']}  uncaught exceptions {totals['crash']}  "
          f"masked bugs {sum(masked.values())}  over {SLOW:.0f} s {totals['slow']}  "
          f"hangs {totals['hang']}  wall {time.perf_counter() - t_all:.0f} s  peak RSS {peak_kib / 1024:.0f} MiB")
    for (name, kind, where), (count, data, msg) in sorted(crashes.items()):
        if kind in ("masked", "slow"):
            continue
        print(f"CRASH {name}: {kind} at {where} x{count}: {msg}  (input {len(data)} bytes)")
    for (name, m), count in sorted(masked.items()):
        print(f"masked internal error {name}: {m} x{count}")
    for name, took, size in sorted(slow, key=lambda s: -s[1])[:10]:
        print(f"SLOW {name}: {took:.2f} s on {size} bytes")
    if args.save_crashes:
        out = Path(args.save_crashes)
        out.mkdir(parents=True, exist_ok=True)
        for (name, kind, where), (_count, data, msg) in crashes.items():
            h = hashlib.sha256(data).hexdigest()[:12]
            (out / f"{name}-{kind}-{h}.bin").write_bytes(data)
            (out / f"{name}-{kind}-{h}.txt").write_text(f"{where}\n{msg}\n")
    return 1 if totals["crash"] or masked or totals["slow"] or totals["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
