"""``"tucker"``: Tucker-2 (Kim et al. 2016) through TensorLy's ``partial_tucker`` on the two
channel modes: ``W = G x_0 U_out x_1 U_in``, run as ``Pointwise(C_in -> R_in)``, the core conv
``(R_out, R_in, *k)`` (same stride, padding, dilation and padding mode as the original), then
``Pointwise(R_out -> C_out)`` with the bias. Exact at ``(R_out, R_in) = (C_out, C_in)``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from convzoo.arithmetic import is_int
from convzoo.decompose.factorization import Factorization, check_rank, energy_rank, load_
from convzoo.decompose.target import Target
from convzoo.layers import Conv, Pointwise
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "factorize", "tucker_ranks"]


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


def _mode_energy(w: torch.Tensor, mode: int, energy: float) -> int:
    unfolded = w.movedim(mode, 0).reshape(w.shape[mode], -1)
    return energy_rank(torch.linalg.svdvals(unfolded) ** 2, energy)


def factorize(target: Target, rank: object = None, energy: float = 1.0) -> Factorization:
    """Tucker-2 factorization of ``target``; ``rank`` an int or ``(R_out, R_in)``, or the
    per-mode ranks keeping ``energy`` of each channel unfolding's squared spectrum.

    >>> from convzoo.decompose.target import find_targets
    >>> f = factorize(find_targets(torch.nn.Conv2d(4, 6, 3))[0], rank=(3, 2))
    >>> [tuple(m.weight.shape) for m in f.module]
    [(2, 4, 1, 1), (3, 2, 3, 3), (6, 3, 1, 1)]
    """
    import tensorly as tl
    from tensorly.decomposition import partial_tucker

    spec, w = target.spec, target.weight
    full = full_rank(spec)
    if rank is not None:
        r_out, r_in = tucker_ranks(rank, spec)
    else:
        r_out, r_in = _mode_energy(w, 0, energy), _mode_energy(w, 1, energy)
    with tl.backend_context("pytorch"):
        (core, (u_out, u_in)), _ = partial_tucker(w, rank=[r_out, r_in], modes=[0, 1],
                                                  init="svd", n_iter_max=100, tol=1e-10)
    module = nn.Sequential(
        Pointwise(spec.in_channels, r_in, bias=False, ndim=spec.ndim, dtype=torch.float64),
        Conv(r_in, r_out, spec.kernel_size, spec.stride, spec.padding, spec.dilation,
             bias=False, padding_mode=spec.padding_mode, ndim=spec.ndim, dtype=torch.float64),
        Pointwise(r_out, spec.out_channels, bias=target.bias is not None, ndim=spec.ndim,
                  dtype=torch.float64),
    )
    load_(module[0].weight, u_in.T)  # (R_in, C_in)
    load_(module[1].weight, core)  # (R_out, R_in, *k)
    load_(module[2].weight, u_out)  # (C_out, R_out)
    if target.bias is not None:
        load_(module[2].bias, target.bias)
    weight = torch.einsum("or,ri...->oi...", u_out, torch.einsum("ri...,ci->rc...", core, u_in))
    return Factorization("tucker", (r_out, r_in), full, module, weight.detach())
