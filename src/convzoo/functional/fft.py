"""FFT convolution: a dense 2-D convolution as a product of spectra (5-smooth FFT sizes).

Cross-correlation (what every deep-learning conv computes) of a padded input ``x`` with a
kernel ``w`` is ``irfft2(rfft2(x) * conj(rfft2(w)))`` over a circular grid of length ``L``
per axis. Zero padding costs no copy of ``x``: the grid's zeros past ``H`` are the padding
on both sides, and the kernel is shifted circularly by the leading pad ``lo`` instead. An
output ``i`` reads ``x[j]`` for ``j`` in ``[i - lo, i - lo + k)``: with ``L >= H + max(lo,
hi)``, ``L >= k`` and ``L >= H_out`` every such ``j`` outside ``[0, H)`` lands on a zero of
the grid and no tap wraps onto another, so ``L`` need not reach ``H + lo + hi`` (let alone
``H + lo + hi + k - 1``). ``L`` is the next 5-smooth multiple of 4
(:func:`~convzoo.functional.smooth.next_fast_len`).
Its cost is ``O(N*C*L^2 log L)`` for the transforms plus ``N*C_in*C_out*L^2/2`` complex
MACs for the channel mix, independent of ``k``: it wins over direct convolution for large
kernels and few channels. Built from differentiable torch ops: autograd, gradcheck,
torch.export and torch.compile see ordinary operators. When no gradient can flow to the
weight (``torch.no_grad()``, or a weight not requiring grad), the weight's spectrum is
cached per weight tensor and reused while the weight's values are unchanged (checked with
``torch.equal`` on every call, so in-place updates through ``.data`` are seen too); never
while compiling or tracing. The cache is safe to use from several threads.

Error: the transforms round every output with an error that grows with the *whole input's*
magnitude, not with that output's own value (an output that is exactly 0 in a direct
convolution, over a zero region of an image, comes out around 1e-7 times the image's
largest value). :func:`fft_error_bound` states it: ``|conv_fft - conv| <= eps *
log2(L1*L2) / 8 * max|x| * max_o sum|w_o|`` (``eps`` of the dtype, ``L`` the grid; measured
errors stay 8x or more below it, on normal, image-like 0-255 with zero bands, offset and
1e4-magnitude inputs, grids 40^2 to 520^2). Callers that need outputs exact relative to
their own magnitude check the bound per call (:mod:`convzoo.fast.fft_guard`).
"""

from __future__ import annotations

import math
import threading

import torch
import torch.nn.functional as F
from torch.utils.weak import WeakIdKeyDictionary

from convzoo.functional.sizes import static_shape
from convzoo.functional.smooth import next_fast_len
from convzoo.spec import ConvSpec

__all__ = ["conv_fft", "fft_error_bound", "fft_sizes"]

_TORCH_MODES = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}


# weight -> {(dilation, grid, lead): (copy of the weight, its conjugated spectrum)}; entries
# die with their weight tensor
_SPECTRA: WeakIdKeyDictionary = WeakIdKeyDictionary()
_SPECTRA_LOCK = threading.Lock()  # the cache is shared by every thread
_SPECTRA_PER_WEIGHT = 4  # grids kept per weight (one per input size seen)
_LOOP_MIX_MAX_CIN = 16  # channel mix as C_in fused multiply-adds up to here, else einsum


def fft_sizes(minimal: tuple[int, int]) -> tuple[int, int]:
    """The FFT grid for minimal circular lengths ``(n_h, n_w)``: the next 5-smooth multiples
    of 4 ``>= n_h`` and ``>= n_w``.

    >>> fft_sizes((97, 64))
    (100, 64)
    """
    return next_fast_len(minimal[0]), next_fast_len(minimal[1])


