"""Property tests: each indexed query equals an independent brute-force oracle on random portfolios.

The oracles (tests/unit/graph/oracle.py) read only the raw networkx graph and share no code with
ecuscan: their own version parsing, their own traversals."""

from __future__ import annotations

import dataclasses
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecuscan.graph.build import NodeKind, build_graph
from ecuscan.graph.queries import exposure, impact, loss

from .oracle import oracle_exposure, oracle_impact, oracle_loss, shortest_sourcing_distance
from .synth import portfolio


@st.composite
def graphs(draw):
    seed = draw(st.integers(0, 10_000))
    p = portfolio(vehicles=draw(st.integers(1, 4)), ecu_variants=draw(st.integers(1, 6)),
                  ecus_per_vehicle=draw(st.integers(1, 4)), releases=draw(st.integers(1, 3)),
                  component_names=draw(st.integers(1, 8)), versions=draw(st.integers(1, 3)),
                  components_per_firmware=draw(st.integers(1, 4)), tier1=draw(st.integers(1, 3)),
                  tier2=draw(st.integers(1, 3)), tier3=draw(st.integers(1, 3)), oss=draw(st.integers(1, 3)),
                  seed=seed)
    m = p.manifest
    # random extra sourcing edges, cycles and self-loops included
    rnd = random.Random(seed)
    ids = [s.id for s in m.suppliers]
    extra = draw(st.integers(0, 4))
    sups = list(m.suppliers)
    for _ in range(extra):
        i = rnd.randrange(len(sups))
        sups[i] = dataclasses.replace(sups[i], sources_from=(*sups[i].sources_from, rnd.choice(ids)))
    m = dataclasses.replace(m, suppliers=tuple(dataclasses.replace(s, sources_from=tuple(dict.fromkeys(s.sources_from)))
                                               for s in sups))
    return build_graph(m, p.scans)


def by_kind(nodes):
    return {k.value: {n for n in nodes if n.startswith(k.value + ":")} for k in NodeKind}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.data())
def test_impact_equals_brute_force(g, data):
    names = sorted(g.components_by_key)
    name = data.draw(st.sampled_from(names))
    rng = data.draw(st.sampled_from([None, "<1.1", ">=1.1,<1.3", "vers:generic/>=1.2.0"]))
    r = impact(g, name, rng)
    b = oracle_impact(g.graph, name, rng)
    assert g.component_ecus.keys() == g.component_firmware.keys()
    for c, fws in g.component_firmware.items():  # the derived index is the two it is made of
        assert g.component_ecus[c] == {e for f in fws for e in g.firmware_ecus[f]}
    assert r.affected == b  # the compact answer, before any hit is built
    assert (r.count("firmware"), r.count("ecus"), r.count("vehicles")) == tuple(
        len(b[k]) for k in ("firmware", "ecus", "vehicles"))
    assert {h.node: h.certain for h in r.firmware} == b["firmware"]
    assert {h.node: h.certain for h in r.ecus} == b["ecus"]
    assert {h.node: h.certain for h in r.vehicles} == b["vehicles"]
    # each path goes through the best reason: a certain node before an uncertain one, then the smallest id
    for h in r.ecus:
        runs = [f for f in g.graph.successors(h.node) if f in b["firmware"]]
        assert h.path[1] == min(runs, key=lambda f: (not b["firmware"][f], f))
    for h in r.vehicles:
        installed = [e for e in g.graph.successors(h.node) if e in b["ecus"]]
        assert h.path[2] == min(installed, key=lambda e: (not b["ecus"][e], e))
        assert h.path[:3] == next(x.path for x in r.ecus if x.node == h.path[2])
    for h in (*r.firmware, *r.ecus, *r.vehicles):  # every reported path exists in the graph
        assert h.path[-1] == h.node
        for a, z in zip(h.path, h.path[1:]):
            assert g.graph.has_edge(z, a) or g.graph.has_edge(a, z)
        for a, z in zip(h.tier_chain, h.tier_chain[1:]):
            assert g.graph.has_edge(a, z, "sources_from")
    for h in r.ecus:  # the tier chain is a shortest one, from the ECU's own supplier
        [supplier] = [u for u, _, k in g.graph.in_edges(h.node, keys=True) if k == "supplies"]
        assert h.tier_chain[0] == supplier
        hops = shortest_sourcing_distance(g.graph, supplier, set(h.providers))
        assert h.connected == (hops is not None)
        if h.connected:
            assert len(h.tier_chain) - 1 == hops and h.tier_chain[-1] in h.providers


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.data())
def test_exposure_and_loss_equal_brute_force(g, data):
    s = data.draw(st.sampled_from(g.nodes_of(NodeKind.SUPPLIER)))
    x = exposure(g, s)
    b = oracle_exposure(g.graph, s)
    assert set(x.suppliers) == b["supplier"]
    assert (set(x.components), set(x.firmware), set(x.ecus), set(x.vehicles)) == (
        b["component"], b["firmware"], b["ecu"], b["vehicle"])
    lo = loss(g, s)
    bl = oracle_loss(g.graph, s)
    assert (set(lo.suppliers), set(lo.components), set(lo.firmware), set(lo.ecus), set(lo.vehicles)) == (
        bl["supplier"], bl["component"], bl["firmware"], bl["ecu"], bl["vehicle"])
