"""``convzoo rf MODEL --input N,C,H,W``: the receptive field of a model's output or a layer."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.table import Table

from convzoo.cli.output import console, emit_json
from convzoo.cli.summary import model_and_shape, model_arguments

if TYPE_CHECKING:
    from convzoo.analysis import ReceptiveFieldResult

__all__ = ["add_parser", "run", "report"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo rf``."""
    p = subparsers.add_parser(
        "rf", help="receptive field (size, effective stride and padding per axis)",
        description="Theoretical receptive field of MODEL's output (or of --layer's output) "
        "per spatial axis (Araujo et al., Distill 2019); --empirical also measures the "
        "effective field from input gradients (Luo et al. 2016).",
    )
    model_arguments(p)
    p.add_argument("--partial", action="store_true",
                   help="when the forward pass fails on --input, report the traced part "
                   "(lower bounds) instead of exiting with the error")
    p.add_argument("--layer", default=None, help="qualified module name (default: the output)")
    p.add_argument("--empirical", action="store_true",
                   help="also measure the effective field (a real forward and backward pass)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def report(rf: ReceptiveFieldResult) -> dict[str, Any]:
    """Every number ``convzoo rf`` prints, as a dict."""
    data: dict[str, Any] = {
        "layer": rf.layer,
        "shape": rf.shape,
        "axes": [
            {"r": f.size, "S": f.stride, "P": f.padding, "center": c, "global": g}
            for f, c, g in zip(rf.fields, rf.centers, rf.is_global)
        ],
        "aligned": rf.aligned,
        "exact": rf.exact,
        "notes": rf.notes,
        "partial": rf.partial,
        "reason": rf.reason,
    }
    if rf.empirical is not None:
        e = rf.empirical
        data["empirical"] = {"sizes": e.sizes, "spans": e.spans, "theoretical": e.theoretical,
                             "center": e.center, "threshold": e.threshold, "note": e.note}
    return data


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo rf``."""
    from convzoo.analysis import receptive_field

    model, shape = model_and_shape(args)
    rf = receptive_field(model, shape, layer=args.layer,
                         empirical=args.empirical, partial=args.partial)
    data = report(rf)
    if args.json:
        emit_json(data)
        return 0
    c = console()
    where = f"layer {rf.layer!r}" if rf.layer else "model output"
    c.print(f"receptive field of the {where}, shape {'x'.join(map(str, rf.shape))}",
            markup=False)
    t = Table()
    for col in ("axis", "r", "S", "P", "centre of output 0"):
        t.add_column(col, justify="right")
    if rf.empirical is not None:
        t.add_column("effective r", justify="right")
    for axis, a in enumerate(data["axes"]):
        cells = [str(axis), f"{a['r']}{'*' if a['global'] else ''}", str(a["S"]), str(a["P"]),
                 str(a["center"])]
        if rf.empirical is not None:
            cells.append(str(rf.empirical.sizes[axis]))
        t.add_row(*cells)
    c.print(t)
    from convzoo.analysis.table import wrap

    lines = []  # prose under the table, wrapped at words to the width (80 when piped)
    if any(rf.is_global):
        lines.append("* the whole input: every output position sees it (a norm over space, "
                     "softmax or attention over positions, global pooling, a flatten into a "
                     "linear layer, an op not recognized)")
    lines += ([f"PARTIAL TRACE: {rf.reason}"] if rf.partial else []) + [
        f"Note: {n}" for n in rf.notes] + (
        [] if rf.aligned else ["Note: a merge combined branches with different centres"])
    if rf.empirical is not None:
        lines.append(f"Effective field (threshold {rf.empirical.threshold}): "
                     f"{rf.empirical.note}")
    for line in lines:
        c.print(wrap(line, c.width), markup=False, soft_wrap=True)
    return 0
