"""Padding resolution: strings, ints, tuples and per-side pairs -> one ``(lo, hi)`` pair per axis.

Rules (the same everywhere in convzoo):

* ``'valid'``: no padding.
* ``'same'``: ``out = ceil(in / stride)``; total padding
  ``max((out - 1)*s + d*(k-1) + 1 - in, 0)``, the extra element on the right/bottom.
  At stride 1 the total is ``d*(k-1)`` whatever the input size (PyTorch's rule); at other
  strides it depends on the input size (TensorFlow/Keras's rule).
* ``'full'``: ``d*(k-1)`` on both sides (every partial overlap is computed).
* ``'causal'``: 1-D only, ``d*(k-1)`` on the left, none on the right (output t sees inputs <= t).
* an int ``p``: ``(p, p)`` on every axis; a tuple of ints: one symmetric value per axis;
  a tuple of ``(lo, hi)`` pairs: explicit per-side padding.

For transposed convolutions padding crops the output; ``'same'`` there means
``out = in * stride`` (see :func:`transposed_same_padding`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from convzoo.arithmetic.shape import Pair, effective_kernel
from convzoo.arithmetic.tuples import broadcast_single, check_int, is_int, to_tuple
from convzoo.names import did_you_mean

__all__ = [
    "PADDING_STRINGS",
    "PADDING_MODES",
    "padding_error",
    "same_padding",
    "transposed_same_padding",
    "resolve_transposed_padding",
    "needs_input_size",
    "parse_padding",
    "resolve_padding",
]

PADDING_STRINGS = ("valid", "same", "full", "causal")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def padding_error(padding: Any) -> ValueError:
    """The one message for a padding value of the wrong form."""
    return ValueError(
        f"`padding` (={padding!r}) must be one of 'valid', 'same', 'full', 'causal', "
        "a non-negative int, a tuple of ints (one per spatial dimension) or a tuple of "
        "(before, after) pairs" + did_you_mean(padding, PADDING_STRINGS)
    )


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> Pair:
    """``(lo, hi)`` making ``out = ceil(size / stride)``; the extra element goes right.

    >>> same_padding(5, 3, 2)      # out = 3: (3-1)*2 + 3 - 5 = 2
    (1, 1)
    >>> same_padding(6, 3, 2)      # out = 3: (3-1)*2 + 3 - 6 = 1
    (0, 1)
    >>> same_padding(10, 4)        # stride 1: total d*(k-1) = 3
    (1, 2)
    """
    out = -(-check_int("size", size) // check_int("stride", stride))
    total = max((out - 1) * stride + effective_kernel(kernel, dilation) - size, 0)
    return (total // 2, total - total // 2)


def transposed_same_padding(kernel: int, stride: int = 1, dilation: int = 1) -> tuple[Pair, int]:
    """Crop pair and output_padding giving a transposed conv ``out = in * stride``.

    The uncropped output is ``(in-1)*s + d*(k-1) + 1``; cropping ``c = d*(k-1) + 1 - s``
    elements (extra one on the right) leaves ``in*s``. When ``c < 0`` (kernel shorter than
    the stride) nothing is cropped and ``-c`` is added back as output_padding.

    >>> transposed_same_padding(4, 2)
    ((1, 1), 0)
    >>> transposed_same_padding(3, 2)
    ((0, 1), 0)
    >>> transposed_same_padding(1, 2)
    ((0, 0), 1)
    """
    crop = effective_kernel(kernel, dilation) - check_int("stride", stride)
    if crop < 0:
        return (0, 0), -crop
    return (crop // 2, crop - crop // 2), 0


def resolve_transposed_padding(
    padding: Any, output_padding: Any, kernel_size: Sequence[int], stride: Sequence[int],
    dilation: Sequence[int],
) -> tuple[tuple[Pair, ...], tuple[int, ...]]:
    """A transposed conv's crop pairs and output_padding (the one home of these rules).

    ``'valid'`` crops nothing; ``'same'`` solves both for ``out = in * stride``
    (:func:`transposed_same_padding`, so ``output_padding`` must be left at 0); ``'full'``
    and ``'causal'`` are not defined; ``output_padding < max(stride, dilation)`` per axis
    (PyTorch's rule).

    >>> resolve_transposed_padding("same", 0, (1, 4), (2, 2), (1, 1))
    (((0, 0), (1, 1)), (1, 0))
    """
    n = len(kernel_size)
    op = to_tuple(broadcast_single(output_padding, n), n, "output_padding", "non-negative")
    parsed = parse_padding(broadcast_single(padding, n), n)
    if parsed in ("full", "causal"):
        raise ValueError(
            f"`padding` (={parsed!r}) is not defined for transposed convolutions: use "
            "'valid', 'same' (output = input * stride), an int, a tuple or (lo, hi) pairs"
        )
    if parsed == "valid":
        parsed = ((0, 0),) * n
    elif parsed == "same":
        if any(op):
            raise ValueError(
                f"`output_padding` (={output_padding!r}) must be 0 with padding='same', which "
                "chooses it"
            )
        solved = [transposed_same_padding(k, s, d)
                  for k, s, d in zip(kernel_size, stride, dilation, strict=True)]
        parsed, op = tuple(p for p, _ in solved), tuple(o for _, o in solved)
    limit = tuple(max(s, d) for s, d in zip(stride, dilation, strict=True))
    if any(o >= m for o, m in zip(op, limit, strict=True)):
        raise ValueError(
            f"`output_padding` (={output_padding!r}) must be smaller than "
            f"max(`stride`, `dilation`) (={limit}) in every spatial dimension"
        )
    return parsed, op  # type: ignore[return-value]


def needs_input_size(padding: Any, stride: Sequence[int]) -> bool:
    """True when padding can only be resolved once the input size is known."""
    return padding == "same" and any(s != 1 for s in stride)


def parse_padding(padding: Any, n: int) -> tuple[Pair, ...] | str:
    """Validate the form of ``padding``; return per-axis pairs, or the string itself.

    >>> parse_padding(1, 2)
    ((1, 1), (1, 1))
    >>> parse_padding((1, (0, 2)), 2)
    ((1, 1), (0, 2))
    >>> parse_padding('same', 2)
    'same'
    """
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            raise padding_error(padding)
        return padding
    if is_int(padding):
        pairs = ((int(padding), int(padding)),) * n
    elif isinstance(padding, Sequence):
        if len(padding) != n:
            raise ValueError(
                f"`padding` (={padding!r}) must have {n} element{'s' if n != 1 else ''}, "
                "one per spatial dimension"
            )
        items: list[Pair] = []
        for p in padding:
            if is_int(p):
                items.append((int(p), int(p)))
            elif (
                isinstance(p, Sequence)
                and not isinstance(p, str)
                and len(p) == 2
                and all(is_int(v) for v in p)
            ):
                items.append((int(p[0]), int(p[1])))
            else:
                raise padding_error(padding)
        pairs = tuple(items)
    else:
        raise padding_error(padding)
    if any(v < 0 for pair in pairs for v in pair):
        raise ValueError(f"`padding` (={padding!r}) must be non-negative on every side")
    return pairs


def resolve_padding(
    padding: Any,
    kernel_size: Sequence[int],
    stride: Sequence[int] | None = None,
    dilation: Sequence[int] | None = None,
    input_size: Sequence[int] | None = None,
) -> tuple[Pair, ...]:
    """Resolve any padding form into one ``(lo, hi)`` pair per spatial axis (forward conv).

    Args:
        padding: a string of :data:`PADDING_STRINGS`, an int, a tuple of ints or of pairs.
        kernel_size, stride, dilation: per-axis tuples (stride and dilation default to 1).
        input_size: per-axis input sizes; needed only for ``'same'`` with a stride > 1.

    >>> resolve_padding('same', (3, 3), (2, 2), (1, 1), input_size=(6, 5))
    ((0, 1), (1, 1))
    >>> resolve_padding('causal', (3,), (1,), (4,))
    ((8, 0),)
    >>> resolve_padding('full', (3, 5))
    ((2, 2), (4, 4))
    """
    n = len(kernel_size)
    stride = tuple(stride) if stride is not None else (1,) * n
    dilation = tuple(dilation) if dilation is not None else (1,) * n
    parsed = parse_padding(padding, n)
    if not isinstance(parsed, str):
        return parsed
    if parsed == "valid":
        return ((0, 0),) * n
    if parsed == "full":
        return tuple((d * (k - 1), d * (k - 1)) for k, d in zip(kernel_size, dilation))
    if parsed == "causal":
        if n != 1:
            raise ValueError(
                f"`padding` (='causal') is defined for 1 spatial dimension, got {n}"
            )
        return ((dilation[0] * (kernel_size[0] - 1), 0),)
    # 'same'
    if all(s == 1 for s in stride):
        return tuple(same_padding(1, k, 1, d) for k, d in zip(kernel_size, dilation))
    if input_size is None:
        raise ValueError(
            f"`padding` (='same') with `stride` (={stride}) depends on the input size; "
            "pass `input_size`"
        )
    return tuple(
        same_padding(i, k, s, d) for i, k, s, d in zip(input_size, kernel_size, stride, dilation)
    )
