"""Shared argument handling of the reference engine (validation through convzoo.arithmetic)."""

from __future__ import annotations

from typing import Any

import numpy as np

from convzoo.arithmetic import broadcast_single, check_int, to_tuple

__all__ = ["batched", "check_bias", "check_conv_args", "numeric"]


def numeric(value: Any, name: str) -> np.ndarray:
    """``value`` as a NumPy array of numbers (integer, floating or complex), else ValueError.

    >>> numeric(np.array(["a", "b"]), "input")
    Traceback (most recent call last):
    ...
    ValueError: `input` (dtype <U1) must hold numbers (integer, floating or complex)
    """
    x = np.asarray(value)
    if x.dtype.kind not in "iufc":
        raise ValueError(f"`{name}` (dtype {x.dtype}) must hold numbers (integer, floating or "
                         "complex)")
    return x


def batched(x: Any, n: int, name: str = "input") -> tuple[np.ndarray, bool]:
    """``(N, C, *spatial)`` view of ``x`` and whether it was unbatched ``(C, *spatial)``."""
    x = numeric(x, name)
    if x.ndim == n + 1:
        return x[None], True
    if x.ndim != n + 2:
        raise ValueError(
            f"`{name}` (shape {x.shape}) must have {n + 1} (unbatched) or {n + 2} (batched) "
            f"dimensions for {n} spatial dims"
        )
    return x, False


def check_conv_args(
    channels: int, weight: np.ndarray, groups: int, stride: Any, dilation: Any, transposed: bool
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validate channels/groups against the weight; return per-axis stride and dilation."""
    n = weight.ndim - 2
    if n < 1:
        raise ValueError(f"`weight` (shape {weight.shape}) must have at least 3 dimensions")
    check_int("groups", groups)
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    if channels != expected:
        raise ValueError(
            f"`input` channel dim (={channels}) must equal "
            f"{'weight.shape[0]' if transposed else 'weight.shape[1] * groups'} (={expected})"
        )
    if weight.shape[0] % groups:
        raise ValueError(f"`weight` dim 0 (={weight.shape[0]}) must be divisible by `groups` "
                         f"(={groups})")
    return (
        to_tuple(broadcast_single(stride, n), n, "stride", "positive"),
        to_tuple(broadcast_single(dilation, n), n, "dilation", "positive"),
    )


def check_bias(bias: Any, channels: int) -> np.ndarray | None:
    """``bias`` as an array of shape ``(channels,)`` (or None), else ``ValueError``."""
    if bias is None:
        return None
    bias = numeric(bias, "bias")
    if bias.shape != (channels,):
        raise ValueError(
            f"`bias` (shape {bias.shape}) must have shape ({channels},), one per output channel"
        )
    return bias
