"""Rank-one terms of a tensor, shared by ``"cp"`` and ``"flattened"``.

:func:`exact_terms` writes a tensor ``T`` of modes ``(m0, m1, *rest)`` exactly as a sum of
rank-one terms: for every index ``t`` of the other modes, the SVD of the matrix
``T[:, :, t]`` gives ``min(m0, m1)`` terms ``s * u (x) v (x) e_t``. Their number,
``min(m0, m1) * prod(rest)``, is the rank at which CP is guaranteed exact (the CP rank of a
tensor has no closed form). Keeping the ``R`` largest terms is a rank-``R`` CP whose squared
error is the sum of the squared weights left out; :func:`refine` then improves it by
alternating least squares in TensorLy (``parafac`` started from those terms).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Terms", "exact_terms", "refine", "reconstruct"]


@dataclass
class Terms:
    """A CP decomposition ``T = sum_r weights[r] * factors[0][:, r] (x) factors[1][:, r] ...``.

    Attributes:
        weights: ``(R,)``, largest first for :func:`exact_terms`. factors: one ``(dim, R)`` per
            mode.
    """

    weights: torch.Tensor
    factors: list[torch.Tensor]

    def head(self, rank: int) -> Terms:
        """The first ``rank`` terms."""
        return Terms(self.weights[:rank], [f[:, :rank] for f in self.factors])


def exact_terms(tensor: torch.Tensor) -> Terms:
    """The exact rank-one expansion described in the module docstring, largest weight first.

    >>> t = torch.randn(3, 4, 2, dtype=torch.float64)
    >>> terms = exact_terms(t)
    >>> terms.weights.shape, bool(torch.allclose(reconstruct(terms), t))
    (torch.Size([6]), True)
    """
    m0, m1, *rest = tensor.shape
    mats = tensor.reshape(m0, m1, -1).permute(2, 0, 1)  # (T, m0, m1)
    u, s, vh = torch.linalg.svd(mats, full_matrices=False)  # (T,m0,m) (T,m) (T,m,m1)
    m = s.shape[1]
    weights = s.reshape(-1)  # term (t, j) at t*m + j
    f0 = u.permute(1, 0, 2).reshape(m0, -1)
    f1 = vh.permute(2, 0, 1).reshape(m1, -1)
    factors = [f0, f1]
    taps = list(itertools.product(*[range(d) for d in rest]))
    for axis, size in enumerate(rest):
        f = tensor.new_zeros(size, len(taps) * m)
        for t, tap in enumerate(taps):
            f[tap[axis], t * m:(t + 1) * m] = 1.0
        factors.append(f)
    order = torch.argsort(weights, descending=True, stable=True)
    return Terms(weights[order], [f[:, order] for f in factors])


def reconstruct(terms: Terms) -> torch.Tensor:
    """The full tensor of ``terms``."""
    letters = "abcdefgh"[:len(terms.factors)]
    spec = ",".join(f"{c}r" for c in letters)
    return torch.einsum(f"r,{spec}->{letters}", terms.weights, *terms.factors)


def refine(tensor: torch.Tensor, start: Terms, iterations: int = 15) -> Terms:
    """``start`` improved by CP-ALS (TensorLy ``parafac``, started from ``start``); ``start``
    itself if ALS does not lower the error (or fails numerically).

    >>> t = torch.randn(4, 4, 3, dtype=torch.float64)
    >>> first = exact_terms(t).head(3)
    >>> err = lambda terms: float((reconstruct(terms) - t).norm())
    >>> err(refine(t, first)) <= err(first)
    True
    """
    import tensorly as tl
    from tensorly.cp_tensor import CPTensor
    from tensorly.decomposition import parafac

    rank = start.weights.numel()
    # spread each weight over the factors so that ALS starts from balanced columns
    scale = start.weights.abs().clamp_min(1e-300) ** (1 / len(start.factors))
    sign = torch.where(start.weights < 0, -1.0, 1.0).to(start.weights)
    factors = [f * scale for f in start.factors]
    factors[0] = factors[0] * sign
    try:
        # numpy: far less overhead than torch on small tensors; explicit, because importing
        # tensorly-torch switches TensorLy's global backend to pytorch
        with tl.backend_context("numpy"):
            init = CPTensor((np.ones(rank), [f.numpy() for f in factors]))
            weights, out = parafac(tensor.numpy(), rank, init=init, n_iter_max=iterations,
                                   tol=1e-10, normalize_factors=False)
        result = Terms(torch.from_numpy(np.asarray(weights, np.float64)).reshape(rank).clone(),
                       [torch.from_numpy(np.asarray(f, np.float64)) for f in out])
    except (RuntimeError, ValueError, np.linalg.LinAlgError):
        return start
    before = float((reconstruct(start) - tensor).norm())
    after = float((reconstruct(result) - tensor).norm())
    return result if math.isfinite(after) and after < before else start
