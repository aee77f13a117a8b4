"""Spatially separable convolution: k x 1 then 1 x k (k x 1 x 1, 1 x k x 1, 1 x 1 x k in 3-D)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from convzoo.arithmetic import to_tuple
from convzoo.layers.base import Conv, chain_repr
from convzoo.layers.factorized import axis_kernel, axis_padding, compose_dense
from convzoo.layers.registry import register
from convzoo.spec import ConvSpec

__all__ = ["SpatiallySeparable"]


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (SpatiallySeparable(2, 3, 3, padding="same", ndim=1), (2, 2, 5)),
        (SpatiallySeparable(3, 4, 3, padding=1), (2, 3, 5, 4)),
        (SpatiallySeparable(2, 3, (2, 3, 2), mid_channels=2, ndim=3), (1, 2, 3, 4, 3)),
    ]


@register("spatially_separable", "k x 1 then 1 x k (and the 3-D analogue): a factored kernel",
          _examples)
class SpatiallySeparable(nn.Module):
    """Spatially separable convolution: one dense conv per spatial axis, each extending along
    that axis only (``k x 1`` then ``1 x k`` in 2-D, as in Inception v3), with ``mid_channels``
    between stages. Without a nonlinearity between, it is a dense conv whose kernel is a sum of
    ``mid_channels`` separable products (:meth:`to_dense`). Only the last stage has a bias.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``. kernel_size: int or per-axis.
        mid_channels: channels between stages (default ``C_out``).
        stride: per-axis, applied in that axis's stage (default 1).
        padding: any :class:`Conv` padding (default 0), split per axis. ndim: default 2.
        bias: default True.
        device, dtype: where and in which dtype the parameters are created (torch.nn's
            factory arguments; default torch's).

    Shape:
        ``(N, C_in, *in)`` -> ``(N, C_out, *out)``, ``out = floor((in + lo + hi - k)/s) + 1``.
        Params (2-D): ``M*C_in*k_h + C_out*M*k_w`` (+ ``C_out``).

    Attributes:
        stages: one :class:`Conv` per axis (weights ``(M, C_in, k_h, 1)``, ``(C_out, M, 1, k_w)``).

    >>> SpatiallySeparable(3, 16, 3, padding=1)(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 16, 32, 32])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        mid_channels: int | None = None,
        stride: Any = 1,
        padding: Any = 0,
        ndim: int = 2,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        kernel = to_tuple(kernel_size, ndim, "kernel_size", "positive")
        strides = to_tuple(stride, ndim, "stride", "positive")
        mid = out_channels if mid_channels is None else mid_channels
        channels = [in_channels] + [mid] * (ndim - 1) + [out_channels]
        self.stages = nn.ModuleList(
            Conv(
                channels[a], channels[a + 1], axis_kernel(kernel[a], a, ndim),
                axis_kernel(strides[a], a, ndim), axis_padding(padding, a, ndim),
                bias=bias and a == ndim - 1, ndim=ndim, device=device, dtype=dtype,
            )
            for a in range(ndim)
        )

    def extra_repr(self) -> str:
        kernel = tuple(max(spec.kernel_size[a] for spec in self.specs())
                       for a in range(self.specs()[0].ndim))
        return chain_repr(self.specs(), kernel_size=kernel, stages=len(self.stages))

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """One spec per axis, in order."""
        return [stage.spec for stage in self.stages]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:  # (N, C, ...) -> (N, M, ...) -> ... -> (N, C_out, ...)
            x = stage(x)
        return x

    def to_dense(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The equivalent dense conv weight ``(C_out, C_in, *k)`` and bias."""
        dense = self.stages[0].weight
        for stage in self.stages[1:]:
            dense = compose_dense(dense, stage.weight)
        return dense, self.stages[-1].bias
