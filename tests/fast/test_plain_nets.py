"""optimize on plain torch.nn networks (tests/fast/plain_nets.py, no convzoo inside): every
BatchNorm folded, activations and residual adds fused, exact on other inputs and batches."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from plain_nets import MobileNetV2, ResNet, ShuffleNetV2, randomize_batchnorms

from convzoo.fast import optimize
from convzoo.fast.verify import FP32_RTOL


def _randomize(model: nn.Module) -> nn.Module:
    return randomize_batchnorms(model, seed=3).eval()


# name -> (factory, BatchNorms, fused adds, (interleaved concat+shuffles, folded shuffles));
# ShuffleNetV2's last shuffle feeds conv5 alone: folded into its weights instead
NETS = {
    "mobilenet_v2": (MobileNetV2, 24, 5, (0, 0)),
    "resnet": (ResNet, 15, 6, (0, 0)),
    "shufflenet_v2": (ShuffleNetV2, 35, 0, (8, 1)),
}


@pytest.mark.parametrize("name", list(NETS))
def test_plain_net(name: str) -> None:
    make, bns, adds, units = NETS[name]
    torch.manual_seed(0)
    model = _randomize(make())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == bns
    fast = optimize(model, torch.randn(2, 3, 64, 64))
    r = fast.report
    assert (r.folded_batchnorms, r.fused_adds) == (bns, adds)
    assert (r.interleaved_units, r.folded_shuffles) == units
    assert r.channels_last and r.fused_activations > 0 and r.capture == "export"
    for batch in (2, 1, 5):  # other inputs, other batch sizes
        x = torch.randn(batch, 3, 64, 64) * 2 + 0.5
        with torch.no_grad():
            ref, got = model(x), fast(x)
        assert got.shape == ref.shape
        assert (got - ref).abs().max().item() <= FP32_RTOL * max(1.0, ref.abs().max().item())
