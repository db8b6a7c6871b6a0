"""The cycle check finds a circle of imports, however long, and only circles."""

import grimp

from tools.import_cycles import import_cycles


def graph_of(*edges: tuple[str, str]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in edges:
        graph.add_import(importer=importer, imported=imported)
    return graph


def test_a_chain_is_no_cycle():
    assert import_cycles(graph_of(("a", "b"), ("b", "c"), ("a", "c"))) == []


def test_two_modules_importing_each_other():
    assert import_cycles(graph_of(("a", "b"), ("b", "a"), ("b", "c"))) == [["a", "b"]]


def test_a_long_circle_and_a_separate_one():
    cycles = import_cycles(
        graph_of(("a", "b"), ("b", "c"), ("c", "a"), ("x", "y"), ("y", "x"), ("c", "x"))
    )
    assert sorted(cycles) == [["a", "b", "c"], ["x", "y"]]


def test_the_project_has_none():
    import sys

    from tools.import_cycles import PACKAGES, PROJECT_ROOT

    sys.path.insert(0, str(PROJECT_ROOT))
    assert import_cycles(grimp.build_graph(*PACKAGES, cache_dir=None)) == []
