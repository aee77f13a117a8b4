"""Dilated (atrous) convolution with size-keeping padding: a larger field, the same weights."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from convzoo.layers.base import Conv
from convzoo.layers.registry import register

__all__ = ["Dilated"]


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (Dilated(2, 3, 3, dilation=4, ndim=1), (2, 2, 9)),
        (Dilated(3, 4, 3, dilation=2), (2, 3, 6, 5)),
        (Dilated(2, 2, 2, dilation=(1, 3), stride=2, bias=False), (1, 2, 5, 6)),
        (Dilated(2, 2, 2, dilation=2, ndim=3), (1, 2, 3, 4, 3)),
    ]


@register("dilated", "dilated/atrous conv: d-1 holes between taps, 'same' padding", _examples)
class Dilated(Conv):
    """Dilated (atrous) convolution: kernel taps ``d`` apart, so a ``k``-tap kernel spans
    ``d*(k-1) + 1`` inputs (a 3x3 at d=2 sees 5x5) with ``k`` weights per axis; padded
    ``'same'`` so the resolution is kept (DeepLab, WaveNet).

    The padding is convzoo's ``'same'``: ``d*(k-1)`` in total at stride 1 (``(2, 2)`` for
    k=3, d=2, as ``nn.Conv2d(..., dilation=2, padding=2)``), extra element on the right when
    odd; at stride ``s`` the output is ``ceil(in/s)``.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        kernel_size: int or per-axis tuple. dilation: ``d``, int or per-axis tuple.
        stride: default 1. bias: default True. padding_mode: default ``'zeros'``.
        ndim: spatial dims (inferred from tuples, else 2).

    Shape:
        input ``(N, C_in, *in)`` -> output ``(N, C_out, *out)`` with ``out = ceil(in/s)``
        (``out = in`` at stride 1).

    Attributes:
        weight: ``(C_out, C_in, *k)``. bias: ``(C_out,)`` or None.
        Receptive field per axis: ``d*(k-1) + 1``.

    >>> Dilated(3, 16, 3, dilation=2)(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 16, 32, 32])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        dilation: Any,
        stride: Any = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        ndim: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding="same",
            dilation=dilation, groups=1, bias=bias, padding_mode=padding_mode, ndim=ndim,
            device=device, dtype=dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)  # (N, C_in, *in) -> (N, C_out, *ceil(in/s))

    def _get_name(self) -> str:
        return "Dilated"

    def extra_repr(self) -> str:
        s = self.spec
        text = f"{s.in_channels}, {s.out_channels}, kernel_size={s.kernel_size}"
        text += f", dilation={s.dilation}"
        if any(v != 1 for v in s.stride):
            text += f", stride={s.stride}"
        text += ", padding=same"
        if not s.bias:
            text += ", bias=False"
        if s.padding_mode != "zeros":
            text += f", padding_mode={s.padding_mode!r}"
        return text
