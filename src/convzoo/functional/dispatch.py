"""Fast-path dispatch: which kernel computes a convolution, decided from static facts only.

The decision reads the spec (kernel size, groups, stride, dilation), the input's rank,
device, dtype and memory format: never a clock. So the path is the same in eager mode,
under torch.export and under torch.compile (all of these are known while tracing), and
the traced graph holds ordinary operators.

Rules (crossovers measured on the 2-core CPU of docs/performance.md, torch 2.13 oneDNN):

- ``'channels_last'``: depthwise (``groups = C_in``, ``C_out = M*C_in``) 2-D with a kernel
  side ``>= DEPTHWISE_LAYOUT_MIN_KERNEL`` (NCHW falls onto a generic GEMM from 14 on,
  ~10-20x slower); any depthwise whose input is already channels_last (kept NHWC);
  dense with a kernel side ``>= DENSE_LAYOUT_MIN_KERNEL`` and many channels.
- ``'fft'``: dense (``groups = 1``), stride 1, dilation 1, kernel side
  ``>= DENSE_FFT_MIN_KERNEL`` and ``C_in*C_out <= DENSE_FFT_MAX_CHANNEL_PAIRS``.
- ``'native'``: everything else (transposed, grouped, 1-D/3-D, small kernels, half
  precision, non-CPU devices) — oneDNN serves those well.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch

from convzoo.functional import run_spec
from convzoo.functional.fft import conv_fft
from convzoo.functional.layout import conv_channels_last, is_channels_last
from convzoo.spec import ConvSpec

__all__ = [
    "DEPTHWISE_LAYOUT_MIN_KERNEL", "DENSE_FFT_MIN_KERNEL", "DENSE_FFT_MAX_CHANNEL_PAIRS",
    "DENSE_LAYOUT_MIN_KERNEL", "PATHS", "Path", "choose_path", "is_depthwise", "native_only",
    "run_fast", "set_native_only",
]

Path = Literal["native", "channels_last", "fft"]
PATHS: tuple[str, ...] = ("native", "channels_last", "fft")

DEPTHWISE_LAYOUT_MIN_KERNEL = 14
DENSE_LAYOUT_MIN_KERNEL = 14
DENSE_FFT_MIN_KERNEL = 19
DENSE_FFT_MAX_CHANNEL_PAIRS = 64
_FAST_DTYPES = (torch.float32, torch.float64)
_NATIVE_ONLY = [False]


def set_native_only(flag: bool) -> bool:
    """Set the process-wide native-only switch (see :func:`native_only`); returns the previous
    value. For benchmarks that flip it inside a timed call at the cost of one assignment.

    >>> previous = set_native_only(True); set_native_only(previous)
    True
    """
    previous = _NATIVE_ONLY[0]
    _NATIVE_ONLY[0] = bool(flag)
    return previous


@contextmanager
def native_only() -> Iterator[None]:
    """Within this block every convolution takes the native path (the baseline that the
    benchmarks compare against; a process-wide switch, read when a call is traced).

    >>> with native_only():
    ...     choose_path(ConvSpec(8, 8, 21, groups=8, ndim=2), torch.randn(1, 8, 32, 32))
    'native'
    """
    previous = _NATIVE_ONLY[0]
    _NATIVE_ONLY[0] = True
    try:
        yield
    finally:
        _NATIVE_ONLY[0] = previous


def is_depthwise(spec: ConvSpec) -> bool:
    """Whether ``spec`` is a depthwise conv: ``groups = C_in`` and ``C_out = M*C_in``.

    >>> is_depthwise(ConvSpec(8, 16, 3, groups=8, ndim=2)), is_depthwise(ConvSpec(8, 8, 3))
    (True, False)
    """
    return (
        spec.groups == spec.in_channels and spec.in_channels > 1
        and spec.out_channels % spec.in_channels == 0
    )


def choose_path(spec: ConvSpec, x: torch.Tensor) -> Path:
    """The kernel for ``spec`` on ``x``: ``'native'``, ``'channels_last'`` or ``'fft'``.

    Args:
        spec: a validated :class:`~convzoo.spec.ConvSpec`. x: the input tensor (only its
            rank, device, dtype and strides are read).

    Shape:
        any input; the rules in this module's docstring.

    >>> x = torch.randn(1, 8, 32, 32)
    >>> choose_path(ConvSpec(8, 8, 21, groups=8, ndim=2), x)
    'channels_last'
    >>> choose_path(ConvSpec(8, 8, 3, groups=8, ndim=2), x)
    'native'
    >>> choose_path(ConvSpec(8, 4, 31, ndim=2), x)
    'fft'
    """
    route = _route(spec)
    if route == "native" or _NATIVE_ONLY[0]:
        return "native"
    if x.dim() != 4 or x.dtype not in _FAST_DTYPES or x.device.type != "cpu":
        return "native"
    if route == "depthwise_small":
        return "channels_last" if is_channels_last(x) else "native"
    return "channels_last" if route in ("depthwise_large", "dense_large") else "fft"


_ROUTES: dict[int, tuple[ConvSpec, str]] = {}


def _route(spec: ConvSpec) -> str:
    """The input-independent part of :func:`choose_path`, cached per spec object (the
    per-call dispatch cost stays at a few attribute reads)."""
    if torch.compiler.is_compiling():  # traced once: no cache (no guard on its contents)
        return _static_route(spec)
    hit = _ROUTES.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    route = _static_route(spec)
    if len(_ROUTES) > 4096:
        _ROUTES.clear()
    _ROUTES[id(spec)] = (spec, route)
    return route


def _static_route(spec: ConvSpec) -> str:
    if spec.transposed or spec.ndim != 2:
        return "native"
    if is_depthwise(spec):
        large = max(spec.kernel_size) >= DEPTHWISE_LAYOUT_MIN_KERNEL
        return "depthwise_large" if large else "depthwise_small"
    if spec.groups != 1:
        return "native"
    plain = all(s == 1 for s in spec.stride) and all(d == 1 for d in spec.dilation)
    few = spec.in_channels * spec.out_channels <= DENSE_FFT_MAX_CHANNEL_PAIRS
    if plain and few and min(spec.kernel_size) >= DENSE_FFT_MIN_KERNEL:
        return "fft"
    if min(spec.kernel_size) >= DENSE_LAYOUT_MIN_KERNEL:
        return "dense_large"
    return "native"


def run_fast(
    spec: ConvSpec, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
    path: Path | None = None,
) -> torch.Tensor:
    """Compute ``spec`` on ``x`` by ``path`` (default: :func:`choose_path`'s choice).

    Args:
        spec, x, weight, bias: as :func:`convzoo.functional.run_spec`.
        path: ``None`` (choose), ``'native'``, ``'channels_last'`` or ``'fft'``.

    Shape:
        ``(N, C_in, *in)`` -> ``(N, C_out, *out)`` exactly as the native path.

    >>> spec = ConvSpec(4, 4, 15, padding=7, groups=4, ndim=2)
    >>> run_fast(spec, torch.randn(2, 4, 16, 16), torch.randn(4, 1, 15, 15), None).shape
    torch.Size([2, 4, 16, 16])
    """
    if path is None:
        path = choose_path(spec, x)
    if path == "native":  # the common case first
        return run_spec(spec, x, weight, bias)
    if path == "channels_last":
        return conv_channels_last(spec, x, weight, bias)
    if path == "fft":
        return conv_fft(spec, x, weight, bias)
    raise ValueError(f"`path` (={path!r}) must be None or one of: {', '.join(PATHS)}")
