"""Pointwise (1×1) convolution: channel mixing only, no spatial extent."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int
from convzoo.layers.base import Conv
from convzoo.layers.registry import register

__all__ = ["Pointwise"]


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (Pointwise(3, 4, ndim=1), (2, 3, 5)),
        (Pointwise(3, 5), (2, 3, 4, 3)),
        (Pointwise(2, 3, bias=False, ndim=3), (1, 2, 2, 3, 2)),
    ]


@register("pointwise", "1x1 convolution: mixes channels at every position (no spatial extent)",
          _examples)
class Pointwise(Conv):
    """Pointwise convolution: a ``1×1`` (``1×1×1``...) :class:`Conv`, a per-position matrix
    product over channels, ``y[n, o, p] = sum_c W[o, c] x[n, c, p] + b[o]``.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        bias: default True.
        ndim: number of spatial dims (default 2).

    Shape:
        input ``(N, C_in, *in)`` or ``(C_in, *in)`` -> output ``(N, C_out, *in)``: the
        spatial size is unchanged (``out = in``).

    Attributes:
        weight: ``(C_out, C_in, 1, ..., 1)``. bias: ``(C_out,)`` or None.
        Params: ``C_in*C_out (+ C_out)``.

    >>> Pointwise(3, 256)(torch.randn(1, 3, 8, 8)).shape
    torch.Size([1, 256, 8, 8])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bias: bool = True,
        ndim: int = 2,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_int("ndim", ndim)
        super().__init__(
            in_channels, out_channels, 1, bias=bias, ndim=ndim, device=device, dtype=dtype
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)  # (N, C_in, *in) -> (N, C_out, *in)

    def _get_name(self) -> str:
        return "Pointwise"

    def extra_repr(self) -> str:
        s = self.spec
        text = f"{s.in_channels}, {s.out_channels}, ndim={s.ndim}"
        return text if s.bias else text + ", bias=False"
