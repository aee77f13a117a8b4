"""The ShuffleNet v1 unit (Zhang et al. 2017, figure 2 b/c)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from convzoo.layers.base import add_batch, chain_repr
from convzoo.layers.depthwise import Depthwise
from convzoo.layers.group import GroupConv
from convzoo.layers.norms import batch_norm
from convzoo.layers.registry import register
from convzoo.layers.shuffle import ChannelShuffle
from convzoo.spec import ConvSpec

__all__ = ["ShuffleUnit"]

_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (ShuffleUnit(12, 12, groups=3), (2, 12, 4, 4)),
        (ShuffleUnit(6, 24, groups=3, stride=2), (2, 6, 5, 4)),
        (ShuffleUnit(4, 16, groups=2, stride=2, first_group_conv=False, ndim=1), (2, 4, 6)),
    ]


@register("shuffle_unit", "ShuffleNet v1 unit: 1x1 group conv, shuffle, 3x3 depthwise, 1x1 group",
          _examples)
class ShuffleUnit(nn.Module):
    """ShuffleNet v1 unit: 1x1 group conv (bottleneck ``out/4``) + BN + ReLU -> channel shuffle ->
    3x3 depthwise conv (stride) + BN -> 1x1 group conv + BN; stride 1 adds the input (identity)
    and applies ReLU, stride 2 concatenates a 3x3/2 average pool of the input (so the branch
    outputs ``out - in`` channels) and applies ReLU.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out`` (equal for stride 1).
        groups: ``g`` of the 1x1 group convs (default 3). stride: 1 or 2 (default 1).
        first_group_conv: group the first 1x1 conv (False for the first unit of stage 2,
            whose input has too few channels). ndim: spatial dims (default 2).
        device, dtype: where and in which dtype the parameters (the norms' too) are created
            (torch.nn's factory arguments; default torch's).

    Shape:
        stride 1: ``(N, C, *in)`` -> ``(N, C, *in)``; stride 2: ``(N, C_in, *in)`` ->
        ``(N, C_out, *ceil(in/2))``.

    Attributes:
        conv1, bn1, shuffle, dwconv, bn2, conv2, bn3.

    >>> ShuffleUnit(240, 240, groups=3)(torch.randn(1, 240, 28, 28)).shape
    torch.Size([1, 240, 28, 28])
    >>> ShuffleUnit(24, 240, groups=3, stride=2, first_group_conv=False)(
    ...     torch.randn(1, 24, 56, 56)).shape
    torch.Size([1, 240, 28, 28])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        groups: int = 3,
        stride: int = 1,
        first_group_conv: bool = True,
        ndim: int = 2,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        if stride not in (1, 2):
            raise ValueError(f"`stride` (={stride!r}) must be 1 or 2")
        if stride == 1 and in_channels != out_channels:
            raise ValueError(
                f"`out_channels` (={out_channels}) must equal `in_channels` (={in_channels}) "
                "for stride 1 (the identity shortcut is added)"
            )
        branch_out = out_channels - in_channels if stride == 2 else out_channels
        if branch_out < 1:
            raise ValueError(
                f"`out_channels` (={out_channels}) must exceed `in_channels` (={in_channels}) "
                "for stride 2 (the pooled input is concatenated)"
            )
        mid = out_channels // 4
        g1 = groups if first_group_conv else 1
        norm = batch_norm(ndim)
        self.stride = stride
        self.ndim = ndim
        self.conv1 = GroupConv(in_channels, mid, 1, g1, bias=False, ndim=ndim, **factory)
        self.bn1 = norm(mid, **factory)
        self.shuffle = ChannelShuffle(g1)
        self.dwconv = Depthwise(mid, 3, stride, 1, bias=False, ndim=ndim, **factory)
        self.bn2 = norm(mid, **factory)
        self.conv2 = GroupConv(mid, branch_out, 1, groups, bias=False, ndim=ndim, **factory)
        self.bn3 = norm(branch_out, **factory)

    def extra_repr(self) -> str:
        combine = "concat" if self.stride == 2 else "add"
        return chain_repr(self.specs(), groups=self.shuffle.groups, stride=self.stride,
                          shortcut=combine)

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """1x1 group conv, depthwise, 1x1 group conv."""
        return [self.conv1.spec, self.dwconv.spec, self.conv2.spec]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, unbatched = add_batch(x, self.ndim)
        y = self._unit(x)
        return y.squeeze(0) if unbatched else y

    def _unit(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))  # (N, C_in, *in) -> (N, mid, *in)
        y = self.shuffle(y)
        y = self.bn2(self.dwconv(y))  # (N, mid, *out)
        y = self.bn3(self.conv2(y))  # (N, branch_out, *out)
        if self.stride == 1:
            return F.relu(x + y)
        pooled = _AVG_POOL[x.dim() - 2](x, 3, 2, 1)  # (N, C_in, *out)
        return F.relu(torch.cat([pooled, y], dim=1))  # (N, C_out, *out)
