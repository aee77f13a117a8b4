"""The report's sections: one per variant, what it is for, how it is animated and counted.

Each :class:`Section` names the animation(s) to draw (``convzoo.viz.animate`` options), the
rows of ``convzoo.compare`` that hold its numbers (``'same'``: the same-resolution comparison,
``'upsample'``: the x2 upsampling one, ``'extra'``: a layer ``compare`` has no row for,
counted by ``summary`` and timed the same way), the layer whose conv stages give the
arithmetic, and the figures that go with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch.nn as nn

from convzoo.layers import (
    Conv,
    Depthwise,
    DepthwiseSeparable,
    Dilated,
    Flattened,
    GroupConv,
    Pointwise,
    ShuffleGroupConv,
    SpatiallySeparable,
    SubPixelConv,
    TransposedConv,
)
from convzoo.names import unknown_name

__all__ = ["Section", "SECTIONS", "SECTION_NAMES", "CHANNELS", "SIZE", "section"]

#: C_in, C_out and spatial size of the same-resolution comparison (the upsampling one halves
#: the size so that every output is SIZE).
CHANNELS, SIZE = (32, 64), (32, 32)


@dataclass(frozen=True)
class Section:
    """One variant of the report.

    Attributes:
        name: key, a name of the one vocabulary (:class:`convzoo.arithmetic.Variant`;
            ``--variants`` takes these or their aliases). title: heading.
        purpose: what the variant is for, in plain English (several sentences).
        animations: ``(caption, animate kind, options)`` per animation.
        rows: names of the comparison rows holding its numbers. table: ``'same'``,
            ``'upsample'`` or ``'extra'``.
        layer: builds the layer whose conv stages give the arithmetic; shape: its input.
        figures: names of extra figures (``'connectivity:group'``, ``'checkerboard'``...).
    """

    name: str
    title: str
    purpose: str
    animations: tuple[tuple[str, str, dict[str, Any]], ...]
    rows: tuple[str, ...]
    table: str
    layer: Callable[[], nn.Module]
    shape: tuple[int, ...]
    figures: tuple[str, ...] = field(default=())


_CI, _CO = CHANNELS
_SAME = (1, _CI, *SIZE)
_UP = (1, _CI, *(s // 2 for s in SIZE))


def _wavenet() -> nn.Module:
    return nn.Sequential(*(Conv(16, 16, 2, padding="causal", dilation=d, ndim=1)
                           for d in (1, 2, 4, 8)))


SECTIONS: tuple[Section, ...] = (
    Section(
        "conv", "Standard convolution",
        "The dense sliding window: every output element is a weighted sum over a k x k window "
        "of every input channel. It is the baseline every other variant is measured against: "
        "the most expressive (C_in x C_out x k x k weights) and the most expensive. Stride "
        "skips positions (downsampling), padding decides what happens at the border: 'valid' "
        "drops windows that leave the input, 'same' keeps the size (at stride 1), 'full' "
        "keeps every partial overlap.",
        (("two input channels, two outputs, stride 2, padding 1", "conv",
          dict(input_size=(5, 5), in_channels=2, out_channels=2, stride=2, padding=1)),
         ("1-D, padding 'full': every partial overlap is an output", "conv",
          dict(input_size=(6,), kernel_size=3, padding="full"))),
        ("conv",), "same", lambda: Conv(_CI, _CO, 3, padding="same"), _SAME,
        ("connectivity:conv",),
    ),
    Section(
        "dilated", "Dilated (atrous) convolution",
        "Holes between the kernel taps (dilation d) spread a k x k kernel over d(k-1)+1 "
        "pixels: the receptive field grows without more weights or MACs and without "
        "downsampling. DeepLab's ASPP and WaveNet rely on it for dense prediction and long "
        "audio context.",
        (("dilation 2, padding 'same'", "dilated",
          dict(input_size=(7, 7), dilation=2, padding="same")),),
        ("dilated d=2",), "same", lambda: Dilated(_CI, _CO, 3, 2), _SAME,
        ("receptive-growth",),
    ),
    Section(
        "transposed", "Transposed (fractionally strided) convolution",
        "The adjoint of a strided convolution, used to upsample (DCGAN generators, U-Net "
        "decoders). It can be read two ways, both animated here from the same engine: insert "
        "s-1 zeros between inputs, pad by d(k-1)-p and run an ordinary stride-1 conv with the "
        "flipped kernel; or let every input element scatter value x kernel into the output. "
        "output_padding adds elements on one side to pick among the input sizes a stride "
        "maps to the same output. When k is not divisible by the stride, output pixels get "
        "unequal numbers of contributions: the checkerboard artifact.",
        (("zero insertion + ordinary conv, output_padding 1", "transposed",
          dict(input_size=(3, 3), padding=1, output_padding=1, mode="zero-insertion")),
         ("scatter of each input element, output_padding 1", "transposed",
          dict(input_size=(3, 3), padding=1, output_padding=1, mode="scatter"))),
        ("transposed",), "upsample", lambda: TransposedConv(_CI, _CO, 3, 2, "same"), _UP,
        ("checkerboard",),
    ),
    Section(
        "depthwise", "Depthwise convolution",
        "groups = C_in: each channel is filtered by its own k x k kernel and channels never "
        "mix. It costs 1/C_out of a standard conv and is the spatial half of a separable "
        "conv (MobileNet). A depth multiplier m gives m outputs per input channel.",
        (("groups = C_in = 2, one colour per channel", "depthwise", {}),),
        ("depthwise",), "extra", lambda: Depthwise(_CI, 3, padding="same"), _SAME,
        ("connectivity:depthwise",),
    ),
    Section(
        "pointwise", "Pointwise (1x1) convolution",
        "A 1x1 kernel: at every position, a linear map from the C_in channel values to C_out "
        "outputs. Pure channel mixing, no spatial context; it changes the channel count "
        "cheaply (bottlenecks) and is the channel half of a separable conv.",
        (("3 channels to 2, one position at a time", "pointwise", {}),),
        ("pointwise",), "extra", lambda: Pointwise(_CI, _CO), _SAME,
    ),
    Section(
        "separable", "Depthwise-separable convolution",
        "A depthwise conv (space) followed by a pointwise conv (channels): the factorization "
        "of MobileNet and Xception. For k=3 and many channels it needs about 1/9 of the "
        "weights and MACs of a standard conv, at a small cost in accuracy.",
        (("stage 1 depthwise, stage 2 pointwise", "separable", {}),),
        ("separable",), "same", lambda: DepthwiseSeparable(_CI, _CO, 3, padding="same"),
        _SAME,
    ),
    Section(
        "group", "Grouped convolution",
        "The channels are split into g groups convolved independently (AlexNet's two GPUs, "
        "ResNeXt's cardinality): 1/g of the weights and MACs. Each output only sees the "
        "inputs of its own group.",
        (("g = 2: an output only reads its group's channels", "group", {}),),
        ("group g=2", "group g=4"), "same", lambda: GroupConv(_CI, _CO, 3, 2, 1, "same"),
        _SAME, ("connectivity:group",),
    ),
    Section(
        "shuffle", "Channel shuffle (shuffled group convolution)",
        "Stacked group convs never exchange information between groups. ShuffleNet "
        "interleaves the channels between them (reshape to (g, C/g), transpose, flatten): a "
        "free permutation (no weights, no MACs, one copy) after which every group sees "
        "every other group.",
        (("two group convs, without then with the shuffle", "shuffle", {}),),
        ("shuffle_group g=2", "shuffle_group g=4"), "same",
        lambda: ShuffleGroupConv(_CI, _CO, 3, 2, 1, "same"), _SAME,
        ("connectivity:shuffle_group",),
    ),
    Section(
        "subpixel", "Sub-pixel convolution (pixel shuffle) and resize-conv",
        "Two checkerboard-free ways to upsample by r. Sub-pixel (ESPCN): a conv at the low "
        "resolution to C_out x r^2 channels, then a pixel shuffle moves each group of r^2 "
        "channels into an r x r block; with ICNR initialisation it starts out as nearest "
        "upsampling. Resize-conv: nearest (or bilinear) upsampling, then an ordinary conv at "
        "the high resolution: more MACs, no uneven overlap.",
        (("sub-pixel conv: a conv to C_out·r^2 channels, then the pixel shuffle, r = 2",
          "subpixel", {}),
         ("resize-conv: nearest upsampling, then a 'same' conv", "resize_conv", {})),
        ("subpixel", "resize_conv"), "upsample", lambda: SubPixelConv(_CI, _CO, 2, 3), _UP,
    ),
    Section(
        "flattened", "Flattened convolution",
        "Jin et al. (2014) factor a 3-D filter (channels x height x width) into three 1-D "
        "filters: across channels, then vertical, then horizontal. The weights drop from "
        "C_in x k x k to about C_in + 2k per output, if the filters are close to rank one.",
        (("a 1-D conv across channels, then along H, then along W", "flattened", {}),),
        ("flattened",), "same", lambda: Flattened(_CI, _CO, 3, 1, "same"), _SAME,
    ),
    Section(
        "spatially_separable", "Spatially separable convolution",
        "A k x k kernel replaced by a k x 1 conv followed by a 1 x k conv (Inception v3; "
        "R(2+1)D in 3-D): 2k instead of k^2 weights per channel pair, exact when the kernel "
        "has rank one (Sobel, Gaussian).",
        (("3x1, then 1x3", "spatially_separable", {}),),
        ("spatially_separable",), "same",
        lambda: SpatiallySeparable(_CI, _CO, 3, None, 1, "same"), _SAME,
    ),
    Section(
        "conv3d", "3-D convolution",
        "The window also slides along depth (time in video, slices in volumes: C3D, I3D, "
        "3-D U-Net). Cost grows with k^3; the depth slices are drawn side by side.",
        (("kernel 2x2x2 over a 3x4x4 volume (depth slices d=0, 1, 2)", "conv3d", {}),),
        ("conv3d",), "extra", lambda: Conv(8, 16, 3, padding=1, ndim=3), (1, 8, 8, 16, 16),
    ),
    Section(
        "wavenet", "Dilated causal 1-D stack (WaveNet)",
        "Causal convs only look at the past (padding d(k-1) on the left); doubling the "
        "dilation at every layer (1, 2, 4, 8) makes the receptive field grow exponentially "
        "with depth, 2^L for kernel 2, so a few layers see thousands of audio samples.",
        (("kernel 2, dilations 1, 2, 4, 8: the receptive field grows to 16", "wavenet", {}),),
        ("wavenet",), "extra", _wavenet, (1, 16, 1024),
    ),
)

#: Section names, in report order.
SECTION_NAMES = tuple(s.name for s in SECTIONS)


def section(name: str) -> Section:
    """The section called ``name``: a name of the one vocabulary, or one of its aliases.

    >>> section("grouped").name, section("grouped").rows
    ('group', ('group g=2', 'group g=4'))
    """
    from convzoo.arithmetic.variants import ALIAS_NOTE, ALIASES, resolve_alias, suggestion_for

    key = resolve_alias(name) if isinstance(name, str) else name
    for s in SECTIONS:
        if s.name == key:
            return s
    raise ValueError(unknown_name(
        "`variants` entry", name, SECTION_NAMES, "report section",
        [a for a, v in ALIASES.items() if v in SECTION_NAMES], ALIAS_NOTE,
        suggestion_for(name) if isinstance(name, str) else None))
