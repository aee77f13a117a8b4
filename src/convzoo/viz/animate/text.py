"""Numbers and sums as caption text: exact small integers, signs written as a reader would.

>>> sum_text("y[0, 0, 0]", [(2.0, 3.0), (-1.0, 0.0), (1.0, -1.0)], 5.0)
'y[0, 0, 0] = 2·3 - 1·0 + 1·(-1) = 5'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["factor_text", "fmt", "sum_text", "index_text", "axis_names", "note", "small_ints",
           "INDEX_NOTE"]

#: The index convention, stated on every sliding-window picture.
INDEX_NOTE = ("indices [channel, row, col] count from 0 at the top-left of each grid as drawn; "
              "padding and inserted zeros are cells of that grid")


def fmt(v: float) -> str:
    """A value as short text: integers without a decimal point.

    >>> fmt(3.0), fmt(-2.0), fmt(0.125)
    ('3', '-2', '0.125')
    """
    v = float(v)
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.3g}"


def factor_text(v: float) -> str:
    """A number as a factor of a product: negatives in parentheses (``(-1)``)."""
    text = fmt(v)
    return f"({text})" if text.startswith("-") else text


def sum_text(name: str, terms: Sequence[tuple[float, float]], total: float,
             limit: int = 8) -> str:
    """``name = w·v + w·v ... = total`` (a negative weight subtracts; at most ``limit`` terms).

    >>> sum_text("s", [(1.0, 1.0)] * 10, 10.0, limit=2)
    's = 1·1 + 1·1 + ... (8 more terms) = 10'
    """
    parts = []
    for i, (w, v) in enumerate(terms[:limit]):
        if float(w) < 0:
            parts.append(("- " if i else "-") + f"{fmt(-w)}·{factor_text(v)}")
        else:
            parts.append(("+ " if i else "") + f"{fmt(w)}·{factor_text(v)}")
    rest = len(terms) - limit
    if rest > 0:
        parts.append(f"+ ... ({rest} more term{'s' if rest > 1 else ''})")
    shown = " ".join(parts) if parts else "0"
    return f"{name} = {shown} = {fmt(total)}"


def index_text(index: Sequence[int]) -> str:
    """``(1, 2)`` -> ``'1, 2'``."""
    return ", ".join(str(int(i)) for i in index)


def axis_names(n: int) -> tuple[str, ...]:
    """Names of ``n`` spatial axes: ``('L',)``, ``('H', 'W')``, ``('D', 'H', 'W')``."""
    return {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}.get(
        n, tuple(f"axis {a}" for a in range(n)))


def note(shown: int, total: int, what: str) -> str:
    """``'12 output elements'``, or how many of them are shown when subsampled."""
    if shown == total:
        return f"{total} {what}"
    return f"{what}: showing {shown} of {total} (subsampled to keep the animation short)"


def small_ints(shape: Sequence[int], seed: int, low: int, high: int) -> np.ndarray:
    """Small integer values (as float64), so every sum in a caption is exact and readable."""
    return np.random.default_rng(seed).integers(low, high + 1, size=tuple(shape)).astype(float)
