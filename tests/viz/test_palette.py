"""The colours of the convolution pictures: every channel group's colour differs in hue from
the kernel's orange (the issue: input channel 1 was drawn in the kernel's colour), from the
outputs' red and green and from each other, and text on every fill reads at 4.5:1 or more.
Colour distances are CIE76 ΔE in CIELAB, computed here independently of the drawing code."""

from __future__ import annotations

import colorsys
import itertools

import numpy as np
import pytest

from convzoo.viz.animate import animate
from convzoo.viz.draw import (
    CHANNEL_COLOURS,
    COLOURS,
    channel_colour,
    legend_entries,
    tint,
)
from convzoo.viz.fonts import contrast_ratio, text_colour_on


def _rgb(colour: str) -> list[float]:
    return [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]


def _lab(colour: str) -> tuple[float, float, float]:
    def linear(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(v) for v in _rgb(colour))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(a: str, b: str) -> float:
    return float(np.linalg.norm(np.subtract(_lab(a), _lab(b))))


def hue_gap(a: str, b: str) -> float:
    ha, hb = (colorsys.rgb_to_hls(*_rgb(c))[0] * 360 for c in (a, b))
    return min(abs(ha - hb), 360 - abs(ha - hb))


def test_the_old_palette_failed_this_test():
    """Tableau's orange (the old channel 1) against the kernel: the case of the issue."""
    assert delta_e(tint("#f28e2b", 0.7), COLOURS["kernel"]) < 5
    assert hue_gap("#f28e2b", COLOURS["kernel_hi"]) < 5


@pytest.mark.parametrize("colour", CHANNEL_COLOURS)
def test_a_channel_colour_is_apart_from_the_kernel_window_and_outputs(colour):
    for role in ("kernel", "kernel_hi", "input_hi", "zero_hi"):  # the oranges and yellow
        assert hue_gap(colour, COLOURS[role]) >= 25, role
    assert delta_e(channel_colour(CHANNEL_COLOURS.index(colour)), COLOURS["kernel"]) >= 14
    for role, least in (("kernel_hi", 50), ("input_hi", 50), ("output_hi", 40),
                        ("padding_hi", 25)):
        assert delta_e(colour, COLOURS[role]) >= least, role
    for role in ("output", "output_done", "padding"):
        assert delta_e(channel_colour(CHANNEL_COLOURS.index(colour)), COLOURS[role]) >= 10, role


def test_channel_colours_are_distinct_hues_and_every_text_reads():
    for a, b in itertools.combinations(CHANNEL_COLOURS, 2):
        assert hue_gap(a, b) >= 25 and delta_e(a, b) >= 40, (a, b)
        assert delta_e(tint(a, 0.6), tint(b, 0.6)) >= 10, (a, b)
    fills = [c for g in range(len(CHANNEL_COLOURS)) for c in (channel_colour(g),
                                                              channel_colour(g, True))]
    fills += [c for k, c in COLOURS.items() if k not in ("line", "text", "grid")]
    for fill in fills:
        assert contrast_ratio(text_colour_on(fill), fill) >= 4.5, fill


def test_a_grouped_conv_never_draws_an_input_cell_in_the_kernels_colours():
    scenes = animate("group", in_channels=4, out_channels=4, groups=4, input_size=(3, 3))
    for scene in scenes:
        inputs = {str(f) for g in scene.grids("input") for f in g.fill.flat if f is not None}
        kernels = {str(f) for g in scene.grids("kernel") for f in g.fill.flat}
        assert inputs and kernels == {COLOURS["kernel"]}
        assert min(delta_e(a, b) for a in inputs for b in kernels | {COLOURS["input_hi"]}) >= 14
    legend = {text: colour for colour, text in legend_entries(scenes[0])}
    assert [legend[f"channel group {g}"] for g in range(4)] == list(CHANNEL_COLOURS[:4])
