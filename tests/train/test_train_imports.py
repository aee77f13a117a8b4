"""The training package has no import circle (not even through imports inside functions) and
reaches no private name of another module."""

from __future__ import annotations

import ast
from pathlib import Path

import convzoo.train

PACKAGE = Path(convzoo.train.__file__).parent


def imports() -> dict[str, set[str]]:
    """module -> the convzoo.train modules it imports, anywhere in its source."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = "convzoo." + ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("convzoo.train"):
                    graph[name].add(node.module)
                    assert not any(a.name.startswith("_") for a in node.names), (name, node.module)
    return graph


def test_no_import_cycle_between_training_modules():
    graph = imports()
    assert "convzoo.train.gan" not in graph["convzoo.train.tasks"]
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph.get(module, ())):
            if dep == module or dep not in graph:
                continue
            # a package importing its own submodules is not a circle
            if module.endswith(".__init__") or dep.startswith(module + "."):
                continue
            assert state.get(dep) != 1, " -> ".join([*path, module, dep])
            if dep not in state:
                visit(dep, [*path, module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state and module != "convzoo.train":
            visit(module, [])
