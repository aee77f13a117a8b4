"""``convzoo decompose MODEL --input N,C,H,W --method M [--rank R | --energy E | --budget B]``:
decompose a model's convs and print the report; ``--out FILE`` saves the new model
(``torch.save`` of the module, loadable by ``convzoo train --init FILE``).

Also the options ``convzoo advise`` shares (``--repeats``, ``--backend``, ``--data``,
``--workers``, ``--quiet``) and the one-line handling of Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from convzoo.cli.models import check_savable, load_model, weights_only_argument
from convzoo.cli.output import check_output_file, console, emit_json, parse_ints
from convzoo.cli.summary import model_arguments

__all__ = ["add_parser", "run", "search_arguments", "load_data", "interrupted", "INTERRUPTED"]

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def search_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``decompose`` and ``advise`` that shape the search and its timing."""
    p.add_argument("--repeats", type=int, default=3,
                   help="rounds of timed blocks per latency (default 3; 0: no timing)")
    p.add_argument("--by", default="macs", help="what --budget counts: macs or latency")
    p.add_argument("--backend", default="torch",
                   help="where latency is measured: torch (eager), onnxruntime or openvino "
                   "(through convzoo.optimize)")
    p.add_argument("--data", default=None, metavar="FILE.pt",
                   help="a torch.save'd tensor (or list of tensors) of your inputs: "
                   "data-aware factorizations, errors on them")
    p.add_argument("--workers", type=int, default=None,
                   help="threads factoring layers in parallel (default: CPU cores, at most 4)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print JSON")
    weights_only_argument(p)


def load_data(path: str | None) -> Any:
    """The tensor (or list of tensors) saved at ``path``; None stays None."""
    if path is None:
        return None
    import torch

    if not Path(path).is_file():
        raise ValueError(f"`--data` (={path!r}) must be a file saved by torch.save (a tensor or "
                         "a list of tensors)")
    try:
        return torch.load(path, weights_only=True)
    except Exception as e:  # noqa: BLE001 - a user's file: one line
        raise ValueError(f"`--data` (={path!r}) could not be loaded: {type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}") from None


def interrupted(stage: str, done: str = "") -> int:
    """Print the one line Ctrl-C ends a command with; return :data:`INTERRUPTED`."""
    print(f"convzoo: interrupted while {stage}{done}", file=sys.stderr)
    return INTERRUPTED


def check_search(args: argparse.Namespace) -> tuple[int, ...]:
    """Validate the shared options before the model is loaded; the input shape."""
    from convzoo.analysis.timing import check_repeats
    from convzoo.decomposition.budget import check_by
    from convzoo.decomposition.latency import check_backend
    from convzoo.decomposition.workers import check_workers

    shape = parse_ints(args.input, "--input")
    check_repeats(args.repeats, "--repeats", 0)
    check_by(args.by)
    check_backend(args.backend)
    check_workers(args.workers)
    return shape


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo decompose``."""
    p = subparsers.add_parser(
        "decompose", help="replace a model's convs by cheaper factorized convzoo layers",
        description="Decompose MODEL's convs (separable, spatially_separable, flattened, cp, "
        "tucker, svd, or auto with --budget) and report params, MACs, latency and errors per "
        "layer.",
    )
    model_arguments(p)
    p.add_argument("--method", required=True,
                   help="separable, spatially_separable, flattened, cp, tucker, svd or auto")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--rank", type=int, default=None, help="one rank for every layer")
    group.add_argument("--energy", type=float, default=None,
                       help="fraction of the squared weight norm kept per layer")
    group.add_argument("--budget", type=float, default=None,
                       help="fraction of the conv MACs (or latency with --by latency) kept")
    search_arguments(p)
    p.add_argument("--out", default=None, metavar="FILE", help="save the decomposed model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo decompose``."""
    import torch

    from convzoo.decomposition import Interrupted, check_method, decompose

    shape = check_search(args)
    check_method(args.method)
    if args.out is not None:
        check_output_file(args.out, "--out")
    data = load_data(args.data)
    example = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    model = load_model(args.model, weights_only=not args.no_weights_only)
    if args.out is not None:
        check_savable(model, args.out)
    try:
        new, report = decompose(model, example, args.method, rank=args.rank,
                                energy=args.energy, budget=args.budget, by=args.by,
                                repeats=args.repeats, backend=args.backend, data=data,
                                progress=False if args.quiet else None, workers=args.workers)
    except (Interrupted, KeyboardInterrupt) as stop:
        return interrupted(getattr(stop, "stage", "decomposing"), "; nothing written")
    if args.out is not None:
        try:
            torch.save(new, args.out)
        except Exception as e:  # noqa: BLE001 - a user's classes: one line, not a traceback
            raise ValueError(f"`--out` (={args.out!r}) could not be written: "
                             f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                             ) from None
    if args.json:
        emit_json(report.to_dict())
    else:
        report.render(console())
    return 0
