"""Receptive-field figures: growth across a network, and theoretical vs effective field.

* :func:`rf_growth` asks :func:`convzoo.analysis.receptive_field` for the field at the output
  of every conv of a model (size ``r`` and effective stride ``S``); :func:`rf_growth_svg`
  draws it as bars, one per layer.
* :func:`effective_field` takes the gradient of the centre output element with respect to
  the input (Luo et al. 2016, the quantity :func:`convzoo.analysis.empirical_receptive_field`
  thresholds) and :func:`effective_field_figure` draws it as a heatmap with the theoretical
  field (white box) and the thresholded effective field (red box).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch.nn as nn

from convzoo.analysis import empirical_receptive_field, receptive_field
from convzoo.layers import Conv
from convzoo.viz.fonts import text_width
from convzoo.viz.svg import svg_document, svg_line, svg_rect, svg_text

__all__ = [
    "RFStep", "EffectiveField", "rf_network", "rf_growth", "rf_growth_svg", "effective_field",
    "effective_field_figure",
]


def rf_network(channels: int = 8) -> nn.Sequential:
    """A small 2-D network whose field grows by every mechanism: 3x3 convs, a stride-2 conv,
    and dilations 2 and 4 (convzoo.layers.Conv, ReLU between).

    >>> [n for n, m in rf_network().named_children() if not isinstance(m, nn.ReLU)][:3]
    ['conv1', 'conv2', 'down']
    """
    c = channels
    layers = [("conv1", Conv(1, c, 3, padding=1)), ("conv2", Conv(c, c, 3, padding=1)),
              ("down", Conv(c, c, 3, stride=2, padding=1)), ("conv3", Conv(c, c, 3, padding=1)),
              ("dil2", Conv(c, c, 3, padding=2, dilation=2)),
              ("dil4", Conv(c, c, 3, padding=4, dilation=4)), ("head", Conv(c, 1, 1))]
    seq = nn.Sequential()
    for i, (name, layer) in enumerate(layers):
        seq.add_module(name, layer)
        if i < len(layers) - 1:
            seq.add_module(f"relu{i + 1}", nn.ReLU())
    return seq


@dataclass(frozen=True)
class RFStep:
    """The receptive field at one layer's output (first spatial axis).

    Attributes:
        layer: module name. size: ``r``. stride: effective stride ``S`` (input pixels between
        neighbouring outputs).
    """

    layer: str
    size: int | Fraction
    stride: int | Fraction


def rf_growth(model: nn.Module, input_shape: Sequence[int]) -> list[RFStep]:
    """The field after every conv of ``model`` (modules with a ``spec``), in order.

    >>> [(s.layer, s.size, s.stride) for s in rf_growth(rf_network(), (1, 1, 32, 32))][:3]
    [('conv1', 3, 1), ('conv2', 5, 1), ('down', 7, 2)]
    """
    steps = []
    for name, module in model.named_modules():
        if name and hasattr(module, "spec"):
            rf = receptive_field(model, input_shape, layer=name)
            steps.append(RFStep(name, rf.sizes[0], rf.strides[0]))
    if not steps:
        raise ValueError("`model` has no convzoo conv layer (a module with a `spec`) to follow")
    return steps


def rf_growth_svg(steps: Sequence[RFStep], title: str = "receptive field growth") -> str:
    """Bars of ``r`` per layer, labelled with ``r`` and the effective stride ``S``."""
    note = "r: input pixels seen by one output (per axis); S: effective stride"
    bar_h, gap, top = 22, 8, 40
    left = int(max(text_width(s.layer, 14) for s in steps)) + 20
    width = int(max(560, text_width(title, 15) * 1.08 + 24, left + text_width(note, 14) + 16))
    height = top + len(steps) * (bar_h + gap) + 34
    largest = float(max(s.size for s in steps))
    span = width - left - 150
    body = [svg_text(8, 22, title, 15, bold=True)]
    for i, s in enumerate(steps):
        y = top + i * (bar_h + gap)
        w = span * float(s.size) / largest
        body.append(svg_text(left - 6, y + 16, s.layer, 14, "end"))
        body.append(svg_rect(left, y, w, bar_h, "#4e79a7"))
        body.append(svg_text(left + w + 6, y + 16, f"r={s.size}  S={s.stride}", 14))
    base = top + len(steps) * (bar_h + gap)
    body.append(svg_line(left, top - 4, left, base, "#444444"))
    body.append(svg_text(8, base + 20, note, 14))
    return svg_document(width, height, body, title)


@dataclass(frozen=True)
class EffectiveField:
    """Theoretical vs effective receptive field of the centre output.

    Attributes:
        gradient: ``|d y_centre / d x|`` summed over channels, shape of the input's spatial
            axes (2-D). threshold: fraction of its maximum counted as inside.
        theoretical: per axis, ``(first, last)`` input index of the theoretical field.
        effective: per axis, ``(first, last)`` where the gradient exceeds the threshold
            (:func:`convzoo.analysis.empirical_receptive_field`).
    """

    gradient: np.ndarray
    threshold: float
    theoretical: tuple[tuple[int, int], ...]
    effective: tuple[tuple[int, int], ...]


def effective_field(model: nn.Module, input_shape: Sequence[int], threshold: float = 0.01,
                    init: str = "ones") -> EffectiveField:
    """The input-gradient map of the centre output of ``model`` (2-D input, batch 1).

    The map :func:`convzoo.analysis.empirical_receptive_field` computes: a float64 copy of
    the model, the channel sum of ``|grad|``. ``init='ones'`` (default): weights 1, biases 0,
    an input of ones, so the gradient counts the paths from each input pixel to the centre
    output (the Gaussian-like profile of Luo et al.); ``init='model'``: the model's weights
    and a standard-normal input from a generator seeded 0.

    Args:
        model: a 2-D model. input_shape: ``(N, C, H, W)``.
        threshold: fraction of the maximum counted as inside (default 0.01).
        init: ``'ones'`` (default) or ``'model'``.

    >>> f = effective_field(rf_network(), (1, 1, 32, 32))
    >>> f.gradient.shape, f.theoretical
    ((32, 32), ((0, 31), (0, 31)))
    """
    shape = tuple(input_shape)
    if len(shape) != 4:
        raise ValueError(f"`input_shape` (={shape!r}) must be (N, C, H, W)")
    measured = empirical_receptive_field(model, shape, threshold=threshold, init=init)
    grad = measured.gradient.numpy()
    return EffectiveField(grad, threshold, measured.theoretical, measured.spans)


def effective_field_figure(field: EffectiveField, scale: int = 6):
    """The gradient heatmap (linear scale), theoretical field white, effective red."""
    from convzoo.viz.raster import array_image, colour_bar, draw_box, panels

    image = array_image(field.gradient, 0, None, scale, colour=True)
    for span, colour in ((field.theoretical, "#ffffff"), (field.effective, "#c62828")):
        (y0, y1), (x0, x1) = span
        draw_box(image, (x0 * scale, y0 * scale, (x1 + 1) * scale - 1, (y1 + 1) * scale - 1),
                 colour, 2)
    size = [t[1] - t[0] + 1 for t in field.theoretical]
    eff = [e[1] - e[0] + 1 for e in field.effective]
    top = float(np.asarray(field.gradient).max())
    return panels(
        [[("|d y_centre / d x| (input gradient)", image),
          ("gradient", colour_bar(0.0, top, image.size[1] - 20, 3))]],
        [f"theoretical field (white): {size[0]}x{size[1]} inside the input",
         f"effective field (red, > {field.threshold:g} of max): {eff[0]}x{eff[1]}"],
    )
