"""Parameter cases over every registered layer example (module factory, input shape)."""

from __future__ import annotations

import pytest

import convzoo  # noqa: F401  (registers every layer)
from convzoo.layers import REGISTRY


def all_examples() -> list:
    """One pytest.param per (kind, example index)."""
    cases = []
    for kind, entry in sorted(REGISTRY.items()):
        for i, (_, shape) in enumerate(entry.examples()):
            cases.append(pytest.param(kind, i, shape, id=f"{kind}-{i}"))
    return cases


def first_examples() -> list:
    """The first example of each kind (for the slow checks: ONNX, compile)."""
    return [pytest.param(kind, 0, REGISTRY[kind].examples()[0][1], id=f"{kind}-0")
            for kind in sorted(REGISTRY)]


def build(kind: str, index: int):
    """A fresh instance of example ``index`` of ``kind`` in eval mode."""
    module, shape = REGISTRY[kind].examples()[index]
    return module.eval(), shape
