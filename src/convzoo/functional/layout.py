"""The channels_last fast path: the same convolution computed on an NHWC-strided input.

oneDNN's channels_last depthwise kernel is vectorised over channels and stays on it for
any kernel size, whereas its NCHW path drops to a generic GEMM for kernels >= 14 (~20x
slower on a 2-core CPU). Only the strides change: the values, the shape and autograd are
those of :func:`convzoo.functional.run_spec`.
"""

from __future__ import annotations

import torch

from convzoo.functional import run_spec
from convzoo.spec import ConvSpec

__all__ = ["conv_channels_last", "is_channels_last"]


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether a 4-D tensor is laid out NHWC (and not trivially both layouts).

    >>> is_channels_last(torch.randn(1, 3, 4, 4).contiguous(memory_format=torch.channels_last))
    True
    >>> is_channels_last(torch.randn(1, 3, 4, 4))
    False
    """
    return (
        x.dim() == 4
        and x.is_contiguous(memory_format=torch.channels_last)
        and not x.is_contiguous()
    )


def conv_channels_last(
    spec: ConvSpec, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """Run a 2-D ``spec`` on a channels_last copy of ``x``; the output comes back in the
    input's layout (NCHW in -> NCHW out, channels_last in -> channels_last out).

    Args:
        spec: a validated 2-D forward :class:`~convzoo.spec.ConvSpec`.
        x: ``(N, C_in, H, W)``. weight: ``spec.weight_shape``. bias: ``(C_out,)`` or None.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``,
        ``out = floor((in + lo + hi - d*(k-1) - 1)/s) + 1`` (as the native path).

    >>> from convzoo.spec import ConvSpec
    >>> spec = ConvSpec(4, 4, 15, padding="same", groups=4, ndim=2)
    >>> x, w = torch.randn(1, 4, 20, 20), torch.randn(4, 1, 15, 15)
    >>> y = conv_channels_last(spec, x, w, None)
    >>> y.shape, y.is_contiguous(), torch.allclose(y, run_spec(spec, x, w, None), atol=1e-4)
    (torch.Size([1, 4, 20, 20]), True, True)
    """
    if spec.ndim != 2 or spec.transposed or x.dim() != 4:
        raise ValueError(
            f"`spec` (={spec.ndim}-d{', transposed' if spec.transposed else ''}, input rank "
            f"{x.dim()}) must be a 2-D forward convolution on a 4-D input for channels_last"
        )
    keep = is_channels_last(x)
    y = run_spec(spec, x.contiguous(memory_format=torch.channels_last), weight, bias)
    return y if keep else y.contiguous()  # back to the caller's layout
