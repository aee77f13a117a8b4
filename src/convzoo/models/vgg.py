"""VGG-16 (Simonyan & Zisserman 2015, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", Table 1 configuration D; Table 2: 138M parameters).

Thirteen 3x3 convolutions (stride 1, padding 1, with bias) in five stages separated by 2x2
max pools, then three fully connected layers. The layout is torchvision's ``vgg16`` (an
adaptive 7x7 average pool before the classifier, dropout 0.5), so the parameter count
matches its documented 138,357,544 exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int
from convzoo.layers import Conv2d
from convzoo.models.registry import register_model

__all__ = ["VGGConfig", "VGG", "VGG16_STAGES", "build_vgg"]

#: Configuration D: output channels of the 3x3 convs, one tuple per stage (a max pool after each).
VGG16_STAGES: tuple[tuple[int, ...], ...] = (
    (64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512),
)


@dataclass(frozen=True)
class VGGConfig:
    """Configuration of VGG-16 (defaults: the ImageNet model).

    Args:
        num_classes: classifier outputs (default 1000). in_channels: default 3.
        batch_norm: BatchNorm after every conv (torchvision's ``vgg16_bn``; default False).
        hidden: width of the two hidden fully connected layers (default 4096).
        dropout: dropout probability in the classifier, in ``[0, 1)`` (default 0.5).
    """

    num_classes: int = 1000
    in_channels: int = 3
    batch_norm: bool = False
    hidden: int = 4096
    dropout: float = 0.5

    def __post_init__(self) -> None:
        for name in ("num_classes", "in_channels", "hidden"):
            check_int(name, getattr(self, name))
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"`batch_norm` (={self.batch_norm!r}) must be a bool")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float) \
                or not 0 <= self.dropout < 1:
            raise ValueError(f"`dropout` (={self.dropout!r}) must be a number in [0, 1)")


class VGG(nn.Module):
    """VGG-16: ``features`` (13 convs + ReLU, 5 max pools), ``avgpool`` (adaptive 7x7),
    ``classifier`` (Linear 25088 -> 4096 -> 4096 -> classes, ReLU and dropout between).

    Args:
        config: a :class:`VGGConfig`.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, num_classes)``; ``H, W >= 32`` (five 2x2 pools).

    Attributes:
        features, avgpool, classifier (torchvision's names and indices).

    >>> VGG(VGGConfig(hidden=32, num_classes=10))(torch.randn(1, 3, 32, 32)).shape
    torch.Size([1, 10])
    """

    def __init__(self, config: VGGConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels = config.in_channels
        for stage in VGG16_STAGES:
            for out in stage:
                layers.append(Conv2d(channels, out, 3, padding=1))
                if config.batch_norm:
                    layers.append(nn.BatchNorm2d(out))
                layers.append(nn.ReLU(inplace=True))
                channels = out
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(
            nn.Linear(channels * 7 * 7, config.hidden), nn.ReLU(True), nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.hidden), nn.ReLU(True), nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, 512, H/32, W/32)
        x = torch.flatten(self.avgpool(x), 1)  # (N, 512*7*7)
        return self.classifier(x)  # (N, num_classes)


@register_model(
    "vgg16", config=VGGConfig,
    description="VGG-16 (configuration D): thirteen 3x3 convs, three fully connected layers",
    input_shape=(1, 3, 224, 224), variants=("conv",),
    source="Simonyan & Zisserman 2015, Very Deep Convolutional Networks, Tables 1-2 (config D, "
    "138M "
    "params); torchvision vgg16 (138,357,544 params, 15.47 GFLOPS = GMACs)",
)
def build_vgg(config: VGGConfig) -> VGG:
    """The VGG-16 of ``config``.

    >>> build_vgg(VGGConfig(hidden=16, num_classes=2)).classifier[-1]
    Linear(in_features=16, out_features=2, bias=True)
    """
    return VGG(config)
