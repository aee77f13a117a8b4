"""DeepLabv3 (Chen et al. 2017): ASPP on a dilated ResNet, logits upsampled to the input size.

Chen, Papandreou, Schroff & Adam, "Rethinking Atrous Convolution for Semantic Image
Segmentation", 2017, Sec. 3.3 and Fig. 5: a ResNet-50 whose last stages replace their stride
by dilation (output stride 16: stage 4 dilated; 8: stages 3 and 4), then ASPP
(:class:`convzoo.layers.ASPP`: 1x1, three 3x3 atrous convs at rates 6/12/18 at output stride 16,
doubled at 8, image pooling; 256 channels, BatchNorm), a 1x1 classifier, bilinear upsampling.
The layout is torchvision's ``deeplabv3_resnet50`` (3x3 conv + BN + ReLU after the ASPP, then
the 1x1 classifier; optional auxiliary FCN head on stage 3), whose documented 42,004,074 params
(21 classes) include the auxiliary head; without it: 39,638,869.

``backbone='small'`` is a four-stage residual net of basic blocks (widths ``w, 2w, 4w, 8w``,
the same strides and dilation rule) for training tests on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from convzoo.arithmetic import check_int
from convzoo.layers import ASPP, Conv2d, Pointwise
from convzoo.models.registry import register_model
from convzoo.models.resnet import ResNetConfig, build_resnet_backbone
from convzoo.names import renamed_arguments, renamed_fields

__all__ = [
    "DeepLabV3Config", "DeepLabV3", "DeepLabHead", "FCNHead", "SmallBackbone", "BasicBlock",
    "build_deeplabv3", "BACKBONES",
]

BACKBONES = ("resnet50", "small")
#: dilate stages (2, 3, 4) instead of striding, per output stride (torchvision's semantics)
DILATE = {8: (False, True, True), 16: (False, False, True)}


@renamed_fields(backbone_width="backbone_base_channels")
@dataclass(frozen=True)
class DeepLabV3Config:
    """Configuration of DeepLabv3 (defaults: torchvision's ``deeplabv3_resnet50``, no aux).

    Args:
        num_classes: default 21 (PASCAL VOC). in_channels: default 3.
        output_stride: 8 (default, ASPP rates 12/24/36) or 16 (rates 6/12/18).
        backbone: ``'resnet50'`` (default) or ``'small'``.
        backbone_base_channels: ``w`` of the small backbone, the channels of its stem
            (default 16; unused for resnet50). Called ``backbone_width`` before 0.2 (still
            accepted, with a warning).
        aspp_channels: channels of the ASPP branches and the head (default 256).
        aux_classifier: add torchvision's auxiliary FCN head on stage 3; ``forward`` then
            returns ``(out, aux)`` (default False).
    """

    num_classes: int = 21
    in_channels: int = 3
    output_stride: int = 8
    backbone: str = "resnet50"
    backbone_base_channels: int = 16
    aspp_channels: int = 256
    aux_classifier: bool = False

    def __post_init__(self) -> None:
        for name in ("num_classes", "in_channels", "backbone_base_channels", "aspp_channels"):
            check_int(name, getattr(self, name))
        if self.output_stride not in DILATE:
            raise ValueError(f"`output_stride` (={self.output_stride!r}) must be one of 8, 16")
        if self.backbone not in BACKBONES:
            raise ValueError(f"`backbone` (={self.backbone!r}) must be one of 'resnet50', 'small'")
        if not isinstance(self.aux_classifier, bool):
            raise ValueError(f"`aux_classifier` (={self.aux_classifier!r}) must be a bool")

    @property
    def rates(self) -> tuple[int, int, int]:
        """ASPP atrous rates: (6, 12, 18) at output stride 16, doubled at 8."""
        m = 16 // self.output_stride
        return (6 * m, 12 * m, 18 * m)


class BasicBlock(nn.Module):
    """Two 3x3 convs (BN, ReLU) with a shortcut (1x1 conv + BN when the shape changes).

    Args:
        in_channels, out_channels, stride (of the first conv), dilation (of both convs).

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, ceil(H/stride), ceil(W/stride))``.

    >>> BasicBlock(4, 8, 2, 1)(torch.randn(1, 4, 9, 9)).shape
    torch.Size([1, 8, 5, 5])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, "same", dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = Conv2d(out_channels, out_channels, 3, 1, "same", dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                Conv2d(in_channels, out_channels, 1, stride, "same", bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)  # (N, C_out, H', W')
        y = self.relu(self.bn1(self.conv1(x)))  # (N, C_out, H', W')
        y = self.bn2(self.conv2(y))
        return self.relu(y + identity)


class SmallBackbone(nn.Module):
    """A small dilated residual backbone: 3x3 stride-2 stem, then one :class:`BasicBlock` per
    stage (widths ``w, 2w, 4w, 8w``, stride 2 each, total stride 32); dilated stages keep the
    resolution and multiply the dilation by 2 instead.

    Args:
        in_channels: ``C``. base_channels: ``w``, the stem's channels.
        replace_stride_with_dilation: for stages 2, 3, 4.

    Shape:
        ``(N, C, H, W)`` -> ``(N, 8w, H/os, W/os)`` (ceil at each stride).

    >>> SmallBackbone(1, 4, (False, True, True))(torch.randn(1, 1, 64, 64)).shape
    torch.Size([1, 32, 8, 8])
    """

    @renamed_arguments(width="base_channels")
    def __init__(self, in_channels: int, base_channels: int,
                 replace_stride_with_dilation: tuple[bool, bool, bool]) -> None:
        super().__init__()
        w = base_channels
        self.stem = nn.Sequential(Conv2d(in_channels, w, 3, 2, "same", bias=False),
                                  nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        widths = (w, 2 * w, 4 * w, 8 * w)
        dilation, c_in = 1, w
        stages = []
        for w, dilate in zip(widths, (False, *replace_stride_with_dilation), strict=True):
            stride = 2
            if dilate:
                dilation, stride = dilation * 2, 1
            stages.append(BasicBlock(c_in, w, stride, dilation))
            c_in = w
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.out_channels, self.aux_channels = widths[3], widths[2]

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{'layer3': ..., 'layer4': ...}`` (the aux head reads layer3)."""
        x = self.layer2(self.layer1(self.stem(x)))  # (N, 2w, H/8, W/8)
        layer3 = self.layer3(x)
        return {"layer3": layer3, "layer4": self.layer4(layer3)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.stem(x)))  # (N, 2w, H/8, W/8)
        return self.layer4(self.layer3(x))  # (N, 8w, H/os, W/os)


class DeepLabHead(nn.Sequential):
    """ASPP -> 3x3 conv + BN + ReLU -> 1x1 conv to the classes (torchvision's DeepLabHead).

    Shape:
        ``(N, C_in, h, w)`` -> ``(N, num_classes, h, w)``.

    >>> DeepLabHead(16, 8, 3, (1, 2, 3))(torch.randn(2, 16, 5, 5)).shape
    torch.Size([2, 3, 5, 5])
    """

    def __init__(self, in_channels: int, channels: int, num_classes: int,
                 rates: tuple[int, ...]) -> None:
        super().__init__(
            ASPP(in_channels, channels, rates, dropout=0.5),
            Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            Pointwise(channels, num_classes),
        )


class FCNHead(nn.Sequential):
    """Auxiliary head: 3x3 conv to ``C_in/4`` + BN + ReLU + dropout 0.1, 1x1 to the classes.

    >>> FCNHead(16, 3)(torch.randn(1, 16, 5, 5)).shape
    torch.Size([1, 3, 5, 5])
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        mid = in_channels // 4
        super().__init__(
            Conv2d(in_channels, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True), nn.Dropout(0.1), Pointwise(mid, num_classes),
        )


class DeepLabV3(nn.Module):
    """DeepLabv3: dilated backbone, :class:`DeepLabHead`, bilinear upsampling of the logits.

    Args:
        config: a :class:`DeepLabV3Config`.

    Shape:
        ``(N, C, H, W)`` -> ``(N, num_classes, H, W)`` (logits computed at
        ``ceil(H/os)`` and upsampled); with ``aux_classifier`` a pair ``(out, aux)``.

    >>> net = DeepLabV3(DeepLabV3Config(num_classes=3, in_channels=1, backbone="small",
    ...                                 backbone_base_channels=4, aspp_channels=8))
    >>> net(torch.randn(2, 1, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(self, config: DeepLabV3Config) -> None:
        super().__init__()
        c = config
        self.config = c
        dilate = DILATE[c.output_stride]
        if c.backbone == "resnet50":
            self.backbone: nn.Module = build_resnet_backbone(
                ResNetConfig(in_channels=c.in_channels, replace_stride_with_dilation=dilate))
            out_ch, aux_ch = 2048, 1024
        else:
            self.backbone = SmallBackbone(c.in_channels, c.backbone_base_channels, dilate)
            out_ch, aux_ch = self.backbone.out_channels, self.backbone.aux_channels
        self.classifier = DeepLabHead(out_ch, c.aspp_channels, c.num_classes, c.rates)
        self.aux = FCNHead(aux_ch, c.num_classes) if c.aux_classifier else None

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        size = x.shape[-2:]
        feats = self.backbone.features(x)  # layer3 (N, C3, H/16|8, ..), layer4 (N, C4, H/os, ..)
        out = self.classifier(feats["layer4"])  # (N, num_classes, H/os, W/os)
        out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)  # (N, K, H, W)
        if self.aux is None:
            return out
        aux = F.interpolate(self.aux(feats["layer3"]), size=size, mode="bilinear",
                            align_corners=False)
        return out, aux


@register_model(
    "deeplabv3", config=DeepLabV3Config,
    description="DeepLabv3: ASPP (atrous rates 12/24/36 at OS 8) on a dilated ResNet-50, "
    "upsampled logits",
    input_shape=(1, 3, 520, 520), variants=("aspp", "dilated", "pointwise"),
    source="Chen et al. 2017, Rethinking Atrous Convolution, Sec. 3.3, Fig. 5; torchvision "
    "deeplabv3_resnet50 (42,004,074 params with the aux head; 39,638,869 without)",
)
def build_deeplabv3(config: DeepLabV3Config) -> DeepLabV3:
    """The DeepLabv3 of ``config``.

    >>> with torch.device("meta"):
    ...     net = build_deeplabv3(DeepLabV3Config(aux_classifier=True))
    >>> sum(p.numel() for p in net.parameters())
    42004074
    """
    return DeepLabV3(config)
