"""Measured latency of layers and models, on the backend the user deploys with.

* ``backend='torch'``: the module as it is (eager PyTorch, eval mode, no grad);
* ``backend='onnxruntime'`` / ``'openvino'``: the module through :func:`convzoo.optimize` with
  that backend (exported once, verified, timed as its session runs).

Candidates are timed *interleaved in blocks*: after one untimed warm-up block each, every round
runs each candidate ``block`` times in a row (the order rotating round by round), so that a
runtime's spin-waiting thread pool or a cold cache cannot tax the candidate that happens to
run after another, and background load hits every candidate alike. Every sample is kept: the
median and the spread (half the interquartile range) come from them, and two candidates whose
interquartile ranges overlap are "within noise". Everything runs on :data:`TIMING_THREADS`
intra-op thread.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.analysis.timing import Timing, check_repeats, within_noise
from convzoo.decomposition.outputs import eval_mode, run_model
from convzoo.decomposition.workers import one_thread

__all__ = ["BACKENDS", "Latency", "check_backend", "runner", "time_blocks", "faster",
           "TIMING_THREADS"]

#: The backends latency is measured on.
BACKENDS = ("torch", "onnxruntime", "openvino")

#: Intra-op threads while timing: one, so that a core taken by another process cannot stall
#: a parallel region (on a shared 2-core machine two threads made 0.05 ms convs take 16 ms).
TIMING_THREADS = 1


def check_backend(backend: object) -> str:
    """One of :data:`BACKENDS`, installed; a one-line ValueError otherwise.

    >>> check_backend("tensorrt")
    Traceback (most recent call last):
    ...
    ValueError: `backend` (='tensorrt') must be one of: torch, onnxruntime, openvino
    """
    if backend not in BACKENDS:
        raise ValueError(f"`backend` (={backend!r}) must be one of: {', '.join(BACKENDS)}")
    from convzoo.fast.backends import check_backend as installed

    return installed(backend)


@dataclass(frozen=True)
class Latency:
    """Timed runs of one candidate.

    Attributes:
        median_ms: median. spread_ms: half the interquartile range. runs: timed calls.
    """

    median_ms: float
    spread_ms: float
    runs: int
    timing: Timing

    def __str__(self) -> str:
        return f"{self.median_ms:.3g}±{self.spread_ms:.2g}"


def runner(module: nn.Module, x: torch.Tensor, backend: str = "torch") -> Callable[[], object]:
    """A zero-argument call of ``module`` (in eval mode, no grad) on ``x`` on ``backend``
    (built now: for the ONNX backends this exports and compiles through
    :func:`convzoo.optimize`)."""
    if backend == "torch":
        return functools.partial(run_model, module, x)
    from convzoo.fast import optimize

    with one_thread(), eval_mode(module):  # the user's model comes back in its own mode
        fast = optimize(module, x, backend=backend)

    def call_fast() -> object:
        with torch.no_grad():
            return fast(x)
    return call_fast


def time_blocks(calls: Mapping[str, Callable[[], object]], repeats: int = 3,
                block: int = 3) -> dict[str, Latency]:
    """Time each call ``repeats`` rounds of ``block`` runs in a row, interleaved in blocks
    (after one warm-up block each), on :data:`TIMING_THREADS` thread(s).

    >>> t = time_blocks({"a": lambda: sum(range(100)), "b": lambda: None}, repeats=2, block=2)
    >>> sorted(t), t["a"].runs
    (['a', 'b'], 4)
    """
    repeats = check_repeats(repeats)
    block = check_repeats(block, "block")
    names = list(calls)
    samples: dict[str, list[float]] = {n: [] for n in names}
    clock = time.perf_counter
    threads = torch.get_num_threads()
    torch.set_num_threads(TIMING_THREADS)
    try:
        for name in names:
            for _ in range(block):
                calls[name]()
        for r in range(repeats):
            shift = r % len(names) if names else 0
            for name in names[shift:] + names[:shift]:
                fn = calls[name]
                for _ in range(block):
                    start = clock()
                    fn()
                    samples[name].append(clock() - start)
    finally:
        torch.set_num_threads(threads)
    out = {}
    for n in names:
        timing = Timing(tuple(samples[n]))
        out[n] = Latency(timing.median_ms, timing.spread_ms, len(samples[n]), timing)
    return out


def faster(candidate: Latency, reference: Latency) -> bool | None:
    """True if ``candidate`` is faster than ``reference`` beyond the noise, False if slower
    beyond it, None when their interquartile ranges overlap."""
    if within_noise(candidate.timing.samples, reference.timing.samples):
        return None
    return candidate.median_ms < reference.median_ms
