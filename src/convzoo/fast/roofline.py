"""The machine's roofline, measured: peak float32 FLOP/s (a large matmul) and memory
bandwidth (a large copy), and the fraction of it a measured run reaches.

``roofline time = max(FLOPs / peak, min bytes / bandwidth)``; fraction = roofline time /
measured time (1.0 = at the roof). FLOPs are counted by ``torch.utils.flop_counter`` (which
reports 2 x MACs, DESIGN.md's convention); min bytes = input + output + parameters, once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from convzoo.analysis.timing import interleaved

__all__ = ["Roofline", "measure_roofline", "count_flops", "min_bytes"]


@dataclass(frozen=True)
class Roofline:
    """Measured peaks. Attributes: flops_per_s (float32 matmul), bytes_per_s (copy)."""

    flops_per_s: float
    bytes_per_s: float

    def time(self, flops: float, nbytes: float) -> float:
        """Roofline time (s) of a run with ``flops`` and ``nbytes``.

        >>> Roofline(1e9, 1e9).time(2e9, 1e9)
        2.0
        """
        return max(flops / self.flops_per_s, nbytes / self.bytes_per_s)


def measure_roofline(repeats: int = 10) -> Roofline:
    """Peak FLOP/s of a 1024x1024x1024 float32 matmul and bytes/s of a 256 MiB copy
    (read + write), medians of ``repeats`` interleaved runs."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    src = torch.empty(32 * 2**20, dtype=torch.float64).fill_(1.0)  # 256 MiB
    dst = torch.empty_like(src)
    t = interleaved({"mm": lambda: a @ b, "copy": lambda: dst.copy_(src)}, repeats, warmup=2)
    return Roofline(2 * 1024**3 / t["mm"].min, 2 * src.numel() * 8 / t["copy"].min)


def count_flops(fn, *args) -> int:
    """FLOPs (2 x MACs for convs and matmuls) of ``fn(*args)`` (forward, or whatever fn runs).

    >>> count_flops(nn.Conv2d(2, 3, 3, bias=False), torch.randn(1, 2, 5, 5))
    972
    """
    counter = FlopCounterMode(display=False)
    with counter:
        fn(*args)
    return int(counter.get_total_flops())


def min_bytes(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Input + output + parameter bytes (each touched once)."""
    params = sum(p.numel() * p.element_size() for p in module.parameters())
    return x.numel() * x.element_size() + y.numel() * y.element_size() + params
