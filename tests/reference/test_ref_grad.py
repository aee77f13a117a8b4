"""Reference gradients (from the definitions) against torch autograd, float64; and the
padding adjoint they rely on."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.reference.test_ref_conv import TORCH_MODE, forward_configs, pad_configs, torch_conv
from tests.reference.test_ref_transpose import torch_conv_transpose, transposed_configs

from convzoo import reference as ref

GTOL = dict(rtol=1e-9, atol=1e-9)


def autograd(fn, c):
    """(dL/dx, dL/dw, dL/db, upstream gradient g) for L = <fn(x, w, b), g> (a bias always)."""
    x = torch.from_numpy(c.x).requires_grad_(True)
    w = torch.from_numpy(c.w).requires_grad_(True)
    channels = c.w.shape[0] if fn is torch_conv else c.w.shape[1] * c.groups
    b = torch.zeros(channels, dtype=torch.float64, requires_grad=True)
    y = fn(c, x, w, b)
    g = torch.from_numpy(np.random.default_rng(0).normal(size=tuple(y.shape)))
    gx, gw, gb = torch.autograd.grad(y, (x, w, b), g)
    return gx.numpy(), gw.numpy(), gb.numpy(), g.numpy()


@settings(max_examples=150)
@given(forward_configs())
def test_conv_gradients_match_autograd(c):
    gx, gw, gb, g = autograd(torch_conv, c)
    args = (c.stride, c.padding, c.dilation, c.groups, c.mode)  # strings passed as they are
    np.testing.assert_allclose(ref.conv_grad_input(g, c.w, c.x.shape, *args), gx, **GTOL)
    np.testing.assert_allclose(ref.conv_grad_weight(c.x, g, c.w.shape, *args), gw, **GTOL)
    np.testing.assert_allclose(ref.conv_grad_bias(g, ndim=c.w.ndim - 2), gb, **GTOL)


@settings(max_examples=120)
@given(transposed_configs())
def test_conv_transpose_gradients_match_autograd(c):
    gx, gw, gb, g = autograd(torch_conv_transpose, c)
    args = (c.stride, c.padding, c.output_padding, c.groups, c.dilation)
    np.testing.assert_allclose(ref.conv_transpose_grad_input(g, c.w, c.x.shape, *args), gx,
                               **GTOL)
    np.testing.assert_allclose(ref.conv_transpose_grad_weight(c.x, g, c.w.shape, *args), gw,
                               **GTOL)
    np.testing.assert_allclose(ref.conv_grad_bias(g, ndim=c.w.ndim - 2), gb, **GTOL)


@settings(max_examples=60)
@given(pad_configs(), st.integers(0, 2**32 - 1))
def test_pad_adjoint_identity_and_autograd(config, seed):
    x, pads, mode = config
    padded = ref.pad(x, pads, mode)
    g = np.random.default_rng(seed).normal(size=padded.shape)
    back = ref.pad_adjoint(g, x.shape[2:], pads, mode)
    np.testing.assert_allclose(np.vdot(padded, g), np.vdot(x, back), rtol=1e-10)
    xt = torch.from_numpy(x).requires_grad_(True)
    flat = [v for pair in reversed(pads) for v in pair]
    (expected,) = torch.autograd.grad(F.pad(xt, flat, mode=TORCH_MODE[mode]), xt,
                                      torch.from_numpy(g))
    np.testing.assert_allclose(back, expected.numpy(), **GTOL)


def test_conv_grad_input_of_a_stride_two_conv_leaves_skipped_inputs_at_zero():
    # k=1, s=2 over 5 inputs reads x[0], x[2], x[4]: the others get no gradient
    g = ref.conv_grad_input(np.ones((1, 1, 3)), np.full((1, 1, 1), 2.0), (1, 1, 5), stride=2)
    assert g[0, 0].tolist() == [2.0, 0.0, 2.0, 0.0, 2.0]


def test_grad_bias_batched_and_unbatched():
    g = np.arange(12.0).reshape(2, 3, 2)
    assert ref.conv_grad_bias(g).tolist() == [0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11]
    assert ref.conv_grad_bias(g[0], ndim=1).tolist() == [1.0, 5.0, 9.0]


@pytest.mark.parametrize("call, message", [
    (lambda: ref.conv_grad_input(np.ones((1, 2, 3)), np.ones((2, 2, 3)), (1, 3, 5)),
     "`input` channel dim (=3) must equal weight.shape[1] * groups (=2)"),
    (lambda: ref.conv_grad_weight(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3)), (1, 1, 2, 2)),
     "`grad_out` (shape (1, 1, 1, 3)) must have the output shape (1, 1, 2, 2) of the "
     "convolution it differentiates"),
    (lambda: ref.conv_grad_weight(np.ones((1, 1, 3, 3)), np.ones((1, 3)), (1, 1, 2, 2)),
     "`grad_out` (shape (1, 3)) must have 3 (unbatched) or 4 (batched) dimensions"),
    (lambda: ref.conv_transpose_grad_weight(np.ones((1, 2, 3)), np.ones((1, 4, 6)), (2, 4, 3),
                                            stride=2),
     "`grad_out` (shape (1, 4, 6)) must have the output shape (1, 4, 7)"),
    (lambda: ref.conv_transpose_grad_input(np.ones((1, 1, 5)), np.ones((2, 1, 3)), (1, 2, 3),
                                           stride=1, output_padding=1),
     "`output_padding` (=1) must be smaller than max(`stride`, `dilation`)"),
])
def test_errors_are_pinned(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
