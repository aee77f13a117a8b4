"""HTML tables for notebooks: the ``_repr_html_`` of summaries, comparisons and receptive
fields (Jupyter shows them as tables instead of text).

The rows and columns are the objects' own ``rich`` tables (``table_specs()``), converted cell
by cell, so the notebook and the terminal show the same numbers.

>>> from rich.table import Table
>>> t = Table(title="t"); t.add_column("a"); t.add_row("[green]1[/]")
>>> table_html(t, ["note"]).count("<td")
1
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

__all__ = ["table_html", "tables_html", "receptive_field_html", "STYLE"]

#: Inline style of the tables (notebooks strip <style> blocks inconsistently).
STYLE = "border-collapse:collapse;font-size:14px;margin:4px 0"
_CELL = "border:1px solid #bbb;padding:2px 8px;text-align:{}"


def _plain(cell: Any) -> str:
    from rich.text import Text

    if isinstance(cell, Text):
        return cell.plain
    return Text.from_markup(str(cell)).plain


def table_html(table: Any, notes: Sequence[str] = ()) -> str:
    """A ``rich.table.Table`` (and note lines under it) as an HTML table."""
    columns = list(table.columns)
    align = ["right" if c.justify == "right" else "left" for c in columns]
    head = "".join(f'<th style="{_CELL.format(a)};background:#e8eef5">'
                   f"{html.escape(_plain(c.header))}</th>" for c, a in zip(columns, align))
    cells = [list(c.cells) for c in columns]
    rows = []
    for i in range(table.row_count):
        rows.append("<tr>" + "".join(
            f'<td style="{_CELL.format(a)}">{html.escape(_plain(col[i]))}</td>'
            for col, a in zip(cells, align)) + "</tr>")
    title = table.title
    caption = f"<caption style=\"text-align:left;font-weight:bold\">{html.escape(_plain(title))}" \
        "</caption>" if title else ""
    foot = table_html_notes(notes)
    return (f'<div class="convzoo-table"><table style="{STYLE}">{caption}<tr>{head}</tr>'
            + "".join(rows) + f"</table>{foot}</div>")


def tables_html(tables: Sequence[Any], notes: Sequence[str] = ()) -> str:
    """Several ``rich`` tables one under the other, the notes under the last one."""
    if not tables:
        return table_html_notes(notes)
    return "".join(table_html(t, notes if i == len(tables) - 1 else ())
                   for i, t in enumerate(tables))


def table_html_notes(notes: Sequence[str]) -> str:
    """Note lines alone (a result with no table)."""
    return "".join(f"<div style=\"font-size:13px\">{html.escape(n)}</div>" for n in notes if n)


def receptive_field_html(result: Any) -> str:
    """A :class:`~convzoo.analysis.receptive.ReceptiveFieldResult` as a table: one row per
    spatial axis (size ``r``, effective stride ``S``, effective padding ``P``, centre)."""
    from rich.table import Table

    where = f"layer {result.layer!r}" if result.layer else "the model's output"
    t = Table(title=f"receptive field of {where} (shape {'x'.join(map(str, result.shape))})")
    for name, justify in (("axis", "left"), ("r", "right"), ("S", "right"), ("P", "right"),
                          ("centre of output 0", "right"), ("global", "left")):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for axis, (f, c, g) in enumerate(zip(result.fields, result.centers, result.is_global)):
        t.add_row(str(axis), str(f.size), str(f.stride), str(f.padding), str(c),
                  "yes" if g else "no")
    notes = list(result.notes) + ([f"PARTIAL: {result.reason}"] if result.partial else [])
    return table_html(t, notes)
