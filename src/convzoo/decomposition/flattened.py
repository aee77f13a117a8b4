"""``"flattened"``: every output filter as a sum of R rank-one filters
``L[c] V[i] H[j]`` (channel x vertical x horizontal, Jin, Dundar & Culurciello 2014), run as a
:class:`~convzoo.layers.Flattened` ``C_in -> C_out*R`` (lateral, vertical, horizontal 1-D
convs) and a grouped 1x1 conv (``groups=C_out``) that sums each filter's R terms with their
weights and adds the bias. Each filter's terms come from CP-ALS (all filters at once, batched:
:mod:`convzoo.decomposition.als`) started from its largest exact rank-one terms
(:mod:`convzoo.decomposition.cp_terms`); at ``R = min(C_in, k_1) * prod(k_2..)`` those are the
exact expansion.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from convzoo.decomposition.cp import flattened_stages
from convzoo.decomposition.factorization import Factorization, check_rank, load_
from convzoo.decomposition.rank_one import TermsCurve
from convzoo.layers import Conv, Flattened
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "FlattenedCurve"]


def full_rank(spec: ConvSpec) -> int:
    """``min(C_in, k_1) * prod(k_2, ...)``: exact rank-one terms per output filter.

    >>> full_rank(ConvSpec(16, 32, 3))
    9
    """
    k = spec.kernel_size
    return min(spec.in_channels, k[0]) * math.prod(k[1:])


class FlattenedCurve(TermsCurve):
    """Every filter's exact terms once; batched CP-ALS per rank, on demand.

    >>> from convzoo.decomposition.target import find_targets
    >>> c = FlattenedCurve(find_targets(torch.nn.Conv2d(4, 6, 3))[0], (1, 4, 7, 7))
    >>> c.full_rank, c.grid(), c.error(9)
    (9, [1, 2], 0.0)
    """

    method = "flattened"
    _input_mode = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.full_rank = full_rank(self.spec)

    def _batch(self, w: torch.Tensor) -> torch.Tensor:
        return w  # one tensor (C_in, *k) per output filter

    def _unbatch(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def stages(self, rank: int) -> list[ConvSpec]:  # type: ignore[override]
        s = self.spec
        mid = s.out_channels * rank
        return [*flattened_stages(s, mid),
                ConvSpec(mid, s.out_channels, 1, groups=s.out_channels, bias=s.bias,
                         ndim=s.ndim)]

    def build(self, rank: int) -> Factorization:  # type: ignore[override]
        s, dtype = self.spec, self.target.dtype
        c_out = s.out_channels
        r = check_rank(rank, int(self.full_rank), "flattened")
        weights, factors = self.factors(r)  # (C_out, R), [(C_out, C_in, R), (C_out, k_a, R)..]
        flat = Flattened(s.in_channels, c_out * r, s.kernel_size, s.stride, s.padding,
                         ndim=s.ndim, bias=False).to(dtype)
        # channel o*R + j of the Flattened layer is term j of filter o
        load_(flat.lateral.weight, factors[0].transpose(1, 2))
        for a, stage in enumerate(flat.axes):
            load_(stage.weight, factors[a + 1].transpose(1, 2))
        add = Conv(c_out * r, c_out, 1, groups=c_out, bias=s.bias, ndim=s.ndim, dtype=dtype)
        load_(add.weight, weights)
        if self.target.bias is not None:
            load_(add.bias, self.target.bias)
        return Factorization("flattened", r, self.full_rank, nn.Sequential(flat, add),
                             self.dense(r))
