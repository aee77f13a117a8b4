"""``"flattened"``: every output filter as a sum of R rank-one filters
``L[c] V[i] H[j]`` (channel x vertical x horizontal, Jin, Dundar & Culurciello 2014), run as a
:class:`~convzoo.layers.Flattened` ``C_in -> C_out*R`` (lateral, vertical, horizontal 1-D
convs) and a grouped 1x1 conv (``groups=C_out``) that sums each filter's R terms with their
weights and adds the bias. Each filter's terms come from TensorLy's CP-ALS (``parafac``)
started from its largest exact rank-one terms (:mod:`convzoo.decompose.cp_terms`); at
``R = min(C_in, k_1) * prod(k_2..)`` those are the exact expansion.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from convzoo.decompose.cp_terms import exact_terms, reconstruct, refine
from convzoo.decompose.factorization import Factorization, check_rank, energy_rank, load_
from convzoo.decompose.target import Target
from convzoo.layers import Conv, Flattened
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "factorize"]


def full_rank(spec: ConvSpec) -> int:
    """``min(C_in, k_1) * prod(k_2, ...)``: exact rank-one terms per output filter.

    >>> full_rank(ConvSpec(16, 32, 3))
    9
    """
    k = spec.kernel_size
    return min(spec.in_channels, k[0]) * math.prod(k[1:])


def factorize(target: Target, rank: int | None = None, energy: float = 1.0,
              iterations: int = 15) -> Factorization:
    """Flattened factorization of ``target``, ``rank`` terms per output filter (or the fewest
    keeping ``energy`` over all filters), refined by CP-ALS below full rank.

    >>> from convzoo.decompose.target import find_targets
    >>> f = factorize(find_targets(torch.nn.Conv2d(4, 6, 3))[0], rank=2)
    >>> f.module[0].lateral.weight.shape, f.module[1].weight.shape
    (torch.Size([12, 4, 1, 1]), torch.Size([6, 2, 1, 1]))
    """
    spec, w = target.spec, target.weight
    c_out = spec.out_channels
    full = full_rank(spec)
    per_filter = [exact_terms(w[o]) for o in range(c_out)]  # each over (C_in, *k)
    if rank is not None:
        r = check_rank(rank, full, "flattened")
    else:
        r = energy_rank(torch.stack([t.weights**2 for t in per_filter]).sum(0), energy)
    chosen = [t.head(r) for t in per_filter]
    if r < full:
        chosen = [refine(w[o], t, iterations) for o, t in enumerate(chosen)]
    flat = Flattened(spec.in_channels, c_out * r, spec.kernel_size, spec.stride, spec.padding,
                     ndim=spec.ndim, bias=False).to(torch.float64)
    # channel o*R + j of the Flattened layer is term j of filter o
    load_(flat.lateral.weight, torch.cat([t.factors[0].T for t in chosen]))
    for a, stage in enumerate(flat.axes):
        load_(stage.weight, torch.cat([t.factors[a + 1].T for t in chosen]))
    add = Conv(c_out * r, c_out, 1, groups=c_out, bias=target.bias is not None,
               ndim=spec.ndim, dtype=torch.float64)
    load_(add.weight, torch.stack([t.weights for t in chosen]))
    if target.bias is not None:
        load_(add.bias, target.bias)
    weight = torch.stack([reconstruct(t) for t in chosen])
    return Factorization("flattened", r, full, nn.Sequential(flat, add), weight)
