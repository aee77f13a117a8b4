"""ConvSpec: the one validated description of a convolution (forward or transposed, any dims)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from convzoo import arithmetic as ar
from convzoo.arithmetic.tuples import check_int, check_rule, is_int, to_tuple

__all__ = ["ConvSpec", "MAX_ELEMENTS"]

#: Largest tensor (in elements) a spec may describe on this machine by default
#: (``convzoo.arithmetic.max_elements``: at most 2**33, 32 GiB of float32, and below the
#: machine's memory; ``set_max_elements`` overrides it). Anything larger is almost certainly
#: a typo, and is refused before anything is allocated.
MAX_ELEMENTS = ar.DEFAULT_MAX_ELEMENTS

Pairs = tuple[tuple[int, int], ...]


def _infer_ndim(*values: Any) -> int:
    """The length of the first tuple argument (kernel_size first), else 2."""
    for v in values:
        if isinstance(v, Sequence) and not isinstance(v, str):
            return len(v)
    return 2


@dataclass(frozen=True)
class ConvSpec:
    """A convolution's full description; every number about it comes from ``convzoo.arithmetic``.

    Arguments mirror ``torch.nn.ConvNd`` / ``ConvTransposeNd`` and are normalized once here:
    ints become per-axis tuples, padding becomes one ``(lo, hi)`` pair per axis.

    Args:
        in_channels, out_channels: channel counts ``C_in`` and ``C_out``.
        kernel_size: int or per-axis tuple.
        stride, dilation: int or per-axis tuple (default 1).
        padding: ``'valid'``, ``'same'`` (any stride; for transposed convs output = input *
            stride), ``'full'``, ``'causal'`` (1-D), an int, a tuple of ints or of ``(lo, hi)``
            pairs (default 0). Kept as ``'same'`` only when it depends on the input size.
        groups: channel groups ``g`` (default 1).
        bias: whether there is a bias (default True).
        transposed: a transposed (fractionally strided) convolution (default False).
        output_padding: extra output elements on the right of a transposed conv (default 0).
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        ndim: number of spatial dims; inferred from tuple arguments, else 2.

    Attributes:
        weight_shape: ``(C_out, C_in/g, *k)``; transposed: ``(C_in, C_out/g, *k)``.

    Shape:
        conv: ``out = floor((in + lo + hi - d*(k-1) - 1)/s) + 1`` per axis;
        transposed: ``out = (in-1)*s - lo - hi + d*(k-1) + output_padding + 1``.

    >>> spec = ConvSpec(3, 256, 5)
    >>> spec.output_shape((1, 3, 12, 12)), spec.params, spec.macs((1, 3, 12, 12))
    ((1, 256, 8, 8), 19456, 1228800)
    """

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...] = 1  # type: ignore[assignment]
    padding: Pairs | str = 0  # type: ignore[assignment]
    dilation: tuple[int, ...] = 1  # type: ignore[assignment]
    groups: int = 1
    bias: bool = True
    transposed: bool = False
    output_padding: tuple[int, ...] = 0  # type: ignore[assignment]
    padding_mode: str = "zeros"
    ndim: int = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:  # normalization and validation, once
        set_ = object.__setattr__
        ndim = self.ndim
        if ndim is None:
            ndim = _infer_ndim(self.kernel_size, self.stride, self.dilation, self.output_padding)
        ndim = check_int("ndim", ndim)
        set_(self, "ndim", ndim)
        cin = check_int("in_channels", self.in_channels)
        cout = check_int("out_channels", self.out_channels)
        g = check_int("groups", self.groups)
        for name, channels in (("in_channels", cin), ("out_channels", cout)):
            if channels % g:
                raise ValueError(f"`{name}` (={channels}) must be divisible by `groups` (={g})")
        for name in ("kernel_size", "stride", "dilation"):
            set_(self, name, to_tuple(getattr(self, name), ndim, name, "positive"))
        op = to_tuple(self.output_padding, ndim, "output_padding", "non-negative")
        if self.padding_mode not in ar.PADDING_MODES:
            raise ValueError(
                f"`padding_mode` (={self.padding_mode!r}) must be one of "
                + ", ".join(repr(m) for m in ar.PADDING_MODES)
            )
        set_(self, "bias", bool(self.bias))
        set_(self, "transposed", bool(self.transposed))
        if self.transposed:
            op = self._transposed_padding(op)
        else:
            if any(op):
                raise ValueError(
                    f"`output_padding` (={self.output_padding!r}) applies only to transposed "
                    "convolutions (transposed=True)"
                )
            set_(self, "padding", self._forward_padding())
        set_(self, "output_padding", op)
        self._check_sizes()

    # ----------------------------------------------------------------- normalization
    def _forward_padding(self) -> Pairs | str:
        parsed = ar.parse_padding(self.padding, self.ndim)
        if ar.needs_input_size(parsed, self.stride):
            return "same"
        return ar.resolve_padding(parsed, self.kernel_size, self.stride, self.dilation)

    def _transposed_padding(self, op: tuple[int, ...]) -> tuple[int, ...]:
        if self.padding_mode != "zeros":
            raise ValueError(
                f"`padding_mode` (={self.padding_mode!r}) must be 'zeros' for transposed "
                "convolutions"
            )
        parsed, op = ar.resolve_transposed_padding(
            self.padding, self.output_padding, self.kernel_size, self.stride, self.dilation)
        object.__setattr__(self, "padding", parsed)
        return op

    def _check_sizes(self) -> None:
        weights = math.prod(self.weight_shape)
        if weights > ar.max_elements():
            names = ("in_channels", "out_channels/groups") if self.transposed else (
                "out_channels", "in_channels/groups")
            raise ValueError(
                f"the weight of shape {self.weight_shape} ({', '.join(names)}, *kernel_size) "
                f"would have {weights} elements, more than the limit of {ar.max_elements()}"
            )
        if self.padding == "same" or self.transposed:  # cropping cannot blow an output up
            return
        smallest = tuple(
            max(ar.effective_kernel(k, d) - lo - hi, 1)
            for k, d, (lo, hi) in zip(self.kernel_size, self.dilation, self.padding)
        )
        out = self.out_channels * math.prod(self._spatial_out(smallest))
        if out > ar.max_elements():
            raise ValueError(
                f"`padding` (={self.padding}) is so large that even the smallest valid input "
                f"gives an output of {out} elements, more than the limit of {ar.max_elements()}"
            )

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_module(cls, module: Any) -> ConvSpec:
        """The spec of a ``torch.nn`` convolution module (Conv1d/2d/3d, ConvTranspose1d/2d/3d).

        >>> import torch.nn as nn
        >>> ConvSpec.from_module(nn.ConvTranspose2d(3, 16, 4, stride=2, padding=1)).weight_shape
        (3, 16, 4, 4)
        """
        import torch.nn as nn

        if not isinstance(module, nn.modules.conv._ConvNd):
            raise ValueError(
                f"`module` (={type(module).__name__}) must be a torch.nn convolution "
                "(Conv1d/2d/3d or ConvTranspose1d/2d/3d)"
            )
        return cls(
            module.in_channels,
            module.out_channels,
            tuple(module.kernel_size),
            stride=tuple(module.stride),
            padding=module.padding if isinstance(module.padding, str) else tuple(module.padding),
            dilation=tuple(module.dilation),
            groups=module.groups,
            bias=module.bias is not None,
            transposed=module.transposed,
            output_padding=tuple(module.output_padding),
            padding_mode=module.padding_mode,
            ndim=len(module.kernel_size),
        )

    # ----------------------------------------------------------------- properties
    @property
    def weight_shape(self) -> tuple[int, ...]:
        """``(C_out, C_in/g, *k)``, or ``(C_in, C_out/g, *k)`` for transposed convs."""
        if self.transposed:
            return (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    @property
    def params(self) -> int:
        """Weights plus biases (``convzoo.arithmetic.conv_params``)."""
        return ar.conv_params(
            self.in_channels, self.out_channels, self.kernel_size, self.groups, self.bias
        )

    @property
    def kind(self) -> ar.Variant:
        """Which variant this one convolution is, a name of the one vocabulary
        (:class:`convzoo.arithmetic.Variant`, a ``str``): ``transposed``, ``pointwise`` (1x1,
        one group), ``depthwise`` (``groups == in_channels``), ``group``, ``dilated``,
        ``conv3d`` (a dense conv over 3 spatial axes) or ``conv``, checked in that order.

        >>> [str(ConvSpec(8, 8, 3, groups=8).kind), str(ConvSpec(4, 4, (3, 3, 3)).kind)]
        ['depthwise', 'conv3d']
        >>> ConvSpec(8, 16, 3, groups=2).kind == "group"
        True
        """
        v = ar.Variant
        if self.transposed:
            return v.TRANSPOSED
        if all(k == 1 for k in self.kernel_size) and self.groups == 1:
            return v.POINTWISE
        if self.groups > 1 and self.groups == self.in_channels:
            return v.DEPTHWISE
        if self.groups > 1:
            return v.GROUP
        if any(d > 1 for d in self.dilation):
            return v.DILATED
        return v.CONV3D if self.ndim == 3 else v.CONV

    # ----------------------------------------------------------------- input-dependent numbers
    def split_input_shape(self, input_shape: Sequence[int]) -> tuple[int | None, int, tuple]:
        """Validate ``(N, C, *spatial)`` or ``(C, *spatial)``; return ``(N | None, C, spatial)``."""
        n = self.ndim
        try:
            shape = tuple(input_shape) if not isinstance(input_shape, str) else None
        except TypeError:  # None, an int...: not a sequence
            shape = None
        if (shape is None or len(shape) not in (n + 1, n + 2)
                or not all(is_int(v) for v in shape)):
            given = repr(input_shape) if shape is None else shape
            raise ValueError(
                f"`input_shape` (={given}) must be "
                f"(N, C, *spatial) or (C, *spatial) with {n} spatial dim{'s' if n != 1 else ''}"
            )
        check_rule("input_shape", shape, shape, "non-negative")
        if len(shape) == n + 1 and shape[0] != self.in_channels == shape[1]:
            raise ValueError(
                f"`input_shape` (={shape}) reads as (N, C) = {shape[:2]} with {n - 1} spatial "
                f"dim{'s' if n != 2 else ''}; this convolution needs {n} spatial "
                f"dim{'s' if n != 1 else ''}"
            )
        batch = shape[0] if len(shape) == n + 2 else None
        channels, spatial = shape[-n - 1], shape[-n:]
        if channels != self.in_channels:
            raise ValueError(
                f"`input_shape` channel dim (={channels}) must equal `in_channels` "
                f"(={self.in_channels})"
            )
        if any(s < 1 for s in spatial):
            raise ValueError(f"`input_shape` (={shape}) must have positive spatial sizes")
        return batch, channels, tuple(spatial)

    def resolved_padding(self, spatial: Sequence[int] | None = None) -> Pairs:
        """Per-axis ``(lo, hi)`` padding; ``spatial`` is needed only for strided ``'same'``."""
        if self.padding == "same":
            if spatial is None:
                raise ValueError(
                    "`padding` (='same') with a stride > 1 depends on the input size; pass it"
                )
            return ar.resolve_padding(
                "same", self.kernel_size, self.stride, self.dilation, input_size=spatial
            )
        return self.padding  # type: ignore[return-value]

    def _spatial_out(self, spatial: Sequence[int]) -> tuple[int, ...]:
        pads = self.resolved_padding(spatial)
        if not self.transposed:
            for axis, (i, k, d, (lo, hi)) in enumerate(
                zip(spatial, self.kernel_size, self.dilation, pads)
            ):
                if i + lo + hi < ar.effective_kernel(k, d):
                    raise ValueError(
                        f"effective kernel size d*(k-1)+1 (={ar.effective_kernel(k, d)}) must "
                        f"not exceed the padded input size (={i + lo + hi}) along spatial dim "
                        f"{axis}"
                    )
        return ar.output_spatial_shape(
            spatial, self.kernel_size, self.stride, pads, self.dilation, self.transposed,
            self.output_padding,
        )

    def _check_padding_mode(self, spatial: Sequence[int]) -> None:
        if self.padding_mode in ("zeros", "replicate"):
            return
        for axis, (i, (lo, hi)) in enumerate(zip(spatial, self.resolved_padding(spatial))):
            p = max(lo, hi)
            if self.padding_mode == "reflect" and p >= i:
                raise ValueError(
                    f"`padding` (={p}) must be smaller than the input size (={i}) along spatial "
                    f"dim {axis} for padding_mode='reflect'"
                )
            if self.padding_mode == "circular" and p > i:
                raise ValueError(
                    f"`padding` (={p}) must not exceed the input size (={i}) along spatial dim "
                    f"{axis} for padding_mode='circular'"
                )

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Output shape for an input of shape ``(N, C_in, *spatial)`` or ``(C_in, *spatial)``.

        >>> ConvSpec(3, 16, 4, stride=2, padding=1, transposed=True).output_shape((2, 3, 16, 16))
        (2, 16, 32, 32)
        """
        batch, _, spatial = self.split_input_shape(input_shape)
        self._check_padding_mode(spatial)
        out = self._spatial_out(spatial)
        ar.check_elements("the output", (batch if batch is not None else 1,
                                         self.out_channels, *out))
        return (self.out_channels, *out) if batch is None else (batch, self.out_channels, *out)

    def cost(self, input_shape: Sequence[int], dtype: str = "float32") -> ar.ConvCost:
        """Params, MACs, FLOPs, bias adds, bytes moved and intensity for one call."""
        out = self.output_shape(input_shape)
        batch, _, spatial = self.split_input_shape(input_shape)
        return ar.conv_cost(
            batch if batch is not None else 1, self.in_channels, self.out_channels,
            self.kernel_size, spatial, out[-self.ndim:], self.groups, self.bias,
            self.transposed, dtype,
        )

    def params_formula(self) -> str:
        """The parameter count written out with its numbers."""
        return ar.conv_params_formula(
            self.in_channels, self.out_channels, self.kernel_size, self.groups, self.bias
        )

    def macs_formula(self, input_shape: Sequence[int]) -> str:
        """The MAC count written out with its numbers.

        >>> ConvSpec(3, 16, 4, stride=2, padding=1, transposed=True).macs_formula((2, 3, 16, 16))
        'N*C_in*prod(in)*(C_out/g)*prod(k) = 2*3*16*16*(16/1)*4*4 = 393216'
        """
        out = self.output_shape(input_shape)
        batch, _, spatial = self.split_input_shape(input_shape)
        return ar.conv_macs_formula(
            batch if batch is not None else 1, self.in_channels, self.out_channels,
            self.kernel_size, spatial, out[-self.ndim:], self.groups, self.transposed,
        )

    def macs(self, input_shape: Sequence[int]) -> int:
        """Multiply-accumulates for one call (DESIGN.md convention, transposed included)."""
        return self.cost(input_shape).macs

    def flops(self, input_shape: Sequence[int]) -> int:
        """``2 * macs`` (bias additions excluded)."""
        return self.cost(input_shape).flops

    def receptive_field(
        self, input_shape: Sequence[int] | None = None
    ) -> tuple[ar.ReceptiveField, ...]:
        """Per-axis receptive field of one output element (Distill algebra).

        >>> ConvSpec(3, 16, 3, dilation=2, padding=2).receptive_field()[0]
        ReceptiveField(size=5, stride=1, padding=2)
        """
        spatial = None
        if input_shape is not None:
            spatial = self.split_input_shape(input_shape)[2]
        pads = self.resolved_padding(spatial)
        return tuple(
            ar.chain(ar.conv_axis_rf_layers(k, s, lo, d, self.transposed))
            for k, s, d, (lo, _) in zip(self.kernel_size, self.stride, self.dilation, pads))

    def output_formulas(self, input_shape: Sequence[int]) -> tuple[str, ...]:
        """Per-axis output-size formula with the numbers substituted.

        >>> ConvSpec(1, 1, 2, stride=2, padding=1).output_formulas((1, 1, 5, 5))[0]
        'floor((5 + 1 + 1 - 1*(2-1) - 1) / 2) + 1 = 3'
        """
        _, _, spatial = self.split_input_shape(input_shape)
        self.output_shape(input_shape)
        pads = self.resolved_padding(spatial)
        if self.transposed:
            return tuple(
                ar.conv_transpose_output_formula(i, k, s, p, o, d)
                for i, k, s, p, o, d in zip(
                    spatial, self.kernel_size, self.stride, pads, self.output_padding,
                    self.dilation,
                )
            )
        return tuple(
            ar.conv_output_formula(i, k, s, p, d)
            for i, k, s, p, d in zip(spatial, self.kernel_size, self.stride, pads, self.dilation)
        )
