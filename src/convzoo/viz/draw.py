"""Drawing grids of cells: one scene model, rendered by Pillow (frames) or as SVG text.

A :class:`Scene` is rows of :class:`Grid` panels (inputs with their padding ring, kernels,
outputs), optional links (lines between cells) and caption lines. A grid is 1-D (one row of
cells), 2-D, or 3-D (depth slices side by side). :func:`layout` turns a scene into drawing
primitives once; :func:`render_image` and :func:`render_svg` only paint them, so a GIF frame
and its SVG show the same picture.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

__all__ = [
    "COLOURS",
    "GROUP_COLOURS",
    "Grid",
    "Scene",
    "group_colour",
    "tint",
    "layout",
    "render_image",
    "render_svg",
]

#: Cell colours by role; ``*_hi`` is the highlighted variant.
COLOURS = {
    "input": "#dbe9f6", "input_hi": "#f5a623",
    "padding": "#e4e4e4", "padding_hi": "#a58fd6",
    "zero": "#fff3c4", "zero_hi": "#e6c229",
    "extra": "#f9d5e5", "extra_hi": "#e05a8c",
    "kernel": "#ffe3bd", "kernel_hi": "#ff9a1f",
    "output": "#f1f8f1", "output_done": "#c7e6c8", "output_hi": "#e53935",
    "crop": "#ececec", "crop_hi": "#9e9e9e",
    "line": "#e53935", "text": "#222222", "grid": "#7a7a7a", "background": "#ffffff",
}

#: One colour per channel group (Tableau 10).
GROUP_COLOURS = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)

_MARGIN, _GAP, _ROW_GAP, _TITLE, _LINE = 12, 18, 12, 16, 16
_MAX_WIDTH = 960


def group_colour(g: int) -> str:
    """The colour of channel group ``g`` (cycling through :data:`GROUP_COLOURS`).

    >>> group_colour(0), group_colour(10)
    ('#4e79a7', '#4e79a7')
    """
    return GROUP_COLOURS[g % len(GROUP_COLOURS)]


def tint(colour: str, amount: float) -> str:
    """Mix ``colour`` with white (``amount`` 0: unchanged, 1: white).

    >>> tint("#000000", 0.5)
    '#808080'
    """
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(v + (255 - v) * amount):02x}" for v in rgb)


@dataclass
class Grid:
    """A panel of cells: 1-D (a row), 2-D, or 3-D (depth slices drawn side by side).

    Attributes:
        title: text above the panel.
        text, fill, bold: per-cell arrays of the grid's shape: the label, the fill colour
            (``None``: no cell drawn) and whether the cell is highlighted (thick outline).
        role: what the panel shows (``'input'``, ``'kernel'``, ``'output'``, ...), for readers
            of a scene such as tests.
        channel: the channel the panel shows, if any.
    """

    title: str
    text: np.ndarray
    fill: np.ndarray
    bold: np.ndarray
    role: str = ""
    channel: int | None = None

    @classmethod
    def blank(cls, title: str, shape: tuple[int, ...], fill: str | None, role: str = "",
              channel: int | None = None) -> Grid:
        """A grid of empty labels, one fill colour, nothing highlighted.

        >>> Grid.blank("x", (2, 3), "#ffffff").text.shape
        (2, 3)
        """
        if not 1 <= len(shape) <= 3:
            raise ValueError(f"`shape` (={shape}) must have 1, 2 or 3 dimensions")
        text = np.full(shape, "", dtype=object)
        colours = np.full(shape, fill, dtype=object)
        return cls(title, text, colours, np.zeros(shape, dtype=bool), role, channel)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.text.shape)

    def highlighted(self) -> set[tuple[int, ...]]:
        """Indices of the highlighted cells."""
        return {tuple(int(v) for v in i) for i in np.argwhere(self.bold)}


@dataclass
class Scene:
    """One frame: rows of grids, links between cells, caption lines, and ``meta`` data.

    ``links`` are ``((row, col, cell index), (row, col, cell index), colour)`` lines between
    cell centres. ``meta`` holds what the frame shows in machine-readable form.
    """

    rows: list[list[Grid]]
    caption: list[str] = field(default_factory=list)
    links: list[tuple[tuple, tuple, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def grids(self, role: str | None = None) -> list[Grid]:
        """Every grid (of one ``role``), row by row."""
        return [g for row in self.rows for g in row if role is None or g.role == role]


@functools.lru_cache(maxsize=16)
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # no FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_width(text: str, size: int) -> float:
    return float(_font(size).getlength(text))


def _cells_2d(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(slices, rows, cols)`` of a grid as drawn."""
    if len(shape) == 1:
        return 1, 1, shape[0]
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    return shape[0], shape[1], shape[2]


