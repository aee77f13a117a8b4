"""Per-output-position receptive-field spans along one axis, exact for every op.

The Distill algebra (:mod:`convzoo.arithmetic.receptive`) describes a field by a size, a
stride and a padding: exact for convolutions and pools, but only an approximation through
interpolation, adaptive pooling or padding ops, whose windows are not evenly spaced. Here
every op along one axis is described by its *taps*: for each output index ``u``, the input
indices that contribute with a nonzero weight. Spans compose exactly:

* the span of output ``u`` (first and last input position of the network input it depends
  on, or ``None`` when it depends on none) is the union of the spans of its taps;
* a graph merge (add, mul, channel concat) takes the union of its operands' spans.

A span is the bounding interval of the gradient support: with positive weights and identity
activations, ``d out[u] / d x[v]`` is nonzero exactly for the ``v`` of the taps' supports.

Interpolation taps follow PyTorch's CPU kernels (``aten/src/ATen/native/UpSample.h``),
including their floating-point precision (see :func:`interpolate_taps`).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from fractions import Fraction

from convzoo.arithmetic.pads import PAD_MODES, pad_taps
from convzoo.arithmetic.tuples import check_int

__all__ = [
    "Span", "Taps", "INTERPOLATE_MODES", "PAD_MODES", "conv_taps", "transposed_taps",
    "adaptive_taps", "interpolate_taps", "pixel_shuffle_taps", "pixel_unshuffle_taps",
    "pad_taps", "slice_taps", "identity_spans", "compose_spans", "union_spans",
    "union_span", "concat_spans", "broadcast_spans",
]

#: First and last input position, or None for an output that depends on no input.
Span = tuple[int, int] | None
#: Per output index, the input indices read with a nonzero weight.
Taps = tuple[tuple[int, ...], ...]

#: Interpolation modes along one axis (bilinear/trilinear are 'linear' per axis).
INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "cubic")

_A = Fraction(-3, 4)  # PyTorch's bicubic coefficient


def conv_taps(in_size: int, out_size: int, kernel: int, stride: int = 1, padding: int = 0,
              dilation: int = 1) -> Taps:
    """Taps of a convolution or pooling window (left ``padding``; padded positions dropped).

    >>> conv_taps(5, 3, 3, stride=2, padding=1)
    ((0, 1), (1, 2, 3), (3, 4))
    """
    check_int("kernel", kernel)
    check_int("stride", stride)
    check_int("dilation", dilation)
    return tuple(
        tuple(x for x in range(u * stride - padding, u * stride - padding
                               + dilation * (kernel - 1) + 1, dilation) if 0 <= x < in_size)
        for u in range(out_size))


def transposed_taps(in_size: int, out_size: int, kernel: int, stride: int = 1,
                    padding: int = 0, dilation: int = 1) -> Taps:
    """Taps of a transposed convolution: output ``q`` receives input ``v`` when
    ``q = v*stride - padding + j*dilation`` for a kernel tap ``j``.

    >>> transposed_taps(2, 4, 1, stride=2)  # odd outputs receive nothing
    ((0,), (), (1,), ())
    """
    check_int("kernel", kernel)
    check_int("stride", stride)
    check_int("dilation", dilation)
    out = []
    for q in range(out_size):
        taps = set()
        for j in range(kernel):
            v, rest = divmod(q + padding - j * dilation, stride)
            if not rest and 0 <= v < in_size:
                taps.add(v)
        out.append(tuple(sorted(taps)))
    return tuple(out)


def adaptive_taps(in_size: int, out_size: int) -> Taps:
    """Adaptive pooling: output ``u`` pools ``floor(u*i/o)`` .. ``ceil((u+1)*i/o) - 1``.

    >>> adaptive_taps(5, 3)
    ((0, 1), (1, 2, 3), (3, 4))
    """
    return tuple(tuple(range((u * in_size) // out_size, -(-(u + 1) * in_size // out_size)))
                 for u in range(out_size))


def _f32(x: float) -> float:
    """``x`` rounded to the nearest float32 (what a C++ ``float`` holds)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def _same(x: float) -> float:
    return x


def _cubic_weights(t: Fraction) -> tuple[Fraction, ...]:
    def near(x: Fraction) -> Fraction:  # |x| <= 1
        return ((_A + 2) * x - (_A + 3)) * x * x + 1

    def far(x: Fraction) -> Fraction:  # 1 < |x| < 2
        return ((_A * x - 5 * _A) * x + 8 * _A) * x - 4 * _A

    return far(t + 1), near(t), near(1 - t), far(2 - t)


