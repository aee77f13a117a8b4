"""MobileNet v1 (Howard et al. 2017) and MobileNet v2 (Sandler et al. 2018).

v1 ("MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications"):
Table 1's body, a 3x3/2 conv then 13 depthwise-separable convs (depthwise 3x3 + BN + ReLU,
pointwise 1x1 + BN + ReLU), global average pool, a fully connected layer. The width multiplier
(the paper's alpha, ``width_mult`` as in torchvision's MobileNet v2) thins every layer (Table
6), the resolution (``rho = resolution / 224``) sets the reference input (Table 7); Table 8
gives the 1.0-224 model. The paper's mult-adds include the fully connected layer (1,024,000
of the 569M at 1.0) and its parameter counts include the FC weights (1,025,000 of the 4.2M);
neither counts BatchNorm (convzoo's params include the BN affine parameters: 2 per channel).

v2 ("MobileNetV2: Inverted Residuals and Linear Bottlenecks", Table 2): inverted residual
blocks (1x1 expansion + BN + ReLU6, 3x3 depthwise + BN + ReLU6, 1x1 linear projection + BN,
identity shortcut when the shape allows) in torchvision's layout (3,504,872 params).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int
from convzoo.layers import Conv2d, Depthwise, DepthwiseSeparable, Pointwise
from convzoo.models.registry import register_model
from convzoo.names import renamed_fields

__all__ = [
    "MobileNetV1Config", "MobileNetV1", "MOBILENET_V1_BODY", "build_mobilenet_v1",
    "MobileNetV2Config", "MobileNetV2", "InvertedResidual", "MOBILENET_V2_SETTINGS",
    "build_mobilenet_v2", "make_divisible",
]

#: Table 1: (output channels, stride) of the 13 depthwise-separable layers (at width 1).
MOBILENET_V1_BODY: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)

#: Table 2: (expansion t, output channels c, repeats n, first stride s) per bottleneck stage.
MOBILENET_V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)


def _fraction(name: str, value: object, upper: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= upper:
        raise ValueError(f"`{name}` (={value!r}) must be a number in (0, {upper:g}]")


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (at least ``divisor``), never
    more than 10% below it (the MobileNet v2 / TensorFlow rule).

    >>> make_divisible(32 * 0.35), make_divisible(1280 * 1.4), make_divisible(96 * 0.75)
    (16, 1792, 72)
    """
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


# --------------------------------------------------------------------------- MobileNet v1
@renamed_fields(alpha="width_mult")
@dataclass(frozen=True)
class MobileNetV1Config:
    """Configuration of MobileNet v1 (defaults: 1.0 MobileNet-224, Table 8).

    Args:
        width_mult: width multiplier, the paper's alpha, in ``(0, 1]`` (Table 6: 1, 0.75,
            0.5, 0.25); every layer has ``int(C * width_mult)`` channels. Default 1.0. Called
            ``alpha`` before 0.2 (still accepted, with a warning).
        resolution: input side (Table 7: 224, 192, 160, 128); ``rho = resolution / 224``.
            It sets the reference input shape, the network itself accepts any size >= 32.
        num_classes: default 1000. in_channels: default 3. dropout: before the classifier,
            in ``[0, 1)`` (default 0.001, as the Keras/TF-slim reference).
    """

    width_mult: float = 1.0
    resolution: int = 224
    num_classes: int = 1000
    in_channels: int = 3
    dropout: float = 0.001

    def __post_init__(self) -> None:
        _fraction("width_mult", self.width_mult, 1.0)
        for name in ("resolution", "num_classes", "in_channels"):
            check_int(name, getattr(self, name))
        if self.resolution < 32:
            raise ValueError(f"`resolution` (={self.resolution!r}) must be >= 32 (stride 32)")
        d = self.dropout
        if isinstance(d, bool) or not isinstance(d, int | float) or not 0 <= d < 1:
            raise ValueError(f"`dropout` (={d!r}) must be a number in [0, 1)")

    @property
    def rho(self) -> float:
        """Resolution multiplier ``resolution / 224``."""
        return self.resolution / 224

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """``(1, in_channels, resolution, resolution)``."""
        return (1, self.in_channels, self.resolution, self.resolution)


