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
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.fx as fx
import torch.nn as nn

from convzoo.fast.bounds import LIMIT, Bounds, ancestors
from convzoo.fast.fuse import (
    accumulate_in_place,
    activation_sites,
    fuse_convs,
    pack_linears,
    unfuse_activations,
    units,
)
from convzoo.fast.graph import tensor_meta

__all__ = ["Fused", "Guarded", "OutOfBounds", "bounded", "cuts", "fuse_guarded", "plan_checks"]

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


def plan_checks(gm: fx.GraphModule, sites: list[fx.Node], avoid: set[fx.Node] | None = None
                ) -> tuple[dict[fx.Node, float], set[fx.Node]]:
    """Where to check what, so that the activations in ``sites`` may be fused; no check is
    placed on a node of ``avoid`` (inside a unit the fusion will merge).

    Returns:
        ``(checks, safe)``: ``checks`` maps each node to check (the input first) to its
        limit; ``safe`` holds the sites proven to see no NaN on inputs that pass the checks.
    """
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    val = tensor_meta(placeholders[0]) if len(placeholders) == 1 else None
    if val is None or not val.dtype.is_floating_point or not sites:
        return {}, set()
    bounds, graph = Bounds(gm), gm.graph
    order = {n: k for k, n in enumerate(graph.nodes)}
    chain = [c for c in cuts(graph, placeholders[0])  # single float tensors, outside units
             if c not in (avoid or ()) and tensor_meta(c) is not None
             and tensor_meta(c).dtype.is_floating_point]  # type: ignore[union-attr]
    reads = {s.args[0]: s for s in sites}  # the value each activation reads -> activation
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
        safe.update(reads[n] for n in [start, *inside] if n in reads)
        i = j
    return checks, safe


def insert_checks(gm: fx.GraphModule, checks: dict[fx.Node, float]) -> None:
    """Route every reader of each checked node through :func:`bounded` (in place)."""
    for node, limit in checks.items():
        users = list(node.users)
        with gm.graph.inserting_after(node):
            check = gm.graph.call_function(bounded, (node, limit))
        check.meta.update(node.meta)
        for user in users:
            user.replace_input_with(node, check)
    gm.recompile()


class Guarded(nn.Module):
    """The fused graph where its checks pass, else the exact graph from the start.

    Attributes:
        fast: the graph with activations fused (and :func:`bounded` checks).
        exact: the same computation with every activation in place (torch's NaN).
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
        linears: linears packed for MKL.
    """

    exact: fx.GraphModule
    fast: fx.GraphModule | None
    acts: int
    adds: int
    post_ops: int
    checks: int
    linears: int


def fuse_guarded(gm: fx.GraphModule) -> Fused:
    """Pack linears, plan the checks (:func:`plan_checks`), fuse (in place on ``gm``, which
    becomes ``fast``) and derive the exact graph sharing its tensors.

    Shape:
        unchanged.
    """
    linears = pack_linears(gm)
    checks, safe = plan_checks(gm, activation_sites(gm), units(gm))
    if not safe:
        acts, adds = fuse_convs(gm)
        accumulate_in_place(gm)
        gm.recompile()
        return Fused(gm, None, acts, adds, 0, 0, linears)
    insert_checks(gm, checks)
    acts, adds = fuse_convs(gm, safe)
    accumulate_in_place(gm)
    gm.recompile()
    exact = share_graph(gm)
    post = unfuse_activations(exact)
    drop_checks(exact)
    return Fused(exact, gm, acts, adds, post, len(checks), linears)
