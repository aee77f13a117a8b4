"""Reference variants against torch: depthwise, pointwise, separable, flattened, spatially
separable, channel shuffle, pixel shuffle/unshuffle (1-D, 2-D, 3-D)."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convzoo import reference as ref


def _t(a):
    return torch.tensor(a)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 4), st.data())
def test_depthwise_pointwise_separable(channels, mult, stride, k, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    size = data.draw(st.integers(k, k + 5))
    x = rng.normal(size=(2, channels, size, size + 1))
    dw = rng.normal(size=(channels * mult, 1, k, k))
    pw = rng.normal(size=(3, channels * mult))
    b = rng.normal(size=channels * mult)
    expected_dw = F.conv2d(_t(x), _t(dw), _t(b), stride=stride, groups=channels)
    np.testing.assert_allclose(ref.depthwise(x, dw, b, stride), expected_dw.numpy(), atol=1e-10)
    expected = F.conv2d(expected_dw, _t(pw[:, :, None, None]))
    np.testing.assert_allclose(ref.separable(x, dw, pw, b, stride=stride), expected.numpy(),
                               atol=1e-10)
    np.testing.assert_allclose(ref.pointwise(x, pw[:, :channels] if mult == 1 else pw[:, :channels],
                                             None),
                               F.conv2d(_t(x), _t(pw[:, :channels, None, None])).numpy(),
                               atol=1e-10)


def test_flattened_equals_its_dense_rank_one_kernel():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 7, 6))
    lateral, v, h = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(4, 5))
    dense = np.einsum("oc,oi,oj->ocij", lateral, v, h)  # W[o,c,i,j] = L[o,c] V[o,i] H[o,j]
    expected = F.conv2d(_t(x), _t(dense), padding=(1, 2))
    ours = ref.flattened(x, lateral, [v, h], padding=[1, 2])
    np.testing.assert_allclose(ours, expected.numpy(), atol=1e-10)


def test_spatially_separable_equals_chained_torch_convs():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 2, 6, 6, 6))
    ws = [rng.normal(size=(3, 2, 3, 1, 1)), rng.normal(size=(3, 3, 1, 3, 1)),
          rng.normal(size=(2, 3, 1, 1, 3))]
    y = _t(x)
    for a, w in enumerate(ws):
        pad = [0, 0, 0]
        pad[a] = 1
        y = F.conv3d(y, _t(w), padding=tuple(pad))
    np.testing.assert_allclose(ref.spatially_separable(x, ws, padding=1), y.numpy(), atol=1e-10)


@pytest.mark.parametrize("channels, groups", [(6, 2), (6, 3), (8, 4), (5, 1), (4, 4)])
def test_channel_shuffle_matches_torch(channels, groups):
    x = np.random.default_rng(5).normal(size=(2, channels, 3, 2))
    expected = torch.nn.ChannelShuffle(groups)(_t(x))
    np.testing.assert_array_equal(ref.channel_shuffle(x, groups), expected.numpy())


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_pixel_shuffle_2d_matches_torch_and_unshuffle_inverts(factor):
    x = np.random.default_rng(6).normal(size=(2, 2 * factor**2, 3, 4))
    y = ref.pixel_shuffle(x, factor)
    np.testing.assert_array_equal(y, F.pixel_shuffle(_t(x), factor).numpy())
    np.testing.assert_array_equal(ref.pixel_unshuffle(y, factor), x)
    np.testing.assert_array_equal(ref.pixel_unshuffle(y, factor),
                                  F.pixel_unshuffle(_t(y), factor).numpy())


@pytest.mark.parametrize("n", [1, 3])
def test_pixel_shuffle_nd_is_reshape_permute(n):
    r = 2
    spatial = (3, 2, 2)[:n]
    x = np.random.default_rng(7).normal(size=(2, 3 * r**n, *spatial))
    # (b, c, r, ..., r, *spatial) -> interleave each r with its spatial axis
    v = x.reshape(2, 3, *([r] * n), *spatial)
    perm = [0, 1] + [a for i in range(n) for a in (2 + n + i, 2 + i)]
    expected = v.transpose(perm).reshape(2, 3, *(s * r for s in spatial))
    np.testing.assert_array_equal(ref.pixel_shuffle(x, r), expected)
    np.testing.assert_array_equal(ref.pixel_unshuffle(expected, r), x)


def test_variant_errors_are_pinned():
    with pytest.raises(ValueError, match=re.escape(
            "`groups` (=4) must be positive and divide the channel count (=6)")):
        ref.channel_shuffle(np.ones((1, 6, 2)), 4)
    with pytest.raises(ValueError, match=re.escape(
            "`upscale_factor` (=2) must be positive and its 2-th power must divide the channel "
            "count (=6)")):
        ref.pixel_shuffle(np.ones((1, 6, 2, 2)), 2)
    with pytest.raises(ValueError, match=re.escape(
            "`downscale_factor` (=2) must be positive and divide every spatial size (=(3, 4))")):
        ref.pixel_unshuffle(np.ones((1, 1, 3, 4)), 2)
