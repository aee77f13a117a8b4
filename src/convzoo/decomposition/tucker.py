"""``"tucker"``: Tucker-2 on the two channel modes (Kim et al. 2016),
``W = G x_0 U_out x_1 U_in``, run as ``Pointwise(C_in -> R_in)``, the core conv
``(R_out, R_in, *k)`` (same stride, padding, dilation and padding mode as the original), then
``Pointwise(R_out -> C_out)`` with the bias. Exact at ``(R_out, R_in) = (C_out, C_in)``.

The factors come from the eigenvectors of the two channel unfoldings (HOSVD), computed once
per layer; rotating the whole kernel by them once gives the energy of every leading core
block, so the error of every ``(R_out, R_in)`` is exact for the truncated HOSVD
(``||W - W_hat||^2 = ||W||^2 - ||G[:R_out, :R_in]||^2``). :meth:`TuckerCurve.polish` then
refines the chosen ranks by HOOI (alternating projections, stopped on a tolerance), which only
lowers the error (for the ranks a plan keeps: the search ranks by the exact HOSVD errors).
With data, the kernel's input modes (channels and spatial axes) are whitened first
(:func:`~convzoo.decomposition.stats.input_whitening`).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from convzoo.arithmetic import is_int
from convzoo.decomposition.curve import Curve, gram_eigh, rank_grid
from convzoo.decomposition.factorization import Factorization, check_rank, load_
from convzoo.decomposition.stats import LayerSample, unwhiten
from convzoo.decomposition.target import Target
from convzoo.layers import Conv, Pointwise
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "tucker_ranks", "TuckerCurve"]


def full_rank(spec: ConvSpec) -> tuple[int, int]:
    """``(C_out, C_in)``.

    >>> full_rank(ConvSpec(16, 32, 3))
    (32, 16)
    """
    return (spec.out_channels, spec.in_channels)


def tucker_ranks(rank: object, spec: ConvSpec) -> tuple[int, int]:
    """``rank`` as ``(R_out, R_in)``, each capped at its channel count: an int applies to both.

    >>> tucker_ranks(8, ConvSpec(4, 16, 3)), tucker_ranks((3, 2), ConvSpec(4, 16, 3))
    ((8, 4), (3, 2))
    """
    full = full_rank(spec)
    if is_int(rank):
        return (check_rank(rank, full[0], "tucker"), check_rank(rank, full[1], "tucker"))
    if (isinstance(rank, tuple | list) and len(rank) == 2 and all(is_int(v) and v >= 1
                                                                 for v in rank)):
        return (min(int(rank[0]), full[0]), min(int(rank[1]), full[1]))
    raise ValueError(f"`rank` (={rank!r}) must be a positive int or a pair (R_out, R_in) of "
                     "positive ints for method 'tucker'")


def _mode_product(w: torch.Tensor, u: torch.Tensor, mode: int) -> torch.Tensor:
    """``w`` with mode ``mode`` (0 or 1) multiplied by ``u^T``: ``(.., n, ..) -> (.., r, ..)``."""
    return torch.einsum("oc...,or->rc...", w, u) if mode == 0 else \
        torch.einsum("oc...,cr->or...", w, u)


class TuckerCurve(Curve):
    """HOSVD of the kernel once; the exact error of every ``(R_out, R_in)`` from the energy of
    the rotated kernel's leading blocks.

    >>> from convzoo.decomposition.target import find_targets
    >>> c = TuckerCurve(find_targets(nn.Conv2d(8, 6, 3))[0], (1, 8, 7, 7))
    >>> c.full_rank, c.error((6, 8)) < 1e-6, c.error((2, 2)) > c.error((4, 4))
    ((6, 8), True, True)
    """

    method = "tucker"

    def __init__(self, target: Target, input_shape: tuple[int, ...] | None,
                 sample: LayerSample | None = None) -> None:
        super().__init__(target, input_shape)
        self.full_rank = full_rank(self.spec)
        w = self._whitened(target.weight, sample)
        self._w = w  # the (possibly whitened) kernel the factors approximate
        self._total = float(w.pow(2).sum())
        _, self._u_out = gram_eigh(w.movedim(0, 0).reshape(w.shape[0], -1))
        _, self._u_in = gram_eigh(w.movedim(1, 0).reshape(w.shape[1], -1))
        # the whole kernel rotated once (float32 for kernels over 2M weights of a float32
        # model: the energies are then exact to ~1e-7 of the total)
        rotate = torch.float32 if w.numel() > 2_000_000 and target.dtype != torch.float64 \
            else w.dtype
        core = _mode_product(_mode_product(w.to(rotate), self._u_out.to(rotate), 0),
                             self._u_in.to(rotate), 1)
        energy = core.pow(2).reshape(core.shape[0], core.shape[1], -1).sum(-1).to(w.dtype)
        self._kept = energy.cumsum(0).cumsum(1)  # (C_out, C_in): energy of G[:a+1, :b+1]
        self._refined: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def stages(self, rank: tuple[int, int]) -> list[ConvSpec]:  # type: ignore[override]
        s, (r_out, r_in) = self.spec, rank
        return [ConvSpec(s.in_channels, r_in, 1, bias=False, ndim=s.ndim),
                ConvSpec(r_in, r_out, s.kernel_size, s.stride, s.padding, s.dilation,
                         bias=False, padding_mode=s.padding_mode, ndim=s.ndim),
                ConvSpec(r_out, s.out_channels, 1, bias=s.bias, ndim=s.ndim)]

    def _make_grid(self) -> list[tuple[int, int]]:  # type: ignore[override]
        """Pairs of the two modes' rank grids cheaper than the conv, each pair kept only if
        it has a lower error than every cheaper pair (the Pareto front)."""
        dense = self.dense_cost()[1]
        pairs = [(a, b) for a in rank_grid(self.full_rank[0])
                 for b in rank_grid(self.full_rank[1])]
        costed = sorted((self.cost(p)[1], self.error(p), p) for p in pairs)
        out, best = [], float("inf")
        for macs, err, p in costed:
            if macs >= dense:
                break
            if err < best:
                out.append(p)
                best = err
        return out

    def error(self, rank: tuple[int, int]) -> float:  # type: ignore[override]
        r_out, r_in = tucker_ranks(rank, self.spec)
        kept = float(self._kept[r_out - 1, r_in - 1])
        return max(self._total - kept, 0.0) ** 0.5 / max(self._total, 1e-300) ** 0.5

    def weight_error(self, rank: tuple[int, int]) -> float:  # type: ignore[override]
        if self._whiten is None:
            return self.error(rank)
        weight = self.build(rank).weight
        return float((weight - self.target.weight).norm()) / max(self.norm2, 1e-300) ** 0.5

    def rank_for_energy(self, energy: float) -> tuple[int, int]:  # type: ignore[override]
        """The pair with the fewest MACs (without an input shape: parameters) whose error
        meets ``energy`` (for each ``R_in``, the smallest ``R_out`` that does, by the exact
        HOSVD errors)."""
        if energy >= 1:
            return self.full_rank
        need = energy * self._total * (1 - 1e-12)
        best: tuple[int, tuple[int, int]] | None = None
        for b in range(self._kept.shape[1]):
            column = self._kept[:, b]
            a = int(torch.searchsorted(column.contiguous(), torch.tensor(need, dtype=column.dtype)))
            if a >= column.numel():
                continue
            pair = (a + 1, b + 1)
            size = self.cost(pair)[1] if self.input_shape is not None else \
                sum(spec.params for spec in self.stages(pair))
            if best is None or size < best[0]:
                best = (size, pair)
        return self.full_rank if best is None else best[1]

    def _hooi(self, r_out: int, r_in: int, tol: float = 1e-6,
              iterations: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
        u_out, u_in = self._u_out[:, :r_out], self._u_in[:, :r_in]
        last = -1.0
        for _ in range(iterations):
            half = _mode_product(self._w, u_out, 0)  # (R_out, C_in, *k)
            _, u_in = gram_eigh(half.movedim(1, 0).reshape(half.shape[1], -1))
            u_in = u_in[:, :r_in]
            half = _mode_product(self._w, u_in, 1)  # (C_out, R_in, *k)
            _, u_out = gram_eigh(half.reshape(half.shape[0], -1))
            u_out = u_out[:, :r_out]
            kept = float(_mode_product(half, u_out, 0).pow(2).sum())
            if last >= 0 and kept - last <= tol * self._total:
                break
            last = kept
        return u_out, u_in

    def polish(self, rank: object) -> bool:
        """Refine ``rank``'s factors by HOOI (alternating projections, stopped on a
        tolerance), which only lowers the error; :meth:`build` then uses them. True if it ran
        now."""
        pair = tucker_ranks(rank, self.spec)
        if pair in self._refined or pair == self.full_rank:
            return False
        self._refined[pair] = self._hooi(*pair)
        return True

    def build(self, rank: object) -> Factorization:  # type: ignore[override]
        """The replacement at ``rank``: the truncated HOSVD (its error is :meth:`error`'s),
        or the HOOI factors once :meth:`polish` ran."""
        s, dtype = self.spec, self.target.dtype
        r_out, r_in = tucker_ranks(rank, s)
        u_out, u_in = self._refined.get((r_out, r_in), (self._u_out[:, :r_out],
                                                         self._u_in[:, :r_in]))
        core = _mode_product(_mode_product(self._w, u_out, 0), u_in, 1)  # (R_out, R_in, *k)
        first = u_in.T  # (R_in, C_in), on the whitened input
        if self._whiten is not None:  # back to the raw input: first @ L_c^-1, taps @ L_a^-1
            first = unwhiten(first, self._whiten[0], 1)
            for axis, factor in enumerate(self._whiten[1:]):
                core = unwhiten(core, factor, 2 + axis)
        module = nn.Sequential(
            Pointwise(s.in_channels, r_in, bias=False, ndim=s.ndim, dtype=dtype),
            Conv(r_in, r_out, s.kernel_size, s.stride, s.padding, s.dilation, bias=False,
                 padding_mode=s.padding_mode, ndim=s.ndim, dtype=dtype),
            Pointwise(r_out, s.out_channels, bias=s.bias, ndim=s.ndim, dtype=dtype),
        )
        load_(module[0].weight, first)
        load_(module[1].weight, core)
        load_(module[2].weight, u_out)
        if self.target.bias is not None:
            load_(module[2].bias, self.target.bias)
        weight = torch.einsum("or,ri...,ic->oc...", u_out, core, first)
        return Factorization("tucker", (r_out, r_in), self.full_rank, module, weight)
