"""What a conv sees: a small sample of its input patches (float32), and, from the user's data,
the second moment of its input channels.

The sample makes a candidate's output error cheap and exact on the sampled positions: for a
replacement computing the dense kernel ``W_hat``, its outputs there are ``P @ W_hat^T + b``, so
``||P (W_hat - W)^T|| / ||P W^T + b||`` is the relative output error on those positions, with
the real neighbourhoods and the conv's own padding (no module is run).

With data, two statistics make the factorizations *data-aware* (they minimise the layer's
output error on the data rather than its weight error):

* :func:`output_directions`: the principal directions of the outputs ``W x`` on the sampled
  patches (for the output side of ``svd`` and ``tucker``);
* :func:`input_whitening`: per input mode of the kernel (the input channels, then each
  spatial axis), a factor ``L`` of that mode's second moment ``E[x x^T] = L L^T`` (a Kronecker
  model of the patches' second moment); factoring ``W`` with each input mode multiplied by its
  ``L`` (then multiplying the input-side factors by ``L^-1``) weights the error by how the
  input actually varies (``cp``, ``flattened``, ``tucker``).

Both are blended with a small weight-error term (:data:`BLEND`) so that a few samples of a
wide layer cannot make the problem degenerate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from convzoo.spec import ConvSpec

__all__ = ["LayerSample", "sample_patches", "output_directions", "input_whitening",
           "whiten", "unwhiten", "sampled_error", "BLEND"]

#: Weight of the (normalised) weight-error term blended into the data-aware objectives.
BLEND = 0.05

_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
          "circular": "circular"}


@dataclass
class LayerSample:
    """Sampled input patches of one conv and its outputs there.

    Attributes:
        patches: ``(S, C_in * prod(k))`` float32, in the weight's ``(c, *taps)`` order.
        output: ``(S, C_out)`` float32, the conv's outputs at those positions (bias included).
        channel_moment: ``(C_in, C_in)`` float64 ``E[x x^T]`` over every input position of the
            data, or None without data.
        data: whether the sample comes from the user's data (else from the example input).
        kernel_size: the conv's kernel (how a patch unfolds into channels and taps).
    """

    patches: torch.Tensor
    output: torch.Tensor
    channel_moment: torch.Tensor | None = None
    data: bool = False
    kernel_size: tuple[int, ...] = ()


def sample_patches(x: torch.Tensor, spec: ConvSpec, count: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` input patches of the conv ``spec`` at random output positions of ``x`` (all
    positions when there are fewer), padded as the conv pads.

    Shape:
        ``x``: ``(N, C_in, *spatial)`` -> ``(S, C_in * prod(k))``.

    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> sample_patches(x, ConvSpec(1, 1, 2, stride=2), 4).shape
    torch.Size([4, 4])
    """
    n = spec.ndim
    out = spec.output_shape(tuple(x.shape))[2:]
    pads = spec.resolved_padding(tuple(x.shape[2:]))
    flat = [v for pair in reversed(pads) for v in pair]
    if any(flat):
        x = F.pad(x, flat, mode=_MODES[spec.padding_mode])
    lead = (x.shape[0], *out)
    total = math.prod(lead)
    if total <= count:
        picked = torch.arange(total)
    else:
        picked = torch.randperm(total, generator=generator)[:count].sort().values
    where = torch.unravel_index(picked, lead)
    size = len(picked)
    index = [where[0].reshape(size, *[1] * n)]
    for a in range(n):  # the window of each sampled output position along axis a
        taps = where[1 + a][:, None] * spec.stride[a] + \
            spec.dilation[a] * torch.arange(spec.kernel_size[a])
        shape = [size] + [1] * n
        shape[1 + a] = spec.kernel_size[a]
        index.append(taps.reshape(shape))
    patches = x.movedim(1, -1)[tuple(index)]  # (S, *k, C_in): only the sampled windows
    return patches.movedim(-1, 1).reshape(size, -1).to(torch.float32)


