"""(2+1)D convolution (Tran et al. 2018): a 3-D conv factored into spatial then temporal convs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from convzoo.arithmetic import to_tuple
from convzoo.layers.base import Conv, add_batch, chain_repr
from convzoo.layers.factorized import axis_padding
from convzoo.layers.registry import register
from convzoo.layers.separable import build_activation, build_norm
from convzoo.spec import ConvSpec

__all__ = ["R2Plus1D", "r2plus1d_mid_channels"]


def r2plus1d_mid_channels(in_channels: int, out_channels: int, kernel_size: Any) -> int:
    """The paper's rule: ``M = floor(t*k_h*k_w*C_in*C_out / (k_h*k_w*C_in + t*C_out))``, which
    gives the (2+1)D block the parameter count of the full ``t x k_h x k_w`` conv.

    >>> r2plus1d_mid_channels(64, 64, 3)
    144
    """
    t, kh, kw = to_tuple(kernel_size, 3, "kernel_size", "positive")
    return max((t * kh * kw * in_channels * out_channels)
               // (kh * kw * in_channels + t * out_channels), 1)


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (R2Plus1D(2, 3, 3), (2, 2, 3, 4, 4)),
        (R2Plus1D(2, 2, (2, 3, 3), stride=(1, 2, 2), mid_channels=3, norm=None), (1, 2, 3, 5, 4)),
    ]


@register("r2plus1d", "(2+1)D: spatial 1 x k x k conv, norm, activation, temporal t x 1 x 1",
          _examples)
class R2Plus1D(nn.Module):
    """(2+1)D spatiotemporal convolution (Tran et al., "A Closer Look at Spatiotemporal
    Convolutions", CVPR 2018): a ``1 x k_h x k_w`` spatial conv to ``M`` channels, a norm and a
    nonlinearity, then a ``t x 1 x 1`` temporal conv. ``M`` defaults to the paper's rule
    (:func:`r2plus1d_mid_channels`), matching the full 3-D conv's parameter count while doubling
    the nonlinearities.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``. kernel_size: ``(t, k_h, k_w)`` or int
            (default 3). stride: ``(s_t, s_h, s_w)`` or int (default 1).
        padding: any :class:`Conv` padding of the full 3-D kernel (default ``'same'``).
        mid_channels: ``M`` (default: the paper's rule). bias: default False.
        norm: factory called with ``M`` (default ``nn.BatchNorm3d``; None for none).
        activation: factory (default ``nn.ReLU``; None for none).
        device, dtype: where and in which dtype the parameters (and the norm's) are created
            (torch.nn's factory arguments; default torch's).

    Shape:
        ``(N, C_in, T, H, W)`` -> spatial ``(N, M, T, H', W')`` -> ``(N, C_out, T', H', W')``.

    Attributes:
        spatial: :class:`Conv` weight ``(M, C_in, 1, k_h, k_w)``. temporal: :class:`Conv` weight
        ``(C_out, M, t, 1, 1)``. norm, activation: the modules between, or None.

    >>> R2Plus1D(3, 64, (3, 7, 7), stride=(1, 2, 2))(torch.randn(1, 3, 8, 32, 32)).shape
    torch.Size([1, 64, 8, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any = 3,
        stride: Any = 1,
        padding: Any = "same",
        mid_channels: int | None = None,
        bias: bool = False,
        norm: Callable[[int], nn.Module] | None = nn.BatchNorm3d,
        activation: Callable[[], nn.Module] | None = nn.ReLU,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        t, kh, kw = to_tuple(kernel_size, 3, "kernel_size", "positive")
        st, sh, sw = to_tuple(stride, 3, "stride", "positive")
        mid = mid_channels or r2plus1d_mid_channels(in_channels, out_channels, (t, kh, kw))
        pad_s, pad_t = padding, padding
        if not isinstance(padding, str):
            pairs = [axis_padding(padding, a, 3) for a in range(3)]
            pad_t = pairs[0]
            pad_s = ((0, 0), pairs[1][1], pairs[2][2])
        self.spatial = Conv(in_channels, mid, (1, kh, kw), (1, sh, sw), pad_s, bias=bias, ndim=3,
                            **factory)
        self.norm = build_norm("norm", norm, mid, **factory)
        self.activation = build_activation("activation", activation)
        self.temporal = Conv(mid, out_channels, (t, 1, 1), (st, 1, 1), pad_t, bias=bias, ndim=3,
                             **factory)

    def extra_repr(self) -> str:
        s, t = self.spatial.spec, self.temporal.spec
        return chain_repr(self.specs(), mid_channels=s.out_channels,
                          kernel_size=(t.kernel_size[0], *s.kernel_size[1:]),
                          stride=(t.stride[0], *s.stride[1:]))

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """The spatial spec then the temporal spec."""
        return [self.spatial.spec, self.temporal.spec]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, unbatched = add_batch(x, 3)
        x = self.spatial(x)  # (N, C_in, T, H, W) -> (N, M, T, H', W')
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        x = self.temporal(x)  # -> (N, C_out, T', H', W')
        return x.squeeze(0) if unbatched else x
