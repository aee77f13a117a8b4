"""Depthwise-separable convolution: a depthwise conv then a pointwise conv (MobileNet, Xception)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from convzoo.functional.dispatch import choose_path
from convzoo.functional.layout import is_channels_last
from convzoo.layers.base import Conv
from convzoo.layers.depthwise import Depthwise
from convzoo.layers.pointwise import Pointwise
from convzoo.layers.registry import register
from convzoo.spec import ConvSpec

__all__ = ["DepthwiseSeparable", "build_norm", "build_activation"]

ModuleFactory = Callable[..., nn.Module]


def build_norm(name: str, factory: ModuleFactory | None, channels: int, device: Any = None,
               dtype: Any = None) -> nn.Module | None:
    """``factory(channels)`` (e.g. ``nn.BatchNorm2d``), or None; a ValueError for anything else.

    ``device`` and ``dtype`` (torch.nn's factory arguments) are passed to a factory that takes
    them (torch's norms do), so its parameters are created there; another factory's module is
    moved there after it is built.
    """
    if factory is None:
        return None
    if isinstance(factory, str) or not callable(factory):
        raise ValueError(
            f"`{name}` (={factory!r}) must be None or a class/callable building a module from "
            "the channel count, e.g. nn.BatchNorm2d"
        )
    placed = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
    direct = placed and _takes_factory_arguments(factory)
    module = factory(channels, **placed) if direct else factory(channels)
    if not isinstance(module, nn.Module):
        raise ValueError(f"`{name}` (={factory!r}) must build an nn.Module, got {module!r}")
    return module.to(**placed) if placed and not direct else module


def _takes_factory_arguments(factory: ModuleFactory) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return "device" in params and "dtype" in params


def build_activation(name: str, factory: ModuleFactory | None) -> nn.Module | None:
    """``factory()`` (e.g. ``nn.ReLU``), or None; a ValueError for anything else."""
    if factory is None:
        return None
    if isinstance(factory, str) or not callable(factory):
        raise ValueError(
            f"`{name}` (={factory!r}) must be None or a class/callable building a module with "
            "no arguments, e.g. nn.ReLU"
        )
    module = factory()
    if not isinstance(module, nn.Module):
        raise ValueError(f"`{name}` (={factory!r}) must build an nn.Module, got {module!r}")
    return module


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (DepthwiseSeparable(2, 3, 3, padding="same", ndim=1), (2, 2, 6)),
        (DepthwiseSeparable(3, 4, 3, stride=2, padding=1, depth_multiplier=2), (2, 3, 5, 5)),
        (DepthwiseSeparable(2, 3, 3, padding=1, activation=nn.Tanh, mid_activation=nn.Tanh),
         (1, 2, 4, 4)),
        (DepthwiseSeparable(2, 2, 2, dilation=(1, 2, 1), bias=False), (1, 2, 3, 4, 3)),
    ]


@register("separable", "depthwise-separable: depthwise then pointwise (MobileNet, Xception)",
          _examples)
class DepthwiseSeparable(nn.Module):
    """Depthwise-separable convolution: ``Depthwise`` (spatial filtering per channel) then
    ``Pointwise`` (channel mixing), optionally with a norm/activation between the two
    (MobileNet v1: BN+ReLU after each) and after (Xception puts nothing between).

    Without anything between, it equals one dense conv whose weight is
    ``W[o, c] = sum_m P[o, c*M+m] * D[c*M+m]`` (:meth:`to_dense`): a dense conv restricted to
    rank ``<= M`` per input channel, at ``M*C_in*(prod(k) + C_out)`` weights instead of
    ``C_in*C_out*prod(k)``.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        kernel_size: int or per-axis tuple (of the depthwise conv).
        stride, padding, dilation: of the depthwise conv (defaults 1, 0, 1).
        depth_multiplier: ``M`` filters per input channel (default 1).
        bias: bias in both convs (default True).
        norm, activation: module factories applied after the pointwise conv, e.g.
            ``norm=nn.BatchNorm2d`` (called with ``C_out``), ``activation=nn.ReLU`` (called with
            no argument); default None.
        mid_norm, mid_activation: the same between the two convs (``mid_norm`` called with
            ``C_in*M``); default None.
        padding_mode: of the depthwise conv (default ``'zeros'``).
        ndim: spatial dims (inferred from tuples, else 2).

    Shape:
        input ``(N, C_in, *in)`` -> depthwise ``(N, C_in*M, *out)`` -> output
        ``(N, C_out, *out)`` with ``out = floor((in + lo + hi - d*(k-1) - 1)/s) + 1``.

    Attributes:
        depthwise: the :class:`Depthwise` (weight ``(C_in*M, 1, *k)``).
        pointwise: the :class:`Pointwise` (weight ``(C_out, C_in*M, 1, ...)``).
        mid_norm, mid_activation, norm, activation: the modules built, or None.

    Fast path: when the depthwise conv takes the channels_last path
    (:func:`convzoo.functional.choose_path`: large kernels, or an input already channels_last),
    the whole chain runs NHWC with one layout conversion in and one out.

    >>> DepthwiseSeparable(3, 256, 5)(torch.randn(1, 3, 12, 12)).shape
    torch.Size([1, 256, 8, 8])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        depth_multiplier: int = 1,
        bias: bool = True,
        norm: ModuleFactory | None = None,
        activation: ModuleFactory | None = None,
        mid_norm: ModuleFactory | None = None,
        mid_activation: ModuleFactory | None = None,
        padding_mode: str = "zeros",
        ndim: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.depthwise = Depthwise(
            in_channels, kernel_size, stride, padding, dilation, depth_multiplier, bias,
            padding_mode, ndim, **factory,
        )
        mid = self.depthwise.spec.out_channels
        self.mid_norm = build_norm("mid_norm", mid_norm, mid, **factory)
        self.mid_activation = build_activation("mid_activation", mid_activation)
        self.pointwise = Pointwise(mid, out_channels, bias, self.depthwise.spec.ndim, **factory)
        self.norm = build_norm("norm", norm, out_channels, **factory)
        self.activation = build_activation("activation", activation)

    in_channels = property(lambda self: self.depthwise.spec.in_channels)
    out_channels = property(lambda self: self.pointwise.spec.out_channels)
    depth_multiplier = property(lambda self: self.depthwise.depth_multiplier)

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """The depthwise spec then the pointwise spec."""
        return [self.depthwise.spec, self.pointwise.spec]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if choose_path(self.depthwise.spec, x) == "channels_last" and not is_channels_last(x):
            # fast layout for the whole chain: one conversion in, one out (same values)
            y = self._chain(x.contiguous(memory_format=torch.channels_last))
            return y.contiguous()
        return self._chain(x)

    def _chain(self, x: torch.Tensor) -> torch.Tensor:
        x = self.depthwise(x)  # (N, C_in, *in) -> (N, C_in*M, *out)
        if self.mid_norm is not None:
            x = self.mid_norm(x)
        if self.mid_activation is not None:
            x = self.mid_activation(x)
        x = self.pointwise(x)  # (N, C_in*M, *out) -> (N, C_out, *out)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x

    def to_dense(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The dense conv ``(weight (C_out, C_in, *k), bias (C_out,) or None)`` computing the
        same depthwise-then-pointwise map (the norm/activation after it not included).

        ``W[o, c] = sum_m P[o, c*M+m] D[c*M+m]``, ``b = P b_dw + b_pw``.

        >>> layer = DepthwiseSeparable(3, 16, 3, padding=1)
        >>> weight, bias = layer.to_dense()
        >>> weight.shape, bias.shape
        (torch.Size([16, 3, 3, 3]), torch.Size([16]))
        """
        if self.mid_norm is not None or self.mid_activation is not None:
            raise ValueError(
                "`mid_norm`/`mid_activation` must be None for to_dense(): a norm or activation "
                "between the depthwise and the pointwise conv is not a convolution"
            )
        dw, pw = self.depthwise, self.pointwise
        c_in, m, c_out = self.in_channels, self.depth_multiplier, self.out_channels
        kernel = dw.spec.kernel_size
        d = dw.weight.reshape(c_in, m, *kernel)  # D[c*M+m] -> (C_in, M, *k)
        p = pw.weight.reshape(c_out, c_in, m)  # P[o, c*M+m] -> (C_out, C_in, M)
        weight = torch.einsum("ocm,cm...->oc...", p, d)  # (C_out, C_in, *k)
        bias = None
        if dw.bias is not None or pw.bias is not None:
            bias = torch.zeros(c_out, dtype=weight.dtype, device=weight.device)
            if dw.bias is not None:
                bias = bias + pw.weight.reshape(c_out, c_in * m) @ dw.bias
            if pw.bias is not None:
                bias = bias + pw.bias
        return weight, bias

    def to_conv(self) -> Conv:
        """A dense :class:`Conv` holding :meth:`to_dense`'s weight (same padding rule)."""
        weight, bias = self.to_dense()
        s = self.depthwise.spec
        conv = Conv(
            s.in_channels, self.out_channels, s.kernel_size, s.stride, s.padding, s.dilation,
            bias=bias is not None, padding_mode=s.padding_mode, ndim=s.ndim,
            device=weight.device, dtype=weight.dtype,
        )
        with torch.no_grad():
            conv.weight.copy_(weight)
            if bias is not None:
                conv.bias.copy_(bias)
        return conv

    def extra_repr(self) -> str:
        s = self.depthwise.spec
        text = f"{s.in_channels}, {self.out_channels}, kernel_size={s.kernel_size}"
        if self.depth_multiplier != 1:
            text += f", depth_multiplier={self.depth_multiplier}"
        return text
