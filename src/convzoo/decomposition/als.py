"""CP-ALS (alternating least squares) for a batch of tensors, started from given terms and
stopped on a tolerance.

Each sweep updates the factors mode by mode, ``F_m = MTTKRP_m (hadamard_{j != m} F_j^T F_j)^-1``
(Kolda & Bader 2009), with the one large contraction of a sweep shared: the tensor is
contracted with the updated first factor once, and the updates of the other modes read that
product (a "dimension tree"), so a sweep costs two passes over the tensor instead of one per
mode. The relative error is tracked from Gram matrices at no extra pass; ALS stops when a
sweep lowers it by less than ``tol`` (relative), after ``max_sweeps``, or when ``stop`` is set.
The result is never worse than the start: if ALS does not lower the error, the start is kept.
"""

from __future__ import annotations

import math
import threading

import torch

from convzoo.decomposition.cp_terms import Terms, reconstruct

__all__ = ["cp_als", "Interrupted"]

#: Above this many multiply-adds per pass (tensor elements x rank), sweeps run in float32.
_FLOAT32_ABOVE = 20_000_000


class Interrupted(KeyboardInterrupt):
    """Raised inside a worker when the shared ``stop`` event is set (Ctrl-C)."""


def _hadamard(grams: list[torch.Tensor], skip: int) -> torch.Tensor:
    """The elementwise product of every Gram matrix but ``grams[skip]``."""
    out = None
    for j, g in enumerate(grams):
        if j != skip:
            out = g if out is None else out * g
    return out  # type: ignore[return-value]


