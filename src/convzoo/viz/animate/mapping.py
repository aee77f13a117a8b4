"""Frames of the kinds that move values without weights (channel shuffle, pixel shuffle and
unshuffle, nearest upsampling) and of the composites built on them (sub-pixel conv,
resize-conv, shuffled group conv, the ShuffleNet unit).

Every mapping comes from the reference engine run on cell ids, so a frame shows exactly
where the engine takes each output element from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from convzoo import arithmetic as ar
from convzoo import reference as ref
from convzoo.spec import ConvSpec
from convzoo.viz.animate.dense import input_of, spec_of
from convzoo.viz.animate.options import blank, is_sketching
from convzoo.viz.animate.text import INDEX_NOTE, fmt, index_text, note
from convzoo.viz.animate.window import conv_stage, subsample
from convzoo.viz.draw import COLOURS, CellRef, Grid, Link, Scene, channel_colour

__all__ = ["shuffle", "shuffle_frames", "copy_frames", "pixel_shuffle", "pixel_unshuffle",
           "subpixel", "resize_conv", "shuffle_group", "shuffle_unit"]


def shuffle_frames(c: int, g: int, limit: int, both: bool = True) -> list[Scene]:
    """Channel connectivity of two stacked group convs, without (if ``both``) then with the
    shuffle between them; one frame per group of the second conv."""
    if c % g:
        raise ValueError(f"`in_channels` (={c}) must be divisible by `groups` (={g})")
    if is_sketching():  # a permutation of channels: no numbers of its own
        meta = {"copy": ("channel_shuffle", g)}
        return [Scene([], [f"channel shuffle: C={c}, g={g}"], meta=meta)]
    perm = ref.channel_shuffle(np.arange(c).reshape(1, c, 1), g)[0, :, 0]  # after[i] = source
    per = c // g

    def row(title: str, labels: Sequence[int], colour_of: Callable[[int], int]) -> Grid:
        grid = Grid.blank(title, (c,), None, "channels")
        for i, v in enumerate(labels):
            grid.text[i], grid.fill[i] = str(int(v)), channel_colour(colour_of(i))
        return grid

    scenes = []
    for shuffled in ((False, True) if both else (True,)):
        after = perm if shuffled else np.arange(c)
        for grp in range(g):
            top = row("group conv 1: output channels (colour = its group)", range(c),
                      lambda i: i // per)
            mid = row("after channel shuffle" if shuffled else "no shuffle", after,
                      lambda i, a=after: int(a[i]) // per)
            low = row("group conv 2: input groups (colour = group)", [i // per for i in range(c)],
                      lambda i: i // per)
            members = range(grp * per, (grp + 1) * per)
            links: list[Link] = []
            for i in members:
                low.bold[i] = mid.bold[i] = top.bold[int(after[i])] = True
                links.append(Link(CellRef(0, 0, (int(after[i]),)), CellRef(1, 0, (i,)),
                                  COLOURS["line"]))
                links.append(Link(CellRef(1, 0, (i,)), CellRef(2, 0, (i,)), COLOURS["line"]))
            sources = [int(after[i]) for i in members]
            came = sorted({s // per for s in sources})
            caption = [
                f"channel shuffle: C={c} channels, g={g} groups of {per}; channel i·(C/g)+j "
                "moves to j·g+i" if shuffled else
                f"without channel shuffle: C={c} channels, g={g} groups of {per}",
                f"group {grp} of conv 2 reads channels {sources}, from conv-1 group(s) {came}",
                "every group now sees every other group" if shuffled else
                "each group only ever sees its own group: information never crosses groups",
            ]
            meta = {"shuffled": shuffled, "group": grp, "sources": sources,
                    "copy": ("channel_shuffle", g)}
            scenes.append(Scene([[top], [mid], [low]], caption, links, meta))
    return scenes[:limit]


def shuffle(opts: dict, limit: int) -> list[Scene]:
    """Channel shuffle between two group convs, without then with it."""
    return shuffle_frames(opts["in_channels"], opts["groups"], limit)


def copy_frames(x: np.ndarray, src: np.ndarray, limit: int, header: list[str],
                explain: Callable[[tuple, tuple], str], copy: tuple = ()) -> list[Scene]:
    """One frame per output element of a pure copy: ``y.flat[k] = x.flat[src.flat[k]]``.

    Args:
        x: the input (C_in, *size). src: flat input index of every output element
            (C_out, *out_size), from the reference engine run on cell ids.
        explain: ``(output index, input index) -> text`` for the caption.
        copy: ``(operation, factor)`` recorded in every frame's ``meta['copy']``.
    """
    c_in, size = x.shape[0], x.shape[1:]
    y = x.reshape(-1)[src]
    c_out, out_size = src.shape[0], src.shape[1:]
    per_channel = math.prod(size)
    order = [(o, *p) for o in range(c_out) for p in np.ndindex(*out_size)]
    picked = subsample(len(order), limit)
    count = note(len(picked), len(order), "output elements")
    scenes = []
    for step in picked:
        oc, *p = order[step]
        flat = int(src[(oc, *p)])
        sc, *sj = (int(v) for v in np.unravel_index(flat, (c_in, *size)))
        ins = []
        for c in range(c_in):
            g = Grid.blank(f"x[{c}]", size, channel_colour(c), "input", c)
            for pos in np.ndindex(*size):
                g.text[pos] = fmt(x[(c, *pos)])
            if c == sc:
                g.fill[tuple(sj)], g.bold[tuple(sj)] = channel_colour(c, True), True
            ins.append(g)
        outs = []
        for o in range(c_out):
            g = Grid.blank(f"y[{o}]", out_size, COLOURS["output"], "output", o)
            for k, pos in enumerate(np.ndindex(*out_size)):
                s = int(src[(o, *pos)]) // per_channel
                g.fill[pos] = channel_colour(s)
                if o < oc or (o == oc and k <= step - oc * math.prod(out_size)):
                    g.text[pos] = fmt(y[(o, *pos)])
            if o == oc:
                g.fill[tuple(p)], g.bold[tuple(p)] = channel_colour(sc, True), True
            outs.append(g)
        caption = [*header,
                   f"computing y[{oc}, {index_text(p)}]: element {step + 1} of {len(order)} "
                   f"({count})",
                   explain((oc, *p), (sc, *sj)) + f"; y[{oc}, {index_text(p)}] = "
                   f"x[{sc}, {index_text(sj)}] = {fmt(y[(oc, *p)])}",
                   INDEX_NOTE]
        meta = {"output": (oc, *p), "inputs": {(sc, *sj)}, "links": [(sc, tuple(sj), None)],
                "copy": copy,
                "input_shape": (1, *x.shape), "output_shape": (1, *y.shape)}
        scenes.append(Scene([ins, outs], caption, meta=meta))
    return scenes


def _ids(shape: Sequence[int]) -> np.ndarray:
    return np.arange(math.prod(shape)).reshape(1, *shape)


def _sketch(op: str, r: int, x: np.ndarray, out: tuple[int, ...], header: list[str]
            ) -> list[Scene]:
    """A sketch's one frame of a copy: its header, operation and shapes (nothing drawn)."""
    meta = {"copy": (op, r), "input_shape": (1, *x.shape), "output_shape": out}
    return [Scene([], header, meta=meta)]


