"""Frames of the sliding-window kinds: conv (1-3 D), dilated, depthwise, pointwise, grouped,
depthwise-separable, flattened, spatially separable, R(2+1)D and ASPP.

Each builder takes the normalized options (see :mod:`convzoo.viz.animate.options`) and a
frame limit, and returns the scenes; composite kinds are stages (or branches) of
:func:`~convzoo.viz.animate.window.conv_stage`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convzoo import arithmetic as ar
from convzoo.spec import ConvSpec
from convzoo.viz.animate.options import blank, is_sketching
from convzoo.viz.animate.text import axis_names, small_ints
from convzoo.viz.animate.window import branches, conv_stage, stages
from convzoo.viz.draw import Scene

__all__ = ["conv", "conv3d", "dilated", "depthwise", "pointwise", "group", "separable",
           "flattened", "spatially_separable", "r2plus1d", "aspp", "spec_of", "input_of",
           "single_int"]


def spec_of(opts: dict, **over: Any) -> ConvSpec:
    """The forward ConvSpec the options describe (``over`` replaces some of them)."""
    o = {**opts, **over}
    return ConvSpec(o["in_channels"], o["out_channels"], o["kernel_size"],
                    stride=o.get("stride", 1),
                    padding=o.get("padding", 0), dilation=o.get("dilation", 1),
                    groups=o.get("groups", 1), ndim=len(o["input_size"]))


def input_of(opts: dict, channels: int | None = None) -> np.ndarray:
    """The input every animation uses: small ints 0..4, seed 0, shape (C_in, *input_size)
    (a sketch's :func:`~convzoo.viz.animate.options.blank` of that shape)."""
    c = opts["in_channels"] if channels is None else channels
    if is_sketching():
        return blank((c, *opts["input_size"]))
    return small_ints((c, *opts["input_size"]), 0, 0, 4)


def single_int(name: str, value: Any, kind: str) -> int:
    """``value`` as an int, or the error for a kind that takes one size for every axis."""
    if not ar.is_int(value):
        raise ValueError(f"`{name}` (={value!r}) must be a single int for kind {kind!r}")
    return int(value)


def conv(opts: dict, limit: int, title: str = "conv") -> list[Scene]:
    """A standard conv over 1, 2 or 3 spatial axes."""
    spec = spec_of(opts)
    return conv_stage(spec, input_of(opts), limit, f"{title} {spec.ndim}-D", 1)[0]


def conv3d(opts: dict, limit: int) -> list[Scene]:
    """A 3-D conv, its depth slices drawn side by side."""
    if len(opts["input_size"]) != 3:
        raise ValueError(f"`input_size` (={opts['input_size']!r}) must have 3 spatial sizes "
                         "(D, H, W) for kind 'conv3d'")
    return conv(opts, limit, "conv3d (depth slices side by side)")


def dilated(opts: dict, limit: int) -> list[Scene]:
    """A dilated (atrous) conv: holes of d-1 cells between the kernel taps."""
    return conv(opts, limit, f"dilated conv (d={opts['dilation']})")


def depthwise(opts: dict, limit: int) -> list[Scene]:
    """groups = C_in: one kernel per channel (times the depth multiplier)."""
    c = opts["in_channels"]
    out = opts["out_channels"] if opts["out_channels"] is not None else c
    spec = spec_of(opts, out_channels=out, groups=c)
    return conv_stage(spec, input_of(opts), limit, f"depthwise (groups = C_in = {c}, depth "
                      f"multiplier {out // c})", 1)[0]


def pointwise(opts: dict, limit: int) -> list[Scene]:
    """A 1x1 conv: channel mixing only."""
    spec = spec_of(opts, kernel_size=1)
    return conv_stage(spec, input_of(opts), limit, "pointwise 1x1 (channel mixing only)", 1)[0]


def group(opts: dict, limit: int) -> list[Scene]:
    """A grouped conv, one colour per group."""
    return conv(opts, limit, f"grouped conv (g={opts['groups']}, one colour per group)")


def separable(opts: dict, limit: int) -> list[Scene]:
    """Depthwise, then pointwise."""
    c = opts["in_channels"]
    dw = spec_of(opts, out_channels=c, groups=c)
    pw = ConvSpec(c, opts["out_channels"], 1, ndim=dw.ndim)
    return stages(input_of(opts), [(dw, "depthwise"), (pw, "pointwise 1x1")], limit)


def _axis_padding(n: int, axis: int, p: Any) -> tuple:
    pads = [(0, 0)] * n
    pads[axis] = (p, p) if isinstance(p, int) else tuple(p)
    return tuple(pads)


def _axis_kernel(n: int, axis: int, k: int) -> tuple[int, ...]:
    return tuple(k if a == axis else 1 for a in range(n))


def flattened(opts: dict, limit: int) -> list[Scene]:
    """Jin et al.: a 1-D conv across channels, then one along each spatial axis."""
    n, c = len(opts["input_size"]), opts["out_channels"]
    k = single_int("kernel_size", opts["kernel_size"], "flattened")
    specs = [(ConvSpec(opts["in_channels"], c, 1, ndim=n), "lateral 1-D conv across channels")]
    for a, name in enumerate(axis_names(n)):
        spec = ConvSpec(c, c, _axis_kernel(n, a, k), padding=_axis_padding(n, a, opts["padding"]),
                        groups=c)
        specs.append((spec, f"1-D conv along {name} (per channel)"))
    return stages(input_of(opts), specs, limit)


def spatially_separable(opts: dict, limit: int) -> list[Scene]:
    """k x 1, then 1 x k (one dense 1-D conv per axis)."""
    n = len(opts["input_size"])
    k = single_int("kernel_size", opts["kernel_size"], "spatially_separable")
    specs, c = [], opts["in_channels"]
    for a, name in enumerate(axis_names(n)):
        kernel = _axis_kernel(n, a, k)
        spec = ConvSpec(c, opts["out_channels"], kernel,
                        padding=_axis_padding(n, a, opts["padding"]))
        specs.append((spec, f"{'x'.join(map(str, kernel))} conv along {name}"))
        c = opts["out_channels"]
    return stages(input_of(opts), specs, limit)


def r2plus1d(opts: dict, limit: int) -> list[Scene]:
    """R(2+1)D: a 1 x k x k spatial conv, then a k x 1 x 1 temporal conv."""
    if len(opts["input_size"]) != 3:
        raise ValueError(f"`input_size` (={opts['input_size']!r}) must have 3 spatial sizes "
                         "(T, H, W) for kind 'r2plus1d'")
    k = single_int("kernel_size", opts["kernel_size"], "r2plus1d")
    p = k // 2
    c_in, c_out = opts["in_channels"], opts["out_channels"]
    spatial = ConvSpec(c_in, c_out, (1, k, k), padding=((0, 0), (p, p), (p, p)))
    temporal = ConvSpec(c_out, c_out, (k, 1, 1), padding=((p, p), (0, 0), (0, 0)))
    return stages(input_of(opts), [(spatial, f"1x{k}x{k} spatial conv (per frame)"),
                                   (temporal, f"{k}x1x1 temporal conv (across frames)")], limit)


def aspp(opts: dict, limit: int) -> list[Scene]:
    """ASPP: a 1x1 branch and 'same' dilated branches at several rates, on the same input."""
    rates = tuple(opts["rates"])
    if not rates or not all(ar.is_int(r) and r >= 1 for r in rates):
        raise ValueError(f"`rates` (={opts['rates']!r}) must be one or more positive ints")
    c_in, c_out, n = opts["in_channels"], opts["out_channels"], len(opts["input_size"])
    k = single_int("kernel_size", opts["kernel_size"], "aspp")
    specs = [(ConvSpec(c_in, c_out, 1, ndim=n), "1x1 conv")]
    specs += [(ConvSpec(c_in, c_out, k, padding="same", dilation=r, ndim=n),
               f"{k}x{k} conv, rate {r}") for r in rates]
    scenes = branches(input_of(opts), specs, limit)
    total = c_out * len(specs)
    for s in scenes:
        s.caption.insert(1, f"ASPP: {len(specs)} parallel branches on the same input, outputs "
                            f"concatenated to {len(specs)}·{c_out} = {total} channels")
    return scenes
