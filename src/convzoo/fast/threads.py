"""Thread plans: run an optimized graph at the thread count that suits it, per call.

PyTorch's intra-op pool gains nothing on small ops: at batch 1, MobileNetV2's 7x7 layers
run faster on one thread than on two (the issue's table: 6.8 ms on 1 thread, 9.0 ms on 2).
:func:`optimize <convzoo.fast.optimizer.optimize>` measures the graph at 1 and at
``N = torch.get_num_threads()`` threads (interleaved in blocks, :mod:`convzoo.fast.auto`)
and keeps the faster; :func:`region_plan` may also switch the count between regions of
the graph (chosen from per-node times at both counts, kept only when it measures faster).

The count is set only inside the module's own calls (:func:`torch_threads`): the caller's
setting is restored on every exit path, exceptions included. ``torch.set_num_threads`` on
the OpenMP build sets the calling thread's OpenMP count (each Python thread has its own),
and the value new threads start with; both are restored on exit, so concurrent calls from
several threads each see their own count.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn as nn

__all__ = ["ThreadPlan", "Threaded", "node_times", "region_plan", "set_threads",
           "torch_threads", "with_regions"]

#: What one change of the thread count costs (s), in the region plan's sums.
SWITCH_COST = 20e-6


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads; the previous count restored on every exit.

    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    if n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def set_threads(n: int) -> None:
    """``torch.set_num_threads(n)`` as a graph node (a region boundary of a plan); the
    enclosing :class:`Threaded` call restores the caller's count."""
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


fx.node.has_side_effect(set_threads)  # kept by dead-code elimination


@dataclass(frozen=True)
class ThreadPlan:
    """The thread count an optimized module runs at.

    Attributes:
        threads: the count at the start of each call (1 or ``torch.get_num_threads()`` at
            optimize time).
        regions: ``(first node, count)`` where the count changes inside the graph (empty:
            one count throughout).
        available: ``torch.get_num_threads()`` at optimize time (the N of the plan).
    """

    threads: int
    available: int
    regions: tuple[tuple[str, int], ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """One line: what runs at which count.

        >>> ThreadPlan(1, 2).describe()
        '1 of 2 threads'
        >>> ThreadPlan(2, 2, (("conv_7", 1),)).describe()
        '2 of 2 threads, 1 from conv_7'
        """
        text = f"{self.threads} of {self.available} threads"
        return text + "".join(f", {n} from {name}" for name, n in self.regions)


class Threaded(nn.Module):
    """``inner`` run at ``plan.threads`` intra-op threads (and the plan's regions), the
    caller's count restored after each call.

    Attributes:
        inner: the module. plan: a :class:`ThreadPlan`.
    """

    def __init__(self, inner: nn.Module, plan: ThreadPlan) -> None:
        super().__init__()
        self.inner, self.plan = inner, plan

    def forward(self, x: torch.Tensor) -> object:
        before = torch.get_num_threads()
        try:
            if before != self.plan.threads:
                torch.set_num_threads(self.plan.threads)
            return self.inner(x)
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)


class _Timer(fx.Interpreter):
    """Runs a graph node by node, adding each node's wall time to ``times``."""

    def __init__(self, gm: fx.GraphModule, times: dict[str, list[float]]) -> None:
        super().__init__(gm)
        self.times = times

    def run_node(self, n: fx.Node) -> object:
        start = time.perf_counter()
        out = super().run_node(n)
        self.times.setdefault(n.name, []).append(time.perf_counter() - start)
        return out


def node_times(gm: fx.GraphModule, x: torch.Tensor, counts: tuple[int, ...],
               rounds: int = 5) -> dict[int, dict[str, float]]:
    """Median wall time of every node at each thread count (rounds alternating the
    counts, so that load hits both alike).

    Shape:
        ``x``: the graph's input.
    """
    times: dict[int, dict[str, list[float]]] = {n: {} for n in counts}
    with torch.no_grad():
        for r in range(rounds + 1):
            for n in counts if r % 2 == 0 else counts[::-1]:
                with torch_threads(n):
                    _Timer(gm, times[n] if r else {}).run(x)  # round 0 warms up
    return {n: {k: sorted(v)[len(v) // 2] for k, v in t.items()} for n, t in times.items()}


def region_plan(order: list[str], times: dict[int, dict[str, float]],
                switch_cost: float = SWITCH_COST) -> tuple[int, tuple[tuple[str, int], ...]]:
    """The per-node thread counts minimizing the total time plus ``switch_cost`` per change
    (dynamic programming over the nodes in run order).

    Returns:
        ``(count at the start, (node, count) at each change)``.

    >>> t = {1: {"a": 6.0, "b": 1.0, "c": 1.0}, 2: {"a": 3.0, "b": 2.0, "c": 2.0}}
    >>> region_plan(["a", "b", "c"], t, switch_cost=0.5)
    (2, (('b', 1),))
    >>> region_plan(["a", "b", "c"], t, switch_cost=5.0)
    (2, ())
    """
    counts = sorted(times)
    cost = {n: times[n].get(order[0], 0.0) for n in counts}
    back: list[dict[int, int]] = []
    for name in order[1:]:
        step, new = {}, {}
        for n in counts:
            prev = min(counts, key=lambda p: cost[p] + (switch_cost if p != n else 0.0))
            step[n] = prev
            new[n] = cost[prev] + (switch_cost if prev != n else 0.0) + times[n].get(name, 0.0)
        back.append(step)
        cost = new
    n = min(counts, key=lambda c: cost[c])
    chosen = [n]
    for step in reversed(back):
        n = step[n]
        chosen.append(n)
    chosen.reverse()
    changes = tuple((order[i], chosen[i]) for i in range(1, len(order))
                    if chosen[i] != chosen[i - 1])
    return chosen[0], changes


def with_regions(gm: fx.GraphModule, changes: tuple[tuple[str, int], ...]) -> fx.GraphModule:
    """A GraphModule sharing ``gm``'s tensors, with a :func:`set_threads` node before each
    node named in ``changes``."""
    import copy

    new = fx.GraphModule(gm, copy.deepcopy(gm.graph))
    named = {n.name: n for n in new.graph.nodes}
    for name, count in changes:
        with new.graph.inserting_before(named[name]):
            new.graph.call_function(set_threads, (count,))
    new.recompile()
    return new

