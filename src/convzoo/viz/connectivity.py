"""Channel connectivity diagrams (inputs -> outputs) of conv, group, depthwise, shuffle_group.

Every edge is read off the reference engine: :func:`convzoo.viz.taps.channel_links` probes a
conv with one-hot channels, and the shuffle permutation is :func:`convzoo.reference.
channel_shuffle` applied to channel ids. A :class:`ChannelDiagram` is layers of channel
nodes and, between consecutive layers, the edges; :meth:`ChannelDiagram.svg` draws it with
one colour per group of the first layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convzoo import reference as ref
from convzoo.arithmetic import Variant, check_int, variant
from convzoo.names import unknown_name, warn_renamed
from convzoo.spec import ConvSpec
from convzoo.viz.draw import group_colour
from convzoo.viz.fonts import text_colour_on, text_width
from convzoo.viz.svg import svg_circle, svg_document, svg_line, svg_rect, svg_text
from convzoo.viz.taps import channel_links

__all__ = ["CONNECTIVITY_KINDS", "ChannelDiagram", "connectivity", "reachable"]

#: Kinds :func:`connectivity` draws (names of :class:`convzoo.arithmetic.Variant`).
CONNECTIVITY_KINDS = tuple(v.value for v in (Variant.CONV, Variant.GROUP, Variant.DEPTHWISE,
                                             Variant.SHUFFLE_GROUP))


@dataclass(frozen=True)
class ChannelDiagram:
    """Layers of channels and the edges between consecutive layers.

    Attributes:
        kind: one of :data:`CONNECTIVITY_KINDS`. title: a one-line description.
        labels: one name per layer (``'input'``, ``'output'``...).
        sizes: channels per layer.
        edges: ``edges[i]`` lists ``(source channel in layer i, target channel in layer i+1)``.
        colour_of: per layer, the group index used to colour each channel.
    """

    kind: str
    title: str
    labels: tuple[str, ...]
    sizes: tuple[int, ...]
    edges: tuple[tuple[tuple[int, int], ...], ...]
    colour_of: tuple[tuple[int, ...], ...]

    def svg(self, width: int = 420) -> str:
        """The diagram as an SVG document: layers top to bottom, one colour per group, a
        legend of the group colours; every text at least 14 px and measured to fit."""
        gap_y, r = 78, 13
        label_w = max(text_width(label, 14) for label in self.labels)
        left = int(label_w) + 24
        n_max = max(self.sizes)
        title_w = text_width(self.title, 15) * 1.08 + 24  # bold is wider than the measure
        groups = sorted({g for layer in self.colour_of for g in layer})
        legend = ["legend:"] + [f"group {g}" for g in groups]
        legend_w = sum(text_width(t, 14) + 34 for t in legend) + 16
        width = int(max(width, left + n_max * (2 * r + 8) + 20, title_w, legend_w))
        top = 52
        height = top + gap_y * (len(self.sizes) - 1) + 30 + 34
        span = width - left - 20

        def x_of(layer: int, c: int) -> float:
            n = self.sizes[layer]
            return left + span * (c + 0.5) / n

        body = [svg_text(8, 22, self.title, 15, bold=True)]
        for i, pairs in enumerate(self.edges):
            for s, t in pairs:
                body.append(svg_line(x_of(i, s), top + gap_y * i + r, x_of(i + 1, t),
                                     top + gap_y * (i + 1) - r,
                                     group_colour(self.colour_of[i][s]), 1.5, 0.8))
        for i, (label, n) in enumerate(zip(self.labels, self.sizes)):
            y = top + gap_y * i
            body.append(svg_text(8, y + 5, label, 14))
            for c in range(n):
                fill = group_colour(self.colour_of[i][c])
                body.append(svg_circle(x_of(i, c), y, r, fill))
                body.append(svg_text(x_of(i, c), y + 5, str(c), 14, "middle",
                                     text_colour_on(fill)))
        y = top + gap_y * (len(self.sizes) - 1) + r + 28
        body.append(svg_text(8, y, "legend:", 14))
        x = 8 + text_width("legend:", 14) + 12
        for g in groups:
            body.append(svg_rect(x, y - 12, 14, 14, group_colour(g), "#6b6b6b"))
            body.append(svg_text(x + 20, y, f"group {g}", 14))
            x += 20 + text_width(f"group {g}", 14) + 16
        return svg_document(width, height, body, self.title)


def _edges(links: np.ndarray) -> tuple[tuple[int, int], ...]:
    return tuple((int(c), int(o)) for o, c in zip(*np.nonzero(links)))


def reachable(diagram: ChannelDiagram) -> np.ndarray:
    """``r[o, c]``: whether input channel ``c`` reaches last-layer channel ``o`` along edges.

    >>> reachable(connectivity("group", 4, 2)).astype(int).tolist()
    [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]
    """
    r = np.eye(diagram.sizes[0], dtype=bool)
    for i, pairs in enumerate(diagram.edges):
        step = np.zeros((diagram.sizes[i + 1], diagram.sizes[i]), dtype=bool)
        for s, t in pairs:
            step[t, s] = True
        r = (step.astype(int) @ r.astype(int)) > 0
    return r


def connectivity(kind: str, channels: int = 8, groups: int = 2) -> ChannelDiagram:
    """The channel connectivity of one kind of conv, ``channels -> channels``.

    Args:
        kind: ``'conv'``, ``'group'``, ``'depthwise'`` or ``'shuffle_group'`` (group conv,
            channel shuffle, group conv); aliases (``'standard'``, ``'grouped'``) work too.
            ``'shuffle'`` (the channel shuffle alone) draws ``'shuffle_group'`` until 0.2,
            with a warning.
        channels: channels per layer (default 8).
        groups: groups of ``'group'`` and ``'shuffle_group'`` (default 2); must divide
            ``channels``.

    >>> d = connectivity("depthwise", 3)
    >>> d.edges
    (((0, 0), (1, 1), (2, 2)),)
    """
    try:
        v = variant(kind)
    except ValueError:
        v = None
    if v is Variant.SHUFFLE:
        warn_renamed("connectivity('shuffle')", "connectivity('shuffle_group')")
        v = Variant.SHUFFLE_GROUP
    if v is None or v.value not in CONNECTIVITY_KINDS:
        raise ValueError(unknown_name("kind", kind, CONNECTIVITY_KINDS, "connectivity kind"))
    kind = v.value
    check_int("channels", channels)
    if kind in ("group", "shuffle_group") and (not isinstance(groups, int) or groups < 1
                                           or channels % groups):
        raise ValueError(f"`groups` (={groups!r}) must be a positive int dividing `channels` "
                         f"(={channels})")
    g = {"conv": 1, "depthwise": channels}.get(kind, groups)
    per = channels // g
    by_group = tuple(c // per for c in range(channels))
    links = channel_links(ConvSpec(channels, channels, 1, groups=g))
    if kind != "shuffle_group":
        title = {"conv": f"standard conv: every output sees all {channels} inputs",
                 "group": f"grouped conv, g={g}: each output sees its group's {per} inputs",
                 "depthwise": "depthwise conv: output c sees input c only"}[kind]
        return ChannelDiagram(kind, title, ("input", "output"), (channels, channels),
                              (_edges(links),), (by_group, by_group))
    ids = np.arange(channels, dtype=float).reshape(1, channels, 1)
    after = ref.channel_shuffle(ids, g)[0, :, 0].astype(int)  # after[i] = source channel
    shuffle = tuple((int(after[i]), i) for i in range(channels))
    colours_after = tuple(by_group[int(after[i])] for i in range(channels))
    return ChannelDiagram(
        kind, f"group conv (g={g}), channel shuffle, group conv: groups mix",
        ("input", "conv 1", "shuffled", "conv 2"), (channels,) * 4,
        (_edges(links), shuffle, _edges(links)),
        (by_group, by_group, colours_after, by_group),
    )
