"""``convzoo advise MODEL --input N,C,H,W [--budget 0.5] [--json]``: for every conv, the
candidate replacements (params, MACs, receptive field, measured latency, output error) and the
recommended plan for the budget."""

from __future__ import annotations

import argparse
import sys

from convzoo.cli.models import load_model
from convzoo.cli.output import console, emit_json, parse_ints
from convzoo.cli.summary import model_arguments

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo advise``."""
    p = subparsers.add_parser(
        "advise", help="candidate cheaper variants for every conv, measured, with a plan",
        description="For every conv of MODEL: separable, spatially separable, flattened, CP "
        "and Tucker replacements at their best rank within the budget, with params, MACs, "
        "receptive field, latency measured here and output error on a random input; the "
        "recommended plan keeps at most BUDGET of the conv MACs.",
    )
    model_arguments(p)
    p.add_argument("--budget", type=float, default=0.5,
                   help="fraction of the conv MACs the plan may keep (default 0.5)")
    p.add_argument("--methods", default=None,
                   help="comma-separated subset of separable, spatially_separable, flattened, "
                   "cp, tucker (default all; cp and flattened run CP-ALS per candidate, slow on "
                   "wide layers)")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per median (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo advise``."""
    from rich.progress import Progress

    from convzoo.decompose import METHOD_NAMES, advise, check_method
    from convzoo.decompose.api import check_budget

    shape = parse_ints(args.input, "--input")
    check_budget(args.budget)  # before the progress bar starts
    methods = METHOD_NAMES if args.methods is None else tuple(
        check_method(m.strip(), allow_auto=False) for m in args.methods.split(","))
    model = load_model(args.model)
    with Progress(console=console_err(), transient=True) as bar:
        task = bar.add_task("measuring", total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        advice = advise(model, shape, budget=args.budget, methods=methods,
                        repeats=args.repeats, progress=step)
    if args.json:
        emit_json(advice.to_dict())
    else:
        advice.render(console())
    return 0


def console_err():  # noqa: ANN201 - rich Console
    """A rich console on stderr (the progress bar never mixes with the table or JSON)."""
    from rich.console import Console

    return Console(file=sys.stderr)
