"""``convzoo solve``: which padding / output_padding gives a size, and which transposed conv
undoes a conv's shape."""

from __future__ import annotations

import argparse

from convzoo.arithmetic import (
    as_pair,
    conv_output_formula,
    conv_output_size,
    conv_transpose_output_formula,
    inverse_transpose,
    solve_output_padding,
    solve_padding,
    transposed_output_range,
)
from convzoo.cli.output import console, emit_json, parse_ints

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo solve``."""
    p = subparsers.add_parser(
        "solve", help="which padding / output_padding gives a target size",
        description="Forward conv: the paddings giving --target. --transposed: the "
        "output_padding giving --target. --inverse: the transposed conv restoring --input.",
    )
    p.add_argument("--input", required=True, help="input size per axis: 32 or 32x64")
    p.add_argument("--target", help="target output size per axis")
    p.add_argument("-k", "--kernel", required=True, help="kernel size per axis")
    p.add_argument("-s", "--stride", default="1", help="stride (default 1)")
    p.add_argument("-d", "--dilation", default="1", help="dilation (default 1)")
    p.add_argument("-p", "--padding", default="0", help="padding (transposed / --inverse)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--transposed", action="store_true", help="solve output_padding")
    mode.add_argument("--inverse", action="store_true",
                      help="the transposed conv that restores the input size of this conv")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _axes(args: argparse.Namespace) -> list[dict]:
    sizes = parse_ints(args.input, "--input")
    n = len(sizes)

    def expand(text: str, name: str, zero: bool = False) -> tuple[int, ...]:
        values = parse_ints(text, name, zero)
        if len(values) == 1:
            return values * n
        if len(values) != n:
            raise ValueError(f"`{name}` (={text!r}) must have 1 or {n} values, one per axis")
        return values

    kernel, stride = expand(args.kernel, "--kernel"), expand(args.stride, "--stride")
    dilation, padding = expand(args.dilation, "--dilation"), expand(args.padding, "--padding", True)
    targets = None
    if not args.inverse:
        if args.target is None:
            raise ValueError("`--target` is required (or use --inverse)")
        targets = expand(args.target, "--target")
    rows = []
    for a in range(n):
        i, k, s, d, p = sizes[a], kernel[a], stride[a], dilation[a], padding[a]
        if args.inverse:
            inv = inverse_transpose(i, k, s, p, d)
            out = conv_output_size(i, k, s, p, d)
            rows.append({
                "axis": a, "conv": conv_output_formula(i, k, s, p, d),
                "transposed": {"kernel": k, "stride": s, "padding": p, "dilation": d,
                               "output_padding": inv.output_padding},
                "check": conv_transpose_output_formula(out, k, s, p, inv.output_padding, d),
            })
        elif args.transposed:
            t = targets[a]
            reach = transposed_output_range(i, k, s, p, d)
            op = solve_output_padding(i, t, k, s, p, d)
            rows.append({"axis": a, "output_padding": op,
                         "reachable": [reach.start, reach.stop - 1],
                         "check": conv_transpose_output_formula(i, k, s, p, op, d)})
        else:
            t = targets[a]
            sol = solve_padding(i, t, k, s, d)
            rows.append({
                "axis": a, "total_padding": [sol.totals.start, sol.totals.stop - 1],
                "pair": sol.pair, "symmetric": sol.symmetric,
                "check": conv_output_formula(i, k, s, as_pair(sol.pair), d),
            })
    return rows


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo solve``."""
    rows = _axes(args)
    if args.json:
        emit_json({"axes": rows})
        return 0
    c = console()
    for r in rows:
        if args.inverse:
            t = r["transposed"]
            c.print(f"axis {r['axis']}: conv {r['conv']}; undo it with a transposed conv "
                    f"k={t['kernel']}, s={t['stride']}, p={t['padding']}, d={t['dilation']}, "
                    f"[bold]output_padding={t['output_padding']}[/]: {r['check']}")
        elif args.transposed:
            lo, hi = r["reachable"]
            c.print(f"axis {r['axis']}: [bold]output_padding={r['output_padding']}[/] "
                    f"(reachable sizes {lo}..{hi}): {r['check']}")
        else:
            lo, hi = r["total_padding"]
            sym = ("none (every working total is odd)" if r["symmetric"] is None
                   else f"padding={r['symmetric']}")
            c.print(f"axis {r['axis']}: total padding {lo}..{hi}; smallest (lo, hi) = "
                    f"[bold]{tuple(r['pair'])}[/]: {r['check']}; symmetric: {sym}")
    return 0
