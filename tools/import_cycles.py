"""Fails when the project's modules import each other in a circle, imports inside functions
included (grimp reads every import statement of a module). `make lint` runs it; import-linter's
contracts in pyproject.toml check the layers."""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

PROJECT_ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ("candleproject", "candles", "loadtest")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return groups


def main() -> int:
    sys.path.insert(0, str(PROJECT_ROOT))  # grimp finds the packages on the import path
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = import_cycles(graph)
    for group in cycles:
        print("import cycle: " + " <-> ".join(group))
        for importer in group:
            for imported in sorted(graph.find_modules_directly_imported_by(importer) & set(group)):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    print(f"    {importer}:{detail['line_number']} imports {imported}")
    print(f"{len(graph.modules)} modules of {', '.join(PACKAGES)}: {len(cycles)} import cycle(s)")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
