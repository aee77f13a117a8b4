"""Solvers: the padding / output_padding giving a target size; the transposed conv undoing a conv.

All per axis, pure integer math (Dumoulin & Visin, "A guide to convolution arithmetic",
relationships 6, 13 and 14).
"""

from __future__ import annotations

from dataclasses import dataclass

from convzoo.arithmetic.shape import Pair, as_pair, conv_output_size, effective_kernel
from convzoo.arithmetic.tuples import check_int

__all__ = [
    "PaddingSolution",
    "solve_padding",
    "transposed_output_range",
    "solve_output_padding",
    "TransposeInverse",
    "inverse_transpose",
]


@dataclass(frozen=True)
class PaddingSolution:
    """The paddings giving a convolution the target output size along one axis.

    Attributes:
        totals: every total padding ``lo + hi`` that works (a contiguous range).
        pair: the smallest total, split with the extra element on the right.
        symmetric: the smallest ``p`` such that ``(p, p)`` works (PyTorch's int padding),
            or ``None`` when no symmetric padding does.
    """

    totals: range
    pair: Pair
    symmetric: int | None


def solve_padding(
    size: int, target: int, kernel: int, stride: int = 1, dilation: int = 1
) -> PaddingSolution:
    """Paddings making ``conv_output_size(size, kernel, stride, padding, dilation) == target``.

    ``floor((size + P - e)/s) + 1 = target``  <=>  ``(target-1)*s + e - size <= P <= that + s - 1``
    with ``e = d*(k-1) + 1`` and ``P >= 0``.

    >>> solve_padding(32, 16, 3, 2)
    PaddingSolution(totals=range(1, 3), pair=(0, 1), symmetric=1)
    >>> solve_padding(7, 7, 3, 1, 2).pair
    (2, 2)
    """
    check_int("target", target)
    check_int("size", size)
    check_int("stride", stride)
    low = (target - 1) * stride + effective_kernel(kernel, dilation) - size
    high = low + stride - 1
    if high < 0:
        largest = conv_output_size(size, kernel, stride, 0, dilation)
        raise ValueError(
            f"`target` (={target}) is unreachable: without padding the output is already "
            f"{largest}, and padding only makes it larger"
        )
    low = max(low, 0)
    first_even = low + (low % 2)
    symmetric = first_even // 2 if first_even <= high else None
    return PaddingSolution(range(low, high + 1), (low // 2, low - low // 2), symmetric)


def transposed_output_range(
    size: int, kernel: int, stride: int = 1, padding: int | Pair = 0, dilation: int = 1
) -> range:
    """Every output size a transposed conv can produce by choosing ``output_padding``.

    ``output_padding`` ranges over ``0 .. max(stride, dilation) - 1`` (PyTorch's rule).

    >>> transposed_output_range(3, 3, 2, 1)
    range(5, 7)
    """
    lo, hi = as_pair(padding)
    check_int("size", size)
    check_int("stride", stride)
    base = (size - 1) * stride - lo - hi + effective_kernel(kernel, dilation)
    return range(max(base, 1), base + max(stride, dilation))


def solve_output_padding(
    size: int,
    target: int,
    kernel: int,
    stride: int = 1,
    padding: int | Pair = 0,
    dilation: int = 1,
) -> int:
    """The ``output_padding`` giving a transposed conv the target output size.

    >>> solve_output_padding(3, 6, 3, stride=2, padding=1)
    1
    """
    valid = transposed_output_range(size, kernel, stride, padding, dilation)
    if check_int("output_size", target) not in valid:
        raise ValueError(
            f"`output_size` (={target}) is unreachable for input size {size}, kernel {kernel}, "
            f"stride {stride}, padding {padding}, dilation {dilation}: valid sizes are "
            f"{valid.start}..{valid.stop - 1}"
        )
    lo, hi = as_pair(padding)
    return target - ((size - 1) * stride - lo - hi + effective_kernel(kernel, dilation))


@dataclass(frozen=True)
class TransposeInverse:
    """The transposed convolution restoring a convolution's input size along one axis."""

    kernel: int
    stride: int
    padding: Pair
    dilation: int
    output_padding: int


def inverse_transpose(
    size: int, kernel: int, stride: int = 1, padding: int | Pair = 0, dilation: int = 1
) -> TransposeInverse:
    """The transposed conv (same kernel, stride, padding, dilation) mapping the conv's output
    size back to ``size``: ``output_padding = (size + lo + hi - e) mod stride``
    (Dumoulin & Visin, relationship 13).

    >>> inverse_transpose(6, 3, 2, 1).output_padding
    1
    """
    lo, hi = as_pair(padding)
    conv_output_size(size, kernel, stride, (lo, hi), dilation)  # validates the conv
    extra = (size + lo + hi - effective_kernel(kernel, dilation)) % stride
    return TransposeInverse(kernel, stride, (lo, hi), dilation, extra)
