"""Small trainable zoo models for ``convzoo train`` on a CPU in minutes.

* ``digits_separable``: a MobileNet-style depthwise-separable CNN classifier for small
  grayscale images (the scikit-learn digits resized to 16x16, the LFW face subset).
* ``clips_r2plus1d``: a small R(2+1)D video classifier (spatial ``1 x k x k`` conv, BN, ReLU,
  temporal ``t x 1 x 1`` conv) for short clips such as the moving-digits clips.

Both are built only from :mod:`convzoo.layers` (plus torch.nn norms, activations, pooling and
a linear classifier).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int
from convzoo.layers import Conv2d, DepthwiseSeparable, R2Plus1D
from convzoo.models.registry import register_model
from convzoo.names import renamed_fields

__all__ = [
    "SeparableClassifierConfig", "SeparableClassifier", "ClipClassifierConfig",
    "ClipClassifier",
]


@renamed_fields(width="base_channels")
@dataclass(frozen=True)
class SeparableClassifierConfig:
    """Configuration of :class:`SeparableClassifier`.

    Args:
        in_channels: input channels (default 1). num_classes: classifier outputs (default 10).
        base_channels: channels of the stem; each stride-2 block doubles them (default 32).
            Called ``width`` before 0.2 (still accepted, with a warning).
        blocks: number of stride-2 depthwise-separable blocks (default 2).
        dropout: dropout before the classifier (default 0.1).
    """

    in_channels: int = 1
    num_classes: int = 10
    base_channels: int = 32
    blocks: int = 2
    dropout: float = 0.1

    def __post_init__(self) -> None:
        for name in ("in_channels", "num_classes", "base_channels", "blocks"):
            check_int(name, getattr(self, name))
        if not isinstance(self.dropout, int | float) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` (={self.dropout!r}) must be a float in [0, 1)")


class SeparableClassifier(nn.Module):
    """Stem ``3x3`` conv + BN + ReLU, then per block a stride-1 and a stride-2
    depthwise-separable conv (BN + ReLU after the depthwise and after the pointwise part, as in
    MobileNet v1), global average pooling, dropout and a linear classifier.

    Args:
        config: a :class:`SeparableClassifierConfig`.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, num_classes)``; the last feature map is
        ``ceil(H / 2**blocks) x ceil(W / 2**blocks)`` with ``base_channels * 2**blocks``
        channels.

    >>> SeparableClassifier(SeparableClassifierConfig())(torch.randn(2, 1, 16, 16)).shape
    torch.Size([2, 10])
    """

    def __init__(self, config: SeparableClassifierConfig) -> None:
        super().__init__()
        c = config.base_channels
        layers: list[nn.Module] = [
            Conv2d(config.in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
        ]
        for _ in range(config.blocks):
            for stride, out in ((1, c), (2, 2 * c)):
                layers.append(DepthwiseSeparable(
                    c, out, 3, stride=stride, padding=1, bias=False, mid_norm=nn.BatchNorm2d,
                    mid_activation=nn.ReLU, norm=nn.BatchNorm2d, activation=nn.ReLU))
                c = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(c, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, C_in, H, W) -> (N, base_channels * 2**blocks, H', W')
        x = self.pool(x).flatten(1)  # -> (N, base_channels * 2**blocks)
        return self.classifier(self.dropout(x))  # -> (N, num_classes)


@register_model(
    "digits_separable", config=SeparableClassifierConfig,
    description="depthwise-separable CNN classifier for small grayscale images (digits, faces)",
    input_shape=(1, 1, 16, 16), variants=("separable", "depthwise", "pointwise"),
    source="MobileNet v1 blocks (Howard et al. 2017), scaled down for 16x16 inputs",
)
def build_digits_separable(config: SeparableClassifierConfig) -> nn.Module:
    """Build :class:`SeparableClassifier`."""
    return SeparableClassifier(config)


@renamed_fields(width="base_channels")
@dataclass(frozen=True)
class ClipClassifierConfig:
    """Configuration of :class:`ClipClassifier`.

    Args:
        in_channels: input channels (default 1). num_classes: classifier outputs (default 4).
        base_channels: channels of the first (2+1)D block; the second doubles them (default
            16). Called ``width`` before 0.2 (still accepted, with a warning).
    """

    in_channels: int = 1
    num_classes: int = 4
    base_channels: int = 16

    def __post_init__(self) -> None:
        for name in ("in_channels", "num_classes", "base_channels"):
            check_int(name, getattr(self, name))


class ClipClassifier(nn.Module):
    """Three R(2+1)D blocks (each a ``(2+1)D`` conv then BN + ReLU; blocks 2 and 3 stride 2 in
    time and space), global average pooling and a linear classifier.

    Args:
        config: a :class:`ClipClassifierConfig`.

    Shape:
        ``(N, C_in, T, H, W)`` -> ``(N, num_classes)``.

    >>> ClipClassifier(ClipClassifierConfig())(torch.randn(2, 1, 8, 16, 16)).shape
    torch.Size([2, 4])
    """

    def __init__(self, config: ClipClassifierConfig) -> None:
        super().__init__()
        w = config.base_channels
        plan = [(config.in_channels, w, 1), (w, 2 * w, 2), (2 * w, 2 * w, 2)]
        layers: list[nn.Module] = []
        for cin, cout, s in plan:
            layers += [R2Plus1D(cin, cout, 3, stride=s, padding=1), nn.BatchNorm3d(cout),
                       nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.classifier = nn.Linear(2 * w, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, C_in, T, H, W) -> (N, 2w, T/4, H/4, W/4)
        return self.classifier(self.pool(x).flatten(1))  # -> (N, num_classes)


@register_model(
    "clips_r2plus1d", config=ClipClassifierConfig,
    description="small R(2+1)D video classifier for short clips (moving digits)",
    input_shape=(1, 1, 8, 16, 16), variants=("r2plus1d", "conv3d"),
    source="R(2+1)D blocks (Tran et al. 2018), scaled down for 8x16x16 clips",
)
def build_clips_r2plus1d(config: ClipClassifierConfig) -> nn.Module:
    """Build :class:`ClipClassifier`."""
    return ClipClassifier(config)