def _nearest(in_size: int, out_size: int, exact: bool, scale_factor: float | None) -> Taps:
    # PyTorch's nearest_idx / nearest_exact_idx (the backward's rule): a float32 scale
    if not exact and out_size == in_size:
        return tuple((u,) for u in range(out_size))
    if not exact and out_size == 2 * in_size:
        return tuple((u >> 1,) for u in range(out_size))
    if scale_factor is not None and scale_factor > 0:
        scale = _f32(1.0 / scale_factor)
    else:
        scale = _f32(float(in_size) / out_size)
    return tuple((min(math.floor(_f32((u + 0.5 if exact else u) * scale)), in_size - 1),)
                 for u in range(out_size))


def interpolate_taps(in_size: int, out_size: int, mode: str, align_corners: bool = False,
                     scale_factor: float | None = None, dtype: str = "float32") -> Taps:
    """Taps of ``F.interpolate`` along one axis, as PyTorch's CPU kernels compute them.

    The source index of output ``u`` is ``floor(u*scale)`` (nearest),
    ``floor((u+1/2)*scale)`` (nearest-exact), ``u*scale`` (linear and cubic with
    ``align_corners``) or ``(u+1/2)*scale - 1/2`` (linear, clamped at 0, and cubic). The
    scale is ``1/scale_factor`` when a factor was given, else ``in/out``
    (``(in-1)/(out-1)`` with ``align_corners``). Like PyTorch, nearest modes compute in
    float32 and linear/cubic in the tensor's precision (float64 for float64, float32
    otherwise; linear rounds ``scale*(u+1/2) - 1/2`` once, as its vectorized kernel's fused
    multiply-add does, cubic rounds each operation), so a source index that is an integer
    on paper may land just beside it; taps whose interpolation weight is exactly 0 are
    dropped, clamped taps merged.

    Args:
        in_size, out_size: axis length before and after.
        mode: one of :data:`INTERPOLATE_MODES` (bilinear/trilinear are 'linear' per axis).
        align_corners: as in ``F.interpolate`` (linear and cubic only).
        scale_factor: the factor passed to ``F.interpolate``, or None when ``size`` was.
        dtype: the tensor's dtype name (``'float32'``, ``'float64'``...).

    >>> interpolate_taps(4, 8, "linear")
    ((0,), (0, 1), (0, 1), (1, 2), (1, 2), (2, 3), (2, 3), (3,))
    >>> interpolate_taps(3, 6, "nearest"), interpolate_taps(2, 5, "nearest-exact")
    (((0,), (0,), (1,), (1,), (2,), (2,)), ((0,), (0,), (1,), (1,), (1,)))
    """
    if mode not in INTERPOLATE_MODES:
        raise ValueError(f"`mode` (={mode!r}) must be one of {', '.join(INTERPOLATE_MODES)}")
    check_int("in_size", in_size)
    check_int("out_size", out_size, 0)
    if mode.startswith("nearest"):
        return _nearest(in_size, out_size, mode == "nearest-exact", scale_factor)
    if out_size == in_size and mode == "linear":
        return tuple((u,) for u in range(out_size))  # PyTorch copies
    r = _same if dtype == "float64" else _f32
    if align_corners:
        scale = r(r(float(in_size - 1)) / (out_size - 1)) if out_size > 1 else 0.0
    elif scale_factor is not None and scale_factor > 0:
        scale = r(1.0 / scale_factor)
    else:
        scale = r(float(in_size) / out_size)
    out = []
    for u in range(out_size):
        if align_corners:
            src = r(scale * u)
        elif mode == "linear":  # one rounding: the vectorized kernel's fused multiply-add
            src = r(float(Fraction(scale) * (u + Fraction(1, 2)) - Fraction(1, 2)))
        else:  # the bicubic kernel rounds each operation
            src = r(r(scale * r(u + 0.5)) - 0.5)
        if mode == "linear" and src < 0:
            src = 0.0
        first = min(math.floor(_f32(src)), in_size - 1)  # PyTorch's floorf
        t = Fraction(min(max(r(src - first), 0.0), 1.0))
        if mode == "linear":
            weights = {first: 1 - t}
            second = first + 1 if first < in_size - 1 else first
            weights[second] = weights.get(second, 0) + t
        else:
            weights = {}
            for j, w in enumerate(_cubic_weights(t)):
                index = min(max(first - 1 + j, 0), in_size - 1)
                weights[index] = weights.get(index, 0) + w
        out.append(tuple(sorted(v for v, w in weights.items() if w != 0)))
    return tuple(out)


