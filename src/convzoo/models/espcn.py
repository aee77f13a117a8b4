"""ESPCN (Shi et al. 2016): super-resolution by sub-pixel convolution, or its alternatives.

Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
Convolutional Neural Network", CVPR 2016, Sec. 3 and 4.2: ``l = 3`` layers,
``(f1, n1) = (5, 64)``, ``(f2, n2) = (3, 32)``, ``f3 = 3``, tanh after the first two; the last
conv works at low resolution with ``r**2 * C`` channels and a periodic shuffle (pixel shuffle)
gives the ``r``-times larger image. At r = 3, C = 1: 22,729 params
(1,664 + 18,464 + 2,601).

The ``upsampler`` swaps only that last layer, for comparing upsamplers at equal work:
``'transposed'`` is a transposed conv of kernel ``3r``, stride ``r`` (the exact equivalent of the
3x3 sub-pixel conv: the same weight count, Shi et al. 2016b, "Is the deconvolution layer the
same as a convolutional layer?"); ``'resize'`` is nearest-neighbour x r then a 3x3 conv
(Odena et al. 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int, is_int
from convzoo.arithmetic.variants import variant_among
from convzoo.layers import Conv2d, ResizeConv, SubPixelConv, TransposedConv2d
from convzoo.models.registry import register_model
from convzoo.names import renamed_fields

__all__ = ["ESPCNConfig", "ESPCN", "build_espcn", "UPSAMPLERS"]

#: The last layer's upsamplers: names of the one vocabulary (``'resize'`` and other aliases
#: work).
UPSAMPLERS = ("subpixel", "transposed", "resize_conv")


@renamed_fields(scale="upscale_factor")
@dataclass(frozen=True)
class ESPCNConfig:
    """Configuration of an ESPCN (defaults: the paper's r = 3, luminance only).

    Args:
        upscale_factor: ``r`` (default 3; the paper reports 2, 3, 4), as ``nn.PixelShuffle``
            names it. Called ``scale`` before 0.2 (still accepted, with a warning).
        channels: image channels ``C`` (default 1, the Y channel; 3 for RGB).
        upsampler: ``'subpixel'`` (default), ``'transposed'`` or ``'resize_conv'``; aliases
            such as ``'resize'`` are stored under these names.
    """

    upscale_factor: int = 3
    channels: int = 1
    upsampler: str = "subpixel"

    def __post_init__(self) -> None:
        if not is_int(self.upscale_factor) or self.upscale_factor < 2:
            raise ValueError(f"`upscale_factor` (={self.upscale_factor!r}) must be an int >= 2")
        check_int("channels", self.channels)
        object.__setattr__(self, "upsampler",
                           variant_among(self.upsampler, UPSAMPLERS, "upsampler"))


class ESPCN(nn.Module):
    """ESPCN: 5x5 conv (64) + tanh, 3x3 conv (32) + tanh, then the upsampler to ``C``
    channels at ``r`` times the size ('same' padding throughout).

    Args:
        config: an :class:`ESPCNConfig`.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, r*H, r*W)``.

    >>> ESPCN(ESPCNConfig(upscale_factor=2, upsampler="transposed"))(torch.randn(1, 1, 17, 16)
    ... ).shape
    torch.Size([1, 1, 34, 32])
    """

    def __init__(self, config: ESPCNConfig) -> None:
        super().__init__()
        c, r = config.channels, config.upscale_factor
        self.config = config
        self.features = nn.Sequential(
            Conv2d(c, 64, 5, padding="same"), nn.Tanh(),
            Conv2d(64, 32, 3, padding="same"), nn.Tanh(),
        )
        if config.upsampler == "subpixel":
            self.upsample: nn.Module = SubPixelConv(32, c, r, kernel_size=3, icnr=False)
        elif config.upsampler == "transposed":
            self.upsample = TransposedConv2d(32, c, 3 * r, stride=r, padding="same")
        else:
            self.upsample = ResizeConv(32, c, r, kernel_size=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, C, H, W) -> (N, 32, H, W)
        return self.upsample(x)  # -> (N, C, rH, rW)


@register_model(
    "espcn", config=ESPCNConfig,
    description="ESPCN super-resolution: two convs then sub-pixel conv (or transposed / "
    "resize-conv)",
    input_shape=(1, 1, 224, 224), variants=("subpixel", "transposed", "resize_conv"),
    source="Shi et al. 2016, ESPCN, Sec. 3 and 4.2 (l=3, (5,64), (3,32), f3=3, r=3): 22,729 params",
)
def build_espcn(config: ESPCNConfig) -> ESPCN:
    """The ESPCN of ``config``.

    >>> sum(p.numel() for p in build_espcn(ESPCNConfig()).parameters())
    22729
    """
    return ESPCN(config)
