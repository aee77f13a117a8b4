"""Interleaved median timing: every candidate timed round-robin in the same loop.

DESIGN.md's performance method: measure everything in one process, interleaved (so that
clock boosts, thermal state and background load hit every candidate alike), warm-up first,
report medians. The round-robin order is rotated each repeat so that no candidate always
runs right after the same other one.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from convzoo.arithmetic import is_int

__all__ = ["Timing", "interleaved", "check_repeats", "quartiles", "within_noise", "spread_ms",
           "environment"]

K = TypeVar("K", bound=Hashable)


def check_repeats(repeats: object, name: str = "repeats", minimum: int = 1) -> int:
    """Validate a repeat count (an int ``>= minimum``).

    >>> check_repeats(5)
    5
    """
    if not is_int(repeats) or repeats < minimum:  # type: ignore[operator]
        raise ValueError(f"`{name}` (={repeats!r}) must be an int >= {minimum}")
    return int(repeats)  # type: ignore[call-overload]


def quartiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """First quartile, median and third quartile of ``samples`` (inclusive method: with
    one sample all three are that sample).

    >>> quartiles([1.0, 2.0, 3.0, 4.0, 100.0])
    (2.0, 3.0, 4.0)
    """
    if not samples:
        raise ValueError("`samples` (=[]) must hold at least one time")
    if len(samples) == 1:
        return samples[0], samples[0], samples[0]
    q1, q2, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q2, q3


def spread_ms(samples: Sequence[float]) -> float:
    """Half the interquartile range of ``samples`` (seconds) in milliseconds: the ``±``
    printed beside a median.

    >>> spread_ms([0.001, 0.002, 0.003, 0.004, 0.100])
    1.0
    """
    q1, _, q3 = quartiles(samples)
    return (q3 - q1) / 2 * 1e3


def within_noise(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when the interquartile ranges of two sets of times overlap: the ratio of their
    medians is then inside the run-to-run noise and says nothing about which is faster.

    >>> within_noise([1.0, 1.1, 1.2], [1.1, 1.2, 1.3]), within_noise([1.0, 1.1], [2.0, 2.1])
    (True, False)
    """
    a1, _, a3 = quartiles(a)
    b1, _, b3 = quartiles(b)
    return a1 <= b3 and b1 <= a3


@dataclass(frozen=True)
class Timing:
    """Wall times of one candidate, in seconds.

    Attributes:
        samples: one wall time per repeat, in run order.
    """

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median wall time (s)."""
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        """Fastest run (s)."""
        return min(self.samples)

    @property
    def median_ms(self) -> float:
        """Median wall time in milliseconds."""
        return self.median * 1e3

    @property
    def spread_ms(self) -> float:
        """Half the interquartile range, in milliseconds (:func:`spread_ms`)."""
        return spread_ms(self.samples)

    @property
    def quartiles_ms(self) -> tuple[float, float]:
        """First and third quartiles in milliseconds (:func:`quartiles`): the whiskers drawn
        around a median."""
        q1, _, q3 = quartiles(self.samples)
        return q1 * 1e3, q3 * 1e3


def interleaved(
    candidates: Mapping[K, Callable[[], object]],
    repeats: int = 20,
    warmup: int = 3,
    sync: Callable[[], object] | None = None,
) -> dict[K, Timing]:
    """Time each zero-argument callable ``repeats`` times, round-robin, after ``warmup`` rounds.

    Args:
        candidates: key -> callable (its return value is discarded); any hashable key, such
            as ``(variant, 'forward')``.
        repeats: timed rounds (default 20); warmup: untimed rounds first (default 3).
        sync: called before each clock read (e.g. ``torch.cuda.synchronize``); default None.

    Returns:
        key -> :class:`Timing` (samples in run order).

    >>> t = interleaved({"a": lambda: sum(range(100)), "b": lambda: None}, repeats=3, warmup=1)
    >>> sorted(t), len(t["a"].samples), t["a"].median > 0
    (['a', 'b'], 3, True)
    """
    repeats = check_repeats(repeats)
    warmup = check_repeats(warmup, "warmup", 0)
    names = list(candidates)
    if not names:
        raise ValueError("`candidates` (={}) must name at least one callable")
    samples: dict[K, list[float]] = {n: [] for n in names}
    clock = time.perf_counter
    for r in range(warmup + repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            fn = candidates[name]
            if sync is not None:
                sync()
            start = clock()
            fn()
            if sync is not None:
                sync()
            elapsed = clock() - start
            if r >= warmup:
                samples[name].append(elapsed)
    return {n: Timing(tuple(samples[n])) for n in names}


def environment(device: Any = None) -> dict[str, Any]:
    """Where times were measured: torch version, intra-op threads, device (``'cpu'`` or e.g.
    ``'cuda:0'``), machine and Python (the record ``compare`` and ``profile`` keep).

    >>> sorted(environment())
    ['device', 'machine', 'python', 'threads', 'torch']
    """
    import torch

    return {
        "torch": torch.__version__.split("+")[0],
        "threads": torch.get_num_threads(),
        "device": "cpu" if device is None else str(device),
        "machine": platform.machine() or "unknown",
        "python": platform.python_version(),
    }