def _pixel_shuffle_frames(x: np.ndarray, r: int, limit: int) -> list[Scene]:
    c_in, size = x.shape[0], x.shape[1:]
    n = len(size)
    if c_in % r ** n:
        raise ValueError(f"`in_channels` (={c_in}) must be divisible by "
                         f"upscale_factor^{n} (={r ** n})")
    header = [f"pixel shuffle (depth to space) by r={r}: C_in = C_out·r^{n}: "
              f"{c_in} = {c_in // r ** n}·{r}^{n}; per axis out = in·r: "
              + ", ".join(f"{i}·{r} = {i * r}" for i in size)]
    if is_sketching():
        out = ar.pixel_shuffle_shape((1, *x.shape), r)
        return _sketch("pixel_shuffle", r, x, out, header)
    src = ref.pixel_shuffle(_ids(x.shape), r)[0]

    def explain(out: tuple, inp: tuple) -> str:
        oc, *p = out
        sub = " + ".join(f"({v} mod {r})·{r ** (n - 1 - a)}" for a, v in enumerate(p))
        return (f"channel = {oc}·{r}^{n} + {sub} = {inp[0]}; position = ("
                + ", ".join(f"{v} div {r}" for v in p) + f") = ({index_text(inp[1:])})")

    return copy_frames(x, src, limit, header, explain, ("pixel_shuffle", r))


def pixel_shuffle(opts: dict, limit: int) -> list[Scene]:
    """Depth to space: each group of r^n channels becomes an r x r block."""
    return _pixel_shuffle_frames(input_of(opts), opts["upscale_factor"], limit)


def pixel_unshuffle(opts: dict, limit: int) -> list[Scene]:
    """Space to depth: each r x r block becomes r^n channels."""
    r, x = opts["downscale_factor"], input_of(opts)
    size, n = x.shape[1:], x.ndim - 1
    if any(v % r for v in size):
        raise ValueError(f"`input_size` (={tuple(size)}) must be divisible by "
                         f"`downscale_factor` (={r}) "
                         "on every axis for kind 'pixel_unshuffle'")
    header = [f"pixel unshuffle (space to depth) by r={r}: C_out = C_in·r^{n} = "
              f"{x.shape[0]}·{r}^{n} = {x.shape[0] * r ** n}; per axis out = in / r: "
              + ", ".join(f"{i} / {r} = {i // r}" for i in size)]
    if is_sketching():
        out = ar.pixel_unshuffle_shape((1, *x.shape), r)
        return _sketch("pixel_unshuffle", r, x, out, header)
    src = ref.pixel_unshuffle(_ids(x.shape), r)[0]

    def explain(out: tuple, inp: tuple) -> str:
        return f"input cell ({index_text(inp[1:])}) of channel {inp[0]} -> channel {out[0]}"

    return copy_frames(x, src, limit, header, explain, ("pixel_unshuffle", r))


