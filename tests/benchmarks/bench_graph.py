"""Scale benchmark of the supply-chain graph (run on demand: python tests/benchmarks/bench_graph.py).

Builds a synthetic OEM portfolio of about 1M edges and prints: build time vs raw networkx
insertion of the same nodes and edges, indexed impact/exposure query times vs the index-free
brute-force traversals (answers checked identical), and peak RSS.
"""

from __future__ import annotations

import gc
import resource
import statistics
import sys
import time

import networkx as nx

from ecuscan.graph.build import NodeKind, build_graph
from ecuscan.graph.queries import exposure, impact
from ecuscan.graph.reference import brute_exposure, brute_impact
from ecuscan.graph.synth import portfolio


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    t = time.perf_counter()
    p = portfolio(vehicles=60, ecu_variants=int(2000 * scale), ecus_per_vehicle=80, releases=4,
                  component_names=800, versions=6, components_per_firmware=120)
    print(f"generate: {time.perf_counter() - t:.1f} s, {len(p.manifest.ecus)} ECU variants, "
          f"{len(p.scans)} firmware")

    t = time.perf_counter()
    g = build_graph(p.manifest, p.scans)
    build = time.perf_counter() - t
    n, e = g.graph.number_of_nodes(), g.graph.number_of_edges()
    print(f"graph: {n} nodes, {e} edges; RSS so far {rss_mib():.0f} MiB")

    nodes = list(g.graph.nodes(data=True))
    edges = [(u, v, k, dict(d)) for u, v, k, d in g.graph.edges(keys=True, data=True)]
    raw_times = []
    for _ in range(2):
        t = time.perf_counter()
        raw = nx.MultiDiGraph()
        raw.add_nodes_from(nodes)
        raw.add_edges_from(edges)
        raw_times.append(time.perf_counter() - t)
        del raw
    raw_t = min(raw_times)
    del edges, nodes
    # A long-lived process holding a million-edge graph should freeze it out of the cyclic GC:
    # otherwise every full collection walks all of its dicts (100+ ms), whichever query runs.
    gc.collect()
    gc.freeze()
    print(f"build_graph: {build:.2f} s; raw networkx insertion of the same nodes+edges: {raw_t:.2f} s; "
          f"ratio {build / raw_t:.2f} (target <= 2)")

    keys = sorted(g.components_by_key)
    picks = [keys[i] for i in range(0, len(keys), max(1, len(keys) // 12))][:12]
    ratios = []
    for k, rng in [(k, None) for k in picks[:6]] + [(k, "<1.3") for k in picks[6:]]:
        t = time.perf_counter()
        r = impact(g, k, rng)
        ti = time.perf_counter() - t
        t = time.perf_counter()
        b = brute_impact(g, k, rng)
        tb = time.perf_counter() - t
        assert {h.node: h.certain for h in r.firmware} == b["firmware"]
        assert {h.node: h.certain for h in r.ecus} == b["ecus"]
        assert {h.node: h.certain for h in r.vehicles} == b["vehicles"]
        ratios.append(tb / ti)
        print(f"  impact {k} {rng or '':5} -> {len(r.firmware):5} fw {len(r.ecus):5} ECUs {len(r.vehicles):3} "
              f"vehicles: indexed {ti * 1000:8.1f} ms, brute {tb * 1000:8.1f} ms, x{tb / ti:7.1f}")
    print(f"impact speed-up: median x{statistics.median(ratios):.0f}, min x{min(ratios):.0f} (target >= 50)")

    sups = g.nodes_of(NodeKind.SUPPLIER)
    picks = [s for s in sups if s.startswith(("supplier:t3-", "supplier:t2-", "supplier:oss-"))][::25][:10]
    ratios = []
    for s in picks:
        t = time.perf_counter()
        x = exposure(g, s)
        ti = time.perf_counter() - t
        t = time.perf_counter()
        b = brute_exposure(g, s)
        tb = time.perf_counter() - t
        assert (set(x.suppliers), set(x.components), set(x.firmware), set(x.ecus), set(x.vehicles)) == (
            b["supplier"], b["component"], b["firmware"], b["ecu"], b["vehicle"])
        ratios.append(tb / ti)
        print(f"  exposure {s:18} -> {len(x.firmware):5} fw {len(x.ecus):5} ECUs {len(x.vehicles):3} vehicles: "
              f"indexed {ti * 1000:8.1f} ms, brute {tb * 1000:8.1f} ms, x{tb / ti:7.1f}")
    print(f"exposure speed-up: median x{statistics.median(ratios):.0f}, min x{min(ratios):.0f} (target >= 50)")
    print(f"peak RSS: {rss_mib():.0f} MiB (target <= 2048)")


if __name__ == "__main__":
    main()
