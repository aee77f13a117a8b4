"""Tensor sizes as Python ints, also while ``torch.jit.trace`` records a module."""

from __future__ import annotations

import warnings

import torch

__all__ = ["static_shape"]


def static_shape(x: torch.Tensor) -> tuple[int, ...]:
    """``x.shape`` as a tuple of Python ints.

    Under ``torch.jit.trace`` each size is a 0-d tensor that records ``aten::size``, which
    the integer arithmetic (``convzoo.arithmetic``) rejects; here it is read as an int, so a
    value computed from it (a check, or the padding of ``'same'`` at stride > 1) is a
    constant of the trace, fixed at the example input's size: a traced module, and the
    TorchScript ONNX export made from it, then expect inputs of that size, as traces of
    shape-dependent code always do. Eagerly and under torch.compile/torch.export it is
    ``tuple(x.shape)``.

    >>> static_shape(torch.zeros(2, 3))
    (2, 3)
    """
    if not torch.jit.is_tracing():
        return tuple(x.shape)
    with warnings.catch_warnings():  # "converting a tensor to a Python integer": intended
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return tuple(int(s) for s in x.shape)
