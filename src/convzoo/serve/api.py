"""The playground's JSON API: plain functions from query parameters to JSON-ready dicts.

Every number and every tap comes from Python: the frames from :func:`convzoo.viz.animate`
(taps probed from :mod:`convzoo.reference`), the formulas, params, MACs, bytes and receptive
fields from :mod:`convzoo.arithmetic` (:mod:`convzoo.serve.numbers`). Every request goes
through :func:`convzoo.viz.animate.options.normalize` (validation and size guard) before
anything is allocated; a bad request raises ``ValueError`` with convzoo's one-line message.
Only the frames are limited: an input too large to animate (or too many frames) gets its
numbers all the same (:func:`convzoo.viz.animate.sketch`), with fewer or no frames and a
``limited`` line saying so. Query values are read by :mod:`convzoo.text`, the parser of the
CLI's flags: ``input=3,4,4`` means N,C,L here as ``--input 3,4,4`` does there, and
``input=3x4x4`` a 3-D spatial size.

>>> r = conv_api({"kind": "conv", "input": "5x5", "s": "2", "p": "1"})
>>> r["kind"], r["frames"], r["numbers"]["stages"][0]["formulas"][0]
('conv', 9, 'H: out = floor((5 + 1 + 1 - 1*(3-1) - 1) / 2) + 1 = 3')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from convzoo import arithmetic as ar
from convzoo.names import did_you_mean
from convzoo.serve.numbers import animation_numbers
from convzoo.text import parse_int, parse_ints, parse_padding, parse_size, per_axis

__all__ = ["DEFAULT_FRAMES", "MAX_DRAWN", "MAX_FRAMES", "MAX_QUERY", "MAX_STACK_INPUT",
           "MAX_STACK_LAYERS", "PARAMETERS", "kinds_api", "conv_api", "stack_api", "parse_ints",
           "parse_padding"]  # parse_ints, parse_padding: convzoo.text's (the CLI's too)

#: The most frames one playground request may ask for (``frames``), and its default.
MAX_FRAMES, DEFAULT_FRAMES = 256, 100
#: The most cells one response may draw: frames x (input and output cells of a frame).
MAX_DRAWN = 100_000
#: The longest query string accepted (characters).
MAX_QUERY = 2000
#: The stack view's limits: input length and number of layers.
MAX_STACK_INPUT, MAX_STACK_LAYERS = 256, 8

#: Query parameter -> ``animate`` argument (``factor`` is the kind's ``upscale_factor``, or
#: ``downscale_factor`` for pixel_unshuffle: :func:`convzoo.viz.animate.options.factor_name`).
PARAMETERS = {
    "input": "input_size", "in": "in_channels", "out": "out_channels", "k": "kernel_size",
    "s": "stride", "p": "padding", "d": "dilation", "g": "groups", "op": "output_padding",
    "mode": "mode", "factor": "upscale_factor", "rates": "rates",
}
_SINGLE = ("in", "out", "g", "factor")
_ZERO_OK = ("op",)


def _options(params: Mapping[str, str], kind: str) -> dict[str, Any]:
    """The ``animate`` arguments of a query, each value read by :mod:`convzoo.text` as the CLI
    reads the same flag (``input=3,4,4`` is N,C,L in both)."""
    from convzoo.viz.animate.options import factor_name

    unknown = sorted(set(params) - set(PARAMETERS) - {"kind", "frames"})
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r}; valid: kind, frames, "
                         + ", ".join(PARAMETERS) + did_you_mean(unknown[0], PARAMETERS))
    opts: dict[str, Any] = {}
    for key in sorted(PARAMETERS, key=lambda k: k == "input"):  # input last: it reads `in`
        name, text = PARAMETERS[key], str(params.get(key, "")).strip()
        if not text:
            continue
        if key == "p":
            opts[name] = parse_padding(text, key)
        elif key == "mode":
            opts[name] = text
        elif key == "factor":
            opts[factor_name(kind)] = parse_int(text, key)
        elif key in _SINGLE:
            opts[name] = parse_int(text, key)
        elif key == "input":
            channels = opts.get("in_channels")
            spatial, _, given = parse_size(text, key, channels, "in", one_sample=True)
            opts[name] = spatial
            if given is not None:
                opts["in_channels"] = given
        elif key == "rates":
            opts[name] = parse_ints(text, key)
        else:
            opts[name] = per_axis(parse_ints(text, key, allow_zero=key in _ZERO_OK))
    return opts


def _frames(params: Mapping[str, str]) -> int:
    text = str(params.get("frames", "")).strip()
    if not text:
        return DEFAULT_FRAMES
    try:
        value: int | None = parse_int(text, "frames")
    except ValueError:
        value = None  # the range below is the rule to state
    if value is None or not 2 <= value <= MAX_FRAMES:
        raise ValueError(f"`frames` (={text!r}) must be an int from 2 to {MAX_FRAMES}")
    return value


def kinds_api() -> dict[str, Any]:
    """Every kind the playground draws, its defaults, the articles that explain it (by title),
    the aliases, modes and padding words."""
    from convzoo.layers import available
    from convzoo.tour.articles import ARTICLES, articles_on
    from convzoo.viz.animate import DEFAULTS, KINDS, MODES

    described = available()
    back = {**{v: k for k, v in PARAMETERS.items()}, "downscale_factor": "factor"}
    defaults = {kind: {back[n]: (list(v) if isinstance(v, tuple) else v)
                       for n, v in DEFAULTS[kind].items()} for kind in KINDS}
    return {"kinds": list(KINDS), "available": sorted(described),
            "descriptions": {k: described.get(k, "") for k in KINDS},
            "articles": {k: [{"seed": a.seed, "title": a.title, "english": a.english}
                             for a in articles_on(k)] for k in KINDS},
            "sources": [{"seed": a.seed, "cite": a.cite(), "source": a.source} for a in ARTICLES],
            "defaults": defaults, "aliases": {a: v.value for a, v in ar.ALIASES.items()},
            "modes": list(MODES), "paddings": list(ar.PADDING_STRINGS),
            "max_frames": MAX_FRAMES}


def _frame_info(scene) -> dict[str, Any]:
    meta = scene.meta
    info: dict[str, Any] = {}
    if "output" in meta:
        info["output"] = [int(v) for v in meta["output"]]
    if "terms" in meta:
        running, rows = 0.0, []
        for w, v in meta["terms"]:
            running += w * v
            rows.append([w, v, running])
        info["terms"], info["value"] = rows, meta["value"]
    return info


def conv_api(params: Mapping[str, str]) -> dict[str, Any]:
    """One kind with the given settings: its numbers, and its frames (player data), per-frame
    taps and running sums as far as they can be drawn: ``limited`` says why there are fewer
    frames than asked, or none (the numbers are always for the whole input). Raises
    ``ValueError`` (one line) for a bad setting."""
    from convzoo.viz.animate import TooLargeToDraw, animate, player_data, sketch
    from convzoo.viz.animate.options import normalize

    kind = str(params.get("kind", "conv")).strip() or "conv"
    options, asked = _options(params, kind), _frames(params)
    try:
        _, opts = normalize(kind, options, asked)  # the size guard, before anything is drawn
        cells = 2 * (opts.get("in_channels") or 1) * math.prod(opts.get("input_size", (1,)))
        limit = min(asked, MAX_DRAWN // cells)
        if limit < 2:
            raise TooLargeToDraw(f"a frame of this input draws {cells} cells, and a request "
                                 f"draws at most {MAX_DRAWN}; use a smaller input")
        frames = animate(kind, max_frames=limit, **options)
    except TooLargeToDraw as e:  # only the frames are limited: the numbers, from the specs
        stages = sketch(kind, **options)
        return {"kind": stages.kind, "frames": 0, "numbers": animation_numbers(stages),
                "player": None, "taps": [],
                "limited": f"No frames drawn ({e}). The numbers are for the whole input."}
    limited = None
    if limit < asked:
        limited = (f"Frames limited to {limit} (of the {asked} asked): {cells} cells per frame, "
                   f"and a request draws at most {MAX_DRAWN} cells; the outputs are sampled "
                   "evenly. The numbers are for the whole input.")
    return {"kind": frames.kind, "frames": len(frames), "numbers": animation_numbers(frames),
            "player": player_data(frames), "taps": [_frame_info(s) for s in frames],
            "limited": limited}


def _stack_layers(text: str) -> list[tuple[int, int, int, int]]:
    layers = []
    for i, part in enumerate(p for p in text.split(";") if p.strip()):
        values = parse_ints(part, f"layers[{i}]", allow_zero=True)
        if len(values) != 4:
            raise ValueError(f"`layers[{i}]` (={part.strip()!r}) must be 4 ints: k,s,p,d")
        layers.append(values)
    if not 1 <= len(layers) <= MAX_STACK_LAYERS:
        raise ValueError(f"`layers` (={text!r}) must hold 1 to {MAX_STACK_LAYERS} layers "
                         "k,s,p,d separated by ';'")
    return layers


def stack_api(params: Mapping[str, str]) -> dict[str, Any]:
    """A 1-D stack of convs (``layers='k,s,p,d; ...'`` on ``input`` cells): the size of every
    level, its receptive field (size, effective stride and padding, from the arithmetic's
    chain algebra), and for every cell of the last level the cells feeding it at every level
    (probed from the reference engine)."""
    from convzoo.spec import ConvSpec
    from convzoo.viz.taps import conv_taps

    unknown = sorted(set(params) - {"input", "layers"})
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r}; valid: input, layers")
    values = parse_ints(str(params.get("input", "16")), "input")
    size = values[0]
    if len(values) != 1 or not 1 <= size <= MAX_STACK_INPUT:
        raise ValueError(f"`input` (={size}) must be an int from 1 to {MAX_STACK_INPUT}")
    layers = _stack_layers(str(params.get("layers", "3,1,1,1; 3,2,1,1; 3,1,2,2")))
    sizes, taps, rf_layers, levels = [size], [], [], []
    for i, (k, s, p, d) in enumerate(layers):
        for name, v, low in (("k", k, 1), ("s", s, 1), ("p", p, 0), ("d", d, 1)):
            if not low <= v <= 64:
                raise ValueError(f"`layers[{i}]` {name} (={v}) must be an int from {low} to 64")
        spec = ConvSpec(1, 1, k, stride=s, padding=p, dilation=d, ndim=1)
        out = ar.conv_output_size(sizes[-1], k, s, (p, p), d)
        if out < 1:
            raise ValueError(f"`layers[{i}]` (k={k}, s={s}, p={p}, d={d}) leaves no output "
                             f"for an input of {sizes[-1]}: out = "
                             f"{ar.conv_output_formula(sizes[-1], k, s, (p, p), d)}")
        taps.append(conv_taps(spec, (sizes[-1],)))
        sizes.append(out)
        rf_layers.append(ar.conv_rf_layer(k, s, p, d))
        rf = ar.chain(rf_layers)
        levels.append({"layer": i + 1, "k": k, "s": s, "p": p, "d": d, "size": out,
                       "formula": ar.conv_output_formula(sizes[-2], k, s, (p, p), d),
                       "rf": [str(rf.size), str(rf.stride), str(rf.padding)]})
    fields = []
    for j in range(sizes[-1]):
        per_level = [[j]]
        for lvl in range(len(layers) - 1, -1, -1):  # walk down, the engine's taps per layer
            t, feeding = taps[lvl], set()
            lo = t.padding[0][0]
            for u in per_level[0]:
                for (g,), _ in t.grid.cells((u,)):
                    if 0 <= g - lo < sizes[lvl]:
                        feeding.add(g - lo)
            per_level.insert(0, sorted(feeding))
        fields.append(per_level)
    return {"sizes": sizes, "levels": levels, "fields": fields}

