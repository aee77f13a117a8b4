"""Drawing grids of cells: one scene model, rendered by Pillow (frames) or as SVG text.

A :class:`Scene` is rows of :class:`Grid` panels (inputs with their padding ring, kernels,
outputs), optional links (lines between cells) and caption lines. A grid is 1-D (one row of
cells), 2-D, or 3-D (depth slices side by side). :func:`layout` turns a scene into drawing
primitives once; :func:`render_image` and :func:`render_svg` only paint them, so a GIF frame
and its SVG show the same picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

import numpy as np

from convzoo.viz.fonts import FONT_FAMILY, font, text_colour_on, text_width

__all__ = [
    "CELL",
    "CHANNEL_COLOURS",
    "COLOURS",
    "GROUP_COLOURS",
    "LEGEND",
    "layout_with_cells",
    "legend_entries",
    "Grid",
    "Scene",
    "channel_colour",
    "CellRef",
    "Link",
    "Box",
    "Rect",
    "Line",
    "Text",
    "Primitive",
    "group_colour",
    "tint",
    "layout",
    "render_image",
    "render_svg",
]

#: Cell colours by role; ``*_hi`` is the highlighted variant. Text on any of them is black or
#: white (:func:`~convzoo.viz.fonts.text_colour_on`) at a contrast of at least 4.5:1.
COLOURS = {
    "input": "#dbe9f6", "input_hi": "#f5a623",
    "padding": "#e4e4e4", "padding_hi": "#a58fd6",
    "zero": "#fff3c4", "zero_hi": "#e6c229",
    "extra": "#f9d5e5", "extra_hi": "#e05a8c",
    "kernel": "#ffe3bd", "kernel_hi": "#ff9a1f",
    "output": "#f1f8f1", "output_done": "#c7e6c8", "output_hi": "#c62828",
    "crop": "#ececec", "crop_hi": "#9e9e9e",
    "line": "#c62828", "text": "#000000", "grid": "#6b6b6b", "background": "#ffffff",
}

#: What each cell colour means, for the legend drawn on every picture.
LEGEND = {
    "input": "input", "input_hi": "input in the window",
    "padding": "padding (zeros)", "padding_hi": "padding in the window",
    "zero": "inserted zeros", "zero_hi": "inserted zero in the window",
    "extra": "output_padding", "extra_hi": "output_padding in the window",
    "kernel": "kernel weights",
    "output": "output, not computed yet", "output_done": "output computed",
    "output_hi": "output being computed",
    "crop": "cropped by padding", "crop_hi": "cropped cell receiving now",
}

#: One colour per row of a chart (Tableau 10): the bars of the variants compared and the groups
#: of the channel-connectivity diagrams (which draw no kernel).
GROUP_COLOURS = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)

#: One colour per channel group in the pictures of convolutions (blue, teal, magenta, olive,
#: indigo; repeating from the sixth group): hues apart from each other and from the roles
#: drawn beside them (the orange of the kernel and of the window, the red and green of the
#: outputs, the purple of padding in the window), text on each and on its tint at a contrast
#: of at least 4.5:1 (tests/viz/test_palette.py). Tableau's orange, the kernel's colour, is
#: not among them.
CHANNEL_COLOURS = ("#4e79a7", "#2a9d8f", "#b5478f", "#6b8e23", "#3f3fb0")

#: How much of the way to white a channel's cells outside the window are drawn.
CHANNEL_TINT = 0.6

#: Cell size with text; grids with more cells in a row are drawn smaller, without text.
CELL = 44
_MARGIN, _GAP, _ROW_GAP, _TITLE, _LINE = 12, 24, 16, 22, 20
_TEXT, _VALUE = 14, 16
_MAX_WIDTH = 1800


def group_colour(g: int) -> str:
    """The colour of channel group ``g`` (cycling through :data:`GROUP_COLOURS`).

    >>> group_colour(0), group_colour(10)
    ('#4e79a7', '#4e79a7')
    """
    return GROUP_COLOURS[g % len(GROUP_COLOURS)]


def channel_colour(group: int, highlighted: bool = False) -> str:
    """The fill of a cell of channel group ``group``: its colour in the window (highlighted),
    a tint of it elsewhere (cycling through :data:`CHANNEL_COLOURS`).

    >>> channel_colour(1, True), channel_colour(1), channel_colour(5, True)
    ('#2a9d8f', '#aad8d2', '#4e79a7')
    """
    colour = CHANNEL_COLOURS[group % len(CHANNEL_COLOURS)]
    return colour if highlighted else tint(colour, CHANNEL_TINT)


def tint(colour: str, amount: float) -> str:
    """Mix ``colour`` with white (``amount`` 0: unchanged, 1: white).

    >>> tint("#000000", 0.5)
    '#808080'
    """
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(v + (255 - v) * amount):02x}" for v in rgb)


class CellRef(NamedTuple):
    """One cell of a scene: the grid at ``row``, ``col`` of :attr:`Scene.rows`, and the cell's
    ``index`` in that grid."""

    row: int
    col: int
    index: tuple[int, ...]


class Link(NamedTuple):
    """A line between two cells' centres, in ``colour``."""

    start: CellRef
    end: CellRef
    colour: str


