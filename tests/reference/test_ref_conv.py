"""The reference conv and padding (NumPy, from the definition) against torch, float64.

The strategies here (random forward configurations and their explicit per-side padding,
derived independently of ``convzoo.arithmetic``) are shared with the transposed-conv and
gradient tests.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_oracle import NN_CONV

from convzoo import reference as ref

MODES = ("zeros", "reflect", "replicate", "circular")
TORCH_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
              "circular": "circular"}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TOL = dict(rtol=1e-10, atol=1e-10)


class Fwd(NamedTuple):
    """One forward configuration: arrays and the arguments exactly as passed to ref.conv."""

    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    stride: Any
    padding: Any
    dilation: Any
    groups: int
    mode: str
    pads: tuple[tuple[int, int], ...]  # explicit (lo, hi) per axis, derived in the test


def per_axis_arg(draw, values: tuple[int, ...]) -> Any:
    """An int when every axis agrees (sometimes), else the tuple."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return values


def explicit_pads(padding, k, s, d, spatial) -> tuple[tuple[int, int], ...]:
    """(lo, hi) per axis from the textbook rules (written out here, not imported)."""
    n = len(k)
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "full":
        return tuple((di * (ki - 1),) * 2 for ki, di in zip(k, d))
    if padding == "causal":
        return ((d[0] * (k[0] - 1), 0),)
    if padding == "same":  # out = ceil(i/s); extra element on the right (TF/Keras)
        pads = []
        for i, ki, si, di in zip(spatial, k, s, d):
            total = max((-(-i // si) - 1) * si + di * (ki - 1) + 1 - i, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if isinstance(padding, int):
        return ((padding, padding),) * n
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)


@st.composite
def forward_configs(draw, modes=MODES, native: bool = False) -> Fwd:
    """A valid random conv: dims 1-3, groups, stride, dilation, every padding form and mode.

    ``native``: only the padding forms torch's own F.convNd / nn.ConvNd accept.
    """
    n = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    d = tuple(draw(st.integers(1, 2)) for _ in range(n))
    mode = draw(st.sampled_from(modes))
    kinds = ["int", "ints", "valid"] + (["same"] if all(v == 1 for v in s) else [])
    if not native:
        kinds += ["same", "pairs", "full"] + (["causal"] if n == 1 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        padding: Any = draw(st.integers(0, 2))
    elif kind == "ints":
        padding = tuple(draw(st.integers(0, 2)) for _ in range(n))
    elif kind == "pairs":
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 3))) for _ in range(n))
    else:
        padding = kind
    ek = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    if kind in ("same", "full", "causal"):
        lows = [1 if mode == "zeros" else e for e in ek]
    else:
        fixed = explicit_pads(padding, k, s, d, (1,) * n)
        lows = []
        for e, (lo, hi) in zip(ek, fixed):
            low = max(1, e - lo - hi)
            if mode == "reflect":
                low = max(low, lo + 1, hi + 1)
            if mode == "circular":
                low = max(low, lo, hi)
            lows.append(low)
    spatial = tuple(draw(st.integers(lo, lo + (5 if n < 3 else 3))) for lo in lows)
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=(*batch, cin, *spatial))
    w = rng.normal(size=(cout, cin // groups, *k))
    b = rng.normal(size=cout) if draw(st.booleans()) else None
    return Fwd(x, w, b, per_axis_arg(draw, s), padding, per_axis_arg(draw, d), groups, mode,
               explicit_pads(padding, k, s, d, spatial))


def torch_conv(c: Fwd, x: torch.Tensor | None = None, w: torch.Tensor | None = None,
               b: torch.Tensor | None = None):
    """F.pad with the explicit pairs, then F.convNd with padding 0 (tensors may need grad)."""
    n = c.w.ndim - 2
    x = torch.from_numpy(c.x) if x is None else x
    w = torch.from_numpy(c.w) if w is None else w
    unbatched = x.dim() == n + 1
    xb = x.unsqueeze(0) if unbatched else x
    flat = [v for pair in reversed(c.pads) for v in pair]
    xb = F.pad(xb, flat, mode=TORCH_MODE[c.mode])
    if b is None and c.b is not None:
        b = torch.from_numpy(c.b)
    y = CONV[n](xb, w, b, c.stride, 0, c.dilation, c.groups)
    return y.squeeze(0) if unbatched else y


def as_ref_args(c: Fwd) -> tuple:
    return (c.x, c.w, c.b, c.stride, c.padding, c.dilation, c.groups, c.mode)


@settings(max_examples=150)
@given(forward_configs())
def test_conv_matches_torch_with_explicit_padding(c):
    np.testing.assert_allclose(ref.conv(*as_ref_args(c)), torch_conv(c).numpy(), **TOL)


@settings(max_examples=80)
@given(forward_configs(native=True))
def test_conv_matches_torch_own_padding_arguments(c):
    """torch interprets int / tuple / 'valid' / 'same' padding and padding_mode itself."""
    n = c.w.ndim - 2
    x = torch.from_numpy(c.x)
    if c.mode == "zeros":
        b = None if c.b is None else torch.from_numpy(c.b)
        y = CONV[n](x, torch.from_numpy(c.w), b, c.stride, c.padding, c.dilation, c.groups)
    else:
        m = NN_CONV[n](c.x.shape[-n - 1], c.w.shape[0], c.w.shape[2:], c.stride, c.padding,
                       c.dilation, c.groups, c.b is not None, c.mode, dtype=torch.float64)
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(c.w))
            if c.b is not None:
                m.bias.copy_(torch.from_numpy(c.b))
            y = m(x)
    np.testing.assert_allclose(ref.conv(*as_ref_args(c)), y.detach().numpy(), **TOL)


@settings(max_examples=60)
@given(forward_configs())
def test_unbatched_is_the_batched_result_of_one(c):
    x = c.x if c.x.ndim == c.w.ndim - 1 else c.x[0]
    args = as_ref_args(c)[1:]
    y = ref.conv(x, *args)
    np.testing.assert_array_equal(y, ref.conv(x[None], *args)[0])
    assert y.ndim == x.ndim


@st.composite
def pad_configs(draw):
    n = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(MODES))
    sizes = tuple(draw(st.integers(2 if mode == "reflect" else 1, 5)) for _ in range(n))
    cap = {"reflect": lambda i: i - 1, "circular": lambda i: i}.get(mode, lambda i: 4)
    pads = tuple((draw(st.integers(0, cap(i))), draw(st.integers(0, cap(i)))) for i in sizes)
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).normal(size=(2, 3, *sizes))
    return x, pads, mode


