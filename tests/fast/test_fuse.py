"""Fusions on the captured graph: conv + activation, conv + add (+ activation), concat +
shuffle as one copy; each applied only where the graph proves it exact."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from convzoo.fast import optimize
from convzoo.fast.interleave import interleave
from convzoo.fast.verify import FP32_RTOL
from convzoo.layers import ChannelShuffle, Depthwise, Pointwise
from convzoo.models.mobilenet import InvertedResidual
from convzoo.models.shufflenet import ShuffleV2Unit


def _close(y: torch.Tensor, ref: torch.Tensor) -> bool:
    return (y - ref).abs().max().item() <= FP32_RTOL * max(1.0, ref.abs().max().item())


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


class _AddRelu(nn.Module):
    """relu(conv(x) + x): add and activation both fused; broadcast add left alone."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.other = nn.Conv2d(8, 8, 1)
        self.bias = nn.Parameter(torch.randn(1, 8, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x) + x) + (self.other(x) + self.bias)


def _run(model: nn.Module, x: torch.Tensor):
    model.eval()
    fast = optimize(model, x)
    other = torch.randn(x.shape) * 3
    with torch.no_grad():
        ref, got = model(other), fast(other)
    return fast, ref, got


@pytest.mark.parametrize("net", [_Plain, lambda: nn.Sequential(InvertedResidual(8, 8, 1, 6))])
def test_residual_add_fused(net):
    torch.manual_seed(0)
    fast, ref, got = _run(net(), torch.randn(2, 8, 10, 10))
    assert fast.report.fused_adds == 1
    assert _close(got, ref)


def test_add_then_activation_fused_broadcast_add_not():
    torch.manual_seed(0)
    fast, ref, got = _run(_AddRelu(), torch.randn(2, 8, 6, 6))
    assert (fast.report.fused_adds, fast.report.fused_activations) == (1, 1)
    assert _close(got, ref)


def test_not_fused_when_conv_output_has_another_reader():
    torch.manual_seed(0)
    fast, ref, got = _run(_AddLeaks(), torch.randn(2, 8, 6, 6))
    assert fast.report.fused_adds == 0
    assert all(_close(a, b) for a, b in zip(got, ref, strict=True))


def test_interleave_is_cat_then_shuffle():
    a = torch.randn(2, 5, 3, 4).contiguous(memory_format=torch.channels_last)
    b = torch.randn(2, 5, 3, 4)
    c = torch.randn(2, 5, 3, 4)
    assert torch.equal(interleave(a, b), ChannelShuffle(2)(torch.cat((a, b), 1)))
    assert torch.equal(interleave(a, b, c), ChannelShuffle(3)(torch.cat((a, b, c), 1)))
    assert interleave(a, b).is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("stride, cin", [(1, 16), (2, 8)])
def test_shufflenet_v2_units_interleaved(stride, cin):
    torch.manual_seed(0)
    fast, ref, got = _run(nn.Sequential(ShuffleV2Unit(cin, 16, stride), nn.ReLU()),
                          torch.randn(2, cin, 8, 8))
    assert fast.report.interleaved_units == 1
    assert _close(got, ref)


class _CatShuffleLeaks(nn.Module):
    """cat then shuffle, but the cat is also returned: not one copy."""

    def forward(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.cat((a, a * 2), 1)
        return nn.functional.channel_shuffle(y, 2) + 1, y


def test_interleave_not_applied_when_cat_is_read_elsewhere():
    fast, ref, got = _run(nn.Sequential(nn.Conv2d(4, 4, 1), _CatShuffleLeaks()),
                          torch.randn(1, 4, 3, 3))
    assert fast.report.interleaved_units == 0
    assert all(_close(a, b) for a, b in zip(got, ref, strict=True))


class _AddAct(nn.Module):
    """act(conv(x) + x): the residual block of MobileNet-style nets ending in ReLU6."""

    def __init__(self, act: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x) + x)


@pytest.mark.parametrize("act", [nn.ReLU6(), nn.Hardtanh(-1.0, 1.0), nn.ReLU()])
def test_add_then_any_clamp_activation(act: nn.Module) -> None:
    # oneDNN's binary post-op takes only relu/none as its unary op here ("Unary Fusion
    # behavior undefined."): the add is fused, the activation runs in place after it.
    torch.manual_seed(0)
    fast, ref, got = _run(_AddAct(act), torch.randn(1, 8, 16, 16))
    assert (fast.report.fused_adds, fast.report.fused_activations) == (1, 1)
    assert _close(got, ref)


@pytest.mark.parametrize("act", [nn.ReLU(), nn.ReLU6(), nn.Hardtanh(-1.0, 1.0)])
@pytest.mark.parametrize("residual", [False, True])
def test_nan_kept_like_torch(act: nn.Module, residual: bool) -> None:
    # oneDNN's relu/hardtanh post-ops turn NaN into numbers; torch keeps NaN, so must we.
    torch.manual_seed(0)
    model = (_AddAct(act) if residual else nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), act))
    fast = optimize(model.eval(), torch.randn(1, 8, 16, 16))
    assert fast.report.fused_activations == 1
    x = torch.randn(1, 8, 16, 16)
    x[0, 0, 5, 5] = float("nan")
    with torch.no_grad():
        ref, got = model(x), fast(x)
    assert ref.isnan().sum() > 0
    assert torch.equal(got.isnan(), ref.isnan())
    assert _close(got.nan_to_num(), ref.nan_to_num())


class _Reused(nn.Module):
    """Residual adds: into a buffer read again later (no), into the conv's own input (no),
    into a buffer nobody reads afterwards (yes: the sum is written there)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c, self.d = (nn.Conv2d(8, 8, 3, padding=1) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        z = self.b(torch.relu(y)) + y  # y is read again by the last line: a new tensor
        v = self.c(z) + z  # conv c reads z itself: a new tensor
        w = self.d(torch.relu(v)) + v  # v dead afterwards, d reads relu(v): in place
        return w + y


def test_sum_written_in_place_only_into_a_dead_buffer() -> None:
    torch.manual_seed(0)
    fast, ref, got = _run(_Reused(), torch.randn(1, 8, 10, 10))
    assert fast.report.fused_adds == 3 and _close(got, ref)
    inner = fast.inner
    while not hasattr(inner, "graph"):
        inner = getattr(inner, "inner", None) or inner.fast
    targets = [n.target for n in inner.graph.nodes if n.op == "call_function"]
    assert targets.count(torch.ops.mkldnn._convolution_pointwise_.binary) == 1
    assert targets.count(torch.ops.mkldnn._convolution_pointwise.binary) == 2
