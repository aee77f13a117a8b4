"""Default normalization/activation factories for composite layers (N-d BatchNorm, ReLU)."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn as nn

__all__ = ["batch_norm", "BATCH_NORMS"]

BATCH_NORMS: dict[int, type[nn.Module]] = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


def batch_norm(ndim: int) -> Callable[[int], nn.Module]:
    """``nn.BatchNorm{ndim}d`` (a factory called with the channel count)."""
    if ndim not in BATCH_NORMS:
        raise ValueError(f"`ndim` (={ndim!r}) must be 1, 2 or 3 for a BatchNorm")
    return BATCH_NORMS[ndim]
