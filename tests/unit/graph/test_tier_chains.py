"""Tier chains are the shortest sourcing path from an ECU's supplier to a provider of the component.

A breadth-first search finds it; a depth-first one (or one that stops at the first provider it
meets down a long branch) reports a longer chain. The manifest below has a two-hop and a three-hop
chain to the same provider, with the long branch the one a depth-first walk would take first."""

from __future__ import annotations

from pathlib import Path

from ecuscan.graph.build import build_graph
from ecuscan.graph.queries import impact
from ecuscan.manifest import load_manifest

from .conftest import catalog, comp, scan
from .oracle import shortest_sourcing_distance

MANIFEST = """
schema: ecuscan/manifest/v1
name: chains
suppliers:
  - {id: oem1, name: Tier One, tier: 1, sources_from: [a, z]}
  - {id: a, name: Short Branch, tier: 2, sources_from: [p]}
  - {id: z, name: Long Branch, tier: 2, sources_from: [y]}
  - {id: y, name: Long Branch Sub, tier: 3, sources_from: [p]}
  - {id: p, name: zlib project, tier: oss, provides: ["pkg:generic/zlib"]}
ecus:
  - {id: e1, name: ECU One, supplier: oem1, firmware: [{path: fw.bin}]}
vehicles:
  - {id: v1, name: Vehicle One, ecus: [e1]}
"""


def test_the_tier_chain_is_the_shortest_one(tmp_path: Path) -> None:
    (tmp_path / "fw.bin").write_bytes(b"\0" * 16)
    (tmp_path / "m.yaml").write_text(MANIFEST, encoding="utf-8")
    m = load_manifest(tmp_path / "m.yaml")
    cat = catalog()
    fw_path = m.ecus[0].firmware[0].path
    g = build_graph(m, {fw_path: scan("fw", comp(cat, "zlib", "1.2.11"))}, {}, cat)
    [hit] = impact(g, "zlib").ecus
    assert hit.connected
    assert hit.tier_chain == ("supplier:oem1", "supplier:a", "supplier:p")
    assert len(hit.tier_chain) - 1 == shortest_sourcing_distance(g.graph, "supplier:oem1", {"supplier:p"}) == 2
