"""Sub-pixel convolution (ESPCN): a conv to ``C*r**n`` channels then a pixel shuffle; ICNR init."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from convzoo.layers.base import Conv, add_batch
from convzoo.layers.pixel_shuffle import PixelShuffle
from convzoo.layers.registry import register
from convzoo.spec import ConvSpec

__all__ = ["SubPixelConv", "icnr_"]


def icnr_(
    weight: torch.Tensor,
    upscale_factor: int,
    ndim: int,
    init: Callable[[torch.Tensor], Any] = nn.init.kaiming_normal_,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """ICNR initialisation (Aitken et al. 2017) of a sub-pixel conv weight, in place.

    The ``r**n`` sub-kernels feeding one output channel are made identical, so that right
    after initialisation conv + pixel shuffle equals a conv followed by nearest-neighbour
    upsampling: no checkerboard at the start of training. ``bias`` (if given) gets the same
    repetition.

    Shape: ``weight`` ``(C*r**n, C_in, *k)``.

    >>> w = torch.empty(12, 3, 3, 3)
    >>> icnr_(w, 2, 2).shape, bool((w[0] == w[3]).all())
    (torch.Size([12, 3, 3, 3]), True)
    """
    block = upscale_factor**ndim
    if weight.shape[0] % block:
        raise ValueError(
            f"`weight` dim 0 (={weight.shape[0]}) must be divisible by upscale_factor**{ndim} "
            f"(={block})"
        )
    with torch.no_grad():
        base = torch.empty((weight.shape[0] // block, *weight.shape[1:]), dtype=weight.dtype,
                           device=weight.device)
        init(base)
        weight.copy_(base.repeat_interleave(block, dim=0))
        if bias is not None:
            bias.copy_(bias[::block].repeat_interleave(block))
    return weight


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (SubPixelConv(2, 3, 2, ndim=1), (2, 2, 5)),
        (SubPixelConv(3, 2, 2, kernel_size=3), (2, 3, 4, 5)),
        (SubPixelConv(2, 1, 2, kernel_size=1, ndim=3, icnr=False), (1, 2, 2, 2, 3)),
    ]


@register("subpixel", "sub-pixel conv: conv to C*r^n channels then pixel shuffle (ESPCN)",
          _examples)
class SubPixelConv(nn.Module):
    """Sub-pixel convolution (Shi et al. 2016): a ``'same'`` conv to ``C_out*r**n`` channels,
    then a :class:`PixelShuffle` by ``r``: learnable, checkerboard-free upsampling when
    initialised with ICNR.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``. upscale_factor: ``r``.
        kernel_size: default 3. ndim: spatial dims (default 2). bias: default True.
        icnr: ICNR initialisation (default True). device, dtype: where and in which dtype
        the parameters are created (torch.nn's factory arguments; default torch's).

    Shape:
        ``(N, C_in, *in)`` -> conv ``(N, C_out*r**n, *in)`` -> ``(N, C_out, *(in*r))``.

    Attributes:
        conv: the :class:`Conv` (weight ``(C_out*r**n, C_in, *k)``). shuffle: the shuffle.

    >>> SubPixelConv(64, 3, 3)(torch.randn(1, 64, 16, 16)).shape
    torch.Size([1, 3, 48, 48])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        upscale_factor: int,
        kernel_size: Any = 3,
        ndim: int = 2,
        bias: bool = True,
        icnr: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.shuffle = PixelShuffle(upscale_factor, ndim)
        block = self.shuffle.upscale_factor**ndim
        self.conv = Conv(in_channels, out_channels * block, kernel_size, padding="same",
                         bias=bias, ndim=ndim, device=device, dtype=dtype)
        if icnr:
            icnr_(self.conv.weight, upscale_factor, ndim, bias=self.conv.bias)

    def extra_repr(self) -> str:
        spec, r = self.conv.spec, self.shuffle.upscale_factor
        return (f"{spec.in_channels} -> {spec.out_channels // r**spec.ndim}, upscale_factor={r}, "
                f"kernel_size={spec.kernel_size}")

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """The conv's spec (the shuffle is free)."""
        return [self.conv.spec]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, unbatched = add_batch(x, self.shuffle.ndim)
        y = self.shuffle(self.conv(x))  # (N, C_in, *in) -> (N, C_out*r^n, *in) -> up
        return y.squeeze(0) if unbatched else y
