"""Running sums of a training epoch (loss x samples, correct predictions, ...), as float64
tensors on the CPU so that they add up exactly and reduce across DDP ranks."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["Sums", "make_sums", "add_sums"]

#: name -> summed value (a 0-d float64 CPU tensor).
Sums = dict[str, torch.Tensor]


def make_sums(**values: Any) -> Sums:
    """One batch's sums, each as a float64 CPU tensor (detached).

    >>> make_sums(loss=torch.tensor(1.5), n=4)
    {'loss': tensor(1.5000, dtype=torch.float64), 'n': tensor(4., dtype=torch.float64)}
    """
    return {k: torch.as_tensor(v, dtype=torch.float64).detach().cpu() for k, v in values.items()}


def add_sums(total: Sums, new: Sums) -> None:
    """``total += new``, key by key (in place)."""
    for k, v in new.items():
        total[k] = total[k] + v if k in total else v.clone()
