"""Every registered layer through TorchScript: ``torch.jit.trace`` (every example, the trace run
on a second input), the TorchScript ONNX exporter (``torch.onnx.export(..., dynamo=False)``, the
file run by onnxruntime) and ``torch.jit.script``, which refuses every kind with one clear
message (their forwards compute shapes in Python) instead of failing inside the compiler."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn as nn

import convzoo
from convzoo.layers import REGISTRY

onnxruntime = pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.usefixtures("one_thread", "quiet_onnx")



def _inputs(shape):
    """Two different inputs: a trace that froze the first one into a constant fails."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


def test_jit_trace_matches_eager(layer_case):
    m = layer_case.build()
    x, x2 = _inputs(layer_case.shape)
    with torch.no_grad():
        traced = torch.jit.trace(m, (x,))  # check_trace reruns it and compares
        for inp in (x, x2):
            torch.testing.assert_close(traced(inp), m(inp))


def test_jit_trace_keeps_input_checks_out_of_the_graph():
    """The shape check reads sizes as ints while tracing; no size op is recorded for it."""
    m = convzoo.layers.Conv2d(2, 3, 3)
    traced = torch.jit.trace(m, (torch.randn(1, 2, 5, 5),))
    assert "aten::size" not in str(traced.graph)


def test_jit_trace_rejects_a_bad_example_with_the_eager_message():
    m = convzoo.layers.Conv2d(2, 3, 3)
    with pytest.raises(ValueError, match=r"^`input` shape channel dim \(=5\) must equal "
                       r"`in_channels` \(=2\)$"):
        torch.jit.trace(m, (torch.randn(1, 5, 5, 5),))


def test_torchscript_onnx_export_runs_in_onnxruntime(layer_case):
    m = layer_case.build()
    x, x2 = _inputs(layer_case.shape)
    f = io.BytesIO()
    torch.onnx.export(m, (x,), f, dynamo=False)
    session = onnxruntime.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    with torch.no_grad():
        for inp in (x, x2):
            (ours,) = session.run(None, {name: inp.numpy()})
            torch.testing.assert_close(torch.from_numpy(ours), m(inp), rtol=1e-4, atol=1e-5)


def test_jit_script_refuses_with_a_clear_message(layer_kind):
    module, _ = REGISTRY[layer_kind].examples()[0]
    with pytest.raises(RuntimeError, match=(
        rf"^torch.jit.script cannot compile convzoo's {module._get_name()}: .* Use "
        r"torch.jit.trace\(module, example_input\)"
    )):
        torch.jit.script(module)


def test_jit_script_refuses_a_model_holding_a_convzoo_layer():
    model = nn.Sequential(nn.ReLU(), nn.Sequential(convzoo.layers.Depthwise(2, 3)))
    with pytest.raises(RuntimeError, match="cannot compile convzoo's Depthwise"):
        torch.jit.script(model)
