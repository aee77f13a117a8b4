"""Pointwise (1x1) conv vs the NumPy reference engine, a matrix product and nn.ConvNd."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_oracle import NN_CONV, param_gradcheck

from convzoo import reference as ref
from convzoo.layers import Pointwise


@st.composite
def configs(draw):
    n = draw(st.integers(1, 3))
    cin, cout = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(n))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    return n, cin, cout, draw(st.booleans()), (*batch, cin, *spatial)


@given(configs())
@settings(max_examples=40)
def test_pointwise_matches_reference_and_matmul(config):
    n, cin, cout, bias, shape = config
    layer = Pointwise(cin, cout, bias=bias, ndim=n).double()
    x = torch.randn(shape, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (*shape[:-n - 1], cout, *shape[-n:])
    w = layer.weight.detach()
    b = layer.bias.detach() if bias else None
    xb = x if x.dim() == n + 2 else x.unsqueeze(0)
    expected = ref.pointwise(xb.numpy(), w.numpy(), None if b is None else b.numpy())
    got = y if x.dim() == n + 2 else y.unsqueeze(0)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-10, atol=1e-10)
    # the definition: a matrix product over channels at every position
    mixed = torch.einsum("oc,nc...->no...", w.reshape(cout, cin), xb)
    if b is not None:
        mixed = mixed + b.reshape(1, cout, *([1] * n))
    torch.testing.assert_close(got.detach(), mixed)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_pointwise_matches_torch_conv(n):
    layer = Pointwise(3, 5, ndim=n)
    native = NN_CONV[n](3, 5, 1)
    native.load_state_dict(layer.state_dict())
    x = torch.randn(2, 3, *([4] * n))
    torch.testing.assert_close(layer(x), native(x))
    assert layer.weight.shape == (5, 3, *([1] * n))


def test_pointwise_params_and_spec():
    layer = Pointwise(3, 256)
    assert sum(p.numel() for p in layer.parameters()) == 3 * 256 + 256 == layer.spec.params
    (spec,) = layer.specs()
    assert spec.kind == "pointwise" and spec.kernel_size == (1, 1)
    assert repr(layer) == "Pointwise(3, 256, ndim=2)"
    assert repr(Pointwise(2, 3, bias=False, ndim=1)) == "Pointwise(2, 3, ndim=1, bias=False)"


def test_pointwise_gradcheck():
    for n in (1, 2, 3):
        layer = Pointwise(2, 3, ndim=n).double()
        x = torch.randn(2, 2, *([2] * n), dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t, m=layer: m(t), (x,))
        assert param_gradcheck(layer, x.detach())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Pointwise(0, 3), "`in_channels` (=0) must be a positive int"),
        (lambda: Pointwise(3, 2.5), "`out_channels` (=2.5) must be a positive int"),
        (lambda: Pointwise(3, 4, ndim=0), "`ndim` (=0) must be a positive int"),
    ],
)
def test_pointwise_bad_arguments(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_pointwise_bad_inputs():
    layer = Pointwise(3, 4)
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape (=(3, 8)) must be (N, C, *spatial) or (C, *spatial) with 2 spatial dims"
    )):
        layer(torch.randn(3, 8))
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape channel dim (=5) must equal `in_channels` (=3)"
    )):
        layer(torch.randn(2, 5, 8, 8))
