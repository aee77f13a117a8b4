"""``convzoo advise MODEL --input N,C,H,W [--budget 0.5] [--json]``: for every conv, the
candidate replacements (params, MACs, measured latency, output error), the model's
sensitivity to each layer, and the recommended plan for the budget (never slower than dense)."""

from __future__ import annotations

import argparse

from convzoo.cli.decompose import check_search, interrupted, load_data, search_arguments
from convzoo.cli.models import load_model
from convzoo.cli.output import console, emit_json
from convzoo.cli.summary import model_arguments

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo advise``."""
    p = subparsers.add_parser(
        "advise", help="candidate cheaper variants for every conv, measured, with a plan",
        description="For every conv of MODEL: separable, spatially separable, flattened, CP, "
        "Tucker and SVD replacements at their best rank for the budget, with params, MACs, "
        "latency measured here and output error; the model's sensitivity to each layer; the "
        "recommended plan keeps at most BUDGET of the conv MACs and is never slower than "
        "dense.",
    )
    model_arguments(p)
    p.add_argument("--budget", type=float, default=0.5,
                   help="fraction of the conv MACs (or latency with --by latency) the plan may "
                   "keep (default 0.5)")
    p.add_argument("--methods", default=None,
                   help="comma-separated subset of separable, spatially_separable, flattened, "
                   "cp, tucker, svd (default all)")
    p.add_argument("--no-sensitivity", action="store_true",
                   help="do not measure each layer's sensitivity (one forward pass per conv)")
    search_arguments(p)
    p.add_argument("--partial", action="store_true",
                   help="with --json: on Ctrl-C, print the JSON of what was done")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo advise``."""
    from convzoo.decomposition import Interrupted, advise
    from convzoo.decomposition.advising import check_methods
    from convzoo.decomposition.budget import check_budget

    shape = check_search(args)
    check_budget(args.budget)
    methods = None if args.methods is None else check_methods(
        [m.strip() for m in args.methods.split(",")])
    data = load_data(args.data)
    model = load_model(args.model, weights_only=not args.no_weights_only)
    try:
        advice = advise(model, shape, budget=args.budget,
                        **({} if methods is None else {"methods": methods}),
                        repeats=args.repeats, by=args.by, backend=args.backend, data=data,
                        sensitivity=not args.no_sensitivity,
                        progress=False if args.quiet else None, workers=args.workers)
    except (Interrupted, KeyboardInterrupt) as stop:
        partial = getattr(stop, "partial", None)
        if args.json and args.partial and partial is not None:
            emit_json(partial.to_dict())
            return interrupted(stop.stage, "; partial JSON printed")  # type: ignore[union-attr]
        hint = "" if args.partial or not args.json else " (--partial prints what was done)"
        return interrupted(getattr(stop, "stage", "advising"), hint)
    if args.json:
        emit_json(advice.to_dict())
    else:
        advice.render(console())
    return 0
