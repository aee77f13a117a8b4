"""Grouped convolution: channels split into g groups convolved independently (ResNeXt)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from convzoo.layers.base import Conv
from convzoo.layers.registry import register

__all__ = ["GroupConv"]


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (GroupConv(4, 6, 3, groups=2, padding=1, ndim=1), (2, 4, 5)),
        (GroupConv(6, 3, 3, groups=3, stride=2, padding="same"), (2, 6, 5, 4)),
        (GroupConv(4, 4, (1, 2, 2), groups=4, dilation=(1, 2, 1), bias=False), (1, 4, 2, 4, 3)),
    ]


@register("group", "grouped convolution: g independent convs on channel slices (ResNeXt)",
          _examples)
class GroupConv(Conv):
    """Grouped convolution: the input channels are cut into ``g`` consecutive slices of
    ``C_in/g``; slice ``j`` is convolved by its own ``C_out/g`` filters, giving output channels
    ``j*C_out/g .. (j+1)*C_out/g - 1``; the results are concatenated.

    It equals a dense conv whose weight is block-diagonal over (output group, input group)
    (:meth:`to_dense`), at ``1/g`` of the parameters and MACs.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out`` (both divisible by ``groups``).
        kernel_size: int or per-axis tuple. groups: ``g``.
        stride: default 1. padding: any :class:`Conv` padding (default 0). dilation: default 1.
        bias: default True. padding_mode: default ``'zeros'``.
        ndim: spatial dims (inferred from tuples, else 2).

    Shape:
        input ``(N, C_in, *in)`` -> output ``(N, C_out, *out)`` with
        ``out = floor((in + lo + hi - d*(k-1) - 1)/s) + 1``.

    Attributes:
        weight: ``(C_out, C_in/g, *k)``. bias: ``(C_out,)`` or None.
        Params: ``C_out*(C_in/g)*prod(k) (+ C_out)``.

    >>> GroupConv(256, 32, 3, groups=8, padding=1)(torch.randn(1, 256, 12, 12)).shape
    torch.Size([1, 32, 12, 12])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        groups: int,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        ndim: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode, ndim=ndim,
            device=device, dtype=dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)  # (N, C_in, *in) -> g x (N, C_out/g, *out) -> (N, C_out, *out)

    def to_dense(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The block-diagonal dense weight ``(C_out, C_in, *k)`` (zeros between groups) and the
        bias: a ``groups=1`` conv with them computes the same output.

        >>> weight, _ = GroupConv(4, 4, 1, groups=2).to_dense()
        >>> (weight[:2, 2:] == 0).all().item(), weight.shape
        (True, torch.Size([4, 4, 1, 1]))
        """
        s = self.spec
        g, gi, go = s.groups, s.in_channels // s.groups, s.out_channels // s.groups
        dense = self.weight.new_zeros((s.out_channels, s.in_channels, *s.kernel_size))
        for j in range(g):  # block (output group j, input group j)
            dense[j * go:(j + 1) * go, j * gi:(j + 1) * gi] = self.weight[j * go:(j + 1) * go]
        return dense, self.bias

    def _get_name(self) -> str:
        return "GroupConv"

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.spec.groups == 1:
            text += ", groups=1"
        return text + f", ndim={self.spec.ndim}"
