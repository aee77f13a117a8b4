"""Fuse a residual add into the conv that produces one of its operands (an exact rewrite).

A block ``M`` computing ``x + body(x)`` (MobileNet v2's inverted residual: the linear 1x1
projection's output added to the block input) becomes one oneDNN call for the last conv of
``body`` with a binary ``add`` post-op (``torch.ops.mkldnn._convolution_pointwise.binary``,
the kernel inductor's freezing emits): the sum is computed on the conv's accumulator, so the
conv output is never written and read back. Exact (the same float additions, commuted):
applied only when one recorded forward pass proves that ``M``'s output is that add of
``M``'s input and ``body``'s output, same shapes, and that nothing else reads the conv output.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from convzoo.fast.fold import replace_module
from convzoo.fast.fuse import FusedConv
from convzoo.fast.usage import Usage, record_usage

__all__ = ["ResidualConv", "fuse_residuals"]

_ADDS = {torch.Tensor.__add__, torch.Tensor.__radd__, torch.Tensor.add, torch.add}


class ResidualConv(nn.Module):
    """``x + conv(prefix(x))`` with the add fused into the conv (a :class:`FusedConv`).

    Args:
        prefix: the modules before the conv (a Sequential, possibly empty).
        conv: a FusedConv without activation.

    Shape:
        ``(N, C, H, W)`` -> same (``conv`` keeps channels and resolution).

    >>> from convzoo.layers import Pointwise
    >>> pw, x = Pointwise(4, 4), torch.randn(1, 4, 5, 5)
    >>> m = ResidualConv(nn.Sequential(nn.ReLU()), FusedConv(pw))
    >>> torch.allclose(m(x), x + pw(torch.relu(x)), atol=1e-6)
    True
    """

    def __init__(self, prefix: nn.Sequential, conv: FusedConv) -> None:
        super().__init__()
        if conv.attr != "none":
            raise ValueError(f"`conv` (activation {conv.attr!r}) must have no fused activation")
        self.prefix, self.conv = prefix, conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.prefix(x), x)  # (N, C, H, W): conv(...) + x in one call


class _Producers(TorchFunctionMode):
    """Record, for every new tensor a torch call returns: the call and its tensor arguments
    (a call returning one of its arguments, such as a no-op ``contiguous``, makes nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.made: dict[int, tuple[object, list[torch.Tensor], dict]] = {}
        self.keep: list[object] = []  # ids stay unique for the whole run

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if isinstance(result, torch.Tensor) and not any(result is a for a in args):
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            self.made[id(result)] = (func, tensors, kwargs)
        self.keep.append(result)
        return result


def _match(block: nn.Module, usage: Usage, made: dict) -> tuple[nn.Sequential, FusedConv] | None:
    """``(body, conv)`` when ``block``'s recorded output is ``input + body(input)``, with
    ``conv`` the last call of ``body`` and the add its output's only reader."""
    if usage.calls.get(block, 0) != 1 or block not in usage.outputs or block not in usage.inputs:
        return None
    func, operands, kwargs = made.get(usage.outputs[block], (None, [], {}))
    if func not in _ADDS or kwargs or len(operands) != 2:
        return None
    a, b = operands
    if a.shape != b.shape or a.dtype != b.dtype:
        return None  # no broadcasting, no type promotion
    inp = usage.inputs[block]
    ids = {id(a), id(b)}
    if inp not in ids or len(ids) != 2:
        return None
    (y,) = ids - {inp}
    for body in block.children():
        if (type(body) is nn.Sequential and usage.calls.get(body, 0) == 1
                and usage.inputs.get(body) == inp and usage.outputs.get(body) == y):
            break
    else:
        return None
    mods = list(body)
    while mods and type(mods[-1]) is nn.Identity:
        mods.pop()
    conv = mods[-1] if mods else None
    if not isinstance(conv, FusedConv) or conv.attr != "none" or usage.calls.get(conv) != 1:
        return None
    if usage.outputs.get(conv) != y or y in usage.model_output:
        return None
    readers = [(n, r) for n, r in usage.consumers.get(y, []) if n > usage.ends[conv]]
    if len(readers) != 1 or readers[0][1] is not block:
        return None  # the add (run by `block` itself) must be the conv output's one reader
    return nn.Sequential(*mods[:-1]), conv


def fuse_residuals(model: nn.Module, root: nn.Module, example: torch.Tensor) -> int:
    """Replace every block of ``model`` computing ``x + body(x)`` (``body`` ending in a
    :class:`FusedConv` without activation) by a :class:`ResidualConv`; returns how many.
    In place.

    Args:
        model: the network (convs already fused). root: the module to run (``model`` or a
            wrapper of it). example: an input of ``root``.

    Shape:
        unchanged.
    """
    producers = _Producers()
    with torch.no_grad(), producers:
        usage = record_usage(root, example)
    count = 0
    for block in list(model.modules()):
        if block is model:
            continue
        found = _match(block, usage, producers.made)
        if found is not None:
            count += replace_module(model, block, ResidualConv(*found)) > 0
    return count
