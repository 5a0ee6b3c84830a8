"""The GraphQL types import each other in one direction only.

Types that refer back (a customer's tickets, an article's source ticket) do so through
`strawberry.lazy`, so no schema module needs another that needs it in turn, not even from
inside a function. Imports under `TYPE_CHECKING` are left out: they are how a lazy annotation
names its type for mypy and never run.
"""

from __future__ import annotations

import grimp


def _schema_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One shortest import chain per cycle through a direct import between schema modules."""
    modules = sorted(m for m in graph.modules if m == "schema" or m.startswith("schema."))
    cycles: list[list[str]] = []
    for importer in modules:
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if not imported.startswith("schema."):
                continue
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.append([importer, *back])
    return cycles


def test_schema_modules_have_no_import_cycle() -> None:
    graph = grimp.build_graph("schema", exclude_type_checking_imports=True, cache_dir=None)
    assert _schema_cycles(graph) == []


def test_the_check_finds_a_cycle_made_inside_a_function() -> None:
    """The check above can fail: an import written inside a function counts like any other."""
    graph = grimp.ImportGraph()
    for module in ("schema", "schema.people", "schema.tickets"):
        graph.add_module(module)
    graph.add_import(importer="schema.tickets", imported="schema.people", line_number=1, line_contents="import")
    graph.add_import(importer="schema.people", imported="schema.tickets", line_number=9, line_contents="    import")
    assert _schema_cycles(graph) == [
        ["schema.people", "schema.tickets", "schema.people"],
        ["schema.tickets", "schema.people", "schema.tickets"],
    ]
