"""``"cp"``: CP decomposition of the whole kernel (Lebedev et al. 2015),
``W[o, c, i, j] = sum_r A[o, r] B[c, r] V[i, r] H[j, r]``, run as a
:class:`~convzoo.layers.Flattened` ``C_in -> R`` (pointwise ``B``, then one depthwise 1-D conv
per axis: ``V``, ``H``) followed by a :class:`~convzoo.layers.Pointwise` ``R -> C_out`` (``A``,
and the bias). The factors come from CP-ALS (:mod:`convzoo.decomposition.als`) started from
the largest exact rank-one terms (:mod:`convzoo.decomposition.cp_terms`: per spatial tap, the
SVD of the ``C_out x C_in`` matrix) and stopped on a tolerance; at
``R = min(C_out, C_in)*prod(k)`` those terms are the exact expansion.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from convzoo.decomposition.factorization import Factorization, check_rank, load_
from convzoo.decomposition.rank_one import TermsCurve
from convzoo.layers import Flattened, Pointwise
from convzoo.layers.factorized import axis_kernel, axis_padding
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "CPCurve", "flattened_stages"]


def full_rank(spec: ConvSpec) -> int:
    """``min(C_out, C_in) * prod(k)``: the number of exact rank-one terms.

    >>> full_rank(ConvSpec(16, 32, 3))
    144
    """
    return min(spec.out_channels, spec.in_channels) * math.prod(spec.kernel_size)


def flattened_stages(spec: ConvSpec, channels: int) -> list[ConvSpec]:
    """The convs of ``Flattened(spec.in_channels, channels, spec.kernel_size, spec.stride,
    spec.padding, bias=False)``: the lateral 1x1, then one depthwise conv per axis.

    >>> [s.kernel_size for s in flattened_stages(ConvSpec(4, 8, 3), 5)]
    [(1, 1), (3, 1), (1, 3)]
    """
    n = spec.ndim
    return [ConvSpec(spec.in_channels, channels, 1, bias=False, ndim=n)] + [
        ConvSpec(channels, channels, axis_kernel(spec.kernel_size[a], a, n),
                 axis_kernel(spec.stride[a], a, n), axis_padding(spec.padding, a, n),
                 groups=channels, bias=False, ndim=n) for a in range(n)]


class CPCurve(TermsCurve):
    """The kernel's exact terms once; CP-ALS per rank, on demand (the search tries ranks up
    to 1.5 times the wider channel count; ``rank=`` takes any).

    >>> from convzoo.decomposition.target import find_targets
    >>> c = CPCurve(find_targets(torch.nn.Conv2d(4, 6, 3))[0], (1, 4, 7, 7))
    >>> c.full_rank, c.known(5), c.error(5) <= c.bound(5), c.known(5)
    (36, False, True, True)
    """

    method = "cp"
    _input_mode = 1

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.full_rank = full_rank(self.spec)

    def _batch(self, w: torch.Tensor) -> torch.Tensor:
        return w[None]  # one tensor (C_out, C_in, *k)

    def _unbatch(self, t: torch.Tensor) -> torch.Tensor:
        return t[0]

    def stages(self, rank: int) -> list[ConvSpec]:  # type: ignore[override]
        s = self.spec
        return [*flattened_stages(s, rank), ConvSpec(rank, s.out_channels, 1, bias=s.bias,
                                                     ndim=s.ndim)]

    def _make_grid(self) -> list[int]:
        """The grid ranks cheaper than the conv, up to 1.5 times its wider channel count
        (beyond that each ALS sweep costs ``R^3``, and a square 3x3 conv's replacement keeps
        a third of its MACs or more)."""
        cap = 3 * max(self.spec.in_channels, self.spec.out_channels) // 2
        return [r for r in super()._make_grid() if r <= cap]

    def build(self, rank: int) -> Factorization:  # type: ignore[override]
        s, dtype = self.spec, self.target.dtype
        r = check_rank(rank, int(self.full_rank), "cp")
        weights, factors = self.factors(r)
        out_f, in_f, *axis_f = [f[0] for f in factors]  # (C_out, R), (C_in, R), (k_a, R)...
        flat = Flattened(s.in_channels, r, s.kernel_size, s.stride, s.padding, ndim=s.ndim,
                         bias=False).to(dtype)
        load_(flat.lateral.weight, in_f.T)
        for stage, f in zip(flat.axes, axis_f, strict=True):
            load_(stage.weight, f.T)
        mix = Pointwise(r, s.out_channels, bias=s.bias, ndim=s.ndim, dtype=dtype)
        load_(mix.weight, out_f * weights[0])
        if self.target.bias is not None:
            load_(mix.bias, self.target.bias)
        return Factorization("cp", r, self.full_rank, nn.Sequential(flat, mix), self.dense(r))
