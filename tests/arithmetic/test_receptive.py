"""Receptive-field algebra: hand-derived values, and the support of real input gradients."""

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from convzoo.arithmetic import (
    ReceptiveField,
    chain,
    conv_rf_layer,
    largest,
    pixel_shuffle_rf_layer,
    pixel_unshuffle_rf_layer,
    transposed_rf_layers,
)


def test_hand_derived_chains():
    # two 3x3 convs = one 5x5 field; a stride-2 layer doubles later growth
    assert chain([conv_rf_layer(3, 1, 1)] * 2) == ReceptiveField(5, 1, 2)
    assert chain([conv_rf_layer(3, 2, 1), conv_rf_layer(3, 1, 1)]) == ReceptiveField(7, 2, 3)
    # ResNet stem: 7x7/2 p3, 3x3/2 maxpool p1 -> r = 7 + 2*2 = 11, S = 4, P = 3 + 1*2 = 5
    assert chain([conv_rf_layer(7, 2, 3), conv_rf_layer(3, 2, 1)]) == ReceptiveField(11, 4, 5)
    # seed 003: a 3x3 kernel with dilation 2 covers 5x5
    assert chain([conv_rf_layer(3, 1, 2, 2)]).size == 5
    # WaveNet: kernel 2, dilations 1, 2, 4, ..., 512 -> 1024 samples
    wavenet = chain([conv_rf_layer(2, 1, 2**i, 2**i) for i in range(10)])
    assert wavenet.size == 1024


def test_fractional_layers():
    up = chain([conv_rf_layer(3, 2, 1), pixel_shuffle_rf_layer(2)])
    assert up.stride == 1 and up.size == 3
    assert chain([pixel_unshuffle_rf_layer(2)]) == ReceptiveField(2, 2, 0)
    t = chain(transposed_rf_layers(4, 2, 1))
    assert (t.size, t.stride, t.padding) == (Fraction(5, 2), Fraction(1, 2), 1)


def test_largest_reports_alignment():
    a = chain([conv_rf_layer(3, 1, 1)])
    b = chain([conv_rf_layer(3, 1, 0)])  # same size, shifted centre
    winner, aligned = largest([a, b])
    assert winner.size == 3 and not aligned
    with pytest.raises(ValueError, match="at least one"):
        largest([])


def _support(y_index, make_output, n_in):
    """Input positions with a non-zero gradient for output element y_index (ones weights)."""
    x = torch.ones(1, 1, n_in, dtype=torch.float64, requires_grad=True)
    make_output(x)[0, 0, y_index].backward()
    return [i for i, g in enumerate(x.grad[0, 0].tolist()) if g != 0]


layer = st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(1, 3))


@given(st.lists(layer, min_size=1, max_size=4), st.data())
def test_chain_matches_gradient_support(layers, data):
    """r, S, P predict exactly which inputs reach an output (ones weights, zero padding)."""
    n_in = 120

    def net(x):
        for k, s, p, d in layers:
            x = F.conv1d(x, torch.ones(1, 1, k, dtype=x.dtype), stride=s, padding=p, dilation=d)
        return x

    out_len = _out_len(net, n_in)
    assume(out_len >= 1)
    u = data.draw(st.integers(0, out_len - 1))
    rf = chain(conv_rf_layer(k, s, p, d) for k, s, p, d in layers)
    start, end = rf.span(u)
    support = _support(u, net, n_in)
    clipped = range(max(start, 0), min(end, n_in - 1) + 1)
    assert set(support) <= set(clipped)  # nothing outside the predicted span
    # without padding after the first layer, the span's ends are real inputs (reached through
    # tap 0 / the last tap of every layer; later padding can put those paths on zeros)
    if all(p == 0 for _, _, p, _ in layers[1:]):
        if 0 <= start <= n_in - 1:
            assert support[0] == start
        if 0 <= end <= n_in - 1:
            assert support[-1] == end
    if all(s == 1 and d == 1 for _, s, _, d in layers):  # no holes: the whole clipped span
        assert support == list(clipped)


def _out_len(net, n_in: int) -> int:
    """Output length of ``net`` on a length-``n_in`` signal, 0 when torch refuses it."""
    try:
        return net(torch.zeros(1, 1, n_in, dtype=torch.float64)).shape[-1]
    except RuntimeError:
        return 0


@given(st.integers(1, 5), st.integers(1, 4), st.integers(0, 3), st.integers(1, 2), st.data())
def test_transposed_span_contains_exactly_its_integer_inputs(k, s, p, d, data):
    n_in = 12

    def net(x):
        w = torch.ones(1, 1, k, dtype=x.dtype)
        return F.conv_transpose1d(x, w, stride=s, padding=p, dilation=d)

    out_len = _out_len(net, n_in)
    assume(out_len >= 1)
    u = data.draw(st.integers(0, out_len - 1))
    start, end = chain(transposed_rf_layers(k, s, p, d)).span(u)
    # input j reaches output u iff u = j*s + t*d - p for a tap t; the span holds those j
    reach = [j for j in range(n_in) if any(u == j * s + t * d - p for t in range(k))]
    assert _support(u, net, n_in) == reach
    assert all(start <= j <= end for j in reach)