class MobileNetV1(nn.Module):
    """MobileNet v1: ``stem`` (3x3/2 conv + BN + ReLU), ``features`` (13
    :class:`DepthwiseSeparable` with BN + ReLU after each half), average pool, ``classifier``.

    Args:
        config: a :class:`MobileNetV1Config`.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, num_classes)``; the features are ``(N, int(1024 width_mult),
        ceil(H/32), ceil(W/32))``.

    >>> MobileNetV1(MobileNetV1Config(width_mult=0.25))(torch.randn(1, 3, 64, 64)).shape
    torch.Size([1, 1000])
    """

    def __init__(self, config: MobileNetV1Config) -> None:
        super().__init__()
        self.config = config
        width = int(32 * config.width_mult)
        self.stem = nn.Sequential(
            Conv2d(config.in_channels, width, 3, 2, padding=1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(inplace=True),
        )
        layers = []
        for channels, stride in MOBILENET_V1_BODY:
            out = int(channels * config.width_mult)
            layers.append(DepthwiseSeparable(
                width, out, 3, stride, padding=1, bias=False, mid_norm=nn.BatchNorm2d,
                mid_activation=nn.ReLU, norm=nn.BatchNorm2d, activation=nn.ReLU,
            ))
            width = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(width, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.stem(x))  # (N, 1024a, H/32, W/32)
        x = torch.flatten(self.avgpool(x), 1)  # (N, 1024a)
        return self.classifier(self.dropout(x))  # (N, num_classes)


@register_model(
    "mobilenet_v1", config=MobileNetV1Config,
    description="MobileNet v1: 13 depthwise-separable convs, width multiplier, resolution "
    "rho",
    input_shape=(1, 3, 224, 224), variants=("separable", "depthwise", "pointwise"),
    source="Howard et al. 2017, MobileNets, Table 1 (body), Table 8 (1.0-224: 569M mult-adds, 4.2M "
    "params), Tables 6-7 (width 0.75/0.5/0.25: 325/149/41M; 192/160/128: 418/290/186M)",
)
def build_mobilenet_v1(config: MobileNetV1Config) -> MobileNetV1:
    """The MobileNet v1 of ``config`` (its reference input: ``config.input_shape``).

    >>> build_mobilenet_v1(MobileNetV1Config(width_mult=0.5)).classifier
    Linear(in_features=512, out_features=1000, bias=True)
    """
    return MobileNetV1(config)


# --------------------------------------------------------------------------- MobileNet v2
@dataclass(frozen=True)
class MobileNetV2Config:
    """Configuration of MobileNet v2 (defaults: the 1.0-224 model).

    Args:
        width_mult: width multiplier (> 0, at most 4; default 1.0); channels are rounded by
            :func:`make_divisible`, the last conv keeps at least 1280.
        num_classes: default 1000. in_channels: default 3.
        dropout: before the classifier, in ``[0, 1)`` (default 0.2).
    """

    width_mult: float = 1.0
    num_classes: int = 1000
    in_channels: int = 3
    dropout: float = 0.2

    def __post_init__(self) -> None:
        _fraction("width_mult", self.width_mult, 4.0)
        for name in ("num_classes", "in_channels"):
            check_int(name, getattr(self, name))
        d = self.dropout
        if isinstance(d, bool) or not isinstance(d, int | float) or not 0 <= d < 1:
            raise ValueError(f"`dropout` (={d!r}) must be a number in [0, 1)")


def _conv_bn_relu6(conv: nn.Module, channels: int) -> nn.Sequential:
    """torchvision's ``Conv2dNormActivation``: conv, BN, ReLU6 (state_dict keys ``0.``, ``1.``)."""
    return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """MobileNet v2 bottleneck: 1x1 expansion to ``t C_in`` (+ BN + ReLU6, omitted for t = 1),
    3x3 depthwise (stride; + BN + ReLU6), 1x1 linear projection (+ BN); the input is added
    when ``stride == 1`` and ``C_in == C_out``.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``. stride: 1 or 2. expand_ratio: ``t``.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, ceil(H/s), ceil(W/s))``.

    Attributes:
        conv: the Sequential (torchvision's name); use_res_connect.

    >>> InvertedResidual(24, 24, 1, 6)(torch.randn(1, 24, 8, 8)).shape
    torch.Size([1, 24, 8, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 expand_ratio: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"`stride` (={stride!r}) must be 1 or 2")
        hidden = int(round(in_channels * expand_ratio))
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_relu6(Pointwise(in_channels, hidden, bias=False), hidden))
        layers.append(_conv_bn_relu6(Depthwise(hidden, 3, stride, 1, bias=False), hidden))
        layers += [Pointwise(hidden, out_channels, bias=False), nn.BatchNorm2d(out_channels)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)  # (N, C_out, H/s, W/s)
        return x + y if self.use_res_connect else y


class MobileNetV2(nn.Module):
    """MobileNet v2: ``features`` (3x3/2 conv, 17 :class:`InvertedResidual`, 1x1 conv to 1280,
    BN + ReLU6 after the convs), average pool, ``classifier`` (dropout, Linear). Module
    nesting and state_dict keys are torchvision's (``features.0.0.weight``, ...).

    Args:
        config: a :class:`MobileNetV2Config`.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, num_classes)``.

    >>> MobileNetV2(MobileNetV2Config(width_mult=0.35))(torch.randn(1, 3, 64, 64)).shape
    torch.Size([1, 1000])
    """

    def __init__(self, config: MobileNetV2Config) -> None:
        super().__init__()
        self.config = config
        width = make_divisible(32 * config.width_mult)
        last = make_divisible(1280 * max(1.0, config.width_mult))
        layers: list[nn.Module] = [_conv_bn_relu6(
            Conv2d(config.in_channels, width, 3, 2, padding=1, bias=False), width)]
        for t, c, n, s in MOBILENET_V2_SETTINGS:
            out = make_divisible(c * config.width_mult)
            for i in range(n):
                layers.append(InvertedResidual(width, out, s if i == 0 else 1, t))
                width = out
        layers.append(_conv_bn_relu6(Pointwise(width, last, bias=False), last))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout),
                                        nn.Linear(last, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, 1280, H/32, W/32)
        x = torch.flatten(self.avgpool(x), 1)  # (N, 1280)
        return self.classifier(x)  # (N, num_classes)


@register_model(
    "mobilenet_v2", config=MobileNetV2Config,
    description="MobileNet v2: inverted residuals with linear bottlenecks (depthwise 3x3, ReLU6)",
    input_shape=(1, 3, 224, 224), variants=("depthwise", "pointwise"),
    source="Sandler et al. 2018, MobileNetV2, Table 2 (body) and Table 4 (300M mult-adds, 3.4M "
    "params); torchvision mobilenet_v2 (3,504,872 params, 0.30 GFLOPS = GMACs)",
)
def build_mobilenet_v2(config: MobileNetV2Config) -> MobileNetV2:
    """The MobileNet v2 of ``config``.

    >>> build_mobilenet_v2(MobileNetV2Config(num_classes=10)).classifier[1]
    Linear(in_features=1280, out_features=10, bias=True)
    """
    return MobileNetV2(config)
