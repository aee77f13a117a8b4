"""Argument normalization at the boundary: ints and sequences become ``tuple[int, ...]``.

Everything behind the boundary sees tuples of plain Python ints, one entry per spatial
dimension. Errors are ``ValueError`` naming the argument, the value and the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

__all__ = ["is_int", "check_int", "to_tuple", "check_rule", "broadcast_single"]

_RULES = {
    None: (None, ""),
    "positive": (1, "positive (>= 1)"),
    "non-negative": (0, "non-negative (>= 0)"),
}


def is_int(value: Any) -> bool:
    """True for Python/NumPy integers, False for bools and everything else."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int; ValueError naming ``name`` unless it is an int ``>= minimum``.

    >>> check_int("groups", 0)
    Traceback (most recent call last):
    ...
    ValueError: `groups` (=0) must be a positive int
    >>> check_int("size", 4, 8)
    Traceback (most recent call last):
    ...
    ValueError: `size` (=4) must be an int >= 8
    """
    if not is_int(value) or value < minimum:
        rule = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"`{name}` (={value!r}) must be {rule}")
    return int(value)


def check_rule(name: str, value: Any, values: Sequence[int], rule: str | None) -> None:
    """Raise ``ValueError`` unless every entry of ``values`` obeys ``rule``."""
    minimum, text = _RULES[rule]
    if minimum is not None and any(v < minimum for v in values):
        raise ValueError(f"`{name}` (={value!r}) must be {text} in every spatial dimension")


def to_tuple(value: Any, n: int, name: str, rule: str | None = None) -> tuple[int, ...]:
    """Normalize an int or a length-``n`` sequence of ints into a tuple of ``n`` ints.

    Args:
        value: an int (repeated ``n`` times) or a sequence of ``n`` ints.
        n: number of spatial dimensions.
        name: the argument's public name, used in error messages.
        rule: ``None``, ``"positive"`` or ``"non-negative"``.

    >>> to_tuple(3, 2, "kernel_size")
    (3, 3)
    >>> to_tuple([1, 2, 3], 3, "stride", "positive")
    (1, 2, 3)
    """
    if is_int(value):
        result = (int(value),) * n
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if not all(is_int(v) for v in value):
            raise ValueError(f"`{name}` (={value!r}) must be an int or a tuple of {n} ints")
        if len(value) != n:
            raise ValueError(
                f"`{name}` (={value!r}) must have {n} element{'s' if n != 1 else ''}, "
                "one per spatial dimension"
            )
        result = tuple(int(v) for v in value)
    else:
        raise ValueError(f"`{name}` (={value!r}) must be an int or a tuple of {n} ints")
    check_rule(name, value, result, rule)
    return result


def broadcast_single(value: Any, n: int) -> Any:
    """Like ``torch.nn.functional``: a 1-element sequence stands for every spatial dim.

    >>> broadcast_single((2,), 3), broadcast_single(2, 3), broadcast_single((1, 2), 2)
    ((2, 2, 2), 2, (1, 2))
    """
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 1 and n > 1:
        return tuple(value) * n
    return value
