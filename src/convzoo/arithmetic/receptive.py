"""Receptive-field algebra along one spatial axis (Araujo, Norris & Sim, Distill 2019).

A layer is ``(k, s, p)``: kernel extent ``k`` (a dilated kernel counts as ``d*(k-1)+1``),
stride ``s`` and left padding ``p``. Composing layers 1..L from the input:

* ``r_L = r_{L-1} + (k_L - 1) * S_{L-1}``  (receptive field size, ``r_0 = 1``)
* ``S_L = S_{L-1} * s_L``                  (effective stride, ``S_0 = 1``)
* ``P_L = P_{L-1} + p_L * S_{L-1}``        (effective padding, ``P_0 = 0``)

Output element ``u`` then sees input positions ``u*S - P`` .. ``u*S - P + r - 1``, centred at
``u*S - P + (r - 1)/2``.

Upsampling layers have fractional strides, kept exact with :class:`fractions.Fraction`:

* Transposed conv (kernel k, stride s, padding p, dilation d) = zero insertion (a layer with
  ``k=1, s=1/s, p=0``) followed by a stride-1 conv of extent ``d*(k-1)+1`` and left padding
  ``d*(k-1) - p`` (this is how the seed documents define it). ``r`` and ``P`` are then in input
  units and may be fractional: only the integer positions inside the span are real inputs.
* Pixel shuffle by r: ``k=1, s=1/r, p=0`` (output ``q`` reads input ``floor(q/r)``);
  pixel unshuffle by r: ``k=r, s=r, p=0``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from convzoo.arithmetic.shape import effective_kernel, zero_insertion_padding
from convzoo.arithmetic.spans import Span
from convzoo.arithmetic.tuples import check_int

__all__ = [
    "RFLayer",
    "ReceptiveField",
    "as_number",
    "conv_rf_layer",
    "conv_axis_rf_layers",
    "transposed_rf_layers",
    "interpolate_rf_layer",
    "adaptive_rf_layer",
    "pixel_shuffle_rf_layer",
    "pixel_unshuffle_rf_layer",
    "compose",
    "chain",
    "largest",
]

Number = int | Fraction


def as_number(x: Number) -> Number:
    """Fractions with denominator 1 become ints, so results print as integers.

    >>> as_number(Fraction(4, 2)), as_number(Fraction(1, 2))
    (2, Fraction(1, 2))
    """
    if isinstance(x, Fraction) and x.denominator == 1:
        return int(x)
    return x


@dataclass(frozen=True)
class RFLayer:
    """One layer of the algebra along one axis: extent ``k``, stride ``s``, left padding ``p``."""

    kernel: Number
    stride: Number
    padding: Number


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field along one axis: size ``r``, effective stride ``S``, effective padding ``P``.

    >>> rf = chain([conv_rf_layer(3, 1, 1)] * 2)
    >>> rf.size, rf.stride, rf.padding, rf.span(0), rf.center(0)
    (5, 1, 2, (-2, 2), 0)
    """

    size: Number = 1
    stride: Number = 1
    padding: Number = 0
    spans: tuple[Span, ...] | None = field(default=None, repr=False, compare=False)

    def span(self, u: int = 0) -> Span | tuple[Number, Number]:
        """First and last input position seen by output element ``u``.

        With :attr:`spans` (set by :func:`convzoo.analysis.node_fields`, where the input
        size is known) this is the exact span of the input positions ``u`` depends on,
        clipped to the input, or None when it depends on none; a single span stands for
        every ``u`` (a removed or broadcast axis). Without, it is the algebra's
        ``u*S - P .. u*S - P + r - 1`` (may reach into the padding).
        """
        if self.spans is not None:
            u = check_int("u", u, 0)
            if len(self.spans) == 1:
                return self.spans[0]
            if u >= len(self.spans):
                raise ValueError(
                    f"`u` (={u}) must be < {len(self.spans)}, the output size along this axis")
            return self.spans[u]
        return self.algebra_span(u)

    def algebra_span(self, u: int = 0) -> tuple[Number, Number]:
        """``u*S - P .. u*S - P + r - 1``: the Distill algebra's span (not clipped)."""
        start = as_number(Fraction(u) * self.stride - self.padding)
        return start, as_number(start + self.size - 1)

    def center(self, u: int = 0) -> Number:
        """Centre (in input coordinates) of output element ``u``'s algebra span."""
        start, end = self.algebra_span(u)
        return as_number(Fraction(start + end) / 2)


