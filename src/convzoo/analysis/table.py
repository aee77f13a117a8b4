"""The one rendering piece of the analysis results (summary, compare, profile).

A result describes its tables as :class:`TableSpec` (columns and rows of cells) and its
footer as text; :class:`Rendered` turns them into ``rich`` tables, prints them, gives
``__str__`` and ``to_json``. Tables fit 80 columns without cutting a number, as torchinfo's
do: counts are compact (``4.09 G``, three significant digits, :func:`compact`) and only
text columns (layer names, types) fold onto a second line when space runs out; ``wide=True``
prints every digit (``4,089,184,256``) and may be wider.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Column", "TableSpec", "Rendered", "compact", "count", "WIDTH"]

#: The width ``str(result)`` renders at, and what the tables are made to fit.
WIDTH = 80

_UNITS = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def compact(value: int | float) -> str:
    """``value`` with three significant digits and a unit (k, M, G, T) from 10,000 up;
    smaller integers as they are (with a thousands separator).

    >>> compact(4_089_184_256), compact(25_557_032), compact(118_013), compact(9_408)
    ('4.09 G', '25.6 M', '118 k', '9,408')
    >>> compact(999_999), compact(0)
    ('1.00 M', '0')
    """
    v = abs(value)
    if v < 10_000:
        return f"{value:,}" if isinstance(value, int) else f"{value:.3g}"
    for i, (scale, unit) in enumerate(_UNITS):
        if v >= scale * 0.9995 or i == len(_UNITS) - 1:
            x = value / scale
            digits = 2 if abs(x) < 9.995 else 1 if abs(x) < 99.95 else 0
            return f"{x:.{digits}f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def count(value: int, wide: bool) -> str:
    """An integer count: every digit when ``wide``, else :func:`compact`.

    >>> count(4_089_184_256, True), count(4_089_184_256, False)
    ('4,089,184,256', '4.09 G')
    """
    return f"{value:,}" if wide else compact(value)


@dataclass(frozen=True)
class Column:
    """One table column.

    Attributes:
        header: the header text.
        justify: ``'left'`` or ``'right'`` (numbers).
        text: True for a text column (names, types) that may fold onto more lines when the
            table is too wide; False (the default) for numbers and shapes, never cut.
    """

    header: str
    justify: str = "right"
    text: bool = False


@dataclass(frozen=True)
class TableSpec:
    """A table to print: title, columns, rows of cell strings (one per column)."""

    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def rich(self) -> Any:
        """The ``rich.table.Table``: a light frame (a rule under the header, no vertical
        lines) so that more columns fit in 80; number columns never wrap or shrink."""
        from rich import box
        from rich.table import Table

        t = Table(title=self.title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=(0, 1), collapse_padding=True)
        for c in self.columns:
            t.add_column(c.header, justify=c.justify,  # type: ignore[arg-type]
                         no_wrap=not c.text, overflow="fold")
        for row in self.rows:
            t.add_row(*row)
        return t


class Rendered:
    """What summary, compare and profile results share: ``render``, ``__str__`` and
    ``to_json``, from the result's :meth:`table_specs`, :meth:`footer` and ``to_dict``."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every result defines it
        raise NotImplementedError

    def table_specs(self, wide: bool = False) -> list[TableSpec]:  # pragma: no cover
        raise NotImplementedError

    def footer(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def to_json(self, indent: int | None = 2) -> str:
        """``to_dict()`` as JSON."""
        return json.dumps(self.to_dict(), indent=indent)

    def render(self, console: Any = None, wide: bool = False) -> None:
        """Print the tables and the footer on a ``rich`` console (plain text when piped).

        Args:
            console: default a new ``rich.console.Console``.
            wide: every digit of every count, each table printed at its natural width (then
                often wider than the console).
        """
        from rich.console import Console
        from rich.measure import Measurement

        console = console if console is not None else Console()
        for spec in self.table_specs(wide):
            table = spec.rich()
            if not wide:
                console.print(table)
                continue
            # wide: at the table's natural width, past the console's if need be
            natural = Measurement.get(console, console.options.update_width(10_000), table)
            width = console.width
            console.width = max(width, natural.maximum)
            try:
                console.print(table)
            finally:
                console.width = width
        console.print(self.footer(), markup=False, highlight=False)

    def _repr_html_(self) -> str:
        """The tables and the footer as HTML (Jupyter shows this instead of the text)."""
        from convzoo.analysis.html import tables_html

        return tables_html([spec.rich() for spec in self.table_specs(wide=True)],
                           self.footer().splitlines())

    def __str__(self) -> str:
        from rich.console import Console

        buf = io.StringIO()
        self.render(Console(file=buf, width=WIDTH, force_terminal=False, color_system=None))
        return buf.getvalue()
