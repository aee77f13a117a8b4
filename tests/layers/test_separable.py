"""Depthwise-separable conv vs the NumPy reference, nn.Sequential of torch convs, and its
dense equivalent (a rank-constrained dense conv)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_oracle import F_CONV, NN_CONV, param_gradcheck

import convzoo
from convzoo import reference as ref
from convzoo.arithmetic import effective_kernel
from convzoo.layers import Conv, DepthwiseSeparable


@st.composite
def configs(draw):
    n = draw(st.integers(1, 3))
    cin, cout, m = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(draw(st.integers(1, 2)) for _ in range(n))
    d = tuple(draw(st.integers(1, 2)) for _ in range(n))
    p = tuple(draw(st.integers(0, 2)) for _ in range(n))
    spatial = tuple(
        draw(st.integers(max(effective_kernel(ki, di) - 2 * pi, 1), 6))
        for ki, di, pi in zip(k, d, p, strict=True)
    )
    shape = (draw(st.integers(1, 2)), cin, *spatial)
    return n, cin, cout, m, k, s, p, d, draw(st.booleans()), shape


def _native(layer: DepthwiseSeparable) -> nn.Sequential:
    """The same computation from torch.nn primitives (weights copied)."""
    s = layer.depthwise.spec
    n, cin, m = s.ndim, layer.in_channels, layer.depth_multiplier
    pads = tuple(lo for lo, _ in s.padding)
    dw = NN_CONV[n](cin, cin * m, s.kernel_size, s.stride, pads, s.dilation, groups=cin,
                    bias=s.bias, dtype=layer.depthwise.weight.dtype)
    pw = NN_CONV[n](cin * m, layer.out_channels, 1, bias=s.bias,
                    dtype=layer.depthwise.weight.dtype)
    dw.load_state_dict(layer.depthwise.state_dict())
    pw.load_state_dict(layer.pointwise.state_dict())
    return nn.Sequential(dw, pw)


@given(configs())
@settings(max_examples=40)
def test_separable_matches_reference_torch_and_dense(config):
    n, cin, cout, m, k, s, p, d, bias, shape = config
    layer = DepthwiseSeparable(cin, cout, k, s, p, d, depth_multiplier=m, bias=bias,
                               ndim=n).double()
    x = torch.randn(shape, dtype=torch.float64)
    y = layer(x).detach()
    dw, pw = layer.depthwise, layer.pointwise
    as_np = lambda t: None if t is None else t.detach().numpy()  # noqa: E731
    expected = ref.separable(
        x.numpy(), as_np(dw.weight), as_np(pw.weight), as_np(dw.bias), as_np(pw.bias),
        stride=s, padding=p, dilation=d,
    )
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(y, _native(layer)(x).detach())
    # one dense conv with the to_dense() weight computes the same thing
    weight, b = layer.to_dense()
    assert weight.shape == (cout, cin, *k)
    torch.testing.assert_close(y, F_CONV[n](x, weight.detach(), None if b is None else
                                            b.detach(), s, p, d))
    torch.testing.assert_close(y, layer.to_conv()(x).detach())
    # ...and that dense weight has rank <= M for every input channel: W[:, c] = P[:, c] D[c]
    for c in range(cin):
        slice_c = weight[:, c].reshape(cout, math.prod(k)).detach()
        assert torch.linalg.matrix_rank(slice_c).item() <= m


def test_dense_conv_of_full_rank_is_not_separable():
    """The rank check can fail: a random dense conv has rank min(C_out, prod k) > M."""
    weight = torch.randn(8, 3, 3, 3, dtype=torch.float64)
    ranks = [torch.linalg.matrix_rank(weight[:, c].reshape(8, 9)).item() for c in range(3)]
    assert ranks == [8, 8, 8]


def test_to_dense_refuses_nonlinear_middle():
    layer = DepthwiseSeparable(3, 4, 3, mid_activation=nn.ReLU)
    with pytest.raises(ValueError, match=re.escape(
        "`mid_norm`/`mid_activation` must be None for to_dense(): a norm or activation between "
        "the depthwise and the pointwise conv is not a convolution"
    )):
        layer.to_dense()


def test_mobilenet_v1_block_structure():
    """MobileNet v1: BN+ReLU after the depthwise and after the pointwise conv."""
    layer = DepthwiseSeparable(4, 8, 3, stride=2, padding=1, bias=False, norm=nn.BatchNorm2d,
                               activation=nn.ReLU, mid_norm=nn.BatchNorm2d,
                               mid_activation=nn.ReLU).double().eval()
    assert isinstance(layer.mid_norm, nn.BatchNorm2d) and layer.mid_norm.num_features == 4
    assert isinstance(layer.norm, nn.BatchNorm2d) and layer.norm.num_features == 8
    for bn in (layer.mid_norm, layer.norm):
        with torch.no_grad():
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    native = _native(layer)
    expected_stack = nn.Sequential(native[0], layer.mid_norm, nn.ReLU(), native[1], layer.norm,
                                   nn.ReLU())
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (2, 8, 5, 5) and (y >= 0).all()
    torch.testing.assert_close(y, expected_stack(x))
    names = [name for name, _ in layer.named_children()]
    assert names == ["depthwise", "mid_norm", "mid_activation", "pointwise", "norm", "activation"]


def test_xception_style_has_nothing_between():
    layer = DepthwiseSeparable(3, 16, 3, padding=1, norm=nn.BatchNorm2d)
    assert layer.mid_norm is None and layer.mid_activation is None
    assert [name for name, _ in layer.named_children()] == ["depthwise", "pointwise", "norm"]


def test_norm_factories_accept_callables():
    layer = DepthwiseSeparable(3, 6, 3, norm=lambda c: nn.GroupNorm(3, c),
                               activation=lambda: nn.LeakyReLU(0.1))
    assert isinstance(layer.norm, nn.GroupNorm) and layer.norm.num_channels == 6
    assert isinstance(layer.activation, nn.LeakyReLU)


def test_separable_params_and_specs():
    layer = DepthwiseSeparable(3, 4, 3, padding=1, bias=False)
    assert sum(p.numel() for p in layer.parameters()) == 27 + 12
    dw, pw = layer.specs()
    assert (dw.kind, pw.kind) == ("depthwise", "pointwise")
    assert dw.params + pw.params == 39
    assert repr(layer).startswith("DepthwiseSeparable(\n  3, 4, kernel_size=(3, 3)\n")


def test_separable_gradcheck():
    for n in (1, 2, 3):
        layer = DepthwiseSeparable(2, 3, 2, padding=1, depth_multiplier=2, ndim=n,
                                   mid_activation=nn.Tanh, activation=nn.Tanh).double()
        x = torch.randn(1, 2, *([3] * n), dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t, mod=layer: mod(t), (x,))
    layer = DepthwiseSeparable(2, 3, 3, padding=1).double()
    assert param_gradcheck(layer, torch.randn(1, 2, 4, 4, dtype=torch.float64))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DepthwiseSeparable(3, 4, 3, norm="bn"),
         "`norm` (='bn') must be None or a class/callable building a module from the channel "
         "count, e.g. nn.BatchNorm2d"),
        (lambda: DepthwiseSeparable(3, 4, 3, activation="relu"),
         "`activation` (='relu') must be None or a class/callable building a module with no "
         "arguments, e.g. nn.ReLU"),
        (lambda: DepthwiseSeparable(3, 4, 3, mid_norm=lambda c: c),
         "`mid_norm` (=<function"),
        (lambda: DepthwiseSeparable(3, 4, 3, depth_multiplier=-1),
         "`depth_multiplier` (=-1) must be a positive int"),
        (lambda: DepthwiseSeparable(3, 0, 3), "`out_channels` (=0) must be a positive int"),
    ],
)
def test_separable_bad_arguments(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_separable_bad_inputs():
    layer = DepthwiseSeparable(3, 16, 5)
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape channel dim (=2) must equal `in_channels` (=3)"
    )):
        layer(torch.randn(1, 2, 12, 12))
    with pytest.raises(ValueError, match=re.escape(
        "effective kernel size d*(k-1)+1 (=5) must not exceed the padded input size (=3) along "
        "spatial dim 1"
    )):
        layer(torch.randn(1, 3, 12, 3))


def test_create_separable():
    layer = convzoo.create("separable", in_channels=3, out_channels=16, kernel_size=3, padding=1)
    assert isinstance(layer, DepthwiseSeparable)
    assert layer(torch.randn(2, 3, 32, 32)).shape == (2, 16, 32, 32)
    assert isinstance(layer.to_conv(), Conv)
