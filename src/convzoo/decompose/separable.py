"""``"separable"``: a conv as a sum of R depthwise -> pointwise pairs (Guo et al. 2018,
Network Decoupling), i.e. one :class:`~convzoo.layers.DepthwiseSeparable` with depth
multiplier R.

For each input channel ``c`` the slice ``W[:, c]`` is a ``C_out x prod(k)`` matrix; its SVD
``U S V^T`` gives the depthwise filters ``D[c*R + r] = V[:, r]`` and the pointwise weights
``P[o, c*R + r] = U[o, r] S[r]``. Exact at ``R = min(C_out, prod(k))``.
"""

from __future__ import annotations

import math

import torch

from convzoo.decompose.factorization import Factorization, check_rank, energy_rank, load_
from convzoo.decompose.target import Target
from convzoo.layers import DepthwiseSeparable, Pointwise
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "factorize"]


def full_rank(spec: ConvSpec) -> int:
    """``min(C_out, prod(k))``.

    >>> full_rank(ConvSpec(16, 32, 3))
    9
    """
    return min(spec.out_channels, math.prod(spec.kernel_size))


def factorize(target: Target, rank: int | None = None, energy: float = 1.0) -> Factorization:
    """Network decoupling of ``target`` at ``rank`` (or the smallest rank keeping ``energy``).

    >>> conv = torch.nn.Conv2d(4, 6, 3, padding=1)
    >>> from convzoo.decompose.target import find_targets
    >>> f = factorize(find_targets(conv)[0])
    >>> f.rank, f.module.depth_multiplier
    (6, 6)
    """
    spec, w = target.spec, target.weight
    c_out, c_in = spec.out_channels, spec.in_channels
    full = full_rank(spec)
    mats = w.flatten(2).transpose(0, 1)  # (C_in, C_out, K)
    u, s, vh = torch.linalg.svd(mats, full_matrices=False)  # (C_in,C_out,m) (C_in,m) (C_in,m,K)
    r = check_rank(rank, full, "separable") if rank is not None else energy_rank(
        (s**2).sum(0), energy)
    module = DepthwiseSeparable(
        c_in, c_out, spec.kernel_size, spec.stride, spec.padding, spec.dilation,
        depth_multiplier=r, bias=False, padding_mode=spec.padding_mode, ndim=spec.ndim,
        dtype=torch.float64,
    )
    if target.bias is not None:  # the bias goes after the channel mixing only
        module.pointwise = Pointwise(c_in * r, c_out, bias=True, ndim=spec.ndim,
                                     dtype=torch.float64)
        load_(module.pointwise.bias, target.bias)
    load_(module.depthwise.weight, vh[:, :r])  # (C_in, R, K) -> D[c*R + r]
    p = u[:, :, :r] * s[:, None, :r]  # (C_in, C_out, R)
    load_(module.pointwise.weight, p.permute(1, 0, 2))  # P[o, c*R + r]
    weight, _ = module.to_dense()
    return Factorization("separable", r, full, module, weight.detach())