def conv_rf_layer(kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> RFLayer:
    """A convolution or pooling window as an algebra layer (dilation folded into the extent).

    >>> conv_rf_layer(3, 1, 2, dilation=2)
    RFLayer(kernel=5, stride=1, padding=2)
    """
    check_int("stride", stride)
    check_int("padding", padding, 0)
    return RFLayer(effective_kernel(kernel, dilation), stride, padding)


def conv_axis_rf_layers(kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                        transposed: bool = False) -> tuple[RFLayer, ...]:
    """One axis of a convolution (forward or transposed) as algebra layers.

    >>> conv_axis_rf_layers(3, 2, 1, transposed=True)[1]
    RFLayer(kernel=3, stride=1, padding=1)
    """
    if transposed:
        return transposed_rf_layers(kernel, stride, padding, dilation)
    return (conv_rf_layer(kernel, stride, padding, dilation),)


def transposed_rf_layers(
    kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> tuple[RFLayer, RFLayer]:
    """A transposed conv as zero insertion (stride ``1/s``) then a stride-1 conv.

    >>> chain(transposed_rf_layers(3, 2, 1))
    ReceptiveField(size=2, stride=Fraction(1, 2), padding=Fraction(1, 2))
    """
    check_int("stride", stride)
    left, _ = zero_insertion_padding(kernel, padding, 0, dilation)
    return (
        RFLayer(1, as_number(Fraction(1, stride)), 0),
        RFLayer(effective_kernel(kernel, dilation), 1, left),
    )


def pixel_shuffle_rf_layer(factor: int) -> RFLayer:
    """Pixel shuffle (depth-to-space) by ``factor``: stride ``1/factor``, no spatial extent."""
    check_int("factor", factor)
    return RFLayer(1, as_number(Fraction(1, factor)), 0)


def pixel_unshuffle_rf_layer(factor: int) -> RFLayer:
    """Pixel unshuffle (space-to-depth) by ``factor``: a window ``factor`` wide and strided."""
    check_int("factor", factor)
    return RFLayer(factor, factor, 0)


def interpolate_rf_layer(in_size: int, out_size: int, mode: str,
                         align_corners: bool = False) -> RFLayer:
    """Interpolation along one axis as an algebra layer (evenly spaced windows).

    The windows of interpolation are not evenly spaced, so this is the algebra's
    approximation (stride ``in/out``); the exact per-position spans come from
    :func:`convzoo.arithmetic.interpolate_taps`. Nearest modes read one input (``k=1``),
    linear two, cubic four.

    >>> interpolate_rf_layer(4, 8, "linear")
    RFLayer(kernel=2, stride=Fraction(1, 2), padding=Fraction(3, 4))
    """
    check_int("in_size", in_size)
    check_int("out_size", out_size)
    if mode.startswith("nearest"):
        return RFLayer(1, as_number(Fraction(in_size, out_size)), 0)
    k = 2 if mode == "linear" else 4
    if align_corners:
        s = Fraction(in_size - 1, out_size - 1) if out_size > 1 else Fraction(1)
        return RFLayer(k, as_number(s), (k - 2) // 2)
    # window centred on the half-pixel source position (q + 1/2) * i/o - 1/2
    return RFLayer(k, as_number(Fraction(in_size, out_size)),
                   as_number(Fraction(k, 2) - Fraction(in_size, 2 * out_size)))


def adaptive_rf_layer(in_size: int, out_size: int) -> tuple[RFLayer, bool]:
    """Adaptive pooling as an algebra layer, and whether its windows are evenly spaced.

    Uneven windows are taken at their widest (the exact spans come from
    :func:`convzoo.arithmetic.adaptive_taps`).

    >>> adaptive_rf_layer(8, 2), adaptive_rf_layer(5, 3)[1]
    ((RFLayer(kernel=4, stride=4, padding=0), True), False)
    """
    check_int("in_size", in_size)
    check_int("out_size", out_size)
    if in_size % out_size == 0:
        return RFLayer(in_size // out_size, in_size // out_size, 0), True
    width = max(-(-(j + 1) * in_size // out_size) - (j * in_size) // out_size
                for j in range(out_size))
    return RFLayer(width, as_number(Fraction(in_size, out_size)), 0), False


def compose(rf: ReceptiveField, layer: RFLayer) -> ReceptiveField:
    """The receptive field after appending ``layer`` to a chain whose field is ``rf``."""
    return ReceptiveField(
        size=as_number(rf.size + (layer.kernel - 1) * Fraction(rf.stride)),
        stride=as_number(Fraction(rf.stride) * layer.stride),
        padding=as_number(rf.padding + layer.padding * Fraction(rf.stride)),
    )


def chain(layers: Iterable[RFLayer], start: ReceptiveField | None = None) -> ReceptiveField:
    """Receptive field of a chain of layers, input first.

    >>> chain([conv_rf_layer(3, 1, 2 ** i, 2 ** i) for i in range(4)]).size  # WaveNet-style
    31
    """
    rf = start if start is not None else ReceptiveField()
    for layer in layers:
        rf = compose(rf, layer)
    return rf


def largest(fields: Iterable[ReceptiveField]) -> tuple[ReceptiveField, bool]:
    """Merge the fields of parallel branches: the largest field wins.

    Returns the winner and whether the branches are aligned (same effective stride and the
    same centre for output element 0); misaligned branches are legal but worth reporting.

    >>> largest([chain([conv_rf_layer(1)]), chain([conv_rf_layer(3, padding=1)])])
    (ReceptiveField(size=3, stride=1, padding=1), True)
    """
    items = list(fields)
    if not items:
        raise ValueError("`fields` must contain at least one receptive field")
    winner = max(items, key=lambda f: f.size)
    aligned = all(f.stride == winner.stride and f.center(0) == winner.center(0) for f in items)
    return winner, aligned
