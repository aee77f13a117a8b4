"""``"svd"``: a conv as a ``k``-tap conv ``C_in -> R`` then a 1x1 conv ``R -> C_out`` (the
truncated SVD of the ``C_out x (C_in * prod(k))`` weight matrix, Zhang et al. 2016's channel
decomposition); for a 1x1 conv, two 1x1 convs. Exact at ``R = min(C_out, C_in * prod(k))``.

With data (:mod:`convzoo.decomposition.stats`), the output side is chosen from the outputs the
layer produces on it: ``W_hat = U_R U_R^T W`` with ``U`` the principal directions of those
outputs, which minimises ``||(W_hat - W) x||`` on the data (blended with a small weight-error
term so that few samples cannot make it degenerate).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from convzoo.decomposition.curve import Curve, gram_eigh, relative_from_tail
from convzoo.decomposition.factorization import Factorization, check_rank, load_
from convzoo.decomposition.stats import LayerSample, output_directions
from convzoo.decomposition.target import Target
from convzoo.layers import Conv, Pointwise
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "SVDCurve"]


def full_rank(spec: ConvSpec) -> int:
    """``min(C_out, C_in * prod(k))``.

    >>> full_rank(ConvSpec(16, 32, 3)), full_rank(ConvSpec(64, 16, 1))
    (32, 16)
    """
    k = 1
    for v in spec.kernel_size:
        k *= v
    return min(spec.out_channels, spec.in_channels * k)


class SVDCurve(Curve):
    """The SVD of the weight matrix, once; any rank from it.

    >>> from convzoo.decomposition.target import find_targets
    >>> c = SVDCurve(find_targets(nn.Conv2d(8, 4, 1))[0], (1, 8, 5, 5))
    >>> c.full_rank, c.cost(2), c.error(4) < 1e-12
    (4, (28, 600), True)
    """

    method = "svd"

    def __init__(self, target: Target, input_shape: tuple[int, ...] | None,
                 sample: LayerSample | None = None) -> None:
        super().__init__(target, input_shape)
        self.full_rank = full_rank(self.spec)
        w = target.weight.reshape(self.spec.out_channels, -1)  # (C_out, K)
        self._w = w
        if sample is not None and sample.data:
            self.data_aware = True
            self._u, explained, total = output_directions(w, sample)  # (C_out, C_out)
            self._errors = relative_from_tail(explained, total)
        elif w.shape[0] <= w.shape[1]:
            s2, self._u = gram_eigh(w)  # (m,), (C_out, m): left singular vectors
            self._errors = relative_from_tail(s2, self.norm2)
        else:  # more outputs than taps: the smaller Gram matrix, then U = W V / s
            s2, v = gram_eigh(w, "right")  # (K,), (K, K)
            scale = s2.sqrt()
            self._u = torch.where(scale > 0, w @ v / scale.clamp_min(1e-300), 0.0)
            self._errors = relative_from_tail(s2, self.norm2)

    def stages(self, rank: int) -> list[ConvSpec]:  # type: ignore[override]
        s = self.spec
        return [ConvSpec(s.in_channels, rank, s.kernel_size, s.stride, s.padding, s.dilation,
                         bias=False, padding_mode=s.padding_mode, ndim=s.ndim),
                ConvSpec(rank, s.out_channels, 1, bias=s.bias, ndim=s.ndim)]

    def error(self, rank: int) -> float:  # type: ignore[override]
        return float(self._errors[min(rank, len(self._errors) - 1)])

    def weight_error(self, rank: int) -> float:  # type: ignore[override]
        if not self.data_aware:
            return self.error(rank)
        u = self._u[:, :rank]
        return float((self._w - u @ (u.T @ self._w)).norm()) / max(self.norm2, 1e-300) ** 0.5

    def build(self, rank: int) -> Factorization:  # type: ignore[override]
        s, dtype = self.spec, self.target.dtype
        r = check_rank(rank, self.full_rank, "svd")
        u = self._u[:, :r]  # (C_out, R)
        first = u.T @ self._w  # (R, K)
        module = nn.Sequential(
            Conv(s.in_channels, r, s.kernel_size, s.stride, s.padding, s.dilation, bias=False,
                 padding_mode=s.padding_mode, ndim=s.ndim, dtype=dtype),
            Pointwise(r, s.out_channels, bias=s.bias, ndim=s.ndim, dtype=dtype),
        )
        load_(module[0].weight, first)
        load_(module[1].weight, u)
        if self.target.bias is not None:
            load_(module[1].bias, self.target.bias)
        weight = (u @ first).reshape(self.target.weight.shape)
        return Factorization("svd", r, self.full_rank, module, weight)
