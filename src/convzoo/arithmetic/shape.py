"""Output sizes of convolution and transposed convolution, per axis and for N-d shapes.

Conventions (PyTorch's):

* convolution: ``out = floor((in + pad_lo + pad_hi - d*(k-1) - 1) / s) + 1``
* transposed convolution: ``out = (in - 1)*s - pad_lo - pad_hi + d*(k-1) + output_padding + 1``
  (``padding`` of a transposed convolution crops the output; PyTorch's symmetric ``padding=p``
  is the pair ``(p, p)``).

Every function validates its arguments (``ValueError`` naming the argument, its value and
the rule) and raises instead of returning an impossible size.
"""

from __future__ import annotations

from collections.abc import Sequence

from convzoo.arithmetic.tuples import check_int, is_int

__all__ = [
    "Pair",
    "as_pair",
    "effective_kernel",
    "zero_insertion_padding",
    "conv_output_size",
    "conv_transpose_output_size",
    "output_spatial_shape",
    "conv_output_formula",
    "conv_transpose_output_formula",
]

Pair = tuple[int, int]


def as_pair(padding: int | Sequence[int], name: str = "padding") -> Pair:
    """``p`` -> ``(p, p)``; a ``(lo, hi)`` pair is returned as a tuple (non-negative ints).

    >>> as_pair(-1)
    Traceback (most recent call last):
    ...
    ValueError: `padding` (=-1) must be a non-negative int or a (lo, hi) pair of them
    """
    if is_int(padding) and padding >= 0:
        return (int(padding), int(padding))
    if (isinstance(padding, Sequence) and len(padding) == 2
            and all(is_int(v) and v >= 0 for v in padding)):
        return (int(padding[0]), int(padding[1]))
    raise ValueError(f"`{name}` (={padding!r}) must be a non-negative int or a (lo, hi) pair "
                     "of them")


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """Extent of a dilated kernel, ``d*(k-1) + 1`` (a 3-tap kernel at d=2 spans 5).

    >>> effective_kernel(3, 2)
    5
    >>> effective_kernel(0)
    Traceback (most recent call last):
    ...
    ValueError: `kernel` (=0) must be a positive int
    """
    return check_int("dilation", dilation) * (check_int("kernel", kernel) - 1) + 1


def zero_insertion_padding(kernel: int, padding: int | Sequence[int] = 0,
                           output_padding: int = 0, dilation: int = 1) -> Pair:
    """A transposed conv as zero insertion + stride-1 conv: the padding of that conv.

    Insert ``s-1`` zeros between inputs, pad ``d*(k-1) - lo`` on the left and
    ``d*(k-1) - hi + output_padding`` on the right (negative amounts crop), then run an
    ordinary stride-1 convolution with the flipped kernel (the seed documents' definition).

    >>> zero_insertion_padding(3, 1), zero_insertion_padding(4, (1, 2), output_padding=1)
    ((1, 1), (2, 2))
    """
    lo, hi = as_pair(padding)
    extent = effective_kernel(kernel, dilation) - 1
    return extent - lo, extent - hi + check_int("output_padding", output_padding, 0)


def conv_output_size(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int | Sequence[int] = 0,
    dilation: int = 1,
) -> int:
    """Output length of a convolution along one axis (PyTorch's floor rule).

    Shape: ``floor((size + lo + hi - d*(k-1) - 1) / stride) + 1``.

    >>> conv_output_size(5, 2, stride=2, padding=1)
    3
    >>> conv_output_size(12, 5)
    8
    """
    check_int("size", size)
    check_int("stride", stride)
    lo, hi = as_pair(padding)
    padded = size + lo + hi
    extent = effective_kernel(kernel, dilation)
    if padded < extent:
        raise ValueError(
            f"effective kernel size d*(k-1)+1 (={extent}) must not exceed the padded input "
            f"size (={padded}; input {size} + padding {lo}+{hi})"
        )
    return (padded - extent) // stride + 1


