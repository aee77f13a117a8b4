"""``convzoo solve``: which padding / output_padding gives a size, and which transposed conv
undoes a conv's shape.

Three modes, per spatial axis, every number from :mod:`convzoo.arithmetic`:

* forward (default): the paddings making a conv map ``--input`` to ``--target``;
* ``--transposed``: the ``output_padding`` making a transposed conv with padding ``-p`` map
  ``--input`` to ``--target``, and every size it can reach;
* ``--inverse``: the transposed conv restoring the input size of the conv ``-k -s -p -d``.
"""

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
from convzoo.cli.output import console, emit_json, renamed_flag
from convzoo.text import expand_axes, parse_ints

__all__ = ["add_parser", "run", "solve_axes"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo solve``."""
    p = subparsers.add_parser(
        "solve",
        help="which padding / output_padding gives a target size",
        description="Forward conv: the paddings giving --target. --transposed: the "
        "output_padding giving --target. --inverse: the transposed conv restoring --input.",
    )
    p.add_argument("--input", required=True, help="input size per axis: 32 or 32x64")
    p.add_argument("--target", help="target output size per axis (not with --inverse)")
    renamed_flag(p, "-k", "--kernel-size", old=("--kernel",), dest="kernel_size", required=True,
                 help="kernel size: 3 or 3x5 (formerly --kernel)")
    p.add_argument("-s", "--stride", default="1", help="stride (default 1)")
    p.add_argument("-d", "--dilation", default="1", help="dilation (default 1)")
    p.add_argument(
        "-p", "--padding", help="padding per axis, with --transposed or --inverse (default 0)"
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--transposed", action="store_true", help="solve output_padding")
    mode.add_argument(
        "--inverse",
        action="store_true",
        help="the transposed conv that restores the input size of this conv",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _forward(i: int, t: int, k: int, s: int, d: int) -> dict:
    sol = solve_padding(i, t, k, s, d)
    sym = sol.symmetric
    return {
        "total_padding": sol.totals,
        "pair": sol.pair,
        "symmetric": sym,
        "check": conv_output_formula(i, k, s, as_pair(sol.pair), d),
        "symmetric_check": None if sym is None else conv_output_formula(i, k, s, sym, d),
    }


def _transposed(i: int, t: int, k: int, s: int, p: int, d: int) -> dict:
    reach = transposed_output_range(i, k, s, p, d)
    op = solve_output_padding(i, t, k, s, p, d)
    return {
        "output_padding": op,
        "reachable": reach,
        "check": conv_transpose_output_formula(i, k, s, p, op, d),
    }


def _inverse(i: int, k: int, s: int, p: int, d: int) -> dict:
    inv = inverse_transpose(i, k, s, p, d)
    out = conv_output_size(i, k, s, p, d)
    return {
        "conv": conv_output_formula(i, k, s, p, d),
        "transposed": inv,
        "check": conv_transpose_output_formula(
            out, inv.kernel, inv.stride, inv.padding, inv.output_padding, inv.dilation
        ),
    }


def solve_axes(args: argparse.Namespace) -> list[dict]:
    """Validate the flags and solve each axis; one dict per axis."""
    sizes = parse_ints(args.input, "--input")
    n = len(sizes)
    kernel = expand_axes(args.kernel_size, "--kernel-size", n)
    stride = expand_axes(args.stride, "--stride", n)
    dilation = expand_axes(args.dilation, "--dilation", n)
    if args.padding is not None and not (args.transposed or args.inverse):
        raise ValueError(
            f"`--padding` (={args.padding!r}) applies only with --transposed or --inverse: "
            "a forward solve finds the padding"
        )
    padding = expand_axes(args.padding or "0", "--padding", n, allow_zero=True)
    if args.inverse:
        if args.target is not None:
            raise ValueError(
                f"`--target` (={args.target!r}) does not apply with --inverse: the target is "
                "the conv's input size"
            )
        targets = sizes
    else:
        if args.target is None:
            raise ValueError("`--target` is required (or use --inverse)")
        targets = expand_axes(args.target, "--target", n)
    rows = []
    for a, (i, t, k, s, d, p) in enumerate(zip(sizes, targets, kernel, stride, dilation, padding)):
        if args.inverse:
            row = _inverse(i, k, s, p, d)
        elif args.transposed:
            row = _transposed(i, t, k, s, p, d)
        else:
            row = _forward(i, t, k, s, d)
        rows.append({"axis": a, **row})
    return rows


def _line(args: argparse.Namespace, r: dict) -> str:
    if args.inverse:
        t = r["transposed"]
        return (
            f"axis {r['axis']}: conv out = {r['conv']}; undo it with a transposed conv "
            f"k={t.kernel}, s={t.stride}, padding={t.padding}, d={t.dilation}, "
            f"[bold]output_padding={t.output_padding}[/]: out = {r['check']}"
        )
    if args.transposed:
        reach = r["reachable"]
        return (
            f"axis {r['axis']}: [bold]output_padding={r['output_padding']}[/] "
            f"(reachable sizes {reach.start}..{reach.stop - 1}): out = {r['check']}"
        )
    totals = r["total_padding"]
    sym = (
        "none (every working total is odd)"
        if r["symmetric"] is None
        else f"[bold]padding={r['symmetric']}[/]: out = {r['symmetric_check']}"
    )
    return (
        f"axis {r['axis']}: total padding {totals.start}..{totals.stop - 1}; smallest (lo, hi) "
        f"= {tuple(r['pair'])}: out = {r['check']}; symmetric: {sym}"
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo solve``."""
    rows = solve_axes(args)
    if args.json:
        emit_json({"axes": rows})
        return 0
    c = console()
    for r in rows:
        c.print(_line(args, r))
    return 0
