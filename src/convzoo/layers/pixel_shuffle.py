"""Pixel shuffle (depth-to-space) and unshuffle (space-to-depth) for 1, 2 and 3 spatial dims."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from convzoo.arithmetic import check_int
from convzoo.functional.sizes import static_shape
from convzoo.layers.registry import register
from convzoo.spec import ConvSpec

__all__ = ["PixelShuffle", "PixelUnshuffle", "pixel_shuffle", "pixel_unshuffle"]


def _check(name: str, value: Any) -> int:
    check_int(name, value)
    return int(value)


def _check_ndim(ndim: Any) -> int:
    if ndim not in (1, 2, 3):
        raise ValueError(f"`ndim` (={ndim!r}) must be 1, 2 or 3")
    return ndim


def _check_rank(x: torch.Tensor, ndim: int) -> None:
    if not torch.compiler.is_compiling() and x.dim() != ndim + 2:
        raise ValueError(
            f"`input` shape (={tuple(x.shape)}) must be (N, C, *spatial) with {ndim} spatial "
            f"dim{'s' if ndim > 1 else ''}"
        )


def pixel_shuffle(x: torch.Tensor, r: int, ndim: int) -> torch.Tensor:
    """Depth-to-space: ``(N, C*r**n, *s)`` -> ``(N, C, *(s*r))``; input channel
    ``c*r**n + offset`` with ``offset`` the row-major index of the sub-position.

    >>> pixel_shuffle(torch.randn(1, 8, 3, 3, 3), 2, 3).shape
    torch.Size([1, 1, 6, 6, 6])
    """
    _check_rank(x, ndim)
    n, channels, spatial = x.shape[0], x.shape[1], x.shape[2:]
    sizes = static_shape(x)  # ints for the checks, also under torch.jit.trace (constants)
    if ndim == 2 and not torch.compiler.is_compiling() and sizes[1] % r**ndim == 0 and sizes[0]:
        return F.pixel_shuffle(x, r)  # the native op (exports as ONNX DepthToSpace)
    if not torch.compiler.is_compiling() and sizes[1] % r**ndim:
        raise ValueError(
            f"`input` channel dim (={channels}) must be divisible by upscale_factor**{ndim} "
            f"(={r**ndim})"
        )
    c = channels // r**ndim
    x = x.reshape(n, c, *([r] * ndim), *spatial)  # (N, C, r.., *s)
    order = [0, 1] + [a for i in range(ndim) for a in (2 + ndim + i, 2 + i)]
    x = x.permute(order)  # (N, C, s1, r, s2, r, ...)
    return x.reshape(n, c, *(s * r for s in spatial))


def pixel_unshuffle(x: torch.Tensor, r: int, ndim: int) -> torch.Tensor:
    """Space-to-depth, the inverse of :func:`pixel_shuffle`.

    >>> pixel_unshuffle(torch.randn(1, 1, 6, 6, 6), 2, 3).shape
    torch.Size([1, 8, 3, 3, 3])
    """
    _check_rank(x, ndim)
    n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    sizes = static_shape(x)  # ints for the checks, also under torch.jit.trace (constants)
    divisible = not any(s % r for s in sizes[2:])
    if ndim == 2 and not torch.compiler.is_compiling() and divisible and sizes[0]:
        # the native op (exports as ONNX SpaceToDepth); torch 2.13 returns an empty batch
        # unchanged, so empty batches take the reshape path below
        return F.pixel_unshuffle(x, r)
    if not torch.compiler.is_compiling() and not divisible:
        raise ValueError(
            f"`input` spatial sizes (={tuple(spatial)}) must be divisible by "
            f"`downscale_factor` (={r})"
        )
    small = [s // r for s in spatial]
    x = x.reshape(n, c, *[v for s in small for v in (s, r)])  # (N, C, s1, r, s2, r, ...)
    order = [0, 1] + [3 + 2 * i for i in range(ndim)] + [2 + 2 * i for i in range(ndim)]
    x = x.permute(order)  # (N, C, r.., s..)
    return x.reshape(n, c * r**ndim, *small)


def _shuffle_examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (PixelShuffle(2, ndim=1), (2, 4, 3)),
        (PixelShuffle(3), (2, 9, 2, 3)),
        (PixelShuffle(2, ndim=3), (1, 16, 2, 1, 2)),
    ]


@register("pixel_shuffle", "depth-to-space rearrangement (sub-pixel upsampling), 1-3D",
          _shuffle_examples)
class PixelShuffle(nn.Module):
    """Pixel shuffle / depth-to-space (Shi et al. 2016) for 1, 2 or 3 spatial dims; in 2-D it
    equals ``torch.nn.PixelShuffle``.

    Args:
        upscale_factor: ``r``. ndim: spatial dims (default 2).

    Shape:
        ``(N, C*r**n, *in)`` -> ``(N, C, *(in*r))``: output ``(c, i_1*r + o_1, ...)`` reads
        input channel ``c*r**n + offset(o)`` (row-major offset of ``(o_1, .., o_n)``).

    >>> PixelShuffle(2)(torch.randn(1, 12, 8, 8)).shape
    torch.Size([1, 3, 16, 16])
    """

    def __init__(self, upscale_factor: int, ndim: int = 2) -> None:
        super().__init__()
        self.upscale_factor = _check("upscale_factor", upscale_factor)
        self.ndim = _check_ndim(ndim)

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """No convolution: an empty list."""
        return []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(x, self.upscale_factor, self.ndim)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}, ndim={self.ndim}"


def _unshuffle_examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (PixelUnshuffle(2, ndim=1), (2, 1, 6)),
        (PixelUnshuffle(2), (2, 3, 4, 6)),
        (PixelUnshuffle(2, ndim=3), (1, 2, 2, 4, 2)),
    ]


@register("pixel_unshuffle", "space-to-depth rearrangement (inverse pixel shuffle), 1-3D",
          _unshuffle_examples)
class PixelUnshuffle(nn.Module):
    """Pixel unshuffle / space-to-depth, the inverse of :class:`PixelShuffle`; in 2-D it equals
    ``torch.nn.PixelUnshuffle``.

    Args:
        downscale_factor: ``r``. ndim: spatial dims (default 2).

    Shape:
        ``(N, C, *in)`` -> ``(N, C*r**n, *(in/r))`` (every ``in`` divisible by ``r``).

    >>> PixelUnshuffle(2)(torch.randn(1, 3, 16, 16)).shape
    torch.Size([1, 12, 8, 8])
    """

    def __init__(self, downscale_factor: int, ndim: int = 2) -> None:
        super().__init__()
        self.downscale_factor = _check("downscale_factor", downscale_factor)
        self.ndim = _check_ndim(ndim)

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """No convolution: an empty list."""
        return []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_unshuffle(x, self.downscale_factor, self.ndim)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}, ndim={self.ndim}"
