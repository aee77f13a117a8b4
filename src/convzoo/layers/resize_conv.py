"""Resize-convolution (Odena et al. 2016): upsample, then a 'same' conv."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from convzoo.arithmetic import check_int
from convzoo.layers.base import Conv, check_dtype
from convzoo.layers.registry import register
from convzoo.names import renamed_arguments, renamed_attribute
from convzoo.spec import ConvSpec

__all__ = ["ResizeConv", "RESIZE_MODES"]

#: interpolation modes per number of spatial dims
RESIZE_MODES = {
    1: ("nearest", "linear"),
    2: ("nearest", "bilinear", "bicubic"),
    3: ("nearest", "trilinear"),
}


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (ResizeConv(2, 3, 2, ndim=1, mode="linear"), (2, 2, 4)),
        (ResizeConv(3, 2, 2), (2, 3, 3, 4)),
        (ResizeConv(2, 2, 2, kernel_size=2, ndim=3), (1, 2, 2, 2, 1)),
    ]


@register("resize_conv", "upsample then 'same' conv: checkerboard-free upsampling", _examples)
class ResizeConv(nn.Module):
    """Resize-convolution: interpolate by ``upscale_factor`` then a stride-1 ``'same'`` conv,
    the checkerboard-free alternative to a transposed conv (every output pixel sees the same
    number of input pixels).

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``. upscale_factor: the integer ``r``
            by which each spatial size grows (as :class:`SubPixelConv` and ``nn.PixelShuffle``
            name it; it is passed to ``F.interpolate`` as its ``scale_factor``). Called
            ``scale_factor`` before 0.2 (still accepted, with a warning).
        kernel_size: default 3. mode: interpolation (default ``'nearest'``; see
            :data:`RESIZE_MODES`). ndim: spatial dims (default 2). bias: default True.
        device, dtype: where and in which dtype the parameters are created (torch.nn's
            factory arguments; default torch's).

    Shape:
        ``(N, C_in, *in)`` -> upsampled ``(N, C_in, *(in*r))`` -> ``(N, C_out, *(in*r))``.

    Attributes:
        conv: the :class:`Conv` (weight ``(C_out, C_in, *k)``).

    >>> ResizeConv(16, 3, 2)(torch.randn(1, 16, 16, 16)).shape
    torch.Size([1, 3, 32, 32])
    """

    @renamed_arguments(scale_factor="upscale_factor")
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        upscale_factor: int,
        kernel_size: Any = 3,
        mode: str = "nearest",
        ndim: int = 2,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if ndim not in RESIZE_MODES:
            raise ValueError(f"`ndim` (={ndim!r}) must be 1, 2 or 3")
        if mode not in RESIZE_MODES[ndim]:
            raise ValueError(
                f"`mode` (={mode!r}) must be one of {', '.join(map(repr, RESIZE_MODES[ndim]))} "
                f"for {ndim} spatial dim{'s' if ndim > 1 else ''}"
            )
        check_int("upscale_factor", upscale_factor)
        self.upscale_factor = int(upscale_factor)
        self.mode = mode
        self.conv = Conv(in_channels, out_channels, kernel_size, padding="same", bias=bias,
                         ndim=ndim, device=device, dtype=dtype)

    scale_factor = renamed_attribute("scale_factor", "upscale_factor")

    def __dir__(self) -> list[str]:
        # the deprecated alias stays out of dir(), so what walks every attribute
        # (torch.jit.trace's export check, tab completion) does not trip its warning
        return [name for name in super().__dir__() if name != "scale_factor"]

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """The conv's spec (it runs on the upsampled input)."""
        return [self.conv.spec]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.conv.spec.ndim
        if not torch.compiler.is_compiling() and x.dim() != n + 2:
            raise ValueError(
                f"`input` shape (={tuple(x.shape)}) must be (N, C, *spatial) with {n} spatial "
                f"dim{'s' if n > 1 else ''} (interpolation needs a batch dim)"
            )
        if not torch.compiler.is_compiling():
            check_dtype(x)  # before interpolating, which fails on ints with torch's message
        x = F.interpolate(x, scale_factor=self.upscale_factor, mode=self.mode)  # (N, C, *(in*r))
        return self.conv(x)  # (N, C_out, *(in*r))

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}, mode={self.mode!r}"
