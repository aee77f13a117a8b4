"""Reference variants against torch: depthwise, pointwise, separable, flattened, spatially
separable, channel shuffle, pixel shuffle/unshuffle (1-D, 2-D, 3-D)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.reference.test_ref_conv import CONV, MODES, TOL, TORCH_MODE

from convzoo import reference as ref


def _t(a):
    return None if a is None else torch.from_numpy(np.asarray(a))


def _flat(pads):
    return [v for pair in reversed(pads) for v in pair]


def _rng(data):
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=60)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.sampled_from(MODES),
       st.data())
def test_depthwise_and_separable_match_torch(n, channels, mult, mode, data):
    rng = _rng(data)
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
    d = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
    pad = tuple(data.draw(st.integers(0, 1)) for _ in range(n))
    spatial = tuple(data.draw(st.integers(di * (ki - 1) + 2, di * (ki - 1) + 4))
                    for ki, di in zip(k, d))
    batch = data.draw(st.sampled_from([(), (2,)]))
    x = rng.normal(size=(*batch, channels, *spatial))
    dw, dwb = rng.normal(size=(channels * mult, 1, *k)), rng.normal(size=channels * mult)
    pw, pwb = rng.normal(size=(3, channels * mult)), rng.normal(size=3)
    xt = _t(x if batch else x[None])
    padded = F.pad(xt, _flat([(p, p) for p in pad]), mode=TORCH_MODE[mode])
    expected_dw = CONV[n](padded, _t(dw), _t(dwb), s, 0, d, channels)
    expected_sep = CONV[n](expected_dw, _t(pw.reshape(3, -1, *(1,) * n)), _t(pwb))
    if not batch:
        expected_dw, expected_sep = expected_dw[0], expected_sep[0]
    np.testing.assert_allclose(ref.depthwise(x, dw, dwb, s, pad, d, mode), expected_dw, **TOL)
    if mode == "zeros":
        np.testing.assert_allclose(ref.separable(x, dw, pw, dwb, pwb, s, pad, d), expected_sep,
                                   **TOL)


@settings(max_examples=30)
@given(st.integers(1, 3), st.booleans(), st.data())
def test_pointwise_matches_a_1x1_torch_conv(n, nd_weight, data):
    rng = _rng(data)
    x = rng.normal(size=(2, 3, *(data.draw(st.integers(1, 4)) for _ in range(n))))
    w, b = rng.normal(size=(4, 3)), rng.normal(size=4)
    expected = CONV[n](_t(x), _t(w.reshape(4, 3, *(1,) * n)), _t(b)).numpy()
    weight = w.reshape(4, 3, *(1,) * n) if nd_weight else w
    np.testing.assert_allclose(ref.pointwise(x, weight, b), expected, **TOL)
    if nd_weight:  # the weight's spatial dims tell an unbatched input apart
        np.testing.assert_allclose(ref.pointwise(x[0], weight, b), expected[0], **TOL)


@pytest.mark.parametrize("n", [2, 3])
def test_flattened_equals_torch_stages_and_its_rank_one_kernel(n):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, *(7, 6, 5)[:n]))
    lateral = rng.normal(size=(4, 3))
    ks = (3, 5, 2)[:n]
    axis_w = [rng.normal(size=(4, k)) for k in ks]
    pads = [(1, 1), (2, 0), (0, 1)][:n]
    # 1. without biases: one dense conv with W[o,c,i,j,..] = L[o,c] V[o,i] H[o,j] ..
    dense = lateral.reshape(4, 3, *(1,) * n)
    for a, w in enumerate(axis_w):
        shape = [4, 1] + [1] * n
        shape[2 + a] = ks[a]
        dense = dense * w.reshape(shape)
    expected = CONV[n](F.pad(_t(x), _flat(pads)), _t(dense))
    np.testing.assert_allclose(ref.flattened(x, lateral, axis_w, pads), expected, **TOL)
    # 2. with biases: the stages one after the other in torch
    lb, biases = rng.normal(size=4), [rng.normal(size=4) for _ in range(n)]
    y = CONV[n](_t(x), _t(lateral.reshape(4, 3, *(1,) * n)), _t(lb))
    for a, (w, b) in enumerate(zip(axis_w, biases)):
        kernel = [1] * n
        kernel[a] = ks[a]
        pad = [(0, 0)] * n
        pad[a] = pads[a]
        y = CONV[n](F.pad(y, _flat(pad)), _t(w.reshape(4, 1, *kernel)), _t(b), groups=4)
    np.testing.assert_allclose(ref.flattened(x, lateral, axis_w, pads, lb, biases), y, **TOL)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_spatially_separable_equals_chained_torch_convs(n):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 2, *(6,) * n))
    chans = [2, 3, 3, 2][:n + 1]
    ws, bs = [], []
    for a in range(n):
        kernel = [1] * n
        kernel[a] = 3
        ws.append(rng.normal(size=(chans[a + 1], chans[a], *kernel)))
        bs.append(rng.normal(size=chans[a + 1]))
    pads = [(1, 0), (0, 2), (1, 1)][:n]
    y = _t(x)
    for a, (w, b) in enumerate(zip(ws, bs)):
        pad = [(0, 0)] * n
        pad[a] = pads[a]
        y = CONV[n](F.pad(y, _flat(pad)), _t(w), _t(b))
    np.testing.assert_allclose(ref.spatially_separable(x, ws, bs, pads), y, **TOL)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))
def test_channel_shuffle_is_the_transposed_group_matrix(groups, per, n):
    c = groups * per
    x = np.random.default_rng(5).normal(size=(2, c, *(3,) * n))
    perm = np.arange(c).reshape(groups, per).T.reshape(-1)  # new j*g + i <- old i*per + j
    np.testing.assert_array_equal(ref.channel_shuffle(x, groups), x[:, perm])
    np.testing.assert_array_equal(ref.channel_shuffle(x, groups),
                                  torch.nn.ChannelShuffle(groups)(_t(x)).numpy())


@given(st.integers(1, 3), st.integers(1, 2), st.integers(1, 3), st.integers(1, 3))
def test_pixel_shuffle_2d_matches_torch_and_unshuffle_inverts(factor, c, h, w):
    x = np.random.default_rng(6).normal(size=(2, c * factor**2, h, w))
    y = ref.pixel_shuffle(x, factor)
    np.testing.assert_array_equal(y, F.pixel_shuffle(_t(x), factor).numpy())
    np.testing.assert_array_equal(ref.pixel_unshuffle(y, factor), x)
    np.testing.assert_array_equal(ref.pixel_unshuffle(y, factor),
                                  F.pixel_unshuffle(_t(y), factor).numpy())


@pytest.mark.parametrize("n, r", [(1, 2), (1, 3), (2, 2), (3, 2)])
def test_pixel_shuffle_nd_channel_order_is_row_major_offsets(n, r):
    spatial = (3, 2, 2)[:n]
    x = np.random.default_rng(7).normal(size=(2, 3 * r**n, *spatial))
    # (b, c, r_1..r_n, *spatial) -> interleave each r_a with its spatial axis
    v = x.reshape(2, 3, *([r] * n), *spatial)
    perm = [0, 1] + [a for i in range(n) for a in (2 + n + i, 2 + i)]
    expected = v.transpose(perm).reshape(2, 3, *(s * r for s in spatial))
    np.testing.assert_array_equal(ref.pixel_shuffle(x, r), expected)
    np.testing.assert_array_equal(ref.pixel_unshuffle(expected, r), x)
    # one element spelled out: channel c*r**n + row-major offset of the sub-position
    sub = (1,) * n
    offset = sum(o * r ** (n - 1 - a) for a, o in enumerate(sub))
    assert expected[1, 2][sub] == x[1, 2 * r**n + offset][(0,) * n]


@pytest.mark.parametrize("call, message", [
    (lambda: ref.channel_shuffle(np.ones((1, 6, 2)), 4),
     "`groups` (=4) must be positive and divide the channel count (=6)"),
    (lambda: ref.pixel_shuffle(np.ones((1, 6, 2, 2)), 2),
     "`input` channel dim (=6) must be divisible by upscale_factor**2 (=4)"),
    (lambda: ref.pixel_shuffle(np.ones((1, 8, 2, 2)), 0),
     "`upscale_factor` (=0) must be a positive int"),
    (lambda: ref.pixel_unshuffle(np.ones((1, 1, 3, 4)), 2),
     "`downscale_factor` (=2) must divide every spatial size (=(3, 4))"),
    (lambda: ref.pointwise(np.ones((1, 3, 4)), np.ones((2, 3, 3))),
     "`weight` (shape (2, 3, 3)) must be (C_out, C_in) or (C_out, C_in, 1, ..., 1)"),
    (lambda: ref.pointwise(np.ones((1, 2, 4)), np.ones((2, 3))),
     "`input` channel dim (=2) must equal weight.shape[1] (=3)"),
    (lambda: ref.flattened(np.ones((1, 3, 4, 4)), np.ones((2, 3)), [np.ones((2, 3))]),
     "`axis_weights` (=1 arrays) must hold one (C_out, k) array per spatial dimension (=2)"),
    (lambda: ref.spatially_separable(np.ones((1, 1, 4, 4)), [np.ones((1, 1, 3, 3))] * 2),
     "`weights[0]` (shape (1, 1, 3, 3)) must have kernel size 1 on every spatial dim but 0"),
])
def test_variant_errors_are_pinned(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