class Box(NamedTuple):
    """A cell's pixel box: top-left ``(x0, y0)``, bottom-right ``(x1, y1)``."""

    x0: float
    y0: float
    x1: float
    y1: float


class Rect(NamedTuple):
    """A rectangle primitive (``kind`` is ``'rect'``; ``fill`` None: not filled)."""

    kind: str
    x0: float
    y0: float
    x1: float
    y1: float
    fill: str | None
    outline: str
    width: int


class Line(NamedTuple):
    """A line primitive (``kind`` is ``'line'``)."""

    kind: str
    x0: float
    y0: float
    x1: float
    y1: float
    colour: str
    width: int


class Text(NamedTuple):
    """A text primitive (``kind`` is ``'text'``); ``anchor`` ``'mm'`` centres it on ``(x, y)``,
    ``'la'`` puts its top-left corner there."""

    kind: str
    x: float
    y: float
    text: str
    size: int
    colour: str
    anchor: str


#: What :func:`layout` draws. Each is a tuple whose first item names its kind, as the player's
#: JSON carries it (``['rect', x0, y0, ...]``).
Primitive = Rect | Line | Text


def _rect(box: Box | tuple, fill: str | None, outline: str, width: int) -> Rect:
    return Rect("rect", *box, fill, outline, width)


