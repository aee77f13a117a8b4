"""Gradients of convolution and transposed convolution, from the definitions.

Forward conv ``y[n,o,p] = sum_{c,t} w[o,c,t] * xpad[n,c,p*s + t*d]``:

* ``dL/dxpad[n,c,p*s + t*d] += sum_o g[n,o,p] * w[o,c,t]`` (a scatter per tap), then the
  adjoint of padding folds ``dL/dxpad`` back onto ``x`` (reflect/replicate/circular included);
* ``dL/dw[o,c,t] = sum_{n,p} g[n,o,p] * xpad[n,c,p*s + t*d]``; ``dL/db[o] = sum_{n,p} g[n,o,p]``.

Transposed conv ``y[n,o,j*s + t*d - lo] += x[n,c,j] * w[c,o,t]``:

* ``dL/dx[n,c,j] = sum_{o,t} gpad[n,o,j*s + t*d] * w[c,o,t]`` (``gpad`` = g padded by ``lo``
  on the left so that cropped positions read zero);
* ``dL/dw[c,o,t] = sum_{n,j} x[n,c,j] * gpad[n,o,j*s + t*d]``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from convzoo.arithmetic import output_spatial_shape
from convzoo.reference.common import batched, numeric
from convzoo.reference.conv import resolve, tap_slices
from convzoo.reference.pad import pad, pad_adjoint
from convzoo.reference.transpose import transposed_args

__all__ = [
    "conv_grad_input",
    "conv_grad_weight",
    "conv_grad_bias",
    "conv_transpose_grad_input",
    "conv_transpose_grad_weight",
]


def _contract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_{n,p} a[n, i, p] * b[n, j, p]`` over batch and every spatial position."""
    return np.einsum("nip,njp->ij", a.reshape(*a.shape[:2], -1), b.reshape(*b.shape[:2], -1))


def _check_grad_out(g: np.ndarray, x: np.ndarray, channels: int, spatial: tuple) -> None:
    """``grad_out`` (batched) must have the forward output's shape."""
    expected = (x.shape[0], channels, *spatial)
    if g.shape != expected:
        raise ValueError(
            f"`grad_out` (shape {g.shape}) must have the output shape {expected} of the "
            "convolution it differentiates"
        )


def _taps(kernel: Sequence[int]):
    return itertools.product(*(range(k) for k in kernel))


def conv_grad_bias(grad_out: Any, ndim: int | None = None) -> np.ndarray:
    """``dL/db``: the output gradient summed over batch and space, per output channel.

    Args:
        grad_out: ``(N, C_out, *out)``, or ``(C_out, *out)`` when ``ndim`` says so.
        ndim: number of spatial dims; None means ``grad_out`` is batched (channels on dim 1).

    Shape: ``(C_out,)``.

    >>> conv_grad_bias(np.ones((2, 4, 3, 3))).tolist()
    [18.0, 18.0, 18.0, 18.0]
    >>> conv_grad_bias(np.ones((4, 3, 3)), ndim=2).shape
    (4,)
    """
    g = numeric(grad_out, "grad_out")
    if ndim is not None:
        g, _ = batched(g, ndim, "grad_out")
    return g.sum(axis=tuple(a for a in range(g.ndim) if a != 1))


def conv_grad_input(
    grad_out: Any, weight: Any, input_shape: Sequence[int], stride: Any = 1, padding: Any = 0,
    dilation: Any = 1, groups: int = 1, padding_mode: str = "zeros",
) -> np.ndarray:
    """``dL/dx`` of :func:`convzoo.reference.conv` for output gradient ``grad_out``.

    >>> conv_grad_input(np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3)), (1, 1, 5, 5)).shape
    (1, 1, 5, 5)
    """
    weight = numeric(weight, "weight")
    n = weight.ndim - 2
    g, unbatched = batched(grad_out, n, "grad_out")
    x_probe, _ = batched(np.zeros(tuple(input_shape), dtype=np.int8), n)
    stride, dilation, pads = resolve(x_probe, weight, stride, padding, dilation, groups)
    spatial = x_probe.shape[2:]
    _check_grad_out(g, x_probe, weight.shape[0], output_spatial_shape(
        spatial, weight.shape[2:], stride, pads, dilation))
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(spatial, pads))
    out_sp = g.shape[2:]
    c_out, cin_g = weight.shape[:2]
    cout_g = c_out // groups
    gxp = np.zeros((g.shape[0], cin_g * groups, *padded), dtype=np.result_type(g, weight))
    for grp in range(groups):
        gg = g[:, grp * cout_g:(grp + 1) * cout_g]
        wg = weight[grp * cout_g:(grp + 1) * cout_g]
        for tap in _taps(weight.shape[2:]):
            where = tap_slices(tap, out_sp, stride, dilation)
            contrib = np.einsum("no...,oc->nc...", gg, wg[(slice(None), slice(None), *tap)])
            gxp[(slice(None), slice(grp * cin_g, (grp + 1) * cin_g), *where)] += contrib
    gx = pad_adjoint(gxp, spatial, pads, padding_mode)
    return gx[0] if unbatched else gx


