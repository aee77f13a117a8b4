"""convzoo.viz: animations of every kind of convolution, drawn from the reference engine.

* :mod:`convzoo.viz.taps`: which input cells feed an output cell, probed from
  :mod:`convzoo.reference` (so a highlight is exactly what the engine computes).
* :mod:`convzoo.viz.draw`: the scene model (grids of cells, links, captions, a legend) and its
  Pillow and SVG renderers; :mod:`convzoo.viz.fonts`: the font text is measured with, and
  colour contrast.
* :mod:`convzoo.viz.animate` (a package): frame sequences for every kind of the one
  vocabulary, the .gif / .svg / .mp4 writers and the HTML player (report, notebooks,
  playground).
* Figures: :mod:`~convzoo.viz.connectivity` (channel diagrams), :mod:`~convzoo.viz.checkerboard`
  (transposed vs resize vs sub-pixel upsampling), :mod:`~convzoo.viz.fields` (receptive-field
  growth, theoretical vs effective field), :mod:`~convzoo.viz.bars` (``compare`` bars), drawn
  with :mod:`~convzoo.viz.svg` and :mod:`~convzoo.viz.raster`.
* :mod:`convzoo.viz.report`: the self-contained HTML report (sections in
  :mod:`~convzoo.viz.sections`); imported on demand: it loads torch, which ``import
  convzoo.viz`` (animations and figures from the NumPy engine) does not.

>>> from convzoo.viz import animate
>>> len(animate("conv", input_size=(3, 3), kernel_size=2))
4
"""

from convzoo.viz.animate import (
    DEFAULTS,
    FORMATS,
    FRAME_LIMIT,
    KINDS,
    MAX_FRAMES,
    MODES,
    Animation,
    animate,
    player_html,
    save,
)
from convzoo.viz.draw import Grid, Scene, render_image, render_svg
from convzoo.viz.taps import (
    ConvTaps,
    GridTaps,
    ScatterTaps,
    ZeroInsertionTaps,
    channel_links,
    conv_taps,
    scatter_taps,
    zero_insertion_taps,
)

__all__ = [
    "DEFAULTS", "FORMATS", "FRAME_LIMIT", "KINDS", "MAX_FRAMES", "MODES", "Animation", "animate",
    "player_html", "save",
    "Grid", "Scene", "render_image", "render_svg",
    "ConvTaps", "GridTaps", "ScatterTaps", "ZeroInsertionTaps", "channel_links", "conv_taps",
    "scatter_taps", "zero_insertion_taps",
]
