"""Params / MACs / latency bars of a :class:`~convzoo.analysis.Comparison` (SVG).

One panel per quantity, one bar per variant, each bar labelled with its value and its ratio
to the baseline row. Values are the comparison's own (``compare`` counts and measures them;
nothing is recomputed here).
"""

from __future__ import annotations

from collections.abc import Callable

from convzoo.analysis import Comparison
from convzoo.viz.draw import group_colour
from convzoo.viz.fonts import text_width
from convzoo.viz.svg import svg_document, svg_line, svg_rect, svg_text

__all__ = ["BAR_QUANTITIES", "bar_values", "comparison_bars_svg"]

#: (title, value of a Variant, formatter, ratio key) per panel.
BAR_QUANTITIES: tuple[tuple[str, Callable, Callable[[float], str], str], ...] = (
    ("params", lambda v: v.params, lambda x: f"{int(x):,}", "params"),
    ("MACs", lambda v: v.macs, lambda x: f"{int(x):,}", "macs"),
    ("forward ms", lambda v: v.forward_ms, lambda x: f"{x:.3f} ms", "forward"),
    ("forward+backward ms", lambda v: v.forward_backward_ms, lambda x: f"{x:.3f} ms",
     "forward_backward"),
)


def bar_values(comparison: Comparison) -> dict[str, list[tuple[str, float]]]:
    """Panel title -> ``(variant, value)`` per row; latency panels only when measured.

    >>> from convzoo.analysis import compare
    >>> bar_values(compare(8, 8, 3, 8, measure=False))["params"][:2]
    [('conv', 584), ('group g=2', 296)]
    """
    out = {}
    for title, get, _, _ in BAR_QUANTITIES:
        values = [(v.name, get(v)) for v in comparison.variants]
        if all(x is not None for _, x in values):
            out[title] = values
    return out


def comparison_bars_svg(comparison: Comparison, title: str = "") -> str:
    """The bars as an SVG document (panels stacked vertically)."""
    bar_h, gap = 20, 4
    formats = {t: (f, key) for t, _, f, key in BAR_QUANTITIES}
    panels = bar_values(comparison)
    heading = title or f"compared to {comparison.baseline!r}"
    left = int(max(text_width(v.name, 14) for v in comparison.variants)) + 20
    width = int(max(680, text_width(heading, 15) * 1.08 + 24))
    body = [svg_text(8, 22, heading, 15, bold=True)]
    y = 38
    for name, values in panels.items():
        fmt, key = formats[name]
        largest = max(float(x) for _, x in values) or 1.0
        body.append(svg_text(8, y + 15, name, 14, bold=True))
        y += 22
        for i, (variant, x) in enumerate(values):
            row = comparison.variants[i]
            ratio = row.ratios.get(key)
            w = (width - left - 200) * float(x) / largest
            body.append(svg_text(left - 6, y + 15, variant, 14, "end"))
            body.append(svg_rect(left, y, max(w, 1.0), bar_h, group_colour(i)))
            label = fmt(x) + (f" ({ratio:.2f}x)" if ratio is not None else "")
            body.append(svg_text(left + w + 6, y + 15, label, 14))
            y += bar_h + gap
        body.append(svg_line(left, y - len(values) * (bar_h + gap) - 2, left, y, "#444444"))
        y += 10
    return svg_document(width, y + 6, body, title or "comparison")
