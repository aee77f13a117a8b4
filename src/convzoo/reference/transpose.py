"""Transposed (fractionally strided) convolution, two independent ways.

:func:`conv_transpose` follows the seed documents' definition: insert ``s-1`` zeros between
input elements, pad each side by ``d*(k-1) - p`` (a negative amount crops) plus
``output_padding`` on the right, then run an ordinary stride-1 convolution with the
spatially flipped kernel (input/output channels swapped within each group).

:func:`conv_transpose_scatter` is the adjoint view: each input element scatters
``value * kernel`` into the output at ``j*s + t*d``; then ``(lo, hi)`` is cropped.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from convzoo.arithmetic import (
    check_elements,
    output_spatial_shape,
    resolve_transposed_padding,
    zero_insertion_padding,
)
from convzoo.reference.common import batched, check_bias, check_conv_args, numeric
from convzoo.reference.conv import conv, tap_slices

__all__ = ["conv_transpose", "conv_transpose_scatter", "transposed_args", "flip_transpose_weight"]


def transposed_args(
    x: np.ndarray, weight: np.ndarray, stride: Any, padding: Any, output_padding: Any,
    groups: int, dilation: Any,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[tuple[int, int], ...], tuple[int, ...]]:
    """Validated per-axis stride, dilation, crop pairs and output_padding (batched ``x``)."""
    stride, dilation = check_conv_args(x.shape[1], weight, groups, stride, dilation, True)
    kernel = weight.shape[2:]
    parsed, op = resolve_transposed_padding(padding, output_padding, kernel, stride, dilation)
    # raises on a negative size, or an output empty along every axis (PyTorch's rule)
    output_spatial_shape(x.shape[2:], kernel, stride, parsed, dilation, True, op)
    return stride, dilation, parsed, op


def flip_transpose_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """``(C_in, C_out/g, *k)`` -> the equivalent forward weight ``(C_out, C_in/g, *k)``,
    spatially flipped."""
    c_in, cout_g = weight.shape[:2]
    cin_g = c_in // groups
    w = weight.reshape(groups, cin_g, cout_g, *weight.shape[2:])
    w = np.swapaxes(w, 1, 2).reshape(groups * cout_g, cin_g, *weight.shape[2:])
    return np.flip(w, axis=tuple(range(2, w.ndim)))


def conv_transpose(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> np.ndarray:
    """Transposed convolution by zero insertion + ordinary convolution (the seed definition).

    Args (torch.nn.functional.conv_transposeNd's order):
        x: ``(N, C_in, *in)`` or ``(C_in, *in)``. weight: ``(C_in, C_out/groups, *k)``.
        bias: ``(C_out,)`` or None. stride, dilation: int or per-axis (default 1).
        padding: crops the output: int, per-axis ints, per-side ``(lo, hi)`` pairs, 'valid',
            or 'same' (``out = in * stride``; crop and output_padding are solved for).
        output_padding: added on the right/bottom, ``< max(stride, dilation)`` (default 0).
        groups: channel groups (default 1).

    Shape: ``out = (in - 1)*s - lo - hi + d*(k-1) + output_padding + 1``.

    >>> conv_transpose(np.ones((2, 3, 16, 16)), np.ones((3, 16, 4, 4)), stride=2, padding=1).shape
    (2, 16, 32, 32)
    """
    weight = numeric(weight, "weight")
    n = weight.ndim - 2
    x, unbatched = batched(x, n)
    stride, dilation, pads, op = transposed_args(
        x, weight, stride, padding, output_padding, groups, dilation
    )
    out_sp = output_spatial_shape(x.shape[2:], weight.shape[2:], stride, pads, dilation, True,
                                  op)
    if 0 in out_sp:  # a zero-size axis (another is not empty): nothing to compute
        c_out = weight.shape[1] * groups
        check_bias(bias, c_out)
        empty = np.zeros((x.shape[0], c_out, *out_sp), dtype=np.result_type(x, weight))
        return empty[0] if unbatched else empty
    # 1. insert s-1 zeros between input elements
    amounts = [zero_insertion_padding(k, p, o, d)
               for k, d, p, o in zip(weight.shape[2:], dilation, pads, op)]
    inserted = tuple((i - 1) * s + 1 for i, s in zip(x.shape[2:], stride))
    check_elements("the zero-inserted input", (*x.shape[:2], *(
        i + max(a, 0) + max(b, 0) for i, (a, b) in zip(inserted, amounts))))
    up = np.zeros((*x.shape[:2], *inserted), dtype=np.result_type(x, weight))
    up[(slice(None), slice(None), *(slice(None, None, s) for s in stride))] = x
    # 2. pad by d(k-1) - p on each side (+ output_padding on the right); a negative amount
    #    crops, and is applied after the growth: a crop may reach into the other side's zeros
    up = np.pad(up, [(0, 0), (0, 0), *((max(a, 0), max(b, 0)) for a, b in amounts)])
    crop = tuple(
        slice(max(-a, 0), up.shape[2 + i] - max(-b, 0)) for i, (a, b) in enumerate(amounts)
    )
    up = up[(slice(None), slice(None), *crop)]  # (N, C_in, *(out + d*(k-1)))
    # 3. stride-1 convolution with the flipped, channel-swapped kernel
    out = conv(up, flip_transpose_weight(weight, groups), bias, 1, 0, dilation, groups)
    return out[0] if unbatched else out


def conv_transpose_scatter(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> np.ndarray:
    """Transposed convolution as a scatter: ``y[j*s + t*d - lo] += x[j] * w[t]`` (cross-check).

    Independent of :func:`conv_transpose` (no zero insertion, no kernel flip); same arguments.

    Shape: ``out = (in - 1)*s - lo - hi + d*(k-1) + output_padding + 1``.

    >>> conv_transpose_scatter(np.ones((1, 2, 3)), np.ones((2, 4, 3)), stride=2).shape
    (1, 4, 7)
    """
    weight = numeric(weight, "weight")
    n = weight.ndim - 2
    x, unbatched = batched(x, n)
    stride, dilation, pads, op = transposed_args(
        x, weight, stride, padding, output_padding, groups, dilation
    )
    kernel = weight.shape[2:]
    full = tuple(
        (i - 1) * s + d * (k - 1) + 1 + o
        for i, s, d, k, o in zip(x.shape[2:], stride, dilation, kernel, op)
    )
    c_in, cout_g = weight.shape[:2]
    cin_g = c_in // groups
    bias = check_bias(bias, cout_g * groups)
    check_elements("the uncropped output", (x.shape[0], cout_g * groups, *full))
    y = np.zeros((x.shape[0], cout_g * groups, *full), dtype=np.result_type(x, weight))
    for g in range(groups):
        xg = x[:, g * cin_g:(g + 1) * cin_g]
        wg = weight[g * cin_g:(g + 1) * cin_g]
        for tap in itertools.product(*(range(k) for k in kernel)):
            where = tap_slices(tap, x.shape[2:], stride, dilation)
            # (N, C_in/g, *in) x (C_in/g, C_out/g) -> (N, C_out/g, *in), lands at j*s + t*d
            contrib = np.einsum("nc...,co->no...", xg, wg[(slice(None), slice(None), *tap)])
            y[(slice(None), slice(g * cout_g, (g + 1) * cout_g), *where)] += contrib
    keep = tuple(slice(lo, f - hi) for (lo, hi), f in zip(pads, full))
    y = y[(slice(None), slice(None), *keep)]
    if bias is not None:
        y = y + bias.reshape((1, -1) + (1,) * n)
    return y[0] if unbatched else y
