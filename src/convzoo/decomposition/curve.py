"""What one method knows about one layer, computed once and reused for every rank.

A :class:`Curve` holds a method's decomposition of one conv's weight (its SVDs, or its CP
terms) so that the error, the parameters and the MACs of *every* rank come from it without
refactorizing: the errors of the SVD-based methods are sums of discarded squared singular
values (exact), the costs are counted by :mod:`convzoo.arithmetic` on the replacement's
:class:`~convzoo.spec.ConvSpec` chain (no module is built), and :meth:`Curve.build` builds the
replacement of one rank only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from convzoo.decomposition.factorization import Factorization, Rank
from convzoo.decomposition.target import Target
from convzoo.spec import ConvSpec

__all__ = ["Curve", "chain_cost", "rank_grid", "relative_from_tail", "gram_eigh",
           "gram_eigvals"]


def chain_cost(specs: Sequence[ConvSpec], input_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(params, MACs)`` of convs applied one after the other to ``input_shape``
    (:mod:`convzoo.arithmetic`'s conventions, as ``convzoo.analysis.summary`` counts them).

    >>> chain_cost([ConvSpec(8, 4, 1, bias=False), ConvSpec(4, 8, 3, padding=1)], (1, 8, 6, 6))
    (328, 11520)
    """
    params, macs, shape = 0, 0, tuple(input_shape)
    for spec in specs:
        params += spec.params
        macs += spec.macs(shape)
        shape = spec.output_shape(shape)
    return params, macs


def rank_grid(full: int, steps: float = 1.25) -> list[int]:
    """Ranks ``1..8`` then about ``steps`` times the previous, up to ``full`` (included).

    >>> rank_grid(20)
    [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 20]
    """
    out, r = [], 1
    while r < full:
        out.append(r)
        r = r + 1 if r < 8 else max(r + 1, int(r * steps))
    return [*out, full]


def relative_from_tail(squares: torch.Tensor, total: float) -> torch.Tensor:
    """Relative error of keeping the first ``r`` of ``squares`` (largest first), for every
    ``r`` in ``0..len``: ``sqrt(sum(squares[r:]) / total)``.

    >>> relative_from_tail(torch.tensor([3.0, 1.0]), 4.0).tolist()
    [1.0, 0.5, 0.0]
    """
    s = squares.to(torch.float64).clamp_min(0)
    tail = torch.cat([s.flip(0).cumsum(0).flip(0), s.new_zeros(1)])
    return (tail / total).clamp_min(0).sqrt() if total > 0 else torch.zeros_like(tail)


def gram_eigh(matrix: torch.Tensor, side: str = "left") -> tuple[torch.Tensor, torch.Tensor]:
    """Squared singular values (descending) and the singular vectors of ``matrix`` on
    ``side`` (``'left'``: columns of U, ``'right'``: columns of V), from the eigendecomposition
    of the Gram matrix on that side: far faster than an SVD of a wide matrix. Float64 up to
    1024 rows of the Gram matrix, float32 above (precise to ~1e-7 of the largest squared value,
    far below any truncation error; exactness at full rank is kept because the vectors are
    orthonormal).

    >>> s2, u = gram_eigh(torch.tensor([[3.0, 0.0], [0.0, 4.0]], dtype=torch.float64))
    >>> s2.tolist(), u.abs().tolist()
    ([16.0, 9.0], [[0.0, 1.0], [1.0, 0.0]])
    """
    m = matrix if side == "left" else matrix.T
    dtype = torch.float64 if m.shape[0] <= 1024 else torch.float32
    a = m.to(dtype)
    values, vectors = torch.linalg.eigh(a @ a.T)
    return values.flip(0).to(torch.float64).clamp_min(0), vectors.flip(1).to(matrix.dtype)


def gram_eigvals(matrix: torch.Tensor, side: str = "left") -> torch.Tensor:
    """The squared singular values of :func:`gram_eigh` alone (descending), about three
    times cheaper than with the vectors.

    >>> gram_eigvals(torch.tensor([[3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)).tolist()
    [16.0, 9.0]
    """
    m = matrix if side == "left" else matrix.T
    a = m.to(torch.float64 if m.shape[0] <= 1024 else torch.float32)
    return torch.linalg.eigvalsh(a @ a.T).flip(0).to(torch.float64).clamp_min(0)


