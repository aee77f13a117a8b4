"""The FFT path inside an optimized graph, kept exact or left native.

An FFT convolution's rounding error grows with the whole input's magnitude
(:func:`convzoo.functional.fft_error_bound`), not with each output's own value, and it
spreads one NaN or Inf over the whole output. So an :class:`~convzoo.fast.plan.FFTConv`
node computes, on every call, :func:`guarded_conv_fft`:

- an input holding NaN or Inf goes to the native conv (torch's NaN semantics: only the
  outputs whose window holds the NaN become NaN);
- otherwise the FFT result is kept only when the stated bound, relative to the input's
  magnitude, is at most :data:`FFT_SHARE` of the pinned tolerance relative to that conv's
  own output (``rtol * max |y|``); else that call is computed natively.

That keeps each FFT conv within its tolerance. What the model does after it can still
amplify a tiny absolute error (a per-pixel LayerNorm over a zero region of an image turns
1e-7 into 1): ``optimize`` therefore first runs the graph with :class:`FFTNoise` (the
native conv plus noise as large as the stated bound, wherever the FFT would be used) on
every verification input, and leaves every conv native when that moves the output beyond
the tolerance.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from convzoo.fast.verify import rtol_for
from convzoo.functional import conv_fft, run_spec
from convzoo.functional.fft import fft_error_bound
from convzoo.spec import ConvSpec

__all__ = ["FFT_SHARE", "FFTNoise", "fft_holds", "guarded_conv_fft"]

FFT_SHARE = 0.25  # pinned: the FFT may use this share of the conv output's tolerance


def fft_holds(spec: ConvSpec, x: torch.Tensor, weight: torch.Tensor,
              y: torch.Tensor) -> bool:
    """Whether the FFT may stand for the conv of ``x`` whose output is (about) ``y``: finite
    input and ``fft_error_bound <= FFT_SHARE * rtol * max |y|``.

    >>> spec = ConvSpec(1, 1, 19, padding=9, ndim=2)
    >>> w = torch.randn(1, 1, 19, 19)
    >>> x = torch.randn(1, 1, 30, 30); fft_holds(spec, x, w, run_spec(spec, x, w, None))
    True
    >>> x[0, 0, 0, 0] = float("nan"); fft_holds(spec, x, w, run_spec(spec, x, w, None))
    False
    """
    if x.numel() == 0:
        return True
    if not bool(torch.isfinite(x).all()):
        return False
    top = y.detach().abs().amax().item() if y.numel() else 0.0
    return fft_error_bound(spec, x, weight) <= FFT_SHARE * rtol_for(y.dtype) * top


def guarded_conv_fft(spec: ConvSpec, x: torch.Tensor, weight: torch.Tensor,
                     bias: torch.Tensor | None) -> torch.Tensor:
    """``conv_fft`` where :func:`fft_holds`, else the native conv (see the module docstring).

    Shape:
        as :func:`convzoo.functional.conv_fft`.

    >>> spec = ConvSpec(1, 1, 19, padding=9, ndim=2)
    >>> x, w = torch.zeros(1, 1, 30, 30), torch.randn(1, 1, 19, 19)
    >>> x[0, 0, 15, 15] = float("nan")
    >>> int(guarded_conv_fft(spec, x, w, None).isnan().sum())  # the NaN's window only
    361
    """
    if x.numel() and not bool(torch.isfinite(x).all()):
        return run_spec(spec, x, weight, bias)
    y = conv_fft(spec, x, weight, bias)
    return y if fft_holds(spec, x, weight, y) else run_spec(spec, x, weight, bias)


class FFTNoise(nn.Module):
    """The native conv plus uniform noise of the size of the stated FFT error bound, where
    :func:`fft_holds` (what the FFT path could do, at its worst, to the model's output).

    >>> spec = ConvSpec(1, 1, 19, padding=9, ndim=2)
    >>> x, w = torch.randn(1, 1, 30, 30), torch.randn(1, 1, 19, 19)
    >>> y = FFTNoise(spec)(x, w, None); exact = run_spec(spec, x, w, None)
    >>> err = float((y - exact).abs().max()); bound = fft_error_bound(spec, x, w)
    >>> 0.5 * bound < err < 1.01 * bound  # (plus y's own float32 rounding)
    True
    """

    def __init__(self, spec: ConvSpec, seed: int = 0) -> None:
        super().__init__()
        self.spec, self.seed = spec, seed

    def forward(self, x: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor | None) -> torch.Tensor:
        y = run_spec(self.spec, x, weight, bias)
        if y.numel() == 0 or not fft_holds(self.spec, x, weight, y):
            return y
        bound = fft_error_bound(self.spec, x, weight)
        g = torch.Generator().manual_seed(self.seed)
        noise = torch.rand(y.shape, generator=g, dtype=torch.float64) * 2 - 1
        return y + (noise * bound).to(y.dtype)
