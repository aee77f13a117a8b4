"""The candidates ``optimize`` measures, and the one it keeps: backend x thread count.

Every backend asked for (``'auto'``: every installed one) runs at 1 and at
``N = torch.get_num_threads()`` threads; the torch graph also with a per-region plan when
its per-node times say switching helps (:func:`convzoo.fast.threads.region_plan`). All of
them meet in one :func:`~convzoo.fast.auto.tournament` (interleaved blocks); within noise,
the one keeping torch's NaN semantics wins (:func:`keeps_nan`: torch, or a runtime session
wrapped in the NaN fix-up, :class:`~convzoo.fast.backends.BackendModule` ``fallback``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.fx as fx
import torch.nn as nn

from convzoo.fast.auto import Decision, tournament
from convzoo.fast.guard import Guarded, OutOfBounds
from convzoo.fast.threads import Threaded, ThreadPlan, node_times, region_plan, with_regions

__all__ = ["KEEPS_NAN", "Candidate", "Picked", "keeps_nan", "pick"]

#: Whether each backend, by itself, keeps torch's NaN semantics (ONNX Runtime's max
#: reductions and max pooling and OpenVINO's fused ReLU/Clip do not:
#: :mod:`convzoo.fast.backends`). A session with the NaN fix-up keeps them: :func:`keeps_nan`.
KEEPS_NAN = {"torch": True, "onnxruntime": False, "openvino": False}


def keeps_nan(backend: str, module: nn.Module) -> bool:
    """Whether ``module`` (a candidate of ``backend``) keeps torch's NaN semantics: the
    backend itself does (:data:`KEEPS_NAN`), or the module sends inputs holding NaN or Inf
    to a torch fallback (the NaN fix-up of :class:`~convzoo.fast.backends.BackendModule`).

    >>> keeps_nan("onnxruntime", nn.Identity()), keeps_nan("torch", nn.Identity())
    (False, True)
    """
    inner = module.inner if isinstance(module, Threaded) else module
    return KEEPS_NAN.get(backend, False) or getattr(inner, "fallback", None) is not None


@dataclass(frozen=True)
class Candidate:
    """One measured configuration. Attributes: backend, plan (its threads), module."""

    backend: str
    plan: ThreadPlan
    module: nn.Module

    @property
    def name(self) -> str:
        """``backend@threads`` (``+regions`` for a per-region plan)."""
        return f"{self.backend}@{self.plan.threads}" + ("+regions" if self.plan.regions else "")


@dataclass(frozen=True)
class Picked:
    """What :func:`pick` measured. Attributes: order (candidates, best first: the chosen,
    then the others by median), decision (the tournament's)."""

    order: tuple[Candidate, ...]
    decision: Decision


def _regions(inner: nn.Module, example: torch.Tensor, n: int) -> Candidate | None:
    """The torch graph with a per-region thread plan, when per-node times suggest one."""
    graph = inner.fast if isinstance(inner, Guarded) else inner
    if not isinstance(graph, fx.GraphModule) or n <= 1:
        return None
    try:
        times = node_times(graph, example, (1, n), rounds=3)
    except OutOfBounds:  # the example itself takes the exact graph: no plan for the fused one
        return None
    order = [node.name for node in graph.graph.nodes if node.op == "call_function"]
    if not order:
        return None
    start, changes = region_plan(order, times)
    if not changes:
        return None
    planned = with_regions(graph, changes)
    module = Guarded(planned, inner.exact, inner.checks) if isinstance(inner, Guarded) \
        else planned
    return Candidate("torch", ThreadPlan(start, n, changes), Threaded(module, ThreadPlan(
        start, n, changes)))


def pick(builders: dict[str, Callable[[int], nn.Module]], example: torch.Tensor,
         torch_inner: nn.Module | None = None, budget_s: float = 3.0) -> Picked:
    """Build every backend at 1 and N threads (``builders``: backend -> threads -> module;
    ``torch_inner``: the torch graph, for a per-region plan), time them in one tournament
    and order them, the chosen first.

    Shape:
        ``example``: the input every candidate is timed on.
    """
    n = max(1, torch.get_num_threads())
    counts = (1, n) if n > 1 else (1,)
    found: dict[str, Candidate] = {}
    for backend, build in builders.items():
        for c in counts:
            cand = Candidate(backend, ThreadPlan(c, n), build(c))
            found[cand.name] = cand
    if torch_inner is not None and len(counts) > 1:
        planned = _regions(torch_inner, example, n)
        if planned is not None:
            found[planned.name] = planned

    def call(module: nn.Module) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                return module(example)
        return run

    decision = tournament({k: call(c.module) for k, c in found.items()},
                          {k for k, c in found.items() if keeps_nan(c.backend, c.module)},
                          budget_s=budget_s)
    rest = sorted((k for k in decision.timings if k != decision.chosen),
                  key=lambda k: decision.timings[k].median)
    return Picked(tuple(found[k] for k in [decision.chosen, *rest]), decision)
