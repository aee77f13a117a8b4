"""Checkerboard artifacts of transposed convs, next to resize-conv and sub-pixel conv (ICNR).

A transposed conv whose kernel is not divisible by its stride makes output pixels receive
unequal numbers of contributions (Odena et al. 2016): the *overlap count* (how many input
elements scatter into each output pixel, computed here by the reference engine with a kernel
of ones) alternates, e.g. ``1, 2, 1, 2`` per axis for ``k=3, s=2``, so a 2-D output shows a
``1/2/4`` checkerboard. :func:`checkerboard` upsamples a real photograph (scikit-image
``camera``, bundled with the package, no download) with three ``convzoo.layers``:

* :class:`~convzoo.layers.TransposedConv` ``(k, stride=r, padding='same')``, every weight
  ``(r/k)**2`` (a box filter scaled so the *average* gain is 1);
* :class:`~convzoo.layers.ResizeConv` (nearest ``x r``, then a ``'same'`` box conv ``1/k**2``);
* :class:`~convzoo.layers.SubPixelConv` (ICNR init built from the same box kernel), so the
  three differ only in how they upsample.

``ripple`` measures the artifact: on a constant input, ``(max - min) / mean`` of the output
away from the zero-padded border (0 for a flat output). It is reported both for the box
kernels and for random (Kaiming) kernels of each layer at seed 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from convzoo import reference as ref
from convzoo.layers import ResizeConv, SubPixelConv, TransposedConv, icnr_
from convzoo.names import renamed_arguments, renamed_fields

__all__ = [
    "METHODS", "Checkerboard", "checkerboard", "checkerboard_figure", "camera", "ripple",
    "overlap_count",
]

#: The upsampling methods compared, in display order (names of the one vocabulary,
#: :class:`convzoo.arithmetic.Variant`; the sub-pixel conv is ICNR-initialized).
METHODS = ("transposed", "resize_conv", "subpixel")

_LABELS = {"subpixel": "subpixel (ICNR)"}


def camera(size: int = 96) -> np.ndarray:
    """A ``size`` x ``size`` crop of scikit-image's ``camera`` photograph, floats in [0, 1].

    >>> camera(32).shape
    (32, 32)
    """
    from skimage import data

    image = data.camera().astype(np.float64) / 255.0
    if not 8 <= size <= image.shape[0]:
        raise ValueError(f"`size` (={size!r}) must be in 8..{image.shape[0]}")
    cy, cx = 150, 250  # the photographer's face and camera: sharp edges and flat areas
    top = min(max(cy - size // 2, 0), image.shape[0] - size)
    left = min(max(cx - size // 2, 0), image.shape[1] - size)
    return image[top:top + size, left:left + size]


@renamed_arguments(kernel="kernel_size")
def overlap_count(kernel_size: int, stride: int, size: int) -> np.ndarray:
    """How many input elements each output pixel of a transposed conv receives (2-D).

    Reference engine: ``conv_transpose`` of an all-ones ``size x size`` input with an
    all-ones ``kernel_size x kernel_size`` kernel at ``stride``, padding ``'same'`` (cropped so that
    ``out = size * stride``).

    >>> overlap_count(3, 2, 3)[2].astype(int).tolist()
    [2, 2, 4, 2, 4, 2]
    """
    k = kernel_size
    spec = TransposedConv(1, 1, k, stride, "same").call_spec((size, size))
    pads = spec.resolved_padding((size, size))
    out = ref.conv_transpose(np.ones((1, 1, size, size)), np.ones((1, 1, k, k)),
                             None, stride, pads)
    return out[0, 0]


def ripple(output: np.ndarray, border: int) -> float:
    """``(max - min) / |mean|`` of ``output`` without a ``border``-pixel frame (0: flat).

    >>> ripple(np.ones((6, 6)), 1), ripple(np.array([[1.0, 3.0], [1.0, 3.0]]), 0)
    (0.0, 1.0)
    """
    inner = output[border:output.shape[0] - border, border:output.shape[1] - border]
    return float((inner.max() - inner.min()) / abs(inner.mean()))


@renamed_fields(kernel="kernel_size", factor="upscale_factor")
@dataclass(frozen=True)
class Checkerboard:
    """What :func:`checkerboard` computed.

    Attributes:
        kernel_size, upscale_factor: kernel size ``k`` and upscale factor ``r`` (the
            transposed conv's stride); called ``kernel`` and ``factor`` before 0.2.
        image: the input photograph crop. overlap: :func:`overlap_count` of the output.
        upsampled: method -> the upsampled photograph (box kernels).
        flat: method -> output on a constant input (box kernels).
        ripple_box, ripple_random: method -> :func:`ripple` on a constant input, box kernels
            and random (Kaiming, seed 0) kernels.
    """

    kernel_size: int
    upscale_factor: int
    image: np.ndarray
    overlap: np.ndarray
    upsampled: dict[str, np.ndarray]
    flat: dict[str, np.ndarray]
    ripple_box: dict[str, float]
    ripple_random: dict[str, float]


def _layers(k: int, r: int, box: bool) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    layers: dict[str, nn.Module] = {
        "transposed": TransposedConv(1, 1, k, r, "same"),
        "resize_conv": ResizeConv(1, 1, r, k),
        "subpixel": SubPixelConv(1, 1, r, k),
    }
    for m in layers.values():
        m.double()
        conv = getattr(m, "conv", m)
        with torch.no_grad():
            conv.bias.zero_()
    if box:
        with torch.no_grad():
            layers["transposed"].weight.fill_((r / k) ** 2)
            layers["resize_conv"].conv.weight.fill_(1.0 / k**2)
            sub = layers["subpixel"].conv
            icnr_(sub.weight, r, 2, init=lambda w: nn.init.constant_(w, 1.0 / k**2))
    return layers


def _run(layers: dict[str, nn.Module], x: np.ndarray) -> dict[str, np.ndarray]:
    t = torch.from_numpy(x).reshape(1, 1, *x.shape)
    with torch.no_grad():
        return {n: m(t)[0, 0].numpy() for n, m in layers.items()}


@renamed_arguments(kernel="kernel_size", factor="upscale_factor")
def checkerboard(kernel_size: int = 3, upscale_factor: int = 2, size: int = 64
                 ) -> Checkerboard:
    """Upsample a photograph by ``upscale_factor`` with the three methods of :data:`METHODS`.

    Args:
        kernel_size: ``k`` of every method (default 3: not divisible by 2).
        upscale_factor: ``r`` (default 2). size: crop of ``camera`` (default 64).

    >>> cb = checkerboard(3, 2, 16)
    >>> cb.upsampled["transposed"].shape, round(cb.ripple_box["transposed"], 3)
    ((32, 32), 1.333)
    >>> cb.ripple_box["resize_conv"], cb.ripple_box["subpixel"]
    (0.0, 0.0)
    """
    kernel, factor = kernel_size, upscale_factor
    for name, v, low in (("kernel_size", kernel, 1), ("upscale_factor", factor, 2)):
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise ValueError(f"`{name}` (={v!r}) must be an int >= {low}")
    image = camera(size)
    box = _layers(kernel, factor, box=True)
    flat_in = np.ones_like(image)
    border = factor * kernel  # pixels touched by the zero padding
    flat = _run(box, flat_in)
    random_flat = _run(_layers(kernel, factor, box=False), flat_in)
    return Checkerboard(
        kernel_size=kernel, upscale_factor=factor, image=image,
        overlap=overlap_count(kernel, factor, size),
        upsampled=_run(box, image), flat=flat,
        ripple_box={n: ripple(v, border) for n, v in flat.items()},
        ripple_random={n: ripple(v, border) for n, v in random_flat.items()},
    )


def checkerboard_figure(cb: Checkerboard, zoom: int = 2):
    """The figure: the input; a 16 x 16 patch of the overlap count and of each method's output
    on a constant input (same colour ramp, 0 to max); each method's upsampled photograph
    (nearest-neighbour zoom ``zoom``).

    >>> checkerboard_figure(checkerboard(3, 2, 24)).mode
    'RGB'
    """
    from convzoo.viz.raster import array_image, colour_bar, panels

    r, k = cb.upscale_factor, cb.kernel_size
    lo, hi = k * r, k * r + 16  # a 16 x 16 patch away from the zero-padded border
    detail = [(f"overlap count (k={k}, s={r})", cb.overlap)]
    detail += [(f"{_LABELS.get(n, n)}, constant input", cb.flat[n]) for n in METHODS]
    top = [("input (camera crop)", array_image(cb.image, 0, 1, zoom * r))]
    top += [(t, array_image(a[lo:hi, lo:hi], 0, None, 10, True)) for t, a in detail]
    top.append(("overlap count", colour_bar(0, float(cb.overlap[lo:hi, lo:hi].max()), 160,
                                            int(cb.overlap[lo:hi, lo:hi].max()) + 1)))
    bottom = [(f"{_LABELS.get(n, n)} x{r}", array_image(np.clip(cb.upsampled[n], 0, 1), 0, 1, zoom))
              for n in METHODS]
    counts = sorted({int(v) for v in np.unique(cb.overlap[k * r:-k * r, k * r:-k * r])})
    caption = [
        f"overlap counts inside: {counts} (k={k} is not divisible by s={r}); box kernels: "
        + ", ".join(f"{n} ripple {cb.ripple_box[n]:.3f}" for n in METHODS),
        "random (Kaiming, seed 0) kernels: "
        + ", ".join(f"{n} ripple {cb.ripple_random[n]:.3f}" for n in METHODS)
        + "   (ripple = (max-min)/mean on a constant input)",
        "colour: the bar's ramp, from 0 (dark) to each panel's maximum (yellow); the bar shows "
        "the overlap count's values",
    ]
    return panels([top, bottom], caption)
