"""What each kind takes, its defaults, and the checks every request goes through.

The kinds are the one vocabulary's (:class:`convzoo.arithmetic.Variant`): every kind of
``convzoo.available()`` plus ``conv3d`` and ``wavenet``; aliases (``grouped``, ``atrous``,
``sub-pixel``...) are accepted. :func:`normalize` is the single boundary: it resolves the
kind, rejects options a kind does not take, and applies the size guard (input cells,
channels, kernel, frames) before anything is allocated, so a request for a 10^6 x 10^6 input
or 10^5 frames fails at once with one line (:class:`~convzoo.viz.taps.TooLargeToDraw` when
only the input is too large to draw: its numbers can still be worked out).

Inside :func:`sketching` (what :func:`convzoo.viz.animate.sketch` uses) the builders draw and
compute nothing: every stage is one frame holding only its ``meta`` (the spec and shapes the
numbers come from), its arrays are zero-sized views, and the input may be of any size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from convzoo import arithmetic as ar
from convzoo.arithmetic.variants import Variant, variant
from convzoo.viz.taps import MAX_GRID_CELLS, TooLargeToDraw

__all__ = ["KINDS", "DEFAULTS", "MAX_FRAMES", "FRAME_LIMIT", "MAX_CHANNELS", "MAX_PER_AXIS",
           "TooLargeToDraw", "factor_name", "normalize", "sketching", "is_sketching", "blank"]

_SKETCH: ContextVar[bool] = ContextVar("convzoo_animate_sketch", default=False)


@contextmanager
def sketching() -> Iterator[None]:
    """Within it, builders return one meta-only frame per stage (nothing drawn or computed)."""
    token = _SKETCH.set(True)
    try:
        yield
    finally:
        _SKETCH.reset(token)


def is_sketching() -> bool:
    """True inside :func:`sketching`."""
    return _SKETCH.get()


def blank(shape: tuple[int, ...]) -> np.ndarray:
    """A read-only array of zeros of ``shape`` that takes no memory (a sketch's data).

    >>> blank((3, 1000, 1000)).shape, blank((3, 1000, 1000)).strides
    ((3, 1000, 1000), (0, 0, 0))
    """
    return np.broadcast_to(np.zeros(()), tuple(shape))


#: Default number of frames (bigger outputs are subsampled evenly, and the caption says so).
MAX_FRAMES = 64
#: The most frames any request may ask for.
FRAME_LIMIT = 4096
#: The most channels (in, out, groups) and the largest up- or downscale factor an animation
#: draws.
MAX_CHANNELS = 64
#: The largest kernel, stride, dilation, padding or output_padding per axis.
MAX_PER_AXIS = 64

_C = dict(in_channels=1, out_channels=1)
#: Options each kind takes, and their defaults.
DEFAULTS: dict[str, dict[str, Any]] = {
    "conv": dict(kernel_size=3, stride=1, padding=0, dilation=1, groups=1, **_C,
                 input_size=(5, 5)),
    "conv3d": dict(kernel_size=2, stride=1, padding=0, dilation=1, groups=1, **_C,
                   input_size=(3, 4, 4)),
    "pointwise": dict(in_channels=3, out_channels=2, input_size=(4, 4)),
    "depthwise": dict(kernel_size=3, stride=1, padding=1, dilation=1, in_channels=2,
                      out_channels=None, input_size=(4, 4)),
    "separable": dict(kernel_size=3, stride=1, padding=1, dilation=1, in_channels=2,
                      out_channels=3, input_size=(3, 3)),
    "group": dict(kernel_size=3, stride=1, padding=1, dilation=1, groups=2, in_channels=4,
                  out_channels=4, input_size=(3, 3)),
    "shuffle": dict(in_channels=6, groups=3),
    "shuffle_group": dict(kernel_size=3, stride=1, padding=1, dilation=1, groups=2,
                          in_channels=4, out_channels=4, input_size=(2, 2)),
    "shuffle_unit": dict(kernel_size=3, groups=2, in_channels=4, out_channels=4,
                         input_size=(2, 2)),
    "dilated": dict(kernel_size=3, stride=1, padding="same", dilation=2, groups=1, **_C,
                    input_size=(7, 7)),
    "aspp": dict(kernel_size=3, rates=(2, 3), **_C, input_size=(4, 4)),
    "wavenet": dict(kernel_size=2, input_size=(16,)),
    "transposed": dict(kernel_size=3, stride=2, padding=0, dilation=1, groups=1, **_C,
                       input_size=(3, 3), output_padding=0, mode="zero-insertion"),
    "subpixel": dict(kernel_size=3, **_C, upscale_factor=2, input_size=(2, 2)),
    "pixel_shuffle": dict(in_channels=4, upscale_factor=2, input_size=(3, 3)),
    "pixel_unshuffle": dict(in_channels=1, downscale_factor=2, input_size=(4, 4)),
    "resize_conv": dict(kernel_size=3, **_C, upscale_factor=2, input_size=(2, 2)),
    "flattened": dict(kernel_size=3, padding=1, in_channels=2, out_channels=2,
                      input_size=(3, 3)),
    "spatially_separable": dict(kernel_size=3, padding=1, **_C, input_size=(5, 5)),
    "r2plus1d": dict(kernel_size=3, **_C, input_size=(3, 3, 3)),
}

#: Every kind :func:`~convzoo.viz.animate.animate` draws, in vocabulary order.
KINDS = tuple(v.value for v in Variant)

_PER_AXIS = ("kernel_size", "stride", "dilation", "output_padding", "rates")


def _check_size(opts: dict) -> None:
    size = opts["input_size"]
    size = (size,) if ar.is_int(size) else tuple(size)
    if not 1 <= len(size) <= 3 or not all(ar.is_int(v) and v >= 1 for v in size):
        raise ValueError(f"`input_size` (={opts['input_size']!r}) must be 1 to 3 positive "
                         "ints (the spatial size)")
    opts["input_size"] = tuple(int(v) for v in size)
    channels = opts.get("in_channels") or 1
    cells = channels * math.prod(opts["input_size"])
    if cells > MAX_GRID_CELLS and not is_sketching():
        shape = "x".join(map(str, (channels, *opts["input_size"])))
        raise TooLargeToDraw(f"the input to animate ({shape}) has {cells} cells, more than the "
                             f"limit of {MAX_GRID_CELLS}; use a smaller input")


def _check_small(name: str, value: Any, limit: int) -> None:
    flat = [value] if ar.is_int(value) else (
        [v for item in value for v in ((item,) if ar.is_int(item) else item)]
        if isinstance(value, (tuple, list)) else [])
    if any(ar.is_int(v) and abs(v) > limit for v in flat):
        raise ValueError(f"`{name}` (={value!r}) must be at most {limit} per axis to animate")


def factor_name(kind: str) -> str:
    """The option holding the factor ``r`` of ``kind``: ``'downscale_factor'`` for
    ``'pixel_unshuffle'`` (as ``nn.PixelUnshuffle`` names it), else ``'upscale_factor'``
    (also for a kind that takes none, or a name that is not a kind).

    >>> factor_name("space-to-depth"), factor_name("sub-pixel")
    ('downscale_factor', 'upscale_factor')
    """
    try:
        v = variant(kind)
    except ValueError:
        return "upscale_factor"
    return "downscale_factor" if v is Variant.PIXEL_UNSHUFFLE else "upscale_factor"


def normalize(kind: str, given: dict[str, Any], max_frames: Any) -> tuple[Variant, dict]:
    """Resolve ``kind``, merge ``given`` (``None``: unset) with its defaults, check sizes.

    >>> v, opts = normalize("atrous", {"input_size": 5}, 64)
    >>> v.value, opts["input_size"], opts["dilation"]
    ('dilated', (5,), 2)
    """
    v = variant(kind)
    if not ar.is_int(max_frames) or not 2 <= max_frames <= FRAME_LIMIT:
        raise ValueError(f"`max_frames` (={max_frames!r}) must be an int from 2 to "
                         f"{FRAME_LIMIT}")
    takes = DEFAULTS[v.value]
    for name, value in given.items():
        if value is not None and name not in takes:
            raise ValueError(f"`{name}` (={value!r}) does not apply to kind {v.value!r}, which "
                             f"takes: {', '.join(takes)}")
    opts = {**takes, **{n: val for n, val in given.items() if val is not None}}
    for name in ("in_channels", "out_channels", "groups", "upscale_factor", "downscale_factor"):
        val = opts.get(name)
        if val is not None and (not ar.is_int(val) or not 1 <= val <= MAX_CHANNELS):
            raise ValueError(f"`{name}` (={val!r}) must be an int from 1 to {MAX_CHANNELS} to "
                             "animate")
    for name in _PER_AXIS:
        if name in opts:
            _check_small(name, opts[name], MAX_PER_AXIS)
    if isinstance(opts.get("padding"), (int, tuple, list)):
        _check_small("padding", opts["padding"], MAX_PER_AXIS)
    if "input_size" in opts:
        _check_size(opts)
    return v, opts
