"""Flattened convolution (Jin, Dundar & Culurciello 2014)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from convzoo.arithmetic import to_tuple
from convzoo.layers.base import chain_repr
from convzoo.layers.depthwise import Depthwise
from convzoo.layers.factorized import axis_kernel, axis_padding
from convzoo.layers.pointwise import Pointwise
from convzoo.layers.registry import register
from convzoo.spec import ConvSpec

__all__ = ["Flattened"]


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (Flattened(2, 3, 3, padding="same", ndim=1), (2, 2, 5)),
        (Flattened(3, 4, (3, 2), padding=1), (2, 3, 5, 4)),
        (Flattened(2, 2, 2, ndim=3, bias=False), (1, 2, 3, 3, 2)),
    ]


@register("flattened", "flattened conv: 1-D convs across channels, then along each axis",
          _examples)
class Flattened(nn.Module):
    """Flattened convolution (Jin et al. 2014): a dense ``k``-tap conv factored into a 1-D conv
    across channels (the *lateral* stage, a :class:`Pointwise` ``C_in -> C_out``), then a 1-D
    per-channel conv along each spatial axis in turn (vertical ``k x 1``, horizontal ``1 x k``;
    a third pass in 3-D). Every filter is rank one: ``W[o, c, i, j] = L[o, c] V[o, i] H[o, j]``.

    Only the last stage has a bias, so :meth:`to_dense` is exact (an earlier bias would meet
    the zero padding of the next stage and stop being a constant at the borders).

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``. kernel_size: int or per-axis.
        stride: per-axis stride, applied in that axis's stage (default 1).
        padding: any :class:`Conv` padding (default 0); each axis's share goes to its stage.
        ndim: spatial dims (default 2). bias: default True.
        device, dtype: where and in which dtype the parameters are created (torch.nn's
            factory arguments; default torch's).

    Shape:
        ``(N, C_in, *in)`` -> ``(N, C_out, *out)``, ``out = floor((in + lo + hi - k)/s) + 1``.
        Params: ``C_in*C_out + C_out*sum(k)`` (+ ``C_out``) instead of ``C_in*C_out*prod(k)``.

    Attributes:
        lateral: the :class:`Pointwise` (weight ``(C_out, C_in, 1, ..)``).
        axes: one :class:`Depthwise` per spatial axis (weight ``(C_out, 1, .., k_a, ..)``).

    >>> Flattened(3, 16, 3, padding=1)(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 16, 32, 32])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        ndim: int = 2,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        kernel = to_tuple(kernel_size, ndim, "kernel_size", "positive")
        strides = to_tuple(stride, ndim, "stride", "positive")
        self.lateral = Pointwise(in_channels, out_channels, bias=False, ndim=ndim, **factory)
        self.axes = nn.ModuleList(
            Depthwise(
                out_channels, axis_kernel(kernel[a], a, ndim), axis_kernel(strides[a], a, ndim),
                axis_padding(padding, a, ndim), bias=bias and a == ndim - 1, ndim=ndim,
                **factory,
            )
            for a in range(ndim)
        )

    def extra_repr(self) -> str:
        return chain_repr(self.specs(), stages=1 + len(self.axes))

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """Lateral spec, then one spec per axis."""
        return [self.lateral.spec] + [stage.spec for stage in self.axes]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lateral(x)  # (N, C_in, *in) -> (N, C_out, *in)
        for stage in self.axes:  # one axis at a time: (N, C_out, ...) -> (N, C_out, ...)
            x = stage(x)
        return x

    def to_dense(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The equivalent dense conv weight ``(C_out, C_in, *k)`` and bias."""
        weight = self.lateral.weight.flatten(2).squeeze(2)  # (C_out, C_in)
        n = len(self.axes)
        dense = weight.reshape(*weight.shape, *([1] * n))
        for stage in self.axes:
            dense = dense * stage.weight  # (C_out, 1, .., k_a, ..) broadcasts along its axis
        return dense, self.axes[-1].bias
