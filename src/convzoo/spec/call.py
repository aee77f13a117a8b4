"""Validate a functional convolution call (``F.conv2d(input, weight, bias, ...)`` style).

Tensors are duck-typed: anything with ``.shape`` (and optionally ``.dtype`` / ``.device``),
so torch tensors and NumPy arrays both work. Every problem is a ``ValueError`` raised before
any computation, naming the argument, the value and the rule.
"""

from __future__ import annotations

from typing import Any

from convzoo.arithmetic import check_int
from convzoo.arithmetic.tuples import broadcast_single
from convzoo.spec.convspec import ConvSpec

__all__ = ["spec_from_call"]


def _check_same(name: str, attr: str, tensor: Any, reference: Any) -> None:
    a, b = getattr(tensor, attr, None), getattr(reference, attr, None)
    if a is not None and b is not None and str(a) != str(b):
        raise ValueError(f"`{name}` {attr} (={a}) must be the same as `input` {attr} (={b})")


def spec_from_call(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    transposed: bool = False,
    output_padding: Any = 0,
    padding_mode: str = "zeros",
) -> ConvSpec:
    """The ConvSpec of a functional call, after checking every argument against the others.

    Returns the spec; ``spec.output_shape(input.shape)`` has then also been validated.

    >>> import numpy as np
    >>> x, w = np.zeros((2, 8, 32, 32)), np.zeros((16, 4, 3, 3))
    >>> spec_from_call(x, w, padding=1, groups=2).output_shape(x.shape)
    (2, 16, 32, 32)
    """
    w_shape = tuple(weight.shape)
    if len(w_shape) < 3:
        raise ValueError(
            f"`weight` (shape {w_shape}) must have at least 3 dimensions: "
            "(C_out, C_in/groups, *kernel)"
        )
    n = len(w_shape) - 2
    x_shape = tuple(input.shape)
    if len(x_shape) not in (n + 1, n + 2):
        raise ValueError(
            f"`input` (shape {x_shape}) must have {n + 1} (unbatched) or {n + 2} (batched) "
            f"dimensions for a {len(w_shape)}-dimensional `weight`"
        )
    _check_same("weight", "dtype", weight, input)
    _check_same("weight", "device", weight, input)
    check_int("groups", groups)
    if transposed:
        in_channels, out_channels = w_shape[0], w_shape[1] * groups
    else:
        in_channels, out_channels = w_shape[1] * groups, w_shape[0]
        if w_shape[0] % groups:
            raise ValueError(
                f"`weight` dim 0 (=out_channels={w_shape[0]}) must be divisible by `groups` "
                f"(={groups})"
            )
    channels = x_shape[-n - 1]
    if channels != in_channels:
        rule = "weight.shape[0]" if transposed else "weight.shape[1] * groups"
        raise ValueError(
            f"`input` channel dim (={channels}) must equal {rule} (={in_channels}) for a "
            f"`weight` of shape {w_shape}"
        )
    if bias is not None:
        _check_same("bias", "dtype", bias, input)
        _check_same("bias", "device", bias, input)
        if tuple(bias.shape) != (out_channels,):
            raise ValueError(
                f"`bias` (shape {tuple(bias.shape)}) must have shape ({out_channels},), one "
                "value per output channel"
            )
    spec = ConvSpec(
        in_channels,
        out_channels,
        w_shape[2:],
        stride=broadcast_single(stride, n),
        padding=broadcast_single(padding, n),
        dilation=broadcast_single(dilation, n),
        groups=groups,
        bias=bias is not None,
        transposed=transposed,
        output_padding=broadcast_single(output_padding, n),
        padding_mode=padding_mode,
        ndim=n,
    )
    spec.output_shape(x_shape)
    return spec
