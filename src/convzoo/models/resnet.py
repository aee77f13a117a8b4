"""ResNet-50 v1.5 and ResNeXt-50 (32x4d), and the (dilated) ResNet backbone for DeepLabv3.

He et al. 2016, "Deep Residual Learning for Image Recognition" (Table 1, 50-layer column) with
the v1.5 change of torchvision (the stride of a downsampling bottleneck sits on its 3x3 conv,
not on its first 1x1); Xie et al. 2017, "Aggregated Residual Transformations for Deep Neural
Networks" (Table 1, ResNeXt-50 32x4d: the 3x3 conv is a grouped conv of 32 groups of width 4).
The layer structure (bias flags, BatchNorm, classifier) is torchvision's, so the parameter
counts match torchvision's documented ones exactly and its state_dicts load.

Backbone (DeepLabv3, Chen et al. 2017): :func:`resnet50_backbone` (or
:func:`build_resnet_backbone` for any config) returns the body without avgpool/fc;
``replace_stride_with_dilation=(False, True, True)`` gives output stride 8,
``(False, False, True)`` output stride 16.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int, is_int
from convzoo.layers import Conv2d, GroupConv, Pointwise
from convzoo.models.registry import register_model

__all__ = [
    "ResNetConfig", "ResNeXtConfig", "Bottleneck", "ResNet", "ResNetBackbone", "build_resnet",
    "build_resnet_backbone", "resnet50_backbone",
]

EXPANSION = 4  # bottleneck output channels = 4 x planes


@dataclass(frozen=True)
class ResNetConfig:
    """Configuration of a bottleneck ResNet / ResNeXt (defaults: ResNet-50 v1.5, ImageNet).

    Args:
        layers: bottleneck blocks per stage (default ``(3, 4, 6, 3)``; ResNet-101:
            ``(3, 4, 23, 3)``).
        groups: groups of every 3x3 conv (default 1; ResNeXt: the cardinality, 32).
        width_per_group: width of one group of the 3x3 conv at the first stage (default 64);
            stage ``i`` uses ``int(planes * width_per_group / 64) * groups`` channels.
        num_classes: classifier outputs (default 1000). in_channels: input channels (default 3).
        replace_stride_with_dilation: for stages 2, 3, 4: keep the resolution and dilate the
            3x3 convs instead of striding (default ``(False, False, False)``).
    """

    layers: tuple[int, int, int, int] = (3, 4, 6, 3)
    groups: int = 1
    width_per_group: int = 64
    num_classes: int = 1000
    in_channels: int = 3
    replace_stride_with_dilation: tuple[bool, bool, bool] = (False, False, False)

    def __post_init__(self) -> None:
        layers = self.layers
        if (not isinstance(layers, tuple) or len(layers) != 4
                or not all(is_int(n) and n >= 1 for n in layers)):
            raise ValueError(f"`layers` (={layers!r}) must be a tuple of 4 positive ints")
        for name in ("groups", "width_per_group", "num_classes", "in_channels"):
            check_int(name, getattr(self, name))
        dil = self.replace_stride_with_dilation
        if (not isinstance(dil, tuple) or len(dil) != 3
                or not all(isinstance(b, bool) for b in dil)):
            raise ValueError(
                f"`replace_stride_with_dilation` (={dil!r}) must be a tuple of 3 bools "
                "(stages 2, 3, 4)"
            )

    @property
    def output_stride(self) -> int:
        """Input size / feature size of the body: 32, halved by each dilated stage."""
        return 32 // 2 ** sum(self.replace_stride_with_dilation)


@dataclass(frozen=True)
class ResNeXtConfig(ResNetConfig):
    """:class:`ResNetConfig` with ResNeXt-50 32x4d's defaults (``groups=32``,
    ``width_per_group=4``)."""

    groups: int = 32
    width_per_group: int = 4


class Bottleneck(nn.Module):
    """Bottleneck block v1.5: 1x1 reduce -> 3x3 (stride, dilation, groups) -> 1x1 expand, each
    followed by BN (ReLU after the first two), plus the shortcut (identity, or a strided 1x1
    conv + BN when the shape changes), then ReLU.

    Args:
        in_channels: ``C_in``. planes: ``P``; the block outputs ``4P`` channels.
        stride: of the 3x3 conv (default 1). groups: of the 3x3 conv (default 1).
        width_per_group: see :class:`ResNetConfig` (default 64).
        dilation: of the 3x3 conv (padding = dilation; default 1).

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, 4P, H', W')``, ``H' = floor((H - 1)/stride) + 1``.

    Attributes:
        conv1 (:class:`Pointwise`), conv2 (:class:`Conv2d` or :class:`GroupConv`),
        conv3 (:class:`Pointwise`), bn1..bn3, downsample (Sequential or None).

    >>> Bottleneck(64, 64, stride=2)(torch.randn(1, 64, 8, 8)).shape
    torch.Size([1, 256, 4, 4])
    """

    def __init__(self, in_channels: int, planes: int, stride: int = 1, groups: int = 1,
                 width_per_group: int = 64, dilation: int = 1) -> None:
        super().__init__()
        width = int(planes * (width_per_group / 64.0)) * groups
        out = planes * EXPANSION
        self.conv1 = Pointwise(in_channels, width, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        if groups == 1:
            self.conv2: nn.Module = Conv2d(width, width, 3, stride, dilation, dilation,
                                           bias=False)
        else:
            self.conv2 = GroupConv(width, width, 3, groups, stride, dilation, dilation,
                                   bias=False, ndim=2)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = Pointwise(width, out, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out:
            self.downsample = nn.Sequential(
                Conv2d(in_channels, out, 1, stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)  # (N, 4P, H', W')
        y = self.relu(self.bn1(self.conv1(x)))  # (N, width, H, W)
        y = self.relu(self.bn2(self.conv2(y)))  # (N, width, H', W')
        y = self.bn3(self.conv3(y))  # (N, 4P, H', W')
        return self.relu(y + identity)


class ResNetBackbone(nn.Module):
    """The ResNet body: stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool) and stages
    ``layer1``..``layer4``, without avgpool/fc.

    Args:
        config: a :class:`ResNetConfig` (``num_classes`` is unused here).

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, 2048, H/os, W/os)`` (``os`` = ``config.output_stride``,
        ceil division at each stride-2 step).

    Attributes:
        conv1, bn1, relu, maxpool, layer1..layer4; ``out_channels`` (2048),
        ``stage_channels`` (256, 512, 1024, 2048), ``output_stride``.

    >>> body = ResNetBackbone(ResNetConfig(layers=(1, 1, 1, 1),
    ...                                    replace_stride_with_dilation=(False, True, True)))
    >>> body(torch.randn(1, 3, 64, 64)).shape, body.output_stride
    (torch.Size([1, 2048, 8, 8]), 8)
    >>> {k: tuple(v.shape) for k, v in body.features(torch.randn(1, 3, 64, 64)).items()}
    ... # doctest: +NORMALIZE_WHITESPACE
    {'layer1': (1, 256, 16, 16), 'layer2': (1, 512, 8, 8), 'layer3': (1, 1024, 8, 8),
     'layer4': (1, 2048, 8, 8)}
    """

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        self.conv1 = Conv2d(config.in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self._in, self._dilation = 64, 1
        dil = config.replace_stride_with_dilation
        self.layer1 = self._stage(64, config.layers[0], 1, False)
        self.layer2 = self._stage(128, config.layers[1], 2, dil[0])
        self.layer3 = self._stage(256, config.layers[2], 2, dil[1])
        self.layer4 = self._stage(512, config.layers[3], 2, dil[2])
        self.out_channels = 512 * EXPANSION
        self.stage_channels = tuple(p * EXPANSION for p in (64, 128, 256, 512))
        self.output_stride = config.output_stride

    def _stage(self, planes: int, blocks: int, stride: int, dilate: bool) -> nn.Sequential:
        # torchvision's rule: the first block of a dilated stage keeps the previous dilation
        previous = self._dilation
        if dilate:
            self._dilation *= stride
            stride = 1
        c = self.config
        layers = [Bottleneck(self._in, planes, stride, c.groups, c.width_per_group, previous)]
        self._in = planes * EXPANSION
        layers += [Bottleneck(self._in, planes, 1, c.groups, c.width_per_group, self._dilation)
                   for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every stage's output: ``{'layer1': (N, 256, H/4, W/4), ..., 'layer4': ...}`` (DeepLab
        uses ``'layer4'`` as ``out`` and ``'layer3'`` for the auxiliary head)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        out = {}
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            out[name] = x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        x = self.layer1(x)  # (N, 256, H/4, W/4)
        x = self.layer2(x)  # (N, 512, H/8, W/8)
        x = self.layer3(x)  # (N, 1024, H/16, W/16) (H/8 if dilated)
        return self.layer4(x)  # (N, 2048, H/os, W/os)


class ResNet(nn.Module):
    """Bottleneck ResNet classifier: :class:`ResNetBackbone`, global average pool, ``fc``.

    Parameter/attribute names are torchvision's (``conv1``, ``layer1.0.conv2.weight``, ``fc``).

    Args:
        config: a :class:`ResNetConfig`.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, num_classes)``.

    >>> ResNet(ResNetConfig(layers=(1, 1, 1, 1), num_classes=10))(torch.randn(1, 3, 64, 64)).shape
    torch.Size([1, 10])
    """

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        body = ResNetBackbone(config)
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            setattr(self, name, getattr(body, name))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(body.out_channels, config.num_classes)
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (N, 2048, H/os, W/os)
        x = torch.flatten(self.avgpool(x), 1)  # (N, 2048)
        return self.fc(x)  # (N, num_classes)


def _init(model: nn.Module) -> None:
    """torchvision's init: kaiming-normal (fan_out, relu) convs, BN weight 1 / bias 0."""
    for m in model.modules():
        if isinstance(m, Conv2d | GroupConv | Pointwise):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_resnet(config: ResNetConfig) -> ResNet:
    """The ResNet/ResNeXt classifier of ``config``.

    >>> sum(p.numel() for p in build_resnet(ResNetConfig(layers=(1, 1, 1, 1))).parameters())
    10064936
    """
    return ResNet(config)


