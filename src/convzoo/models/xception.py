"""Xception (Chollet 2017, "Xception: Deep Learning with Depthwise Separable Convolutions",
figure 5: entry flow, middle flow repeated 8 times, exit flow; Table 3: 22.8M parameters).

Every 3x3 conv after the stem is a depthwise-separable conv (depthwise then pointwise, no
norm or activation between, no bias) followed by BatchNorm; the entry and exit blocks end in a
3x3/2 max pool ('same' padding) with a strided 1x1 conv + BN on the shortcut. The layout is
Keras's ``keras.applications.Xception`` (two unpadded stem convs, 'same' pools), so the
counts match its 22,910,480 parameters, which include BatchNorm's moving mean and variance
(54,528 non-trainable values; convzoo's params count 2 affine values per BN channel:
22,855,952).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from convzoo.arithmetic import check_int, same_padding
from convzoo.layers import Conv2d, DepthwiseSeparable
from convzoo.models.registry import register_model

__all__ = ["XceptionConfig", "Xception", "XceptionBlock", "MaxPool2dSame", "build_xception"]


@dataclass(frozen=True)
class XceptionConfig:
    """Configuration of Xception (defaults: the ImageNet model at 299x299).

    Args:
        num_classes: default 1000. in_channels: default 3.
        middle_repeats: blocks in the middle flow (default 8).
    """

    num_classes: int = 1000
    in_channels: int = 3
    middle_repeats: int = 8

    def __post_init__(self) -> None:
        for name in ("num_classes", "in_channels", "middle_repeats"):
            check_int(name, getattr(self, name))


class MaxPool2dSame(nn.Module):
    """2-D max pool with TensorFlow/Keras 'same' padding (``out = ceil(in / stride)``, the
    extra padded element on the right/bottom, padded with -inf).

    Args:
        kernel_size: default 3. stride: default 2.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, ceil(H/s), ceil(W/s))``.

    >>> MaxPool2dSame()(torch.randn(1, 2, 74, 147)).shape
    torch.Size([1, 2, 37, 74])
    """

    def __init__(self, kernel_size: int = 3, stride: int = 2) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (top, bottom), (left, right) = (
            same_padding(int(size), self.kernel_size, self.stride) for size in x.shape[-2:])
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding=same"


def _separable(cin: int, cout: int) -> DepthwiseSeparable:
    return DepthwiseSeparable(cin, cout, 3, padding="same", bias=False, norm=nn.BatchNorm2d)


class XceptionBlock(nn.Module):
    """Residual block of separable convs: ``[ReLU] -> sep3x3 + BN`` for each width (the first
    ReLU optional), then a 3x3/2 'same' max pool with a 1x1/2 conv + BN shortcut (``pool``), or
    an identity shortcut.

    Args:
        in_channels: ``C_in``. widths: output channels of the separable convs.
        pool: downsample (default True). relu_first: ReLU before the first conv (default True).

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, widths[-1], H', W')``, ``H' = ceil(H/2)`` with pool,
        else ``H``.

    >>> XceptionBlock(64, (128, 128), relu_first=False)(torch.randn(1, 64, 9, 9)).shape
    torch.Size([1, 128, 5, 5])
    """

    def __init__(self, in_channels: int, widths: tuple[int, ...], pool: bool = True,
                 relu_first: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i, width in enumerate(widths):
            if i > 0 or relu_first:
                layers.append(nn.ReLU())
            layers.append(_separable(channels, width))
            channels = width
        if pool:
            layers.append(MaxPool2dSame(3, 2))
        self.body = nn.Sequential(*layers)
        self.shortcut: nn.Module = nn.Identity()
        if pool:
            self.shortcut = nn.Sequential(
                Conv2d(in_channels, channels, 1, 2, padding="same", bias=False),
                nn.BatchNorm2d(channels),
            )
        elif in_channels != channels:
            raise ValueError(
                f"`widths` (={widths!r}) must end at `in_channels` (={in_channels}) when "
                "`pool` is False (identity shortcut)"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)  # (N, widths[-1], H', W')


class Xception(nn.Module):
    """Xception: ``stem`` (3x3/2 conv 32 and 3x3 conv 64, unpadded, BN + ReLU), ``entry`` (blocks
    to 128, 256, 728), ``middle`` (8 blocks of three 728-wide separable convs), ``exit`` (block
    to 1024, separable 1536 and 2048 with BN + ReLU), global average pool, ``fc``.

    Args:
        config: an :class:`XceptionConfig`.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, num_classes)``; at 299x299 the features are 10x10.

    >>> Xception(XceptionConfig(middle_repeats=1))(torch.randn(1, 3, 64, 64)).shape
    torch.Size([1, 1000])
    """

    def __init__(self, config: XceptionConfig) -> None:
        super().__init__()
        self.config = config
        self.stem = nn.Sequential(
            Conv2d(config.in_channels, 32, 3, 2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        )
        self.entry = nn.Sequential(
            XceptionBlock(64, (128, 128), relu_first=False),
            XceptionBlock(128, (256, 256)),
            XceptionBlock(256, (728, 728)),
        )
        self.middle = nn.Sequential(*(XceptionBlock(728, (728,) * 3, pool=False)
                                      for _ in range(config.middle_repeats)))
        self.exit = nn.Sequential(
            XceptionBlock(728, (728, 1024)),
            _separable(1024, 1536), nn.ReLU(),
            _separable(1536, 2048), nn.ReLU(),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (N, 64, (H-3)//2 - 1, ...): 299 -> 147
        x = self.entry(x)  # (N, 728, 19, 19) at 299
        x = self.exit(self.middle(x))  # (N, 2048, 10, 10) at 299
        return self.fc(torch.flatten(self.avgpool(x), 1))  # (N, num_classes)


@register_model(
    "xception", config=XceptionConfig,
    description="Xception: entry/middle/exit flows of depthwise-separable convs with residual "
    "links",
    input_shape=(1, 3, 299, 299), variants=("separable", "depthwise", "pointwise"),
    source="Chollet 2017, Xception, figure 5 (architecture) and Table 3 (22,855,952 params); Keras "
    "applications.Xception (22,910,480 params with BN moving statistics)",
)
def build_xception(config: XceptionConfig) -> Xception:
    """The Xception of ``config``.

    >>> len(build_xception(XceptionConfig(middle_repeats=2)).middle)
    2
    """
    return Xception(config)
