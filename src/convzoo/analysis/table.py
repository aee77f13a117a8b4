"""The one rendering piece of the analysis results (summary, compare, profile).

A result describes its tables as :class:`TableSpec` (columns and rows of cells) and its
footer as text; :class:`Rendered` turns them into ``rich`` tables, prints them, gives
``__str__`` and ``to_json``. Tables fit 80 columns without cutting a number, as torchinfo's
do: counts are compact (``4.09 G``, three significant digits, :func:`compact`). No cell is cut
or broken inside a word when space runs out: text columns (kinds, types, notes) wrap at word
boundaries, a name column (``layer1.0.downsample.0``) is never broken (a name longer than its
column gets a line of its own, its row's values on the next), and a table that cannot fit
even so is printed at its narrowest width rather than cut. Footers are wrapped at word
boundaries to the console's width (80 when not a terminal) by :func:`wrap`, which other
prose (``advise``'s reasons) shares. ``wide=True`` prints every digit (``4,089,184,256``) and
may be wider.
"""

from __future__ import annotations

import io
import json
import textwrap
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Column", "TableSpec", "Rendered", "compact", "count", "fit_widths", "wrap", "WIDTH"]

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
        text: True for a text column (kinds, types, notes) that may wrap at word boundaries
            when the table is too wide; False (the default) for numbers and shapes, never
            wrapped.
        name: True for a column of names (layer paths): never broken; when the table is too
            wide, a name longer than the column is printed on a line of its own above its
            row. Only the first column may be one.
    """

    header: str
    justify: str = "right"
    text: bool = False
    name: bool = False


@dataclass(frozen=True)
class TableSpec:
    """A table to print: title, columns, rows of cell strings (one per column)."""

    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def rich(self, widths: list[int] | None = None, rows: list[tuple[str, ...]] | None = None,
             header: bool = True) -> Any:
        """The ``rich.table.Table``: a light frame (a rule under the header, no vertical
        lines) so that more columns fit in 80; number columns never wrap or shrink.

        Args:
            widths: fixed content width per column (:func:`fit_widths`); default natural.
            rows: the rows to put in (default all); header: show the title and header.
        """
        from rich import box
        from rich.table import Table

        t = Table(title=self.title if header else None, box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, padding=(0, 1), collapse_padding=True, show_header=header)
        for i, c in enumerate(self.columns):
            t.add_column(c.header, justify=c.justify,  # type: ignore[arg-type]
                         no_wrap=not c.text, overflow="fold",
                         width=None if widths is None else widths[i])
        for row in self.rows if rows is None else rows:
            t.add_row(*row)
        return t

    def render(self, console: Any) -> None:
        """Print the table on ``console`` at its width without cutting or breaking a cell
        inside a word (:func:`fit_widths`); names too long for their column get a line of
        their own; a table that cannot fit is printed at its narrowest width."""
        widths = fit_widths(self, console.width)
        if widths is None:  # fits as it is
            console.print(self.rich())
            return
        total = sum(widths) + _GAP * (len(widths) - 1)  # past the console's: the narrowest
        first, chunk = True, []
        for row in self.rows:
            if self.columns[0].name and _cells(row[0]) > widths[0]:
                if chunk or first:
                    _print_wider(console, self.rich(widths, chunk, header=first), total)
                    first, chunk = False, []
                console.print(row[0], markup=False, highlight=False, soft_wrap=True)
                row = ("", *row[1:])
            chunk.append(row)
        if chunk or first:
            _print_wider(console, self.rich(widths, chunk, header=first), total)


#: Characters between two columns of a :meth:`TableSpec.rich` table (padding and divider).
_GAP = 2


def _cells(text: str) -> int:
    """Terminal cells ``text`` takes (a CJK character takes two)."""
    from rich.cells import cell_len

    return cell_len(text)


def _words(text: str) -> int:
    return max((_cells(w) for w in text.split()), default=0)


def fit_widths(spec: TableSpec, width: int) -> list[int] | None:
    """Column content widths that fit ``spec`` in ``width`` characters, or None when its
    natural widths already fit.

    Numbers and shapes keep their natural width; text columns shrink to their longest word
    (they wrap between words), then a name column to what is left (at least its header;
    longer names get a line of their own). When even that does not fit, the narrowest widths
    are returned (their sum then exceeds ``width``).

    >>> spec = TableSpec("", (Column("Layer", "left", name=True), Column("Kind", "left",
    ...                  text=True), Column("MACs")), [("layer1.0.downsample.0",
    ...                  "depthwise separable", "51.4 M")])
    >>> fit_widths(spec, 80), fit_widths(spec, 40), fit_widths(spec, 30)
    (None, [21, 9, 6], [11, 9, 6])
    """
    cells = [[c.header, *(row[i] for row in spec.rows)] for i, c in enumerate(spec.columns)]
    natural = [max(_cells(line) for cell in col for line in cell.splitlines() or [""])
               for col in cells]
    room = width - _GAP * (len(natural) - 1)
    if sum(natural) <= room:
        return None
    widths = list(natural)
    lowest = [max(_words(cell) for cell in col) if c.text else w
              for c, col, w in zip(spec.columns, cells, natural)]
    while sum(widths) > room:  # narrow the widest text column that can still wrap
        can = [i for i, c in enumerate(spec.columns) if c.text and widths[i] > lowest[i]]
        if not can:
            break
        widest = max(can, key=lambda i: widths[i])
        widths[widest] -= 1
    if sum(widths) > room and spec.columns[0].name:
        widths[0] = max(len(spec.columns[0].header), room - sum(widths[1:]))
    return widths


def _print_wider(console: Any, renderable: Any, width: int) -> None:
    """Print at ``width`` even past the console's (a table that cannot be narrower)."""
    before = console.width
    console.width = max(before, width)
    try:
        console.print(renderable)
    finally:
        console.width = before


def wrap(text: str, width: int = WIDTH, indent: str = "  ") -> str:
    """Every line of ``text`` wrapped at word boundaries to ``width`` characters, continuation
    lines indented by ``indent``; a word is never cut or broken (one longer than the width
    gets a line of its own).

    >>> print(wrap("Convention: MACs count padded positions; FLOPs = 2 x MACs.", 30))
    Convention: MACs count padded
      positions; FLOPs = 2 x MACs.
    >>> wrap("layer1.0.downsample.0 is a name", 10).splitlines()[0]
    'layer1.0.downsample.0'
    """
    out = []
    for line in text.splitlines():
        lead = line[:len(line) - len(line.lstrip())]
        out += textwrap.wrap(line, width, initial_indent="", subsequent_indent=lead + indent,
                             break_long_words=False, break_on_hyphens=False) or [""]
    return "\n".join(out)


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
            if not wide:
                spec.render(console)
                continue
            # wide: at the table's natural width, past the console's if need be
            table = spec.rich()
            natural = Measurement.get(console, console.options.update_width(10_000), table)
            _print_wider(console, table, natural.maximum)
        console.print(wrap(self.footer(), console.width), markup=False, highlight=False,
                      soft_wrap=True)

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
