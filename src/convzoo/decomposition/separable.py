"""``"separable"``: a conv as a sum of R depthwise -> pointwise pairs (Guo et al. 2018,
Network Decoupling), i.e. one :class:`~convzoo.layers.DepthwiseSeparable` with depth
multiplier R.

For each input channel ``c`` the slice ``W[:, c]`` is a ``C_out x prod(k)`` matrix; its SVD
``U S V^T`` (all channels at once, from the small ``prod(k) x prod(k)`` Gram matrices) gives
the depthwise filters ``D[c*R + r] = V[:, r]`` and the pointwise weights
``P[o, c*R + r] = U[o, r] S[r]``. The error of every R is the root of the squared singular
values left out, summed over the channels. Exact at ``R = min(C_out, prod(k))``.
"""

from __future__ import annotations

import math

import torch

from convzoo.decomposition.curve import Curve, relative_from_tail
from convzoo.decomposition.factorization import Factorization, check_rank, load_
from convzoo.decomposition.target import Target
from convzoo.layers import DepthwiseSeparable, Pointwise
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "SeparableCurve"]


def full_rank(spec: ConvSpec) -> int:
    """``min(C_out, prod(k))``.

    >>> full_rank(ConvSpec(16, 32, 3))
    9
    """
    return min(spec.out_channels, math.prod(spec.kernel_size))


class SeparableCurve(Curve):
    """Per-channel SVDs once; every depth multiplier from them.

    >>> from convzoo.decomposition.target import find_targets
    >>> c = SeparableCurve(find_targets(torch.nn.Conv2d(4, 6, 3, padding=1))[0], (1, 4, 8, 8))
    >>> c.full_rank, c.cost(2), c.error(6) < 1e-12
    (6, (126, 7680), True)
    """

    method = "separable"

    def __init__(self, target: Target, input_shape: tuple[int, ...] | None, sample: object = None
                 ) -> None:
        super().__init__(target, input_shape)
        self.full_rank = full_rank(self.spec)
        mats = target.weight.flatten(2).transpose(0, 1)  # (C_in, C_out, K)
        values, vectors = torch.linalg.eigh(mats.transpose(1, 2) @ mats)  # (C_in, K[, K])
        self._s2 = values.flip(-1).clamp_min(0)[:, :self.full_rank]  # (C_in, m)
        self._v = vectors.flip(-1)[:, :, :self.full_rank]  # (C_in, K, m) right vectors
        self._mats = mats
        self._errors = relative_from_tail(self._s2.sum(0), self.norm2)

    def stages(self, rank: int) -> list[ConvSpec]:  # type: ignore[override]
        s = self.spec
        mid = s.in_channels * rank
        return [ConvSpec(s.in_channels, mid, s.kernel_size, s.stride, s.padding, s.dilation,
                         groups=s.in_channels, bias=False, padding_mode=s.padding_mode,
                         ndim=s.ndim),
                ConvSpec(mid, s.out_channels, 1, bias=s.bias, ndim=s.ndim)]

    def error(self, rank: int) -> float:  # type: ignore[override]
        return float(self._errors[min(rank, len(self._errors) - 1)])

    def build(self, rank: int) -> Factorization:  # type: ignore[override]
        s, dtype = self.spec, self.target.dtype
        c_out, c_in = s.out_channels, s.in_channels
        r = check_rank(rank, self.full_rank, "separable")
        v = self._v[:, :, :r]  # (C_in, K, R)
        p = self._mats @ v  # (C_in, C_out, R) = U S
        module = DepthwiseSeparable(
            c_in, c_out, s.kernel_size, s.stride, s.padding, s.dilation, depth_multiplier=r,
            bias=False, padding_mode=s.padding_mode, ndim=s.ndim, dtype=dtype,
        )
        if self.target.bias is not None:  # the bias goes after the channel mixing only
            module.pointwise = Pointwise(c_in * r, c_out, bias=True, ndim=s.ndim, dtype=dtype)
            load_(module.pointwise.bias, self.target.bias)
        load_(module.depthwise.weight, v.transpose(1, 2))  # (C_in, R, K) -> D[c*R + r]
        load_(module.pointwise.weight, p.permute(1, 0, 2))  # P[o, c*R + r]
        weight = torch.einsum("cor,ckr->ock", p, v).reshape(self.target.weight.shape)
        return Factorization("separable", r, self.full_rank, module, weight)