def _spectrum(
    weight: torch.Tensor, dilation: tuple[int, int], grid: tuple[int, int],
    lead: tuple[int, int],
) -> torch.Tensor:
    """``conj(rfft2(w))`` of the (dilated) kernel zero-extended to ``grid`` and shifted by
    ``-lead``: ``(C_out, C_in, L1, L2/2+1)``, conjugation resolved."""
    if any(d != 1 for d in dilation):  # dilate the kernel: zeros between its taps
        dh, dw = dilation
        kh, kw = weight.shape[-2:]
        dilated = weight.new_zeros(*weight.shape[:2], dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        dilated[..., ::dh, ::dw] = weight
        weight = dilated
    kh, kw = weight.shape[-2], weight.shape[-1]
    w = F.pad(weight, (0, grid[1] - kw, 0, grid[0] - kh))  # (C_out, C_in, L1, L2)
    if any(lead):  # tap u reads x[i + u - lo]: put it at circular offset u - lo
        w = torch.roll(w, shifts=(-lead[0], -lead[1]), dims=(-2, -1))
    return torch.fft.rfft2(w).conj().resolve_conj()


def _cacheable(weight: torch.Tensor) -> bool:
    """Whether ``weight``'s spectrum may come from (and go to) the cache: eager mode, a
    plain tensor or parameter, and no gradient can reach it."""
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        return False
    if type(weight) not in (torch.Tensor, torch.nn.Parameter):  # fake, functional, subclass
        return False
    if torch._C._functorch.is_functorch_wrapped_tensor(weight):  # torch.func transforms
        return False
    return not (weight.requires_grad and torch.is_grad_enabled())


def _cached_spectrum(
    weight: torch.Tensor, dilation: tuple[int, int], grid: tuple[int, int],
    lead: tuple[int, int],
) -> torch.Tensor:
    """:func:`_spectrum`, reused while ``weight`` holds the same values."""
    if not _cacheable(weight):
        return _spectrum(weight, dilation, grid, lead)
    key = (dilation, grid, lead)
    with _SPECTRA_LOCK:
        hit = _SPECTRA.get(weight, {}).get(key)
    if hit is not None and hit[0].dtype == weight.dtype and torch.equal(hit[0], weight):
        return hit[1]
    with torch.no_grad():
        wf = _spectrum(weight, dilation, grid, lead)
        copy = weight.detach().clone()
    with _SPECTRA_LOCK:
        entries = _SPECTRA.get(weight)
        if entries is None:
            entries = _SPECTRA[weight] = {}
        if key not in entries and len(entries) >= _SPECTRA_PER_WEIGHT:
            entries.pop(next(iter(entries)))  # the oldest grid
        entries[key] = (copy, wf)
    return wf


def _plan(spec: ConvSpec, x: torch.Tensor, weight: torch.Tensor) -> tuple[
        torch.Tensor, tuple[int, int], tuple[int, int], tuple[int, int]]:
    """``(x, lead, grid, outputs at stride 1)``: ``x`` explicitly padded for the non-zero
    padding modes, the leading zero pad applied as a kernel shift, the FFT grid."""
    pads = spec.resolved_padding(static_shape(x)[-2:])
    lead = (0, 0)  # zero padding before each axis, applied as a circular shift of the kernel
    if spec.padding_mode == "zeros":
        lead = (pads[0][0], pads[1][0])
        hp, wp = x.shape[-2] + sum(pads[0]), x.shape[-1] + sum(pads[1])
        span = (x.shape[-2] + max(pads[0]), x.shape[-1] + max(pads[1]))  # H + max(lo, hi)
    else:
        flat = [v for pair in reversed(pads) for v in pair]  # F.pad wants the last axis first
        x = F.pad(x, flat, mode=_TORCH_MODES[spec.padding_mode])  # (N, C_in, H_p, W_p)
        hp, wp = span = x.shape[-2], x.shape[-1]
    kh = spec.dilation[0] * (weight.shape[-2] - 1) + 1  # the dilated kernel's extent
    kw = spec.dilation[1] * (weight.shape[-1] - 1) + 1
    out_h, out_w = hp - kh + 1, wp - kw + 1  # outputs at stride 1
    # L >= H + max(lo, hi), L >= k and L >= H_out: see the module docstring
    grid = fft_sizes((max(span[0], kh, out_h), max(span[1], kw, out_w)))
    return x, lead, grid, (out_h, out_w)


def fft_error_bound(spec: ConvSpec, x: torch.Tensor, weight: torch.Tensor) -> float:
    """The stated bound on ``max |conv_fft(spec, x, w) - conv(x, w)|``: ``eps *
    log2(L1*L2) / 8 * max|x| * max_o sum|w_o|``, relative to the input's magnitude (see
    the module docstring; ``eps`` of ``x``'s dtype, ``L`` the FFT grid).

    >>> spec = ConvSpec(1, 1, 19, padding=9, ndim=2)
    >>> x, w = torch.ones(1, 1, 30, 30), torch.ones(1, 1, 19, 19) / 361
    >>> round(fft_error_bound(spec, x, w) / torch.finfo(torch.float32).eps, 3)
    1.33
    """
    if x.numel() == 0:
        return 0.0
    _, _, grid, _ = _plan(spec, x, weight)
    top = x.detach().abs().amax().item()
    taps = weight.detach().abs().sum(dim=tuple(range(1, weight.dim()))).amax().item()
    return torch.finfo(x.dtype).eps * math.log2(grid[0] * grid[1]) / 8 * top * taps


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
        d*(k-1) - 1)/s) + 1``; FFT grid per axis ``L = next_fast_len(max(in + max(lo, hi),
        d*(k-1) + 1, out at stride 1))`` (``in + lo + hi`` in place of ``in + max(lo, hi)``
        for the non-zero padding modes, which pad ``x`` explicitly).

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
    x, lead, grid, (out_h, out_w) = _plan(spec, x, weight)
    if x.shape[0] == 0:  # an empty batch: nothing to transform (MKL refuses empty FFTs)
        sh, sw = spec.stride
        return x.new_zeros(0, weight.shape[0], (out_h - 1) // sh + 1, (out_w - 1) // sw + 1)
    xf = torch.fft.rfft2(x, grid)  # (N, C_in, L1, L2/2+1), x zero-extended to the grid
    wf = _cached_spectrum(weight, tuple(spec.dilation), grid, lead)  # (C_out, C_in, ...)
    c_in = wf.shape[1]
    if c_in <= _LOOP_MIX_MAX_CIN:  # few channels: C_in fused complex multiply-adds
        yf = xf[:, :1] * wf[:, 0]  # (N, C_out, L1, L2/2+1)
        for c in range(1, c_in):
            yf.addcmul_(xf[:, c : c + 1], wf[:, c])
    else:
        yf = torch.einsum("ncij,ocij->noij", xf, wf)
    y = torch.fft.irfft2(yf, grid)  # (N, C_out, L1, L2): correlation at every shift
    sh, sw = spec.stride
    y = y[..., :out_h:sh, :out_w:sw]  # the valid, strided outputs
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1)
    return y.contiguous()