def _solve(v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``m v^-1`` for symmetric PSD ``v`` ``(B, R, R)`` and ``m`` ``(B, d, R)`` (a tiny ridge
    keeps it defined when columns are collinear)."""
    eye = torch.eye(v.shape[-1], dtype=v.dtype)
    scale = torch.diagonal(v, dim1=-2, dim2=-1).mean(-1).clamp_min(1e-300)[:, None, None]
    ridge = (1e-12 if v.dtype == torch.float64 else 1e-6) * scale
    chol, info = torch.linalg.cholesky_ex(v + ridge * eye)
    if bool((info == 0).all()):
        return torch.cholesky_solve(m.transpose(1, 2), chol).transpose(1, 2)
    return m @ torch.linalg.pinv(v, hermitian=True)


def _balance(factors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Columns rescaled so that every mode holds the same norm per term (the product kept)."""
    norms = [f.norm(dim=1, keepdim=True).clamp_min(1e-30) for f in factors]
    total = torch.stack(norms).prod(0) ** (1 / len(factors))
    return [f / n * total for f, n in zip(factors, norms, strict=True)]


def _rest_product(rest: list[torch.Tensor], dims: list[int]) -> torch.Tensor:
    """The Khatri-Rao product of the trailing modes' factors: ``(B, prod(dims), R)``, row-major
    over those modes (ones when there are none)."""
    if not rest:
        return None  # type: ignore[return-value]
    out = rest[0]
    for f in rest[1:]:
        out = (out[:, :, None, :] * f[:, None, :, :]).reshape(out.shape[0], -1, out.shape[-1])
    return out


def _rest_mttkrp(w: torch.Tensor, rest: list[torch.Tensor], dims: list[int],
                 mode: int) -> torch.Tensor:
    """MTTKRP of trailing mode ``mode`` from ``w`` ``(B, prod(dims), R)`` (the tensor already
    contracted with the first two factors): the other trailing modes contracted away."""
    b, _, r = w.shape
    grid = w.reshape(b, *dims, r)
    for j in reversed(range(len(dims))):
        if j == mode:
            continue
        shape = [b] + [1] * len(dims) + [r]
        shape[1 + j] = dims[j]
        grid = (grid * rest[j].reshape(shape)).sum(1 + j, keepdim=True)
    return grid.reshape(b, dims[mode], r)


def cp_als(tensor: torch.Tensor, start: Terms, tol: float = 1e-5, max_sweeps: int = 200,
           stop: threading.Event | None = None) -> tuple[Terms, float, int]:
    """Refine the CP ``start`` of each tensor of the batch ``(B, d_0, d_1, *rest)`` by ALS.

    The first two modes are the large ones (a conv's channels; for ``flattened`` the input
    channels and the first kernel axis): each sweep contracts the tensor with one of their
    factors twice, as batched matrix products over the taps of the trailing modes.

    Args:
        tensor: ``(B, d_0, d_1, *rest)``.
        start: the initial terms (e.g. :func:`~convzoo.decomposition.cp_terms.exact_terms`'s
            head). tol: stop when a sweep lowers the relative error by less than this
            fraction of it (default 1e-5). max_sweeps: at most this many (default 200).
        stop: set by another thread to interrupt (raises :class:`Interrupted`).

    Returns:
        ``(terms, relative_error, sweeps)``: unit-norm factor columns and their weights, the
        error ``||T - T_hat|| / ||T||`` over the whole batch, the sweeps run.

    >>> from convzoo.decomposition.cp_terms import exact_terms
    >>> t = torch.randn(1, 6, 5, 3, dtype=torch.float64)
    >>> first = exact_terms(t).head(4)
    >>> err = lambda terms: float((reconstruct(terms) - t).norm() / t.norm())
    >>> refined, e, _ = cp_als(t, first)
    >>> e <= err(first) + 1e-12, abs(e - err(refined)) < 1e-9
    (True, True)
    """
    rank = start.rank
    b, d0, d1, *dims = tensor.shape
    taps = math.prod(dims)
    dtype = torch.float32 if tensor.numel() * rank > _FLOAT32_ABOVE else torch.float64
    t = tensor.to(dtype).reshape(b, d0, d1, taps).permute(0, 3, 1, 2).contiguous()  # (B,P,d0,d1)
    tt = t.transpose(2, 3)  # (B, P, d1, d0)
    norm2 = float(t.pow(2).sum())
    weights = start.weights.to(dtype)
    scale = weights.abs().clamp_min(1e-300) ** (1 / len(start.factors))
    factors = [f.to(dtype) * scale[:, None, :] for f in start.factors]
    factors[0] = factors[0] * torch.sign(weights + (weights == 0).to(dtype))[:, None, :]
    n = len(factors)
    best, best_factors, sweeps = math.inf, factors, 0
    previous = math.inf
    for sweeps in range(1, max_sweeps + 1):  # noqa: B007 - sweeps is returned
        if stop is not None and stop.is_set():
            raise Interrupted
        grams = [f.transpose(1, 2) @ f for f in factors]
        kr = _rest_product(factors[2:], dims)  # (B, P, R) or None
        x = t @ factors[1][:, None]  # (B, P, d0, R): the first pass over the tensor
        m = (x * kr[:, :, None, :]).sum(1) if kr is not None else x[:, 0]
        factors[0] = _solve(_hadamard(grams, 0), m)
        grams[0] = factors[0].transpose(1, 2) @ factors[0]
        z = tt @ factors[0][:, None]  # (B, P, d1, R): the second
        m = (z * kr[:, :, None, :]).sum(1) if kr is not None else z[:, 0]
        factors[1] = _solve(_hadamard(grams, 1), m)
        grams[1] = factors[1].transpose(1, 2) @ factors[1]
        if dims:
            w = (z * factors[1][:, None]).sum(2)  # (B, P, R)
            for j in range(len(dims)):
                m = _rest_mttkrp(w, factors[2:], dims, j)
                factors[2 + j] = _solve(_hadamard(grams, 2 + j), m)
                grams[2 + j] = factors[2 + j].transpose(1, 2) @ factors[2 + j]
        inner = float((m * factors[n - 1]).sum())
        fitted = float(torch.stack(grams).prod(0).sum())
        error = math.sqrt(max(norm2 - 2 * inner + fitted, 0.0) / max(norm2, 1e-300))
        factors = _balance(factors)
        if error < best:
            best, best_factors = error, [f.clone() for f in factors]
        if not math.isfinite(error) or previous - error < tol * previous or error < 1e-12:
            break
        previous = error
    out = _terms(best_factors, start.weights.dtype)
    exact = _error(tensor, out)
    first = _error(tensor, start)
    if not math.isfinite(exact) or exact > first:
        return start, first, sweeps
    return out, exact, sweeps


def _terms(factors: list[torch.Tensor], dtype: torch.dtype) -> Terms:
    """Unit-norm columns and their weights (the product of the column norms)."""
    norms = [f.to(dtype).norm(dim=1) for f in factors]  # (B, R) each
    weights = torch.stack(norms).prod(0)
    unit = [f.to(dtype) / n.clamp_min(1e-300)[:, None, :] for f, n in zip(factors, norms,
                                                                           strict=True)]
    return Terms(weights, unit)


def _error(tensor: torch.Tensor, terms: Terms) -> float:
    """Exact relative error over the batch (float64)."""
    diff = reconstruct(Terms(terms.weights.to(torch.float64),
                             [f.to(torch.float64) for f in terms.factors]))
    return float((diff - tensor.to(torch.float64)).norm() / tensor.to(torch.float64).norm()
                 .clamp_min(1e-300))
