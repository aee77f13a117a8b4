"""Functional convolutions: torch.nn.functional's conv plus every convzoo padding rule.

``padding`` accepts ``'valid'``, ``'same'`` (any stride), ``'full'``, ``'causal'`` (1-D),
ints, per-axis tuples and per-side ``(lo, hi)`` pairs, with the four padding modes.
Arguments are validated (``ValueError``) by :func:`convzoo.spec.spec_from_call` before
anything runs; the padding is resolved by ``convzoo.arithmetic``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from convzoo.arithmetic import solve_output_padding
from convzoo.functional.sizes import static_shape
from convzoo.spec import ConvSpec, spec_from_call

__all__ = ["conv", "conv_transpose", "run_spec"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_TORCH_MODES = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def _check_dims(spec: ConvSpec) -> None:
    if spec.ndim not in _CONV:
        raise ValueError(f"`weight` gives {spec.ndim} spatial dims; torch runs 1, 2 or 3")


def run_spec(
    spec: ConvSpec, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """Compute an already validated spec with torch primitives.

    Forward convs: symmetric zero padding goes straight to ``F.convNd``; anything else
    (asymmetric, 'same' at stride > 1, non-zero modes) is ``F.pad`` then an unpadded conv.
    Transposed convs: symmetric crops go to ``F.conv_transposeNd``; asymmetric ones are
    computed uncropped and sliced.
    """
    _check_dims(spec)
    n = spec.ndim
    pads = spec.resolved_padding(static_shape(x)[-n:])
    symmetric = all(lo == hi for lo, hi in pads)
    if spec.transposed:
        out = None if torch.compiler.is_compiling() else spec.output_shape(static_shape(x))
        if out is not None and 0 in out[-n:]:  # a zero-size axis: torch's shape function
            # (meta, export) returns it, its slow CPU kernels (float64...) refuse it
            connect = x.sum() * 0 + weight.sum() * 0  # no element: keep the autograd graph
            return x.new_zeros(out) + (connect if bias is None else connect + bias.sum() * 0)
        if symmetric:
            return _CONV_T[n](
                x, weight, bias, spec.stride, tuple(lo for lo, _ in pads),
                spec.output_padding, spec.groups, spec.dilation,
            )
        y = _CONV_T[n](
            x, weight, bias, spec.stride, 0, spec.output_padding, spec.groups, spec.dilation
        )
        crop = tuple(slice(lo, y.shape[y.dim() - n + a] - hi) for a, (lo, hi) in enumerate(pads))
        return y[(..., *crop)]
    if symmetric and spec.padding_mode == "zeros":
        return _CONV[n](
            x, weight, bias, spec.stride, tuple(lo for lo, _ in pads), spec.dilation, spec.groups
        )
    flat = [v for pair in reversed(pads) for v in pair]  # F.pad wants the last axis first
    if any(flat):
        if spec.padding_mode == "zeros":
            x = F.pad(x, flat)
        else:
            x = F.pad(x, flat, mode=_TORCH_MODES[spec.padding_mode])
    return _CONV[n](x, weight, bias, spec.stride, 0, spec.dilation, spec.groups)


def conv(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """N-d convolution (N = ``weight.dim() - 2``), ``F.convNd`` plus every padding rule.

    Shape:
        input ``(N, C_in, *in)`` or ``(C_in, *in)``; weight ``(C_out, C_in/g, *k)``;
        output ``(N, C_out, *out)`` with ``out = floor((in + lo + hi - d*(k-1) - 1)/s) + 1``.

    >>> x = torch.randn(1, 3, 7, 7)
    >>> conv(x, torch.randn(8, 3, 3, 3), stride=2, padding="same").shape
    torch.Size([1, 8, 4, 4])
    """
    spec = spec_from_call(
        input, weight, bias, stride, padding, dilation, groups, padding_mode=padding_mode
    )
    return run_spec(spec, input, weight, bias)


def conv_transpose(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    output_size: Any = None,
) -> torch.Tensor:
    """N-d transposed convolution; ``padding='same'`` gives ``out = in * stride``.

    ``output_size`` (per-axis sizes) chooses ``output_padding`` for you, with a ValueError
    listing the reachable sizes when the target cannot be produced.

    Shape:
        input ``(N, C_in, *in)``; weight ``(C_in, C_out/g, *k)``; output ``(N, C_out, *out)``
        with ``out = (in - 1)*s - lo - hi + d*(k-1) + output_padding + 1``.

    >>> x = torch.randn(2, 3, 16, 16)
    >>> conv_transpose(x, torch.randn(3, 16, 4, 4), stride=2, padding=1).shape
    torch.Size([2, 16, 32, 32])
    >>> conv_transpose(x, torch.randn(3, 16, 3, 3), stride=2, padding=1, output_size=(32, 31)).shape
    torch.Size([2, 16, 32, 31])
    """
    if output_size is not None:
        if output_padding != 0:
            raise ValueError(
                f"`output_padding` (={output_padding!r}) must be left at 0 when `output_size` "
                "is given: it is solved from the target size"
            )
        n = weight.dim() - 2
        probe = spec_from_call(
            input, weight, bias, stride, padding, dilation, groups, transposed=True
        )
        targets = tuple(output_size)[-n:]
        spatial = static_shape(input)[-n:]
        output_padding = tuple(
            solve_output_padding(i, t, k, s, p, d)
            for i, t, k, s, p, d in zip(
                spatial, targets, probe.kernel_size, probe.stride,
                probe.resolved_padding(spatial), probe.dilation,
            )
        )
    spec = spec_from_call(
        input, weight, bias, stride, padding, dilation, groups,
        transposed=True, output_padding=output_padding,
    )
    return run_spec(spec, input, weight, bias)
