"""Channel shuffle (ShuffleNet) and the shuffled group convolution (ShuffleNet; explained in
seed 000, see :mod:`convzoo.tour.articles`)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int, is_int
from convzoo.functional.sizes import static_shape
from convzoo.layers.base import add_batch, chain_repr
from convzoo.layers.group import GroupConv
from convzoo.layers.registry import register
from convzoo.spec import ConvSpec

__all__ = ["ChannelShuffle", "ShuffleGroupConv", "channel_shuffle"]


def _check_groups(groups: Any) -> int:
    check_int("groups", groups)
    return int(groups)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups: channel ``i*(C/g) + j`` -> ``j*g + i``.

    Written as reshape -> transpose -> reshape so that it exports to ONNX and compiles.

    Shape: ``(N, C, *spatial)`` -> same.

    >>> channel_shuffle(torch.arange(6.).reshape(1, 6, 1), 2)[0, :, 0].tolist()
    [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    """
    channels = x.shape[1]
    # the check reads an int, also under torch.jit.trace (a constant of the trace)
    if not torch.compiler.is_compiling() and static_shape(x)[1] % groups:
        raise ValueError(
            f"`input` channel dim (={channels}) must be divisible by `groups` (={groups})"
        )
    n, spatial = x.shape[0], x.shape[2:]
    x = x.reshape(n, groups, channels // groups, *spatial)  # (N, g, C/g, *s)
    x = x.transpose(1, 2)  # (N, C/g, g, *s)
    return x.reshape(n, channels, *spatial)


def _shuffle_examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (ChannelShuffle(2, ndim=1), (2, 6, 5)),
        (ChannelShuffle(3, ndim=2), (2, 6, 3, 4)),
        (ChannelShuffle(4, ndim=3), (1, 8, 2, 3, 2)),
    ]


@register("shuffle", "channel shuffle: interleave channel groups (ShuffleNet)", _shuffle_examples)
class ChannelShuffle(nn.Module):
    """Channel shuffle (Zhang et al. 2017): after a grouped conv, interleave the groups so that
    the next grouped conv sees channels from every group. Any number of spatial dims.

    Args:
        groups: number of channel groups ``g`` (must divide the channel count at call).
        ndim: spatial dims, if known: then unbatched ``(C, *spatial)`` input is accepted.
            With the default None every input is ``(N, C, *spatial)``, as in
            ``nn.ChannelShuffle``.

    Shape:
        ``(N, C, *spatial)`` -> ``(N, C, *spatial)``; output channel ``j*g + i`` is input
        channel ``i*(C/g) + j``. A permutation: 0 parameters, 0 MACs.

    >>> ChannelShuffle(2)(torch.randn(2, 16, 32, 32)).shape
    torch.Size([2, 16, 32, 32])
    """

    def __init__(self, groups: int, ndim: int | None = None) -> None:
        super().__init__()
        self.groups = _check_groups(groups)
        if ndim is not None and (not is_int(ndim) or ndim < 1):
            raise ValueError(f"`ndim` (={ndim!r}) must be None or a positive int")
        self.ndim = ndim

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """No convolution: an empty list."""
        return []

    def permutation(self, channels: int) -> list[int]:
        """``perm[k]`` = the input channel that output channel ``k`` reads."""
        if channels % self.groups:
            raise ValueError(
                f"`channels` (={channels}) must be divisible by `groups` (={self.groups})"
            )
        per = channels // self.groups
        return [(k % self.groups) * per + k // self.groups for k in range(channels)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.ndim is not None:
            x, unbatched = add_batch(x, self.ndim)
            y = channel_shuffle(x, self.groups)
            return y.squeeze(0) if unbatched else y
        if not torch.compiler.is_compiling() and x.dim() < 3:
            raise ValueError(
                f"`input` shape (={tuple(x.shape)}) must be (N, C, *spatial) with at least one "
                "spatial dim"
            )
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}" + (f", ndim={self.ndim}" if self.ndim else "")


def _group_examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (ShuffleGroupConv(8, 16, 3, 2, padding=1), (2, 8, 6, 6)),
        (ShuffleGroupConv(6, 6, 3, 3, padding="same", ndim=1), (2, 6, 7)),
        (ShuffleGroupConv(4, 8, 2, 2, stride=2, ndim=3), (1, 4, 4, 4, 2)),
    ]


@register("shuffle_group", "group conv followed by a channel shuffle (ShuffleNet)", _group_examples)
class ShuffleGroupConv(nn.Module):
    """Shuffled group convolution: a :class:`GroupConv` then a :class:`ChannelShuffle` with the
    same number of groups, so that information crosses groups in the next layer.

    Args:
        in_channels, out_channels, kernel_size, groups: of the group conv.
        stride, padding, dilation, bias, padding_mode, ndim: of the group conv.
        device, dtype: where and in which dtype the parameters are created (torch.nn's
            factory arguments; default torch's).

    Shape:
        ``(N, C_in, *in)`` -> ``(N, C_out, *out)``,
        ``out = floor((in + lo + hi - d*(k-1) - 1)/s) + 1``.

    Attributes:
        conv: the :class:`GroupConv` (weight ``(C_out, C_in/g, *k)``). shuffle: the shuffle.

    >>> ShuffleGroupConv(8, 16, 3, groups=2, padding=1)(torch.randn(2, 8, 32, 32)).shape
    torch.Size([2, 16, 32, 32])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        groups: int,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        ndim: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.conv = GroupConv(
            in_channels, out_channels, kernel_size, groups, stride, padding, dilation, bias,
            padding_mode, ndim, device=device, dtype=dtype,
        )
        self.shuffle = ChannelShuffle(groups, ndim=self.conv.spec.ndim)

    def extra_repr(self) -> str:
        return chain_repr(self.specs(), groups=self.conv.spec.groups, then="shuffle")

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """The group conv's spec (the shuffle is free)."""
        return [self.conv.spec]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))  # (N, C_in, *in) -> (N, C_out, *out), interleaved
