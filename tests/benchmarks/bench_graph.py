"""Scale benchmark of the supply-chain graph (run on demand: python tests/benchmarks/bench_graph.py [scale] [reps]
[--build-only]).

Builds a synthetic OEM portfolio of about 1M edges (scale 1) and prints:

* build time of :func:`build_graph` vs raw networkx insertion of the same nodes and edges
  (prebuilt ``(u, v, key, attrs)`` tuples). Each timing runs in a fresh subprocess that first
  loads its inputs from a pickle, then ``gc.collect(); gc.freeze()`` so neither side pays for
  the other's heap or for collecting its inputs; timed once with the cyclic GC enabled (a
  real process) and once with ``gc.disable()``; ``reps`` runs of each, median reported.
* indexed impact / exposure vs the index-free brute-force full traversals of
  the independent oracles of ``tests/unit/graph/oracle.py`` (no ecuscan code), answers checked identical;
  each query timed ``reps`` times,
  median. "impact" is :func:`impact` plus ``.affected`` (node → certain, the same answer the
  brute force gives); "impact+hits" also builds every hit's path, tier chain and providers.
* peak RSS.

Figures: 14,375 nodes, 980,004 edges, ``python bench_graph.py 1 5`` on 2 shared cores (other
jobs running, hence CPU time; wall time agreed within 1% for the builds). "before" is commit
5f5e103 timed with this same script
(``PYTHONPATH=<old checkout>:<site-packages> python -S bench_graph.py 1 5`` from outside the
repository). The issue note's figures for that commit, from its own single same-process run,
were: impact median 29x / worst 3x, build 0.87x or 2.50x depending on when the GC ran.

=====================================  ==========================  ==========================
measure                                before (5f5e103)             after
=====================================  ==========================  ==========================
build / raw insertion, GC enabled      1.95 (5.59 s / 2.87 s)       1.58 (4.65 s / 2.95 s)
build / raw insertion, GC disabled     1.71 (3.52 s / 2.05 s)       1.46 (3.09 s / 2.11 s)
impact speed-up vs brute force         median 44x, worst 5x         median 743x, worst 143x
  worst query (lib0000, 8k fw)         33.4 ms vs 177 ms brute      1.2 ms vs 172 ms brute
impact with every hit's path built     median 45x, worst 5x         median 37x, worst 5x
exposure speed-up vs brute force       median 188x, worst 88x       median 224x, worst 122x
peak RSS                               940 MiB                      795 MiB
=====================================  ==========================  ==========================

The impact answers (firmware/ECUs/vehicles, each with its certainty) matched the brute force
in every run (asserted). Building all 10,000 path records of the largest answer costs about
3 us each (frozen dataclasses), so "with every hit's path built" stays about 5x for lib0000:
that is why :class:`~ecuscan.graph.queries.Impact` builds them only when ``.firmware``,
``.ecus``, ``.vehicles`` or ``to_dict()`` is read.
"""

from __future__ import annotations

import gc
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit" / "graph"))
from oracle import oracle_exposure, oracle_impact
from synth import portfolio  # tests/unit/graph/synth.py: the synthetic portfolio generator

from ecuscan.graph.build import NodeKind, build_graph
from ecuscan.graph.queries import exposure, impact


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_child(what: str, path: str, gc_mode: str) -> None:
    """In a fresh process: load the inputs, settle the GC, time one build; print the seconds."""
    with open(path, "rb") as fh:
        data = pickle.load(fh)
    gc.collect()
    gc.freeze()
    if gc_mode == "disabled":
        gc.disable()
    t, c = time.perf_counter(), time.process_time()
    if what == "raw":
        g = nx.MultiDiGraph()
        g.add_nodes_from(data["nodes"])
        g.add_edges_from(data["edges"])
    else:
        g = build_graph(data["manifest"], data["scans"]).graph
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    assert g.number_of_edges() == data["n_edges"], (g.number_of_edges(), data["n_edges"])
    print(f"{elapsed:.6f} {cpu:.6f}")
    os._exit(0)  # do not spend time tearing down a million-edge graph


