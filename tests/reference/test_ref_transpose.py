"""The reference transposed conv: zero insertion (the seed definition) vs scatter vs torch,
and the adjoint identity <conv(x, w), y> = <x, conv_transpose(y, w)>."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.reference.test_ref_conv import TOL, explicit_pads, forward_configs, per_axis_arg
from tests.torch_oracle import F_CONV_T

from convzoo import reference as ref


class Tr(NamedTuple):
    """One transposed configuration, arguments exactly as passed to ref.conv_transpose."""

    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    stride: Any
    padding: Any
    output_padding: Any
    groups: int
    dilation: Any
    pads: tuple[tuple[int, int], ...]  # explicit crop (lo, hi) per axis


@st.composite
def transposed_configs(draw) -> Tr:
    """dims 1-3, groups, stride, dilation, output_padding, symmetric or per-side crops."""
    n = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    d = tuple(draw(st.integers(1, 2)) for _ in range(n))
    op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
    spatial = tuple(draw(st.integers(1, 5 if n < 3 else 3)) for _ in range(n))
    # uncropped output length; a crop must leave at least one element
    full = [(i - 1) * si + di * (ki - 1) + 1 + o
            for i, si, di, ki, o in zip(spatial, s, d, k, op)]
    kind = draw(st.sampled_from(["int", "ints", "pairs", "valid"]))
    if kind == "int":
        padding: Any = draw(st.integers(0, min(2, *((f - 1) // 2 for f in full))))
    elif kind == "ints":
        padding = tuple(draw(st.integers(0, min(2, (f - 1) // 2))) for f in full)
    elif kind == "pairs":
        pairs = []
        for f in full:
            lo = draw(st.integers(0, min(3, f - 1)))
            pairs.append((lo, draw(st.integers(0, min(3, f - 1 - lo)))))
        padding = tuple(pairs)
    else:
        padding = "valid"
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=(*batch, cin, *spatial))
    w = rng.normal(size=(cin, cout // groups, *k))
    b = rng.normal(size=cout) if draw(st.booleans()) else None
    return Tr(x, w, b, per_axis_arg(draw, s), padding, per_axis_arg(draw, op), groups,
              per_axis_arg(draw, d), explicit_pads(padding, k, s, d, spatial))


def torch_conv_transpose(c: Tr, x: torch.Tensor | None = None, w: torch.Tensor | None = None,
                         b: torch.Tensor | None = None):
    """F.conv_transposeNd without padding, then the explicit crop (tensors may need grad)."""
    n = c.w.ndim - 2
    x = torch.from_numpy(c.x) if x is None else x
    w = torch.from_numpy(c.w) if w is None else w
    unbatched = x.dim() == n + 1
    xb = x.unsqueeze(0) if unbatched else x
    if b is None and c.b is not None:
        b = torch.from_numpy(c.b)
    y = F_CONV_T[n](xb, w, b, c.stride, 0, c.output_padding, c.groups, c.dilation)
    keep = [slice(lo, y.shape[2 + a] - hi) for a, (lo, hi) in enumerate(c.pads)]
    y = y[(slice(None), slice(None), *keep)]
    return y.squeeze(0) if unbatched else y


def as_ref_args(c: Tr) -> tuple:
    return (c.x, c.w, c.b, c.stride, c.padding, c.output_padding, c.groups, c.dilation)


@settings(max_examples=150)
@given(transposed_configs())
def test_zero_insertion_and_scatter_match_torch(c):
    expected = torch_conv_transpose(c).numpy()
    np.testing.assert_allclose(ref.conv_transpose(*as_ref_args(c)), expected, **TOL)
    np.testing.assert_allclose(ref.conv_transpose_scatter(*as_ref_args(c)), expected, **TOL)


@settings(max_examples=60)
@given(transposed_configs())
def test_symmetric_padding_matches_torch_own_padding_argument(c):
    n = c.w.ndim - 2
    padding = tuple(min(pair) for pair in c.pads)
    if any(lo != hi for lo, hi in c.pads):  # torch has no per-side crop: use the smaller
        c = c._replace(padding=padding, pads=tuple((p, p) for p in padding))
    b = None if c.b is None else torch.from_numpy(c.b)
    y = F_CONV_T[n](torch.from_numpy(c.x), torch.from_numpy(c.w), b, c.stride, padding,
                  c.output_padding, c.groups, c.dilation)
    np.testing.assert_allclose(ref.conv_transpose(*as_ref_args(c)), y.numpy(), **TOL)


@settings(max_examples=100)
@given(forward_configs(modes=("zeros",)), st.integers(0, 2**32 - 1))
def test_adjoint_identity(c, seed):
    """conv_transpose with the same weight is the adjoint of conv (zero padding)."""
    y = ref.conv(c.x, c.w, None, c.stride, c.padding, c.dilation, c.groups)
    g = np.random.default_rng(seed).normal(size=y.shape)
    n = c.w.ndim - 2
    s = (c.stride,) * n if isinstance(c.stride, int) else c.stride
    d = (c.dilation,) * n if isinstance(c.dilation, int) else c.dilation
    # output_padding restores the input positions the forward stride never reached
    op = tuple((i + lo + hi - di * (k - 1) - 1) % si for i, (lo, hi), k, si, di
               in zip(c.x.shape[-n:], c.pads, c.w.shape[2:], s, d))
    back = ref.conv_transpose(g, c.w, None, c.stride, c.pads, op, c.groups, c.dilation)
    assert back.shape == c.x.shape
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(c.x, back), rtol=1e-9, atol=1e-9)


def test_seed_003_zero_insertion_worked_example():
    # 2x2 input, stride 2: one zero between elements -> 3x3, padded by k-1 = 2 -> 7x7,
    # then a 3x3 conv -> 5x5
    x = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    y = ref.conv_transpose(x, np.ones((1, 1, 3, 3)), stride=2)
    assert y.shape == (1, 1, 5, 5)
    assert y[0, 0, 2, 2] == 10.0  # the middle output sums all four inputs
    assert y[0, 0, 0].tolist() == [1.0, 1.0, 3.0, 2.0, 2.0]
    np.testing.assert_array_equal(y, ref.conv_transpose_scatter(x, np.ones((1, 1, 3, 3)), stride=2))


@pytest.mark.parametrize("k, s, d", [(3, 2, 1), (4, 2, 1), (1, 3, 1), (5, 3, 1), (3, 2, 2),
                                     (2, 3, 1)])
def test_same_padding_gives_input_times_stride(k, s, d):
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(1, 2, 5)), rng.normal(size=(2, 1, k))
    y = ref.conv_transpose(x, w, stride=s, padding="same", dilation=d)
    assert y.shape == (1, 1, 5 * s)
    crop, extra = max(d * (k - 1) + 1 - s, 0), max(s - d * (k - 1) - 1, 0)
    full = F.conv_transpose1d(torch.tensor(x), torch.tensor(w), stride=s, output_padding=extra,
                              dilation=d)
    np.testing.assert_allclose(y, full[..., crop // 2: full.shape[-1] - (crop - crop // 2)],
                               **TOL)


@pytest.mark.parametrize("call, message", [
    (lambda: ref.conv_transpose(np.ones((1, 2, 3)), np.ones((2, 1, 3)), stride=2,
                                output_padding=2),
     "`output_padding` (=2) must be smaller than max(`stride`, `dilation`) (=(2,)) in every "
     "spatial dimension"),
    (lambda: ref.conv_transpose(np.ones((1, 3, 3)), np.ones((2, 1, 3))),
     "`input` channel dim (=3) must equal weight.shape[0] (=2)"),
    (lambda: ref.conv_transpose(np.ones((1, 2, 2)), np.ones((2, 1, 2)), padding=((2, 1),)),
     "transposed convolution output size (=(0,)) must be positive along at least one spatial "
     "axis"),
    (lambda: ref.conv_transpose(np.ones((1, 2, 3)), np.ones((2, 1, 3)), padding="full"),
     "`padding` (='full') is not defined for transposed convolutions"),
    (lambda: ref.conv_transpose(np.ones((1, 2, 3)), np.ones((2, 1, 3)), stride=2,
                                padding="same", output_padding=1),
     "`output_padding` (=1) must be 0 with padding='same'"),
    (lambda: ref.conv_transpose_scatter(np.ones((1, 2, 3)), np.ones((2, 1, 3)), np.ones(2)),
     "`bias` (shape (2,)) must have shape (1,), one per output channel"),
])
def test_errors_are_pinned(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_reference_keeps_the_input_dtype():
    # float32 without a bias used to come back as float64; torch keeps float32
    x, w = np.ones((1, 2, 5), np.float32), np.ones((3, 2, 3), np.float32)
    assert ref.conv(x, w).dtype == np.float32
    assert ref.conv_transpose(x, np.ones((2, 3, 3), np.float32)).dtype == np.float32
    assert ref.conv(x, w, np.ones(3, np.float32)).dtype == np.float32


@pytest.mark.parametrize("call, what", [
    (lambda: ref.conv(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), padding=10**6),
     "the padded input of shape (1, 1, 2000004, 2000004)"),
    (lambda: ref.conv_transpose(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), stride=10**7),
     "the zero-inserted input of shape (1, 1, 30000005, 30000005)"),
    (lambda: ref.conv_transpose_scatter(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)),
                                        stride=10**7),
     "the uncropped output of shape (1, 1, 30000003, 30000003)"),
])
def test_size_guard_refuses_before_allocating(call, what):
    with pytest.raises(ValueError, match=re.escape(what) + r" would have \d+ elements, more "
                       r"than the limit of \d+ \(convzoo.arithmetic.set_max_elements"):
        call()


def test_size_guard_override():
    from convzoo.arithmetic import set_max_elements

    x, w = np.ones((1, 1, 8)), np.ones((1, 1, 3))
    set_max_elements(5)
    try:
        with pytest.raises(ValueError, match="more than the limit of 5"):
            ref.conv(x, w)
    finally:
        set_max_elements(None)
    assert ref.conv(x, w).shape == (1, 1, 6)
