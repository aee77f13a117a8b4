"""``convzoo report``: the self-contained HTML report (animations, figures, measured numbers)."""

from __future__ import annotations

import argparse
from pathlib import Path

from convzoo.cli.output import check_output_file, console

__all__ = ["add_parser", "run", "write_report", "DEFAULT_PATH"]

#: The most frames an animation may have (convzoo.viz.animate.FRAME_LIMIT, kept in step by a
#: test so that ``--help`` does not import the drawing code).
FRAME_LIMIT = 4096

#: Where ``convzoo report`` and ``convzoo tour`` write the report unless told otherwise.
DEFAULT_PATH = "convzoo-report.html"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo report``."""
    p = subparsers.add_parser(
        "report", help="write the self-contained HTML report (animations, figures, numbers)",
        description="One HTML file, no network needed (images inlined): a section per variant "
        "with its animation, purpose, arithmetic and numbers measured on this machine, the "
        "figures and the comparison tables. --variants takes names of the one vocabulary "
        "(aliases such as grouped, atrous, sub-pixel accepted); an unknown name lists the "
        "report's sections.",
    )
    p.add_argument("-o", "--output", default=DEFAULT_PATH,
                   help=f"the .html file to write (default {DEFAULT_PATH})")
    p.add_argument("--variants", help="comma-separated subset of the variants (default all)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (default 5)")
    p.add_argument("--max-frames", type=int, default=FRAME_LIMIT,
                   help="at most this many frames per animation (default: every frame)")
    p.add_argument("--no-figures", action="store_true",
                   help="leave out the figures (connectivity, checkerboard, fields, bars)")
    p.set_defaults(func=run)


def write_report(path: str | Path, variants: tuple[str, ...] | None = None, repeats: int = 5,
                 max_frames: int = FRAME_LIMIT, figures: bool = True) -> Path:
    """Write the report with a rich progress bar, print its path, size and time; return it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from convzoo.viz.report import ReportConfig, report

    kwargs = {} if variants is None else {"variants": variants}
    config = ReportConfig(repeats=repeats, max_frames=max_frames, figures=figures, **kwargs)
    # steps: up to two comparisons, the other layers, one per variant, the tables
    steps = len(config.variants) + 4
    out = console()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), TimeElapsedColumn(), console=out, transient=True) as bar:
        task = bar.add_task("report", total=steps)
        seen = [0]

        def step(what: str) -> None:
            if seen[0]:
                bar.advance(task)
            seen[0] += 1
            bar.update(task, description=what)

        result = report(path, config, progress=step)
        bar.update(task, completed=steps)
    out.print(f"wrote {result.path} ({result.bytes / 1e6:.1f} MB, {len(result.sections)} "
              f"variants, {result.images} images) in {result.seconds:.1f} s", markup=False)
    return result.path


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo report``."""
    check_output_file(args.output, "--output")  # before the report is built
    variants = None
    if args.variants:
        variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    write_report(args.output, variants, args.repeats, args.max_frames, not args.no_figures)
    return 0
