"""Model-level counting and module swapping: the model's conv MACs as
:func:`convzoo.analysis.summary` counts them, and replacing submodules (for good, or for the
duration of a ``with`` block)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
import torch.nn as nn

from convzoo.analysis import CONV_KINDS, summary

__all__ = ["conv_macs", "copy_model", "set_module", "swapped"]


def conv_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """MACs of every convolution row of ``summary(model, input_shape)``.

    >>> conv_macs(nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(288, 2)),
    ...           (1, 3, 8, 8))
    7776
    """
    return sum(r.macs for r in summary(model, input_shape).rows if r.kind in CONV_KINDS)


def copy_model(model: nn.Module) -> nn.Module:
    """A deep copy of ``model``, also when a module holds a computed (non-leaf) tensor as a
    plain attribute (old-style ``torch.nn.utils.weight_norm``: ``copy.deepcopy`` refuses it);
    such a tensor is copied detached (its hook recomputes it at the next call).

    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3))
    >>> copy_model(net)[0].weight is net[0].weight
    False
    """
    memo: dict[int, object] = {}
    for m in model.modules():
        for v in vars(m).values():
            if isinstance(v, torch.Tensor) and not v.is_leaf:
                memo[id(v)] = v.detach().clone()
    return copy.deepcopy(model, memo)


def set_module(model: nn.Module, name: str, module: nn.Module) -> nn.Module:
    """Put ``module`` at ``name`` (dotted) in ``model``; return what was there.

    >>> net = nn.Sequential(nn.Conv2d(1, 1, 1))
    >>> type(set_module(net, "0", nn.Identity())).__name__, type(net[0]).__name__
    ('Conv2d', 'Identity')
    """
    parent, _, child = name.rpartition(".")
    owner = model.get_submodule(parent) if parent else model
    old = owner.get_submodule(child)
    setattr(owner, child, module)
    return old


@contextmanager
def swapped(model: nn.Module, modules: Mapping[str, nn.Module]) -> Iterator[nn.Module]:
    """``model`` with the named submodules replaced inside the block, restored after (also on
    an exception or Ctrl-C)."""
    old = {}
    try:
        for name, module in modules.items():
            old[name] = set_module(model, name, module)
        yield model
    finally:
        for name, module in old.items():
            set_module(model, name, module)
