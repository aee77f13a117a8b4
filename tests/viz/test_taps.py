"""The cells convzoo.viz highlights are exactly those the reference engine uses.

Oracle: perturb one input element in the reference engine and see which outputs change.
Checked for convolutions (random stride/padding/dilation/groups, 1-D and 2-D, padding cells
included via an explicitly zero-padded input) and transposed convolutions (zero-insertion and
scatter views, against both engines: ``conv_transpose`` and ``conv_transpose_scatter``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convzoo import reference as ref
from convzoo.spec import ConvSpec
from convzoo.viz.taps import (
    MAX_GRID_CELLS,
    channel_links,
    conv_taps,
    scatter_taps,
    zero_insertion_taps,
)


def influence(engine, x: np.ndarray) -> dict[tuple, set[tuple]]:
    """input index -> the output indices that change when that input is perturbed."""
    base = engine(x)
    found = {}
    for index in np.ndindex(*x.shape):
        bumped = x.copy()
        bumped[index] += 1.0
        diff = engine(bumped) - base
        found[tuple(int(i) for i in index)] = {
            tuple(int(i) for i in o) for o in np.argwhere(np.abs(diff) > 1e-9)
        }
    return found


def nonzero_weights(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def inverse(cells_of, out_shape) -> dict[tuple, set[tuple]]:
    """input -> outputs from an output -> inputs map."""
    found: dict[tuple, set[tuple]] = {}
    for o in np.ndindex(*out_shape):
        for i in cells_of(o):
            found.setdefault(i, set()).add(tuple(int(v) for v in o))
    return found


@st.composite
def forward(draw):
    n = draw(st.integers(1, 2))
    g = draw(st.integers(1, 3))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    d = tuple(draw(st.integers(1, 2)) for _ in range(n))
    size = tuple(draw(st.integers(1, 6 if n == 2 else 9)) for _ in range(n))
    padding = draw(st.one_of(
        st.sampled_from(["valid", "same", "full"]),
        st.tuples(*[st.tuples(st.integers(0, 2), st.integers(0, 2)) for _ in range(n)]),
    ))
    spec = ConvSpec(cin, cout, k, s, padding, d, g, ndim=n)
    try:
        spec.output_shape((cin, *size))
    except ValueError:
        assume(False)
    return spec, size


@st.composite
def transposed(draw):
    n = draw(st.integers(1, 2))
    g = draw(st.integers(1, 2))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 4)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    d = tuple(draw(st.integers(1, 2)) for _ in range(n))
    op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
    pads = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(n))
    size = tuple(draw(st.integers(1, 4)) for _ in range(n))
    spec = ConvSpec(cin, cout, k, s, pads, d, g, transposed=True, output_padding=op, ndim=n)
    try:
        out = spec.output_shape((cin, *size))
    except ValueError:
        assume(False)
    assume(0 not in out)  # a zero-size axis (torch's shape rule) has no window to draw
    return spec, size


@settings(max_examples=100)
@given(forward())
def test_conv_taps_are_the_engines(case):
    spec, size = case
    taps = conv_taps(spec, size)
    x = nonzero_weights((spec.in_channels, *size), 1)
    w = nonzero_weights(spec.weight_shape, 2)
    run = lambda v: ref.conv(v, w, None, spec.stride, spec.padding, spec.dilation, spec.groups)  # noqa: E731
    out_shape = (spec.out_channels, *taps.output_size)
    assert run(x).shape == out_shape
    assert inverse(taps.cells, out_shape) == {i: o for i, o in influence(run, x).items() if o}
    # padding cells: perturb the explicitly zero-padded input (the engine, padding 0)
    xp = ref.pad(x, taps.padding)
    run_padded = lambda v: ref.conv(v, w, None, spec.stride, 0, spec.dilation, spec.groups)  # noqa: E731
    window = inverse(lambda o: taps.padding_cells(o) | {
        (c, *(j + lo for j, (lo, _) in zip(js, taps.padding))) for c, *js in taps.cells(o)
    }, out_shape)
    assert window == {i: o for i, o in influence(run_padded, xp).items() if o}
    for o in np.ndindex(*taps.output_size):  # every window holds prod(k) cells
        assert len(taps.grid.cells(o)) == math.prod(spec.kernel_size)


@settings(max_examples=100)
@given(transposed())
def test_transposed_taps_are_the_engines(case):
    spec, size = case
    x = nonzero_weights((spec.in_channels, *size), 3)
    w = nonzero_weights(spec.weight_shape, 4)
    args = (None, spec.stride, spec.padding, spec.output_padding, spec.groups, spec.dilation)
    zi, sc = zero_insertion_taps(spec, size), scatter_taps(spec, size)
    out_shape = (spec.out_channels, *zi.output_size)
    assert zi.output_size == sc.output_size == spec.output_shape((spec.in_channels, *size))[1:]
    by_insertion = influence(lambda v: ref.conv_transpose(v, w, *args), x)
    by_scatter = influence(lambda v: ref.conv_transpose_scatter(v, w, *args), x)
    assert by_insertion == by_scatter
    expected = {i: o for i, o in by_insertion.items() if o}
    assert inverse(zi.cells, out_shape) == expected  # zero-insertion window: real inputs
    assert inverse(sc.cells, out_shape) == expected
    assert {i: sc.targets(i) for i in by_scatter if sc.targets(i)} == expected
    for o in np.ndindex(*zi.output_size):  # window = prod(k) cells of the four kinds
        window = zi.grid.cells(o)
        assert len(window) == math.prod(spec.kernel_size)
        assert {zi.kind(g) for g, _ in window} <= {"input", "zero", "padding", "extra"}


def test_zero_insertion_layout_pins_padding_and_output_padding():
    spec = ConvSpec(1, 1, 3, stride=2, padding=1, output_padding=1, transposed=True, ndim=1)
    t = zero_insertion_taps(spec, (3,))
    kinds = [t.kind((g,)) for g in range(t.grid.grid_shape[0])]
    # d(k-1)-p = 1 padding, 3 inputs with 1 zero between, 1 padding, 1 output_padding cell
    assert kinds == ["padding", "input", "zero", "input", "zero", "input", "padding", "extra"]
    assert t.output_size == (6,)


def test_scatter_crop_and_extra():
    spec = ConvSpec(1, 1, 3, stride=2, padding=0, output_padding=1, transposed=True, ndim=1)
    t = scatter_taps(spec, (2,))
    assert t.full_size == (6,) and t.output_size == (6,)
    assert [t.extra((f,)) for f in range(6)] == [False] * 5 + [True]


def test_channel_links_groups():
    assert channel_links(ConvSpec(4, 6, 3, groups=2)).astype(int).tolist() == [
        [1, 1, 0, 0]] * 3 + [[0, 0, 1, 1]] * 3
    links = channel_links(ConvSpec(4, 2, 3, groups=2, transposed=True))
    assert links.astype(int).tolist() == [[1, 1, 0, 0], [0, 0, 1, 1]]


def test_errors_are_pinned():
    with pytest.raises(ValueError, match=r"^`spec` \(transposed=True\) must be a forward"):
        conv_taps(ConvSpec(1, 1, 3, transposed=True), (3, 3))
    with pytest.raises(ValueError, match=r"^`spec` \(transposed=False\) must be a transposed"):
        zero_insertion_taps(ConvSpec(1, 1, 3), (3, 3))
    with pytest.raises(ValueError, match=r"^`spec` \(transposed=False\) must be a transposed"):
        scatter_taps(ConvSpec(1, 1, 3), (3, 3))
    with pytest.raises(ValueError, match=rf"cells, more than the limit of {MAX_GRID_CELLS}; use"):
        conv_taps(ConvSpec(1, 1, 3), (50, 50))
    with pytest.raises(ValueError, match=r"must not exceed the padded input size"):
        conv_taps(ConvSpec(1, 1, 5), (3, 3))
