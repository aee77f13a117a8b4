"""``convzoo tour``: the seed articles' examples, computed by convzoo, with the formulas used."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from convzoo.cli.output import check_output_file
from convzoo.tour import ARITHMETIC_EXAMPLES, LAYER_EXAMPLES, LayerResult, evaluate
from convzoo.tour.articles import ARTICLES, article

__all__ = ["add_parser", "run", "render", "render_articles"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo tour``."""
    p = subparsers.add_parser(
        "tour",
        help="walk through every variant of the seed articles with convzoo's numbers",
        description="Every code example and numeric claim of the seed articles, computed by "
        "convzoo.arithmetic, with the formulas used and a check against what the article says.",
    )
    p.add_argument("--seed", choices=[a.seed for a in ARTICLES],
                   help="only this seed article (000-004; the tour lists them by title)")
    p.add_argument("--report", default="convzoo-report.html", metavar="PATH",
                   help="write the HTML report there at the end (default "
                   "./convzoo-report.html; '' to skip)")
    p.set_defaults(func=run)


def _ratio(part: int, whole: int | None) -> str:
    return f"{part / whole:.3f}x" if whole else "-"


def _render_example(console: Console, r: LayerResult) -> None:
    ex = r.example
    mark = "[green]✓[/]" if r.agrees else "[red]✗[/]"
    console.print(f"\n[bold]{ex.title}[/]  [dim]({ex.variant})[/]")
    conv_index = 0
    for stage, before, after in zip(ex.stages, r.shapes, r.shapes[1:]):
        console.print(f"  {stage.label}: {before} -> {after}")
        if stage.spec is not None:
            axes = r.formulas[conv_index]
            if len(set(axes)) == 1:
                console.print(f"    out    = {axes[0]}  (every axis)")
            else:
                for axis, formula in enumerate(axes):
                    console.print(f"    out[{axis}] = {formula}")
            console.print(f"    params = {r.param_formulas[conv_index]}")
            console.print(f"    MACs   = {stage.spec.macs_formula(before)}")
            conv_index += 1
    summary = f"  total: params {r.params:,} · MACs {r.macs:,}"
    if r.baseline_params is not None:
        summary += (
            f" · vs standard conv: params {_ratio(r.params, r.baseline_params)},"
            f" MACs {_ratio(r.macs, r.baseline_macs)}"
        )
    console.print(summary)
    claims = []
    if ex.claimed_shape is not None:
        claims.append(f"shape {ex.claimed_shape}")
    if ex.claimed_params is not None:
        claims.append(f"{ex.claimed_params} params")
    if claims:
        console.print(f"  the article (seed {ex.seed}) states: {', '.join(claims)} {mark}")
    for m in r.mismatches:
        console.print(f"    [red]{m}[/]")
    if ex.note:
        console.print(f"  [dim]note: {ex.note}[/]")


def render_articles(console: Console, seed: str | None = None) -> None:
    """The table of the seed articles the tour computes: number, title, English, source."""
    table = Table(title="the seed articles (in Chinese), by number", show_lines=False)
    for col in ("seed", "title", "in English", "source"):
        table.add_column(col, overflow="fold")  # Chinese breaks between any two characters
    for a in ARTICLES:
        if seed in (None, a.seed):
            title = a.title if a.titled else f"{a.title} (untitled: named by its heading)"
            table.add_row(a.seed, title, a.english, a.source)
    console.print(table)


def render(console: Console, seed: str | None = None) -> tuple[int, int]:
    """Print the tour; return (claims checked, claims where the article disagrees).

    A claim the arithmetic table restates from a layer example (``restates``) counts once.
    """
    console.rule("[bold]convzoo tour[/]: the seed articles, computed")
    console.print(
        "MAC = one multiply-accumulate, padded taps included, bias excluded; FLOPs = 2 x MACs.\n"
        "Transposed convs count the work each input element scatters (no inserted zeros)."
    )
    render_articles(console, seed)
    checked = disagree = 0
    results = [evaluate(ex) for ex in LAYER_EXAMPLES if seed in (None, ex.seed)]
    for s in sorted({r.example.seed for r in results}):
        a = article(s)
        console.rule(f"seed {s}: {escape(a.title)}")
        console.print(f"[dim]{escape(a.english)} ({escape(a.source)})[/]", justify="center")
        for r in (r for r in results if r.example.seed == s):
            _render_example(console, r)
            if r.example.claimed_shape is not None or r.example.claimed_params is not None:
                checked += 1
                disagree += not r.agrees
    table = Table(title="numeric claims of the articles (by seed number, titles above)",
                  show_lines=False)
    for col in ("seed", "claim", "convzoo", "formula", "article", ""):
        table.add_column(col)
    for a in ARITHMETIC_EXAMPLES:
        if seed not in (None, a.seed):
            continue
        value, formula, agrees = a.result()
        claimed = "-" if a.claimed is None else str(a.claimed)
        verdict = "" if a.claimed is None else "[green]✓[/]" if agrees else "[red]✗[/]"
        table.add_row(a.seed, a.title, str(value), formula, claimed, verdict)
        if a.note:
            table.add_row("", f"[dim]{a.note}[/]", "", "", "", "")
        if a.claimed is not None and a.restates is None:  # a restated claim counts once
            checked += 1
            disagree += not agrees
    console.print()
    console.print(table)
    console.print(
        f"\n{checked} claims checked: {checked - disagree} agree with convzoo's arithmetic, "
        f"{disagree} {'is' if disagree == 1 else 'are'} wrong in the article (explained above)."
    )
    return checked, disagree


#: the comparison of section 9 of seed 000's article, measured: (title, compare() arguments)
TOUR_COMPARISONS = (
    ("every variant vs the standard 3x3 conv", dict(in_channels=32, out_channels=64,
                                                    kernel_size=3, input_size=(32, 32))),
    ("2x upsampling vs the transposed conv", dict(in_channels=32, out_channels=64,
                                                  kernel_size=3, input_size=(16, 16),
                                                  upscale_factor=2)),
)


def render_variants(console: Console, repeats: int = 10) -> None:
    """Seed 000's comparison table ('high / medium / low') with measured numbers."""
    from convzoo.analysis import compare

    a = article("000")
    console.rule("[bold]the variants compared[/] (measured on this machine)")
    console.print(f"[dim]the comparison of section 9 of {escape(a.cite())}[/]", justify="center")
    for title, arguments in TOUR_COMPARISONS:
        console.print(f"\n[bold]{title}[/]")
        compare(**arguments, repeats=repeats).render(console)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo tour``."""
    if getattr(args, "report", ""):  # the report is written last: check its path first
        check_output_file(args.report, "--report")
    console = Console()
    render(console, getattr(args, "seed", None))
    if getattr(args, "seed", None) is None:
        from convzoo.cli.tour_zoo import render_zoo

        render_variants(console)
        render_zoo(console)
    path = getattr(args, "report", "")
    if path:
        from convzoo.cli.report import write_report

        console.rule("[bold]the HTML report[/]")
        written = write_report(path)
        console.print(f"report: {written.resolve()}", markup=False)
    return 0
