"""What every factorization method returns, and the rank rules they share."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import is_int

__all__ = ["Factorization", "Rank", "check_rank", "check_energy", "check_fraction",
           "energy_rank", "load_"]

#: A rank: an int, or Tucker's ``(R_out, R_in)``.
Rank = int | tuple[int, ...]


@dataclass
class Factorization:
    """One convolution written as a chain of convzoo layers.

    Attributes:
        method: the method name. rank: the rank used (an int; Tucker: ``(R_out, R_in)``).
        full_rank: the rank at which the method is exact.
        module: the replacement (parameters in the conv's dtype; same input -> output map as
            the conv up to the truncation).
        weight: the dense ``(C_out, C_in, *k)`` kernel the replacement computes (float64).
    """

    method: str
    rank: Rank
    full_rank: Rank
    module: nn.Module
    weight: torch.Tensor

    @property
    def exact(self) -> bool:
        """Whether the rank is the full rank (the replacement is then exact)."""
        return self.rank == self.full_rank


def check_rank(rank: object, full: int, method: str) -> int:
    """A positive int rank, capped at ``full`` (the method's exact rank).

    >>> check_rank(4, 9, "separable"), check_rank(20, 9, "separable")
    (4, 9)
    """
    if not is_int(rank) or rank < 1:  # type: ignore[operator]
        raise ValueError(f"`rank` (={rank!r}) must be a positive int for method {method!r}")
    return min(int(rank), full)  # type: ignore[call-overload]


def check_fraction(value: object, name: str, meaning: str) -> float:
    """``value`` as a float in ``(0, 1]``; a ValueError naming ``name`` and what it means.

    >>> check_fraction(0.0, "budget", "of the MACs kept")
    Traceback (most recent call last):
    ...
    ValueError: `budget` (=0.0) must be a number in (0, 1] (the fraction of the MACs kept)
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 < value <= 1:  # type: ignore[operator]
        raise ValueError(f"`{name}` (={value!r}) must be a number in (0, 1] (the fraction "
                         f"{meaning})")
    return float(value)  # type: ignore[arg-type]


def check_energy(energy: object) -> float:
    """``energy`` must be a number in ``(0, 1]`` (the fraction of the squared weight norm kept).

    >>> check_energy(0.9)
    0.9
    """
    return check_fraction(energy, "energy", "of the squared weight norm kept")


def energy_rank(per_rank: torch.Tensor, energy: float) -> int:
    """Smallest rank ``r`` whose first ``r`` entries of ``per_rank`` (squared singular values,
    largest first) hold at least ``energy`` of their sum; ``energy=1`` gives the full length.

    >>> energy_rank(torch.tensor([9.0, 4.0, 1.0]), 0.9), energy_rank(torch.tensor([1.0, 0.0]), 1)
    (2, 2)
    """
    n = per_rank.numel()
    if energy >= 1:
        return n
    cumulative = torch.cumsum(per_rank.to(torch.float64), 0)
    total = float(cumulative[-1])
    if total <= 0:
        return 1
    return min(int((cumulative < energy * total).sum()) + 1, n)


@torch.no_grad()
def load_(parameter: torch.Tensor | None, value: torch.Tensor) -> None:
    """Copy ``value`` (reshaped, cast to the parameter's dtype) into ``parameter``."""
    if parameter is None:
        raise ValueError("`parameter` (=None) must be a tensor to load into")
    parameter.copy_(value.reshape(parameter.shape))
