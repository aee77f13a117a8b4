"""``convzoo summary MODEL --input N,C,H,W``: the per-layer table of a model."""

from __future__ import annotations

import argparse
from typing import Any

from convzoo.cli.models import FORMS, load_model
from convzoo.cli.output import output_arguments, show
from convzoo.text import parse_shape

__all__ = ["add_parser", "run", "model_arguments", "model_and_shape"]


def model_arguments(p: argparse.ArgumentParser) -> None:
    """``MODEL`` and ``--input`` (shared by summary, rf and profile)."""
    p.add_argument("model", metavar="MODEL", help=FORMS)
    p.add_argument("--input", required=True, help="input shape N,C,*spatial, e.g. 1,3,224,224")


def model_and_shape(args: argparse.Namespace) -> tuple[Any, tuple[int, ...]]:
    """The model and the input shape the :func:`model_arguments` flags name."""
    shape = parse_shape(args.input, "--input")
    return load_model(args.model), shape


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
    output_arguments(p, csv=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo summary``."""
    from convzoo.analysis import summary

    model, shape = model_and_shape(args)
    return show(summary(model, shape, depth=args.depth, partial=args.partial), args)
