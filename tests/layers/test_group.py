"""Grouped conv vs the NumPy reference, per-group nn.ConvNd, and its block-diagonal dense form."""

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
from convzoo.layers import GroupConv


@st.composite
def configs(draw):
    n = draw(st.integers(1, 3))
    g = draw(st.integers(1, 4))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(draw(st.integers(1, 2)) for _ in range(n))
    d = tuple(draw(st.integers(1, 2)) for _ in range(n))
    p = tuple(draw(st.integers(0, 2)) for _ in range(n))
    spatial = tuple(
        draw(st.integers(max(effective_kernel(ki, di) - 2 * pi, 1), 6))
        for ki, di, pi in zip(k, d, p, strict=True)
    )
    return n, g, cin, cout, k, s, p, d, draw(st.booleans()), (draw(st.integers(1, 2)), cin,
                                                               *spatial)


@given(configs())
@settings(max_examples=40)
def test_group_matches_reference_torch_and_dense(config):
    n, g, cin, cout, k, s, p, d, bias, shape = config
    layer = GroupConv(cin, cout, k, g, s, p, d, bias=bias, ndim=n).double()
    x = torch.randn(shape, dtype=torch.float64)
    y = layer(x).detach()
    w = layer.weight.detach()
    b = layer.bias.detach() if bias else None
    expected = ref.conv(x.numpy(), w.numpy(), None if b is None else b.numpy(), stride=s,
                        padding=p, dilation=d, groups=g)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)
    # explicit: g independent torch.nn convs on channel slices, concatenated
    gi, go = cin // g, cout // g
    pieces = []
    for j in range(g):
        conv = NN_CONV[n](gi, go, k, s, p, d, bias=bias).double()
        with torch.no_grad():
            conv.weight.copy_(w[j * go:(j + 1) * go])
            if bias:
                conv.bias.copy_(b[j * go:(j + 1) * go])
        pieces.append(conv(x[:, j * gi:(j + 1) * gi]).detach())
    torch.testing.assert_close(y, torch.cat(pieces, 1))
    # the dense block-diagonal weight in a groups=1 conv gives the same output
    dense, dense_b = layer.to_dense()
    assert dense.shape == (cout, cin, *k)
    torch.testing.assert_close(y, F_CONV[n](x, dense.detach(), dense_b, s, p, d))
    for j in range(g):
        for i in range(g):
            block = dense[j * go:(j + 1) * go, i * gi:(i + 1) * gi]
            if i == j:
                torch.testing.assert_close(block, w[j * go:(j + 1) * go])
            else:
                assert (block == 0).all()


def test_group_seed_shapes_params_repr():
    layer = GroupConv(8, 16, 3, groups=2, padding=1)
    assert layer(torch.randn(2, 8, 32, 32)).shape == (2, 16, 32, 32)
    assert layer.weight.shape == (16, 4, 3, 3)
    assert sum(p.numel() for p in layer.parameters()) == 16 * 4 * 9 + 16 == layer.spec.params
    assert layer.specs()[0].kind == "group"
    assert repr(layer) == "GroupConv(8, 16, kernel_size=(3, 3), padding=(1, 1), groups=2, ndim=2)"
    native = nn.Conv2d(8, 16, 3, padding=1, groups=2)
    native.load_state_dict(layer.state_dict())
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(layer(x), native(x))


def test_group_same_padding_strided():
    layer = GroupConv(4, 4, 3, groups=2, stride=2, padding="same", ndim=1)
    assert layer(torch.randn(1, 4, 9)).shape == (1, 4, 5)


def test_group_gradcheck():
    for n in (1, 2, 3):
        layer = GroupConv(4, 2, 2, groups=2, padding=1, ndim=n).double()
        x = torch.randn(1, 4, *([2] * n), dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t, mod=layer: mod(t), (x,))
    layer = GroupConv(4, 2, 2, groups=2).double()
    assert param_gradcheck(layer, torch.randn(1, 4, 3, 3, dtype=torch.float64))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: GroupConv(8, 16, 3, groups=3),
         "`in_channels` (=8) must be divisible by `groups` (=3)"),
        (lambda: GroupConv(8, 6, 3, groups=4),
         "`out_channels` (=6) must be divisible by `groups` (=4)"),
        (lambda: GroupConv(8, 16, 3, groups=0), "`groups` (=0) must be a positive int"),
        (lambda: GroupConv(8, 16, 3, groups=2, stride=0),
         "`stride` (=0) must be positive (>= 1) in every spatial dimension"),
    ],
)
def test_group_bad_arguments(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_group_bad_inputs():
    layer = GroupConv(8, 16, 3, groups=2)
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape channel dim (=6) must equal `in_channels` (=8)"
    )):
        layer(torch.randn(1, 6, 8, 8))
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape (=(8, 8)) must be (N, C, *spatial) or (C, *spatial) with 2 spatial dims"
    )):
        layer(torch.randn(8, 8))
    with pytest.raises(ValueError, match=re.escape(
        "effective kernel size d*(k-1)+1 (=3) must not exceed the padded input size (=2) along "
        "spatial dim 0"
    )):
        layer(torch.randn(1, 8, 2, 8))
