"""Convolution from its definition (NumPy, any number of spatial dims).

``out[n, o, p] = bias[o] + sum_c sum_t w[o, c, t] * xpad[n, g*C_in/g + c, p*s + t*d]``
for output channel ``o`` of group ``g``: a loop over kernel taps ``t``, each tap a strided
slice of the padded input contracted over channels.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from convzoo.arithmetic import (
    broadcast_single,
    check_elements,
    conv_output_size,
    resolve_padding,
)
from convzoo.reference.common import batched, check_bias, check_conv_args, numeric
from convzoo.reference.pad import pad

__all__ = ["conv", "tap_slices", "resolve"]


def tap_slices(tap: tuple[int, ...], out: tuple[int, ...], stride, dilation) -> tuple[slice, ...]:
    """The slice of the padded input that kernel tap ``tap`` reads for every output position."""
    return tuple(
        slice(t * d, t * d + (o - 1) * s + 1, s) for t, o, s, d in zip(tap, out, stride, dilation)
    )


def resolve(x: np.ndarray, weight: np.ndarray, stride: Any, padding: Any, dilation: Any,
            groups: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[tuple[int, int], ...]]:
    """Validated per-axis stride, dilation and (lo, hi) padding for a batched input."""
    n = weight.ndim - 2
    stride, dilation = check_conv_args(x.shape[1], weight, groups, stride, dilation, False)
    pads = resolve_padding(
        broadcast_single(padding, n), weight.shape[2:], stride, dilation, x.shape[2:]
    )
    return stride, dilation, pads


def conv(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """N-d convolution with torch.nn.functional.convNd's arguments (any N, asymmetric padding).

    Args:
        x: ``(N, C_in, *in)`` or ``(C_in, *in)``.
        weight: ``(C_out, C_in/groups, *k)``. bias: ``(C_out,)`` or None.
        stride, dilation: int or per-axis. padding: 'valid', 'same' (any stride), 'full',
            'causal', int, per-axis ints or per-side (lo, hi) pairs.
        groups: channel groups. padding_mode: 'zeros', 'reflect', 'replicate', 'circular'.

    Shape: ``out = floor((in + lo + hi - d*(k-1) - 1)/s) + 1`` per axis.

    >>> conv(np.ones((1, 3, 12, 12)), np.ones((256, 3, 5, 5))).shape
    (1, 256, 8, 8)
    """
    weight = numeric(weight, "weight")
    n = weight.ndim - 2
    x, unbatched = batched(x, n)
    stride, dilation, pads = resolve(x, weight, stride, padding, dilation, groups)
    kernel = weight.shape[2:]
    out_sp = tuple(
        conv_output_size(i, k, s, p, d)
        for i, k, s, p, d in zip(x.shape[2:], kernel, stride, pads, dilation)
    )
    c_out, cin_g = weight.shape[:2]
    bias = check_bias(bias, c_out)
    check_elements("the padded input", (*x.shape[:2], *(
        i + lo + hi for i, (lo, hi) in zip(x.shape[2:], pads))))
    check_elements("the output", (x.shape[0], c_out, *out_sp))
    xp = pad(x, pads, padding_mode)  # (N, C_in, *(lo + in + hi))
    cout_g = c_out // groups
    # the input's dtype (promoted with the weight's and the bias's, as torch would refuse)
    dtype = np.result_type(x, weight) if bias is None else np.result_type(x, weight, bias)
    out = np.zeros((x.shape[0], c_out, *out_sp), dtype=dtype)
    for g in range(groups):
        xg = xp[:, g * cin_g:(g + 1) * cin_g]
        wg = weight[g * cout_g:(g + 1) * cout_g]
        acc = out[:, g * cout_g:(g + 1) * cout_g]
        for tap in itertools.product(*(range(k) for k in kernel)):
            patch = xg[(slice(None), slice(None), *tap_slices(tap, out_sp, stride, dilation))]
            # (N, C_in/g, *out) x (C_out/g, C_in/g) -> (N, C_out/g, *out)
            acc += np.einsum("nc...,oc->no...", patch, wg[(slice(None), slice(None), *tap)])
    if bias is not None:
        out += bias.reshape((1, c_out) + (1,) * n)
    return out[0] if unbatched else out
