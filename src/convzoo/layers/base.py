"""The one N-d convolution base: ``Conv`` and its thin ``Conv1d``/``Conv2d``/``Conv3d``."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
from torch.nn import init

from convzoo.functional.dispatch import run_fast
from convzoo.functional.sizes import static_shape
from convzoo.layers.registry import register
from convzoo.spec import ConvSpec

__all__ = [
    "Conv", "Conv1d", "Conv2d", "Conv3d", "ConvBase", "add_batch", "chain_repr", "check_dtype",
    "check_input", "describe",
]


def check_input(spec: ConvSpec, x: torch.Tensor, argument: str = "input") -> None:
    """Validate an input tensor against a spec (rank, channels, size) with a ValueError.

    Skipped while torch.compile / torch.export trace the module (shapes are checked once,
    eagerly, and tracing stays free of graph breaks); under ``torch.jit.trace`` the example
    input is checked and the check leaves nothing in the graph.
    """
    if torch.compiler.is_compiling():
        return
    check_dtype(x, argument)
    try:
        spec.output_shape(static_shape(x))
    except ValueError as e:
        raise ValueError(str(e).replace("`input_shape`", f"`{argument}` shape", 1)) from None


def check_dtype(x: torch.Tensor, argument: str = "input") -> None:
    """A ValueError unless ``x`` holds floating or complex numbers (what torch.nn's
    convolutions compute in), naming the dtype and the fix.

    >>> check_dtype(torch.zeros(1, 2, 3, dtype=torch.int64))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `input` (dtype torch.int64) must be a floating-point (or complex) tensor, ...
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"`{argument}` (={type(x).__name__}) must be a torch.Tensor")
    if not (x.is_floating_point() or x.is_complex()):
        raise ValueError(
            f"`{argument}` (dtype {x.dtype}) must be a floating-point (or complex) tensor, as "
            "torch.nn convolutions require: convert it first, e.g. x.float()")


def add_batch(x: torch.Tensor, ndim: int) -> tuple[torch.Tensor, bool]:
    """``(C, *spatial)`` -> ``(1, C, *spatial)`` for layers whose parts need a batch dim
    (norms, pooling); returns the tensor and whether it was unbatched. Any other rank than
    ``ndim + 1`` or ``ndim + 2`` is a ValueError."""
    if x.dim() == ndim + 1:
        return x.unsqueeze(0), True
    if not torch.compiler.is_compiling() and x.dim() != ndim + 2:
        raise ValueError(
            f"`input` shape (={static_shape(x)}) must be (N, C, *spatial) or (C, *spatial) with "
            f"{ndim} spatial dim{'s' if ndim != 1 else ''}"
        )
    return x, False


def chain_repr(specs: list[ConvSpec], **fields: Any) -> str:
    """``extra_repr`` of a composite layer: ``C_in -> C_out`` of its conv chain, then the
    given fields (those that are not None), e.g. ``'64 -> 128, kernel_size=(3, 3)'``."""
    text = f"{specs[0].in_channels} -> {specs[-1].out_channels}"
    extras = [f"{k}={v}" for k, v in fields.items() if v is not None]
    return ", ".join([text, *extras])


def init_conv_(weight: torch.Tensor, bias: torch.Tensor | None, fan_in: int) -> None:
    """torch.nn's default conv init: kaiming-uniform (a=sqrt(5)), bias U(±1/sqrt(fan_in))."""
    with torch.no_grad():
        init.kaiming_uniform_(weight, a=math.sqrt(5))
        if bias is not None:
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(bias, -bound, bound)


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (Conv1d(2, 3, 3, padding="causal", dilation=2), (2, 2, 9)),
        (Conv2d(4, 6, 3, stride=2, padding="same", groups=2), (2, 4, 7, 8)),
        (Conv2d(3, 4, (3, 2), padding=((1, 0), (2, 1)), padding_mode="reflect"), (1, 3, 6, 5)),
        (Conv3d(2, 2, 2, padding="full", bias=False), (1, 2, 3, 4, 3)),
    ]


def describe(spec: ConvSpec, channels: str | None = None, groups: bool = True) -> str:
    """The ``extra_repr`` of a single convolution: non-default arguments only, in torch.nn's
    order (stride, padding, dilation, output_padding, groups, bias, padding_mode).

    Args:
        spec: the convolution. channels: what to print first (default ``'C_in, C_out'``).
        groups: print ``groups=`` when it is not 1 (a layer where the groups follow from its
            own arguments, such as a depthwise conv, leaves it out).

    >>> describe(ConvSpec(4, 8, 3, stride=2, groups=4, ndim=2), channels="4", groups=False)
    '4, kernel_size=(3, 3), stride=(2, 2)'
    """
    if channels is None:
        channels = f"{spec.in_channels}, {spec.out_channels}"
    text = f"{channels}, kernel_size={spec.kernel_size}"
    if any(v != 1 for v in spec.stride):
        text += f", stride={spec.stride}"
    if spec.padding == "same":
        text += ", padding=same"
    elif any(v for pair in spec.padding for v in pair):
        sym = all(lo == hi for lo, hi in spec.padding)
        text += f", padding={tuple(lo for lo, _ in spec.padding) if sym else spec.padding}"
    if any(v != 1 for v in spec.dilation):
        text += f", dilation={spec.dilation}"
    if any(spec.output_padding):
        text += f", output_padding={spec.output_padding}"
    if groups and spec.groups != 1:
        text += f", groups={spec.groups}"
    if not spec.bias:
        text += ", bias=False"
    if spec.padding_mode != "zeros":
        text += f", padding_mode={spec.padding_mode!r}"
    return text


