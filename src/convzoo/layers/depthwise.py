"""Depthwise convolution: one spatial filter per input channel (groups = C_in)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int
from convzoo.layers.base import Conv, describe
from convzoo.layers.registry import register

__all__ = ["Depthwise"]


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (Depthwise(2, 3, padding="causal", dilation=2, ndim=1), (2, 2, 7)),
        (Depthwise(3, 3, stride=2, padding="same", depth_multiplier=2), (2, 3, 5, 6)),
        (Depthwise(2, (2, 3), padding=1, padding_mode="reflect", bias=False), (1, 2, 4, 5)),
        (Depthwise(2, 2, padding=1, depth_multiplier=2, ndim=3), (1, 2, 3, 2, 3)),
    ]


def check_multiplier(value: Any) -> int:
    """``depth_multiplier`` must be a positive int."""
    check_int("depth_multiplier", value)
    return int(value)


@register("depthwise", "per-channel spatial filter (groups = in_channels, depth multiplier)",
          _examples)
class Depthwise(Conv):
    """Depthwise convolution: each input channel is filtered on its own by
    ``depth_multiplier`` kernels (a :class:`Conv` with ``groups = C_in``); channels never mix.

    Output channel ``c*M + m`` is input channel ``c`` convolved with filter ``m`` of that
    channel (``M`` = depth multiplier), as in ``nn.Conv2d(C, C*M, k, groups=C)``.

    Args:
        in_channels: ``C_in`` (= the number of groups).
        kernel_size: int or per-axis tuple.
        stride: default 1. padding: any :class:`Conv` padding (default 0).
        dilation: default 1. depth_multiplier: ``M``, filters per channel (default 1).
        bias: default True. padding_mode: default ``'zeros'``.
        ndim: spatial dims (inferred from tuples, else 2).

    Shape:
        input ``(N, C_in, *in)`` -> output ``(N, C_in*M, *out)`` with
        ``out = floor((in + lo + hi - d*(k-1) - 1)/s) + 1``.

    Attributes:
        weight: ``(C_in*M, 1, *k)``. bias: ``(C_in*M,)`` or None.
        Params: ``C_in*M*prod(k) (+ C_in*M)``.

    Fast path: 2-D float32/float64 CPU inputs run NHWC (channels_last) when a kernel side
    is ``>= 14`` (NCHW drops to a generic GEMM there) or the input is already channels_last
    (:func:`convzoo.functional.choose_path`); the values are those of the native path.

    >>> Depthwise(3, 5)(torch.randn(1, 3, 12, 12)).shape
    torch.Size([1, 3, 8, 8])
    >>> Depthwise(4, 3, padding=1, depth_multiplier=2)(torch.randn(1, 4, 6, 6)).shape
    torch.Size([1, 8, 6, 6])
    """

    def __init__(
        self,
        in_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        depth_multiplier: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        ndim: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        multiplier = check_multiplier(depth_multiplier)
        check_int("in_channels", in_channels)
        super().__init__(
            in_channels, in_channels * multiplier, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=in_channels, bias=bias, padding_mode=padding_mode, ndim=ndim,
            device=device, dtype=dtype,
        )
        self.depth_multiplier = multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)  # (N, C, *in) -> (N, C*M, *out)

    def _get_name(self) -> str:
        return "Depthwise"

    def extra_repr(self) -> str:
        # ``describe`` without C_out and groups (both follow from C_in and the multiplier)
        s = self.spec
        text = describe(s, channels=f"{s.in_channels}", groups=False)
        if self.depth_multiplier != 1:
            text += f", depth_multiplier={self.depth_multiplier}"
        return text + f", ndim={s.ndim}"
