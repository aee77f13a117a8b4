"""The reference conv (NumPy, from the definition) against torch.nn.functional, float64."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from tests.strategies import conv_configs
from tests.torch_oracle import make_params, torch_conv

from convzoo import reference as ref


def _padding_arg(spec, shape):
    return "same" if spec.padding == "same" else spec.resolved_padding(shape[-spec.ndim:])


@given(conv_configs(transposed=False))
def test_conv_matches_torch(config):
    spec, shape = config
    x = torch.randn(shape, dtype=torch.float64)
    w, b = make_params(spec)
    expected = torch_conv(spec, x, w, b).numpy()
    ours = ref.conv(x.numpy(), w.numpy(), None if b is None else b.numpy(), spec.stride,
                    _padding_arg(spec, shape), spec.dilation, spec.groups, spec.padding_mode)
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("padding", ["same", "valid", "full"])
@pytest.mark.parametrize("stride", [1, 2])
def test_padding_strings_against_explicit_torch_padding(padding, stride):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 4, 9, 8)), rng.normal(size=(6, 2, 3, 4))
    n_pad = {"valid": (0, 0, 0, 0), "full": (3, 3, 2, 2)}
    if padding == "same":  # TF rule: total = max((ceil(i/s)-1)*s + k - i, 0), extra right
        def tot(i, k):
            return max((-(-i // stride) - 1) * stride + k - i, 0)
        th, tw = tot(9, 3), tot(8, 4)
        flat = (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    else:
        flat = n_pad[padding]
    expected = F.conv2d(F.pad(torch.tensor(x), flat), torch.tensor(w), stride=stride, groups=2)
    ours = ref.conv(x, w, stride=stride, padding=padding, groups=2)
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-10, atol=1e-10)


def test_causal_padding_sees_only_the_past():
    x = np.zeros((1, 1, 10))
    x[0, 0, 6] = 1.0
    y = ref.conv(x, np.ones((1, 1, 3)), padding="causal", dilation=2)
    assert y.shape == (1, 1, 10)
    assert np.flatnonzero(y[0, 0]).tolist() == [6, 8]  # t=6 reaches t=6, 8, 10 (cut)


def test_unbatched_input():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(3, 7)), rng.normal(size=(2, 3, 3))
    np.testing.assert_allclose(ref.conv(x, w, padding=1), ref.conv(x[None], w, padding=1)[0])


@pytest.mark.parametrize("call, message", [
    (lambda: ref.conv(np.ones((1, 3, 5, 5)), np.ones((4, 2, 3, 3))),
     "`input` channel dim (=3) must equal weight.shape[1] * groups (=2)"),
    (lambda: ref.conv(np.ones((1, 4, 5, 5)), np.ones((3, 2, 3, 3)), groups=2),
     "`weight` dim 0 (=3) must be divisible by `groups` (=2)"),
    (lambda: ref.conv(np.ones((1, 1, 2, 5)), np.ones((1, 1, 3, 3))),
     "effective kernel size d*(k-1)+1 (=3) must not exceed the padded input size (=2"),
    (lambda: ref.conv(np.ones((1, 5)), np.ones((1, 1, 3, 3))),
     "`input` (shape (1, 5)) must have 3 (unbatched) or 4 (batched) dimensions"),
    (lambda: ref.conv(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), padding=3,
                      padding_mode="reflect"),
     "`padding` (=3) must be smaller than the input size (=3) along spatial dim 0 for "
     "padding_mode='reflect'"),
])
def test_errors_are_pinned(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