class ConvBase(nn.Module):
    """What every single-weight convolution module shares (forward and transposed): one
    ConvSpec, the weight and bias it describes, torch.nn's attribute names and default
    initialisation, ``specs()`` and the repr. Subclasses set ``spec`` via :meth:`_build`."""

    _ndim: int | None = None
    _prefix = "Conv"
    spec: ConvSpec

    def _build(self, spec: ConvSpec, device: Any = None, dtype: Any = None) -> None:
        self.spec = spec
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(spec.weight_shape, **factory))
        self.bias = nn.Parameter(torch.empty(spec.out_channels, **factory)) if spec.bias else None
        self.reset_parameters()

    # torch.nn-compatible attribute names
    in_channels = property(lambda self: self.spec.in_channels)
    out_channels = property(lambda self: self.spec.out_channels)
    kernel_size = property(lambda self: self.spec.kernel_size)
    stride = property(lambda self: self.spec.stride)
    dilation = property(lambda self: self.spec.dilation)
    groups = property(lambda self: self.spec.groups)
    padding_mode = property(lambda self: self.spec.padding_mode)
    output_padding = property(lambda self: self.spec.output_padding)

    def reset_parameters(self) -> None:
        """torch.nn's default initialisation (fan-in from ``weight.shape[1:]``, as torch)."""
        init_conv_(self.weight, self.bias, math.prod(self.spec.weight_shape[1:]))

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """The ConvSpecs of this layer's convolutions (one here)."""
        return [self.spec]

    def _get_name(self) -> str:
        return f"{self._prefix}{self.spec.ndim}d"

    def extra_repr(self) -> str:
        return describe(self.spec)


@register("conv", "standard N-d convolution (any stride 'same', 'full', 'causal')", _examples)
class Conv(ConvBase):
    """N-d convolution: everything ``nn.ConvNd`` does plus padding ``'same'`` at any stride
    (asymmetric when needed, from the actual input size), ``'full'`` and ``'causal'`` (1-D).

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        kernel_size: int or per-axis tuple.
        stride: default 1. padding: ``'valid'``/``'same'``/``'full'``/``'causal'``, int, tuple
            or per-side ``(lo, hi)`` pairs; default 0. dilation: default 1.
        groups: default 1. bias: default True.
        padding_mode: ``'zeros'`` (default), ``'reflect'``, ``'replicate'``, ``'circular'``.
        ndim: spatial dims (subclasses fix it; otherwise inferred from tuples, else 2).

    Shape:
        input ``(N, C_in, *in)`` or ``(C_in, *in)`` -> output ``(N, C_out, *out)`` with
        ``out = floor((in + lo + hi - d*(k-1) - 1)/s) + 1``; ``'same'``: ``out = ceil(in/s)``.

    Attributes:
        weight: ``(C_out, C_in/g, *k)``. bias: ``(C_out,)`` or None. spec: the ConvSpec.

    >>> Conv(3, 16, 3, stride=2, padding="same")(torch.randn(1, 3, 7, 7)).shape
    torch.Size([1, 16, 4, 4])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        ndim: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        spec = ConvSpec(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode,
            ndim=ndim if ndim is not None else self._ndim,
        )
        self._build(spec, device, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self.spec, x)
        # fast path (channels_last / FFT) chosen from static facts; same values as run_spec
        return run_fast(self.spec, x, self.weight, self.bias)


class Conv1d(Conv):
    """1-D :class:`Conv` (``padding='causal'`` available).

    >>> Conv1d(1, 1, 2, dilation=4, padding="causal")(torch.randn(1, 1, 16)).shape
    torch.Size([1, 1, 16])
    """

    _ndim = 1


class Conv2d(Conv):
    """2-D :class:`Conv`.

    >>> Conv2d(3, 256, 5)(torch.randn(1, 3, 12, 12)).shape
    torch.Size([1, 256, 8, 8])
    """

    _ndim = 2


class Conv3d(Conv):
    """3-D :class:`Conv`.

    >>> Conv3d(1, 16, 3, padding=1)(torch.randn(2, 1, 4, 32, 32)).shape
    torch.Size([2, 16, 4, 32, 32])
    """

    _ndim = 3
