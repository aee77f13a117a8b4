"""``F.pad`` along one axis as taps: which input index each output index reads, and which
paddings torch refuses.

The rules are torch's, for a padded ``(N, C, L)`` input (``F.pad(x, (before, after), mode)``),
checked exhaustively against torch in ``tests/arithmetic/test_pad_taps.py``:

* ``'constant'``: negative amounts crop; neither may crop more than the axis holds
  (``before, after >= -in_size``) and the output may be empty (``in + before + after >= 0``).
* ``'reflect'``: each amount must be smaller than the axis (``before, after < in_size``) and
  the output must not be empty.
* ``'replicate'``: the output must not be empty (amounts of any sign).
* ``'circular'``: no amount may exceed the axis (it would wrap around more than once), the
  output may be empty. With one negative and one positive amount torch copies overlapping
  slices of its own output: where that raises, or leaves an element unwritten (torch then
  returns uninitialized memory), the padding is refused here too; elsewhere the taps are
  what torch computes, even where that is not a circular padding.

(Padded 2-D and 3-D inputs also accept an empty axis when another axis is not empty; torch's
circular padding of several axes may differ from these one-axis rules with mixed signs.)
"""

from __future__ import annotations

from convzoo.arithmetic.tuples import check_int, is_int

__all__ = ["PAD_MODES", "pad_taps"]

#: Padding modes of ``F.pad``.
PAD_MODES = ("constant", "reflect", "replicate", "circular")

#: Per output index, the input indices read (empty: a constant).
Taps = tuple[tuple[int, ...], ...]


def _amount(name: str, value: object) -> int:
    if not is_int(value):
        raise ValueError(f"`{name}` (={value!r}) must be an int (negative amounts crop)")
    return int(value)


def _circular(n: int, before: int, after: int) -> list[int | None]:
    """torch's ``_pad_circular`` replayed on indices (``None``: never written)."""
    size = n + before + after
    out: list[int | None] = [None] * size
    positions = list(range(size))

    def copy(dst: slice, src: list[int | None], src_slice: slice, overlapping: bool) -> bool:
        d, s = positions[dst], list(range(len(src)))[src_slice]
        if len(s) != len(d):
            if len(s) != 1:
                return False  # torch: the shapes do not broadcast
            s = s * len(d)
        if overlapping and d and s and (min(d), max(d)) != (min(s), max(s)) and not (
                max(d) < min(s) or max(s) < min(d)):
            return False  # torch: copy_ between partially overlapping slices
        values = [src[i] for i in s]
        for i, v in zip(d, values, strict=True):
            out[i] = v
        return True

    inner = slice(max(before, 0), size - max(after, 0))
    if not copy(inner, list(range(n)), slice(max(-before, 0), n - max(-after, 0)), False):
        raise ValueError(
            f"`before` (={before}) and `after` (={after}) crop and pad the same axis of size "
            f"{n} in a way torch's circular padding refuses")
    steps = []
    if before > 0:
        steps.append((slice(0, before), slice(size - before - max(after, 0),
                                              size - max(after, 0))))
    if after > 0:
        steps.append((slice(size - after, size), slice(max(before, 0), max(before, 0) + after)))
    for dst, src in steps:
        if not copy(dst, list(out), src, True):
            raise ValueError(
                f"`before` (={before}) and `after` (={after}) crop and pad the same axis of "
                f"size {n} in a way torch's circular padding refuses (overlapping copies)")
    return out


def pad_taps(in_size: int, before: int, after: int, mode: str = "constant") -> Taps:
    """``F.pad`` along one axis (negative amounts crop). Constant padding reads nothing.

    Raises ValueError for every padding torch refuses (see the module docstring).

    Args:
        in_size: the axis length (>= 1).
        before, after: elements added on each side (negative: cropped).
        mode: one of :data:`PAD_MODES`.

    >>> pad_taps(3, 2, 1, "reflect")
    ((2,), (1,), (0,), (1,), (2,), (1,))
    >>> pad_taps(4, 10, 0, "reflect")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `before` (=10) must be smaller than `in_size` (=4) for mode='reflect' ...
    """
    if mode not in PAD_MODES:
        raise ValueError(f"`mode` (={mode!r}) must be one of {', '.join(PAD_MODES)}")
    n = check_int("in_size", in_size)
    lo, hi = _amount("before", before), _amount("after", after)
    size = n + lo + hi
    if mode == "reflect":
        for name, p in (("before", lo), ("after", hi)):
            if p >= n:
                raise ValueError(
                    f"`{name}` (={p}) must be smaller than `in_size` (={n}) for mode='reflect' "
                    "(torch refuses a reflection as long as the axis)")
    if mode == "circular":
        for name, p in (("before", lo), ("after", hi)):
            if p > n:
                raise ValueError(
                    f"`{name}` (={p}) must not exceed `in_size` (={n}) for mode='circular' "
                    "(it would wrap around more than once)")
    if mode == "constant":
        for name, p in (("before", lo), ("after", hi)):
            if p < -n:
                raise ValueError(f"`{name}` (={p}) must be >= -`in_size` (={-n}): it cannot "
                                 "crop more than the axis holds")
    empty_ok = mode in ("constant", "circular")
    if size < (0 if empty_ok else 1):
        rule = "non-negative" if empty_ok else "positive"
        raise ValueError(f"the padded size in_size + before + after (={n} + {lo} + {hi} = "
                         f"{size}) must be {rule} for mode={mode!r}")
    if mode == "circular" and (lo < 0 < hi or hi < 0 < lo):
        sources = _circular(n, lo, hi)
        if any(v is None for v in sources):
            raise ValueError(
                f"`before` (={lo}) and `after` (={hi}) on an axis of size {n}: torch's circular "
                "padding leaves some outputs unwritten (uninitialized memory) here")
        return tuple((v,) for v in sources)  # type: ignore[misc]
    out = []
    for q in range(size):
        v = q - lo
        if mode == "reflect":
            period = 2 * (n - 1) or 1
            v %= period
            v = period - v if v >= n else v
        elif mode == "replicate":
            v = min(max(v, 0), n - 1)
        elif mode == "circular":
            v %= n
        out.append((v,) if 0 <= v < n else ())
    return tuple(out)
