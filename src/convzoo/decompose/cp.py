"""``"cp"``: CP decomposition of the whole kernel (Lebedev et al. 2015),
``W[o, c, i, j] = sum_r A[o, r] B[c, r] V[i, r] H[j, r]``, run as a
:class:`~convzoo.layers.Flattened` ``C_in -> R`` (pointwise ``B``, then one depthwise 1-D conv
per axis: ``V``, ``H``) followed by a :class:`~convzoo.layers.Pointwise` ``R -> C_out`` (``A``,
and the bias). The factors come from TensorLy's CP-ALS (``parafac``) started from the largest
exact rank-one terms (:mod:`convzoo.decompose.cp_terms`); at ``R = min(C_out, C_in)*prod(k)``
those terms are the exact expansion.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from convzoo.decompose.cp_terms import exact_terms, reconstruct, refine
from convzoo.decompose.factorization import Factorization, check_rank, energy_rank, load_
from convzoo.decompose.target import Target
from convzoo.layers import Flattened, Pointwise
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "factorize"]


def full_rank(spec: ConvSpec) -> int:
    """``min(C_out, C_in) * prod(k)``: the number of exact rank-one terms.

    >>> full_rank(ConvSpec(16, 32, 3))
    144
    """
    return min(spec.out_channels, spec.in_channels) * math.prod(spec.kernel_size)


def factorize(target: Target, rank: int | None = None, energy: float = 1.0,
              iterations: int = 15) -> Factorization:
    """CP factorization of ``target`` at ``rank`` (or the fewest exact terms keeping
    ``energy``), refined by ``iterations`` of TensorLy CP-ALS below full rank.

    >>> from convzoo.decompose.target import find_targets
    >>> f = factorize(find_targets(torch.nn.Conv2d(4, 6, 3))[0], rank=5)
    >>> f.module[0].lateral.weight.shape, f.module[1].weight.shape
    (torch.Size([5, 4, 1, 1]), torch.Size([6, 5, 1, 1]))
    """
    spec, w = target.spec, target.weight
    full = full_rank(spec)
    terms = exact_terms(w)
    r = check_rank(rank, full, "cp") if rank is not None else energy_rank(
        terms.weights**2, energy)
    terms = terms.head(r)
    if r < full:
        terms = refine(w, terms, iterations)
    out_f, in_f, *axis_f = terms.factors  # (C_out, R), (C_in, R), (k_a, R)...
    flat = Flattened(spec.in_channels, r, spec.kernel_size, spec.stride, spec.padding,
                     ndim=spec.ndim, bias=False).to(torch.float64)
    load_(flat.lateral.weight, in_f.T)
    for stage, f in zip(flat.axes, axis_f, strict=True):
        load_(stage.weight, f.T)
    mix = Pointwise(r, spec.out_channels, bias=target.bias is not None, ndim=spec.ndim,
                    dtype=torch.float64)
    load_(mix.weight, out_f * terms.weights)
    if target.bias is not None:
        load_(mix.bias, target.bias)
    return Factorization("cp", r, full, nn.Sequential(flat, mix), reconstruct(terms))
