"""Cost of a convolution: parameters, MACs, FLOPs, bias additions, bytes moved, intensity.

Conventions (DESIGN.md):

* MAC: one multiply-accumulate of a weight with an input element feeding an output,
  padded positions included, bias excluded. ``FLOPs = 2 * MACs``; bias additions are
  reported separately.
* Forward conv: ``MACs = N * C_out * prod(out spatial) * (C_in / g) * prod(k)``.
* Transposed conv: ``MACs = N * C_in * prod(in spatial) * (C_out / g) * prod(k)``: the work
  each input element scatters, equal to the MACs of the forward conv it is the adjoint of.
  Inserted zeros are not counted (torchinfo and torchscan count them: ``prod(stride)`` times
  too many).
* Params = weights + bias.
* Minimum bytes moved: every input, weight, bias and output element read or written once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from convzoo.arithmetic.tuples import check_int, is_int, to_tuple

__all__ = [
    "r2plus1d_mid_channels",
    "DTYPE_BYTES",
    "dtype_bytes",
    "conv_weight_count",
    "conv_params",
    "conv_macs",
    "conv_bias_adds",
    "flops",
    "bytes_moved",
    "arithmetic_intensity",
    "ConvCost",
    "conv_cost",
    "conv_params_formula",
    "conv_macs_formula",
]

DTYPE_BYTES = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int32": 4,
    "int8": 1,
    "uint8": 1,
}


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of a dtype name (``'float32'`` -> 4)."""
    name = str(dtype).removeprefix("torch.")
    if name not in DTYPE_BYTES:
        raise ValueError(f"`dtype` (={dtype!r}) must be one of {', '.join(DTYPE_BYTES)}")
    return DTYPE_BYTES[name]


