"""``"spatially_separable"``: a 2-D conv as ``k_h x 1`` (``C_in -> R``) then ``1 x k_w``
(``R -> C_out``), Jaderberg, Vedaldi & Zisserman 2014, scheme 2, in the closed form of
Tai et al. 2016: the SVD of the ``(C_in*k_h) x (C_out*k_w)`` matrix
``M[(c, i), (o, j)] = W[o, c, i, j]``, computed once per layer; the error of every rank is the
root of the discarded squared singular values (the singular vectors are computed on the first
build only). Exact at ``R = min(C_in*k_h, C_out*k_w)``.
"""

from __future__ import annotations

import torch

from convzoo.decomposition.curve import Curve, gram_eigh, gram_eigvals, relative_from_tail
from convzoo.decomposition.factorization import Factorization, check_rank, load_
from convzoo.decomposition.target import Target
from convzoo.layers import SpatiallySeparable
from convzoo.layers.factorized import axis_kernel, axis_padding
from convzoo.spec import ConvSpec

__all__ = ["full_rank", "SpatialCurve"]


def full_rank(spec: ConvSpec) -> int:
    """``min(C_in*k_h, C_out*k_w)``.

    >>> full_rank(ConvSpec(16, 32, 3))
    48
    """
    kh, kw = spec.kernel_size
    return min(spec.in_channels * kh, spec.out_channels * kw)


class SpatialCurve(Curve):
    """One SVD of the ``(C_in k_h) x (C_out k_w)`` matrix; every rank from it.

    >>> from convzoo.decomposition.target import find_targets
    >>> c = SpatialCurve(find_targets(torch.nn.Conv2d(4, 6, 3, padding=1))[0], (1, 4, 8, 8))
    >>> c.full_rank, [tuple(s.kernel_size) for s in c.stages(5)], c.error(12) < 1e-12
    (12, [(3, 1), (1, 3)], True)
    """

    method = "spatially_separable"

    def __init__(self, target: Target, input_shape: tuple[int, ...] | None, sample: object = None
                 ) -> None:
        super().__init__(target, input_shape)
        self.full_rank = full_rank(self.spec)
        c_out, c_in, kh, kw = target.weight.shape
        self._m = target.weight.permute(1, 2, 0, 3).reshape(c_in * kh, c_out * kw)
        self._left = self._m.shape[0] <= self._m.shape[1]
        self._vectors: torch.Tensor | None = None  # computed on the first build
        self._errors = relative_from_tail(gram_eigvals(self._m, "left" if self._left else
                                                       "right"), self.norm2)

    def stages(self, rank: int) -> list[ConvSpec]:  # type: ignore[override]
        s = self.spec
        mids = [s.in_channels, rank, s.out_channels]
        return [ConvSpec(mids[a], mids[a + 1], axis_kernel(s.kernel_size[a], a, 2),
                         axis_kernel(s.stride[a], a, 2), axis_padding(s.padding, a, 2),
                         bias=s.bias and a == 1, ndim=2) for a in range(2)]

    def error(self, rank: int) -> float:  # type: ignore[override]
        return float(self._errors[min(rank, len(self._errors) - 1)])

    def build(self, rank: int) -> Factorization:  # type: ignore[override]
        s = self.spec
        c_out, c_in, kh, kw = self.target.weight.shape
        r = check_rank(rank, self.full_rank, "spatially_separable")
        if self._vectors is None:
            _, self._vectors = gram_eigh(self._m, "left" if self._left else "right")
        v = self._vectors[:, :r]
        if self._left:  # M ~ U_r (U_r^T M)
            left, right = v, v.T @ self._m  # (C_in kh, R), (R, C_out kw)
        else:  # M ~ (M V_r) V_r^T
            left, right = self._m @ v, v.T
        module = SpatiallySeparable(c_in, c_out, (kh, kw), mid_channels=r, stride=s.stride,
                                    padding=s.padding, ndim=2, bias=s.bias)
        module.to(self.target.dtype)
        load_(module.stages[0].weight, left.T.reshape(r, c_in, kh, 1))  # (R, C_in, k_h, 1)
        load_(module.stages[1].weight,
              right.reshape(r, c_out, kw).transpose(0, 1))  # (C_out, R, k_w) -> (C_out,R,1,k_w)
        if self.target.bias is not None:
            load_(module.stages[1].bias, self.target.bias)
        weight = (left @ right).reshape(c_in, kh, c_out, kw).permute(2, 0, 1, 3)
        return Factorization("spatially_separable", r, self.full_rank, module, weight)
