"""Params / MACs / latency bars of a :class:`~convzoo.analysis.Comparison` (SVG).

One panel per quantity, one bar per variant, each bar labelled with its value and its ratio
to the baseline row. A latency bar is the median of the repeats with a whisker over their
interquartile range, and a ratio inside the noise is marked ``~`` and greyed, as the
terminal tables mark it: both come from ``compare`` (its quartiles and its ``noise`` flags,
:func:`convzoo.analysis.timing.within_noise`); nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Callable

from convzoo.analysis import Comparison
from convzoo.viz.draw import group_colour
from convzoo.viz.fonts import text_width
from convzoo.viz.svg import svg_document, svg_line, svg_rect, svg_text

__all__ = ["BAR_QUANTITIES", "NOISE_NOTE", "bar_values", "bar_whiskers", "comparison_bars_svg"]

#: (title, value of a row, formatter, ratio key) per panel.
BAR_QUANTITIES: tuple[tuple[str, Callable, Callable[[float], str], str], ...] = (
    ("params", lambda v: v.params, lambda x: f"{int(x):,}", "params"),
    ("MACs", lambda v: v.macs, lambda x: f"{int(x):,}", "macs"),
    ("forward ms", lambda v: v.forward_ms, lambda x: f"{x:.3f} ms", "forward"),
    ("forward+backward ms", lambda v: v.forward_backward_ms, lambda x: f"{x:.3f} ms",
     "forward_backward"),
)

#: Panel title -> the row's (first quartile, third quartile) in ms: the latency whiskers.
_WHISKERS: dict[str, Callable] = {
    "forward ms": lambda v: v.forward_quartiles_ms,
    "forward+backward ms": lambda v: v.forward_backward_quartiles_ms,
}

#: The legend under the latency panels.
NOISE_NOTE = ("latency: median of the interleaved repeats, whiskers over their interquartile "
              "range; '~' (grey): the ratio is inside the noise (the row's and the baseline's "
              "interquartile ranges overlap)")

_GREY = "#595959"  # 7:1 on white


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


def bar_whiskers(comparison: Comparison) -> dict[str, list[tuple[float, float] | None]]:
    """Panel title -> per row, the (q1, q3) whisker of a latency panel (None for a row that
    has none, such as a comparison read from an older JSON file).

    >>> from convzoo.analysis import compare
    >>> w = bar_whiskers(compare(8, 8, 3, 8, repeats=3, warmup=0))
    >>> list(w), all(q1 <= q3 for q1, q3 in w["forward ms"])
    (['forward ms', 'forward+backward ms'], True)
    """
    panels = bar_values(comparison)
    return {title: [get(v) for v in comparison.variants]
            for title, get in _WHISKERS.items() if title in panels}


def _label(comparison: Comparison, i: int, key: str, text: str) -> tuple[str, bool]:
    row = comparison.variants[i]
    ratio, noisy = row.ratios.get(key), bool(row.noise.get(key, False))
    if ratio is not None:
        text += f" ({ratio:.2f}x~, inside the noise)" if noisy else f" ({ratio:.2f}x)"
    return text, noisy


def comparison_bars_svg(comparison: Comparison, title: str = "") -> str:
    """The bars as an SVG document (panels stacked vertically)."""
    bar_h, gap = 20, 4
    formats = {t: (f, key) for t, _, f, key in BAR_QUANTITIES}
    panels = bar_values(comparison)
    whiskers = bar_whiskers(comparison)
    labels = {name: [_label(comparison, i, formats[name][1], formats[name][0](x))
                     for i, (_, x) in enumerate(values)] for name, values in panels.items()}
    heading = title or f"compared to {comparison.baseline!r}"
    left = int(max(text_width(v.name, 14) for v in comparison.variants)) + 20
    room = int(max(text_width(t, 14) for ls in labels.values() for t, _ in ls)) + 16
    width = int(max(720, text_width(heading, 15) * 1.08 + 24, text_width(NOISE_NOTE, 12) + 16,
                    left + 240 + room))
    span = width - left - room  # the longest bar (or whisker); its label to its right
    body = [svg_text(8, 22, heading, 15, bold=True)]
    y = 38
    for name, values in panels.items():
        boxes = whiskers.get(name, [None] * len(values))
        largest = max([float(x) for _, x in values] + [b[1] for b in boxes if b]) or 1.0
        body.append(svg_text(8, y + 15, name, 14, bold=True))
        y += 22
        for i, (variant, x) in enumerate(values):
            w = span * float(x) / largest
            body.append(svg_text(left - 6, y + 15, variant, 14, "end"))
            body.append(svg_rect(left, y, max(w, 1.0), bar_h, group_colour(i)))
            end = left + w
            if boxes[i] is not None:  # the interquartile range of the repeats
                x0, x1 = (left + span * q / largest for q in boxes[i])
                mid = y + bar_h / 2
                body += [svg_line(x0, mid, x1, mid, "#000000", 1.5),
                         svg_line(x0, y + 4, x0, y + bar_h - 4, "#000000", 1.5),
                         svg_line(x1, y + 4, x1, y + bar_h - 4, "#000000", 1.5)]
                end = max(end, x1)
            text, noisy = labels[name][i]
            body.append(svg_text(end + 6, y + 15, text, 14, colour=_GREY if noisy else "#222222"))
            y += bar_h + gap
        body.append(svg_line(left, y - len(values) * (bar_h + gap) - 2, left, y, "#444444"))
        y += 10
    if whiskers:
        body.append(svg_text(8, y + 12, NOISE_NOTE, 12))
        y += 20
    return svg_document(width, y + 6, body, title or "comparison")
