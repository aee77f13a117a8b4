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
    """Jin et al.: a 1-D conv across channels, then one along each spatial axis (the layer
    ``convzoo.create('flattened', ...)``: no bias but on the last stage)."""
    n, c = len(opts["input_size"]), opts["out_channels"]
    k = single_int("kernel_size", opts["kernel_size"], "flattened")
    specs = [(ConvSpec(opts["in_channels"], c, 1, ndim=n, bias=False),
              "lateral 1-D conv across channels")]
    for a, name in enumerate(axis_names(n)):
        spec = ConvSpec(c, c, _axis_kernel(n, a, k), padding=_axis_padding(n, a, opts["padding"]),
                        groups=c, bias=a == n - 1)
        specs.append((spec, f"1-D conv along {name} (per channel)"))
    return stages(input_of(opts), specs, limit)


def spatially_separable(opts: dict, limit: int) -> list[Scene]:
    """k x 1, then 1 x k (one dense 1-D conv per axis; as the layer
    ``convzoo.create('spatially_separable', ...)``, only the last has a bias)."""
    n = len(opts["input_size"])
    k = single_int("kernel_size", opts["kernel_size"], "spatially_separable")
    specs, c = [], opts["in_channels"]
    for a, name in enumerate(axis_names(n)):
        kernel = _axis_kernel(n, a, k)
        spec = ConvSpec(c, opts["out_channels"], kernel,
                        padding=_axis_padding(n, a, opts["padding"]), bias=a == n - 1)
        specs.append((spec, f"{'x'.join(map(str, kernel))} conv along {name}"))
        c = opts["out_channels"]
    return stages(input_of(opts), specs, limit)


def r2plus1d(opts: dict, limit: int) -> list[Scene]:
    """R(2+1)D as the layer ``convzoo.create('r2plus1d', ...)`` builds it: a 1 x k x k spatial
    conv to ``M`` channels (the paper's rule, :func:`convzoo.arithmetic.r2plus1d_mid_channels`),
    a BatchNorm (counted, not drawn), then a k x 1 x 1 temporal conv; 'same' padding, no bias."""
    if len(opts["input_size"]) != 3:
        raise ValueError(f"`input_size` (={opts['input_size']!r}) must have 3 spatial sizes "
                         "(T, H, W) for kind 'r2plus1d'")
    k = single_int("kernel_size", opts["kernel_size"], "r2plus1d")
    c_in, c_out = opts["in_channels"], opts["out_channels"]
    mid = ar.r2plus1d_mid_channels(c_in, c_out, k)
    spatial = ConvSpec(c_in, mid, (1, k, k), padding="same", bias=False)
    temporal = ConvSpec(mid, c_out, (k, 1, 1), padding="same", bias=False)
    scenes = stages(input_of(opts), [(spatial, f"1x{k}x{k} spatial conv to M={mid} (per frame)"),
                                     (temporal, f"{k}x1x1 temporal conv (across frames)")], limit)
    shape = (1, mid, *opts["input_size"])
    first = next(s for s in scenes if s.meta.get("stage") == 0)
    first.meta["then"] = [{"label": f"BatchNorm3d({mid}) after the spatial conv", "norm": mid,
                           "shape": shape}]
    return scenes


def aspp(opts: dict, limit: int) -> list[Scene]:
    """ASPP as the layer ``convzoo.create('aspp', ...)`` builds it: a 1x1 branch and 'same'
    dilated branches at several rates, on the same input (drawn); an image-pooling branch, the
    BatchNorms and the 1x1 projection of the concatenation (counted, not drawn); no bias."""
    rates = tuple(opts["rates"])
    if not rates or not all(ar.is_int(r) and r >= 1 for r in rates):
        raise ValueError(f"`rates` (={opts['rates']!r}) must be one or more positive ints")
    c_in, c_out, n = opts["in_channels"], opts["out_channels"], len(opts["input_size"])
    k = single_int("kernel_size", opts["kernel_size"], "aspp")
    specs = [(ConvSpec(c_in, c_out, 1, ndim=n, bias=False), "1x1 conv")]
    specs += [(ConvSpec(c_in, c_out, k, padding="same", dilation=r, ndim=n, bias=False),
               f"{k}x{k} conv, rate {r}") for r in rates]
    scenes = branches(input_of(opts), specs, limit)
    count = len(specs) + 1  # and the image-pooling branch
    total = c_out * count
    for s in scenes:
        s.caption.insert(1, f"ASPP: {len(specs)} parallel branches drawn and an image-pooling "
                            f"branch, outputs concatenated to {count}·{c_out} = {total} "
                            f"channels, then a 1x1 projection to {c_out}")
    size = tuple(opts["input_size"])
    norm = {"norm": c_out, "shape": (1, c_out, *size)}
    last = next(s for s in scenes if s.meta.get("stage") == len(specs) - 1)
    last.meta["then"] = [
        *({"label": f"BatchNorm after branch {i + 1}", **norm} for i in range(len(specs))),
        {"label": "image pooling: global mean, then 1x1 conv",
         "spec": ConvSpec(c_in, c_out, 1, ndim=n, bias=False), "shape": (1, c_in, *[1] * n)},
        {"label": "BatchNorm after image pooling", "norm": c_out, "shape": (1, c_out, *[1] * n)},
        {"label": f"1x1 projection of the {total} concatenated channels",
         "spec": ConvSpec(total, c_out, 1, ndim=n, bias=False), "shape": (1, total, *size),
         "output": True},
        {"label": "BatchNorm after the projection", **norm},
    ]
    return scenes
