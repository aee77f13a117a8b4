"""Taps of the ops that move positions without arithmetic: roll, flip, tiling, strided
windows (``unfold``, ``as_strided``), channel groups, and writes into a region.

Like :mod:`convzoo.arithmetic.spans`, taps list, per output index, the input indices read.
"""

from __future__ import annotations

from collections.abc import Sequence

from convzoo.arithmetic.spans import Span, Taps, union_span
from convzoo.arithmetic.tuples import check_int

__all__ = [
    "roll_taps", "flip_taps", "tile_taps", "window_taps", "group_taps", "shuffle_taps",
    "region_indices", "write_spans",
]


def roll_taps(size: int, shift: int) -> Taps:
    """``torch.roll`` by ``shift`` along an axis of ``size``: output ``q`` reads
    ``(q - shift) mod size``.

    >>> roll_taps(4, 1)
    ((3,), (0,), (1,), (2,))
    """
    n = check_int("size", size)
    return tuple(((q - shift) % n,) for q in range(n))


def flip_taps(size: int) -> Taps:
    """``torch.flip``: output ``q`` reads ``size - 1 - q``.

    >>> flip_taps(3)
    ((2,), (1,), (0,))
    """
    n = check_int("size", size, 0)
    return tuple((n - 1 - q,) for q in range(n))


def tile_taps(size: int, repeats: int) -> Taps:
    """``Tensor.repeat`` along an axis: ``repeats`` copies one after the other.

    >>> tile_taps(2, 3)
    ((0,), (1,), (0,), (1,), (0,), (1,))
    """
    n = check_int("size", size)
    return tuple((q % n,) for q in range(n * check_int("repeats", repeats, 0)))


def window_taps(out_size: int, start: int, step: int, extents: Sequence[tuple[int, int]] = ()
                ) -> Taps:
    """A strided walk with windows: output ``i`` reads ``start + i*step + sum_w k_w*step_w``
    for every ``k_w < size_w`` of the window dims ``extents = ((size_w, step_w), ...)``
    (``Tensor.unfold``, sliding windows made with ``as_strided``).

    >>> window_taps(3, 0, 2, [(3, 1)])  # unfold(size=3, step=2)
    ((0, 1, 2), (2, 3, 4), (4, 5, 6))
    """
    offsets = {0}
    for size, wstep in extents:
        offsets = {o + k * wstep for o in offsets for k in range(size)}
    ordered = sorted(offsets)
    return tuple(tuple(start + i * step + o for o in ordered) for i in range(out_size))


def group_taps(in_channels: int, out_channels: int, groups: int) -> Taps:
    """The input channels each output channel of a grouped op reads (a convolution's
    channel dim: output ``o`` reads every channel of its group).

    >>> group_taps(4, 2, 2)
    ((0, 1), (2, 3))
    """
    cin, cout, g = (check_int(n, v) for n, v in (("in_channels", in_channels),
                                                  ("out_channels", out_channels),
                                                  ("groups", groups)))
    if cin % g or cout % g:
        raise ValueError(f"`groups` (={g}) must divide `in_channels` (={cin}) and "
                         f"`out_channels` (={cout})")
    per_in, per_out = cin // g, cout // g
    return tuple(tuple(range(o // per_out * per_in, (o // per_out + 1) * per_in))
                 for o in range(cout))


def shuffle_taps(channels: int, groups: int) -> Taps:
    """Channel shuffle (ShuffleNet): output channel ``j*g + i`` reads ``i*(C/g) + j``.

    >>> shuffle_taps(6, 2)
    ((0,), (3,), (1,), (4,), (2,), (5,))
    """
    c, g = check_int("channels", channels), check_int("groups", groups)
    if c % g:
        raise ValueError(f"`groups` (={g}) must divide `channels` (={c})")
    per = c // g
    return tuple(((q % g) * per + q // g,) for q in range(c))


def region_indices(size: int, start: int, step: int, count: int) -> dict[int, int]:
    """``index in the axis -> index in the written value`` for a region
    ``start, start + step, ..`` (``count`` of them) of an axis of ``size``.

    >>> region_indices(6, 1, 2, 3)
    {1: 0, 3: 1, 5: 2}
    """
    if count and (start < 0 or start + (count - 1) * step >= size or step < 1):
        raise ValueError(f"the region start={start}, step={step}, count={count} must lie in "
                         f"an axis of size {size}")
    return {start + k * step: k for k in range(count)}


def write_spans(old: Sequence[Span], new: Sequence[Span], region: dict[int, int],
                old_survives: bool) -> tuple[Span, ...]:
    """Spans of an axis after writing ``new`` over the positions of ``region`` (a
    :func:`region_indices` map): a written position sees ``new`` (and the old value too when
    ``old_survives``: the write covers only part of the elements at that position, along
    other dims); any other position keeps ``old``. Length-1 sequences broadcast.

    >>> write_spans([(0, 0), (1, 1), (2, 2)], [(5, 9)], {1: 0}, False)
    ((0, 0), (5, 9), (2, 2))
    """
    def at(spans: Sequence[Span], i: int) -> Span:
        return spans[0] if len(spans) == 1 else spans[i]

    out = []
    for u in range(len(old)):
        if u in region:
            written = at(new, region[u])
            out.append(union_span([written, at(old, u)]) if old_survives else written)
        else:
            out.append(at(old, u))
    return tuple(out)