def run_child(what: str, path: str, gc_mode: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one timed build in a fresh process."""
    flags = ["-S"] if sys.flags.no_site else []  # -S + PYTHONPATH: how an older checkout is timed
    out = subprocess.run([sys.executable, *flags, __file__, "--child", what, path, gc_mode],
                         check=True, capture_output=True, text=True)
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def median_time(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    """Median CPU seconds of ``reps`` calls (CPU, not wall: the benchmark machine is shared)."""
    times = []
    result = None
    for _ in range(reps):
        t = time.process_time()
        result = fn()
        times.append(time.process_time() - t)
    return max(statistics.median(times), 1e-6), result


def main() -> None:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    build_only = "--build-only" in sys.argv[3:]
    t = time.perf_counter()
    p = portfolio(vehicles=60, ecu_variants=int(2000 * scale), ecus_per_vehicle=80, releases=4,
                  component_names=800, versions=6, components_per_firmware=120)
    print(f"generate: {time.perf_counter() - t:.1f} s, {len(p.manifest.ecus)} ECU variants, "
          f"{len(p.scans)} firmware")
    g = build_graph(p.manifest, p.scans)
    n, e = g.graph.number_of_nodes(), g.graph.number_of_edges()
    print(f"graph: {n} nodes, {e} edges; RSS so far {rss_mib():.0f} MiB")

    with tempfile.TemporaryDirectory() as tmp:
        build_in = os.path.join(tmp, "build.pkl")
        raw_in = os.path.join(tmp, "raw.pkl")
        with open(build_in, "wb") as fh:
            pickle.dump({"manifest": p.manifest, "scans": p.scans, "n_edges": e}, fh, pickle.HIGHEST_PROTOCOL)
        with open(raw_in, "wb") as fh:
            pickle.dump({"nodes": list(g.graph.nodes(data=True)), "n_edges": e,
                         "edges": list(g.graph.edges(keys=True, data=True))}, fh, pickle.HIGHEST_PROTOCOL)
        for gc_mode in ("enabled", "disabled"):
            raw_t: list[tuple[float, float]] = []
            build_t: list[tuple[float, float]] = []
            for _ in range(reps):  # interleaved, so load changes on the machine hit both
                raw_t.append(run_child("raw", raw_in, gc_mode))
                build_t.append(run_child("build", build_in, gc_mode))
            for i, clock in enumerate(("CPU", "wall")):
                r = statistics.median(x[1 - i] for x in raw_t)
                b = statistics.median(x[1 - i] for x in build_t)
                print(f"BUILD gc {gc_mode:8} {clock:4} (fresh process each, median of {reps}): build_graph {b:.2f} s "
                      f"{[round(x[1 - i], 2) for x in build_t]}, raw insertion {r:.2f} s "
                      f"{[round(x[1 - i], 2) for x in raw_t]}; ratio {b / r:.2f} (target <= 2)")
    del p
    if build_only:
        return
    # A long-lived process holding a million-edge graph should freeze it out of the cyclic GC:
    # otherwise every full collection walks all of its dicts (100+ ms), whichever query runs.
    gc.collect()
    gc.freeze()

    keys = sorted(g.components_by_key)
    picks = [keys[i] for i in range(0, len(keys), max(1, len(keys) // 12))][:12]
    ratios: list[float] = []
    full_ratios: list[float] = []
    for k, rng in [(k, None) for k in picks[:6]] + [(k, "<1.3") for k in picks[6:]]:
        ti, aff = median_time(lambda k=k, rng=rng: _answer(impact(g, k, rng)), reps)
        tf, r = median_time(lambda k=k, rng=rng: _materialised(impact(g, k, rng)), reps)
        tb, b = median_time(lambda k=k, rng=rng: oracle_impact(g.graph, k, rng), reps)
        assert aff == b
        assert {h.node: h.certain for h in r.firmware} == b["firmware"]
        assert {h.node: h.certain for h in r.ecus} == b["ecus"]
        assert {h.node: h.certain for h in r.vehicles} == b["vehicles"]
        ratios.append(tb / ti)
        full_ratios.append(tb / tf)
        print(f"  impact {k} {rng or '':5} -> {len(r.firmware):5} fw {len(r.ecus):5} ECUs {len(r.vehicles):3} "
              f"vehicles: indexed {ti * 1000:7.2f} ms (with hits {tf * 1000:7.2f} ms), brute {tb * 1000:7.1f} ms, "
              f"x{tb / ti:6.0f} (with hits x{tb / tf:5.0f})")
    print(f"IMPACT speed-up: median x{statistics.median(ratios):.0f}, min x{min(ratios):.0f} (target >= 50); "
          f"with every hit's path built: median x{statistics.median(full_ratios):.0f}, min x{min(full_ratios):.0f}")

    sups = g.nodes_of(NodeKind.SUPPLIER)
    spicks = [s for s in sups if s.startswith(("supplier:t3-", "supplier:t2-", "supplier:oss-"))][::25][:10]
    ratios = []
    for s in spicks:
        ti, x = median_time(lambda s=s: exposure(g, s), reps)
        tb, bx = median_time(lambda s=s: oracle_exposure(g.graph, s), reps)
        assert (set(x.suppliers), set(x.components), set(x.firmware), set(x.ecus), set(x.vehicles)) == (
            bx["supplier"], bx["component"], bx["firmware"], bx["ecu"], bx["vehicle"])
        ratios.append(tb / ti)
        print(f"  exposure {s:18} -> {len(x.firmware):5} fw {len(x.ecus):5} ECUs {len(x.vehicles):3} vehicles: "
              f"indexed {ti * 1000:7.2f} ms, brute {tb * 1000:7.1f} ms, x{tb / ti:6.0f}")
    print(f"EXPOSURE speed-up: median x{statistics.median(ratios):.0f}, min x{min(ratios):.0f} (target >= 50)")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"RSS peak: {rss_mib():.0f} MiB in this process, {children:.0f} MiB in the largest build child "
          "(target <= 2048)")


def _answer(r: Any) -> dict[str, dict[str, bool]]:
    """node -> certain per layer: ``Impact.affected``, or built from the hits (ecuscan before 4686630)."""
    if hasattr(r, "affected"):
        return dict(r.affected)
    return {k: {h.node: h.certain for h in getattr(r, k)} for k in ("firmware", "ecus", "vehicles")}


def _materialised(r: Any) -> Any:
    _ = (r.firmware, r.ecus, r.vehicles)  # building the hits is what is timed
    return r


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        timed_child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