class Curve:
    """One method on one conv: ranks, their exact errors and costs, and the replacement of
    any rank. Subclasses set :attr:`method` and :attr:`full_rank` and define
    :meth:`stages`, :meth:`_errors` / :meth:`error` and :meth:`build`.

    Attributes:
        target: the conv. input_shape: its input ``(N, C_in, *spatial)``. full_rank: the rank
            at which the replacement is exact. data_aware: whether the factors minimise the
            output error on the user's data (:mod:`convzoo.decomposition.stats`) instead of
            the weight error.
    """

    method = ""
    data_aware = False

    def __init__(self, target: Target, input_shape: tuple[int, ...] | None) -> None:
        self.target = target
        self.spec = target.spec
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.norm2 = float(target.weight.pow(2).sum())
        self._costs: dict[object, tuple[int, int]] = {}
        self._grid: list[Rank] | None = None

    full_rank: Rank = 0

    # -- costs ---------------------------------------------------------------------------
    def stages(self, rank: Rank) -> list[ConvSpec]:  # pragma: no cover - every method has it
        """The replacement's convs at ``rank``, in order."""
        raise NotImplementedError

    def cost(self, rank: Rank) -> tuple[int, int]:
        """``(params, MACs)`` of the replacement at ``rank`` (counted, nothing built).

        Every method's counts are affine in its rank (Tucker's: bilinear in ``R_out`` and
        ``R_in``), so they come from :func:`chain_cost` at ranks 1 and 2 (Tucker: the four
        pairs of 1 and 2), counted once per layer.
        """
        if self.input_shape is None:
            raise ValueError(f"layer {self.target.name!r}: costs need the layer's input shape")
        if rank not in self._costs:
            self._costs[rank] = self._affine(rank)
        return self._costs[rank]

    def _counted(self, rank: Rank) -> tuple[int, int]:
        key = ("counted", rank)
        if key not in self._costs:
            self._costs[key] = chain_cost(self.stages(rank), self.input_shape)  # type: ignore
        return self._costs[key]  # type: ignore[index]

    def _affine(self, rank: Rank) -> tuple[int, int]:
        if isinstance(rank, tuple):  # bilinear: c0 + a*x + b*y + d*x*y
            x, y = rank
            f11, f12, f21, f22 = (self._counted(r) for r in ((1, 1), (1, 2), (2, 1), (2, 2)))
            out = []
            for i in range(2):
                d = f22[i] - f21[i] - f12[i] + f11[i]
                a = f21[i] - f11[i] - d
                b = f12[i] - f11[i] - d
                c0 = f11[i] - a - b - d
                out.append(c0 + a * x + b * y + d * x * y)
            return out[0], out[1]
        one, two = self._counted(1), self._counted(2)
        return tuple(o + (t - o) * (rank - 1) for o, t in zip(one, two, strict=True))  # type: ignore

    def dense_cost(self) -> tuple[int, int]:
        """``(params, MACs)`` of the conv itself."""
        if self.input_shape is None:
            raise ValueError(f"layer {self.target.name!r}: costs need the layer's input shape")
        return chain_cost([self.spec], self.input_shape)

    # -- ranks and errors ----------------------------------------------------------------
    def grid(self) -> list[Rank]:
        """Ranks worth trying, cheapest first: every grid rank whose replacement costs fewer
        MACs than the conv itself (computed once)."""
        if self._grid is None:
            self._grid = self._make_grid()
        return self._grid

    def _make_grid(self) -> list[Rank]:
        dense = self.dense_cost()[1]
        out = []
        for r in rank_grid(int(self.full_rank)):  # type: ignore[call-overload]
            if self.cost(r)[1] >= dense:
                break
            out.append(r)
        return out

    def known(self, rank: Rank) -> bool:
        """Whether :meth:`error` of ``rank`` is free (True for every SVD-based method)."""
        return True

    def error(self, rank: Rank) -> float:  # pragma: no cover - every method has it
        """Relative error of the replacement at ``rank``: ``||W_hat - W|| / ||W||``, or, when
        :attr:`data_aware`, ``||(W_hat - W) x|| / ||W x||`` on the data's sampled patches."""
        raise NotImplementedError

    def weight_error(self, rank: Rank) -> float:
        """``||W_hat - W|| / ||W||`` at ``rank`` (what ``energy`` is defined on)."""
        return self.error(rank)

    def rank_for_energy(self, energy: float) -> Rank:
        """The cheapest rank (fewest MACs) that keeps ``energy`` of the squared weight norm:
        ``||W_hat - W||^2 <= (1 - energy) ||W||^2``; the full rank for ``energy=1``."""
        if energy >= 1:
            return self.full_rank
        return self._smallest_rank(energy, int(self.full_rank))  # type: ignore[call-overload]

    def _smallest_rank(self, energy: float, hi: int) -> int:
        """The smallest rank in ``1..hi`` whose weight error meets ``energy`` (errors fall with
        the rank: a bisection)."""
        bound = math.sqrt(max(1.0 - energy, 0.0)) * (1 + 1e-9)
        lo = 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.weight_error(mid) <= bound:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _whitened(self, w: torch.Tensor, sample: object) -> torch.Tensor:
        """``w`` with its input modes whitened by the data's moments when ``sample`` comes
        from data (then :attr:`data_aware`; the factors in ``self._whiten``), else ``w``."""
        from convzoo.decomposition.stats import LayerSample, input_whitening, whiten

        self._whiten: list[torch.Tensor] | None = None
        if isinstance(sample, LayerSample) and sample.data and \
                sample.channel_moment is not None:
            self.data_aware = True
            self._whiten = input_whitening(sample)  # channels, then each spatial axis
            return whiten(w, self._whiten)
        return w

    def build(self, rank: Rank) -> Factorization:  # pragma: no cover - every method has it
        """The replacement at ``rank`` (parameters in the conv's dtype)."""
        raise NotImplementedError
