"""The arguments that say how much to keep: ``budget`` and what it counts (``by``)."""

from __future__ import annotations

from convzoo.decomposition.factorization import check_fraction

__all__ = ["BY", "check_budget", "check_by"]

#: What a budget counts.
BY = ("macs", "latency")


def check_budget(budget: object) -> float:
    """``budget``: a number in ``(0, 1]``, the fraction of the model's conv cost kept.

    >>> check_budget(0.34)
    0.34
    """
    return check_fraction(budget, "budget", "of the model's conv MACs, or latency, kept")


def check_by(by: object) -> str:
    """``by``: ``'macs'`` or ``'latency'``.

    >>> check_by("time")
    Traceback (most recent call last):
    ...
    ValueError: `by` (='time') must be one of: macs, latency
    """
    if by not in BY:
        raise ValueError(f"`by` (={by!r}) must be one of: {', '.join(BY)}")
    return str(by)
