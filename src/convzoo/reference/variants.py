"""The composite variants from their definitions: depthwise, pointwise, separable, flattened,
spatially separable, channel shuffle, pixel shuffle/unshuffle (any number of spatial dims)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from convzoo.arithmetic import check_int, is_int
from convzoo.reference.common import batched, check_bias, numeric
from convzoo.reference.conv import conv

__all__ = [
    "depthwise",
    "pointwise",
    "separable",
    "flattened",
    "spatially_separable",
    "channel_shuffle",
    "pixel_shuffle",
    "pixel_unshuffle",
]


def depthwise(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
              dilation: Any = 1, padding_mode: str = "zeros") -> np.ndarray:
    """Per-channel spatial filtering: ``weight (C*M, 1, *k)``, depth multiplier ``M``.

    ``out[n, c*M + m] = x[n, c] (*) weight[c*M + m, 0]`` (a conv with groups = C).

    Args: as :func:`convzoo.reference.conv` without ``groups`` (it is the channel count C);
        x ``(N, C, *in)`` or ``(C, *in)``; bias ``(C*M,)`` or None.

    Shape: ``out = floor((in + lo + hi - d*(k-1) - 1)/s) + 1`` per axis, ``C*M`` channels.

    >>> depthwise(np.ones((1, 3, 12, 12)), np.ones((3, 1, 5, 5))).shape
    (1, 3, 8, 8)
    """
    x = numeric(x, "input")
    channels = x.shape[-numeric(weight, "weight").ndim + 1]
    return conv(x, weight, bias, stride, padding, dilation, channels, padding_mode)


def pointwise(x: Any, weight: Any, bias: Any = None) -> np.ndarray:
    """1x1 channel mixing: ``out[n, o, p] = sum_c weight[o, c] * x[n, c, p] + bias[o]``.

    Args:
        x: ``(N, C_in, *spatial)``; also ``(C_in, *spatial)`` when ``weight`` carries its
            spatial dims (then their number is known).
        weight: ``(C_out, C_in)`` or ``(C_out, C_in, 1, ..., 1)``. bias: ``(C_out,)`` or None.

    Shape: ``(N, C_in, *s) -> (N, C_out, *s)``.

    >>> pointwise(np.ones((1, 3, 8, 8)), np.ones((256, 3))).shape
    (1, 256, 8, 8)
    """
    x = numeric(x, "input")
    w = numeric(weight, "weight")
    if w.ndim < 2 or any(k != 1 for k in w.shape[2:]):
        raise ValueError(
            f"`weight` (shape {w.shape}) must be (C_out, C_in) or (C_out, C_in, 1, ..., 1)"
        )
    unbatched = False
    if w.ndim > 2:
        x, unbatched = batched(x, w.ndim - 2)
    w = w.reshape(w.shape[0], w.shape[1])  # (C_out, C_in)
    if x.ndim < 2 or x.shape[1] != w.shape[1]:
        raise ValueError(
            f"`input` channel dim (={x.shape[1] if x.ndim > 1 else None}) must equal "
            f"weight.shape[1] (={w.shape[1]})"
        )
    out = np.einsum("oc,nc...->no...", w, x)  # (N, C_out, *s)
    bias = check_bias(bias, w.shape[0])
    if bias is not None:
        out = out + bias.reshape((1, -1) + (1,) * (x.ndim - 2))
    return out[0] if unbatched else out


def separable(x: Any, dw_weight: Any, pw_weight: Any, dw_bias: Any = None, pw_bias: Any = None,
              stride: Any = 1, padding: Any = 0, dilation: Any = 1) -> np.ndarray:
    """Depthwise then pointwise (MobileNet/Xception): :func:`depthwise` then :func:`pointwise`.

    Args:
        x: ``(N, C, *in)`` or ``(C, *in)``. dw_weight: ``(C*M, 1, *k)``.
        pw_weight: ``(C_out, C*M)`` or ``(C_out, C*M, 1, ..., 1)``. dw_bias: ``(C*M,)``,
            pw_bias: ``(C_out,)`` or None. stride, padding, dilation: the depthwise stage's.

    Shape: ``(N, C, *in) -> (N, C_out, *out)``, ``out`` as for the depthwise conv.

    >>> separable(np.ones((1, 3, 12, 12)), np.ones((3, 1, 5, 5)), np.ones((256, 3))).shape
    (1, 256, 8, 8)
    """
    dw_weight = numeric(dw_weight, "dw_weight")
    x, unbatched = batched(x, dw_weight.ndim - 2)
    mid = depthwise(x, dw_weight, dw_bias, stride, padding, dilation)  # (N, C*M, *out)
    out = pointwise(mid, pw_weight, pw_bias)  # (N, C_out, *out)
    return out[0] if unbatched else out


def _per_axis(padding: Any, n: int) -> list[Any]:
    """An int (every axis) or one int / ``(lo, hi)`` per spatial axis -> a list of ``n``."""
    pads = [padding] * n if is_int(padding) else list(padding)
    if len(pads) != n:
        raise ValueError(f"`padding` (={padding!r}) must have {n} entries, one per spatial dim")
    return pads


def _axis_conv(x: np.ndarray, weight: np.ndarray, axis: int, padding: Any,
               bias: Any = None) -> np.ndarray:
    """1-D depthwise conv along spatial ``axis``: ``weight (C, k)``."""
    n = x.ndim - 2
    c, k = weight.shape
    kernel = [1] * n
    kernel[axis] = k
    pads = [(0, 0)] * n
    pads[axis] = (padding, padding) if isinstance(padding, int) else tuple(padding)
    return conv(x, weight.reshape(c, 1, *kernel), bias, 1, tuple(pads), 1, c)


def flattened(x: Any, lateral: Any, axis_weights: Sequence[Any], padding: Sequence[Any] | int = 0,
              lateral_bias: Any = None, axis_biases: Sequence[Any] | None = None) -> np.ndarray:
    """Flattened convolution (Jin et al. 2014): a 1-D conv across channels (``lateral``,
    ``(C_out, C_in)``), then a 1-D per-channel conv along each spatial axis in turn
    (``axis_weights[a]``: ``(C_out, k_a)``, padding per axis as int or (lo, hi)).

    Equal to one dense conv with the rank-one kernel ``W[o,c,i,j,..] = L[o,c] V[o,i] H[o,j]..``
    (the last axis bias is added last; earlier biases flow through the later stages).

    Shape: ``(N, C_in, *in) -> (N, C_out, *(in + lo + hi - k + 1))``.

    >>> flattened(np.ones((1, 3, 8, 8)), np.ones((4, 3)), [np.ones((4, 3)), np.ones((4, 3))],
    ...           padding=1).shape
    (1, 4, 8, 8)
    """
    x = numeric(x, "input")
    n = x.ndim - 2
    pads = _per_axis(padding, n)
    if len(axis_weights) != n:
        raise ValueError(
            f"`axis_weights` (={len(axis_weights)} arrays) must hold one (C_out, k) array per "
            f"spatial dimension (={n})"
        )
    biases = list(axis_biases) if axis_biases is not None else [None] * n
    out = pointwise(x, lateral, lateral_bias)  # (N, C_out, *in)
    for axis, (w, p, b) in enumerate(zip(axis_weights, pads, biases)):
        out = _axis_conv(out, numeric(w, f"axis_weights[{axis}]"), axis, p, b)
    return out


def spatially_separable(x: Any, weights: Sequence[Any], biases: Sequence[Any] | None = None,
                        padding: Sequence[Any] | int = 0) -> np.ndarray:
    """A chain of dense convs each extending along one spatial axis (k x 1 then 1 x k, ...).

    ``weights[a]`` has shape ``(C_out_a, C_in_a, *k)`` with ``k`` equal to 1 on every axis
    but ``a``; ``padding`` is that axis's (lo, hi) or int. In 3-D with a temporal first stage
    this is R(2+1)D's factorization generalized to one stage per axis.

    Shape: ``(N, C_in, *in) -> (N, C_out_last, *(in + lo + hi - k + 1))``.

    >>> spatially_separable(np.ones((1, 3, 8, 8)), [np.ones((4, 3, 3, 1)), np.ones((5, 4, 1, 3))],
    ...                     padding=1).shape
    (1, 5, 8, 8)
    """
    x = numeric(x, "input")
    n = x.ndim - 2
    pads = _per_axis(padding, n)
    if len(weights) != n:
        raise ValueError(
            f"`weights` (={len(weights)} arrays) must hold one weight per spatial dimension (={n})"
        )
    biases = list(biases) if biases is not None else [None] * n
    for axis, (w, b) in enumerate(zip(weights, biases)):
        w = numeric(w, f"weights[{axis}]")
        if w.ndim != n + 2 or any(k != 1 for a, k in enumerate(w.shape[2:]) if a != axis):
            raise ValueError(
                f"`weights[{axis}]` (shape {w.shape}) must have kernel size 1 on every spatial "
                f"dim but {axis}"
            )
        p = [(0, 0)] * n
        pads_a = pads[axis]
        p[axis] = (pads_a, pads_a) if isinstance(pads_a, int) else tuple(pads_a)
        x = conv(x, w, b, 1, tuple(p))
    return x


def channel_shuffle(x: Any, groups: int) -> np.ndarray:
    """ShuffleNet's channel shuffle: channel ``i*(C/g) + j`` moves to position ``j*g + i``.

    >>> channel_shuffle(np.arange(6).reshape(1, 6, 1), 2)[0, :, 0].tolist()
    [0, 3, 1, 4, 2, 5]
    """
    x = np.asarray(x)
    c = x.shape[1]
    if not is_int(groups) or groups < 1 or c % groups:
        raise ValueError(f"`groups` (={groups}) must be positive and divide the channel count "
                         f"(={c})")
    per = c // groups
    source = np.empty(c, dtype=int)
    for i in range(groups):
        for j in range(per):
            source[j * groups + i] = i * per + j
    return x[:, source]


def pixel_shuffle(x: Any, factor: int) -> np.ndarray:
    """Depth-to-space for any number of spatial dims ``n``.

    ``out[b, c, *(i_a*r + o_a)] = x[b, c*r**n + offset(o), *i]`` where ``offset`` is the
    row-major index of the sub-position ``(o_1, ..., o_n)`` (in 2-D: ``c*r*r + o_h*r + o_w``,
    exactly torch.nn.PixelShuffle; in 3-D ``c*r**3 + o_d*r*r + o_h*r + o_w``).

    Shape: ``(N, C*r**n, *i) -> (N, C, *(i*r))``.

    >>> pixel_shuffle(np.ones((1, 8, 3, 3, 3)), 2).shape
    (1, 1, 6, 6, 6)
    """
    x = np.asarray(x)
    n = x.ndim - 2
    c = x.shape[1]
    check_int("upscale_factor", factor)
    if c % factor**n:
        raise ValueError(f"`input` channel dim (={c}) must be divisible by upscale_factor**{n} "
                         f"(={factor**n})")
    out = np.zeros((x.shape[0], c // factor**n, *(s * factor for s in x.shape[2:])), x.dtype)
    for offset, sub in enumerate(itertools.product(range(factor), repeat=n)):
        where = tuple(slice(o, None, factor) for o in sub)
        out[(slice(None), slice(None), *where)] = x[:, offset::factor**n]
    return out


def pixel_unshuffle(x: Any, factor: int) -> np.ndarray:
    """Space-to-depth, the inverse of :func:`pixel_shuffle` (same channel ordering).

    Shape: ``(N, C, *(i*r)) -> (N, C*r**n, *i)``.

    >>> pixel_unshuffle(np.ones((1, 1, 6, 6)), 2).shape
    (1, 4, 3, 3)
    """
    x = np.asarray(x)
    n = x.ndim - 2
    check_int("downscale_factor", factor)
    if any(s % factor for s in x.shape[2:]):
        raise ValueError(f"`downscale_factor` (={factor}) must divide every spatial size "
                         f"(={x.shape[2:]})")
    c = x.shape[1]
    out = np.zeros((x.shape[0], c * factor**n, *(s // factor for s in x.shape[2:])), x.dtype)
    for offset, sub in enumerate(itertools.product(range(factor), repeat=n)):
        where = tuple(slice(o, None, factor) for o in sub)
        out[:, offset::factor**n] = x[(slice(None), slice(None), *where)]
    return out
