"""Every registered layer through torch.export (every example) and through ONNX (first example
of each kind: the dynamo exporter, the saved file run by onnxruntime)."""

from __future__ import annotations

import pytest
import torch

onnxruntime = pytest.importorskip("onnxruntime")



pytestmark = pytest.mark.usefixtures("one_thread", "quiet_onnx")


def _inputs(shape):
    """Two different inputs: a program that froze the first one into a constant fails."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


def test_torch_export_matches_eager(layer_case):
    m = layer_case.build()
    x, x2 = _inputs(layer_case.shape)
    program = torch.export.export(m, (x,))
    exported = program.module()
    with torch.no_grad():
        for inp in (x, x2):
            torch.testing.assert_close(exported(inp), m(inp))


def test_onnx_export_runs_in_onnxruntime(layer_first_case, tmp_path):
    m = layer_first_case.build()
    x, x2 = _inputs(layer_first_case.shape)
    program = torch.onnx.export(m, (x,), dynamo=True, verbose=False)
    path = tmp_path / f"{layer_first_case.id}.onnx"
    program.save(str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    with torch.no_grad():
        for inp in (x, x2):
            (ours,) = session.run(None, {name: inp.numpy()})
            torch.testing.assert_close(torch.from_numpy(ours), m(inp), rtol=1e-3, atol=1e-4)
