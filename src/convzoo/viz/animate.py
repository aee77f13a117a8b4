"""Frame sequences for every kind of convolution, and the writers (.gif, .svg, .mp4).

:func:`animate` builds a list of :class:`~convzoo.viz.draw.Scene` frames; :func:`save`
writes them. Each frame of a sliding-window kind highlights the cells feeding the output
element being computed (taken from :mod:`convzoo.viz.taps`, i.e. from the reference engine),
and its caption carries the output-size formula of :mod:`convzoo.arithmetic` with numbers,
the element being computed and the sum being accumulated. Output values are the reference
engine's. At most ``max_frames`` frames (64) are made: bigger outputs are subsampled evenly,
and the caption says so.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from convzoo import arithmetic as ar
from convzoo import reference as ref
from convzoo.reference.transpose import flip_transpose_weight
from convzoo.spec import ConvSpec
from convzoo.viz.draw import COLOURS, Grid, Scene, group_colour, render_image, render_svg, tint
from convzoo.viz.taps import conv_taps, scatter_taps, zero_insertion_taps

__all__ = ["KINDS", "MODES", "FORMATS", "MAX_FRAMES", "animate", "save", "subsample"]

KINDS = (
    "conv", "transposed", "depthwise", "pointwise", "separable", "grouped", "shuffle",
    "pixel_shuffle", "flattened", "spatially_separable", "conv3d", "wavenet",
)
MODES = ("zero-insertion", "scatter")
FORMATS = (".gif", ".svg", ".mp4")
MAX_FRAMES = 64
WAVENET_DILATIONS = (1, 2, 4, 8)

_CONV = ("kernel", "stride", "padding", "dilation", "groups", "in_channels", "out_channels",
         "input_size")
#: Options each kind takes, and their defaults.
DEFAULTS: dict[str, dict[str, Any]] = {
    "conv": dict(kernel=3, stride=1, padding=0, dilation=1, groups=1, in_channels=1,
                 out_channels=1, input_size=(5, 5)),
    "transposed": dict(kernel=3, stride=2, padding=0, dilation=1, groups=1, in_channels=1,
                       out_channels=1, input_size=(3, 3), output_padding=0,
                       mode="zero-insertion"),
    "depthwise": dict(kernel=3, stride=1, padding=1, dilation=1, in_channels=2,
                      out_channels=None, input_size=(4, 4)),
    "pointwise": dict(in_channels=3, out_channels=2, input_size=(4, 4)),
    "separable": dict(kernel=3, stride=1, padding=1, dilation=1, in_channels=2,
                      out_channels=3, input_size=(3, 3)),
    "grouped": dict(kernel=3, stride=1, padding=1, dilation=1, groups=2, in_channels=4,
                    out_channels=4, input_size=(3, 3)),
    "shuffle": dict(in_channels=6, groups=3),
    "pixel_shuffle": dict(in_channels=4, factor=2, input_size=(3, 3)),
    "flattened": dict(kernel=3, padding=1, in_channels=2, out_channels=2, input_size=(3, 3)),
    "spatially_separable": dict(kernel=3, padding=1, in_channels=1, out_channels=1,
                                input_size=(5, 5)),
    "conv3d": dict(kernel=2, stride=1, padding=0, dilation=1, groups=1, in_channels=1,
                   out_channels=1, input_size=(3, 4, 4)),
    "wavenet": dict(kernel=2, input_size=(16,)),
}


def subsample(n: int, limit: int) -> list[int]:
    """``limit`` evenly spread indices of ``range(n)`` (all of them when ``n <= limit``).

    >>> subsample(5, 10), subsample(10, 4)
    ([0, 1, 2, 3, 4], [0, 3, 6, 9])
    """
    if n <= limit:
        return list(range(n))
    return sorted({int(v) for v in np.linspace(0, n - 1, limit).round()})


def _fmt(v: float) -> str:
    v = float(v)
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.3g}"


def _ints(shape: Sequence[int], seed: int, low: int, high: int) -> np.ndarray:
    """Small integer values (as float64), so every sum in a caption is exact and readable."""
    return np.random.default_rng(seed).integers(low, high + 1, size=tuple(shape)).astype(float)


def _sum_text(name: str, terms: list[tuple[float, float]], total: float, limit: int = 8) -> str:
    shown = " + ".join(f"{_fmt(w)}·{_fmt(v)}" for w, v in terms[:limit])
    more = f" + ... ({len(terms) - limit} more terms)" if len(terms) > limit else ""
    return f"{name} = {shown}{more} = {_fmt(total)}"


def _index_text(index: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in index)


def _axis_names(n: int) -> tuple[str, ...]:
    return {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}.get(n, tuple(f"axis {a}" for a in
                                                                     range(n)))


def _note(shown: int, total: int, what: str) -> str:
    if shown == total:
        return f"{total} {what}"
    return f"{what}: showing {shown} of {total} (subsampled to keep the animation short)"


# --------------------------------------------------------------------------- sliding windows
def _window_scenes(
    *, header: list[str], grid_values: np.ndarray, kind_of: Callable, gtaps, channels: np.ndarray,
    w_view: np.ndarray, y: np.ndarray, groups: int, limit: int, grid_name: str = "x",
    source_of: Callable | None = None, x: np.ndarray | None = None, kernel_name: str = "w",
) -> list[Scene]:
    """Frames of a stride-s window sliding over ``grid_values`` (C_in, *grid) to give ``y``."""
    c_in, c_out = grid_values.shape[0], y.shape[0]
    cin_g, cout_g = c_in // groups, c_out // groups
    grid_shape, out_shape = grid_values.shape[1:], y.shape[1:]
    kinds = np.empty(grid_shape, dtype=object)
    for pos in np.ndindex(*grid_shape):
        kinds[pos] = kind_of(pos)
    order = [(o, *p) for o in range(c_out) for p in np.ndindex(*out_shape)]
    picked = subsample(len(order), limit)
    note = _note(len(picked), len(order), "output elements")

    def base(kind: str, group: int, hi: bool) -> str:
        if kind == "input" and groups > 1:
            return group_colour(group) if hi else tint(group_colour(group), 0.7)
        return COLOURS[f"{kind}_hi" if hi else kind]

    scenes = []
    for step in picked:
        oc, *o = order[step]
        grp = oc // cout_g
        window = gtaps.cells(o)
        linked = [int(c) for c in np.flatnonzero(channels[oc])]
        inputs = []
        meta_inputs, meta_pad, meta_other = set(), set(), set()
        for c in range(c_in):
            g = Grid.blank(f"{grid_name}[{c}]", grid_shape, None, "input", c)
            for pos in np.ndindex(*grid_shape):
                g.fill[pos] = base(kinds[pos], c // cin_g, False)
                g.text[pos] = _fmt(grid_values[(c, *pos)])
            if c in linked:
                for pos, _ in window:
                    g.fill[pos] = base(kinds[pos], c // cin_g, True)
                    g.bold[pos] = True
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
                    g.text[pos] = _fmt(x[(c, *pos)])
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
                g.text[t] = _fmt(w_view[(oc, cl, *t)])
            kernels.append(g)
        outputs = []
        for oc2 in range(c_out):
            g = Grid.blank(f"y[{oc2}]", out_shape, COLOURS["output"], "output", oc2)
            for flat, p in enumerate(np.ndindex(*out_shape)):
                done = oc2 < oc or (oc2 == oc and flat <= step - oc * math.prod(out_shape))
                if done:
                    g.fill[p], g.text[p] = COLOURS["output_done"], _fmt(y[(oc2, *p)])
            if oc2 == oc:
                g.fill[tuple(o)], g.bold[tuple(o)] = COLOURS["output_hi"], True
            outputs.append(g)
        rows.append(kernels + outputs)
        terms = [
            (w_view[(oc, c - grp * cin_g, *t)], grid_values[(c, *pos)])
            for c in linked for pos, t in window
        ]
        total = float(sum(w * v for w, v in terms))
        name = f"y[{oc}, {_index_text(o)}]"
        caption = [
            *header,
            f"computing {name}: element {step + 1} of {len(order)} ({note})",
            _sum_text(name, terms, total),
        ]
        meta = {"output": (oc, *o), "inputs": meta_inputs, "padding": meta_pad,
                "other": meta_other, "sum": total, "value": float(y[(oc, *o)])}
        scenes.append(Scene(rows, caption, meta=meta))
    return scenes


def _describe(spec: ConvSpec, pads) -> str:
    return (f"C_in={spec.in_channels} -> C_out={spec.out_channels}, kernel {spec.kernel_size}, "
            f"stride {spec.stride}, padding {tuple(pads)}, dilation {spec.dilation}, "
            f"groups {spec.groups}")


def _conv_stage(spec: ConvSpec, x: np.ndarray, limit: int, title: str, seed: int,
                weight: np.ndarray | None = None) -> tuple[list[Scene], np.ndarray]:
    """Frames of forward conv ``spec`` on ``x`` (C_in, *spatial); returns them and the output."""
    spatial = x.shape[1:]
    taps = conv_taps(spec, spatial)
    w = weight if weight is not None else _ints(spec.weight_shape, seed, -1, 2)
    y = ref.conv(x, w, None, spec.stride, taps.padding, spec.dilation, spec.groups)
    header = [f"{title}: {_describe(spec, taps.padding)}"]
    for name, i, k, s, p, d in zip(_axis_names(spec.ndim), spatial, spec.kernel_size,
                                   spec.stride, taps.padding, spec.dilation):
        header.append(f"{name}: out = {ar.conv_output_formula(i, k, s, p, d)}")
    scenes = _window_scenes(
        header=header, grid_values=ref.pad(x, taps.padding), gtaps=taps.grid,
        kind_of=lambda pos: "input" if taps.source(pos) is not None else "padding",
        source_of=taps.source, channels=taps.channels, w_view=w, y=y, groups=spec.groups,
        limit=limit, grid_name="x padded" if any(map(any, taps.padding)) else "x",
    )
    return scenes, y


def _spec(opts: dict, **over: Any) -> ConvSpec:
    o = {**opts, **over}
    return ConvSpec(o["in_channels"], o["out_channels"], o["kernel"], stride=o.get("stride", 1),
                    padding=o.get("padding", 0), dilation=o.get("dilation", 1),
                    groups=o.get("groups", 1), ndim=len(o["input_size"]))


def _input(opts: dict, channels: int | None = None) -> np.ndarray:
    c = opts["in_channels"] if channels is None else channels
    return _ints((c, *opts["input_size"]), 0, 0, 4)


def _conv(opts: dict, limit: int, title: str = "conv") -> list[Scene]:
    spec = _spec(opts)
    return _conv_stage(spec, _input(opts), limit, f"{title} {spec.ndim}-D", 1)[0]


def _conv3d(opts: dict, limit: int) -> list[Scene]:
    if len(opts["input_size"]) != 3:
        raise ValueError(f"`input_size` (={opts['input_size']!r}) must have 3 spatial sizes "
                         "(D, H, W) for kind 'conv3d'")
    return _conv(opts, limit, "conv3d (depth slices side by side)")


def _depthwise(opts: dict, limit: int) -> list[Scene]:
    c = opts["in_channels"]
    out = opts["out_channels"] if opts["out_channels"] is not None else c
    spec = _spec(opts, out_channels=out, groups=c)
    return _conv_stage(spec, _input(opts), limit, f"depthwise (groups = C_in = {c}, depth "
                       f"multiplier {out // c})", 1)[0]


def _pointwise(opts: dict, limit: int) -> list[Scene]:
    spec = _spec(opts, kernel=1)
    return _conv_stage(spec, _input(opts), limit, "pointwise 1x1 (channel mixing only)", 1)[0]


def _grouped(opts: dict, limit: int) -> list[Scene]:
    return _conv(opts, limit, f"grouped conv (g={opts['groups']}, one colour per group)")


def _stages(x: np.ndarray, specs: list[tuple[ConvSpec, str]], limit: int) -> list[Scene]:
    """Conv stages one after the other (each stage's input is the previous stage's output)."""
    scenes: list[Scene] = []
    per = max(1, limit // len(specs))
    for i, (spec, title) in enumerate(specs):
        part, x = _conv_stage(spec, x, per, f"stage {i + 1}/{len(specs)}: {title}", 1 + i)
        for s in part:
            s.meta["stage"] = i
        scenes += part
    return scenes


def _separable(opts: dict, limit: int) -> list[Scene]:
    c = opts["in_channels"]
    dw = _spec(opts, out_channels=c, groups=c)
    pw = ConvSpec(c, opts["out_channels"], 1, ndim=dw.ndim)
    return _stages(_input(opts), [(dw, "depthwise"), (pw, "pointwise 1x1")], limit)


def _axis_padding(n: int, axis: int, p: Any) -> tuple:
    pads = [(0, 0)] * n
    pads[axis] = (p, p) if isinstance(p, int) else tuple(p)
    return tuple(pads)


def _axis_kernel(n: int, axis: int, k: int) -> tuple[int, ...]:
    return tuple(k if a == axis else 1 for a in range(n))


def _single_int(name: str, value: Any, kind: str) -> int:
    if not ar.is_int(value):
        raise ValueError(f"`{name}` (={value!r}) must be a single int for kind {kind!r}")
    return int(value)


def _flattened(opts: dict, limit: int) -> list[Scene]:
    n, c = len(opts["input_size"]), opts["out_channels"]
    k = _single_int("kernel", opts["kernel"], "flattened")
    specs = [(ConvSpec(opts["in_channels"], c, 1, ndim=n), "lateral 1-D conv across channels")]
    for a, name in enumerate(_axis_names(n)):
        spec = ConvSpec(c, c, _axis_kernel(n, a, k), padding=_axis_padding(n, a, opts["padding"]),
                        groups=c)
        specs.append((spec, f"1-D conv along {name} (per channel)"))
    return _stages(_input(opts), specs, limit)


def _spatially_separable(opts: dict, limit: int) -> list[Scene]:
    n = len(opts["input_size"])
    k = _single_int("kernel", opts["kernel"], "spatially_separable")
    specs, c = [], opts["in_channels"]
    for a, name in enumerate(_axis_names(n)):
        kernel = _axis_kernel(n, a, k)
        spec = ConvSpec(c, opts["out_channels"], kernel,
                        padding=_axis_padding(n, a, opts["padding"]))
        specs.append((spec, f"{'x'.join(map(str, kernel))} conv along {name}"))
        c = opts["out_channels"]
    return _stages(_input(opts), specs, limit)


# --------------------------------------------------------------------------- transposed
def _transposed(opts: dict, limit: int) -> list[Scene]:
    if opts["mode"] not in MODES:
        raise ValueError(f"`mode` (={opts['mode']!r}) must be one of "
                         + ", ".join(repr(m) for m in MODES))
    o = opts
    spec = ConvSpec(o["in_channels"], o["out_channels"], o["kernel"], stride=o["stride"],
                    padding=o["padding"], dilation=o["dilation"], groups=o["groups"],
                    transposed=True, output_padding=o["output_padding"],
                    ndim=len(o["input_size"]))
    x = _input(opts)
    w = _ints(spec.weight_shape, 1, -1, 2)
    header = [f"transposed conv ({o['mode']}): {_describe(spec, spec.padding)}, "
              f"output_padding {spec.output_padding}"]
    for name, i, k, s, p, op, d in zip(_axis_names(spec.ndim), x.shape[1:], spec.kernel_size,
                                       spec.stride, spec.padding, spec.output_padding,
                                       spec.dilation):
        header.append(f"{name}: out = {ar.conv_transpose_output_formula(i, k, s, p, op, d)}")
    if opts["mode"] == "scatter":
        return _scatter(spec, x, w, header, limit)
    taps = zero_insertion_taps(spec, x.shape[1:])
    y = ref.conv_transpose(x, w, None, spec.stride, spec.padding, spec.output_padding,
                           spec.groups, spec.dilation)
    grid = np.zeros((spec.in_channels, *taps.grid.grid_shape))
    for pos in np.ndindex(*taps.grid.grid_shape):
        j = taps.source(pos)
        if j is not None:
            grid[(slice(None), *pos)] = x[(slice(None), *j)]
    sides = ", ".join(f"{d * (k - 1)}-{lo} | {d * (k - 1)}-{hi}+{op}" for k, d, (lo, hi), op in
                      zip(spec.kernel_size, spec.dilation, spec.padding, spec.output_padding))
    header.append(f"zero insertion: s-1 zeros (yellow) between inputs; padding d(k-1)-p per side "
                  f"(grey; {sides}), output_padding on the right (pink); flipped kernel, stride 1")
    return _window_scenes(
        header=header, grid_values=grid, kind_of=taps.kind, gtaps=taps.grid,
        channels=taps.channels, w_view=flip_transpose_weight(w, spec.groups), y=y,
        groups=spec.groups, limit=limit, grid_name="zero-inserted x", source_of=taps.source,
        x=x, kernel_name="w flipped",
    )


def _scatter(spec: ConvSpec, x: np.ndarray, w: np.ndarray, header: list[str],
             limit: int) -> list[Scene]:
    taps = scatter_taps(spec, x.shape[1:])
    c_in, cin_g = spec.in_channels, spec.in_channels // spec.groups
    cout_g = spec.out_channels // spec.groups
    full = np.zeros((spec.out_channels, *taps.full_size))
    order = [(c, *j) for c in range(c_in) for j in np.ndindex(*x.shape[1:])]
    picked = set(subsample(len(order), limit))
    note = _note(len(picked), len(order), "input elements")
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
                g.text[pos] = _fmt(x[(cc, *pos)])
            if cc == c:
                g.fill[tuple(j)], g.bold[tuple(j)] = COLOURS["input_hi"], True
            sources.append(g)
        kernels = []
        for oc in outs:
            g = Grid.blank(f"w[{c},{oc - grp * cout_g}]", spec.kernel_size, COLOURS["kernel"],
                           "kernel", oc)
            for t in np.ndindex(*spec.kernel_size):
                g.text[t] = _fmt(w[(c, oc - grp * cout_g, *t)])
            kernels.append(g)
        targets, cropped = taps.targets((c, *j)), taps.cropped((c, *j))
        outputs = []
        for oc in range(spec.out_channels):
            g = Grid.blank(f"y[{oc}] uncropped", taps.full_size, COLOURS["output"], "output", oc)
            for f in np.ndindex(*taps.full_size):
                kept = taps.kept(f)
                kind = "output_done" if kept is not None else "crop"
                if taps.extra(f) and kept is not None:
                    kind = "extra"
                g.fill[f], g.text[f] = COLOURS[kind], _fmt(full[(oc, *f)])
                if kept is not None and (oc, *kept) in targets:
                    g.fill[f], g.bold[f] = COLOURS["output_hi"], True
                elif (oc, *f) in cropped:
                    g.fill[f], g.bold[f] = COLOURS["crop_hi"], True
            outputs.append(g)
        value = x[(c, *j)]
        adds = "; ".join(f"y[{oc}, {_index_text(np.subtract(f, [lo for lo, _ in taps.padding]))}]"
                         f" += {_fmt(value)}·{_fmt(wv)}" for oc, f, wv in updates[:6])
        more = f"; ... ({len(updates) - 6} more)" if len(updates) > 6 else ""
        caption = [*header,
                   f"scattering x[{c}, {_index_text(j)}] = {_fmt(value)}: element {step + 1} of "
                   f"{len(order)} ({note})",
                   f"{adds}{more}" if updates else "(no output receives this element)"]
        meta = {"input": (c, *j), "targets": targets, "cropped": cropped,
                "last": step == len(order) - 1, "full": full.copy(), "crop": taps.padding}
        scenes.append(Scene([sources + kernels, outputs], caption, meta=meta))
    return scenes


# --------------------------------------------------------------------------- other kinds
def _shuffle(opts: dict, limit: int) -> list[Scene]:
    c, g = opts["in_channels"], opts["groups"]
    perm = ref.channel_shuffle(np.arange(c).reshape(1, c, 1), g)[0, :, 0]  # after[i] = source
    per = c // g

    def row(title: str, labels: Sequence[int], colour_of: Callable[[int], int]) -> Grid:
        grid = Grid.blank(title, (c,), None, "channels")
        for i, v in enumerate(labels):
            grid.text[i], grid.fill[i] = str(int(v)), tint(group_colour(colour_of(i)), 0.6)
        return grid

    scenes = []
    for shuffled in (False, True):
        after = perm if shuffled else np.arange(c)
        for grp in range(g):
            top = row("group conv 1: output channels (colour = its group)", range(c),
                      lambda i: i // per)
            mid = row("after channel shuffle" if shuffled else "no shuffle", after,
                      lambda i, a=after: int(a[i]) // per)
            low = row("group conv 2: input groups (colour = group)", [i // per for i in range(c)],
                      lambda i: i // per)
            members = range(grp * per, (grp + 1) * per)
            links = []
            for i in members:
                low.bold[i] = mid.bold[i] = top.bold[int(after[i])] = True
                links.append(((0, 0, (int(after[i]),)), (1, 0, (i,)), COLOURS["line"]))
                links.append(((1, 0, (i,)), (2, 0, (i,)), COLOURS["line"]))
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
            meta = {"shuffled": shuffled, "group": grp, "sources": sources}
            scenes.append(Scene([[top], [mid], [low]], caption, links, meta))
    return scenes[:limit]


def _pixel_shuffle(opts: dict, limit: int) -> list[Scene]:
    r, c_in, size = opts["factor"], opts["in_channels"], tuple(opts["input_size"])
    n = len(size)
    ids = np.arange(c_in * math.prod(size)).reshape(1, c_in, *size)
    src = ref.pixel_shuffle(ids, r)[0]  # the engine's mapping: output cell -> flat input index
    x = _input(opts)
    y = x.reshape(-1)[src]
    c_out, out_size = src.shape[0], src.shape[1:]
    order = [(o, *p) for o in range(c_out) for p in np.ndindex(*out_size)]
    picked = subsample(len(order), limit)
    note = _note(len(picked), len(order), "output elements")
    header = [f"pixel shuffle (depth to space) by r={r}: C_in = C_out·r^{n}: "
              f"{c_in} = {c_out}·{r}^{n}; per axis out = in·r: "
              + ", ".join(f"{i}·{r} = {i * r}" for i in size)]
    scenes = []
    for step in picked:
        oc, *p = order[step]
        flat = int(src[(oc, *p)])
        sc, *sj = (int(v) for v in np.unravel_index(flat, (c_in, *size)))
        ins = []
        for c in range(c_in):
            g = Grid.blank(f"x[{c}]", size, tint(group_colour(c), 0.65), "input", c)
            for pos in np.ndindex(*size):
                g.text[pos] = _fmt(x[(c, *pos)])
            if c == sc:
                g.fill[tuple(sj)], g.bold[tuple(sj)] = group_colour(c), True
            ins.append(g)
        outs = []
        for o in range(c_out):
            g = Grid.blank(f"y[{o}]", out_size, COLOURS["output"], "output", o)
            for k, pos in enumerate(np.ndindex(*out_size)):
                s = int(src[(o, *pos)]) // math.prod(size)
                g.fill[pos] = tint(group_colour(s), 0.65)
                if o < oc or (o == oc and k <= step - oc * math.prod(out_size)):
                    g.text[pos] = _fmt(y[(o, *pos)])
            if o == oc:
                g.fill[tuple(p)], g.bold[tuple(p)] = group_colour(sc), True
            outs.append(g)
        sub = " + ".join(f"({v} mod {r})·{r ** (n - 1 - a)}" for a, v in enumerate(p))
        caption = [*header,
                   f"computing y[{oc}, {_index_text(p)}]: element {step + 1} of {len(order)} "
                   f"({note})",
                   f"channel = {oc}·{r}^{n} + {sub} = {sc}; position = ("
                   + ", ".join(f"{v} div {r}" for v in p) + f") = ({_index_text(sj)}); "
                   f"y[{oc}, {_index_text(p)}] = x[{sc}, {_index_text(sj)}] = "
                   f"{_fmt(y[(oc, *p)])}"]
        meta = {"output": (oc, *p), "inputs": {(sc, *sj)}}
        scenes.append(Scene([ins, outs], caption, meta=meta))
    return scenes


def _wavenet(opts: dict, limit: int) -> list[Scene]:
    size = tuple(opts["input_size"])
    if len(size) != 1:
        raise ValueError(f"`input_size` (={size!r}) must have 1 spatial size for kind 'wavenet'")
    k = _single_int("kernel", opts["kernel"], "wavenet")
    t_len = size[0]
    h = [_input({"in_channels": 1, "input_size": size})]
    taps = []
    for d in WAVENET_DILATIONS:  # causal, dilated, weights 1: h_L[t] = sum_i h_{L-1}[t - i*d]
        spec = ConvSpec(1, 1, k, dilation=d, padding="causal", ndim=1)
        taps.append(conv_taps(spec, size))
        h.append(ref.conv(h[-1], np.ones(spec.weight_shape), None, 1, taps[-1].padding, d))
    width = max(t.padding[0][0] for t in taps)
    n_layers = len(WAVENET_DILATIONS)

    def rows_for(node_sets: list[set[int]], pad_sets: list[set[int]]) -> list[list[Grid]]:
        rows = []
        for lay in range(n_layers, -1, -1):  # output layer on top, input at the bottom
            title = f"layer {lay} (dilation {WAVENET_DILATIONS[lay - 1]})" if lay else "input x"
            g = Grid.blank(title, (width + t_len,), None, "input" if lay == 0 else "layer", lay)
            pad = taps[lay].padding[0][0] if lay < n_layers else 0
            for col in range(width - pad, width + t_len):
                t = col - width
                g.fill[col] = COLOURS["padding"] if t < 0 else COLOURS["input"]
                g.text[col] = "0" if t < 0 else _fmt(h[lay][0, t])
            for t in node_sets[lay]:
                g.fill[width + t], g.bold[width + t] = COLOURS["input_hi"], True
            for t in pad_sets[lay]:
                g.fill[width + t], g.bold[width + t] = COLOURS["padding_hi"], True
            rows.append([g])
        return rows

    def frame(top: int, t: int, phase: str) -> Scene:
        nodes = [set() for _ in range(n_layers + 1)]
        pads = [set() for _ in range(n_layers + 1)]
        nodes[top].add(t)
        links = []
        for lay in range(top, 0, -1):
            lo = taps[lay - 1].padding[0][0]
            for u in sorted(nodes[lay]):
                for (g,), _ in taps[lay - 1].grid.cells((u,)):
                    v = g - lo
                    (nodes if v >= 0 else pads)[lay - 1].add(v)
                    links.append(((n_layers - lay, 0, (width + u,)),
                                  (n_layers - lay + 1, 0, (width + v,)), COLOURS["line"]))
        layers = [ar.conv_rf_layer(k, 1, d * (k - 1), d) for d in WAVENET_DILATIONS[:top]]
        rf = ar.chain(layers).size
        d = WAVENET_DILATIONS[top - 1]
        lo = taps[top - 1].padding[0][0]
        terms = [(1.0, h[top - 1][0, g - lo] if g >= lo else 0.0)
                 for (g,), _ in taps[top - 1].grid.cells((t,))]
        caption = [
            f"WaveNet stack: causal 1-D convs, kernel {k}, dilations "
            f"{', '.join(map(str, WAVENET_DILATIONS))}; causal padding d·(k-1) on the left "
            "(grey); weights 1",
            f"{phase}: layer {top} (dilation {d}), output t={t}: receptive field r = "
            f"{rf} = 1 + (k-1)·({' + '.join(map(str, WAVENET_DILATIONS[:top]))}); it sees "
            f"inputs {max(t - rf + 1, 0)}..{t} ({len(nodes[0])} real, {len(pads[0])} padding)",
            _sum_text(f"h{top}[{t}]", terms, h[top][0, t]),
        ]
        meta = {"output": (top, t), "inputs": set(nodes[0]), "rf": rf}
        return Scene(rows_for(nodes, pads), caption, links, meta)

    scenes = [frame(top, t_len - 1, "receptive field growing")
              for top in range(1, n_layers + 1)]
    sweep = subsample(t_len, max(1, limit - len(scenes)))
    scenes += [frame(n_layers, t, "sliding along the output") for t in sweep]
    return scenes[:limit]


_BUILDERS: dict[str, Callable[[dict, int], list[Scene]]] = {
    "conv": _conv, "transposed": _transposed, "depthwise": _depthwise, "pointwise": _pointwise,
    "separable": _separable, "grouped": _grouped, "shuffle": _shuffle,
    "pixel_shuffle": _pixel_shuffle, "flattened": _flattened,
    "spatially_separable": _spatially_separable, "conv3d": _conv3d, "wavenet": _wavenet,
}


def animate(
    kind: str,
    *,
    kernel: Any = None,
    stride: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int | None = None,
    in_channels: int | None = None,
    out_channels: int | None = None,
    input_size: Sequence[int] | None = None,
    output_padding: Any = None,
    mode: str | None = None,
    factor: int | None = None,
    max_frames: int = MAX_FRAMES,
) -> list[Scene]:
    """The frames animating one kind of convolution.

    Args:
        kind: one of :data:`KINDS`.
        kernel, stride, padding, dilation, groups, in_channels, out_channels, output_padding:
            as for :class:`~convzoo.spec.ConvSpec` (default: per kind, see :data:`DEFAULTS`;
            an option a kind does not take is an error).
        input_size: spatial size of the input, e.g. ``(5, 5)``; its length sets the dims.
        mode: ``'zero-insertion'`` (default) or ``'scatter'``, for ``'transposed'``.
        factor: upscale factor of ``'pixel_shuffle'`` (default 2).
        max_frames: at most this many frames (default 64); outputs are subsampled beyond it.

    >>> frames = animate("conv", input_size=(4, 4), stride=2, padding=1)
    >>> len(frames), frames[0].meta["output"], sorted(frames[0].meta["inputs"])
    (4, (0, 0, 0), [(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1)])
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` (={kind!r}) must be one of " + ", ".join(map(repr, KINDS)))
    if not ar.is_int(max_frames) or max_frames < 2:
        raise ValueError(f"`max_frames` (={max_frames!r}) must be an int >= 2")
    given = {
        "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation,
        "groups": groups, "in_channels": in_channels, "out_channels": out_channels,
        "input_size": input_size, "output_padding": output_padding, "mode": mode,
        "factor": factor,
    }
    takes = DEFAULTS[kind]
    for name, value in given.items():
        if value is not None and name not in takes:
            raise ValueError(f"`{name}` (={value!r}) does not apply to kind {kind!r}, which "
                             f"takes: {', '.join(takes)}")
    opts = {**takes, **{n: v for n, v in given.items() if v is not None}}
    if "input_size" in opts:
        size = opts["input_size"]
        size = (size,) if ar.is_int(size) else tuple(size)
        if not 1 <= len(size) <= 3 or not all(ar.is_int(v) and v >= 1 for v in size):
            raise ValueError(f"`input_size` (={opts['input_size']!r}) must be 1 to 3 positive "
                             "ints (the spatial size)")
        opts["input_size"] = tuple(int(v) for v in size)
    return _BUILDERS[kind](opts, max_frames)


# --------------------------------------------------------------------------- writers
def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        raise ValueError("writing .mp4 needs `ffmpeg` on PATH, and it was not found; install "
                         "ffmpeg or write a .gif")
    return found


def save(scenes: Sequence[Scene], path: str | Path, fps: float = 2.0, frame: int = 0) -> Path:
    """Write ``scenes`` to ``path``: ``.gif`` (all frames), ``.svg`` (frame number ``frame``)
    or ``.mp4`` (all frames; needs ``ffmpeg`` on PATH).

    >>> import tempfile, os
    >>> p = save(animate("wavenet"), os.path.join(tempfile.mkdtemp(), "w.svg"), frame=3)
    >>> p.read_text().startswith("<svg")
    True
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"`path` (={str(path)!r}) must end in one of {', '.join(FORMATS)}")
    if not scenes:
        raise ValueError("`scenes` must hold at least one frame")
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not fps > 0:
        raise ValueError(f"`fps` (={fps!r}) must be a positive number")
    if suffix == ".svg":
        if not ar.is_int(frame) or not 0 <= frame < len(scenes):
            raise ValueError(f"`frame` (={frame!r}) must be in 0..{len(scenes) - 1}")
        path.write_text(render_svg(scenes[frame]), encoding="utf-8")
        return path
    ffmpeg = _ffmpeg() if suffix == ".mp4" else None
    from convzoo.viz.draw import layout

    sizes = [layout(s)[0] for s in scenes]
    size = (max(w for w, _ in sizes), max(h for _, h in sizes))
    if ffmpeg is not None:
        size = (size[0] + size[0] % 2, size[1] + size[1] % 2)  # yuv420p wants even sizes
    images = [render_image(s, size) for s in scenes]
    if suffix == ".gif":
        from PIL import Image

        # one shared palette (from a few frames), so each frame stores only what changed
        probe = [images[i] for i in sorted({0, len(images) // 2, len(images) - 1})]
        strip = Image.new("RGB", (size[0], size[1] * len(probe)))
        for i, im in enumerate(probe):
            strip.paste(im, (0, i * size[1]))
        palette = strip.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        frames = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
        frames[0].save(path, save_all=True, append_images=frames[1:], loop=0,
                       duration=int(round(1000 / fps)), optimize=True, disposal=1)
        return path
    with tempfile.TemporaryDirectory() as tmp:
        for i, im in enumerate(images):
            im.save(Path(tmp) / f"frame_{i:04d}.png")
        cmd = [ffmpeg, "-y", "-loglevel", "error", "-framerate", str(fps), "-i",
               str(Path(tmp) / "frame_%04d.png"), "-pix_fmt", "yuv420p", str(path)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise ValueError(f"ffmpeg failed writing `path` (={str(path)!r}): "
                             f"{done.stderr.strip()[-300:]}")
    return path
