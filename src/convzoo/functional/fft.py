"""FFT convolution: a dense 2-D convolution as a product of spectra (5-smooth FFT sizes).

Cross-correlation (what every deep-learning conv computes) of a padded input ``x`` with a
kernel ``w`` is ``irfft2(rfft2(x) * conj(rfft2(w)))`` over a grid ``L >= H_p`` on each axis
(circular shifts never wrap for the valid outputs, so ``L`` need not reach ``H_p + k - 1``).
Zero padding costs no copy of ``x``: the grid's zeros past ``H`` are the padding, and the
kernel is shifted circularly by the leading pad instead.
Its cost is ``O(N*C*L^2 log L)`` for the transforms plus ``N*C_in*C_out*L^2/2`` complex
MACs for the channel mix, independent of ``k``: it wins over direct convolution for large
kernels and few channels. Built from differentiable torch ops: autograd, gradcheck,
torch.export and torch.compile see ordinary operators.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from convzoo.functional.smooth import next_smooth
from convzoo.spec import ConvSpec

__all__ = ["conv_fft", "fft_sizes"]

_TORCH_MODES = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def fft_sizes(padded: tuple[int, int]) -> tuple[int, int]:
    """The FFT grid for a padded input of spatial size ``(H_p, W_p)``: the next 5-smooth
    sizes ``>= H_p`` and ``>= W_p``.

    >>> fft_sizes((97, 64))
    (100, 64)
    """
    return next_smooth(padded[0]), next_smooth(padded[1])


def conv_fft(
    spec: ConvSpec, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """Compute a dense (``groups=1``) 2-D forward ``spec`` by FFT.

    Args:
        spec: a validated 2-D forward :class:`~convzoo.spec.ConvSpec` with ``groups=1``
            (any padding rule and mode, stride and dilation).
        x: ``(N, C_in, H, W)``, float32 or float64. weight: ``(C_out, C_in, kh, kw)``.
        bias: ``(C_out,)`` or None.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``, ``out = floor((in + lo + hi -
        d*(k-1) - 1)/s) + 1``; FFT grid ``L = next_smooth(in + lo + hi)`` per axis.

    >>> from convzoo.functional import run_spec
    >>> spec = ConvSpec(2, 3, 21, padding="same", ndim=2)
    >>> x, w = torch.randn(1, 2, 30, 30, dtype=torch.float64), torch.randn(3, 2, 21, 21,
    ...                                                                    dtype=torch.float64)
    >>> y = conv_fft(spec, x, w, None)
    >>> y.shape, torch.allclose(y, run_spec(spec, x, w, None))
    (torch.Size([1, 3, 30, 30]), True)
    """
    if spec.ndim != 2 or spec.transposed or spec.groups != 1 or x.dim() != 4:
        raise ValueError(
            f"`spec` (=ndim {spec.ndim}, groups {spec.groups}, transposed {spec.transposed}, "
            f"input rank {x.dim()}) must be a dense 2-D forward convolution on a 4-D input "
            "for the FFT path"
        )
    if x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"`input` dtype (={x.dtype}) must be float32 or float64 for FFT")
    pads = spec.resolved_padding(tuple(x.shape[-2:]))
    lead = (0, 0)  # zero padding before each axis, applied as a circular shift of the kernel
    if spec.padding_mode == "zeros":
        lead = (pads[0][0], pads[1][0])
        hp, wp = x.shape[-2] + sum(pads[0]), x.shape[-1] + sum(pads[1])
    else:
        flat = [v for pair in reversed(pads) for v in pair]  # F.pad wants the last axis first
        x = F.pad(x, flat, mode=_TORCH_MODES[spec.padding_mode])  # (N, C_in, H_p, W_p)
        hp, wp = x.shape[-2], x.shape[-1]
    if any(d != 1 for d in spec.dilation):  # dilate the kernel: zeros between its taps
        dh, dw = spec.dilation
        kh, kw = weight.shape[-2:]
        dilated = weight.new_zeros(*weight.shape[:2], dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        dilated[..., ::dh, ::dw] = weight
        weight = dilated
    kh, kw = weight.shape[-2], weight.shape[-1]
    grid = fft_sizes((hp, wp))  # >= H + lo + hi: the zeros past H give the padding
    xf = torch.fft.rfft2(x, grid)  # (N, C_in, L1, L2/2+1), x zero-extended to the grid
    w = F.pad(weight, (0, grid[1] - kw, 0, grid[0] - kh))  # (C_out, C_in, L1, L2)
    if any(lead):  # tap u reads x[i + u - lo]: put it at circular offset u - lo
        w = torch.roll(w, shifts=(-lead[0], -lead[1]), dims=(-2, -1))
    wf = torch.fft.rfft2(w).conj()  # (C_out, C_in, L1, L2/2+1)
    if spec.in_channels * spec.out_channels <= 64:  # few channels: one broadcast product
        yf = (xf.unsqueeze(1) * wf.unsqueeze(0)).sum(2)  # (N, C_out, L1, L2/2+1)
    else:
        yf = torch.einsum("ncij,ocij->noij", xf, wf)
    y = torch.fft.irfft2(yf, grid)  # (N, C_out, L1, L2): correlation at every shift
    sh, sw = spec.stride
    y = y[..., : hp - kh + 1 : sh, : wp - kw + 1 : sw]  # the valid, strided outputs
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1)
    return y.contiguous()
