"""Every registered layer (first example of each kind) through
``torch.compile(fullgraph=True, backend="aot_eager")``: no graph break (fullgraph raises on
one), exactly one graph captured, and the compiled module matches eager."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

pytestmark = pytest.mark.usefixtures("one_thread")


def test_compile_fullgraph_without_graph_breaks(layer_first_case):
    torch._dynamo.reset()
    counters.clear()
    m = layer_first_case.build()
    g = torch.Generator().manual_seed(0)
    x, x2 = (torch.randn(layer_first_case.shape, generator=g) for _ in range(2))
    compiled = torch.compile(m, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        for inp in (x, x2):
            torch.testing.assert_close(compiled(inp), m(inp))
    assert not counters["graph_break"], dict(counters["graph_break"])
    assert counters["stats"]["unique_graphs"] == 1, dict(counters["stats"])
    torch._dynamo.reset()
