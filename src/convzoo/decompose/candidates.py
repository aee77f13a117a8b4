"""Candidate replacements of one layer: each method at a grid of ranks, counted and scored."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.decompose.factorization import Factorization
from convzoo.decompose.measure import cost, relative_error
from convzoo.decompose.methods import METHODS, factorize
from convzoo.decompose.target import Target, refusal

__all__ = ["Candidate", "Layer", "evaluate", "rank_grid", "candidates"]

Rank = int | tuple[int, ...]

#: Fractions of the channel counts tried by Tucker's grid.
_TUCKER_FRACTIONS = (1 / 16, 1 / 8, 3 / 16, 1 / 4, 3 / 8, 1 / 2, 3 / 4, 1)


@dataclass
class Layer:
    """A target with what it saw on the example: its input and (float64) output, and its cost.

    Attributes:
        target: the :class:`~convzoo.decompose.target.Target`. x: its input (model dtype).
        y: the original conv's float64 output on ``x``. params, macs: its own counts.
    """

    target: Target
    x: torch.Tensor
    y: torch.Tensor
    params: int
    macs: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(N, C_in, *spatial)`` of the layer's input on the example."""
        return tuple(self.x.shape)


@dataclass
class Candidate:
    """One replacement of a layer.

    Attributes:
        method, rank, exact: of the factorization. module: the replacement (float64).
        params, macs: its counts (``convzoo.analysis.summary``).
        weight_error: ``||W_hat - W|| / ||W||``. output_error: the same on the layer's output
            for the example input. latency_ms: measured median, or None if not measured.
    """

    method: str
    rank: Rank
    exact: bool
    module: nn.Module
    params: int
    macs: int
    weight_error: float
    output_error: float
    latency_ms: float | None = None


@torch.no_grad()
def evaluate(layer: Layer, f: Factorization) -> Candidate:
    """Count and score a factorization of ``layer``."""
    params, macs = cost(f.module, layer.input_shape)
    w = layer.target.weight
    y_hat = f.module(layer.x.to(torch.float64))
    return Candidate(f.method, f.rank, f.exact, f.module, params, macs,
                     relative_error(f.weight, w), relative_error(y_hat, layer.y))


def rank_grid(method: str, layer: Layer) -> list[Rank]:
    """Ranks tried for ``method``: powers of two and their 1.5x up to the full rank (Tucker:
    fractions of both channel counts), smallest first.

    >>> from convzoo.decompose.target import find_targets
    >>> t = find_targets(nn.Conv2d(8, 8, 3))[0]
    >>> rank_grid("separable", Layer(t, torch.zeros(1), torch.zeros(1), 0, 0))
    [1, 2, 3, 4, 6, 8]
    """
    full = METHODS[method].full_rank(layer.target.spec)
    if isinstance(full, tuple):
        pairs = [tuple(max(1, round(f * n)) for n in full) for f in _TUCKER_FRACTIONS]
        return list(dict.fromkeys(pairs))
    ranks, r = [], 1
    while r < full:
        ranks += [r, r + r // 2] if r > 1 else [1]
        r *= 2
    return sorted({v for v in ranks if v < full} | {full})


def candidates(layer: Layer, methods: tuple[str, ...]) -> list[Candidate]:
    """Every method of ``methods`` that accepts the layer, over its rank grid, up to the first
    rank that costs as many MACs as the layer itself (a dearer replacement is never chosen)."""
    out: list[Candidate] = []
    for method in methods:
        if refusal(layer.target.spec, method) is not None:
            continue
        for rank in rank_grid(method, layer):
            c = evaluate(layer, factorize(layer.target, method, rank=rank))
            if c.macs >= layer.macs:
                break
            out.append(c)
    return out
