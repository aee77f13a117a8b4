"""The arguments that say how much to keep: ``budget`` and what it counts (``by``)."""

from __future__ import annotations

__all__ = ["BY", "check_budget", "check_by"]

#: What a budget counts.
BY = ("macs", "latency")


def check_budget(budget: object) -> float:
    """``budget``: a number in ``(0, 1]``, the fraction of the model's conv cost kept.

    >>> check_budget(0.34)
    0.34
    """
    ok = isinstance(budget, int | float) and not isinstance(budget, bool)
    if not ok or not 0 < budget <= 1:  # type: ignore[operator]
        raise ValueError(f"`budget` (={budget!r}) must be a number in (0, 1] (the fraction of "
                         "the model's conv MACs, or latency, kept)")
    return float(budget)  # type: ignore[arg-type]


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
