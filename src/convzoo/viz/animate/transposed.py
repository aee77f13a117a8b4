"""Frames of the transposed conv, read two ways from the same engine.

``'zero-insertion'``: s-1 zeros between the inputs, a border of d(k-1)-p, output_padding on
the far side, then an ordinary stride-1 conv with the flipped kernel. ``'scatter'``: every
input element adds value x kernel into the uncropped output, whose border ``padding`` crops.
"""

from __future__ import annotations

import numpy as np

from convzoo import arithmetic as ar
from convzoo import reference as ref
from convzoo.reference.transpose import flip_transpose_weight
from convzoo.spec import ConvSpec
from convzoo.viz.animate.dense import input_of
from convzoo.viz.animate.options import is_sketching
from convzoo.viz.animate.text import (
    INDEX_NOTE,
    axis_names,
    factor_text,
    fmt,
    index_text,
    note,
    small_ints,
)
from convzoo.viz.animate.window import describe, per_axis_text, subsample, window_scenes
from convzoo.viz.draw import COLOURS, Grid, Scene
from convzoo.viz.taps import scatter_taps, zero_insertion_taps

__all__ = ["MODES", "transposed", "scatter"]

MODES = ("zero-insertion", "scatter")


def transposed(opts: dict, limit: int) -> list[Scene]:
    if opts["mode"] not in MODES:
        raise ValueError(f"`mode` (={opts['mode']!r}) must be one of "
                         + ", ".join(repr(m) for m in MODES))
    o = opts
    spec = ConvSpec(o["in_channels"], o["out_channels"], o["kernel_size"], stride=o["stride"],
                    padding=o["padding"], dilation=o["dilation"], groups=o["groups"],
                    transposed=True, output_padding=o["output_padding"],
                    ndim=len(o["input_size"]))
    x = input_of(opts)
    if is_sketching():  # the numbers' spec and shape only
        spec.output_shape((1, *x.shape))  # (raises for a size that leaves no output)
        return _tag([Scene([], [f"transposed conv ({o['mode']}): numbers only"])], spec, x)
    w = small_ints(spec.weight_shape, 1, -1, 2)
    header = [f"transposed conv ({o['mode']}): {describe(spec, spec.padding)}, "
              f"output_padding {per_axis_text(spec.output_padding)}"]
    for name, i, k, s, p, op, d in zip(axis_names(spec.ndim), x.shape[1:], spec.kernel_size,
                                       spec.stride, spec.padding, spec.output_padding,
                                       spec.dilation):
        header.append(f"{name}: out = {ar.conv_transpose_output_formula(i, k, s, p, op, d)}")
    if opts["mode"] == "scatter":
        return _tag(scatter(spec, x, w, header, limit), spec, x)
    taps = zero_insertion_taps(spec, x.shape[1:])
    y = ref.conv_transpose(x, w, None, spec.stride, spec.padding, spec.output_padding,
                           spec.groups, spec.dilation)
    grid = np.zeros((spec.in_channels, *taps.grid.grid_shape))
    for pos in np.ndindex(*taps.grid.grid_shape):
        j = taps.source(pos)
        if j is not None:
            grid[(slice(None), *pos)] = x[(slice(None), *j)]
    extents = [ar.effective_kernel(k, d) - 1 for k, d in zip(spec.kernel_size, spec.dilation)]
    sides = ", ".join(f"{e}-{lo} | {e}-{hi}+{op}" for e, (lo, hi), op in
                      zip(extents, spec.padding, spec.output_padding))
    header.append(f"zero insertion: s-1 zeros (yellow) between inputs; padding d(k-1)-p per side "
                  f"(grey; {sides}), output_padding on the right (pink); flipped kernel, stride 1")
    return _tag(window_scenes(
        header=header, grid_values=grid, kind_of=taps.kind, gtaps=taps.grid,
        channels=taps.channels, w_view=flip_transpose_weight(w, spec.groups), y=y,
        groups=spec.groups, limit=limit, grid_name="zero-inserted x", source_of=taps.source,
        x=x, kernel_name="w flipped",
    ), spec, x)