def pixel_shuffle_taps(in_size: int, factor: int) -> Taps:
    """Pixel shuffle (depth-to-space) by ``factor``: output ``q`` reads input ``q // factor``.

    >>> pixel_shuffle_taps(2, 2)
    ((0,), (0,), (1,), (1,))
    """
    check_int("factor", factor)
    return tuple((q // factor,) for q in range(in_size * factor))


def pixel_unshuffle_taps(in_size: int, factor: int) -> Taps:
    """Pixel unshuffle (space-to-depth) by ``factor``: output ``v`` reads ``factor`` inputs.

    >>> pixel_unshuffle_taps(4, 2)
    ((0, 1), (2, 3))
    """
    check_int("factor", factor)
    return tuple(tuple(range(v * factor, (v + 1) * factor)) for v in range(in_size // factor))


def slice_taps(in_size: int, out_size: int, start: int, step: int = 1) -> Taps:
    """Slicing ``x[start::step]`` (``out_size`` elements).

    >>> slice_taps(6, 3, 1, 2)
    ((1,), (3,), (5,))
    """
    return tuple((start + q * step,) for q in range(out_size))


def identity_spans(size: int) -> tuple[Span, ...]:
    """The spans of the network input itself: each position sees itself."""
    return tuple((u, u) for u in range(size))


def _span_at(spans: Sequence[Span], v: int) -> Span:
    return spans[0] if len(spans) == 1 else spans[v]


def union_span(spans: Sequence[Span]) -> Span:
    """Bounding interval of several spans (``None`` entries ignored).

    >>> union_span([(3, 5), None, (1, 2)])
    (1, 5)
    """
    lo = hi = None
    for s in spans:
        if s is not None:
            if lo is None or s[0] < lo:
                lo = s[0]
            if hi is None or s[1] > hi:
                hi = s[1]
    return None if lo is None else (lo, hi)


def compose_spans(spans: Sequence[Span], taps: Taps) -> tuple[Span, ...]:
    """Spans after an op with ``taps``, given the spans of the op's input positions.

    A length-1 ``spans`` stands for every position (a broadcast or removed axis).

    >>> compose_spans(identity_spans(5), conv_taps(5, 3, 3))
    ((0, 2), (1, 3), (2, 4))
    """
    if len(spans) == 1:
        return tuple(spans[0] if t else None for t in taps)
    reach = max((v for t in taps for v in t), default=-1)
    if reach >= len(spans) or min((v for t in taps for v in t), default=0) < 0:
        raise ValueError(f"`taps` read index {reach}, outside the {len(spans)} input spans")
    return tuple(union_span([spans[v] for v in t]) for t in taps)


def union_spans(operands: Sequence[Sequence[Span]]) -> tuple[Span, ...]:
    """Position-wise union of the spans of merged operands (length-1 operands broadcast).

    >>> union_spans([((0, 1), (1, 2)), ((5, 5),)])
    ((0, 5), (1, 5))
    """
    size = max(len(s) for s in operands)
    if any(len(s) not in (1, size) for s in operands):
        raise ValueError(f"`operands` (lengths {[len(s) for s in operands]}) must have one "
                         "length, or 1 (broadcast)")
    return tuple(union_span([_span_at(s, u) for s in operands]) for u in range(size))


def concat_spans(operands: Sequence[Sequence[Span]], sizes: Sequence[int]) -> tuple[Span, ...]:
    """Spans of a concatenation along the axis itself (each operand ``sizes[i]`` long).

    >>> concat_spans([((0, 0),), ((1, 2), (2, 3))], [1, 2])
    ((0, 0), (1, 2), (2, 3))
    """
    return tuple(s for part, n in zip(operands, sizes, strict=True)
                 for s in broadcast_spans(part, n))


def broadcast_spans(spans: Sequence[Span], size: int) -> tuple[Span, ...]:
    """``spans`` with one entry per position of an axis of ``size`` (a length-1 broadcasts).

    >>> broadcast_spans(((0, 4),), 3)
    ((0, 4), (0, 4), (0, 4))
    """
    if len(spans) == size:
        return tuple(spans)
    if len(spans) == 1:
        return (spans[0],) * size
    raise ValueError(f"`spans` (length {len(spans)}) cannot broadcast to {size} positions")