def conv_weight_count(
    in_channels: int, out_channels: int, kernel_size: Sequence[int], groups: int = 1
) -> int:
    """Weight elements: ``C_out * (C_in / g) * prod(k)`` (same count for transposed convs).

    >>> conv_weight_count(3, 4, (3, 3))          # seed 002: standard 3->4 3x3 conv
    108
    >>> conv_weight_count(3, 3, (3, 3), groups=3)  # its depthwise part
    27
    """
    cin, cout = check_int("in_channels", in_channels), check_int("out_channels", out_channels)
    g = check_int("groups", groups)
    for name, channels in (("in_channels", cin), ("out_channels", cout)):
        if channels % g:
            raise ValueError(f"`{name}` (={channels}) must be divisible by `groups` (={g})")
    return cout * (cin // g) * math.prod(_sizes("kernel_size", kernel_size, 1))


def _sizes(name: str, values: Sequence[int], minimum: int) -> tuple[int, ...]:
    """Per-axis sizes as ints ``>= minimum``; ValueError naming ``name`` otherwise."""
    if not isinstance(values, Sequence) or isinstance(values, str) or not all(
            is_int(v) and v >= minimum for v in values):
        rule = "positive ints" if minimum == 1 else f"ints >= {minimum}"
        raise ValueError(f"`{name}` (={values!r}) must be a sequence of {rule}, one per axis")
    return tuple(int(v) for v in values)


def conv_params(
    in_channels: int,
    out_channels: int,
    kernel_size: Sequence[int],
    groups: int = 1,
    bias: bool = True,
) -> int:
    """Parameters: weights plus ``C_out`` biases when ``bias``.

    >>> conv_params(3, 256, (5, 5))
    19456
    """
    return conv_weight_count(in_channels, out_channels, kernel_size, groups) + (
        out_channels if bias else 0
    )


def conv_macs(
    batch: int,
    in_channels: int,
    out_channels: int,
    kernel_size: Sequence[int],
    input_spatial: Sequence[int],
    output_spatial: Sequence[int],
    groups: int = 1,
    transposed: bool = False,
) -> int:
    """Multiply-accumulates of one convolution call (DESIGN.md convention).

    >>> conv_macs(1, 3, 256, (5, 5), (12, 12), (8, 8))
    1228800
    >>> conv_macs(2, 3, 16, (4, 4), (16, 16), (32, 32), transposed=True)
    393216
    """
    conv_weight_count(in_channels, out_channels, kernel_size, groups)  # validates them
    taps = math.prod(kernel_size)
    check_int("batch", batch, 0)
    _sizes("input_spatial", input_spatial, 1)
    _sizes("output_spatial", output_spatial, 0)
    if transposed:
        return batch * in_channels * math.prod(input_spatial) * (out_channels // groups) * taps
    return batch * out_channels * math.prod(output_spatial) * (in_channels // groups) * taps


def conv_bias_adds(
    batch: int, out_channels: int, output_spatial: Sequence[int], bias: bool = True
) -> int:
    """Bias additions: one per output element when the conv has a bias."""
    check_int("batch", batch, 0)
    check_int("out_channels", out_channels)
    _sizes("output_spatial", output_spatial, 0)
    return batch * out_channels * math.prod(output_spatial) if bias else 0


def flops(macs: int) -> int:
    """FLOPs = 2 * MACs (a multiply and an add); bias additions are not included."""
    return 2 * check_int("macs", macs, 0)


def bytes_moved(elements: Sequence[int], dtype: str = "float32") -> int:
    """Minimum bytes moved: each listed tensor's elements read or written once."""
    return sum(_sizes("elements", elements, 0)) * dtype_bytes(dtype)


def arithmetic_intensity(flop_count: int, byte_count: int) -> float:
    """FLOPs per byte moved (the roofline's x axis)."""
    check_int("flop_count", flop_count, 0)
    check_int("byte_count", byte_count, 0)
    return flop_count / byte_count if byte_count else 0.0


@dataclass(frozen=True)
class ConvCost:
    """Every cost number of one convolution call."""

    params: int
    macs: int
    flops: int
    bias_adds: int
    input_elements: int
    weight_elements: int
    output_elements: int
    bytes: int
    intensity: float


def conv_cost(
    batch: int,
    in_channels: int,
    out_channels: int,
    kernel_size: Sequence[int],
    input_spatial: Sequence[int],
    output_spatial: Sequence[int],
    groups: int = 1,
    bias: bool = True,
    transposed: bool = False,
    dtype: str = "float32",
) -> ConvCost:
    """All cost numbers of one call, from the functions above.

    >>> c = conv_cost(1, 3, 4, (3, 3), (32, 32), (32, 32), bias=False)
    >>> c.params, c.macs, c.flops
    (108, 110592, 221184)
    """
    params = conv_params(in_channels, out_channels, kernel_size, groups, bias)
    macs = conv_macs(
        batch, in_channels, out_channels, kernel_size, input_spatial, output_spatial, groups,
        transposed,
    )
    inputs = batch * in_channels * math.prod(input_spatial)
    outputs = batch * out_channels * math.prod(output_spatial)
    moved = bytes_moved((inputs, params, outputs), dtype)
    return ConvCost(
        params=params,
        macs=macs,
        flops=flops(macs),
        bias_adds=conv_bias_adds(batch, out_channels, output_spatial, bias),
        input_elements=inputs,
        weight_elements=params,
        output_elements=outputs,
        bytes=moved,
        intensity=arithmetic_intensity(flops(macs), moved),
    )


def conv_params_formula(
    in_channels: int,
    out_channels: int,
    kernel_size: Sequence[int],
    groups: int = 1,
    bias: bool = True,
) -> str:
    """:func:`conv_params` written out with its numbers.

    >>> conv_params_formula(3, 256, (5, 5))
    'C_out*(C_in/g)*prod(k) + bias = 256*(3/1)*5*5 + 256 = 19456'
    """
    k = "*".join(str(v) for v in kernel_size)
    total = conv_params(in_channels, out_channels, kernel_size, groups, bias)
    return (
        f"C_out*(C_in/g)*prod(k) + bias = {out_channels}*({in_channels}/{groups})*{k} + "
        f"{out_channels if bias else 0} = {total}"
    )


def conv_macs_formula(
    batch: int,
    in_channels: int,
    out_channels: int,
    kernel_size: Sequence[int],
    input_spatial: Sequence[int],
    output_spatial: Sequence[int],
    groups: int = 1,
    transposed: bool = False,
) -> str:
    """:func:`conv_macs` written out with its numbers.

    >>> conv_macs_formula(1, 3, 256, (5, 5), (12, 12), (8, 8))
    'N*C_out*prod(out)*(C_in/g)*prod(k) = 1*256*8*8*(3/1)*5*5 = 1228800'
    """
    k = "*".join(str(v) for v in kernel_size)
    total = conv_macs(
        batch, in_channels, out_channels, kernel_size, input_spatial, output_spatial, groups,
        transposed,
    )
    if transposed:
        i = "*".join(str(v) for v in input_spatial)
        return (
            f"N*C_in*prod(in)*(C_out/g)*prod(k) = {batch}*{in_channels}*{i}*"
            f"({out_channels}/{groups})*{k} = {total}"
        )
    o = "*".join(str(v) for v in output_spatial)
    return (
        f"N*C_out*prod(out)*(C_in/g)*prod(k) = {batch}*{out_channels}*{o}*"
        f"({in_channels}/{groups})*{k} = {total}"
    )


def r2plus1d_mid_channels(in_channels: int, out_channels: int, kernel_size: object) -> int:
    """The R(2+1)D paper's rule: ``M = floor(t*k_h*k_w*C_in*C_out / (k_h*k_w*C_in + t*C_out))``,
    which gives the (2+1)D block the parameter count of the full ``t x k_h x k_w`` conv.

    >>> r2plus1d_mid_channels(64, 64, 3)
    144
    """
    t, kh, kw = to_tuple(kernel_size, 3, "kernel_size", "positive")
    return max((t * kh * kw * in_channels * out_channels)
               // (kh * kw * in_channels + t * out_channels), 1)
