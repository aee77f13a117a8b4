"""``convzoo shape``: the output shape of a conv or transposed conv, worked out per axis."""

from __future__ import annotations

import argparse

from convzoo.cli.output import console, emit_json, parse_ints, parse_padding, per_axis, print_pairs
from convzoo.spec import ConvSpec

__all__ = ["add_parser", "parse_input_shape", "report", "run", "spec_arguments", "spec_from_args"]


def spec_arguments(p: argparse.ArgumentParser) -> None:
    """The flags describing one convolution (shared by shape-like commands)."""
    p.add_argument("--in", dest="in_channels", type=int, required=True, help="C_in")
    p.add_argument("--out", dest="out_channels", type=int, required=True, help="C_out")
    p.add_argument("-k", "--kernel", required=True, help="kernel size: 3 or 3,5")
    p.add_argument("-s", "--stride", default="1", help="stride (default 1)")
    p.add_argument("-p", "--padding", default="0",
                   help="valid, same, full, causal, or ints like 1 / 1,2 (default 0)")
    p.add_argument("-d", "--dilation", default="1", help="dilation (default 1)")
    p.add_argument("-g", "--groups", type=int, default=1, help="groups (default 1)")
    p.add_argument("--no-bias", action="store_true", help="the conv has no bias")
    p.add_argument("--transposed", action="store_true", help="a transposed convolution")
    p.add_argument("--output-padding", default="0", help="transposed only (default 0)")
    p.add_argument("--padding-mode", default="zeros",
                   help="zeros, reflect, replicate or circular (default zeros)")


def spec_from_args(args: argparse.Namespace, ndim: int) -> ConvSpec:
    """Build the validated ConvSpec the flags describe."""
    return ConvSpec(
        args.in_channels,
        args.out_channels,
        per_axis(parse_ints(args.kernel, "--kernel")),
        stride=per_axis(parse_ints(args.stride, "--stride")),
        padding=parse_padding(args.padding),
        dilation=per_axis(parse_ints(args.dilation, "--dilation")),
        groups=args.groups,
        bias=not args.no_bias,
        transposed=args.transposed,
        output_padding=per_axis(parse_ints(args.output_padding, "--output-padding", True)),
        padding_mode=args.padding_mode,
        ndim=ndim,
    )


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
    """``'1,3,32,32'`` -> ``(1, 3, 32, 32)``: N, C and 1 to 3 spatial sizes.

    >>> parse_input_shape("2x3x16x16")
    (2, 3, 16, 16)
    """
    shape = parse_ints(text, "--input", allow_zero=True)
    if not 3 <= len(shape) <= 5:
        raise ValueError(
            f"`--input` (={text!r}) must be N,C,*spatial with 1 to 3 spatial sizes, "
            "e.g. 1,3,32,32"
        )
    return shape


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
