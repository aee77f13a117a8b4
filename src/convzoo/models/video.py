"""Video nets: C3D (3x3x3 convs) and R(2+1)D-18 (3-D convs factored into spatial + temporal).

C3D: Tran et al., "Learning Spatiotemporal Features with 3D Convolutional Networks", ICCV
2015, Sec. 3.3 and Fig. 3: 3x16x112x112 clips, 8 convs 3x3x3 (64, 128, 256x2, 512x2, 512x2),
5 max pools (pool1 1x2x2, the others 2x2x2), fc6 and fc7 of 4096, softmax over 487 classes
(Sports-1M; 101 for UCF101). pool5 pads H and W by 1 (the released Caffe model), so the
flattened pool5 is 512x1x4x4 = 8192.

R(2+1)D-18: Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action
Recognition", CVPR 2018, Table 1 (18-layer column) with every 3x3x3 conv replaced by a
(2+1)D block (:class:`convzoo.layers.R2Plus1D`); layout as torchvision's ``r2plus1d_18``
(31,505,325 params, 40.52 GFLOPS = GMACs at 16x112x112, 400 classes), whose mid-channel
counts are the paper's rule ``M = floor(t*k*k*C_in*C_out / (k*k*C_in + t*C_out))`` evaluated
once per block from the block's input and output channels (so a block's second conv reuses
the first's ``M``) and 45 in the stem. ``mid_channels='paper'`` applies the rule per conv.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int, is_int
from convzoo.layers import Conv3d, R2Plus1D
from convzoo.layers.r2plus1d import r2plus1d_mid_channels
from convzoo.models.registry import register_model

__all__ = [
    "C3DConfig", "C3D", "build_c3d", "R2Plus1DConfig", "R2Plus1DNet", "R2Plus1DBlock",
    "build_r2plus1d", "MID_CHANNEL_RULES",
]

MID_CHANNEL_RULES = ("torchvision", "paper")


def _int_tuple(name: str, value: object, length: int) -> None:
    if (not isinstance(value, tuple) or len(value) != length
            or not all(is_int(v) and v >= 1 for v in value)):
        raise ValueError(f"`{name}` (={value!r}) must be a tuple of {length} positive ints")


# ---------------------------------------------------------------------------------------- C3D

#: C3D's pools: (kernel = stride, padding) per axis (T, H, W)
C3D_POOLS = (((1, 2, 2), (0, 0, 0)), ((2, 2, 2), (0, 0, 0)), ((2, 2, 2), (0, 0, 0)),
             ((2, 2, 2), (0, 0, 0)), ((2, 2, 2), (0, 1, 1)))
#: convs before each pool, as multiples of ``base_channels``
C3D_STAGES = ((1,), (2,), (4, 4), (8, 8), (8, 8))


@dataclass(frozen=True)
class C3DConfig:
    """Configuration of C3D (defaults: the paper's Sports-1M network).

    Args:
        in_channels: default 3. num_classes: default 487 (101 for UCF101).
        base_channels: width of conv1a; the convs have 1, 2, 4, 4, 8, 8, 8, 8 times it
            (default 64). fc_features: width of fc6 and fc7 (default 4096).
        clip_shape: input ``(T, H, W)`` (default ``(16, 112, 112)``); fixes fc6's input size.
        dropout: before fc7 and fc8 (default 0.5).
    """

    in_channels: int = 3
    num_classes: int = 487
    base_channels: int = 64
    fc_features: int = 4096
    clip_shape: tuple[int, int, int] = (16, 112, 112)
    dropout: float = 0.5

    def __post_init__(self) -> None:
        for name in ("in_channels", "num_classes", "base_channels", "fc_features"):
            check_int(name, getattr(self, name))
        _int_tuple("clip_shape", self.clip_shape, 3)
        if not isinstance(self.dropout, int | float) or not 0 <= self.dropout < 1:
            raise ValueError(f"`dropout` (={self.dropout!r}) must be a number in [0, 1)")
        if min(self.pool5_shape) < 1:
            raise ValueError(
                f"`clip_shape` (={self.clip_shape!r}) is too small: pool5 would be "
                f"{self.pool5_shape} (T >= 16 and H, W >= 16 needed)"
            )

    @property
    def pool5_shape(self) -> tuple[int, int, int]:
        """``(T, H, W)`` after pool5 (convs keep the size; pool ``out = (in + 2p - k)//k + 1``)."""
        size = list(self.clip_shape)
        for kernel, pad in C3D_POOLS:
            size = [(s + 2 * p - k) // k + 1 for s, k, p in zip(size, kernel, pad, strict=True)]
        return (size[0], size[1], size[2])


class C3D(nn.Module):
    """C3D: five stages of 3x3x3 convs ('same', ReLU) each ending in a max pool, fc6, fc7, fc8.

    Args:
        config: a :class:`C3DConfig`.

    Shape:
        ``(N, C, T, H, W)`` (``(T, H, W)`` = ``clip_shape``) -> ``(N, num_classes)`` logits.

    >>> cfg = C3DConfig(in_channels=1, num_classes=10, base_channels=4, fc_features=32,
    ...                 clip_shape=(16, 32, 32))
    >>> C3D(cfg)(torch.randn(2, 1, 16, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, config: C3DConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        layers: list[nn.Module] = []
        channels = c.in_channels
        for stage, (kernel, pad) in zip(C3D_STAGES, C3D_POOLS, strict=True):
            for mult in stage:
                layers += [Conv3d(channels, mult * c.base_channels, 3, padding=1), nn.ReLU(True)]
                channels = mult * c.base_channels
            layers.append(nn.MaxPool3d(kernel, kernel, pad))
        self.features = nn.Sequential(*layers)
        flat = channels * c.pool5_shape[0] * c.pool5_shape[1] * c.pool5_shape[2]
        self.classifier = nn.Sequential(
            nn.Linear(flat, c.fc_features), nn.ReLU(True), nn.Dropout(c.dropout),  # fc6
            nn.Linear(c.fc_features, c.fc_features), nn.ReLU(True), nn.Dropout(c.dropout),  # fc7
            nn.Linear(c.fc_features, c.num_classes),  # fc8
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.compiler.is_compiling() and tuple(x.shape[2:]) != self.config.clip_shape:
            raise ValueError(
                f"`input` shape (={tuple(x.shape)}) must be (N, C, *clip_shape) with clip_shape "
                f"{self.config.clip_shape}"
            )
        x = self.features(x)  # (N, C, 16, 112, 112) -> (N, 512, 1, 4, 4)
        return self.classifier(torch.flatten(x, 1))  # (N, 8192) -> (N, num_classes)


@register_model(
    "c3d", config=C3DConfig,
    description="C3D: 8 convs 3x3x3 + 5 max pools + fc6/fc7 4096 on 16-frame 112x112 clips",
    input_shape=(1, 3, 16, 112, 112), variants=("conv3d",),
    source="Tran et al. 2015, C3D, Sec. 3.3, Fig. 3 (Sports-1M, 487 classes)",
)
def build_c3d(config: C3DConfig) -> C3D:
    """The C3D of ``config``.

    >>> C3DConfig().pool5_shape
    (1, 4, 4)
    """
    return C3D(config)


# --------------------------------------------------------------------------------- R(2+1)D-18


@dataclass(frozen=True)
class R2Plus1DConfig:
    """Configuration of an R(2+1)D ResNet (defaults: R(2+1)D-18, Kinetics-400).

    Args:
        layers: basic blocks per stage (default ``(2, 2, 2, 2)``).
        widths: channels of the four stages (default ``(64, 128, 256, 512)``).
        in_channels: default 3. num_classes: default 400.
        mid_channels: ``'torchvision'`` (default: the rule once per block from its input
            and output channels, stem ``45 * widths[0] / 64``) or ``'paper'`` (the rule for
            every (2+1)D conv, the stem included).
    """

    layers: tuple[int, int, int, int] = (2, 2, 2, 2)
    widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    in_channels: int = 3
    num_classes: int = 400
    mid_channels: str = "torchvision"

    def __post_init__(self) -> None:
        _int_tuple("layers", self.layers, 4)
        _int_tuple("widths", self.widths, 4)
        check_int("in_channels", self.in_channels)
        check_int("num_classes", self.num_classes)
        if self.mid_channels not in MID_CHANNEL_RULES:
            raise ValueError(
                f"`mid_channels` (={self.mid_channels!r}) must be one of 'torchvision', 'paper'"
            )


class R2Plus1DBlock(nn.Module):
    """Basic residual block of two (2+1)D convs (3x3 spatial, 3 temporal), BN after each,
    ReLU; shortcut: identity or a 1x1x1 conv (stride ``s`` on T, H, W) + BN.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``. stride: ``s`` (default 1).
        mid: mid channels of the two (2+1)D convs.

    Shape:
        ``(N, C_in, T, H, W)`` -> ``(N, C_out, ceil(T/s), ceil(H/s), ceil(W/s))``.

    >>> R2Plus1DBlock(4, 8, 2, (6, 6))(torch.randn(1, 4, 4, 8, 8)).shape
    torch.Size([1, 8, 2, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 mid: tuple[int, int]) -> None:
        super().__init__()
        self.conv1 = R2Plus1D(in_channels, out_channels, 3, stride, 1, mid[0])
        self.bn1 = nn.BatchNorm3d(out_channels)
        self.conv2 = R2Plus1D(out_channels, out_channels, 3, 1, 1, mid[1])
        self.bn2 = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                Conv3d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm3d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)  # (N, C_out, T', H', W')
        y = self.relu(self.bn1(self.conv1(x)))  # (N, C_out, T', H', W')
        y = self.bn2(self.conv2(y))
        return self.relu(y + identity)


class R2Plus1DNet(nn.Module):
    """R(2+1)D ResNet: (2+1)D stem (1x7x7 stride (1,2,2), then 3x1x1), four stages of
    :class:`R2Plus1DBlock` (stride 2 at stages 2-4), global average pool, ``fc``.

    Args:
        config: a :class:`R2Plus1DConfig`.

    Shape:
        ``(N, C, T, H, W)`` -> ``(N, num_classes)``; the last stage is at
        ``(T/8, H/16, W/16)`` (ceil at each halving).

    >>> net = R2Plus1DNet(R2Plus1DConfig(widths=(8, 8, 16, 16), layers=(1, 1, 1, 1),
    ...                                  in_channels=1, num_classes=10))
    >>> net(torch.randn(2, 1, 16, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, config: R2Plus1DConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        w0 = c.widths[0]
        paper = c.mid_channels == "paper"
        stem_mid = (r2plus1d_mid_channels(c.in_channels, w0, (3, 7, 7)) if paper
                    else max(1, round(45 * w0 / 64)))
        self.stem = nn.Sequential(
            R2Plus1D(c.in_channels, w0, (3, 7, 7), (1, 2, 2), (1, 3, 3), stem_mid),
            nn.BatchNorm3d(w0), nn.ReLU(inplace=True),
        )
        stages = []
        channels = w0
        for i, (blocks, width) in enumerate(zip(c.layers, c.widths, strict=True)):
            stride = 1 if i == 0 else 2
            stage = []
            for b in range(blocks):
                c_in = channels if b == 0 else width
                first = r2plus1d_mid_channels(c_in, width, 3)
                second = r2plus1d_mid_channels(width, width, 3) if paper else first
                stage.append(R2Plus1DBlock(c_in, width, stride if b == 0 else 1,
                                           (first, second)))
            channels = width
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(channels, c.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (N, C, T, H, W) -> (N, w0, T, H/2, W/2)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (N, w3, T/8, H/16, W/16)
        return self.fc(torch.flatten(self.avgpool(x), 1))  # (N, num_classes)


@register_model(
    "r2plus1d", config=R2Plus1DConfig,
    description="R(2+1)D-18: ResNet-18 video net whose 3x3x3 convs are (2+1)D (spatial then "
    "temporal)",
    input_shape=(1, 3, 16, 112, 112), variants=("r2plus1d", "conv3d"),
    source="Tran et al. 2018, A Closer Look at Spatiotemporal Convolutions, Table 1 (R(2+1)D-18); "
    "torchvision r2plus1d_18 (31,505,325 params, 40.52 GFLOPS = GMACs at 16x112x112)",
)
def build_r2plus1d(config: R2Plus1DConfig) -> R2Plus1DNet:
    """The R(2+1)D network of ``config``.

    >>> with torch.device("meta"):
    ...     net = build_r2plus1d(R2Plus1DConfig())
    >>> sum(p.numel() for p in net.parameters())
    31505325
    """
    return R2Plus1DNet(config)
