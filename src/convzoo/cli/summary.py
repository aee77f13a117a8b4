"""``convzoo summary MODEL --input N,C,H,W``: the per-layer table of a model."""

from __future__ import annotations

import argparse

from convzoo.cli.models import FORMS, load_model
from convzoo.cli.output import console, emit_json, parse_ints

__all__ = ["add_parser", "run", "model_arguments"]


def model_arguments(p: argparse.ArgumentParser) -> None:
    """``MODEL`` and ``--input`` (shared by summary, rf and profile)."""
    p.add_argument("model", metavar="MODEL", help=FORMS)
    p.add_argument("--input", required=True, help="input shape N,C,*spatial, e.g. 1,3,224,224")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo summary``."""
    p = subparsers.add_parser(
        "summary", help="per-layer shapes, params, MACs, memory and receptive fields",
        description="Trace MODEL on meta tensors (no real compute) and print one row per "
        "layer: output shape, params, MACs, output bytes and receptive field, with totals.",
    )
    model_arguments(p)
    p.add_argument("--partial", action="store_true",
                   help="when the forward pass fails on --input, report the traced part "
                   "(lower bounds) instead of exiting with the error")
    p.add_argument("--depth", type=int, default=None,
                   help="aggregate rows into the modules at this depth (default: leaf modules)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--csv", action="store_true", help="print CSV (one line per row)")
    p.add_argument("--wide", action="store_true",
                   help="every digit (4,089,184,256 instead of 4.09 G); may exceed 80 columns")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo summary``."""
    from convzoo.analysis import summary

    shape = parse_ints(args.input, "--input")
    s = summary(load_model(args.model), shape, depth=args.depth, partial=args.partial)
    if args.json:
        emit_json(s.to_dict())
    elif args.csv:
        print(s.to_csv(), end="")
    else:
        s.render(console(), wide=args.wide)
    return 0
