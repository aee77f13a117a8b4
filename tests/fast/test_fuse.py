"""Fused residual adds (oneDNN binary post-op) and interleaved ShuffleNet v2 units."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from convzoo.fast import optimize
from convzoo.fast.fuse import FusedConv
from convzoo.fast.interleave import InterleavedUnit, interleave
from convzoo.fast.residual import ResidualConv
from convzoo.layers import ChannelShuffle, Depthwise, Pointwise
from convzoo.models.mobilenet import InvertedResidual
from convzoo.models.shufflenet import ShuffleV2Unit

RTOL = 1e-4  # as tests/fast/test_optimize.py


def _close(y: torch.Tensor, ref: torch.Tensor) -> bool:
    return (y - ref).abs().max().item() <= RTOL * max(1.0, ref.abs().max().item())


class _AddLeaks(nn.Module):
    """x + body(x), but the conv output is also returned: the add must not be fused."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(Pointwise(8, 8), nn.ReLU(), Pointwise(8, 8))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.body(x)
        return x + y, y * 2


class _Plain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(Pointwise(8, 8), nn.ReLU(), Depthwise(8, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def test_fused_add_equals_unfused_float32():
    torch.manual_seed(0)
    conv, x = Pointwise(6, 6), torch.randn(2, 6, 9, 9)
    fused = FusedConv(conv, nhwc=True)
    other = torch.randn(2, 6, 9, 9)
    assert _close(fused(x, other), conv(x) + other)
    m = ResidualConv(nn.Sequential(nn.ReLU()), fused)
    assert _close(m(x), x + conv(torch.relu(x)))


def test_add_not_fused_into_activated_conv():
    fused = FusedConv(Pointwise(2, 2), nn.ReLU())
    with pytest.raises(ValueError, match="activation"):
        fused(torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3))


@pytest.mark.parametrize("net", [_Plain, lambda: nn.Sequential(InvertedResidual(8, 8, 1, 6))])
def test_residual_add_fused(net):
    torch.manual_seed(0)
    model, x = net().eval(), torch.randn(2, 8, 10, 10)
    with torch.no_grad():
        ref = model(x)
    fast = optimize(model, x)
    assert fast.report.fused_adds == 1
    assert any(isinstance(m, ResidualConv) for m in fast.modules())
    assert _close(fast(x), ref)


def test_not_fused_when_conv_output_has_another_reader():
    torch.manual_seed(0)
    model, x = _AddLeaks().eval(), torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        ref = model(x)
    fast = optimize(model, x)
    assert fast.report.fused_adds == 0
    assert all(_close(a, b) for a, b in zip(fast(x), ref, strict=True))


def test_interleave_is_cat_then_shuffle():
    a = torch.randn(2, 5, 3, 4).contiguous(memory_format=torch.channels_last)
    b = torch.randn(2, 5, 3, 4).contiguous(memory_format=torch.channels_last)
    y = interleave(a, b)
    assert torch.equal(y, ChannelShuffle(2)(torch.cat((a, b), 1)))
    assert y.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("stride, cin", [(1, 16), (2, 8)])
def test_shufflenet_v2_units_interleaved(stride, cin):
    torch.manual_seed(0)
    model = nn.Sequential(ShuffleV2Unit(cin, 16, stride), nn.ReLU()).eval()
    x = torch.randn(2, cin, 8, 8)
    with torch.no_grad():
        ref = model(x)
    fast = optimize(model, x)
    assert fast.report.interleaved_units == 1
    assert any(isinstance(m, InterleavedUnit) for m in fast.modules())
    assert _close(fast(x), ref)
