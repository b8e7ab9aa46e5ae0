"""The shape of the package (DESIGN.md, "Shape of the code"): no two modules import each other, directly
or through others, and the package's root holds few modules. The layers themselves are import-linter's
contracts in pyproject.toml, checked by `make lint`.

Imports inside functions and under TYPE_CHECKING count like any other: each is one innocent top-level
import away from a module that is used half initialised.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

import zeroxl

ROOT_MODULES_AT_MOST = 8


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("zeroxl", cache_dir=None)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The import cycles among the modules of GRAPH: each group of modules that reach each other (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1 or module in graph.find_modules_directly_imported_by(module):
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def describe(graph: grimp.ImportGraph, group: list[str]) -> str:
    """One way round GROUP, for the failure message."""
    first = group[0]
    back = graph.find_shortest_chain(importer=group[1], imported=first) or ()
    there = graph.find_shortest_chain(importer=first, imported=group[1]) or ()
    return " -> ".join([*there, *back[1:]])


def test_no_module_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(describe(graph, g) for g in found)


def test_imports_in_functions_and_under_type_checking_are_in_the_graph(graph: grimp.ImportGraph) -> None:
    # backends/__init__ imports each backend inside get_backend; app.context imports the fetcher's module
    # under TYPE_CHECKING. Were either left out, the cycle check above would miss half of what it is for.
    assert graph.direct_import_exists(importer="zeroxl.backends", imported="zeroxl.backends.unix.backend")
    assert graph.direct_import_exists(importer="zeroxl.app.context", imported="zeroxl.feeds.fetch")


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = grimp.build_graph("zeroxl", cache_dir=None)  # a graph of its own: this one is changed
    graph.add_import(importer="zeroxl.host.paths", imported="zeroxl.cli.main")
    assert any({"zeroxl.host.paths", "zeroxl.cli.main"} <= set(g) for g in cycles(graph))


def test_the_package_root_holds_few_modules() -> None:
    root = Path(zeroxl.__file__).parent
    modules = sorted(p.name for p in root.glob("*.py"))
    assert len(modules) <= ROOT_MODULES_AT_MOST, modules