def _tag(scenes: list[Scene], spec: ConvSpec, x: np.ndarray) -> list[Scene]:
    for s in scenes:
        s.meta["spec"], s.meta["input_shape"] = spec, (1, *x.shape)
    return scenes


def scatter(spec: ConvSpec, x: np.ndarray, w: np.ndarray, header: list[str],
             limit: int) -> list[Scene]:
    taps = scatter_taps(spec, x.shape[1:])
    c_in, cin_g = spec.in_channels, spec.in_channels // spec.groups
    cout_g = spec.out_channels // spec.groups
    full = np.zeros((spec.out_channels, *taps.full_size))
    order = [(c, *j) for c in range(c_in) for j in np.ndindex(*x.shape[1:])]
    picked = set(subsample(len(order), limit))
    count = note(len(picked), len(order), "input elements")
    header = header + ["scatter: each input adds value·kernel into the uncropped output; padding "
                       "crops its grey border; output_padding extends it on the right first "
                       "(pink where kept)"]
    scenes = []
    for step, (c, *j) in enumerate(order):
        grp = c // cin_g
        outs = [int(o) for o in np.flatnonzero(taps.channels[:, c])]
        updates = []
        for f, t in taps.links.outputs(j):
            for oc in outs:
                wv = w[(c, oc - grp * cout_g, *t)]
                full[(oc, *f)] += wv * x[(c, *j)]
                updates.append((oc, f, wv))
        if step not in picked:
            continue
        sources = []
        for cc in range(c_in):
            g = Grid.blank(f"x[{cc}]", x.shape[1:], COLOURS["input"], "input", cc)
            for pos in np.ndindex(*x.shape[1:]):
                g.text[pos] = fmt(x[(cc, *pos)])
            if cc == c:
                g.fill[tuple(j)], g.bold[tuple(j)] = COLOURS["input_hi"], True
            sources.append(g)
        kernels = []
        for oc in outs:
            g = Grid.blank(f"w[{c},{oc - grp * cout_g}]", spec.kernel_size, COLOURS["kernel"],
                           "kernel", oc)
            for t in np.ndindex(*spec.kernel_size):
                g.text[t] = fmt(w[(c, oc - grp * cout_g, *t)])
            kernels.append(g)
        targets, cropped = taps.targets((c, *j)), taps.cropped((c, *j))
        outputs = []
        for oc in range(spec.out_channels):
            g = Grid.blank(f"y_full[{oc}] (uncropped)", taps.full_size, COLOURS["output"],
                           "output", oc)
            for f in np.ndindex(*taps.full_size):
                kept = taps.kept(f)
                kind = "output_done" if kept is not None else "crop"
                if taps.extra(f) and kept is not None:
                    kind = "extra"
                g.fill[f], g.text[f] = COLOURS[kind], fmt(full[(oc, *f)])
                if kept is not None and (oc, *kept) in targets:
                    g.fill[f], g.bold[f] = COLOURS["output_hi"], True
                elif (oc, *f) in cropped:
                    g.fill[f], g.bold[f] = COLOURS["crop_hi"], True
            outputs.append(g)
        value = x[(c, *j)]
        adds = "; ".join(f"y_full[{oc}, {index_text(f)}] += {factor_text(value)}·"
                         f"{factor_text(wv)}"
                         for oc, f, wv in updates[:6])
        rest = len(updates) - 6
        more = f"; ... ({rest} more)" if rest > 0 else ""
        caption = [*header,
                   f"scattering x[{c}, {index_text(j)}] = {fmt(value)}: element {step + 1} of "
                   f"{len(order)} ({count})",
                   f"{adds}{more}" if updates else "(no output receives this element)",
                   INDEX_NOTE + "; y_full is the uncropped output, y = its unshaded part"]
        meta = {"input": (c, *j), "targets": targets, "cropped": cropped,
                "last": step == len(order) - 1, "full": full.copy(), "crop": taps.padding}
        scenes.append(Scene([sources + kernels, outputs], caption, meta=meta))
    return scenes
