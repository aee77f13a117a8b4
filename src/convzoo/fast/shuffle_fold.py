"""Channel permutations on a captured graph, and folding them into the next conv (exact).

A channel shuffle is, in ATen, a chain of data-movement ops (``view``, ``permute``/
``transpose``, ``clone``, ``channel_shuffle``...). :func:`channel_permutation` finds such a
chain and *proves* what it does by replaying it on an index tensor: the chain is a channel
permutation ``U[:, k] = T[:, perm[k]]`` only if the replayed indices say so.

A conv reading only ``U`` computes ``sum_k W[:, k] U[k] = sum_k W[:, k] T[perm[k]]``: the same
conv on ``T`` with ``W'[:, perm[k]] = W[:, k]``. Exact for a grouped conv when the permutation
keeps every channel inside its group (always true for ``groups = 1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.fx as fx

from convzoo.fast.graph import (
    add_constant,
    aten,
    constant,
    conv_call,
    emit_conv,
    is_constant,
    output_nodes,
    replace,
    tensor_meta,
)

__all__ = ["Permutation", "channel_permutation", "fold_shuffles", "respects_groups"]

MOVES = {
    aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.permute.default,
    aten.transpose.int, aten.clone.default, aten.alias.default, aten.unsqueeze.default,
    aten.squeeze.dim, aten.flatten.using_ints, aten.unflatten.int,
    aten.channel_shuffle.default, aten.native_channel_shuffle.default,
}


@dataclass
class Permutation:
    """A chain of data-movement nodes computing ``end = start[:, perm]``.

    Attributes:
        start: the permuted tensor's node. end: the chain's last node.
        nodes: the chain, in order. perm: ``end[:, k] = start[:, perm[k]]``.
    """

    start: fx.Node
    end: fx.Node
    nodes: list[fx.Node]
    perm: list[int]


def respects_groups(perm: list[int], groups: int) -> bool:
    """Whether ``perm`` maps every channel into its own group (of ``len(perm)/groups``).

    >>> respects_groups([1, 0, 3, 2], 2), respects_groups([0, 2, 1, 3], 2)
    (True, False)
    """
    per = len(perm) // groups
    return all(p // per == k // per for k, p in enumerate(perm))


def _concrete(size: object) -> int:
    """A size as an int: a symbolic size (a graph captured with dynamic shapes) at the value
    it was traced with; the replay below proves the permutation at that shape, and the
    graph's users verify other shapes (:mod:`convzoo.fast.dynamic`)."""
    if isinstance(size, torch.SymInt):
        return int(size.node.hint)
    return int(size)  # type: ignore[call-overload]


def _is_size(node: fx.Node) -> bool:
    """Whether a node computes a size (a symbolic int), not a tensor."""
    return isinstance(node.meta.get("val"), torch.SymInt)


def channel_permutation(end: fx.Node) -> Permutation | None:
    """The channel permutation a chain of data-movement nodes ending at ``end`` computes
    (each inner node read by the next alone), proven by replay on indices; else None.

    >>> g = fx.Graph(); x = g.placeholder("x"); x.meta["val"] = torch.empty(1, 4, 2, 2)
    >>> v = g.call_function(aten.view.default, (x, [1, 2, 2, 2, 2]))
    >>> t = g.call_function(aten.transpose.int, (v, 1, 2))
    >>> c = g.call_function(aten.clone.default, (t,), {"memory_format": torch.contiguous_format})
    >>> u = g.call_function(aten.view.default, (c, [1, 4, 2, 2]))
    >>> u.meta["val"] = torch.empty(1, 4, 2, 2); _ = g.output(u)
    >>> channel_permutation(u).perm
    [0, 2, 1, 3]
    """
    chain: list[fx.Node] = []
    node = end
    while node.op == "call_function" and node.target in MOVES and node.args \
            and isinstance(node.args[0], fx.Node):
        if chain and len(node.users) != 1:
            break
        chain.append(node)
        node = node.args[0]
    chain.reverse()
    start_val, end_val = tensor_meta(node), tensor_meta(end)
    if not chain or start_val is None or end_val is None or start_val.dim() < 3:
        return None
    shape = tuple(_concrete(s) for s in start_val.shape)
    if shape != tuple(_concrete(s) for s in end_val.shape):
        return None
    if math.prod(shape) == 0:
        return None  # an empty tensor (batch 0): no permutation to read, nothing to fold
    idx = torch.arange(math.prod(shape)).reshape(shape)
    value = idx
    for n in chain:
        if any(a is not n.args[0] and not _is_size(a) for a in n.all_input_nodes):
            return None  # a tensor given by another node: not a chain of moves
        args = (value, *fx.node.map_arg(n.args[1:], lambda a: _concrete(a.meta["val"])))
        try:
            value = n.target(*args, **n.kwargs)  # type: ignore[operator]
        except RuntimeError:  # e.g. a view the strides do not allow: not this pattern
            return None
    if tuple(value.shape) != shape:
        return None
    inner = math.prod(shape[2:])
    perm = ((value[0].reshape(shape[1], -1)[:, 0] // inner) % shape[1]).tolist()
    if sorted(perm) != list(range(shape[1])) or not torch.equal(value, idx[:, perm]):
        return None
    return Permutation(node, end, chain, perm)


def _permute_weight(w: torch.Tensor, perm: list[int], groups: int) -> torch.Tensor:
    """``W'`` with ``conv_{W'}(T) = conv_W(T[:, perm])`` (columns permuted inside groups)."""
    per, out_per = w.shape[1], w.shape[0] // groups
    new = w.clone()
    for g in range(groups):
        rows = slice(g * out_per, (g + 1) * out_per)
        cols = [perm[g * per + k] - g * per for k in range(per)]
        new[rows, cols] = w[rows]
    return new


def fold_shuffles(gm: fx.GraphModule) -> int:
    """Fold every channel permutation read only by forward convs (constant weights, the
    permutation inside their groups) into those convs; returns how many. In place.

    Shape:
        unchanged.
    """
    folded = 0
    outs = output_nodes(gm.graph)
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target not in MOVES or node in outs:
            continue
        found = channel_permutation(node)
        if found is None or not node.users or found.perm == sorted(found.perm):
            continue  # no chain, or one that permutes nothing
        calls = [conv_call(u) for u in node.users]
        if not all(c is not None and not c.transposed and c.x is node and is_constant(c.weight)
                   and c.weight is not node and respects_groups(found.perm, c.groups)
                   for c in calls):
            continue
        for call in calls:
            assert call is not None
            w = _permute_weight(constant(gm, call.weight), found.perm, call.groups)
            with gm.graph.inserting_before(call.node):
                conv = emit_conv(gm.graph, call, found.start, add_constant(gm, w, "w"),
                                 call.bias)
            replace(call.node, conv)
        folded += 1
    gm.graph.eliminate_dead_code()
    return folded
