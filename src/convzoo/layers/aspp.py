"""Atrous Spatial Pyramid Pooling (DeepLab v3), any number of spatial dims."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn

from convzoo.arithmetic import is_int
from convzoo.layers.base import add_batch
from convzoo.layers.dilated import Dilated
from convzoo.layers.norms import batch_norm
from convzoo.layers.pointwise import Pointwise
from convzoo.layers.registry import register
from convzoo.layers.separable import build_activation, build_norm
from convzoo.spec import ConvSpec

__all__ = ["ASPP"]


def _branch(conv: nn.Module, norm: nn.Module | None, act: nn.Module | None) -> nn.Sequential:
    return nn.Sequential(*(m for m in (conv, norm, act) if m is not None))


class _ImagePool(nn.Module):
    """Global average pool -> 1x1 conv -> norm -> activation -> broadcast back to the input size."""

    def __init__(self, branch: nn.Sequential) -> None:
        super().__init__()
        self.branch = branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = tuple(range(2, x.dim()))
        pooled = self.branch(x.mean(dim=spatial, keepdim=True))  # (N, C_out, 1, ..., 1)
        return pooled.expand(-1, -1, *x.shape[2:])  # the same value at every position


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (ASPP(2, 2, rates=(1, 2), ndim=1), (2, 2, 6)),
        (ASPP(3, 2, rates=(2, 3)), (2, 3, 5, 6)),
        (ASPP(2, 2, rates=(2,), pooling=False, ndim=3), (2, 2, 3, 4, 3)),
    ]


@register("aspp", "atrous spatial pyramid pooling: parallel dilated convs + image pooling",
          _examples)
class ASPP(nn.Module):
    """Atrous Spatial Pyramid Pooling (Chen et al., DeepLab v3, 2017): parallel branches — a
    1x1 conv, one 3x3 atrous conv per rate (padding = rate keeps the size) and an image-pooling
    branch (global average, 1x1 conv, broadcast back) — concatenated and projected by a 1x1
    conv. Each conv is followed by the norm and activation. Works for 1, 2 or 3 spatial dims.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out`` (every branch has ``C_out`` channels).
        rates: dilation rates of the atrous branches (default ``(6, 12, 18)``).
        pooling: include the image-pooling branch (default True). ndim: default 2.
        norm: factory called with ``C_out`` (default BatchNorm of ``ndim``; None for none).
        activation: factory (default ``nn.ReLU``). dropout: after the projection (default 0).
        device, dtype: where and in which dtype the parameters (the norms' too) are created
            (torch.nn's factory arguments; default torch's).

    Shape:
        ``(N, C_in, *in)`` -> concat ``(N, C_out*(2 + len(rates)), *in)`` (one fewer without
        pooling) -> ``(N, C_out, *in)``.

    Attributes:
        branches: the 1x1 and atrous branches. pool: the image-pooling branch or None.
        project: 1x1 projection + norm + activation (+ dropout).

    >>> ASPP(256, 64)(torch.randn(2, 256, 33, 33)).shape
    torch.Size([2, 64, 33, 33])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        rates: Sequence[int] = (6, 12, 18),
        pooling: bool = True,
        ndim: int = 2,
        norm: Callable[[int], nn.Module] | None | str = "batch",
        activation: Callable[[], nn.Module] | None = nn.ReLU,
        dropout: float = 0.0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        if not rates or not all(is_int(r) and r >= 1 for r in rates):
            raise ValueError(f"`rates` (={rates!r}) must be a non-empty sequence of positive ints")
        norm_factory = batch_norm(ndim) if norm == "batch" else norm

        def branch(conv: nn.Module) -> nn.Sequential:
            return _branch(conv, build_norm("norm", norm_factory, out_channels, **factory),
                           build_activation("activation", activation))

        self.rates = tuple(int(r) for r in rates)
        self.ndim = ndim
        self.branches = nn.ModuleList(
            [branch(Pointwise(in_channels, out_channels, bias=False, ndim=ndim, **factory))]
            + [branch(Dilated(in_channels, out_channels, 3, r, bias=False, ndim=ndim, **factory))
               for r in self.rates]
        )
        self.pool = (
            _ImagePool(branch(Pointwise(in_channels, out_channels, bias=False, ndim=ndim,
                                        **factory)))
            if pooling else None
        )
        count = len(self.branches) + (1 if pooling else 0)
        self.project = branch(Pointwise(count * out_channels, out_channels, bias=False, ndim=ndim,
                                        **factory))
        if dropout:
            self.project.append(nn.Dropout(dropout))

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """Branch specs (1x1, atrous..., pooling 1x1) then the projection spec."""
        convs = [b[0].spec for b in self.branches]
        if self.pool is not None:
            convs.append(self.pool.branch[0].spec)
        return convs + [self.project[0].spec]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, unbatched = add_batch(x, self.ndim)
        outs = [b(x) for b in self.branches]  # each (N, C_out, *in)
        if self.pool is not None:
            outs.append(self.pool(x))
        y = self.project(torch.cat(outs, dim=1))  # (N, k*C_out, *in) -> (N, C_out, *in)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return f"rates={self.rates}, pooling={self.pool is not None}"