def conv_grad_weight(
    x: Any, grad_out: Any, weight_shape: Sequence[int], stride: Any = 1, padding: Any = 0,
    dilation: Any = 1, groups: int = 1, padding_mode: str = "zeros",
) -> np.ndarray:
    """``dL/dw`` of :func:`convzoo.reference.conv`, shape ``weight_shape``.

    >>> conv_grad_weight(np.ones((1, 1, 5, 5)), np.ones((1, 2, 3, 3)), (2, 1, 3, 3)).shape
    (2, 1, 3, 3)
    """
    n = len(weight_shape) - 2
    x, _ = batched(x, n)
    g, _ = batched(grad_out, n, "grad_out")
    probe = np.zeros(tuple(weight_shape), dtype=np.int8)
    stride, dilation, pads = resolve(x, probe, stride, padding, dilation, groups)
    _check_grad_out(g, x, weight_shape[0], output_spatial_shape(
        x.shape[2:], weight_shape[2:], stride, pads, dilation))
    xp = pad(x, pads, padding_mode)
    c_out, cin_g = weight_shape[:2]
    cout_g = c_out // groups
    gw = np.zeros(tuple(weight_shape), dtype=np.result_type(x, g))
    for grp in range(groups):
        gg = g[:, grp * cout_g:(grp + 1) * cout_g]
        xg = xp[:, grp * cin_g:(grp + 1) * cin_g]
        for tap in _taps(weight_shape[2:]):
            patch = xg[(slice(None), slice(None), *tap_slices(tap, g.shape[2:], stride, dilation))]
            gw[(slice(grp * cout_g, (grp + 1) * cout_g), slice(None), *tap)] = _contract(gg, patch)
    return gw


def _padded_grad(g: np.ndarray, x_spatial, kernel, stride, dilation, pads) -> np.ndarray:
    """Output gradient of a transposed conv, zero-padded back to the uncropped output."""
    full = [
        (i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(x_spatial, stride, dilation, kernel)
    ]
    widths = [(lo, max(f - lo - o, 0)) for (lo, _), f, o in zip(pads, full, g.shape[2:])]
    return np.pad(g, [(0, 0), (0, 0), *widths])


def conv_transpose_grad_input(
    grad_out: Any, weight: Any, input_shape: Sequence[int], stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> np.ndarray:
    """``dL/dx`` of :func:`convzoo.reference.conv_transpose`.

    >>> conv_transpose_grad_input(np.ones((1, 4, 7)), np.ones((2, 4, 3)), (1, 2, 3), 2).shape
    (1, 2, 3)
    """
    weight = numeric(weight, "weight")
    n = weight.ndim - 2
    g, unbatched = batched(grad_out, n, "grad_out")
    x_probe, _ = batched(np.zeros(tuple(input_shape), dtype=np.int8), n)
    stride, dilation, pads, op = transposed_args(
        x_probe, weight, stride, padding, output_padding, groups, dilation
    )
    spatial = x_probe.shape[2:]
    _check_grad_out(g, x_probe, weight.shape[1] * groups, output_spatial_shape(
        spatial, weight.shape[2:], stride, pads, dilation, True, op))
    gp = _padded_grad(g, spatial, weight.shape[2:], stride, dilation, pads)
    c_in, cout_g = weight.shape[:2]
    cin_g = c_in // groups
    gx = np.zeros((g.shape[0], c_in, *spatial), dtype=np.result_type(g, weight))
    for grp in range(groups):
        gg = gp[:, grp * cout_g:(grp + 1) * cout_g]
        wg = weight[grp * cin_g:(grp + 1) * cin_g]
        for tap in _taps(weight.shape[2:]):
            patch = gg[(slice(None), slice(None), *tap_slices(tap, spatial, stride, dilation))]
            gx[:, grp * cin_g:(grp + 1) * cin_g] += np.einsum(
                "no...,co->nc...", patch, wg[(slice(None), slice(None), *tap)]
            )
    return gx[0] if unbatched else gx


def conv_transpose_grad_weight(
    x: Any, grad_out: Any, weight_shape: Sequence[int], stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> np.ndarray:
    """``dL/dw`` of :func:`convzoo.reference.conv_transpose`, shape ``weight_shape``.

    >>> conv_transpose_grad_weight(np.ones((1, 2, 3)), np.ones((1, 4, 7)), (2, 4, 3), 2).shape
    (2, 4, 3)
    """
    n = len(weight_shape) - 2
    x, _ = batched(x, n)
    g, _ = batched(grad_out, n, "grad_out")
    probe = np.zeros(tuple(weight_shape), dtype=np.int8)
    stride, dilation, pads, op = transposed_args(
        x, probe, stride, padding, output_padding, groups, dilation
    )
    _check_grad_out(g, x, weight_shape[1] * groups, output_spatial_shape(
        x.shape[2:], weight_shape[2:], stride, pads, dilation, True, op))
    gp = _padded_grad(g, x.shape[2:], weight_shape[2:], stride, dilation, pads)
    c_in, cout_g = weight_shape[:2]
    cin_g = c_in // groups
    gw = np.zeros(tuple(weight_shape), dtype=np.result_type(x, g))
    for grp in range(groups):
        gg = gp[:, grp * cout_g:(grp + 1) * cout_g]
        xg = x[:, grp * cin_g:(grp + 1) * cin_g]
        for tap in _taps(weight_shape[2:]):
            patch = gg[(slice(None), slice(None), *tap_slices(tap, x.shape[2:], stride, dilation))]
            gw[(slice(grp * cin_g, (grp + 1) * cin_g), slice(None), *tap)] = _contract(xg, patch)
    return gw
