"""ShuffleNet v1 (Zhang et al. 2017) and ShuffleNet v2 (Ma et al. 2018).

v1 ("ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile Devices"):
Table 1's network, a 3x3/2 conv (24 channels) and a 3x3/2 max pool, then stages of
:class:`~convzoo.layers.ShuffleUnit` (1x1 group conv, channel shuffle, 3x3 depthwise, 1x1 group
conv; 4/8/4 units, the first of each with stride 2), global pool and FC. ``groups`` picks the
Table 1 column; ``width_mult`` s multiplies every filter count ("ShuffleNet s x", Table 2). Scaled
stage widths are rounded to the nearest multiple of ``4 g`` (the bottleneck, a quarter of a
unit's width, must split into g groups; at 1x this changes nothing). The stem is not scaled
by s: its widths per scale are :data:`SHUFFLENET_V1_STEM` (the authors' reference code,
Megvii's ShuffleNet-Series, for 0.5x-2x; 12 at 0.25x), rounded to a multiple of g; with them
g = 3 gives Table 2's 13M (0.25x) and 38M (0.5x) and the 292M (1.5x) and 524M (2x) of the
paper's comparison tables. Table 1's per-g complexities (143/140/137/133/137M at 1x) are
reproduced without the final FC layer; Table 2 and the later tables include it.

v2 ("ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design", Table 5):
units that split the channels in two halves (stride 1) or duplicate the input (stride 2), a
branch of 1x1 conv / 3x3 depthwise / 1x1 conv, concatenation and a 2-group channel shuffle;
torchvision's layout (``shufflenet_v2_x0_5`` .. ``x2_0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int, is_int
from convzoo.layers import ChannelShuffle, Conv2d, Depthwise, Pointwise, ShuffleUnit
from convzoo.models.registry import register_model
from convzoo.names import renamed_fields

__all__ = [
    "ShuffleNetV1Config", "ShuffleNetV1", "SHUFFLENET_V1_CHANNELS", "SHUFFLENET_V1_STEM",
    "build_shufflenet_v1", "shufflenet_v1_channels", "ShuffleNetV2Config", "ShuffleNetV2",
    "ShuffleV2Unit", "SHUFFLENET_V2_CHANNELS", "build_shufflenet_v2",
]

#: Table 1: output channels of stages 2, 3, 4 at 1x, per number of groups g.
SHUFFLENET_V1_CHANNELS: dict[int, tuple[int, int, int]] = {
    1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088),
    8: (384, 768, 1536),
}
STAGE_REPEATS = (4, 8, 4)  # units per stage (v1 and v2)
V1_SCALES = (0.25, 0.5, 1.0, 1.5, 2.0)
#: Stem (conv1) width per scale s, before rounding to a multiple of g.
SHUFFLENET_V1_STEM: dict[float, int] = {0.25: 12, 0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}

#: torchvision: (stem, stage 2, stage 3, stage 4, conv5) output channels per width.
SHUFFLENET_V2_CHANNELS: dict[float, tuple[int, int, int, int, int]] = {
    0.5: (24, 48, 96, 192, 1024), 1.0: (24, 116, 232, 464, 1024),
    1.5: (24, 176, 352, 704, 1024), 2.0: (24, 244, 488, 976, 2048),
}


# --------------------------------------------------------------------------- ShuffleNet v1
@renamed_fields(scale="width_mult")
@dataclass(frozen=True)
class ShuffleNetV1Config:
    """Configuration of ShuffleNet v1 (defaults: ShuffleNet 1x, g = 3).

    Args:
        groups: g of the 1x1 group convs, one of 1, 2, 3, 4, 8 (Table 1; default 3).
        width_mult: the paper's filter multiplier s, one of 0.25, 0.5, 1.0, 1.5, 2.0
            (Table 2; default 1.0). Called ``scale`` before 0.2 (still accepted, with a
            warning).
        num_classes: default 1000. in_channels: default 3.
    """

    groups: int = 3
    width_mult: float = 1.0
    num_classes: int = 1000
    in_channels: int = 3

    def __post_init__(self) -> None:
        if not is_int(self.groups) or self.groups not in SHUFFLENET_V1_CHANNELS:
            raise ValueError(f"`groups` (={self.groups!r}) must be one of 1, 2, 3, 4, 8")
        if isinstance(self.width_mult, bool) or self.width_mult not in V1_SCALES:
            raise ValueError(
                f"`width_mult` (={self.width_mult!r}) must be one of 0.25, 0.5, 1.0, 1.5, 2.0")
        for name in ("num_classes", "in_channels"):
            check_int(name, getattr(self, name))


def shufflenet_v1_channels(groups: int, width_mult: float) -> tuple[int, int, int, int]:
    """Stem and stage 2-4 widths: the stages are Table 1 scaled by s, rounded to multiples of
    4g; the stem is :data:`SHUFFLENET_V1_STEM` rounded to a multiple of g.

    >>> shufflenet_v1_channels(3, 1.0), shufflenet_v1_channels(8, 0.5)
    ((24, 240, 480, 960), (16, 192, 384, 768))
    """
    quantum = 4 * groups
    stages = tuple(max(quantum, round(c * width_mult / quantum) * quantum)
                   for c in SHUFFLENET_V1_CHANNELS[groups])
    stem = max(groups, round(SHUFFLENET_V1_STEM[width_mult] / groups) * groups)
    return (stem, *stages)  # type: ignore[return-value]


class ShuffleNetV1(nn.Module):
    """ShuffleNet v1: ``conv1`` (3x3/2 + BN + ReLU), ``maxpool`` (3x3/2), ``stage2``..``stage4``
    of :class:`ShuffleUnit`, global average pool, ``fc``.

    Args:
        config: a :class:`ShuffleNetV1Config`.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, num_classes)`` (stage 4 at ``ceil(H/32)``).

    >>> ShuffleNetV1(ShuffleNetV1Config(groups=8, width_mult=0.25))(torch.randn(1, 3, 64, 64)
    ... ).shape
    torch.Size([1, 1000])
    """

    def __init__(self, config: ShuffleNetV1Config) -> None:
        super().__init__()
        self.config = config
        g = config.groups
        stem, *widths = shufflenet_v1_channels(g, config.width_mult)
        self.conv1 = nn.Sequential(
            Conv2d(config.in_channels, stem, 3, 2, padding=1, bias=False),
            nn.BatchNorm2d(stem), nn.ReLU(inplace=True),
        )
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        channels = stem
        for index, (width, repeats) in enumerate(zip(widths, STAGE_REPEATS, strict=True)):
            units = [ShuffleUnit(channels, width, g, stride=2, first_group_conv=index > 0)]
            units += [ShuffleUnit(width, width, g) for _ in range(repeats - 1)]
            setattr(self, f"stage{index + 2}", nn.Sequential(*units))
            channels = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))  # (N, stem, H/4, W/4)
        x = self.stage4(self.stage3(self.stage2(x)))  # (N, C4, H/32, W/32)
        return self.fc(torch.flatten(self.avgpool(x), 1))  # (N, num_classes)


@register_model(
    "shufflenet_v1", config=ShuffleNetV1Config,
    description="ShuffleNet v1: 1x1 group convs with channel shuffle around a 3x3 depthwise conv",
    input_shape=(1, 3, 224, 224), variants=("group", "shuffle", "depthwise"),
    source="Zhang et al. 2017, ShuffleNet, Table 1 (channels per g; 143/140/137/133/137 MFLOPs for "
    "g = 1/2/3/4/8) and Table 2 (1x 140, 0.5x 38, 0.25x 13 MFLOPs = mult-adds)",
)
def build_shufflenet_v1(config: ShuffleNetV1Config) -> ShuffleNetV1:
    """The ShuffleNet v1 of ``config``.

    >>> build_shufflenet_v1(ShuffleNetV1Config(groups=2)).fc
    Linear(in_features=800, out_features=1000, bias=True)
    """
    return ShuffleNetV1(config)


# --------------------------------------------------------------------------- ShuffleNet v2
@renamed_fields(width="width_mult")
@dataclass(frozen=True)
class ShuffleNetV2Config:
    """Configuration of ShuffleNet v2 (defaults: 1x).

    Args:
        width_mult: one of 0.5, 1.0, 1.5, 2.0 (torchvision ``shufflenet_v2_x0_5`` ..
            ``x2_0``). Called ``width`` before 0.2 (still accepted, with a warning).
        num_classes: default 1000. in_channels: default 3.
    """

    width_mult: float = 1.0
    num_classes: int = 1000
    in_channels: int = 3

    def __post_init__(self) -> None:
        if isinstance(self.width_mult, bool) or self.width_mult not in SHUFFLENET_V2_CHANNELS:
            raise ValueError(
                f"`width_mult` (={self.width_mult!r}) must be one of 0.5, 1.0, 1.5, 2.0")
        for name in ("num_classes", "in_channels"):
            check_int(name, getattr(self, name))


def _pw_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [Pointwise(cin, cout, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _dw_bn(channels: int, stride: int) -> list[nn.Module]:
    return [Depthwise(channels, 3, stride, 1, bias=False), nn.BatchNorm2d(channels)]


class ShuffleV2Unit(nn.Module):
    """ShuffleNet v2 unit (figure 3 c/d). Stride 1: split the channels in halves, keep the first,
    run the second through ``branch2`` (1x1 + BN + ReLU, 3x3 depthwise + BN, 1x1 + BN + ReLU);
    stride 2: ``branch1`` (3x3/2 depthwise + BN, 1x1 + BN + ReLU) and ``branch2`` both see the
    whole input. Concatenate, then shuffle with 2 groups.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out`` (even; equal when stride is 1).
        stride: 1 or 2.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, ceil(H/s), ceil(W/s))``.

    >>> ShuffleV2Unit(24, 48, 2)(torch.randn(1, 24, 8, 8)).shape
    torch.Size([1, 48, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"`stride` (={stride!r}) must be 1 or 2")
        if out_channels % 2:
            raise ValueError(f"`out_channels` (={out_channels}) must be even (two branches)")
        if stride == 1 and in_channels != out_channels:
            raise ValueError(
                f"`out_channels` (={out_channels}) must equal `in_channels` (={in_channels}) "
                "for stride 1 (the channels are split in halves)"
            )
        half = out_channels // 2
        self.stride = stride
        self.branch1 = nn.Sequential(*_dw_bn(in_channels, stride),
                                     *_pw_bn_relu(in_channels, half)) if stride == 2 else None
        self.branch2 = nn.Sequential(
            *_pw_bn_relu(in_channels if stride == 2 else half, half),
            *_dw_bn(half, stride), *_pw_bn_relu(half, half),
        )
        self.shuffle = ChannelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.branch1 is None:
            x1, x2 = x.chunk(2, dim=1)  # 2 x (N, C/2, H, W)
            out = torch.cat((x1, self.branch2(x2)), dim=1)  # (N, C, H, W)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)  # (N, C_out, H/2, W/2)
        return self.shuffle(out)


class ShuffleNetV2(nn.Module):
    """ShuffleNet v2: ``conv1`` (3x3/2 + BN + ReLU), ``maxpool``, ``stage2``..``stage4`` of
    :class:`ShuffleV2Unit`, ``conv5`` (1x1 + BN + ReLU), spatial mean, ``fc``. Parameter names
    are torchvision's.

    Args:
        config: a :class:`ShuffleNetV2Config`.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, num_classes)``.

    >>> ShuffleNetV2(ShuffleNetV2Config(width_mult=0.5))(torch.randn(1, 3, 64, 64)).shape
    torch.Size([1, 1000])
    """

    def __init__(self, config: ShuffleNetV2Config) -> None:
        super().__init__()
        self.config = config
        stem, *widths, last = SHUFFLENET_V2_CHANNELS[config.width_mult]
        self.conv1 = nn.Sequential(
            Conv2d(config.in_channels, stem, 3, 2, padding=1, bias=False),
            nn.BatchNorm2d(stem), nn.ReLU(inplace=True),
        )
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        channels = stem
        for index, (width, repeats) in enumerate(zip(widths, STAGE_REPEATS, strict=True)):
            units = [ShuffleV2Unit(channels, width, 2)]
            units += [ShuffleV2Unit(width, width, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{index + 2}", nn.Sequential(*units))
            channels = width
        self.conv5 = nn.Sequential(*_pw_bn_relu(channels, last))
        self.fc = nn.Linear(last, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))  # (N, 24, H/4, W/4)
        x = self.stage4(self.stage3(self.stage2(x)))  # (N, C4, H/32, W/32)
        x = self.conv5(x).mean([2, 3])  # (N, last)
        return self.fc(x)  # (N, num_classes)


@register_model(
    "shufflenet_v2", config=ShuffleNetV2Config,
    description="ShuffleNet v2: channel split, depthwise branch, concat and 2-group channel "
    "shuffle",
    input_shape=(1, 3, 224, 224), variants=("shuffle", "depthwise", "pointwise"),
    source="Ma et al. 2018, ShuffleNet V2, Table 5 (0.5x/1x/1.5x/2x: 41/146/299/591 MFLOPs); "
    "torchvision shufflenet_v2_x0_5..x2_0 (1,366,792 / 2,278,604 / 3,503,624 / 7,393,996 "
    "params; 0.04/0.14/0.30/0.58 GFLOPS = GMACs)",
)
def build_shufflenet_v2(config: ShuffleNetV2Config) -> ShuffleNetV2:
    """The ShuffleNet v2 of ``config``.

    >>> build_shufflenet_v2(ShuffleNetV2Config(width_mult=2.0)).fc
    Linear(in_features=2048, out_features=1000, bias=True)
    """
    return ShuffleNetV2(config)
