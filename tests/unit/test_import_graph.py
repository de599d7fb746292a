"""The import graph of ecuscan: no cycle between modules, and the layers of docs/architecture.md.

grimp reads every ``import`` statement of the package (top-level, inside functions and under
``TYPE_CHECKING`` alike: a cycle hidden in a function or a type hint is still a cycle a reader
has to untangle) and these tests check the graph it builds.

Every module is checked; nothing is left out (``PENDING`` is kept for a module being moved).
"""

from __future__ import annotations

import pytest

grimp = pytest.importorskip("grimp", reason="grimp (test extra) builds the import graph")

import networkx as nx  # noqa: E402

#: Modules left out while they are being moved (none now).
PENDING: frozenset[str] = frozenset()

#: Layers, highest first: a module may import from its own layer's package and from lower layers
#: only. Names in one set are independent siblings (none imports another).
LAYERS: list[str | set[str]] = [
    "cli",
    "report",
    "audit",
    "audit_summary",
    "audit_run",
    "graph",
    {"bench", "diff", "mining", "sbom"},
    "scan",
    "identify",
    "vulns",
    "store",
    {"formats", "provenance", "catalog", "manifest", "inventory", "identity", "safeio"},
    {"model", "errors", "limits", "textsafe", "keptfile", "mapped"},
]


@pytest.fixture(scope="module")
def graph() -> object:
    return grimp.build_graph("ecuscan", include_external_packages=False, cache_dir=None)


def _digraph(g: object, collapse: bool) -> nx.DiGraph[str]:
    """Module (or, with ``collapse``, top-level package) import graph without the pending modules."""
    def name(m: str) -> str:
        return ".".join(m.split(".")[:2]) if collapse else m

    d: nx.DiGraph[str] = nx.DiGraph()
    for m in g.modules:  # type: ignore[attr-defined]
        if m in PENDING:
            continue
        d.add_node(name(m))
        for i in g.find_modules_directly_imported_by(m):  # type: ignore[attr-defined]
            if i not in PENDING and name(i) != name(m):
                d.add_edge(name(m), name(i))
    return d


def _cycles(d: nx.DiGraph[str]) -> list[list[str]]:
    return sorted(sorted(c) for c in nx.strongly_connected_components(d) if len(c) > 1)


def test_graph_sees_the_package(graph: object) -> None:
    mods = graph.modules  # type: ignore[attr-defined]
    assert {"ecuscan.model", "ecuscan.formats.registry", "ecuscan.cli", "ecuscan.audit"} <= mods
    # imports inside functions are edges too (the CLI imports the graph queries when a command runs)
    assert graph.direct_import_exists(importer="ecuscan.cli.graph", imported="ecuscan.graph.queries")  # type: ignore[attr-defined]


def test_no_import_cycle_between_modules(graph: object) -> None:
    assert _cycles(_digraph(graph, collapse=False)) == []


def test_no_import_cycle_between_packages(graph: object) -> None:
    assert _cycles(_digraph(graph, collapse=True)) == []


def test_layers(graph: object) -> None:
    illegal = graph.find_illegal_dependencies_for_layers(layers=LAYERS, containers={"ecuscan"})  # type: ignore[attr-defined]
    found = sorted(f"{d.importer} -> {d.imported} via {sorted(r.heads)[0]}" for d in illegal for r in d.routes
                   if not (set(r.heads) | set(r.middle) | set(r.tails)) & PENDING)
    assert found == []


def test_the_checks_can_fail() -> None:
    """A two-module loop is a cycle; a low layer importing a high one is illegal."""
    g = grimp.ImportGraph()
    g.add_module("pkg")
    for importer, imported in [("pkg.model", "pkg.cli.main"), ("pkg.cli.main", "pkg.model"), ("pkg.cli", "pkg.x")]:
        g.add_import(importer=importer, imported=imported)
    assert _cycles(_digraph(g, collapse=False)) == [["pkg.cli.main", "pkg.model"]]
    illegal = g.find_illegal_dependencies_for_layers(layers=["cli", "model"], containers={"pkg"})
    assert [(d.importer, d.imported) for d in illegal] == [("pkg.model", "pkg.cli")]
