"""``convzoo decompose MODEL --input N,C,H,W --method M [--rank R | --energy E | --budget B]``:
decompose a model's convs and print the report; ``--out FILE`` saves the new model
(``torch.save`` of the module, loadable by ``convzoo train --init FILE``)."""

from __future__ import annotations

import argparse

from convzoo.cli.models import load_model
from convzoo.cli.output import console, emit_json, parse_ints
from convzoo.cli.summary import model_arguments

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo decompose``."""
    p = subparsers.add_parser(
        "decompose", help="replace a model's convs by cheaper factorized convzoo layers",
        description="Decompose MODEL's convs (separable, spatially_separable, flattened, cp, "
        "tucker, or auto with --budget) and report params, MACs, latency and errors per layer.",
    )
    model_arguments(p)
    p.add_argument("--method", required=True,
                   help="separable, spatially_separable, flattened, cp, tucker or auto")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--rank", type=int, default=None, help="one rank for every layer")
    group.add_argument("--energy", type=float, default=None, help="fraction of spectrum kept")
    group.add_argument("--budget", type=float, default=None,
                       help="fraction of the conv MACs (or latency with --by latency) kept")
    p.add_argument("--by", default="macs", help="what --budget counts: macs or latency")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per median (default 10)")
    p.add_argument("--out", default=None, metavar="FILE", help="save the decomposed model")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo decompose``."""
    import torch

    from convzoo.decompose import decompose

    shape = parse_ints(args.input, "--input")
    example = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    new, report = decompose(load_model(args.model), example, args.method, rank=args.rank,
                            energy=args.energy, budget=args.budget, by=args.by,
                            repeats=args.repeats)
    if args.out is not None:
        torch.save(new, args.out)
    if args.json:
        emit_json(report.to_dict())
    else:
        report.render(console())
    return 0
