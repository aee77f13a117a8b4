"""convzoo.layers: every convolution variant as a torch.nn module."""

from convzoo.layers.base import Conv, Conv1d, Conv2d, Conv3d
from convzoo.layers.depthwise import Depthwise
from convzoo.layers.dilated import Dilated
from convzoo.layers.group import GroupConv
from convzoo.layers.pointwise import Pointwise
from convzoo.layers.registry import REGISTRY, available, create
from convzoo.layers.separable import DepthwiseSeparable
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
]