def sampled_error(sample: LayerSample, delta: torch.Tensor) -> float:
    """Relative output error ``||P delta^T|| / ||y||`` on the sample, for a replacement whose
    dense kernel differs from the conv's by ``delta`` (float64 ``(C_out, C_in, *k)``).

    >>> s = LayerSample(torch.eye(2), torch.eye(2))
    >>> round(sampled_error(s, torch.tensor([[0.5, 0.0], [0.0, 0.0]], dtype=torch.float64)), 6)
    0.353553
    """
    d = delta.reshape(delta.shape[0], -1).to(torch.float32)
    num = float((sample.patches @ d.T).norm())
    den = float(sample.output.norm())
    return num / den if den > 0 else (0.0 if num == 0 else math.inf)


def output_directions(w: torch.Tensor, sample: LayerSample,
                      blend: float = BLEND) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Output directions for a data-aware output side: eigenvectors ``U`` (largest first) of
    ``C / tr(C) + blend * W W^T / ||W||^2`` where ``C`` is the second moment of the bias-free
    outputs ``W x`` on the sampled patches; also each direction's share of ``C`` and ``tr(C)``.

    Keeping ``U_R`` gives ``W_hat = U_R U_R^T W``, whose squared output error on the sample is
    ``tr(C) - sum(explained[:R])``.

    Shape:
        ``w``: ``(C_out, K)`` -> ``(C_out, C_out)``, ``(C_out,)``, a float.
    """
    y = sample.patches.to(torch.float64) @ w.T  # (S, C_out)
    c = y.T @ y
    total = float(torch.diagonal(c).sum())
    norm2 = float(w.pow(2).sum())
    mixed = (c / max(total, 1e-300)) + blend * (w @ w.T) / max(norm2, 1e-300)
    _, u = torch.linalg.eigh(mixed)
    u = u.flip(1)
    explained = torch.einsum("or,op,pr->r", u, c, u)
    return u, explained, total


def _factor(moment: torch.Tensor, blend: float) -> torch.Tensor:
    n = moment.shape[0]
    scale = float(torch.diagonal(moment).sum()) / n
    mixed = moment / max(scale, 1e-300) + blend * torch.eye(n, dtype=moment.dtype)
    return torch.linalg.cholesky(mixed)


def input_whitening(sample: LayerSample, blend: float = BLEND) -> list[torch.Tensor]:
    """Lower-triangular ``L`` per input mode of the kernel: the channels (from the data's
    channel moment), then each spatial axis (from the sampled patches), each with
    ``L L^T = M / (tr(M) / n) + blend * I``.

    Shape:
        ``[(C_in, C_in), (k_1, k_1), ...]``.
    """
    m = sample.channel_moment
    if m is None:
        raise ValueError("`sample` (without data) has no channel moment to whiten with")
    c = m.shape[0]
    factors = [_factor(m, blend)]
    if sample.kernel_size:
        patches = sample.patches.to(torch.float64).reshape(-1, c, *sample.kernel_size)
        for axis, k in enumerate(sample.kernel_size):
            taps = patches.movedim(2 + axis, -1).reshape(-1, k)
            factors.append(_factor(taps.T @ taps, blend))
    return factors


def whiten(w: torch.Tensor, factors: list[torch.Tensor]) -> torch.Tensor:
    """``w`` ``(C_out, C_in, *k)`` with input mode ``m`` multiplied by ``factors[m]``
    (``w~[.., j', ..] = sum_j w[.., j, ..] L[j, j']``)."""
    for i, factor in enumerate(factors):
        w = torch.tensordot(w, factor, dims=([1 + i], [0])).movedim(-1, 1 + i)
    return w


def unwhiten(x: torch.Tensor, factor: torch.Tensor, dim: int) -> torch.Tensor:
    """Undo :func:`whiten` on dimension ``dim`` of a factor or core:
    ``x[.., j, ..] = sum_j' x~[.., j', ..] (L^-1)[j', j]``."""
    moved = x.movedim(dim, -1)
    solved = torch.linalg.solve_triangular(factor, moved.reshape(-1, moved.shape[-1]),
                                           upper=False, left=False)
    return solved.reshape(moved.shape).movedim(-1, dim)
