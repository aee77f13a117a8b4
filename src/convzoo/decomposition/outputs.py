"""A model's outputs, whatever their container: a tensor, a tuple or list, a dict, a
``transformers`` ``ModelOutput`` (a dict), nested; and the default model-level metric.

Every floating-point tensor leaf counts; other leaves (ints, strings, None, integer tensors)
are ignored by the metric.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch

__all__ = ["eval_mode", "float_leaves", "output_error", "run_model"]


def float_leaves(out: Any) -> list[torch.Tensor]:
    """The floating-point tensors of ``out`` in a fixed order (dict keys in their order).

    >>> [t.shape for t in float_leaves({"a": torch.zeros(2), "b": (torch.ones(1, 3), 4)})]
    [torch.Size([2]), torch.Size([1, 3])]
    """
    if isinstance(out, torch.Tensor):
        return [out] if out.is_floating_point() or out.is_complex() else []
    if isinstance(out, Mapping):
        return [t for key in out for t in float_leaves(out[key])]
    if isinstance(out, list | tuple):
        return [t for item in out for t in float_leaves(item)]
    return []


def output_error(new: Any, reference: Any) -> float:
    """Relative error of the whole output: ``sqrt(sum ||a - b||^2) / sqrt(sum ||b||^2)`` over
    its floating-point leaves (the default ``metric`` of :func:`convzoo.advise`).

    >>> output_error((torch.tensor([1.0, 1.1]),), (torch.tensor([1.0, 1.0]),)) < 0.08
    True
    """
    a, b = float_leaves(new), float_leaves(reference)
    if len(a) != len(b):
        raise ValueError(f"the outputs have {len(a)} floating-point tensors where the model's "
                         f"have {len(b)}")
    num = sum(float((x.to(torch.float64) - y.to(torch.float64)).pow(2).sum())
              for x, y in zip(a, b, strict=True))
    den = sum(float(y.to(torch.float64).pow(2).sum()) for y in b)
    if den > 0:
        return math.sqrt(num / den)
    return 0.0 if num == 0 else math.inf


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``model`` in eval mode inside the block; every submodule's own mode restored after
    (a model mixing train- and eval-mode submodules comes back as it was).

    >>> net = torch.nn.Sequential(torch.nn.Dropout(), torch.nn.Dropout().eval())
    >>> with eval_mode(net) as m:
    ...     m.training
    False
    >>> [m.training for m in net.modules()]
    [True, True, False]
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, was in modes:
            m.training = was


@torch.no_grad()
def run_model(model: torch.nn.Module, x: torch.Tensor) -> Any:
    """``model(x)`` in eval mode without gradients (every submodule's mode restored)."""
    with eval_mode(model):
        return model(x)
