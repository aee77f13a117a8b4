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

__all__ = ["interleave", "interleave_chunks", "interleave_concats", "split_interleaves"]


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


def interleave_chunks(*parts: torch.Tensor, chunks: int) -> tuple[torch.Tensor, ...]:
    """``interleave(*parts).chunk(chunks, 1)``, each chunk written as its own dense
    channels_last tensor (a conv reading a channel slice of an NHWC tensor would copy it
    first): chunk ``m`` interleaves the ``m``-th channel block of every part.

    Shape:
        ``g x (N, c, H, W)`` -> ``chunks x (N, g*c/chunks, H, W)``; ``c`` divisible by
        ``chunks``.

    >>> a, b = torch.arange(4.0).reshape(1, 4, 1, 1), -torch.arange(4.0).reshape(1, 4, 1, 1)
    >>> [t.flatten().tolist() for t in interleave_chunks(a, b, chunks=2)]
    [[0.0, -0.0, 1.0, -1.0], [2.0, -2.0, 3.0, -3.0]]
    """
    step = parts[0].shape[1] // chunks
    return tuple(interleave(*(p[:, m * step:(m + 1) * step] for p in parts))
                 for m in range(chunks))


def split_interleaves(gm: fx.GraphModule) -> int:
    """Replace every :func:`interleave` read only by one equal channel split whose chunks
    hold whole groups (a multiple of the number of parts) with :func:`interleave_chunks`;
    returns how many (ShuffleNetV2's shuffle followed by the next unit's channel split).

    Shape:
        unchanged.
    """
    count = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target is not interleave or len(node.users) != 1:
            continue
        split = next(iter(node.users))
        if split.target is not aten.split.Tensor or split.args[0] is not node:
            continue
        dim = split.args[2] if len(split.args) > 2 else split.kwargs.get("dim", 0)
        size, total, g = split.args[1], tensor_meta(node), len(node.args)
        if dim not in (1, -3) or total is None or not isinstance(size, int) or size <= 0 \
                or total.shape[1] % size or size % g:
            continue
        with gm.graph.inserting_before(split):
            new = gm.graph.call_function(interleave_chunks, tuple(node.args),
                                         {"chunks": total.shape[1] // size})
        new.meta.update(split.meta)
        split.replace_all_uses_with(new)
        gm.graph.erase_node(split)
        gm.graph.erase_node(node)
        count += 1
    return count


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
