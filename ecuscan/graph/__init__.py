"""The supply-chain graph: manifest loading, graph building, queries and exports.

Suppliers in tiers → components → firmware → ECUs → vehicles, as a networkx MultiDiGraph
with typed nodes and edges (see :mod:`ecuscan.graph.build` for the edge directions).
"""
