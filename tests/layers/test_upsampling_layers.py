"""PixelShuffle/Unshuffle (1-3D), SubPixelConv with ICNR, ResizeConv: against the reference
engine and explicit torch constructions."""

import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convzoo import reference as ref
from convzoo.layers import PixelShuffle, PixelUnshuffle, ResizeConv, SubPixelConv, icnr_


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.data())
def test_pixel_shuffle_matches_reference_and_inverts(ndim, r, c, data):
    spatial = [data.draw(st.integers(1, 3)) for _ in range(ndim)]
    x = torch.randn(2, c * r**ndim, *spatial, dtype=torch.float64)
    y = PixelShuffle(r, ndim)(x)
    np.testing.assert_array_equal(y.numpy(), ref.pixel_shuffle(x.numpy(), r))
    torch.testing.assert_close(PixelUnshuffle(r, ndim)(y), x)
    np.testing.assert_array_equal(PixelUnshuffle(r, ndim)(y).numpy(),
                                  ref.pixel_unshuffle(y.numpy(), r))
    if ndim == 2:
        torch.testing.assert_close(y, nn.PixelShuffle(r)(x))
        torch.testing.assert_close(PixelUnshuffle(r)(y), nn.PixelUnshuffle(r)(y))


@pytest.mark.parametrize("ndim, r", [(1, 3), (2, 2), (3, 2)])
def test_icnr_output_is_constant_on_every_r_block(ndim, r):
    """ICNR: right after init, sub-pixel conv = conv + nearest upsampling (no checkerboard)."""
    torch.manual_seed(0)
    m = SubPixelConv(2, 3, r, ndim=ndim).double()
    x = torch.randn(1, 2, *([4] * ndim), dtype=torch.float64)
    y = m(x)
    nearest = F.interpolate(y[(..., *[slice(None, None, r)] * ndim)], scale_factor=r,
                            mode="nearest")
    torch.testing.assert_close(y, nearest)
    # and it is exactly a conv whose kernel is the shared sub-kernel, then nearest upsampling
    base = m.conv.weight[:: r**ndim]
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[ndim]
    z = conv(x, base, m.conv.bias[:: r**ndim], padding="same")
    torch.testing.assert_close(y, F.interpolate(z, scale_factor=r, mode="nearest"))


def test_without_icnr_the_blocks_differ():
    torch.manual_seed(0)
    y = SubPixelConv(2, 3, 2, icnr=False)(torch.randn(1, 2, 4, 4))
    assert not torch.allclose(y[..., ::2, ::2], y[..., 1::2, 1::2])


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.sampled_from([1, 3]))
def test_subpixel_matches_reference(ndim, r, cout, k):
    torch.manual_seed(ndim * 10 + r)
    m = SubPixelConv(2, cout, r, kernel_size=k, ndim=ndim).double()
    x = torch.randn(2, 2, *([3] * ndim), dtype=torch.float64)
    w, b = m.conv.weight.detach().numpy(), m.conv.bias.detach().numpy()
    expected = ref.pixel_shuffle(ref.conv(x.numpy(), w, b, padding="same"), r)
    np.testing.assert_allclose(m(x).detach().numpy(), expected, atol=1e-10)


@pytest.mark.parametrize("ndim, mode", [(1, "linear"), (2, "nearest"), (2, "bilinear"),
                                        (3, "trilinear")])
def test_resize_conv_is_interpolate_then_same_conv(ndim, mode):
    torch.manual_seed(1)
    m = ResizeConv(2, 3, 2, mode=mode, ndim=ndim).double()
    x = torch.randn(2, 2, *([3] * ndim), dtype=torch.float64)
    up = F.interpolate(x, scale_factor=2, mode=mode)
    expected = ref.conv(up.numpy(), m.conv.weight.detach().numpy(),
                        m.conv.bias.detach().numpy(), padding="same")
    np.testing.assert_allclose(m(x).detach().numpy(), expected, atol=1e-10)
    assert m(x).shape[2:] == tuple(6 for _ in range(ndim))


@pytest.mark.parametrize("call, message", [
    (lambda: PixelShuffle(0), "`upscale_factor` (=0) must be a positive int"),
    (lambda: PixelShuffle(2, ndim=4), "`ndim` (=4) must be 1, 2 or 3"),
    (lambda: PixelShuffle(2)(torch.ones(1, 6, 2, 2)),
     "`input` channel dim (=6) must be divisible by upscale_factor**2 (=4)"),
    (lambda: PixelShuffle(2)(torch.ones(1, 4, 2)),
     "`input` shape (=(1, 4, 2)) must be (N, C, *spatial) with 2 spatial dims"),
    (lambda: PixelUnshuffle(2)(torch.ones(1, 1, 3, 4)),
     "`input` spatial sizes (=(3, 4)) must be divisible by `downscale_factor` (=2)"),
    (lambda: ResizeConv(2, 2, 2, mode="bilinear", ndim=1),
     "`mode` (='bilinear') must be one of 'nearest', 'linear' for 1 spatial dim"),
    (lambda: ResizeConv(2, 2, 0), "`upscale_factor` (=0) must be a positive int"),
    (lambda: icnr_(torch.empty(6, 2, 3, 3), 2, 2),
     "`weight` dim 0 (=6) must be divisible by upscale_factor**2 (=4)"),
])
def test_errors_are_pinned(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
