"""Every layer kind (first example): ONNX export (dynamo exporter) run by onnxruntime, and
torch.compile(fullgraph=True) without graph breaks."""

import logging
import warnings

import pytest
import torch
from tests.layers.registry_cases import build, first_examples

onnxruntime = pytest.importorskip("onnxruntime")
CASES = first_examples()


@pytest.fixture(autouse=True)
def _quiet():
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("kind, index, shape", CASES)
def test_onnx_export_runs_in_onnxruntime(kind, index, shape, tmp_path):
    m, shape = build(kind, index)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    program = torch.onnx.export(m, (x,), dynamo=True, verbose=False)
    path = tmp_path / f"{kind}.onnx"
    program.save(str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (ours,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(ours), m(x).detach(), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kind, index, shape", CASES)
def test_compile_fullgraph_without_graph_breaks(kind, index, shape):
    torch._dynamo.reset()
    m, shape = build(kind, index)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    compiled = torch.compile(m, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), m(x))
