"""The import graph of the platform's own packages: the apps depend one way, and no module is
part of an import circle (function-level imports count too: a circle hidden in a function is
still a circle)."""

import grimp

PACKAGES = ("hitl", "annotation", "models_service")


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def test_annotation_imports_nothing_from_models_service():
    graph = _graph()
    chain = graph.find_shortest_chain(
        importer="annotation", imported="models_service", as_packages=True
    )
    assert chain is None, f"annotation reaches models_service through {chain}"


def test_the_ml_core_imports_nothing_else_of_the_platform():
    graph = _graph()
    for package in ("annotation", "hitl", "models_service.models", "models_service.rounds"):
        chain = graph.find_shortest_chain(
            importer="models_service.ml", imported=package, as_packages=True
        )
        assert chain is None, f"models_service.ml reaches {package} through {chain}"


def test_no_module_is_part_of_an_import_circle():
    graph = _graph()
    circles = [sorted(group) for group in _strongly_connected(graph) if len(group) > 1]
    assert circles == []


def _strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's algorithm over the modules' direct imports."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                lowest[module] = min(lowest[module], lowest[imported])
            elif imported in on_stack:
                lowest[module] = min(lowest[module], index[imported])
        if lowest[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            groups.append(group)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups
