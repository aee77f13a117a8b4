"""``convzoo shape``: the output shape of a conv or transposed conv, worked out per axis."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from convzoo.cli.output import console, emit_json, print_pairs, renamed_flag
from convzoo.spec import ConvSpec
from convzoo.text import parse_ints, parse_padding, parse_shape, per_axis

__all__ = ["add_parser", "parse_input_shape", "report", "run", "spec_arguments",
           "spec_options", "spec_from_args", "SPEC_FLAGS"]


#: The flags :func:`spec_arguments` can declare, in ``--help`` order.
SPEC_FLAGS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
              "groups", "bias", "transposed", "output_padding", "padding_mode")

#: Defaults of the flags when a command gives them (``convzoo shape``); None elsewhere.
_DEFAULTS = {"stride": "1", "padding": "0", "dilation": "1", "groups": 1,
             "output_padding": "0", "padding_mode": "zeros"}


def spec_arguments(p: argparse.ArgumentParser, required: bool = True,
                   only: tuple[str, ...] = SPEC_FLAGS) -> None:
    """The flags describing one convolution (shared by shape, compare and animate).

    Args:
        p: the command's parser.
        required: True (shape, compare): ``--in``, ``--out`` and ``-k/--kernel-size`` must be
            given and the other flags default to a plain conv (stride 1, padding 0...);
            False (animate): every flag is optional and an unset one is None (the kind's own
            default applies).
        only: the flags to declare (names of :data:`SPEC_FLAGS`).
    """
    unknown = sorted(set(only) - set(SPEC_FLAGS))
    if unknown:
        raise ValueError(f"`only` (={unknown!r}) must name flags of {SPEC_FLAGS}")

    def default(name: str) -> Any:
        return _DEFAULTS[name] if required else None

    def shown(name: str, text: str) -> str:
        return f"{text} (default {_DEFAULTS[name]})" if required else text

    flags: dict[str, Callable[[], object]] = {
        "in_channels": lambda: p.add_argument(
            "--in", dest="in_channels", type=int, required=required, help="C_in"),
        "out_channels": lambda: p.add_argument(
            "--out", dest="out_channels", type=int, required=required, help="C_out"),
        "kernel_size": lambda: renamed_flag(
            p, "-k", "--kernel-size", old=("--kernel",), dest="kernel_size", required=required,
            help="kernel size: 3 or 3x5 (formerly --kernel)"),
        "stride": lambda: p.add_argument(
            "-s", "--stride", default=default("stride"), help=shown("stride", "stride: 2 or 2x1")),
        "padding": lambda: p.add_argument(
            "-p", "--padding", default=default("padding"),
            help=shown("padding", "valid, same, full, causal, or ints like 1 or 1x2")),
        "dilation": lambda: p.add_argument(
            "-d", "--dilation", default=default("dilation"),
            help=shown("dilation", "dilation: 2 or 2x1")),
        "groups": lambda: p.add_argument(
            "-g", "--groups", type=int, default=default("groups"),
            help=shown("groups", "channel groups")),
        "bias": lambda: p.add_argument("--no-bias", action="store_true",
                                       help="the conv has no bias"),
        "transposed": lambda: p.add_argument("--transposed", action="store_true",
                                             help="a transposed convolution"),
        "output_padding": lambda: p.add_argument(
            "--output-padding", default=default("output_padding"),
            help=shown("output_padding", "transposed only: 0 or 1x0")),
        "padding_mode": lambda: p.add_argument(
            "--padding-mode", default=default("padding_mode"),
            help=shown("padding_mode", "zeros, reflect, replicate or circular")),
    }
    for name in SPEC_FLAGS:
        if name in only:
            flags[name]()


def spec_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ConvSpec keyword arguments the :func:`spec_arguments` flags give, each parsed by
    :mod:`convzoo.text` (flags not declared or not set are left out)."""
    text = {
        "kernel_size": lambda v: per_axis(parse_ints(v, "--kernel-size")),
        "stride": lambda v: per_axis(parse_ints(v, "--stride")),
        "padding": lambda v: parse_padding(v, "--padding"),
        "dilation": lambda v: per_axis(parse_ints(v, "--dilation")),
        "output_padding": lambda v: per_axis(parse_ints(v, "--output-padding",
                                                        allow_zero=True)),
    }
    out: dict[str, Any] = {}
    for name in SPEC_FLAGS:
        if name == "bias":
            if hasattr(args, "no_bias"):
                out["bias"] = not args.no_bias
            continue
        value = getattr(args, name, None)
        if value is None or (name == "transposed" and not value):
            continue
        out[name] = text[name](value) if name in text else value
    return out


