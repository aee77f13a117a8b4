"""Dilated conv with 'same' padding vs the NumPy reference and nn.ConvNd(padding='same')."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_oracle import NN_CONV, param_gradcheck

from convzoo import reference as ref
from convzoo.arithmetic import same_padding
from convzoo.layers import Dilated


@st.composite
def configs(draw):
    n = draw(st.integers(1, 3))
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 4)) for _ in range(n))
    d = tuple(draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    spatial = tuple(draw(st.integers(1, 7)) for _ in range(n))
    return n, cin, cout, k, d, s, draw(st.booleans()), (draw(st.integers(1, 2)), cin, *spatial)


@given(configs())
@settings(max_examples=40)
def test_dilated_keeps_size_and_matches_reference(config):
    n, cin, cout, k, d, s, bias, shape = config
    layer = Dilated(cin, cout, k, d, stride=s, bias=bias, ndim=n).double()
    x = torch.randn(shape, dtype=torch.float64)
    y = layer(x).detach()
    assert y.shape == (shape[0], cout, *(-(-i // si) for i, si in zip(shape[2:], s, strict=True)))
    pads = tuple(same_padding(i, ki, si, di)
                 for i, ki, si, di in zip(shape[2:], k, s, d, strict=True))
    w = layer.weight.detach()
    b = layer.bias.detach() if bias else None
    expected = ref.conv(x.numpy(), w.numpy(), None if b is None else b.numpy(), stride=s,
                        padding=pads, dilation=d)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)
    if all(si == 1 for si in s):  # torch.nn's own 'same' (stride 1 only)
        native = NN_CONV[n](cin, cout, k, padding="same", dilation=d, bias=bias).double()
        native.load_state_dict(layer.state_dict())
        torch.testing.assert_close(y, native(x).detach())


def test_dilated_seed_example_and_receptive_field():
    layer = Dilated(3, 16, 3, dilation=2)
    assert layer.spec.padding == ((2, 2), (2, 2))  # = nn.Conv2d(..., dilation=2, padding=2)
    native = nn.Conv2d(3, 16, 3, dilation=2, padding=2)
    native.load_state_dict(layer.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert layer(x).shape == (2, 16, 32, 32)
    torch.testing.assert_close(layer(x), native(x))
    assert layer.spec.receptive_field()[0].size == 5  # a 3x3 at d=2 sees 5x5
    assert sum(p.numel() for p in layer.parameters()) == 16 * 3 * 9 + 16  # weights of a 3x3
    assert repr(layer) == "Dilated(3, 16, kernel_size=(3, 3), dilation=(2, 2), padding=same)"


def test_dilated_wavenet_stack_1d():
    stack = nn.Sequential(*(Dilated(2, 2, 2, dilation=2**i, ndim=1) for i in range(4)))
    assert stack(torch.randn(1, 2, 20)).shape == (1, 2, 20)
    fields = [m.spec.receptive_field()[0].size for m in stack]
    assert fields == [2, 3, 5, 9]


def test_dilated_gradcheck():
    for n in (1, 2, 3):
        layer = Dilated(2, 2, 2, dilation=2, ndim=n).double()
        x = torch.randn(1, 2, *([3] * n), dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t, mod=layer: mod(t), (x,))
    layer = Dilated(2, 2, 3, dilation=2, stride=2).double()
    assert param_gradcheck(layer, torch.randn(1, 2, 5, 4, dtype=torch.float64))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Dilated(3, 16, 3, dilation=0),
         "`dilation` (=0) must be positive (>= 1) in every spatial dimension"),
        (lambda: Dilated(3, 16, 3, dilation=(2, 2, 2), ndim=2),
         "`dilation` (=(2, 2, 2)) must have 2 elements, one per spatial dimension"),
        (lambda: Dilated(3, 16, 3, dilation="2"),
         "`dilation` (='2') must be an int or a tuple of 2 ints"),
    ],
)
def test_dilated_bad_arguments(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_dilated_bad_inputs():
    layer = Dilated(3, 16, 3, dilation=2)
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape channel dim (=1) must equal `in_channels` (=3)"
    )):
        layer(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape (=(3, 32)) must be (N, C, *spatial) or (C, *spatial) with 2 spatial dims"
    )):
        layer(torch.randn(3, 32))