def _nearest_frames(x: np.ndarray, r: int, limit: int, title: str) -> list[Scene]:
    header = [f"{title}: nearest upsampling by r={r}: out = in·r per axis: "
              + ", ".join(f"{i}·{r} = {i * r}" for i in x.shape[1:])]
    if is_sketching():
        return _sketch("nearest", r, x, ar.nearest_upsample_shape((1, *x.shape), r), header)
    ids = _ids(x.shape)[0]
    src = ids
    for axis in range(1, x.ndim):
        src = np.repeat(src, r, axis=axis)

    def explain(out: tuple, inp: tuple) -> str:
        return "position = (" + ", ".join(f"{v} div {r}" for v in out[1:]) + \
            f") = ({index_text(inp[1:])})"

    return copy_frames(x, src, limit, header, explain, ("nearest", r))


def _tag(scenes: list[Scene], stage: int) -> list[Scene]:
    for s in scenes:
        s.meta["stage"] = stage
    return scenes


def subpixel(opts: dict, limit: int) -> list[Scene]:
    """Sub-pixel conv (ESPCN): a 'same' conv to C_out·r^n channels, then a pixel shuffle."""
    r, n = opts["upscale_factor"], len(opts["input_size"])
    spec = spec_of(opts, out_channels=opts["out_channels"] * r ** n, padding="same")
    conv, y = conv_stage(spec, input_of(opts), max(1, limit // 2),
                         f"stage 1/2: conv to C_out·r^{n} = {spec.out_channels} channels", 1)
    return _tag(conv, 0) + _tag(_pixel_shuffle_frames(y, r, max(1, limit - len(conv))), 1)


def resize_conv(opts: dict, limit: int) -> list[Scene]:
    """Resize-conv: nearest upsampling by r, then a 'same' conv at the high resolution."""
    r, x = opts["upscale_factor"], input_of(opts)
    up = _nearest_frames(x, r, max(1, limit // 2), "stage 1/2")
    if is_sketching():
        big = blank(ar.nearest_upsample_shape((1, *x.shape), r)[1:])
    else:
        big = x
        for axis in range(1, x.ndim):
            big = np.repeat(big, r, axis=axis)
    spec = spec_of(opts, padding="same", input_size=big.shape[1:])
    conv, _ = conv_stage(spec, big, max(1, limit - len(up)), "stage 2/2: 'same' conv", 1)
    return _tag(up, 0) + _tag(conv, 1)


def shuffle_group(opts: dict, limit: int) -> list[Scene]:
    """A grouped conv, then the channel shuffle that lets the next group conv mix groups."""
    g = opts["groups"]
    conv, _ = conv_stage(spec_of(opts), input_of(opts), max(1, limit - g),
                         f"stage 1/2: grouped conv (g={g})", 1)
    return _tag(conv, 0) + _tag(shuffle_frames(opts["out_channels"], g, g, both=False), 1)


def shuffle_unit(opts: dict, limit: int) -> list[Scene]:
    """The ShuffleNet unit's branch: 1x1 group conv, shuffle, 3x3 depthwise, 1x1 group conv."""
    g, c, c_out, n = opts["groups"], opts["in_channels"], opts["out_channels"], \
        len(opts["input_size"])
    k = opts["kernel_size"]
    gpw1 = ConvSpec(c, c_out, 1, groups=g, ndim=n)
    dw = ConvSpec(c_out, c_out, k, padding="same", groups=c_out, ndim=n)
    gpw2 = ConvSpec(c_out, c_out, 1, groups=g, ndim=n)
    per = max(1, (limit - g) // 3)
    s1, y = conv_stage(gpw1, input_of(opts), per, f"stage 1/4: 1x1 group conv (g={g})", 1)
    s2 = shuffle_frames(c_out, g, g, both=False)
    if not is_sketching():  # (a permutation of channels: the shape stays)
        y = ref.channel_shuffle(y[None], g)[0]
    s3, y = conv_stage(dw, y, per, f"stage 3/4: {k}x{k} depthwise conv", 2)
    s4, _ = conv_stage(gpw2, y, per, f"stage 4/4: 1x1 group conv (g={g})", 3)
    for s in s2:
        s.caption.insert(0, "stage 2/4: channel shuffle")
    return _tag(s1, 0) + _tag(s2, 1) + _tag(s3, 2) + _tag(s4, 3)
