"""Fused activations that keep torch's NaN semantics: a proof per input, checked at run time.

oneDNN's relu/hardtanh post-ops save a pass over memory per activation (about a tenth of
MobileNetV2's time at batch 1 and 8, measured: ``docs/performance.md``) but turn NaN into a
number, where torch keeps NaN. Both are exact on every other value, so the fused graph
equals the exact one on every input for which no NaN reaches a fused activation.

On a finite input, a NaN needs an infinity first, and an infinity needs an overflow. So
:func:`plan_checks` cuts the graph at nodes every path from the input to the output passes
through (the input itself, then e.g. the output of each residual block), and proves with
:class:`~convzoo.fast.bounds.Bounds` a limit ``S`` for each cut: when ``max |cut| <= S``,
no value up to the next cut exceeds :data:`~convzoo.fast.bounds.LIMIT` (1e30). The fused
graph checks ``max |cut| <= S`` at each cut (:func:`bounded`: one read of that tensor;
NaN and infinity fail it) and stops at the first failure; :class:`Guarded` then runs the
exact graph (activations in place, NaN kept) from the start. Cuts are placed greedily, as
far apart as the proof allows at ``S >= 2^30``, so a network with bounded activations
(ReLU6) needs only the input check, a ReLU network a few (ResNet-50: see the report).
An activation whose proof fails even between adjacent cuts stays in place in both graphs.

BatchNorm folding (:mod:`convzoo.fast.fold`) needs the same kind of proof: each folded conv
carries the largest input magnitude for which the original's conv and BatchNorm cannot
overflow (:data:`~convzoo.fast.bounds.FOLD_LIMIT`). The folded convs join the plan as
values every cut must bound (:func:`plan_checks`); one the cuts cannot bound gets its own
check on its input (:func:`fold_checks`). A graph with folds falls back to the original
model itself (:class:`Reference`), not to the folded graph, when a check fails.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.fx as fx
import torch.nn as nn

from convzoo.fast.bounds import FOLD_LIMIT, LIMIT, Bounds, ancestors
from convzoo.fast.fuse import (
    accumulate_in_place,
    activation_sites,
    fuse_convs,
    pack_linears,
    unfuse_activations,
    units,
)
from convzoo.fast.graph import tensor_meta

__all__ = ["Fused", "Guarded", "OutOfBounds", "Reference", "bounded", "cuts", "fold_checks",
           "fold_sites", "fuse_guarded", "guard_folds", "plan_checks"]

#: The smallest limit worth checking against (larger activations fall back to exact).
MIN_LIMIT_EXP = 30


class OutOfBounds(Exception):
    """Raised inside the fused graph when an input (or a cut) is beyond its proven limit."""


def bounded(x: torch.Tensor, limit: float) -> torch.Tensor:
    """``x`` itself when every entry is within ``[-limit, limit]`` (no NaN); else raises
    :class:`OutOfBounds`.

    >>> bounded(torch.tensor([1.0, -2.0]), 2.0).tolist()
    [1.0, -2.0]
    >>> bounded(torch.tensor([float("nan")]), 2.0)
    Traceback (most recent call last):
    ...
    convzoo.fast.guard.OutOfBounds
    """
    if x.numel():
        # over the memory itself: aminmax copies a tensor that is not NCHW-contiguous
        flat = x.as_strided((x.numel(),), (1,)) if _dense(x) else x.reshape(-1)
        lo, hi = torch.aminmax(flat)
        if not (-float(lo) <= limit and float(hi) <= limit):  # NaN fails both
            raise OutOfBounds
    return x


def _dense(x: torch.Tensor) -> bool:
    """Whether ``x``'s elements fill ``x.numel()`` consecutive memory slots (any dim order).

    >>> _dense(torch.zeros(2, 3, 4, 5).permute(0, 2, 3, 1)), _dense(torch.zeros(4, 6)[:, ::2])
    (True, False)
    """
    expected = 1
    for stride, size in sorted((t, s) for s, t in zip(x.shape, x.stride()) if s != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def cuts(graph: fx.Graph, source: fx.Node) -> list[fx.Node]:
    """The nodes every path from ``source`` to the output passes through, in graph order
    (``source`` first): no edge between two nodes depending on ``source`` jumps over them.

    >>> g = fx.Graph(); x = g.placeholder("x")
    >>> a = g.call_function(torch.relu, (x,)); b = g.call_function(torch.add, (a, x))
    >>> c = g.call_function(torch.relu, (b,)); _ = g.output(c)
    >>> [n.name for n in cuts(g, x)]
    ['x', 'add', 'relu_1']
    """
    order = {n: i for i, n in enumerate(graph.nodes)}
    live = {source}
    for node in graph.nodes:
        if node.op != "output" and any(a in live for a in node.all_input_nodes):
            live.add(node)
    found, reach = [], -1
    for node in graph.nodes:
        if node not in live:
            continue
        if reach <= order[node]:
            found.append(node)
        reach = max([reach, *(order[u] for u in node.users)])
    return found


def _after(graph: fx.Graph, start: fx.Node) -> list[fx.Node]:
    """The nodes after ``start`` (graph order) that depend on ``start``."""
    out, live, inside = [], {start}, False
    for node in graph.nodes:
        if inside and node.op != "output" and any(a in live for a in node.all_input_nodes):
            live.add(node)
            out.append(node)
        inside = inside or node is start
    return out


def plan_checks(gm: fx.GraphModule, sites: list[fx.Node], avoid: set[fx.Node] | None = None,
                values: list[fx.Node] | tuple[fx.Node, ...] = ()
                ) -> tuple[dict[fx.Node, float], set[fx.Node]]:
    """Where to check what, so that the activations in ``sites`` may be fused and every
    node of ``values`` (folded convs) stays below the limit; no check is placed on a node
    of ``avoid`` (inside a unit the fusion will merge).

    Returns:
        ``(checks, safe)``: ``checks`` maps each node to check (the input first) to its
        limit; ``safe`` holds the sites proven to see no NaN, and the values proven
        bounded, on inputs that pass the checks.
    """
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    val = tensor_meta(placeholders[0]) if len(placeholders) == 1 else None
    if val is None or not val.dtype.is_floating_point or not (sites or values):
        return {}, set()
    bounds, graph = Bounds(gm), gm.graph
    order = {n: k for k, n in enumerate(graph.nodes)}
    chain = [c for c in cuts(graph, placeholders[0])  # single float tensors, outside units
             if c not in (avoid or ()) and tensor_meta(c) is not None
             and tensor_meta(c).dtype.is_floating_point]  # type: ignore[union-attr]
    reads: dict[fx.Node, list[fx.Node]] = {}  # a value that must be bounded -> its sites
    for s in sites:  # the value each activation reads
        reads.setdefault(s.args[0], []).append(s)  # type: ignore[arg-type]
    for v in values:  # a folded conv: bounded only where computed from a checked cut
        reads.setdefault(v, []).append(v)
    needed = ancestors(reads)
    last = max(order[r] for r in reads)
    checks: dict[fx.Node, float] = {}
    safe: set[fx.Node] = set()
    i = 0
    while i < len(chain) and order[chain[i]] < last:
        start = chain[i]
        nodes = [n for n in _after(graph, start) if n in needed]
        found = bounds.propagate({start: 2.0 ** MIN_LIMIT_EXP}, nodes)
        bad = next((order[n] for n in nodes if not found[n] <= LIMIT), len(order))
        j = max(k for k in range(i, len(chain)) if k == i or order[chain[k]] < bad)
        if j == i:  # not even the next cut: the activations up to it stay in place
            i += 1
            continue
        inside = [n for n in nodes if order[n] <= order[chain[j]]]
        checks[start] = bounds.limit(start, inside, LIMIT, MIN_LIMIT_EXP, 99)
        safe.update(t for t in reads.get(start, ()) if t is not start)  # an activation
        safe.update(t for n in inside for t in reads.get(n, ()))
        i = j
    return checks, safe


def fold_sites(gm: fx.GraphModule) -> list[fx.Node]:
    """The convs of ``gm`` a BatchNorm was folded into (:data:`~convzoo.fast.bounds.FOLD_LIMIT`
    in their meta), in graph order."""
    return [n for n in gm.graph.nodes if FOLD_LIMIT in n.meta]


def _fold_input_limit(gm: fx.GraphModule, conv: fx.Node) -> float:
    """The limit on a folded conv's input that keeps the original's conv and BatchNorm
    below :data:`~convzoo.fast.bounds.LIMIT`; for a conv taken by the FFT path
    (:class:`~convzoo.fast.plan.FFTConv`), divided by ``4 (H + kh) (W + kw)``: the growth
    of a value through the padded transform."""
    limit = float(conv.meta[FOLD_LIMIT])
    if conv.op == "call_module":
        spec = getattr(gm.get_submodule(str(conv.target)), "spec", None)
        x = tensor_meta(conv.args[0])  # type: ignore[arg-type]
        if spec is None or x is None:
            return 0.0
        growth = 4.0
        for size, k in zip(x.shape[-len(spec.kernel_size):], spec.kernel_size):
            growth *= int(size) + int(k)
        limit /= growth
    return limit


def fold_checks(gm: fx.GraphModule, checks: dict[fx.Node, float], safe: set[fx.Node]
                ) -> dict[fx.Node, float]:
    """``checks`` with a check on the input of every folded conv not in ``safe`` (at its
    fold limit, or lowered to it where that input is checked already). In place, returned.
    """
    for conv in fold_sites(gm):
        if conv in safe:
            continue
        x = conv.args[0]
        assert isinstance(x, fx.Node)
        checks[x] = min(checks.get(x, math.inf), _fold_input_limit(gm, conv))
    return checks


def guard_folds(gm: fx.GraphModule) -> tuple[fx.GraphModule | None, int]:
    """A copy of ``gm`` (sharing its tensors) that checks what its folded convs need
    (:func:`plan_checks` with no activation, then :func:`fold_checks`), and how many
    checks; ``(None, 0)`` when no BatchNorm was folded."""
    if not fold_sites(gm):
        return None, 0
    checked = share_graph(gm)  # node meta (values, fold limits) copied with the graph
    checks, safe = plan_checks(checked, [], None, fold_sites(checked))
    fold_checks(checked, checks, safe)
    insert_checks(checked, checks)
    return checked, len(checks)


def insert_checks(gm: fx.GraphModule, checks: dict[fx.Node, float]) -> None:
    """Route every reader of each checked node through :func:`bounded` (in place)."""
    for node, limit in checks.items():
        users = list(node.users)
        with gm.graph.inserting_after(node):
            check = gm.graph.call_function(bounded, (node, limit))
        check.meta.update({k: v for k, v in node.meta.items() if k != FOLD_LIMIT})
        for user in users:
            user.replace_input_with(node, check)
    gm.recompile()


class Guarded(nn.Module):
    """The fused graph where its checks pass, else the exact graph from the start.

    Attributes:
        fast: the graph with activations fused (and :func:`bounded` checks).
        exact: the same computation with every activation in place (torch's NaN); for a
            graph with BatchNorms folded, the original model (:class:`Reference`).
        checks: how many tensors ``fast`` checks (the input included).
    """

    def __init__(self, fast: nn.Module, exact: nn.Module, checks: int) -> None:
        super().__init__()
        self.fast, self.exact, self.checks = fast, exact, checks

    def forward(self, x: torch.Tensor) -> object:
        try:
            return self.fast(x)
        except OutOfBounds:
            return self.exact(x)


class Reference(nn.Module):
    """The original model (its private eval copy) run as it is: the exact answer on every
    input, where a rewritten graph cannot vouch for one. The model is not registered as a
    submodule (an optimized module owns no parameters); ``leaves`` lists its tensors, so
    that an output sharing one is copied (:func:`convzoo.fast.outputs.storages`).

    >>> conv = nn.Conv2d(1, 1, 1)
    >>> Reference(conv)(torch.ones(1, 1, 2, 2)).shape, list(Reference(conv).parameters())
    (torch.Size([1, 1, 2, 2]), [])
    """

    def __init__(self, source: nn.Module) -> None:
        super().__init__()
        self._source = [source]
        held = [*source.parameters(), *source.buffers()]
        for m in source.modules():
            held += [v for v in vars(m).values() if isinstance(v, torch.Tensor)]
        self.leaves = held

    def forward(self, x: torch.Tensor) -> object:
        return self._source[0](x)


def share_graph(gm: fx.GraphModule) -> fx.GraphModule:
    """A new GraphModule on a copy of ``gm``'s graph, holding the same tensors (not copies)."""
    return fx.GraphModule(gm, copy.deepcopy(gm.graph))


def drop_checks(gm: fx.GraphModule) -> None:
    """Remove every :func:`bounded` node (its readers read its input). In place."""
    for node in list(gm.graph.nodes):
        if node.op == "call_function" and node.target is bounded:
            node.replace_all_uses_with(node.args[0])  # type: ignore[arg-type]
            gm.graph.erase_node(node)
    gm.recompile()


@dataclass
class Fused:
    """The result of :func:`fuse_guarded`.

    Attributes:
        exact: every activation in place (torch's NaN semantics), no checks.
        fast: activations proven safe fused as oneDNN post-ops, with the checks; None when
            none is (then ``exact`` is the graph to run).
        acts, adds: activations fused or run in place after a fused call; adds fused.
        post_ops: activations fused as post-ops in ``fast``. checks: tensors ``fast`` checks.
        linears: linears packed for MKL. folds: convs a BatchNorm was folded into (then
            ``fast`` checks what they need, and only the original is exact).
    """

    exact: fx.GraphModule
    fast: fx.GraphModule | None
    acts: int
    adds: int
    post_ops: int
    checks: int
    linears: int
    folds: int = 0


def fuse_guarded(gm: fx.GraphModule) -> Fused:
    """Pack linears, plan the checks (:func:`plan_checks`, :func:`fold_checks`), fuse (in
    place on ``gm``, which becomes ``fast``) and derive the exact graph sharing its tensors.

    Shape:
        unchanged.
    """
    linears = pack_linears(gm)
    folds = fold_sites(gm)
    checks, safe = plan_checks(gm, activation_sites(gm), units(gm), folds)
    fold_checks(gm, checks, safe)
    post = safe - set(folds)
    if not post and not folds:  # nothing to fuse as a post-op, nothing folded to check
        acts, adds = fuse_convs(gm)
        accumulate_in_place(gm)
        gm.recompile()
        return Fused(gm, None, acts, adds, 0, 0, linears)
    insert_checks(gm, checks)
    acts, adds = fuse_convs(gm, post)
    accumulate_in_place(gm)
    gm.recompile()
    exact = share_graph(gm)
    unfused = unfuse_activations(exact)
    drop_checks(exact)
    return Fused(exact, gm, acts, adds, unfused, len(checks), linears, len(folds))
