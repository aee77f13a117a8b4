"""Transposed (fractionally strided) convolution: learnable upsampling, with ``output_size``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as nn

from convzoo.arithmetic import is_int, solve_output_padding, to_tuple
from convzoo.functional import run_spec
from convzoo.functional.sizes import static_shape
from convzoo.layers.base import ConvBase, check_input, describe
from convzoo.layers.registry import register
from convzoo.spec import ConvSpec

__all__ = ["TransposedConv", "TransposedConv1d", "TransposedConv2d", "TransposedConv3d"]


def _examples() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (TransposedConv1d(2, 3, 3, stride=2, padding=1, output_padding=1), (2, 2, 4)),
        (TransposedConv2d(4, 2, 3, stride=2, padding="same", groups=2), (2, 4, 3, 2)),
        (TransposedConv2d(2, 3, (3, 2), stride=(2, 3), dilation=(2, 1), output_size=(8, 9)),
         (1, 2, 2, 3)),
        (TransposedConv3d(2, 2, 2, stride=2, bias=False), (1, 2, 2, 1, 2)),
    ]


def normalize_output_size(value: Any, ndim: int) -> tuple[int, ...] | None:
    """``None``, an int, ``ndim`` spatial sizes, or a full ``(N, C, *spatial)`` size -> spatial."""
    if value is None:
        return None
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = tuple(value)
        if len(value) == ndim + 2:
            value = value[2:]
        elif len(value) != ndim or not all(is_int(v) for v in value):
            raise ValueError(
                f"`output_size` (={value!r}) must have {ndim} spatial size"
                f"{'s' if ndim != 1 else ''} (or be a full (N, C, *spatial) size)"
            )
    return to_tuple(value, ndim, "output_size", "positive")


@register("transposed", "transposed / fractionally strided conv: learnable upsampling",
          _examples)
class TransposedConv(ConvBase):
    """N-d transposed convolution (also called fractionally strided convolution or, loosely,
    "deconvolution"): learnable upsampling, used in decoders (U-Net), GAN generators and
    super-resolution.

    How it computes: insert ``s - 1`` zeros between neighbouring input elements (so a stride of
    ``s`` acts like a stride of ``1/s``), pad the result with ``d*(k-1) - p`` zeros on each side,
    and run an ordinary stride-1 convolution with the spatially flipped kernel (input and
    output channel axes swapped). Equivalently every input element scatters a copy of the
    kernel, scaled by its value, into the output, ``s`` elements apart, overlaps summed.

    It is the transpose (adjoint) of the convolution with the same kernel, stride, padding and
    dilation, i.e. its gradient with respect to the input: it maps that convolution's output
    *shape* back to its input shape, but it is not its inverse and does not recover the
    input values. When ``k`` is not divisible by ``s`` the output elements are covered by
    unequal numbers of kernel taps, which produces checkerboard artifacts (cures: ``k``
    divisible by ``s``, or resize-then-conv, or sub-pixel convolution/PixelShuffle).

    Several input sizes of a strided conv give the same output size, so the way back is
    ambiguous: ``output_padding`` (``< max(s, d)``) adds elements on the right/bottom to pick
    one. ``output_size`` picks it for you (per call, from the input size), and
    ``padding='same'`` gives ``out = in * s``.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        kernel_size: int or per-axis tuple. stride: default 1.
        padding: elements cropped from each side of the output: int, tuple, ``(lo, hi)``
            pairs, ``'valid'`` (0) or ``'same'`` (``out = in * s``); default 0.
        output_padding: extra elements on the right of each axis, ``< max(s, d)`` (default 0).
        groups: default 1. bias: default True. dilation: default 1.
        output_size: target spatial size (or full ``(N, C, *spatial)`` size) solved into
            ``output_padding`` at every call (default None); ``forward(x, output_size)``
            overrides it.
        ndim: spatial dims (1d/2d/3d subclasses fix it; else inferred from tuples, else 2).

    Shape:
        input ``(N, C_in, *in)`` or ``(C_in, *in)`` -> output ``(N, C_out, *out)`` with
        ``out = (in - 1)*s - lo - hi + d*(k-1) + output_padding + 1``.

    Attributes:
        weight: ``(C_in, C_out/g, *k)`` (torch's ConvTranspose layout). bias: ``(C_out,)`` or
        None. spec: the ConvSpec (``transposed=True``). output_size: the stored target or None.

    >>> TransposedConv(3, 16, 4, stride=2, padding=1)(torch.randn(2, 3, 16, 16)).shape
    torch.Size([2, 16, 32, 32])
    >>> up = TransposedConv(16, 3, 3, stride=2, padding=1)
    >>> up(torch.randn(1, 16, 16, 16)).shape, up(torch.randn(1, 16, 16, 16), (32, 32)).shape
    (torch.Size([1, 3, 31, 31]), torch.Size([1, 3, 32, 32]))
    """

    _prefix = "TransposedConv"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        output_size: Any = None,
        ndim: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        spec = ConvSpec(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            transposed=True, output_padding=output_padding,
            ndim=ndim if ndim is not None else self._ndim,
        )
        # the user's output_padding, not the spec's: padding='same' with kernel < stride
        # solves a nonzero one itself
        requested = output_padding if isinstance(output_padding, Sequence) else (output_padding,)
        if output_size is not None and any(requested):
            raise ValueError(
                f"`output_padding` (={output_padding!r}) must be left at 0 when `output_size` "
                "is given: it is solved from the target size"
            )
        self.output_size = normalize_output_size(output_size, spec.ndim)
        self._build(spec, device, dtype)

    def call_spec(self, spatial: Sequence[int], output_size: Any = None) -> ConvSpec:
        """The spec of one call: ``output_padding`` solved for the target size, if any."""
        target = normalize_output_size(output_size, self.spec.ndim)
        if target is None:
            target = self.output_size
        if target is None:
            return self.spec
        s = self.spec
        pads = s.resolved_padding(spatial)
        solved = tuple(
            solve_output_padding(i, t, k, st, p, d)
            for i, t, k, st, p, d in zip(
                spatial, target, s.kernel_size, s.stride, pads, s.dilation, strict=True
            )
        )
        if solved == s.output_padding:
            return s
        return dataclasses.replace(s, output_padding=solved)

    def specs(self, input_shape: tuple[int, ...] | None = None) -> list[ConvSpec]:
        """The ConvSpec of this layer (with the solved output_padding once the input is known)."""
        if input_shape is None or self.output_size is None:
            return [self.spec]
        return [self.call_spec(self.spec.split_input_shape(input_shape)[2])]

    def forward(self, x: torch.Tensor, output_size: Any = None) -> torch.Tensor:
        n = self.spec.ndim
        if (output_size is None and self.output_size is None) or x.dim() not in (n + 1, n + 2):
            check_input(self.spec, x)  # no target size (or a wrong rank): the spec as built
        spec = self.call_spec(static_shape(x)[-n:], output_size)
        # with a target, the check uses the solved output_padding: a size-0 base output
        # (crop >= produced) is fine when output_padding brings it back to the target
        check_input(spec, x)
        # (N, C_in, *in) -> zero-insert, pad, conv with flipped kernel -> (N, C_out, *out)
        return run_spec(spec, x, self.weight, self.bias)

    def extra_repr(self) -> str:
        text = describe(self.spec)
        if self.output_size is not None:
            text += f", output_size={self.output_size}"
        return text


class TransposedConv1d(TransposedConv):
    """1-D :class:`TransposedConv`.

    >>> TransposedConv1d(1, 1, 2, stride=2)(torch.randn(1, 1, 8)).shape
    torch.Size([1, 1, 16])
    """

    _ndim = 1


class TransposedConv2d(TransposedConv):
    """2-D :class:`TransposedConv`.

    >>> TransposedConv2d(16, 3, 3, stride=2, padding="same")(torch.randn(1, 16, 16, 16)).shape
    torch.Size([1, 3, 32, 32])
    """

    _ndim = 2


class TransposedConv3d(TransposedConv):
    """3-D :class:`TransposedConv`.

    >>> TransposedConv3d(4, 2, 4, stride=2, padding=1)(torch.randn(1, 4, 2, 8, 8)).shape
    torch.Size([1, 2, 4, 16, 16])
    """

    _ndim = 3
