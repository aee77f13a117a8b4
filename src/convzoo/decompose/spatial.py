"""``"spatially_separable"``: a 2-D conv as ``k_h x 1`` (``C_in -> R``) then ``1 x k_w``
(``R -> C_out``), Jaderberg, Vedaldi & Zisserman 2014, scheme 2, in the closed form of
Tai et al. 2016: the SVD of the ``(C_in*k_h) x (C_out*k_w)`` matrix
``M[(c, i), (o, j)] = W[o, c, i, j]``. Exact at ``R = min(C_in*k_h, C_out*k_w)``.
"""

from __future__ import annotations

import torch

from convzoo.decompose.factorization import Factorization, check_rank, energy_rank, load_
from convzoo.decompose.target import Target
from convzoo.layers import SpatiallySeparable
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "factorize"]


def full_rank(spec: ConvSpec) -> int:
    """``min(C_in*k_h, C_out*k_w)``.

    >>> full_rank(ConvSpec(16, 32, 3))
    48
    """
    kh, kw = spec.kernel_size
    return min(spec.in_channels * kh, spec.out_channels * kw)


def factorize(target: Target, rank: int | None = None, energy: float = 1.0) -> Factorization:
    """Two-stage spatially separable factorization of a 2-D ``target``.

    >>> from convzoo.decompose.target import find_targets
    >>> f = factorize(find_targets(torch.nn.Conv2d(4, 6, 3, padding=1))[0], rank=5)
    >>> [tuple(s.weight.shape) for s in f.module.stages]
    [(5, 4, 3, 1), (6, 5, 1, 3)]
    """
    spec, w = target.spec, target.weight
    c_out, c_in, kh, kw = w.shape
    full = full_rank(spec)
    matrix = w.permute(1, 2, 0, 3).reshape(c_in * kh, c_out * kw)
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    r = check_rank(rank, full, "spatially_separable") if rank is not None else energy_rank(
        s**2, energy)
    root = s[:r].sqrt()
    vertical = (u[:, :r] * root).T.reshape(r, c_in, kh, 1)  # (R, C_in, k_h, 1)
    horizontal = (root[:, None] * vh[:r]).reshape(r, c_out, kw).transpose(0, 1)  # (C_out,R,k_w)
    module = SpatiallySeparable(c_in, c_out, (kh, kw), mid_channels=r, stride=spec.stride,
                                padding=spec.padding, ndim=2,
                                bias=target.bias is not None).to(torch.float64)
    load_(module.stages[0].weight, vertical)
    load_(module.stages[1].weight, horizontal)
    if target.bias is not None:
        load_(module.stages[1].bias, target.bias)
    weight, _ = module.to_dense()
    return Factorization("spatially_separable", r, full, module, weight.detach())