def build_resnet_backbone(config: ResNetConfig) -> ResNetBackbone:
    """The body of ``config``'s ResNet (no avgpool/fc), torchvision-initialised.

    >>> build_resnet_backbone(ResNetConfig(layers=(1, 1, 1, 1))).out_channels
    2048
    """
    body = ResNetBackbone(config)
    _init(body)
    return body


def resnet50_backbone(
    replace_stride_with_dilation: tuple[bool, bool, bool] = (False, False, False),
    in_channels: int = 3,
) -> ResNetBackbone:
    """ResNet-50 v1.5 body for dense prediction (DeepLabv3): ``(False, True, True)`` gives
    output stride 8, ``(False, False, True)`` 16, the default 32.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, 2048, H/os, W/os)``.

    >>> body = resnet50_backbone((False, False, True))
    >>> body.output_stride, body.out_channels, body(torch.randn(1, 3, 64, 64)).shape
    (16, 2048, torch.Size([1, 2048, 4, 4]))
    """
    return build_resnet_backbone(ResNetConfig(
        in_channels=in_channels, replace_stride_with_dilation=replace_stride_with_dilation))


register_model(
    "resnet50", config=ResNetConfig,
    description="ResNet-50 v1.5: bottleneck residual blocks, stride on the 3x3 (torchvision "
    "layout)",
    input_shape=(1, 3, 224, 224), variants=("conv", "pointwise"),
    source="He et al. 2016, Deep Residual Learning, Table 1 (50-layer); torchvision resnet50 "
    "(25,557,032 params, 4.09 GFLOPS = GMACs)",
)(build_resnet)

register_model(
    "resnext50_32x4d", config=ResNeXtConfig,
    description="ResNeXt-50 32x4d: ResNet-50 whose 3x3 convs are grouped (32 groups of width 4)",
    input_shape=(1, 3, 224, 224), variants=("group", "pointwise"),
    source="Xie et al. 2017, Aggregated Residual Transformations, Table 1 (ResNeXt-50 32x4d); "
    "torchvision resnext50_32x4d (25,028,904 params, 4.23 GFLOPS = GMACs)",
)(build_resnet)
