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


def _split(shape: Sequence[int], factor: int, name: str) -> tuple[int, int, tuple[int, ...]]:
    check_int(name, factor, 1)
    shape = tuple(shape)
    if len(shape) < 3:
        raise ValueError(f"`shape` (={shape}) must be (N, C, *spatial) with 1 to 3 spatial axes")
    return shape[0], shape[1], shape[2:]


def pixel_shuffle_shape(shape: Sequence[int], factor: int) -> tuple[int, ...]:
    """``(N, C*r**n, *s)`` -> ``(N, C, *(s*r))``; C_in must be divisible by ``factor**n``."""
    n, c, spatial = _split(shape, factor, "upscale_factor")
    if c % factor ** len(spatial):
        raise ValueError(f"`input` channel dim (={c}) must be divisible by "
                         f"upscale_factor**{len(spatial)} (={factor ** len(spatial)})")
    return (n, c // factor ** len(spatial), *(s * factor for s in spatial))


def pixel_unshuffle_shape(shape: Sequence[int], factor: int) -> tuple[int, ...]:
    """``(N, C, *(s*r))`` -> ``(N, C*r**n, *s)``; every spatial size divisible by ``factor``."""
    n, c, spatial = _split(shape, factor, "downscale_factor")
    if any(s % factor for s in spatial):
        raise ValueError(f"`input` spatial sizes (={spatial}) must be divisible by "
                         f"`downscale_factor` (={factor})")
    return (n, c * factor ** len(spatial), *(s // factor for s in spatial))


def nearest_upsample_shape(shape: Sequence[int], factor: int) -> tuple[int, ...]:
    """``(N, C, *s)`` -> ``(N, C, *(s*r))``: each element repeated ``factor`` times per axis."""
    n, c, spatial = _split(shape, factor, "scale_factor")
    return (n, c, *(s * factor for s in spatial))