def conv_transpose_output_size(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int | Sequence[int] = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output length of a transposed convolution along one axis.

    Shape: ``(size - 1)*stride - lo - hi + d*(k-1) + output_padding + 1``. A negative size
    raises (PyTorch refuses it everywhere); 0 is returned: PyTorch gives a zero-size axis
    when another spatial axis is not empty (:func:`output_spatial_shape` checks that).

    >>> conv_transpose_output_size(16, 4, stride=2, padding=1)
    32
    >>> conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1)
    6
    """
    check_int("size", size)
    check_int("stride", stride)
    lo, hi = as_pair(padding)
    extent = effective_kernel(kernel, dilation)
    if check_int("output_padding", output_padding, 0) >= max(stride, dilation):
        raise ValueError(
            f"`output_padding` (={output_padding}) must be smaller than max(`stride`, "
            f"`dilation`) (={max(stride, dilation)})")
    out = (size - 1) * stride - lo - hi + extent + output_padding
    if out < 0:
        raise ValueError(
            f"transposed convolution output size (={out}) must be non-negative: padding "
            f"{lo}+{hi} crops more than the {out + lo + hi} elements produced from input size "
            f"{size}"
        )
    return out


def output_spatial_shape(
    spatial: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[Pair],
    dilation: Sequence[int],
    transposed: bool = False,
    output_padding: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """Per-axis output sizes for N spatial dims (all sequences have one entry per axis).

    A transposed convolution may give a zero-size axis when another axis is not empty, as
    PyTorch's shape function (``meta``, ``torch.export``) does; an output empty along every
    axis raises, as PyTorch does. (PyTorch's CPU kernels differ: oneDNN, used for float32,
    also returns an output empty along every axis; the slow kernels used otherwise, float64
    included, refuse any zero-size axis. ``tests/spec/test_zero_size_transposed.py`` pins
    all three.)

    >>> output_spatial_shape((32, 32), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1))
    (16, 16)
    >>> output_spatial_shape((1, 1), (4, 2), (2, 2), ((2, 2), (1, 1)), (1, 1), True, (0, 1))
    (0, 1)
    """
    if transposed:
        ops = output_padding if output_padding is not None else (0,) * len(spatial)
        out = tuple(
            conv_transpose_output_size(i, k, s, p, o, d)
            for i, k, s, p, o, d in zip(spatial, kernel_size, stride, padding, ops, dilation)
        )
        if out and not any(out):
            raise ValueError(
                f"transposed convolution output size (={out}) must be positive along at least "
                "one spatial axis (PyTorch refuses an output empty along every axis)"
            )
        return out
    return tuple(
        conv_output_size(i, k, s, p, d)
        for i, k, s, p, d in zip(spatial, kernel_size, stride, padding, dilation)
    )


def conv_output_formula(
    size: int, kernel: int, stride: int = 1, padding: int | Sequence[int] = 0, dilation: int = 1
) -> str:
    """The forward formula with this axis's numbers substituted, and its value.

    >>> conv_output_formula(5, 2, 2, 1)
    'floor((5 + 1 + 1 - 1*(2-1) - 1) / 2) + 1 = 3'
    """
    lo, hi = as_pair(padding)
    out = conv_output_size(size, kernel, stride, (lo, hi), dilation)
    return f"floor(({size} + {lo} + {hi} - {dilation}*({kernel}-1) - 1) / {stride}) + 1 = {out}"


def conv_transpose_output_formula(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int | Sequence[int] = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> str:
    """The transposed formula with this axis's numbers substituted, and its value.

    >>> conv_transpose_output_formula(16, 4, 2, 1)
    '(16 - 1)*2 - 1 - 1 + 1*(4-1) + 0 + 1 = 32'
    """
    lo, hi = as_pair(padding)
    out = conv_transpose_output_size(size, kernel, stride, (lo, hi), output_padding, dilation)
    return (
        f"({size} - 1)*{stride} - {lo} - {hi} + {dilation}*({kernel}-1) + {output_padding} + 1"
        f" = {out}"
    )
