"""convzoo.layers: every convolution variant as a torch.nn module."""

from convzoo.layers.aspp import ASPP
from convzoo.layers.base import Conv, Conv1d, Conv2d, Conv3d
from convzoo.layers.depthwise import Depthwise
from convzoo.layers.dilated import Dilated
from convzoo.layers.flattened import Flattened
from convzoo.layers.group import GroupConv
from convzoo.layers.pixel_shuffle import PixelShuffle, PixelUnshuffle
from convzoo.layers.pointwise import Pointwise
from convzoo.layers.r2plus1d import R2Plus1D
from convzoo.layers.registry import REGISTRY, available, create
from convzoo.layers.resize_conv import ResizeConv
from convzoo.layers.separable import DepthwiseSeparable
from convzoo.layers.shuffle import ChannelShuffle, ShuffleGroupConv
from convzoo.layers.shuffle_unit import ShuffleUnit
from convzoo.layers.spatially_separable import SpatiallySeparable
from convzoo.layers.subpixel import SubPixelConv, icnr_
from convzoo.layers.transposed import (
    TransposedConv,
    TransposedConv1d,
    TransposedConv2d,
    TransposedConv3d,
)

__all__ = [
    "Depthwise", "Dilated", "GroupConv", "Pointwise", "DepthwiseSeparable",
    "TransposedConv", "TransposedConv1d", "TransposedConv2d", "TransposedConv3d",
    "Conv", "Conv1d", "Conv2d", "Conv3d", "REGISTRY", "available", "create",
    "ASPP", "ChannelShuffle", "Flattened", "PixelShuffle", "PixelUnshuffle", "R2Plus1D",
    "ResizeConv", "ShuffleGroupConv", "ShuffleUnit", "SpatiallySeparable", "SubPixelConv",
    "icnr_",
]
