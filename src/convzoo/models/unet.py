"""U-Net (Ronneberger, Fischer & Brox 2015), with a choice of decoder upsampler.

Ronneberger et al., "U-Net: Convolutional Networks for Biomedical Image Segmentation", MICCAI
2015, Fig. 1: a contracting path of two 3x3 convs + ReLU and a 2x2 max pool per level, channels
doubling from 64 to 1024, and an expanding path of a 2x2 "up-convolution" halving the channels,
concatenation with the (center-cropped) skip and two 3x3 convs; a final 1x1 conv to the classes.
With unpadded ('valid') convs a 572x572 tile gives a 388x388 map.

Parameters of the paper's configuration (in 1, 2 classes, base 64, depth 4, transposed 2x2,
biases, no norm): 31,030,658. The often quoted 31,031,685 is the popular Keras port (zhixuhao),
whose head is a 3x3 conv 64->2 and a 1x1 conv 2->1 (sigmoid) instead of the paper's 1x1 conv
64->2: 31,030,658 - 130 + 1,154 + 3 = 31,031,685.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int
from convzoo.arithmetic.variants import variant_among
from convzoo.layers import Conv2d, Pointwise, ResizeConv, SubPixelConv, TransposedConv2d
from convzoo.models.registry import register_model

__all__ = ["UNetConfig", "UNet", "build_unet", "unet_output_size", "UPSAMPLERS", "PADDINGS"]

#: The decoder's upsamplers: names of the one vocabulary (``'resize'`` and other aliases work).
UPSAMPLERS = ("transposed", "subpixel", "resize_conv")
PADDINGS = ("same", "valid")


@dataclass(frozen=True)
class UNetConfig:
    """Configuration of a U-Net (defaults: the paper's network, with 'same' convs).

    Args:
        in_channels: image channels (default 1). num_classes: output channels (default 2).
        base_channels: channels of the first level, doubled at each level (default 64).
        depth: number of 2x2 poolings (default 4; ``depth + 1`` levels).
        padding: ``'same'`` (default; output size = input size, input divisible by
            ``2**depth``) or ``'valid'`` (the paper: unpadded convs, skips center-cropped).
        upsampler: ``'transposed'`` (default, the paper's 2x2 up-convolution),
            ``'subpixel'`` (conv to 4x channels + pixel shuffle, ICNR init) or
            ``'resize_conv'`` (nearest x2 then a 'same' conv); aliases such as ``'resize'``
            are stored under these names.
        up_kernel_size: kernel of the upsampler's conv (default 2; 'same' padded).
        batch_norm: BatchNorm after every 3x3 conv, whose bias is then dropped (default False,
            as the paper).
    """

    in_channels: int = 1
    num_classes: int = 2
    base_channels: int = 64
    depth: int = 4
    padding: str = "same"
    upsampler: str = "transposed"
    up_kernel_size: int = 2
    batch_norm: bool = False

    def __post_init__(self) -> None:
        for name in ("in_channels", "num_classes", "base_channels", "depth", "up_kernel_size"):
            check_int(name, getattr(self, name))
        if self.padding not in PADDINGS:
            raise ValueError(f"`padding` (={self.padding!r}) must be one of 'same', 'valid'")
        object.__setattr__(self, "upsampler",
                           variant_among(self.upsampler, UPSAMPLERS, "upsampler"))
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"`batch_norm` (={self.batch_norm!r}) must be a bool")


def unet_output_size(size: int, depth: int = 4, padding: str = "same") -> int:
    """Output size of a U-Net along one axis; ValueError if ``size`` does not fit the net.

    'same': ``size`` must be divisible by ``2**depth`` (output = size). 'valid': every level
    loses 4 (two 3x3 convs), each pooled size must be even and positive.

    >>> unet_output_size(572, 4, "valid"), unet_output_size(64, 3, "same")
    (388, 64)
    """
    if padding == "same":
        if size % 2**depth:
            raise ValueError(
                f"`input` size (={size}) must be divisible by 2**depth (={2**depth}) with "
                "padding 'same'"
            )
        return size
    s = size
    for level in range(depth):
        s -= 4
        if s < 2 or s % 2:
            raise ValueError(
                f"`input` size (={size}) does not fit a valid-padded U-Net of depth {depth}: "
                f"level {level} gives {s} after its convs (must be even and >= 2 to pool)"
            )
        s //= 2
    s -= 4
    for _ in range(depth):
        s = 2 * s - 4
    if s < 1:
        raise ValueError(f"`input` size (={size}) gives an empty output (valid padding)")
    return s


class DoubleConv(nn.Sequential):
    """Two 3x3 convs, each followed by (BatchNorm and) ReLU.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, H - 4, W - 4)`` ('valid') or ``(N, C_out, H, W)``.

    >>> DoubleConv(1, 8, "valid", False)(torch.randn(1, 1, 12, 12)).shape
    torch.Size([1, 8, 8, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, padding: str, batch_norm: bool
                 ) -> None:
        layers: list[nn.Module] = []
        for c_in in (in_channels, out_channels):
            layers.append(Conv2d(c_in, out_channels, 3, padding=padding, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


def _upsampler(kind: str, in_channels: int, out_channels: int, k: int) -> nn.Module:
    if kind == "transposed":
        return TransposedConv2d(in_channels, out_channels, k, stride=2, padding="same")
    if kind == "subpixel":
        return SubPixelConv(in_channels, out_channels, 2, kernel_size=k)
    return ResizeConv(in_channels, out_channels, 2, kernel_size=k)


def center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The central ``size`` window of the last two axes (the paper's skip cropping)."""
    top = (x.shape[-2] - size[0]) // 2
    left = (x.shape[-1] - size[1]) // 2
    return x[..., top:top + size[0], left:left + size[1]]


class UNet(nn.Module):
    """U-Net: encoder levels ``down[i]`` (DoubleConv, channels ``base * 2**i``), a max pool
    between levels, and decoder levels ``up[i]`` (upsampler halving the channels,
    concatenation with the cropped skip, DoubleConv), then a 1x1 conv ``head``.

    Args:
        config: a :class:`UNetConfig`.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes, H', W')`` with
        ``H' = unet_output_size(H, depth, padding)`` (``H' = H`` for 'same').

    >>> net = UNet(UNetConfig(base_channels=8, depth=2, upsampler="subpixel"))
    >>> net(torch.randn(2, 1, 32, 32)).shape
    torch.Size([2, 2, 32, 32])
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        widths = [c.base_channels * 2**i for i in range(c.depth + 1)]
        ins = [c.in_channels, *widths[:-1]]
        self.down = nn.ModuleList(
            DoubleConv(i, o, c.padding, c.batch_norm) for i, o in zip(ins, widths, strict=True)
        )
        self.pool = nn.MaxPool2d(2)
        self.upsample = nn.ModuleList(
            _upsampler(c.upsampler, widths[i + 1], widths[i], c.up_kernel_size)
            for i in reversed(range(c.depth))
        )
        self.up = nn.ModuleList(
            DoubleConv(2 * widths[i], widths[i], c.padding, c.batch_norm)
            for i in reversed(range(c.depth))
        )
        self.head = Pointwise(widths[0], c.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.compiler.is_compiling():
            if x.dim() != 4 or x.shape[1] != self.config.in_channels:
                raise ValueError(
                    f"`input` shape (={tuple(x.shape)}) must be (N, {self.config.in_channels}, "
                    "H, W)"
                )
            for size in x.shape[2:]:
                unet_output_size(int(size), self.config.depth, self.config.padding)
        skips = []
        for i, level in enumerate(self.down):
            x = level(x)  # (N, base*2^i, H_i, W_i)
            if i < self.config.depth:
                skips.append(x)
                x = self.pool(x)  # (N, base*2^i, H_i/2, W_i/2)
        for upsample, level, skip in zip(self.upsample, self.up, reversed(skips), strict=True):
            x = upsample(x)  # (N, C, h, w) -> (N, C/2, 2h, 2w)
            skip = center_crop(skip, (x.shape[-2], x.shape[-1]))
            x = level(torch.cat([skip, x], dim=1))  # (N, C, 2h, 2w) -> (N, C/2, ...)
        return self.head(x)  # (N, num_classes, H', W')


@register_model(
    "unet", config=UNetConfig,
    description="U-Net: conv encoder/decoder with skip concatenation; transposed/sub-pixel/resize "
    "upsampling",
    input_shape=(1, 1, 512, 512), variants=("conv", "transposed", "subpixel", "resize_conv"),
    source="Ronneberger et al. 2015, U-Net, Fig. 1 (572x572 -> 388x388 with padding='valid'); "
    "31,030,658 params (biases, no norm; the Keras port's 31,031,685 has a different head)",
)
def build_unet(config: UNetConfig) -> UNet:
    """The U-Net of ``config``.

    >>> with torch.device("meta"):
    ...     net = build_unet(UNetConfig())
    >>> sum(p.numel() for p in net.parameters())
    31030658
    """
    return UNet(config)
