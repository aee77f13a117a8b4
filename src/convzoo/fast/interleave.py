"""Concatenation + channel shuffle as one interleaving copy (an exact data movement).

ShuffleNet v2 concatenates ``g`` tensors of ``c`` channels each and shuffles the result with
``g`` groups: output channel ``j*g + i`` is channel ``j`` of the ``i``-th tensor. On
channels_last tensors that is ``stack(..., dim=-1)`` of the ``(N, H, W, c)`` views: one copy
instead of two (cat, then shuffle). The pattern is found on the captured graph (a ``cat``
read only by a chain that :func:`~convzoo.fast.shuffle_fold.channel_permutation` proves to
be this permutation), whatever module wrote it.
"""

from __future__ import annotations

import torch
import torch.fx as fx

from convzoo.fast.graph import aten, output_nodes, replace, tensor_meta
from convzoo.fast.shuffle_fold import MOVES, channel_permutation

__all__ = ["interleave", "interleave_concats"]


def interleave(*parts: torch.Tensor) -> torch.Tensor:
    """``channel_shuffle(cat(parts, 1), len(parts))`` in one copy, channels_last out.

    Shape:
        ``g x (N, c, H, W)`` -> ``(N, g*c, H, W)``; channel ``j*g + i`` is ``parts[i][:, j]``.

    >>> a, b = torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1)
    >>> interleave(a, b)[0, :, 0, 0].tolist()
    [0.0, 1.0, 0.0, 1.0]
    """
    n, c, h, w = parts[0].shape
    y = torch.stack([p.permute(0, 2, 3, 1) for p in parts], dim=-1)  # (N, H, W, c, g)
    return y.view(n, h, w, len(parts) * c).permute(0, 3, 1, 2)  # (N, g*c, H, W)


def interleave_concats(gm: fx.GraphModule) -> int:
    """Replace every 4-D ``cat`` of ``g`` equal parts followed by a ``g``-group channel
    shuffle (the cat read by the shuffle alone) with :func:`interleave`; returns how many.

    Shape:
        unchanged.
    """
    count = 0
    outs = output_nodes(gm.graph)
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target not in MOVES or not node.users:
            continue
        found = channel_permutation(node)
        if found is None or found.start.target is not aten.cat.default or \
                len(found.start.users) != 1 or found.start in outs:
            continue
        parts = list(found.start.args[0])  # type: ignore[arg-type]
        dim = found.start.args[1] if len(found.start.args) > 1 else 0
        metas = [tensor_meta(p) for p in parts]
        if dim not in (1, -3) or any(m is None or m.dim() != 4 for m in metas) or \
                len({tuple(m.shape) for m in metas}) != 1:  # type: ignore[union-attr]
            continue
        g, c = len(parts), metas[0].shape[1]  # type: ignore[union-attr]
        if found.perm != [(k % g) * c + k // g for k in range(g * c)]:
            continue
        with gm.graph.inserting_before(node):
            new = gm.graph.call_function(interleave, tuple(parts))
        replace(node, new)
        count += 1
    gm.graph.eliminate_dead_code()
    return count
