"""Solvers: every answer is checked by the forward formulas, and against torch shapes."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from convzoo.arithmetic import (
    conv_output_size,
    conv_transpose_output_size,
    inverse_transpose,
    solve_output_padding,
    solve_padding,
    transposed_output_range,
)

sizes, kernels = st.integers(1, 40), st.integers(1, 6)
strides, dils = st.integers(1, 4), st.integers(1, 3)


@given(sizes, st.integers(1, 40), kernels, strides, dils)
def test_solve_padding_is_exact(size, target, k, s, d):
    try:
        sol = solve_padding(size, target, k, s, d)
    except ValueError as e:
        assert "unreachable" in str(e)
        # unreachable only when even the unpadded conv (valid here) overshoots the target
        assert size >= d * (k - 1) + 1
        assert conv_output_size(size, k, s, 0, d) > target
        return
    for total in sol.totals:
        assert conv_output_size(size, k, s, (0, total), d) == target
    for total in (sol.totals.start - 1, sol.totals.stop):
        if total >= 0 and size + total >= d * (k - 1) + 1:
            assert conv_output_size(size, k, s, (0, total), d) != target
    assert sum(sol.pair) == sol.totals.start and 0 <= sol.pair[1] - sol.pair[0] <= 1
    if sol.symmetric is not None:
        assert conv_output_size(size, k, s, sol.symmetric, d) == target
    else:
        assert all(t % 2 for t in sol.totals)


@given(st.integers(1, 12), kernels, strides, st.integers(0, 3), dils)
def test_transposed_range_and_output_padding(size, k, s, p, d):
    reach = transposed_output_range(size, k, s, p, d)
    for target in reach:
        op = solve_output_padding(size, target, k, s, p, d)
        assert 0 <= op < max(s, d)
        assert conv_transpose_output_size(size, k, s, p, op, d) == target
        x = torch.zeros(1, 1, size)
        w = torch.zeros(1, 1, k)
        y = F.conv_transpose1d(x, w, stride=s, padding=p, output_padding=op, dilation=d)
        assert y.shape[-1] == target
    with pytest.raises(ValueError, match="unreachable"):
        solve_output_padding(size, max(reach.stop, 1), k, s, p, d)


@given(st.integers(1, 40), kernels, strides, st.integers(0, 3), dils)
def test_inverse_transpose_round_trip_in_torch(size, k, s, p, d):
    assume(size + 2 * p >= d * (k - 1) + 1)
    inv = inverse_transpose(size, k, s, p, d)
    if inv.output_padding >= max(s, d):
        pytest.fail("output_padding out of torch's range")
    x = torch.zeros(1, 1, size)
    w = torch.zeros(1, 1, k)
    y = F.conv1d(x, w, stride=s, padding=p, dilation=d)
    back = F.conv_transpose1d(
        y, w, stride=s, padding=p, output_padding=inv.output_padding, dilation=d
    )
    assert back.shape[-1] == size


def test_solver_messages_are_pinned():
    with pytest.raises(
        ValueError, match=r"`target` \(=2\) is unreachable: without padding the output is already 5"
    ):
        solve_padding(9, 2, 5, 1)
    with pytest.raises(
        ValueError, match=r"`output_size` \(=9\) is unreachable .* valid sizes are 5\.\.6"
    ):
        solve_output_padding(3, 9, 3, 2, 1)
