"""Choosing among runtimes (and thread counts) by measurement: interleaved blocks.

Runtimes with spin-waiting thread pools distort each other when alternated call by call
(one's threads still spin while the other runs), so :func:`tournament` times each
candidate in a *block* of calls (one untimed call first, then enough timed calls to last
``block_s``), round after round, the order rotated each round. Per round, each candidate
gets one sample: its block's mean time per call. A candidate is compared with the leader
(lowest median) through the per-round ratios (paired: a round's load hits both alike):

- *slower*: the median ratio exceeds ``1 + noise`` and three rounds in four agree
  (first quartile of the ratios above 1); far slower ones (median ratio above 1.10, first
  quartile above 1.05) are dropped from later rounds;
- *within noise*: the median ratio is at most ``1 + noise`` (3 %: either is at least 0.97x
  the other), or the rounds disagree when the budget runs out.

Rounds continue (at least ``min_rounds``; twice that when some are within noise) until
every candidate is placed, or the time budget (about 60 calls of the slowest candidate,
from 0.3 s to ``budget_s``) is spent. Among the leader and the candidates within noise of
it, the choice is the fastest that keeps torch's NaN semantics, if any (``nan_keeping``);
the decision says so.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from convzoo.analysis.timing import Timing, quartiles

__all__ = ["Decision", "NOISE", "block_sizes", "blocks", "one_round", "tournament"]

#: Medians closer than this (relative) are "within noise": the issue's 0.97x target.
NOISE = 0.03


@dataclass(frozen=True)
class Decision:
    """What :func:`tournament` measured and chose.

    Attributes:
        chosen: the candidate kept.
        timings: every candidate's block samples (s per call, one per round it ran).
        within_noise: candidates not told apart from the fastest (the fastest included).
        dropped: candidates left out of later rounds as far slower.
        rounds: rounds run. reason: one sentence.
    """

    chosen: str
    timings: dict[str, Timing]
    within_noise: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    rounds: int = 0
    reason: str = ""
    ratios: dict[str, float] = field(default_factory=dict)

    def medians_ms(self) -> dict[str, float]:
        """Median ms per call of each candidate."""
        return {k: t.median_ms for k, t in self.timings.items()}


def _ratios(samples: dict[str, list[float]], a: str, b: str) -> list[float]:
    """Per-round ``a / b`` over the rounds both ran."""
    return [x / y for x, y in zip(samples[a], samples[b]) if y > 0]


def _place(ratios: list[float], noise: float) -> str:
    """``'slower'``, ``'far'`` (far slower), ``'tie'`` or ``'open'`` for a candidate whose
    per-round ratios to the leader are ``ratios``."""
    q1, med, _ = quartiles(ratios)
    if med > 1.10 and q1 > 1.05:
        return "far"
    if med > 1 + noise and q1 > 1:
        return "slower"
    if med <= 1 + noise:
        return "tie"
    return "open"


def block_sizes(candidates: Mapping[str, Callable[[], object]], block_s: float,
                clock: Callable[[], float] = time.perf_counter
                ) -> tuple[dict[str, float], dict[str, int]]:
    """Call each candidate once (warm-up) and size its block: ``(first call's seconds, calls
    per block)``, at least 1 and at most 100 calls, lasting about ``block_s``."""
    first = {}
    for name, fn in candidates.items():
        start = clock()
        fn()
        first[name] = max(clock() - start, 1e-7)
    return first, {n: max(1, min(100, math.ceil(block_s / t))) for n, t in first.items()}


def one_round(candidates: Mapping[str, Callable[[], object]], active: list[str],
              block: dict[str, int], samples: dict[str, list[float]], index: int,
              clock: Callable[[], float] = time.perf_counter) -> None:
    """One block of each active candidate, the order rotated by ``index``: an untimed call
    (the previous block's threads may still spin), then ``block[name]`` timed calls; appends
    the mean seconds per call to ``samples[name]``."""
    shift = index % len(active)
    for name in active[shift:] + active[:shift]:
        fn = candidates[name]
        fn()
        start = clock()
        for _ in range(block[name]):
            fn()
        samples[name].append((clock() - start) / block[name])


def blocks(candidates: Mapping[str, Callable[[], object]], rounds: int,
           block_s: float = 0.2, clock: Callable[[], float] = time.perf_counter
           ) -> dict[str, Timing]:
    """Every candidate timed in ``rounds`` interleaved blocks (no early stop: the
    benchmarks' measurement); one sample per round, seconds per call.

    >>> t = blocks({"a": lambda: None, "b": lambda: sum(range(50))}, rounds=3, block_s=1e-4)
    >>> sorted(t), len(t["a"].samples)
    (['a', 'b'], 3)
    """
    if not candidates:
        raise ValueError("`candidates` (={}) must name at least one call")
    _, block = block_sizes(candidates, block_s, clock)
    samples: dict[str, list[float]] = {n: [] for n in candidates}
    for r in range(rounds):
        one_round(candidates, list(candidates), block, samples, r, clock)
    return {n: Timing(tuple(v)) for n, v in samples.items()}


def tournament(candidates: Mapping[str, Callable[[], object]], nan_keeping: set[str],
               budget_s: float = 3.0, min_rounds: int = 3, max_rounds: int = 30,
               block_s: float = 0.02, noise: float = NOISE,
               clock: Callable[[], float] = time.perf_counter) -> Decision:
    """Time ``candidates`` in interleaved blocks and choose (see the module docstring).

    Args:
        candidates: name -> zero-argument call.
        nan_keeping: the names whose results keep torch's NaN semantics.
        budget_s: time after which no new round starts (at least ``min_rounds`` run):
            at most this, at least 0.3 s, about 60 calls of the slowest candidate.
        min_rounds, max_rounds: rounds run at least / at most.
        block_s: how long one block of timed calls should last.
        noise: relative difference below which two medians are "within noise".
        clock: the time source (seconds).

    >>> import time as t
    >>> d = tournament({"slow": lambda: t.sleep(0.004), "fast": lambda: t.sleep(0.001)},
    ...                set(), budget_s=0.5, block_s=0.004)
    >>> d.chosen, "slow" in d.within_noise
    ('fast', False)
    """
    names = list(candidates)
    if not names:
        raise ValueError("`candidates` (={}) must name at least one call")
    first, block = block_sizes(candidates, block_s, clock)
    # the budget scales with the calls: ~60 calls of the slowest, within [0.3 s, budget_s]
    budget = min(budget_s, max(0.3, 60 * max(first.values())))
    samples: dict[str, list[float]] = {n: [] for n in names}
    active, dropped = list(names), []
    places: dict[str, str] = {}
    began, rounds = clock(), 0
    leader = names[0]
    while rounds < max_rounds and len(names) > 1:
        one_round(candidates, active, block, samples, rounds, clock)
        rounds += 1
        if rounds < min_rounds:
            continue
        leader = min(active, key=lambda n: statistics.median(samples[n]))
        places = {n: _place(_ratios(samples, n, leader), noise) for n in active if n != leader}
        for n, place in places.items():
            if place == "far":
                active.remove(n)
                dropped.append(n)
        settled = all(p in ("slower", "far", "tie") for p in places.values())
        ties = any(p == "tie" for p in places.values())
        if settled and (not ties or rounds >= 2 * min_rounds):  # ties: a few more rounds
            break
        if clock() - began > budget:
            break
    if len(names) == 1:
        samples[names[0]].append(first[names[0]])
    timings = {n: Timing(tuple(v)) for n, v in samples.items() if v}
    leader = min(timings, key=lambda n: timings[n].median)
    ratios = {n: statistics.median(_ratios(samples, n, leader)) if n != leader else 1.0
              for n in timings if n not in dropped}
    tied = [n for n in timings if n == leader or (n not in dropped and _place(
        _ratios(samples, n, leader), noise) in ("tie", "open"))]
    keeping = [n for n in tied if n in nan_keeping]
    chosen = min(keeping or tied, key=lambda n: timings[n].median)
    return Decision(chosen, timings, tuple(sorted(tied, key=lambda n: timings[n].median)),
                    tuple(dropped), rounds, _reason(chosen, leader, tied, timings, ratios,
                                                    rounds, nan_keeping), ratios)


def _reason(chosen: str, leader: str, tied: list[str], timings: dict[str, Timing],
            ratios: dict[str, float], rounds: int, nan_keeping: set[str]) -> str:
    ms = {n: f"{timings[n].median_ms:.3g} ms" for n in timings}
    if len(timings) == 1:
        return f"{chosen}: the only candidate ({ms[chosen]})"
    if len(tied) == 1:
        second = min((n for n in timings if n != leader), key=lambda n: timings[n].median)
        ratio = timings[second].median / timings[chosen].median
        return (f"{chosen} fastest ({ms[chosen]}; next {second} {ms[second]}, "
                f"x{ratio:.2f}), {rounds} rounds")
    others = ", ".join(f"{n} {ms[n]}" for n in tied if n != chosen)
    why = " (keeps NaN)" if chosen in nan_keeping and chosen != leader else \
        " (the fastest)" if chosen == leader else ""
    return (f"within noise ({NOISE:.0%}) after {rounds} rounds: {chosen} {ms[chosen]}, "
            f"{others}; took {chosen}{why}")
