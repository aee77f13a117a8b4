"""Fold a channel shuffle into the next conv's weights (an exact permutation).

A shuffle computes ``U[k] = T[perm[k]]``; a conv reading only ``U`` computes
``sum_k W[:, k] U[k] = sum_k W[:, k] T[perm[k]]``, i.e. the same conv on ``T`` with its input
columns permuted: ``W'[:, perm[k]] = W[:, k]``. For a grouped conv this is exact when the
permutation keeps every channel inside its group (always true for ``groups = 1``).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from convzoo.fast.fold import replace_module
from convzoo.fast.usage import Usage
from convzoo.layers.base import ConvBase
from convzoo.layers.shuffle import ChannelShuffle

__all__ = ["fold_shuffles", "permute_conv_input", "respects_groups"]


def respects_groups(perm: list[int], groups: int) -> bool:
    """Whether ``perm`` maps every channel into its own group (of ``len(perm)/groups``).

    >>> respects_groups([1, 0, 3, 2], 2), respects_groups([0, 2, 1, 3], 2)
    (True, False)
    """
    per = len(perm) // groups
    return all(p // per == k // per for k, p in enumerate(perm))


def permute_conv_input(conv: ConvBase, perm: list[int]) -> None:
    """Rewrite ``conv`` in place so that ``conv'(T) = conv(T[perm])`` (channel ``k`` of the
    conv's old input was channel ``perm[k]`` of ``T``).

    Args:
        conv: a forward convzoo conv. perm: a permutation of ``range(C_in)`` respecting the
            conv's groups (:func:`respects_groups`).

    Shape:
        weight ``(C_out, C_in/g, *k)``: columns permuted within each group.

    >>> from convzoo.layers import Conv2d
    >>> conv, x, perm = Conv2d(3, 2, 1), torch.randn(1, 3, 2, 2), [2, 0, 1]
    >>> ref = conv(x[:, perm]); permute_conv_input(conv, perm)
    >>> torch.allclose(conv(x), ref)
    True
    """
    spec = conv.spec
    if spec.transposed or sorted(perm) != list(range(spec.in_channels)):
        raise ValueError(
            f"`perm` (length {len(perm)}) must be a permutation of the {spec.in_channels} "
            "input channels of a forward conv"
        )
    if not respects_groups(perm, spec.groups):
        raise ValueError(f"`perm` must keep every channel inside its group (={spec.groups})")
    g, per = spec.groups, spec.in_channels // spec.groups
    out_per = spec.out_channels // g
    with torch.no_grad():
        old = conv.weight.clone()
        for gi in range(g):
            rows = slice(gi * out_per, (gi + 1) * out_per)
            for k in range(gi * per, (gi + 1) * per):
                conv.weight[rows, perm[k] % per] = old[rows, k % per]


def fold_shuffles(model: nn.Module, usage: Usage) -> int:
    """Fold every :class:`ChannelShuffle` whose output feeds exactly one conv (and nothing
    else) into that conv, replacing the shuffle by ``nn.Identity``. Returns the count.

    Args:
        model: the module to rewrite (in place). usage: its recorded forward pass.

    Shape:
        the model's input and output shapes are unchanged.

    >>> from convzoo.fast.usage import record_usage
    >>> from convzoo.layers import Conv2d
    >>> m = nn.Sequential(ChannelShuffle(2), Conv2d(4, 3, 3))
    >>> x = torch.randn(1, 4, 5, 5); ref = m(x)
    >>> fold_shuffles(m, record_usage(m, x)), torch.allclose(m(x), ref, atol=1e-6)
    (1, True)
    """
    readers: dict[int, list[nn.Module]] = {}
    for module, inp in usage.inputs.items():
        readers.setdefault(inp, []).append(module)
    folded = 0
    for shuffle in list(model.modules()):
        if not isinstance(shuffle, ChannelShuffle) or shuffle not in usage.outputs:
            continue
        convs = [
            m for m in readers.get(usage.outputs[shuffle], [])
            if isinstance(m, ConvBase) and not m.spec.transposed
        ]
        if len(convs) != 1 or not usage.only_consumer(shuffle, convs[0]):
            continue
        conv = convs[0]
        perm = shuffle.permutation(conv.spec.in_channels)
        if not respects_groups(perm, conv.spec.groups):
            continue
        permute_conv_input(conv, perm)
        replace_module(model, shuffle, nn.Identity())
        folded += 1
    return folded
