"""Fold an inference BatchNorm into the convolution that feeds it (an exact rewrite).

``BN(conv(x)) = conv'(x)`` with ``W' = W * s`` and ``b' = (b - mean) * s + beta`` per output
channel, ``s = gamma / sqrt(var + eps)``. Exact only when the BatchNorm is in eval mode with
running statistics and reads the conv's output and nothing else does: :class:`Usage`
(from one recorded forward pass) checks that for any model, whatever its forward does.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn

from convzoo.fast.usage import Usage
from convzoo.layers.base import ConvBase

__all__ = ["fold_batchnorms", "fold_batchnorm_into", "replace_module"]


def replace_module(model: nn.Module, target: nn.Module, new: nn.Module) -> int:
    """Put ``new`` wherever ``target`` is registered inside ``model``; returns the count.

    >>> m = nn.Sequential(nn.ReLU(), nn.Tanh())
    >>> replace_module(m, m[1], nn.Identity()), m[1]
    (1, Identity())
    """
    places = [name for name, m in model.named_modules(remove_duplicate=False) if m is target]
    for name in places:
        parent_name, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent_name), attr, new)
    return len(places)


def fold_batchnorm_into(conv: ConvBase, bn: nn.modules.batchnorm._BatchNorm) -> None:
    """Rewrite ``conv`` in place so that ``conv(x)`` equals ``bn(conv(x))`` (bn in eval mode).

    Args:
        conv: a forward convzoo conv (any groups, ndim). bn: a BatchNorm over its
            ``C_out`` channels with running statistics.

    Shape:
        weight ``(C_out, C_in/g, *k)`` scaled per output channel; bias ``(C_out,)`` (created
        when the conv had none).

    >>> from convzoo.layers import Conv2d
    >>> conv, bn = Conv2d(2, 3, 3, bias=False), nn.BatchNorm2d(3).eval()
    >>> bn.running_mean.fill_(0.5); x = torch.randn(1, 2, 5, 5); ref = bn(conv(x))
    tensor([0.5000, 0.5000, 0.5000])
    >>> fold_batchnorm_into(conv, bn); torch.allclose(conv(x), ref, atol=1e-6)
    True
    """
    if conv.spec.transposed or bn.num_features != conv.spec.out_channels:
        raise ValueError(
            f"`bn` (={bn.num_features} features) must follow a forward conv with as many "
            f"output channels (={conv.spec.out_channels}, transposed={conv.spec.transposed})"
        )
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("`bn` must track running statistics to be folded")
    with torch.no_grad():
        w = conv.weight
        var, mean = bn.running_var.to(w.dtype), bn.running_mean.to(w.dtype)
        scale = torch.rsqrt(var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight.to(w.dtype)
        shift = -mean * scale
        if bn.bias is not None:
            shift = shift + bn.bias.to(w.dtype)
        w.mul_(scale.reshape(-1, *([1] * (w.dim() - 1))))
        if conv.bias is None:
            del conv.bias  # a plain None attribute: re-register it as a parameter
            conv.bias = nn.Parameter(shift.clone())
            conv.spec = dataclasses.replace(conv.spec, bias=True)
        else:
            conv.bias.mul_(scale).add_(shift)


def fold_batchnorms(model: nn.Module, usage: Usage) -> int:
    """Fold every foldable eval-mode BatchNorm of ``model`` into its conv (in place; the
    BatchNorm becomes ``nn.Identity``). Returns how many were folded.

    Args:
        model: the module to rewrite. usage: :func:`~convzoo.fast.usage.record_usage` of
            ``model`` (taken before this call).

    Shape:
        the model's input and output shapes are unchanged.

    >>> from convzoo.fast.usage import record_usage
    >>> from convzoo.layers import Conv2d
    >>> m = nn.Sequential(Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    >>> fold_batchnorms(m, record_usage(m, torch.randn(1, 2, 6, 6))), m[1]
    (1, Identity())
    """
    producers: dict[int, list[nn.Module]] = {}
    for module, out in usage.outputs.items():
        producers.setdefault(out, []).append(module)
    folded = 0
    for bn in list(model.modules()):
        if (
            not isinstance(bn, nn.modules.batchnorm._BatchNorm) or bn.training
            or bn.running_mean is None or bn not in usage.inputs
        ):
            continue
        convs = [
            m for m in producers.get(usage.inputs[bn], [])
            if isinstance(m, ConvBase) and not m.spec.transposed
            and m.spec.out_channels == bn.num_features
        ]
        if len(convs) != 1 or not usage.only_consumer(convs[0], bn):
            continue
        fold_batchnorm_into(convs[0], bn)  # type: ignore[arg-type]
        replace_module(model, bn, nn.Identity())
        folded += 1
    return folded