def _text(x: float, y: float, text: str, size: int, colour: str, anchor: str) -> Text:
    return Text("text", x, y, text, size, colour, anchor)


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
        weight: per-cell kernel weight written in the cell's corner ('' for none): the
            kernel shaded over the input it multiplies.
    """

    title: str
    text: np.ndarray
    fill: np.ndarray
    bold: np.ndarray
    role: str = ""
    channel: int | None = None
    weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.weight is None:
            self.weight = np.full(self.text.shape, "", dtype=object)

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

    ``links`` are :class:`Link` lines between cell centres. ``meta`` holds what the frame shows
    in machine-readable form.
    """

    rows: list[list[Grid]]
    caption: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def grids(self, role: str | None = None) -> list[Grid]:
        """Every grid (of one ``role``), row by row."""
        return [g for row in self.rows for g in row if role is None or g.role == role]


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
    title = text_width(grid.title, _TEXT) + 4
    return int(max(width, title)), rows * cs + _TITLE + (_TITLE if slices > 1 else 0)


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
    return int(max(10, min(CELL, _MAX_WIDTH // max(widest, 1))))


def legend_entries(scene: Scene) -> list[tuple[str, str]]:
    """``(swatch colour, meaning)`` of every colour the scene's cells and links use."""
    used = {str(f) for g in scene.grids() for f in g.fill.flat if f is not None}
    entries = [(COLOURS[k], text) for k, text in LEGEND.items() if COLOURS[k] in used]
    for g, colour in enumerate(CHANNEL_COLOURS):
        if used & {colour, tint(colour, CHANNEL_TINT)} and colour not in {c for c, _ in entries}:
            entries.append((colour, f"channel group {g}"))
    if scene.links:
        entries.append((COLOURS["line"], "connection"))
    return entries


def _layout(scene: Scene) -> tuple[tuple[int, int], list[Primitive], dict[CellRef, Box]]:
    cs = _cell_size(scene)
    with_text = cs >= CELL
    rects: list[Primitive] = []
    outlines: list[Primitive] = []
    halos: list[Primitive] = []
    texts: list[Primitive] = []
    origins: dict[tuple[int, int], tuple[int, int]] = {}
    boxes: dict[CellRef, Box] = {}
    y, width = _MARGIN, 0
    for r, row in enumerate(scene.rows):
        x, height = _MARGIN, 0
        for c, grid in enumerate(row):
            w, h = _grid_size(grid, cs)
            tw = text_width(grid.title, _TEXT)
            halos.append(_rect((x - 2, y, x + tw + 2, y + _TEXT + 4), COLOURS["background"],
                               COLOURS["background"], 1))
            texts.append(_text(x, y + 1, grid.title, _TEXT, COLOURS["text"], "la"))
            top = y + _TITLE
            slices, _, cols = _cells_2d(grid.shape)
            if slices > 1:
                for sl in range(slices):
                    sx = x + sl * (cols * cs + cs // 2)
                    texts.append(_text(sx, top, f"d={sl}", _TEXT, COLOURS["text"], "la"))
                top += _TITLE
            origins[(r, c)] = (x, top)
            for index in np.ndindex(*grid.shape):
                fill = grid.fill[index]
                if fill is None:
                    continue
                cx, cy = _cell_origin(grid, index, cs)
                box = Box(x + cx, top + cy, x + cx + cs, top + cy + cs)
                boxes[CellRef(r, c, tuple(int(i) for i in index))] = box
                rects.append(_rect(box, fill, COLOURS["grid"], 1))
                if grid.bold[index]:
                    outlines.append(_rect(box, None, "#000000", 3))
                if not with_text:
                    continue
                ink = text_colour_on(str(fill))
                weight = grid.weight[index]
                if weight:
                    texts.append(_text(box.x0 + 4, box.y0 + 3, f"×{weight}", _TEXT, ink, "la"))
                if grid.text[index]:
                    cy_text = box.y0 + cs * (0.64 if weight else 0.5)
                    texts.append(_text(box.x0 + cs / 2, cy_text, str(grid.text[index]),
                                       _VALUE, ink, "mm"))
            x += w + _GAP
            height = max(height, h)
        width = max(width, x - _GAP + _MARGIN)
        y += height + _ROW_GAP
    lines: list[Primitive] = []
    for start, end, colour in scene.links:  # Links (plain 3-tuples read the same)
        (ax, ay), (bx, by) = [_link_point(scene, origins, CellRef(*ref), cs)
                              for ref in (start, end)]
        if by > ay:  # from the bottom edge of the upper cell to the top edge of the lower one
            ay, by = ay + cs / 2, by - cs / 2
        lines.append(Line("line", ax, ay, bx, by, colour, 2))
    # the legend: a swatch and its meaning per colour, wrapped to the picture's width
    entries = legend_entries(scene)
    if entries:
        texts.append(_text(_MARGIN, y, "legend:", _TEXT, COLOURS["text"], "la"))
        lx, wrap = _MARGIN + text_width("legend:", _TEXT) + 10, max(width, 640)
        for colour, meaning in entries:
            item = 22 + text_width(meaning, _TEXT) + 18
            if lx + item > wrap - _MARGIN and lx > _MARGIN + 80:
                lx, y = _MARGIN + text_width("legend:", _TEXT) + 10, y + _LINE + 4
            rects.append(_rect((lx, y, lx + 16, y + 16), colour, COLOURS["grid"], 1))
            texts.append(_text(lx + 22, y + 1, meaning, _TEXT, COLOURS["text"], "la"))
            width = max(width, int(lx + item) + _MARGIN)
            lx += item
        y += _LINE + 8
    for line in scene.caption:
        texts.append(_text(_MARGIN, y, line, _TEXT, COLOURS["text"], "la"))
        width = max(width, int(text_width(line, _TEXT)) + 2 * _MARGIN + 4)
        y += _LINE
    prims = rects + outlines + lines + (halos if lines else []) + texts
    return (int(width), int(y + _MARGIN)), prims, boxes


def layout(scene: Scene) -> tuple[tuple[int, int], list[Primitive]]:
    """``((width, height), primitives)``: rectangles, lines and texts in drawing order.

    Primitives: :class:`Rect` ``('rect', x0, y0, x1, y1, fill, outline, width)``,
    :class:`Line` ``('line', x0, y0, x1, y1, colour, width)`` and :class:`Text` ``('text', x,
    y, text, size, colour, anchor)`` (anchor ``'mm'`` centred, ``'la'`` left/top). Texts come
    last, so nothing is drawn over a text; cell text is at least 14 px (smaller grids are
    drawn without it) and black or white, whichever contrasts more with its cell. A legend of
    the colours used sits under the grids.

    >>> size, prims = layout(Scene([[Grid.blank("x", (3,), "#ffffff")]], ["hello"]))
    >>> sorted({p.kind for p in prims}), prims[0].fill
    (['rect', 'text'], '#ffffff')
    """
    size, prims, _ = _layout(scene)
    return size, prims


def layout_with_cells(scene: Scene
                      ) -> tuple[tuple[int, int], list[Primitive], dict[CellRef, Box]]:
    """:func:`layout` and, in the same pass, the :class:`Box` of every drawn cell by its
    :class:`CellRef` (the player maps clicks back to cells with it)."""
    return _layout(scene)


def _link_point(scene: Scene, origins: dict, end: CellRef, cs: int) -> tuple[float, float]:
    grid = scene.rows[end.row][end.col]
    x, top = origins[(end.row, end.col)]
    cx, cy = _cell_origin(grid, tuple(end.index), cs)
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
        if isinstance(p, Rect):
            draw.rectangle((p.x0, p.y0, p.x1, p.y1), fill=p.fill, outline=p.outline,
                           width=p.width)
        elif isinstance(p, Text):
            draw.text((p.x, p.y), p.text, fill=p.colour, font=font(p.size), anchor=p.anchor)
        else:
            draw.line((p.x0, p.y0, p.x1, p.y1), fill=p.colour, width=p.width)
    return image


def render_svg(scene: Scene) -> str:
    """The scene as a standalone SVG document (text).

    >>> render_svg(Scene([[Grid.blank("x", (2,), "#ffffff")]])).startswith("<svg")
    True
    """
    (width, height), prims = layout(scene)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT_FAMILY}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="{COLOURS["background"]}"/>',
    ]
    for p in prims:
        if isinstance(p, Rect):
            out.append(
                f'<rect x="{p.x0}" y="{p.y0}" width="{p.x1 - p.x0}" height="{p.y1 - p.y0}" '
                f'fill="{p.fill or "none"}" stroke="{p.outline}" stroke-width="{p.width}"/>'
            )
        elif isinstance(p, Text):
            where = ('text-anchor="middle" dominant-baseline="central"' if p.anchor == "mm"
                     else 'dominant-baseline="hanging"')
            out.append(f'<text x="{p.x}" y="{p.y}" font-size="{p.size}" fill="{p.colour}" '
                       f"{where}>{escape(p.text)}</text>")
        else:
            out.append(f'<line x1="{p.x0}" y1="{p.y0}" x2="{p.x1}" y2="{p.y1}" '
                       f'stroke="{p.colour}" stroke-width="{p.width}"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