def _grid_size(grid: Grid, cs: int) -> tuple[int, int]:
    slices, rows, cols = _cells_2d(grid.shape)
    width = slices * cols * cs + (slices - 1) * (cs // 2)
    title = _text_width(grid.title, 12) + 4
    return int(max(width, title)), rows * cs + _TITLE + (12 if slices > 1 else 0)


def _cell_origin(grid: Grid, index: tuple[int, ...], cs: int) -> tuple[int, int]:
    """Top-left pixel of cell ``index`` relative to the grid's cell area."""
    if len(index) == 1:
        return index[0] * cs, 0
    if len(index) == 2:
        return index[1] * cs, index[0] * cs
    _, _, cols = _cells_2d(grid.shape)
    return index[0] * (cols * cs + cs // 2) + index[2] * cs, index[1] * cs


def _cell_size(scene: Scene) -> int:
    widest = max(
        (sum(_cells_2d(g.shape)[0] * _cells_2d(g.shape)[2] + 1 for g in row) for row in scene.rows),
        default=1,
    )
    return int(max(10, min(28, _MAX_WIDTH // max(widest, 1))))


def layout(scene: Scene) -> tuple[tuple[int, int], list[tuple]]:
    """``((width, height), primitives)``: rectangles, texts and lines in drawing order.

    Primitives: ``('rect', x0, y0, x1, y1, fill, outline, width)``,
    ``('text', x, y, text, size, colour, anchor)`` (anchor ``'mm'`` centred or ``'la'``
    left/top) and ``('line', x0, y0, x1, y1, colour, width)``.

    >>> size, prims = layout(Scene([[Grid.blank("x", (3,), "#ffffff")]], ["hello"]))
    >>> sorted({p[0] for p in prims})
    ['rect', 'text']
    """
    cs = _cell_size(scene)
    font = max(7, round(cs * 0.42))
    prims: list[tuple] = []
    centres: dict[tuple[int, int], tuple[int, int]] = {}
    y, width = _MARGIN, 0
    for r, row in enumerate(scene.rows):
        x, height = _MARGIN, 0
        for c, grid in enumerate(row):
            w, h = _grid_size(grid, cs)
            prims.append(("text", x, y, grid.title, 12, COLOURS["text"], "la"))
            top = y + _TITLE
            slices, _, cols = _cells_2d(grid.shape)
            if slices > 1:
                for s in range(slices):
                    sx = x + s * (cols * cs + cs // 2)
                    prims.append(("text", sx, top, f"d={s}", 10, COLOURS["grid"], "la"))
                top += 12
            centres[(r, c)] = (x, top)
            bold = []
            for index in np.ndindex(*grid.shape):
                fill = grid.fill[index]
                if fill is None:
                    continue
                cx, cy = _cell_origin(grid, index, cs)
                box = (x + cx, top + cy, x + cx + cs, top + cy + cs)
                prims.append(("rect", *box, fill, COLOURS["grid"], 1))
                if grid.bold[index]:
                    bold.append(box)
                if grid.text[index] and cs >= 14:
                    prims.append(("text", box[0] + cs / 2, box[1] + cs / 2, str(grid.text[index]),
                                  font, COLOURS["text"], "mm"))
            for box in bold:  # thick outlines last, so neighbours do not paint over them
                prims.append(("rect", *box, None, "#000000", 3))
            x += w + _GAP
            height = max(height, h)
        width = max(width, x - _GAP + _MARGIN)
        y += height + _ROW_GAP
    for a, b, colour in scene.links:
        pa, pb = [_link_point(scene, centres, end, cs) for end in (a, b)]
        prims.append(("line", *pa, *pb, colour, 2))
    for line in scene.caption:
        prims.append(("text", _MARGIN, y, line, 13, COLOURS["text"], "la"))
        width = max(width, int(_text_width(line, 13)) + 2 * _MARGIN)
        y += _LINE
    return (int(width), int(y + _MARGIN)), prims


def _link_point(scene: Scene, centres: dict, end: tuple, cs: int) -> tuple[float, float]:
    r, c, index = end
    grid = scene.rows[r][c]
    x, top = centres[(r, c)]
    cx, cy = _cell_origin(grid, tuple(index), cs)
    return x + cx + cs / 2, top + cy + cs / 2


def render_image(scene: Scene, size: tuple[int, int] | None = None):
    """The scene as an RGB Pillow image (on a canvas of ``size`` if given, top-left aligned).

    >>> render_image(Scene([[Grid.blank("x", (2, 2), "#ffffff")]])).mode
    'RGB'
    """
    from PIL import Image, ImageDraw

    natural, prims = layout(scene)
    size = size or natural
    image = Image.new("RGB", size, COLOURS["background"])
    draw = ImageDraw.Draw(image)
    for p in prims:
        if p[0] == "rect":
            _, x0, y0, x1, y1, fill, outline, width = p
            draw.rectangle((x0, y0, x1, y1), fill=fill, outline=outline, width=width)
        elif p[0] == "text":
            _, x, y, text, size_, colour, anchor = p
            draw.text((x, y), text, fill=colour, font=_font(size_), anchor=anchor)
        else:
            _, x0, y0, x1, y1, colour, width = p
            draw.line((x0, y0, x1, y1), fill=colour, width=width)
    return image


def render_svg(scene: Scene) -> str:
    """The scene as a standalone SVG document (text).

    >>> render_svg(Scene([[Grid.blank("x", (2,), "#ffffff")]])).startswith("<svg")
    True
    """
    (width, height), prims = layout(scene)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="{COLOURS["background"]}"/>',
    ]
    for p in prims:
        if p[0] == "rect":
            _, x0, y0, x1, y1, fill, outline, width_ = p
            out.append(
                f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" '
                f'fill="{fill or "none"}" stroke="{outline}" stroke-width="{width_}"/>'
            )
        elif p[0] == "text":
            _, x, y, text, size, colour, anchor = p
            where = ('text-anchor="middle" dominant-baseline="central"' if anchor == "mm"
                     else 'dominant-baseline="hanging"')
            out.append(f'<text x="{x}" y="{y}" font-size="{size}" fill="{colour}" {where}>'
                       f"{escape(text)}</text>")
        else:
            _, x0, y0, x1, y1, colour, width_ = p
            out.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="{colour}" '
                       f'stroke-width="{width_}"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
