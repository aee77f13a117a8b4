"""Depthwise conv vs the NumPy reference, per-channel F.conv and nn.ConvNd(groups=C)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_oracle import F_CONV, NN_CONV, param_gradcheck

from convzoo import reference as ref
from convzoo.arithmetic import effective_kernel
from convzoo.layers import Depthwise


@st.composite
def configs(draw):
    n = draw(st.integers(1, 3))
    c, m = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(draw(st.integers(1, 2)) for _ in range(n))
    d = tuple(draw(st.integers(1, 2)) for _ in range(n))
    p = tuple(draw(st.integers(0, 2)) for _ in range(n))
    spatial = tuple(
        draw(st.integers(max(effective_kernel(ki, di) - 2 * pi, 1), 6))
        for ki, di, pi in zip(k, d, p, strict=True)
    )
    return n, c, m, k, s, p, d, draw(st.booleans()), (draw(st.integers(1, 2)), c, *spatial)


@given(configs())
@settings(max_examples=40)
def test_depthwise_matches_reference_and_torch(config):
    n, c, m, k, s, p, d, bias, shape = config
    layer = Depthwise(c, k, s, p, d, depth_multiplier=m, bias=bias, ndim=n).double()
    x = torch.randn(shape, dtype=torch.float64)
    y = layer(x).detach()
    w = layer.weight.detach()
    b = layer.bias.detach() if bias else None
    # NumPy reference engine, from the definition
    expected = ref.depthwise(
        x.numpy(), w.numpy(), None if b is None else b.numpy(), stride=s, padding=p, dilation=d
    )
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)
    # explicit: input channel c alone through its M filters, concatenated in order
    pieces = [
        F_CONV[n](x[:, ci:ci + 1], w[ci * m:(ci + 1) * m], None if b is None else
                  b[ci * m:(ci + 1) * m], s, p, d)
        for ci in range(c)
    ]
    torch.testing.assert_close(y, torch.cat(pieces, 1))
    # torch.nn: ConvNd with groups = C
    native = NN_CONV[n](c, c * m, k, s, p, d, groups=c, bias=bias).double()
    native.load_state_dict(layer.state_dict())
    torch.testing.assert_close(y, native(x).detach())


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_depthwise_padding_modes_match_torch(mode):
    layer = Depthwise(3, 3, padding=1, depth_multiplier=2, padding_mode=mode)
    native = nn.Conv2d(3, 6, 3, padding=1, groups=3, padding_mode=mode)
    native.load_state_dict(layer.state_dict())
    x = torch.randn(2, 3, 5, 6)
    torch.testing.assert_close(layer(x), native(x))


def test_depthwise_same_padding_any_stride():
    layer = Depthwise(4, 3, stride=2, padding="same")
    for size in (7, 8):
        assert layer(torch.randn(1, 4, size, size)).shape == (1, 4, 4, 4)


def test_depthwise_shapes_params_and_repr():
    layer = Depthwise(3, 5)
    assert layer(torch.randn(1, 3, 12, 12)).shape == (1, 3, 8, 8)
    assert layer.weight.shape == (3, 1, 5, 5)
    assert sum(p.numel() for p in layer.parameters()) == 3 * 25 + 3 == layer.spec.params
    assert layer.specs()[0].kind == "depthwise"
    assert repr(layer) == "Depthwise(3, kernel_size=(5, 5), ndim=2)"
    wide = Depthwise(2, 3, padding=1, depth_multiplier=4, ndim=1, bias=False)
    assert wide.out_channels == 8 and wide.weight.shape == (8, 1, 3)
    assert repr(wide) == (
        "Depthwise(2, kernel_size=(3,), padding=(1,), bias=False, depth_multiplier=4, ndim=1)"
    )


def test_depthwise_gradcheck():
    for n, m in ((1, 2), (2, 1), (3, 2)):
        layer = Depthwise(2, 2, padding=1, depth_multiplier=m, ndim=n).double()
        x = torch.randn(1, 2, *([3] * n), dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t, mod=layer: mod(t), (x,))
        assert param_gradcheck(layer, x.detach())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Depthwise(3, 3, depth_multiplier=0),
         "`depth_multiplier` (=0) must be a positive int"),
        (lambda: Depthwise(3, 3, depth_multiplier=1.5),
         "`depth_multiplier` (=1.5) must be a positive int"),
        (lambda: Depthwise(0, 3), "`in_channels` (=0) must be a positive int"),
        (lambda: Depthwise(3, (3, 3, 3), ndim=2),
         "`kernel_size` (=(3, 3, 3)) must have 2 elements, one per spatial dimension"),
        (lambda: Depthwise(3, 3, padding_mode="mirror"),
         "`padding_mode` (='mirror') must be one of 'zeros', 'reflect', 'replicate', 'circular'"),
    ],
)
def test_depthwise_bad_arguments(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_depthwise_bad_inputs():
    layer = Depthwise(3, 5)
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape channel dim (=4) must equal `in_channels` (=3)"
    )):
        layer(torch.randn(1, 4, 12, 12))
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape (=(1, 3, 12, 12, 12)) must be (N, C, *spatial) or (C, *spatial) with 2 "
        "spatial dims"
    )):
        layer(torch.randn(1, 3, 12, 12, 12))
    with pytest.raises(ValueError, match=re.escape(
        "effective kernel size d*(k-1)+1 (=5) must not exceed the padded input size (=4) along "
        "spatial dim 0"
    )):
        layer(torch.randn(1, 3, 4, 12))
