"""What ``"cp"`` and ``"flattened"`` share: a kernel written as rank-one terms, the exact
expansion computed once (:func:`~convzoo.decomposition.cp_terms.exact_terms`), and CP-ALS
(:func:`~convzoo.decomposition.als.cp_als`) run once per rank asked for, started from the
expansion's largest terms and cached.

The error of a rank is known without ALS only as a bound (the truncated expansion's, which ALS
only lowers): :meth:`TermsCurve.known` says whether it has been computed, and the search asks
for ALS only near the ranks its plan uses. With data, the kernel's input modes (channels and
spatial axes) are whitened (:func:`~convzoo.decomposition.stats.input_whitening`) before
factoring, and their factors mapped back after.
"""

from __future__ import annotations

import threading

import torch

from convzoo.decomposition.als import cp_als
from convzoo.decomposition.cp_terms import (
    Terms,
    exact_terms,
    random_start,
    reconstruct,
    svd_start,
)
from convzoo.decomposition.curve import Curve, relative_from_tail
from convzoo.decomposition.factorization import energy_rank
from convzoo.decomposition.stats import LayerSample, unwhiten
from convzoo.decomposition.target import Target

__all__ = ["TermsCurve", "QUICK_SWEEPS", "PROBE_MACS", "FINAL_SWEEPS", "POLISH_MACS"]

#: CP-ALS sweeps per rank while searching (enough to rank it against the other options)...
QUICK_SWEEPS = 10

#: ... fewer (down to 3) where a sweep is dear: the probe stops near this many multiply-adds
#: (the widest layers' CP error is then a looser upper bound; decompose converges the ranks
#: it keeps).
PROBE_MACS = 5_000_000_000

#: Sweeps (at most) per start for the ranks a plan keeps, until the tolerance is met...
FINAL_SWEEPS = 300

#: ... fewer on the widest layers: the three starts stop near this many multiply-adds.
POLISH_MACS = 40_000_000_000


class TermsCurve(Curve):
    """A batch of tensors (:meth:`_batch`) factored as rank-one terms; ``rank`` terms each.

    Attributes:
        sweeps: ALS sweeps run per rank (for reports and benchmarks).
    """

    #: Which factor is the input-channel mode (whitened with data; the spatial axes follow).
    _input_mode = 1

    def __init__(self, target: Target, input_shape: tuple[int, ...] | None,
                 sample: LayerSample | None = None, stop: threading.Event | None = None) -> None:
        super().__init__(target, input_shape)
        w = self._whitened(target.weight, sample)
        self._batch_tensor = self._batch(w)  # (B, *modes)
        self._total = float(self._batch_tensor.pow(2).sum())
        precise = target.dtype == torch.float64 or max(self._batch_tensor.shape[1:3]) <= 512
        self._terms = exact_terms(self._batch_tensor if precise else
                                  self._batch_tensor.to(torch.float32))
        self._terms = Terms(self._terms.weights.to(torch.float64),
                            [f.to(torch.float64) for f in self._terms.factors])
        self._bounds = relative_from_tail(self._terms.weights.pow(2).sum(0), self._total)
        self._solved: dict[int, tuple[Terms, float]] = {}
        self._polished: set[int] = set()
        self.sweeps: dict[int, int] = {}
        self.stop = stop

    def _batch(self, w: torch.Tensor) -> torch.Tensor:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _unbatch(self, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover - subclasses
        raise NotImplementedError

    def known(self, rank: int) -> bool:  # type: ignore[override]
        return rank >= int(self.full_rank) or rank in self._solved  # type: ignore[call-overload]

    def bound(self, rank: int) -> float:
        """The truncated expansion's error (an upper bound of :meth:`error`), free."""
        return float(self._bounds[min(rank, len(self._bounds) - 1)])

    def terms(self, rank: int) -> tuple[Terms, float]:
        """The ``rank`` terms of every batch item (refined below full rank by a quick CP-ALS:
        at most :data:`QUICK_SWEEPS` sweeps, fewer on the widest layers (:data:`PROBE_MACS`),
        enough to rank options) and their relative error; computed once per rank, refined
        further by :meth:`polish`."""
        if rank >= int(self.full_rank):  # type: ignore[call-overload]
            return self._terms, 0.0
        if rank not in self._solved:
            start = self._terms.head(rank)
            per_sweep = 2 * self._batch_tensor.numel() * rank  # the two passes over the kernel
            sweeps = max(3, min(QUICK_SWEEPS, PROBE_MACS // max(per_sweep, 1)))
            terms, err, sweeps = cp_als(self._batch_tensor, start, tol=1e-4,
                                        max_sweeps=sweeps, stop=self.stop)
            self._solved[rank] = (terms, err)
            self.sweeps[rank] = sweeps
        return self._solved[rank]

    def polish(self, rank: int) -> bool:
        """Converge CP-ALS at ``rank`` (relative improvement per sweep below 1e-7) from three
        starts: the quick solution, TensorLy's SVD start
        (:func:`~convzoo.decomposition.cp_terms.svd_start`) and a seeded random one; keep the
        best. Each start gets up to :data:`FINAL_SWEEPS` sweeps, fewer on the widest layers
        (about :data:`POLISH_MACS` multiply-adds in all). True if it ran now."""
        if rank >= int(self.full_rank) or rank in self._polished:  # type: ignore[call-overload]
            return False
        start, _ = self.terms(rank)
        per_sweep = 2 * self._batch_tensor.numel() * rank
        sweeps = max(10, min(FINAL_SWEEPS, POLISH_MACS // max(3 * per_sweep, 1)))
        best = None
        for first in (start, svd_start(self._batch_tensor, rank),
                      random_start(self._batch_tensor, rank)):
            terms, err, ran = cp_als(self._batch_tensor, first, tol=1e-7, max_sweeps=sweeps,
                                     stop=self.stop)
            self.sweeps[rank] = self.sweeps.get(rank, 0) + ran
            if best is None or err < best[1]:
                best = (terms, err)
        self._solved[rank] = best  # type: ignore[assignment]
        self._polished.add(rank)
        return True

    def error(self, rank: int) -> float:  # type: ignore[override]
        return self.terms(rank)[1]

    def weight_error(self, rank: int) -> float:  # type: ignore[override]
        if self._whiten is None:
            return self.error(rank)
        weight = self.dense(rank)
        return float((weight - self.target.weight).norm()) / max(self.norm2, 1e-300) ** 0.5

    def rank_for_energy(self, energy: float) -> int:  # type: ignore[override]
        """The smallest rank whose ALS error meets ``energy``: searched below the rank at
        which the truncated expansion alone meets it."""
        full = int(self.full_rank)  # type: ignore[call-overload]
        if energy >= 1:
            return full
        return self._smallest_rank(energy, energy_rank(self._terms.weights.pow(2).sum(0),
                                                       energy))

    def factors(self, rank: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Weights ``(B, R)`` and factors (one ``(B, d, R)`` per mode) of ``rank`` terms,
        with the input-channel factor mapped back to the raw input when whitened."""
        terms, _ = self.terms(rank)
        factors = list(terms.factors)
        if self._whiten is not None:  # each whitened input mode's factor mapped back
            for i, factor in enumerate(self._whiten):
                m = self._input_mode + i
                factors[m] = unwhiten(factors[m], factor, 1)
        return terms.weights, factors

    def dense(self, rank: int) -> torch.Tensor:
        """The kernel ``(C_out, C_in, *k)`` of ``rank`` terms (float64)."""
        weights, factors = self.factors(rank)
        return self._unbatch(reconstruct(Terms(weights, factors)))
