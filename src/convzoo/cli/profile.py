"""``convzoo profile MODEL --input N,C,H,W``: measured time per layer and per variant kind."""

from __future__ import annotations

import argparse

from convzoo.cli.output import output_arguments, show
from convzoo.cli.summary import model_and_shape, model_arguments

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo profile``."""
    p = subparsers.add_parser(
        "profile", help="real forward (and backward) time per layer and per variant kind",
        description="Run MODEL for real on a random input and time every leaf-module call "
        "(median of repeats), merged with the summary rows and grouped by variant kind.",
    )
    model_arguments(p)
    p.add_argument("--backward", action="store_true", help="also time a backward pass")
    p.add_argument("--repeats", type=int, default=10, help="timed runs (default 10)")
    output_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo profile``."""
    from convzoo.analysis.profile import profile

    model, shape = model_and_shape(args)
    return show(profile(model, shape, backward=args.backward, repeats=args.repeats), args)
