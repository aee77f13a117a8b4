"""Frames of a WaveNet stack: causal 1-D convs with dilations 1, 2, 4, 8.

First the receptive field of the last output grows layer by layer, then the top layer
slides along the output. The taps of every layer come from the reference engine.
"""

from __future__ import annotations

import numpy as np

from convzoo import arithmetic as ar
from convzoo import reference as ref
from convzoo.spec import ConvSpec
from convzoo.viz.animate.dense import input_of, single_int
from convzoo.viz.animate.options import is_sketching
from convzoo.viz.animate.text import fmt, sum_text
from convzoo.viz.animate.window import subsample
from convzoo.viz.draw import COLOURS, CellRef, Grid, Link, Scene
from convzoo.viz.taps import conv_taps

__all__ = ["WAVENET_DILATIONS", "wavenet"]

WAVENET_DILATIONS = (1, 2, 4, 8)


def wavenet(opts: dict, limit: int) -> list[Scene]:
    """The stack: receptive field growing, then the top layer sliding along the output."""
    size = tuple(opts["input_size"])
    if len(size) != 1:
        raise ValueError(f"`input_size` (={size!r}) must have 1 spatial size for kind 'wavenet'")
    k = single_int("kernel_size", opts["kernel_size"], "wavenet")
    t_len = size[0]
    if is_sketching():  # the numbers' specs only
        specs = [ConvSpec(1, 1, k, dilation=d, padding="causal", ndim=1)
                 for d in WAVENET_DILATIONS]
        meta = {"specs": [(s, (1, 1, t_len)) for s in specs]}
        return [Scene([], ["WaveNet stack: numbers only, not drawn"], meta=meta)]
    h = [input_of({"in_channels": 1, "input_size": size})]
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
                g.text[col] = "0" if t < 0 else fmt(h[lay][0, t])
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
        links: list[Link] = []
        for lay in range(top, 0, -1):
            lo = taps[lay - 1].padding[0][0]
            for u in sorted(nodes[lay]):
                for (g,), _ in taps[lay - 1].grid.cells((u,)):
                    v = g - lo
                    (nodes if v >= 0 else pads)[lay - 1].add(v)
                    links.append(Link(CellRef(n_layers - lay, 0, (width + u,)),
                                      CellRef(n_layers - lay + 1, 0, (width + v,)),
                                      COLOURS["line"]))
        # the causal padding each layer's taps were resolved with (convzoo.arithmetic)
        layers = [ar.conv_rf_layer(k, 1, taps[i].padding[0][0], d)
                  for i, d in enumerate(WAVENET_DILATIONS[:top])]
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
            sum_text(f"h{top}[{t}]", terms, h[top][0, t]),
        ]
        meta = {"output": (top, t), "inputs": set(nodes[0]), "rf": rf,
                "specs": [(t_.spec, (1, 1, t_len)) for t_ in taps]}
        return Scene(rows_for(nodes, pads), caption, links, meta)

    scenes = [frame(top, t_len - 1, "receptive field growing")
              for top in range(1, n_layers + 1)]
    sweep = subsample(t_len, max(1, limit - len(scenes)))
    scenes += [frame(n_layers, t, "sliding along the output") for t in sweep]
    return scenes[:limit]
