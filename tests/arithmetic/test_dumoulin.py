"""Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016):
the relationships and the worked examples of its figures, as tests."""

import pytest

from convzoo.arithmetic import (
    conv_output_size,
    conv_transpose_output_size,
    inverse_transpose,
    resolve_padding,
)


@pytest.mark.parametrize(
    "relationship, i, k, s, p, d, expected",
    [
        ("1: no padding, unit strides (fig 2.1)", 4, 3, 1, 0, 1, 2),
        ("2: zero padding, unit strides (fig 2.2)", 5, 4, 1, 2, 1, 6),
        ("3: half (same) padding (fig 2.3)", 5, 3, 1, 1, 1, 5),
        ("4: full padding (fig 2.4)", 5, 3, 1, 2, 1, 7),
        ("5: no padding, strides (fig 2.5)", 5, 3, 2, 0, 1, 2),
        ("6: padding, strides (fig 2.6)", 5, 3, 2, 1, 1, 3),
        ("6: padding, strides, odd (fig 2.7)", 6, 3, 2, 1, 1, 3),
        ("15: dilation (fig 5.1)", 7, 3, 1, 0, 2, 3),
    ],
)
def test_forward_relationships(relationship, i, k, s, p, d, expected):
    assert conv_output_size(i, k, s, p, d) == expected


@pytest.mark.parametrize(
    "relationship, i_prime, k, s, p, op, expected",
    [
        # transposed of fig 2.1: o' = i' + (k - 1)
        ("8: transposed, no padding, unit strides (fig 4.1)", 2, 3, 1, 0, 0, 4),
        # transposed of fig 2.2 (p=2): o' = i' + (k - 1) - 2p
        ("9: transposed, zero padding (fig 4.2)", 6, 4, 1, 2, 0, 5),
        ("10: transposed, half padding (fig 4.3)", 5, 3, 1, 1, 0, 5),
        ("11: transposed, full padding (fig 4.4)", 7, 3, 1, 2, 0, 5),
        # o' = s(i' - 1) + k
        ("12: transposed, no padding, strides (fig 4.5)", 2, 3, 2, 0, 0, 5),
        # o' = s(i' - 1) + k - 2p
        ("13: transposed, padding, strides (fig 4.6)", 3, 3, 2, 1, 0, 5),
        # o' = s(i' - 1) + a + k - 2p with a = (i + 2p - k) mod s
        ("14: transposed, padding, strides, odd (fig 4.7)", 3, 3, 2, 1, 1, 6),
    ],
)
def test_transposed_relationships(relationship, i_prime, k, s, p, op, expected):
    assert conv_transpose_output_size(i_prime, k, s, p, op) == expected


@pytest.mark.parametrize("i", range(5, 12))
@pytest.mark.parametrize("k, s, p", [(3, 2, 1), (3, 2, 0), (4, 3, 1), (5, 2, 2)])
def test_relationship_14_the_a_term_restores_the_input_size(i, k, s, p):
    o = conv_output_size(i, k, s, p)
    inv = inverse_transpose(i, k, s, p)
    assert inv.output_padding == (i + 2 * p - k) % s
    assert conv_transpose_output_size(o, k, s, p, inv.output_padding) == i


def test_half_and_full_padding_strings_are_the_papers():
    # half padding p = floor(k/2) for odd k; full padding p = k - 1
    assert resolve_padding("same", (3, 5)) == ((1, 1), (2, 2))
    assert resolve_padding("full", (3, 5)) == ((2, 2), (4, 4))
