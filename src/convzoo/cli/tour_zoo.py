"""The zoo section of ``convzoo tour``: each model, its variant kinds, params, MACs and
receptive field, counted by ``convzoo.analysis`` (see :mod:`convzoo.tour.zoo`)."""

from __future__ import annotations

from fractions import Fraction

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from convzoo.tour.zoo import ZooRow, format_count, zoo_row

__all__ = ["render_zoo", "zoo_table", "axes_text"]


def axes_text(values: tuple[int | Fraction, ...]) -> str:
    """``(427, 427) -> '427'``; ``(109, 219, 219) -> '109x219x219'``; fractions as ``a/b``.

    >>> axes_text((427, 427)), axes_text((109, 219, 219)), axes_text((Fraction(1, 3),) * 2)
    ('427', '109x219x219', '1/3')
    """
    texts = [str(v) for v in values]
    return texts[0] if len(set(texts)) == 1 else "x".join(texts)


def _kinds_text(row: ZooRow, most: int = 2) -> str:
    return ", ".join(f"{k} {share:.0%}" for k, share in row.kinds[:most] if share >= 0.005)


def zoo_table(rows: list[ZooRow]) -> Table:
    """A rich table of the zoo rows (fits 80 columns: the two largest conv kinds only)."""
    table = Table(title="the model zoo (counted on meta tensors by convzoo.analysis)")
    table.add_column("model", no_wrap=True)
    table.add_column("conv MACs by kind")
    for col in ("params", "MACs", "RF r", "S"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(r.name, _kinds_text(r), format_count(r.params), format_count(r.macs),
                      axes_text(r.rf_sizes), axes_text(r.rf_strides))
    return table


def render_zoo(console: Console) -> list[ZooRow]:
    """Count every zoo model (progress bar on stderr) and print the table."""
    from convzoo.models import MODELS

    console.rule("[bold]the model zoo[/]: where each variant made its name")
    rows = []
    with Progress(transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task("counting the zoo", total=len(MODELS))
        for name in sorted(MODELS):
            progress.update(task, description=f"counting {name}")
            rows.append(zoo_row(name))
            progress.advance(task)
    console.print(zoo_table(rows))
    console.print(
        "[dim]RF: receptive field r and effective stride S per axis of the deepest feature "
        "map that is still spatial (before global pooling); 'conv MACs by kind' from the "
        "trace, not declared.[/]"
    )
    return rows
