"""Frame sequences for every kind of convolution, the writers and the HTML player.

:func:`animate` builds the frames (:class:`~convzoo.viz.draw.Scene`) of one kind;
:func:`save` writes them (.gif, .svg, .mp4); :func:`player_html` plays them in a page or a
notebook. Each frame of a sliding-window kind highlights the cells feeding the output element
being computed (taken from :mod:`convzoo.viz.taps`, i.e. from the reference engine), writes
the kernel's weights over the input cells they multiply, and carries the output-size formula
of :mod:`convzoo.arithmetic` with numbers and the running sum. At most ``max_frames`` frames
(default 64) are made: bigger outputs are subsampled evenly, and the caption says so.

One file per concern: :mod:`~.options` (kinds, defaults, checks and size guard),
:mod:`~.text` (numbers as text), :mod:`~.window` (the sliding window), :mod:`~.dense`,
:mod:`~.transposed`, :mod:`~.mapping` and :mod:`~.wavenet` (the builders),
:mod:`~.writers` and :mod:`~.player`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from convzoo.names import warn_renamed
from convzoo.viz.animate import dense, mapping, transposed, wavenet
from convzoo.viz.animate.options import (
    DEFAULTS,
    FRAME_LIMIT,
    KINDS,
    MAX_FRAMES,
    TooLargeToDraw,
    factor_name,
    normalize,
    sketching,
)
from convzoo.viz.animate.player import Animation, player_data, player_html, player_script
from convzoo.viz.animate.transposed import MODES
from convzoo.viz.animate.window import subsample
from convzoo.viz.animate.writers import FORMATS, HOLD_MS, save
from convzoo.viz.draw import Scene

__all__ = ["KINDS", "MODES", "FORMATS", "MAX_FRAMES", "FRAME_LIMIT", "HOLD_MS", "DEFAULTS",
           "Animation", "TooLargeToDraw", "animate", "sketch", "save", "subsample", "player_data",
           "player_html", "player_script"]

_BUILDERS: dict[str, Callable[[dict, int], list[Scene]]] = {
    "conv": dense.conv, "conv3d": dense.conv3d, "pointwise": dense.pointwise,
    "depthwise": dense.depthwise, "separable": dense.separable, "group": dense.group,
    "shuffle": mapping.shuffle, "shuffle_group": mapping.shuffle_group,
    "shuffle_unit": mapping.shuffle_unit, "dilated": dense.dilated, "aspp": dense.aspp,
    "wavenet": wavenet.wavenet, "transposed": transposed.transposed,
    "subpixel": mapping.subpixel, "pixel_shuffle": mapping.pixel_shuffle,
    "pixel_unshuffle": mapping.pixel_unshuffle, "resize_conv": mapping.resize_conv,
    "flattened": dense.flattened, "spatially_separable": dense.spatially_separable,
    "r2plus1d": dense.r2plus1d,
}


def animate(
    kind: str,
    *,
    kernel_size: Any = None,
    stride: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int | None = None,
    in_channels: int | None = None,
    out_channels: int | None = None,
    input_size: Sequence[int] | None = None,
    output_padding: Any = None,
    mode: str | None = None,
    upscale_factor: int | None = None,
    downscale_factor: int | None = None,
    rates: Sequence[int] | None = None,
    max_frames: int = MAX_FRAMES,
    kernel: Any = None,
    factor: int | None = None,
) -> Animation:
    """The frames animating one kind of convolution.

    Args:
        kind: a variant name or alias (:func:`convzoo.arithmetic.variant`): every kind of
            ``convzoo.available()``, plus ``'conv3d'`` and ``'wavenet'``.
        kernel_size, stride, padding, dilation, groups, in_channels, out_channels,
            output_padding: as for :class:`~convzoo.spec.ConvSpec` (default: per kind, see
            :data:`DEFAULTS`; an option a kind does not take is an error).
        input_size: spatial size of the input, e.g. ``(5, 5)``; its length sets the dims.
        mode: ``'zero-insertion'`` (default) or ``'scatter'``, for ``'transposed'``.
        upscale_factor: ``r``, by which ``'pixel_shuffle'``, ``'subpixel'`` and
            ``'resize_conv'`` multiply each spatial size (``nn.PixelShuffle``'s name; default
            2).
        downscale_factor: ``r``, by which ``'pixel_unshuffle'`` divides each spatial size
            (``nn.PixelUnshuffle``'s name; default 2).
        rates: the dilation rates of ``'aspp'``'s branches (default ``(2, 3)``).
        max_frames: at most this many frames (default 64, at most :data:`FRAME_LIMIT`);
            outputs are subsampled beyond it.
        kernel, factor: deprecated names of ``kernel_size`` and of ``upscale_factor`` (or
            ``downscale_factor`` for ``'pixel_unshuffle'``), accepted with a warning until
            0.2.

    Returns:
        An :class:`Animation`: the list of frames, which plays itself in a notebook.

    Raises:
        TooLargeToDraw: (a ValueError) the input, or a grid made from it, has more cells than
            an animation draws; :func:`sketch` still gives its stages (and so its numbers).

    >>> frames = animate("conv", input_size=(4, 4), stride=2, padding=1)
    >>> len(frames), frames[0].meta["output"], sorted(frames[0].meta["inputs"])
    (4, (0, 0, 0), [(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1)])
    """
    given = {
        "kernel_size": kernel_size, "stride": stride, "padding": padding,
        "dilation": dilation, "groups": groups, "in_channels": in_channels,
        "out_channels": out_channels, "input_size": input_size,
        "output_padding": output_padding, "mode": mode, "upscale_factor": upscale_factor,
        "downscale_factor": downscale_factor, "rates": rates,
    }
    renamed = {"kernel": (kernel, "kernel_size"), "factor": (factor, factor_name(kind))}
    for old, (value, new) in renamed.items():
        if value is not None:
            if given[new] is not None:
                raise ValueError(f"`{old}` (={value!r}) and `{new}` (={given[new]!r}) name "
                                 f"the same argument; pass only `{new}`")
            warn_renamed(old, new)
            given[new] = value
    v, opts = normalize(kind, given, max_frames)
    frames = Animation(_BUILDERS[v.value](opts, max_frames))
    frames.kind = v.value
    return frames


def sketch(kind: str, **options: Any) -> Animation:
    """The stages of ``animate(kind, **options)`` without drawing or computing anything: one
    frame per stage holding only its ``meta`` (the ConvSpec and shapes its numbers come from,
    :func:`convzoo.serve.numbers.animation_numbers`), for an input of any size, also one too
    large to animate. The same options and checks as :func:`animate` (``max_frames`` aside).

    >>> stages = sketch("separable", input_size=(224, 224), in_channels=32, out_channels=64)
    >>> [s.meta["spec"].groups for s in stages], stages[1].meta["input_shape"]
    ([32, 1], (1, 32, 224, 224))
    """
    with sketching():
        frames = animate(kind, max_frames=2, **options)
    return frames
