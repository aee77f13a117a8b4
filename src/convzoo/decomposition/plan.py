"""Choosing one option per layer under a budget: a multiple-choice knapsack solved by a
Lagrangian sweep (each layer minimizes ``error + lam * cost``; bisection on ``lam``), then a
greedy pass that spends what budget is left on the largest error reductions."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Option", "choose", "solve", "pick"]

#: Error reductions below this are rounding, not worth budget (errors are relative, squared).
_NEGLIGIBLE = 1e-12


@dataclass(frozen=True)
class Option:
    """One way to run a layer: ``cost`` (MACs or ms) and ``error`` (relative output error);
    ``key`` identifies it for the caller."""

    key: object
    cost: float
    error: float


def pick(options: list[Option], lam: float) -> int:
    """Index of the option minimising ``error + lam * cost`` (the cheaper on a tie).

    >>> pick([Option("a", 10, 0.0), Option("b", 4, 0.1)], 0.1)
    1
    """
    return min(range(len(options)), key=lambda j: (options[j].error + lam * options[j].cost,
                                                   options[j].cost))


def _pick(layers: list[list[Option]], lam: float) -> list[int]:
    return [pick(opts, lam) for opts in layers]


def _total(layers: list[list[Option]], picks: list[int]) -> float:
    return sum(opts[j].cost for opts, j in zip(layers, picks, strict=True))


def choose(layers: list[list[Option]], limit: float, fixed: float = 0.0) -> list[int] | None:
    """Index of the chosen option per layer, with ``fixed + sum(cost) <= limit`` and the
    summed error as low as the sweep finds; None when even the cheapest options exceed it.
    The budget is one for the whole model: no layer has a cap of its own.

    >>> a = [Option("keep", 10, 0.0), Option("r2", 4, 0.1), Option("r1", 2, 0.3)]
    >>> b = [Option("keep", 10, 0.0), Option("r2", 5, 0.05), Option("r1", 3, 0.5)]
    >>> choose([a, b], limit=9)
    [1, 1]
    """
    solved = solve(layers, limit, fixed)
    return None if solved is None else solved[0]


def solve(layers: list[list[Option]], limit: float,
          fixed: float = 0.0) -> tuple[list[int], float] | None:
    """:func:`choose`, with the Lagrange multiplier ``lam`` the sweep ended at (the price of
    a unit of cost in error: :func:`pick` at ``lam`` gives each layer's option on it)."""
    cheapest = [min(range(len(o)), key=lambda j, o=o: o[j].cost) for o in layers]
    if fixed + _total(layers, cheapest) > limit:
        return None
    free = _pick(layers, 0.0)
    if fixed + _total(layers, free) <= limit:
        return free, 0.0
    lo, hi = 0.0, 1.0
    while fixed + _total(layers, _pick(layers, hi)) > limit:
        hi *= 4
        if hi > 1e30:
            return cheapest, hi
    for _ in range(100):
        mid = (lo + hi) / 2
        if fixed + _total(layers, _pick(layers, mid)) > limit:
            lo = mid
        else:
            hi = mid
    picks = _pick(layers, hi)
    slack = limit - fixed - _total(layers, picks)
    while True:  # spend the slack: best error reduction that still fits
        best = None
        for i, opts in enumerate(layers):
            now = opts[picks[i]]
            for j, o in enumerate(opts):
                gain, extra = now.error - o.error, o.cost - now.cost
                if gain > _NEGLIGIBLE and extra <= slack and (best is None or gain > best[0]):
                    best = (gain, i, j, extra)
        if best is None:
            return picks, hi
        _, i, j, extra = best
        picks[i], slack = j, slack - extra
