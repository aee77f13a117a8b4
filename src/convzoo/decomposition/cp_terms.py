"""Rank-one terms of a batch of tensors, shared by ``"cp"`` and ``"flattened"``.

:func:`exact_terms` writes each tensor ``T`` of modes ``(m0, m1, *rest)`` exactly as a sum of
rank-one terms: for every index ``t`` of the other modes, the SVD of the matrix
``T[:, :, t]`` gives ``min(m0, m1)`` terms ``s * u (x) v (x) e_t``. Their number,
``min(m0, m1) * prod(rest)``, is the rank at which CP is guaranteed exact (the CP rank of a
tensor has no closed form). Keeping the ``R`` largest terms is a rank-``R`` CP whose squared
error is the sum of the squared weights left out: the start of CP-ALS
(:mod:`convzoo.decomposition.als`), which only lowers that error.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

__all__ = ["Terms", "exact_terms", "reconstruct", "svd_start", "random_start"]


@dataclass
class Terms:
    """A batch of CP decompositions
    ``T[b] = sum_r weights[b, r] * factors[0][b, :, r] (x) factors[1][b, :, r] ...``.

    Attributes:
        weights: ``(B, R)``, largest first for :func:`exact_terms`. factors: one
            ``(B, dim, R)`` per mode.
    """

    weights: torch.Tensor
    factors: list[torch.Tensor]

    def head(self, rank: int) -> Terms:
        """The first ``rank`` terms."""
        return Terms(self.weights[:, :rank], [f[:, :, :rank] for f in self.factors])

    @property
    def rank(self) -> int:
        """The number of terms."""
        return int(self.weights.shape[1])


def _batched_svd(mats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``U, s, V`` of a batch of small matrices ``(..., m0, m1)`` from the smaller Gram matrix
    (columns of U and V are singular vectors, ``s`` descending)."""
    m0, m1 = mats.shape[-2:]
    if m0 <= m1:
        values, u = torch.linalg.eigh(mats @ mats.transpose(-1, -2))
        s = values.flip(-1).clamp_min(0).sqrt()
        u = u.flip(-1)
        v = mats.transpose(-1, -2) @ u / s.clamp_min(1e-300).unsqueeze(-2)
        v = torch.where(s.unsqueeze(-2) > 0, v, 0.0)
    else:
        values, v = torch.linalg.eigh(mats.transpose(-1, -2) @ mats)
        s = values.flip(-1).clamp_min(0).sqrt()
        v = v.flip(-1)
        u = mats @ v / s.clamp_min(1e-300).unsqueeze(-2)
        u = torch.where(s.unsqueeze(-2) > 0, u, 0.0)
    return u, s, v


def exact_terms(tensor: torch.Tensor) -> Terms:
    """The exact rank-one expansion described in the module docstring, largest weight first,
    for each tensor of the batch ``(B, m0, m1, *rest)``.

    >>> t = torch.randn(2, 3, 4, 2, dtype=torch.float64)
    >>> terms = exact_terms(t)
    >>> terms.weights.shape, bool(torch.allclose(reconstruct(terms), t))
    (torch.Size([2, 6]), True)
    """
    b, m0, m1, *rest = tensor.shape
    mats = tensor.reshape(b, m0, m1, -1).permute(0, 3, 1, 2)  # (B, T, m0, m1)
    u, s, v = _batched_svd(mats)  # (B,T,m0,m) (B,T,m) (B,T,m1,m)
    m = s.shape[-1]
    taps = s.shape[1]
    weights = s.reshape(b, -1)  # term (t, j) at t*m + j
    f0 = u.permute(0, 2, 1, 3).reshape(b, m0, -1)
    f1 = v.permute(0, 2, 1, 3).reshape(b, m1, -1)
    factors = [f0, f1]
    positions = list(itertools.product(*[range(d) for d in rest]))
    for axis, size in enumerate(rest):
        f = tensor.new_zeros(size, taps * m)
        for t, tap in enumerate(positions):
            f[tap[axis], t * m:(t + 1) * m] = 1.0
        factors.append(f.expand(b, size, taps * m))
    order = torch.argsort(weights, dim=1, descending=True, stable=True)  # (B, n)
    gathered = [torch.gather(f, 2, order.unsqueeze(1).expand(-1, f.shape[1], -1))
                for f in factors]
    return Terms(torch.gather(weights, 1, order), gathered)


def svd_start(tensor: torch.Tensor, rank: int, seed: int = 0) -> Terms:
    """TensorLy's ``init='svd'`` start of a rank-``rank`` CP (the second start ALS tries): each
    mode's factor holds the leading left singular vectors of that mode's unfolding, completed
    by seeded normal columns where the mode has fewer dimensions than ``rank``.

    >>> s = svd_start(torch.randn(2, 4, 3, 3, dtype=torch.float64), 5)
    >>> [tuple(f.shape) for f in s.factors], s.weights.shape
    ([(2, 4, 5), (2, 3, 5), (2, 3, 5)], torch.Size([2, 5]))
    """
    b, *dims = tensor.shape
    g = torch.Generator().manual_seed(seed)
    factors = []
    for mode, d in enumerate(dims):
        unfolded = tensor.movedim(1 + mode, 1).reshape(b, d, -1)
        _, vectors = torch.linalg.eigh(unfolded @ unfolded.transpose(1, 2))
        lead = vectors.flip(-1)[:, :, :rank]
        if rank > d:
            extra = torch.randn(b, d, rank - d, generator=g, dtype=torch.float64)
            lead = torch.cat([lead, extra.to(lead.dtype)], dim=2)
        factors.append(lead)
    scale = tensor.pow(2).sum(dim=tuple(range(1, tensor.dim()))).sqrt() / rank
    return Terms(scale[:, None].expand(b, rank).clone(), factors)


def random_start(tensor: torch.Tensor, rank: int, seed: int = 1) -> Terms:
    """A seeded random start of a rank-``rank`` CP: standard normal factors, unit weights
    scaled to the tensor's norm.

    >>> [tuple(f.shape) for f in random_start(torch.ones(1, 3, 2), 4).factors]
    [(1, 3, 4), (1, 2, 4)]
    """
    b, *dims = tensor.shape
    g = torch.Generator().manual_seed(seed)
    factors = [torch.randn(b, d, rank, generator=g, dtype=torch.float64).to(tensor.dtype)
               for d in dims]
    scale = tensor.pow(2).sum(dim=tuple(range(1, tensor.dim()))).sqrt() / rank
    return Terms(scale[:, None].expand(b, rank).clone(), factors)


def reconstruct(terms: Terms) -> torch.Tensor:
    """The full tensors ``(B, *dims)`` of ``terms`` (the trailing modes' Khatri-Rao product
    first, then one matrix product: no ``dims x R`` intermediate)."""
    first, *others = terms.factors
    b, rank = terms.weights.shape
    x = others[-1]  # (B, d_last, R)
    for f in reversed(others[:-1]):
        x = (f[:, :, None, :] * x[:, None, :, :]).reshape(b, -1, rank)
    out = (first * terms.weights[:, None, :]) @ x.transpose(1, 2)  # (B, d_0, prod(rest))
    return out.reshape(b, first.shape[1], *[f.shape[1] for f in others])
