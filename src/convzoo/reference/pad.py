"""Padding as an index gather, per axis, for the four padding modes; and its adjoint.

A padded axis of length ``lo + size + hi`` reads source index ``idx[p]`` at position ``p``
(``-1`` means a zero). The adjoint (used by gradients) scatter-adds back along ``idx``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convzoo.arithmetic import PADDING_MODES

__all__ = ["pad_indices", "pad", "pad_adjoint"]

Pairs = Sequence[tuple[int, int]]


def pad_indices(size: int, lo: int, hi: int, mode: str = "zeros", axis: int = 0) -> np.ndarray:
    """Source index of every position of a padded axis (``-1`` for a zero).

    Args:
        size: input length along the axis. lo, hi: elements added before / after.
        mode: one of :data:`convzoo.arithmetic.PADDING_MODES`. axis: spatial dim (messages).

    Shape: ``(lo + size + hi,)``. 'reflect' needs ``max(lo, hi) < size`` (the edge is not
    repeated), 'circular' needs ``max(lo, hi) <= size`` (PyTorch's rules).

    >>> pad_indices(3, 2, 2, "reflect").tolist()
    [2, 1, 0, 1, 2, 1, 0]
    >>> pad_indices(3, 1, 2, "zeros").tolist()
    [-1, 0, 1, 2, -1, -1]
    """
    if mode not in PADDING_MODES:
        raise ValueError(f"`padding_mode` (={mode!r}) must be one of {PADDING_MODES}")
    pos = np.arange(-lo, size + hi)
    if mode == "zeros":
        return np.where((pos >= 0) & (pos < size), pos, -1)
    if mode == "reflect":
        if max(lo, hi) >= size:
            raise ValueError(
                f"`padding` (={max(lo, hi)}) must be smaller than the input size (={size}) "
                f"along spatial dim {axis} for padding_mode='reflect'"
            )
        period = 2 * (size - 1) if size > 1 else 1
        folded = np.mod(pos, period)
        return np.where(folded < size, folded, period - folded)
    if mode == "circular":
        if max(lo, hi) > size:
            raise ValueError(
                f"`padding` (={max(lo, hi)}) must not exceed the input size (={size}) along "
                f"spatial dim {axis} for padding_mode='circular'"
            )
        return np.mod(pos, size)
    return np.clip(pos, 0, size - 1)  # 'replicate'


def pad(x: np.ndarray, pads: Pairs, mode: str = "zeros") -> np.ndarray:
    """Pad the trailing ``len(pads)`` axes of ``x`` by ``(lo, hi)`` each (an index gather).

    Args:
        x: array whose last ``len(pads)`` axes are spatial. pads: one ``(lo, hi)`` per axis.
        mode: 'zeros', 'reflect', 'replicate' or 'circular' (default 'zeros').

    Shape: ``(..., *in)`` -> ``(..., *(lo + in + hi))``.

    >>> pad(np.ones((1, 1, 2, 2)), ((1, 0), (0, 2)), "zeros").shape
    (1, 1, 3, 4)
    """
    n = len(pads)
    for a, (lo, hi) in enumerate(pads):
        axis = x.ndim - n + a
        idx = pad_indices(x.shape[axis], lo, hi, mode, a)
        if x.shape[axis] == 0:  # an empty axis (a fully cropped one) pads to zeros
            shape = list(x.shape)
            shape[axis] = len(idx)
            x = np.zeros(shape, dtype=x.dtype)
            continue
        x = np.take(x, np.maximum(idx, 0), axis=axis)
        if (idx < 0).any():
            mask = (idx >= 0).reshape([-1 if d == axis else 1 for d in range(x.ndim)])
            x = x * mask
    return x


def pad_adjoint(
    g: np.ndarray, spatial: Sequence[int], pads: Pairs, mode: str = "zeros"
) -> np.ndarray:
    """Adjoint of :func:`pad`: scatter-add a padded gradient back onto the input positions.

    ``<pad(x), g> == <x, pad_adjoint(g)>``; every padded position adds its value to the input
    position it was read from (``np.add.at`` along each axis in turn; zeros drop out).

    Shape: ``(..., *(lo + in + hi))`` -> ``(..., *in)``.

    >>> pad_adjoint(np.ones((1, 5)), (3,), ((1, 1),), "replicate").tolist()
    [[2.0, 1.0, 2.0]]
    """
    n = len(pads)
    for a, ((lo, hi), size) in enumerate(zip(pads, spatial)):
        axis = g.ndim - n + a
        idx = pad_indices(size, lo, hi, mode, a)
        out_shape = list(g.shape)
        out_shape[axis] = size
        out = np.zeros(out_shape, dtype=g.dtype)
        moved_g = np.moveaxis(g, axis, 0)
        moved_out = np.moveaxis(out, axis, 0)
        keep = idx >= 0
        np.add.at(moved_out, idx[keep], moved_g[keep])
        g = out
    return g
