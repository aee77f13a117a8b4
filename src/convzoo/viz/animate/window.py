"""A window sliding over a grid: the frames of every dense, grouped and staged conv.

Each frame highlights the cells feeding the output element being computed (the taps come
from :mod:`convzoo.viz.taps`, i.e. from the reference engine), shows the kernel's weights
and the running sum, and carries the output-size formula of :mod:`convzoo.arithmetic`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from convzoo import arithmetic as ar
from convzoo import reference as ref
from convzoo.spec import ConvSpec
from convzoo.viz.animate.options import blank, is_sketching
from convzoo.viz.animate.text import (
    INDEX_NOTE,
    axis_names,
    fmt,
    index_text,
    note,
    small_ints,
    sum_text,
)
from convzoo.viz.draw import COLOURS, Grid, Scene, channel_colour
from convzoo.viz.taps import conv_taps

__all__ = ["per_axis_text", "subsample", "window_scenes", "describe", "conv_stage", "stages",
           "branches"]


def subsample(n: int, limit: int) -> list[int]:
    """``limit`` evenly spread indices of ``range(n)`` (all of them when ``n <= limit``).

    >>> subsample(5, 10), subsample(10, 4)
    ([0, 1, 2, 3, 4], [0, 3, 6, 9])
    """
    if n <= limit:
        return list(range(n))
    return sorted({int(v) for v in np.linspace(0, n - 1, limit).round()})


def window_scenes(
    *, header: list[str], grid_values: np.ndarray, kind_of: Callable, gtaps, channels: np.ndarray,
    w_view: np.ndarray, y: np.ndarray, groups: int, limit: int, grid_name: str = "x",
    source_of: Callable | None = None, x: np.ndarray | None = None, kernel_name: str = "w",
) -> list[Scene]:
    """Frames of a stride-s window sliding over ``grid_values`` (C_in, *grid) to give ``y``.

    The kernel's weights are written in the corner of the highlighted input cells they
    multiply (the kernel shaded over the input), and also drawn as their own grid.
    """
    c_in, c_out = grid_values.shape[0], y.shape[0]
    cin_g, cout_g = c_in // groups, c_out // groups
    grid_shape, out_shape = grid_values.shape[1:], y.shape[1:]
    kinds = np.empty(grid_shape, dtype=object)
    for pos in np.ndindex(*grid_shape):
        kinds[pos] = kind_of(pos)
    order = [(o, *p) for o in range(c_out) for p in np.ndindex(*out_shape)]
    picked = subsample(len(order), limit)
    count = note(len(picked), len(order), "output elements")

    def base(kind: str, group: int, hi: bool) -> str:
        if kind == "input" and groups > 1:
            return channel_colour(group, hi)
        return COLOURS[f"{kind}_hi" if hi else kind]

    scenes = []
    for step in picked:
        oc, *o = order[step]
        grp = oc // cout_g
        window = gtaps.cells(o)
        linked = [int(c) for c in np.flatnonzero(channels[oc])]
        inputs = []
        meta_inputs, meta_pad, meta_other = set(), set(), set()
        links = []  # (input channel, grid position, kernel tap): the grids' cells it pairs
        for c in range(c_in):
            g = Grid.blank(f"{grid_name}[{c}]", grid_shape, None, "input", c)
            for pos in np.ndindex(*grid_shape):
                g.fill[pos] = base(kinds[pos], c // cin_g, False)
                g.text[pos] = fmt(grid_values[(c, *pos)])
            if c in linked:
                for pos, t in window:
                    g.fill[pos] = base(kinds[pos], c // cin_g, True)
                    g.bold[pos] = True
                    g.weight[pos] = fmt(w_view[(oc, c - grp * cin_g, *t)])
                    links.append((c, tuple(pos), tuple(t)))
                    src = source_of(pos) if source_of else pos
                    if kinds[pos] == "input":
                        meta_inputs.add((c, *src))
                    elif kinds[pos] == "padding":
                        meta_pad.add((c, *pos))
                    else:
                        meta_other.add((c, *pos))
            inputs.append(g)
        rows = [inputs]
        if x is not None and source_of is not None:  # the original input, sources marked
            originals = []
            for c in range(c_in):
                g = Grid.blank(f"input x[{c}]", x.shape[1:], COLOURS["input"], "source", c)
                for pos in np.ndindex(*x.shape[1:]):
                    g.text[pos] = fmt(x[(c, *pos)])
                for (cc, *j) in meta_inputs:
                    if cc == c:
                        g.fill[tuple(j)], g.bold[tuple(j)] = COLOURS["input_hi"], True
                originals.append(g)
            rows.insert(0, originals)
        kernels = []
        for cl in range(cin_g):
            g = Grid.blank(f"{kernel_name}[{oc},{cl}]", w_view.shape[2:], COLOURS["kernel"],
                           "kernel", grp * cin_g + cl)
            for t in np.ndindex(*w_view.shape[2:]):
                g.text[t] = fmt(w_view[(oc, cl, *t)])
            kernels.append(g)
        outputs = []
        for oc2 in range(c_out):
            g = Grid.blank(f"y[{oc2}]", out_shape, COLOURS["output"], "output", oc2)
            for flat, p in enumerate(np.ndindex(*out_shape)):
                done = oc2 < oc or (oc2 == oc and flat <= step - oc * math.prod(out_shape))
                if done:
                    g.fill[p], g.text[p] = COLOURS["output_done"], fmt(y[(oc2, *p)])
            if oc2 == oc:
                g.fill[tuple(o)], g.bold[tuple(o)] = COLOURS["output_hi"], True
            outputs.append(g)
        rows.append(kernels + outputs)
        terms = [
            (w_view[(oc, c - grp * cin_g, *t)], grid_values[(c, *pos)])
            for c in linked for pos, t in window
        ]
        total = float(sum(w * v for w, v in terms))
        name = f"y[{oc}, {index_text(o)}]"
        caption = [
            *header,
            f"computing {name}: element {step + 1} of {len(order)} ({count})",
            sum_text(name, terms, total),
            INDEX_NOTE,
        ]
        meta = {"output": (oc, *o), "inputs": meta_inputs, "padding": meta_pad,
                "other": meta_other, "links": links, "sum": total, "value": float(y[(oc, *o)]),
                "terms": [(float(w), float(v)) for w, v in terms]}
        scenes.append(Scene(rows, caption, meta=meta))
    return scenes


def _pads_text(pads: Sequence[tuple[int, int]]) -> str:
    """``((1, 1), (1, 1))`` -> ``'1'``; ``((0, 1), (1, 1))`` -> ``'(0,1) x (1,1)'``."""
    flat = {v for pair in pads for v in pair}
    if len(flat) == 1:
        return str(flat.pop())
    return " x ".join(f"({lo},{hi})" for lo, hi in pads)


def per_axis_text(values: Sequence[int]) -> str:
    """``(3, 3)`` -> ``'3'``, ``(3, 1)`` -> ``'3x1'``."""
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def describe(spec: ConvSpec, pads: Sequence[tuple[int, int]]) -> str:
    """The conv's settings in plain words (no tuple noise).

    >>> describe(ConvSpec(1, 2, 3, padding=1), ((1, 1), (1, 1)))
    'C_in=1 -> C_out=2, kernel 3, stride 1, padding 1, dilation 1, groups 1'
    """
    return (f"C_in={spec.in_channels} -> C_out={spec.out_channels}, kernel "
            f"{per_axis_text(spec.kernel_size)}, stride {per_axis_text(spec.stride)}, padding "
            f"{_pads_text(pads)}, dilation {per_axis_text(spec.dilation)}, groups {spec.groups}")


def conv_stage(spec: ConvSpec, x: np.ndarray, limit: int, title: str, seed: int,
               weight: np.ndarray | None = None) -> tuple[list[Scene], np.ndarray]:
    """Frames of forward conv ``spec`` on ``x`` (C_in, *spatial); returns them and the output.
    Sketching: one frame with the stage's spec and input shape, and a blank output."""
    if is_sketching():
        out = spec.output_shape((1, *x.shape))[1:]
        meta = {"spec": spec, "input_shape": (1, *x.shape)}
        return [Scene([], [f"{title}: numbers only, not drawn"], meta=meta)], blank(out)
    spatial = x.shape[1:]
    taps = conv_taps(spec, spatial)
    w = weight if weight is not None else small_ints(spec.weight_shape, seed, -1, 2)
    y = ref.conv(x, w, None, spec.stride, taps.padding, spec.dilation, spec.groups)
    header = [f"{title}: {describe(spec, taps.padding)}"]
    for name, i, k, s, p, d in zip(axis_names(spec.ndim), spatial, spec.kernel_size,
                                   spec.stride, taps.padding, spec.dilation):
        header.append(f"{name}: out = {ar.conv_output_formula(i, k, s, p, d)}")
    scenes = window_scenes(
        header=header, grid_values=ref.pad(x, taps.padding), gtaps=taps.grid,
        kind_of=lambda pos: "input" if taps.source(pos) is not None else "padding",
        source_of=taps.source, channels=taps.channels, w_view=w, y=y, groups=spec.groups,
        limit=limit, grid_name="x padded" if any(map(any, taps.padding)) else "x",
    )
    for s in scenes:  # what the frames compute, for readers such as the playground's numbers
        s.meta["spec"], s.meta["input_shape"] = spec, (1, *x.shape)
    return scenes, y


def stages(x: np.ndarray, specs: list[tuple[ConvSpec, str]], limit: int) -> list[Scene]:
    """Conv stages one after the other (each stage's input is the previous stage's output)."""
    scenes: list[Scene] = []
    per = max(1, limit // len(specs))
    for i, (spec, title) in enumerate(specs):
        part, x = conv_stage(spec, x, per, f"stage {i + 1}/{len(specs)}: {title}", 1 + i)
        for s in part:
            s.meta["stage"] = i
        scenes += part
    return scenes


def branches(x: np.ndarray, specs: list[tuple[ConvSpec, str]], limit: int) -> list[Scene]:
    """Parallel conv branches on the same input (ASPP); their outputs are concatenated."""
    scenes: list[Scene] = []
    per = max(1, limit // len(specs))
    for i, (spec, title) in enumerate(specs):
        part, _ = conv_stage(spec, x, per, f"branch {i + 1}/{len(specs)}: {title}", 1 + i)
        for s in part:
            s.meta["stage"], s.meta["branch"] = i, True
        scenes += part
    return scenes
