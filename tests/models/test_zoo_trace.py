"""Every zoo model through ``torch.jit.trace`` (the trace run on a second input) and the
TorchScript ONNX exporter (``torch.onnx.export(..., dynamo=False)``, run by onnxruntime), at
small inputs; the heavy models are marked slow."""

from __future__ import annotations

import io

import pytest
import torch

from convzoo.models import MODELS, create, entry

onnxruntime = pytest.importorskip("onnxruntime")

# small inputs each model accepts (the reference input where a fixed-size head needs it)
SMALL = {
    "c3d": None,
    "deeplabv3": (1, 3, 65, 65),
    "espcn": (1, 1, 24, 24),
    "mobilenet_v1": (1, 3, 64, 64),
    "mobilenet_v2": (1, 3, 64, 64),
    "r2plus1d": (1, 3, 8, 32, 32),
    "resnet50": (1, 3, 64, 64),
    "resnext50_32x4d": (1, 3, 64, 64),
    "shufflenet_v1": (1, 3, 64, 64),
    "shufflenet_v2": (1, 3, 64, 64),
    "unet": (1, 1, 64, 64),
    "vgg16": None,  # ONNX's adaptive pool needs 7 to divide the last feature map
    "wavenet": (1, 256, 300),
    "xception": (1, 3, 71, 71),
}
pytestmark = pytest.mark.usefixtures("quiet_onnx")

LIGHT = {"clips_r2plus1d", "dcgan_generator", "digits_separable", "espcn", "mobilenet_v2",
         "wavenet"}
CASES = [
    pytest.param(name, id=name, marks=() if name in LIGHT else pytest.mark.slow)
    for name in sorted(MODELS)
]



def _model_and_inputs(name):
    shape = SMALL.get(name) or entry(name).input_shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create(name).eval()
        x, x2 = torch.randn(shape), torch.randn(shape)
    return model, x, x2


@pytest.mark.parametrize("name", CASES)
def test_jit_trace_matches_eager(name):
    model, x, x2 = _model_and_inputs(name)
    with torch.no_grad():
        traced = torch.jit.trace(model, (x,), check_trace=False)
        torch.testing.assert_close(traced(x2), model(x2), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_torchscript_onnx_export_runs_in_onnxruntime(name):
    model, x, x2 = _model_and_inputs(name)
    f = io.BytesIO()
    torch.onnx.export(model, (x,), f, dynamo=False)
    session = onnxruntime.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    (inp,) = [i.name for i in session.get_inputs()]
    (ours,) = session.run(None, {inp: x2.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(ours), model(x2), rtol=1e-3, atol=1e-4)