def spec_from_args(args: argparse.Namespace, ndim: int) -> ConvSpec:
    """Build the validated ConvSpec the flags describe."""
    return ConvSpec(**spec_options(args), ndim=ndim)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo shape``."""
    p = subparsers.add_parser(
        "shape", help="output shape, formula per axis, params and MACs of one convolution",
        description="Output shape of a convolution or transposed convolution with the formula "
        "worked out per axis, its padding, params, MACs, bytes and receptive field.",
    )
    spec_arguments(p)
    p.add_argument("--input", required=True, help="input shape N,C,*spatial, e.g. 1,3,32,32")
    p.add_argument("--dtype", default="float32", help="for bytes moved (default float32)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def report(spec: ConvSpec, shape: tuple[int, ...], dtype: str) -> dict:
    """Every number ``convzoo shape`` prints, as a dict."""
    out = spec.output_shape(shape)
    spatial = shape[-spec.ndim:]
    cost = spec.cost(shape, dtype)
    return {
        "input_shape": shape,
        "output_shape": out,
        "transposed": spec.transposed,
        "formulas": spec.output_formulas(shape),
        "padding": spec.resolved_padding(spatial),
        "output_padding": spec.output_padding,
        "weight_shape": spec.weight_shape,
        "params": cost.params,
        "params_formula": spec.params_formula(),
        "macs": cost.macs,
        "macs_formula": spec.macs_formula(shape),
        "flops": cost.flops,
        "bias_adds": cost.bias_adds,
        "bytes": cost.bytes,
        "dtype": dtype,
        "intensity": round(cost.intensity, 4),
        "receptive_field": [
            {"r": rf.size, "S": rf.stride, "P": rf.padding} for rf in spec.receptive_field(shape)
        ],
    }


def parse_input_shape(text: str) -> tuple[int, ...]:
    """``'1,3,32,32'`` -> ``(1, 3, 32, 32)``: N, C and 1 to 3 spatial sizes
    (:func:`convzoo.text.parse_shape`; zeros are left to ConvSpec's checks).

    >>> parse_input_shape("2x3x16x16")
    (2, 3, 16, 16)
    """
    return parse_shape(text, "--input", (1, 3), allow_zero=True)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo shape``."""
    shape = parse_input_shape(args.input)
    data = report(spec_from_args(args, len(shape) - 2), shape, args.dtype)
    if args.json:
        emit_json(data)
        return 0
    c = console()
    kind = "transposed conv" if data["transposed"] else "conv"
    c.print(f"{kind}: {data['input_shape']} -> [bold]{data['output_shape']}[/]")
    axes = zip(data["formulas"], data["padding"], data["output_padding"])
    for axis, (formula, pad, extra) in enumerate(axes):
        if data["transposed"]:  # padding crops a transposed conv's output
            c.print(f"  axis {axis}: crop {pad}, output_padding {extra}: out = {formula}")
        else:
            c.print(f"  axis {axis}: padding {pad}: out = {formula}")
    rf = "; ".join(f"r={f['r']} S={f['S']} P={f['P']}" for f in data["receptive_field"])
    print_pairs(c, [
        ("weight shape", str(data["weight_shape"])),
        ("params", f"{data['params']:,}  ({data['params_formula']})"),
        ("MACs", f"{data['macs']:,}  ({data['macs_formula']})"),
        ("FLOPs", f"{data['flops']:,}  (2 x MACs)"),
        ("bias adds", f"{data['bias_adds']:,}"),
        (f"bytes moved ({data['dtype']})", f"{data['bytes']:,}"),
        ("arithmetic intensity", f"{data['intensity']} FLOP/byte"),
        ("receptive field", rf),
    ])
    return 0