@settings(max_examples=80)
@given(pad_configs())
def test_pad_matches_torch_pad(config):
    x, pads, mode = config
    flat = [v for pair in reversed(pads) for v in pair]
    expected = F.pad(torch.from_numpy(x), flat, mode=TORCH_MODE[mode]).numpy()
    np.testing.assert_array_equal(ref.pad(x, pads, mode), expected)


def test_pad_indices_spell_out_each_mode():
    assert ref.pad_indices(4, 2, 3, "reflect").tolist() == [2, 1, 0, 1, 2, 3, 2, 1, 0]
    assert ref.pad_indices(4, 2, 3, "replicate").tolist() == [0, 0, 0, 1, 2, 3, 3, 3, 3]
    assert ref.pad_indices(4, 2, 3, "circular").tolist() == [2, 3, 0, 1, 2, 3, 0, 1, 2]
    assert ref.pad_indices(4, 2, 3, "zeros").tolist() == [-1, -1, 0, 1, 2, 3, -1, -1, -1]


@pytest.mark.parametrize("padding", ["same", "valid", "full"])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_padding_strings_against_hand_computed_padding(padding, stride):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 4, 9, 8)), rng.normal(size=(6, 2, 3, 4))
    if padding == "same":  # 9 -> ceil(9/s), 8 -> ceil(8/s): totals written out per stride
        flat = {1: (1, 2, 1, 1), 2: (1, 1, 1, 1), 3: (1, 1, 0, 0)}[stride]
    else:
        flat = {"valid": (0, 0, 0, 0), "full": (3, 3, 2, 2)}[padding]
    expected = F.conv2d(F.pad(torch.tensor(x), flat), torch.tensor(w), stride=stride, groups=2)
    ours = ref.conv(x, w, stride=stride, padding=padding, groups=2)
    np.testing.assert_allclose(ours, expected.numpy(), **TOL)
    if padding == "same":
        assert ours.shape[2:] == (-(-9 // stride), -(-8 // stride))


def test_causal_padding_sees_only_the_past():
    x = np.zeros((1, 1, 10))
    x[0, 0, 6] = 1.0
    y = ref.conv(x, np.ones((1, 1, 3)), padding="causal", dilation=2)
    assert y.shape == (1, 1, 10)
    assert np.flatnonzero(y[0, 0]).tolist() == [6, 8]  # t=6 reaches t=6, 8 (10 is cut)


def test_definition_on_a_worked_example():
    # 1-D, stride 2, dilation 2: out[p] = sum_t w[t] * x[2p + 2t]
    x = np.arange(9.0).reshape(1, 1, 9)
    w = np.array([1.0, 10.0, 100.0]).reshape(1, 1, 3)
    y = ref.conv(x, w, stride=2, dilation=2)
    assert y[0, 0].tolist() == [x[0, 0, 2 * p] + 10 * x[0, 0, 2 * p + 2]
                                + 100 * x[0, 0, 2 * p + 4] for p in range(3)]


@pytest.mark.parametrize("call, message", [
    (lambda: ref.conv(np.ones((1, 3, 5, 5)), np.ones((4, 2, 3, 3))),
     "`input` channel dim (=3) must equal weight.shape[1] * groups (=2)"),
    (lambda: ref.conv(np.ones((1, 4, 5, 5)), np.ones((3, 2, 3, 3)), groups=2),
     "`weight` dim 0 (=3) must be divisible by `groups` (=2)"),
    (lambda: ref.conv(np.ones((1, 4, 5)), np.ones((4, 4, 3)), groups=0),
     "`groups` (=0) must be a positive int"),
    (lambda: ref.conv(np.ones((1, 1, 2, 5)), np.ones((1, 1, 3, 3))),
     "effective kernel size d*(k-1)+1 (=3) must not exceed the padded input size (=2"),
    (lambda: ref.conv(np.ones((1, 5)), np.ones((1, 1, 3, 3))),
     "`input` (shape (1, 5)) must have 3 (unbatched) or 4 (batched) dimensions"),
    (lambda: ref.conv(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), padding=3,
                      padding_mode="reflect"),
     "`padding` (=3) must be smaller than the input size (=3) along spatial dim 0 for "
     "padding_mode='reflect'"),
    (lambda: ref.conv(np.ones((1, 1, 9, 4)), np.ones((1, 1, 1, 1)), padding=(0, (5, 1)),
                      padding_mode="reflect"),
     "`padding` (=5) must be smaller than the input size (=4) along spatial dim 1 for "
     "padding_mode='reflect'"),
    (lambda: ref.conv(np.ones((1, 1, 3)), np.ones((1, 1, 2)), padding=4,
                      padding_mode="circular"),
     "`padding` (=4) must not exceed the input size (=3) along spatial dim 0 for "
     "padding_mode='circular'"),
    (lambda: ref.conv(np.ones((1, 1, 3)), np.ones((1, 1, 2)), padding_mode="mirror"),
     "`padding_mode` (='mirror') must be one of ('zeros', 'reflect', 'replicate', 'circular')"),
    (lambda: ref.conv(np.ones((1, 1, 3)), np.ones((1, 1, 2)), padding="half"),
     "`padding` (='half') must be one of 'valid', 'same', 'full', 'causal'"),
    (lambda: ref.conv(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), padding="causal"),
     "`padding` (='causal') is defined for 1 spatial dimension, got 2"),
    (lambda: ref.conv(np.ones((1, 1, 3)), np.ones((1, 1, 2)), padding=-1),
     "`padding` (=-1) must be non-negative on every side"),
    (lambda: ref.conv(np.ones((1, 1, 3)), np.ones((1, 1, 2)), stride=0),
     "`stride` (=0) must be positive (>= 1) in every spatial dimension"),
    (lambda: ref.conv(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), dilation=(1, 2, 3)),
     "`dilation` (=(1, 2, 3)) must have 2 elements, one per spatial dimension"),
    (lambda: ref.conv(np.ones((1, 1, 3)), np.ones((2, 1, 2)), np.ones(3)),
     "`bias` (shape (3,)) must have shape (2,), one per output channel"),
    (lambda: ref.conv(np.array(list("abcde")).reshape(1, 1, 5), np.ones((1, 1, 3))),
     "`input` (dtype <U1) must hold numbers (integer, floating or complex)"),
    (lambda: ref.conv(np.ones((1, 1, 5)), np.ones((1, 1, 3), dtype=bool)),
     "`weight` (dtype bool) must hold numbers (integer, floating or complex)"),
    (lambda: ref.conv(np.ones((1, 1, 5)), np.ones((1, 1, 3)), np.array([None])),
     "`bias` (dtype object) must hold numbers (integer, floating or complex)"),
    (lambda: ref.conv_transpose(np.array([["x"] * 3]), np.ones((1, 1, 3))),
     "`input` (dtype <U1) must hold numbers (integer, floating or complex)"),
    (lambda: ref.conv_grad_input(np.array([[["1"]]]), np.ones((1, 1, 3)), (1, 1, 3)),
     "`grad_out` (dtype <U1) must hold numbers (integer, floating or complex)"),
    (lambda: ref.depthwise(np.array(list("abcde")).reshape(1, 1, 5), np.ones((1, 1, 3))),
     "`input` (dtype <U1) must hold numbers (integer, floating or complex)"),
])
def test_errors_are_pinned(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
