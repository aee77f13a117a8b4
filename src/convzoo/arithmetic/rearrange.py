"""Output shapes of the weightless data movements: pixel shuffle (depth to space), pixel
unshuffle (space to depth) and nearest upsampling, for ``(N, C, *spatial)`` shapes with 1 to 3
spatial axes. Integer arithmetic only; a shape the operation cannot take raises ``ValueError``
naming the rule.

>>> pixel_shuffle_shape((1, 8, 3, 3), 2), pixel_unshuffle_shape((1, 2, 6, 6), 3)
((1, 2, 6, 6), (1, 18, 2, 2))
>>> nearest_upsample_shape((1, 3, 4), 2)
(1, 3, 8)
"""

from __future__ import annotations

from collections.abc import Sequence

from convzoo.arithmetic.tuples import check_int

__all__ = ["pixel_shuffle_shape", "pixel_unshuffle_shape", "nearest_upsample_shape"]


def _split(shape: Sequence[int], r: int, name: str) -> tuple[int, int, tuple[int, ...]]:
    check_int(name, r, 1)
    shape = tuple(shape)
    if len(shape) < 3:
        raise ValueError(f"`shape` (={shape}) must be (N, C, *spatial) with 1 to 3 spatial axes")
    return shape[0], shape[1], shape[2:]


def pixel_shuffle_shape(shape: Sequence[int], upscale_factor: int) -> tuple[int, ...]:
    """``(N, C*r**n, *s)`` -> ``(N, C, *(s*r))``; C_in must be divisible by
    ``upscale_factor**n`` (``nn.PixelShuffle``'s name for r)."""
    r = upscale_factor
    n, c, spatial = _split(shape, r, "upscale_factor")
    if c % r ** len(spatial):
        raise ValueError(f"`input` channel dim (={c}) must be divisible by "
                         f"upscale_factor**{len(spatial)} (={r ** len(spatial)})")
    return (n, c // r ** len(spatial), *(s * r for s in spatial))


def pixel_unshuffle_shape(shape: Sequence[int], downscale_factor: int) -> tuple[int, ...]:
    """``(N, C, *(s*r))`` -> ``(N, C*r**n, *s)``; every spatial size divisible by
    ``downscale_factor`` (``nn.PixelUnshuffle``'s name for r)."""
    r = downscale_factor
    n, c, spatial = _split(shape, r, "downscale_factor")
    if any(s % r for s in spatial):
        raise ValueError(f"`input` spatial sizes (={spatial}) must be divisible by "
                         f"`downscale_factor` (={r})")
    return (n, c * r ** len(spatial), *(s // r for s in spatial))


def nearest_upsample_shape(shape: Sequence[int], upscale_factor: int) -> tuple[int, ...]:
    """``(N, C, *s)`` -> ``(N, C, *(s*r))``: each element repeated ``upscale_factor`` times per
    axis (resize-conv's first stage)."""
    r = upscale_factor
    n, c, spatial = _split(shape, r, "upscale_factor")
    return (n, c, *(s * r for s in spatial))
