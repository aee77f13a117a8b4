"""Strided layouts: where the elements of one strided view sit inside another tensor that
shares its memory (``as_strided``, ``unfold``, slices written through a view).

A layout is ``(sizes, strides, offset)`` in elements, as ``Tensor.size()``, ``.stride()``
and ``.storage_offset()`` give it. :func:`locate` expresses every element of a view as a
multi-index of a base: each view dim moves along one base dim by a fixed step, from a
start index per base dim.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["Layout", "Located", "locate", "non_overlapping"]


class Layout(NamedTuple):
    """A strided layout in elements."""

    sizes: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int


class Located(NamedTuple):
    """A view inside a base: view element ``i`` is base element ``start + sum_j i_j * step_j``
    along base dim ``dims[j]`` (``dims[j]`` None: view dim ``j`` does not move, a broadcast
    or a size-1 dim)."""

    dims: tuple[int | None, ...]  #: per view dim, the base dim it moves along
    steps: tuple[int, ...]  #: per view dim, the step along that base dim
    start: tuple[int, ...]  #: per base dim, the index of view element 0


def non_overlapping(sizes: Sequence[int], strides: Sequence[int]) -> bool:
    """Whether ``strides`` give every element of ``sizes`` its own place in memory.

    >>> non_overlapping((2, 3), (1, 2)), non_overlapping((2, 3), (0, 1))
    (True, False)
    """
    axes = sorted((s, n) for n, s in zip(sizes, strides) if n > 1)
    reach = 1
    for stride, size in axes:
        if stride < reach:
            return False
        reach = stride * size
    return True


def locate(base: Layout | Sequence, view: Layout | Sequence) -> Located | None:
    """Where ``view``'s elements sit in ``base`` (same memory), or None when they are not a
    strided selection of ``base``'s elements (outside it, across its dims, or ``base``
    overlapping itself).

    >>> base = Layout((1, 2, 8, 6), (96, 48, 6, 1), 0)
    >>> locate(base, Layout((1, 2, 6, 4, 3, 3), (96, 48, 6, 1, 6, 1), 0))  # 3x3 windows
    Located(dims=(None, 1, 2, 3, 2, 3), steps=(0, 1, 1, 1, 1, 1), start=(0, 0, 0, 0))
    >>> locate(base, Layout((1, 2, 8, 5), (96, 48, 6, 1), 1)).start  # x[..., 1:]
    (0, 0, 0, 1)
    """
    base, view = Layout(*base), Layout(*view)
    if len(base.sizes) != len(base.strides) or len(view.sizes) != len(view.strides):
        return None
    if not non_overlapping(base.sizes, base.strides) or 0 in base.sizes or 0 in view.sizes:
        return None
    order = sorted((d for d in range(len(base.sizes)) if base.sizes[d] > 1),
                   key=lambda d: -base.strides[d])
    start = [0] * len(base.sizes)
    rest = view.offset - base.offset
    for d in order:
        start[d], rest = divmod(rest, base.strides[d]) if rest >= 0 else (-1, rest)
        if not 0 <= start[d] < base.sizes[d]:
            return None
    if rest:
        return None
    dims: list[int | None] = []
    steps: list[int] = []
    reach = list(start)
    for size, stride in zip(view.sizes, view.strides):
        if size == 1 or stride == 0:
            dims.append(None)
            steps.append(0)
            continue
        # the base dim with the largest stride dividing this one, whose bounds hold the walk
        found = None
        for d in order:
            if stride % base.strides[d] == 0 and stride >= base.strides[d]:
                step = stride // base.strides[d]
                if reach[d] + (size - 1) * step < base.sizes[d]:
                    found = (d, step)
                    break
        if found is None:
            return None
        dims.append(found[0])
        steps.append(found[1])
        reach[found[0]] += (size - 1) * found[1]
    return Located(tuple(dims), tuple(steps), tuple(start))
