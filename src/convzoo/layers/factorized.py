"""Shared machinery of the factorized convs (flattened, spatially separable, (2+1)D): per-axis
kernels, per-axis padding, and composing stage weights into the equivalent dense weight."""

from __future__ import annotations

from typing import Any

import torch

from convzoo.arithmetic import parse_padding

__all__ = ["axis_kernel", "axis_padding", "compose_dense"]


def axis_kernel(k: int, axis: int, ndim: int) -> tuple[int, ...]:
    """``k`` along ``axis``, 1 elsewhere: ``axis_kernel(3, 0, 2) == (3, 1)``."""
    return tuple(k if a == axis else 1 for a in range(ndim))


def axis_padding(padding: Any, axis: int, ndim: int) -> Any:
    """The padding a stage acting along ``axis`` only needs.

    Strings ('same', 'valid', 'full', 'causal') resolve correctly per stage, since the stage's
    kernel is 1 on every other axis; ints, tuples and pairs are split per axis.

    >>> axis_padding((1, (0, 2)), 1, 2)
    ((0, 0), (0, 2))
    """
    parsed = parse_padding(padding, ndim)
    if isinstance(parsed, str):
        return parsed
    return tuple(pair if a == axis else (0, 0) for a, pair in enumerate(parsed))


def compose_dense(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Dense weight of conv ``second`` applied after conv ``first`` (stride 1, no nonlinearity,
    kernels along disjoint axes or 1x1): ``W[o, c, *t] = sum_m second[o, m, *t2] first[m, c, *t1]``
    with ``t = t1 + t2`` (a full convolution of the kernels).

    Shape: ``(M, C, *k1)``, ``(O, M, *k2)`` -> ``(O, C, *(k1 + k2 - 1))``.
    """
    n = first.dim() - 2
    out_k = [a + b - 1 for a, b in zip(first.shape[2:], second.shape[2:])]
    dense = first.new_zeros((second.shape[0], first.shape[1], *out_k))
    for idx in torch.cartesian_prod(*[torch.arange(k) for k in second.shape[2:]]).reshape(-1, n):
        where = tuple(slice(int(i), int(i) + k) for i, k in zip(idx, first.shape[2:]))
        tap = second[(slice(None), slice(None), *(int(i) for i in idx))]  # (O, M)
        dense[(slice(None), slice(None), *where)] += torch.einsum("om,mc...->oc...", tap, first)
    return dense
