"""Arrays to Pillow images (grey or a colour ramp), and titled panels composed into one figure.

>>> im = array_image(np.array([[0.0, 1.0]]), scale=4)
>>> im.size, im.getpixel((0, 0)), im.getpixel((7, 0))
((8, 4), (0, 0, 0), (255, 255, 255))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convzoo.arithmetic import check_int

__all__ = ["RAMP", "array_image", "colour_bar", "panels", "draw_box"]

#: A perceptually ordered ramp (dark blue -> teal -> yellow), like viridis.
RAMP = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))

_TITLE, _PAD, _LINE = 22, 10, 20


def _ramp(v: np.ndarray) -> np.ndarray:
    stops = np.array(RAMP, dtype=np.float64)
    pos = np.clip(v, 0, 1) * (len(stops) - 1)
    i = np.minimum(pos.astype(int), len(stops) - 2)
    f = (pos - i)[..., None]
    return stops[i] * (1 - f) + stops[i + 1] * f


def array_image(a: np.ndarray, lo: float | None = None, hi: float | None = None,
                scale: int = 1, colour: bool = False):
    """A 2-D array as an RGB image: values in ``[lo, hi]`` (default: its range) mapped to grey
    (or :data:`RAMP` with ``colour=True``), each value ``scale`` x ``scale`` pixels.

    Args:
        a: 2-D array. lo, hi: the value range (default min and max of ``a``).
        scale: integer zoom, nearest neighbour (default 1). colour: use the ramp.
    """
    from PIL import Image

    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"`a` (shape {a.shape}) must be 2-D")
    check_int("scale", scale)
    lo = float(a.min()) if lo is None else lo
    hi = float(a.max()) if hi is None else hi
    v = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    rgb = _ramp(v) if colour else np.repeat(np.clip(v, 0, 1)[..., None] * 255, 3, axis=2)
    image = Image.fromarray(np.round(rgb).astype(np.uint8), "RGB")
    return image.resize((a.shape[1] * scale, a.shape[0] * scale), Image.Resampling.NEAREST)


def draw_box(image, box: tuple[float, float, float, float], colour: str, width: int = 2):
    """Draw the outline of ``box`` ``(x0, y0, x1, y1)`` on ``image`` (in place); returns it."""
    from PIL import ImageDraw

    ImageDraw.Draw(image).rectangle(box, outline=colour, width=width)
    return image


def panels(rows: Sequence[Sequence[tuple[str, object]]], caption: Sequence[str] = ()):
    """Compose rows of ``(title, image)`` panels, and caption lines below, into one image.

    >>> from PIL import Image
    >>> panels([[("a", Image.new("RGB", (10, 10)))]], ["note"]).size[1] > 10
    True
    """
    from PIL import Image, ImageDraw

    from convzoo.viz.fonts import font as get_font

    font = get_font(14)

    def cell(title: str, im) -> int:
        return max(im.size[0], int(font.getlength(title)) + 4)

    widths = [sum(cell(t, im) for t, im in row) + _PAD * (len(row) + 1) for row in rows]
    heights = [max(im.size[1] for _, im in row) + _TITLE + _PAD for row in rows]
    text_w = max((int(font.getlength(t)) + 2 * _PAD for t in caption), default=0)
    width = max(max(widths, default=0), text_w)
    height = sum(heights) + _PAD + _LINE * len(caption) + (_PAD if caption else 0)
    out = Image.new("RGB", (width, height), "#ffffff")
    draw = ImageDraw.Draw(out)
    y = _PAD
    for row, h in zip(rows, heights):
        x = _PAD
        for title, im in row:
            draw.text((x, y), title, fill="#222222", font=font)
            out.paste(im, (x, y + _TITLE))
            x += cell(title, im) + _PAD
        y += h
    for line in caption:
        draw.text((_PAD, y), line, fill="#000000", font=font)
        y += _LINE
    return out


def colour_bar(lo: float, hi: float, height: int = 160, ticks: int = 3):
    """A vertical colour bar of :data:`RAMP` from ``lo`` (bottom) to ``hi`` (top), with
    ``ticks`` labelled values (14 px) on its right.

    >>> colour_bar(0, 4).size[1]
    180
    """
    from PIL import Image, ImageDraw

    from convzoo.viz.fonts import font as get_font

    font = get_font(14)
    values = np.linspace(hi, lo, ticks)
    labels = [f"{v:.3g}" for v in values]
    bar_w, gap = 18, 6
    width = bar_w + gap + int(max(font.getlength(t) for t in labels)) + 4
    out = Image.new("RGB", (width, height + 20), "#ffffff")
    ramp = np.linspace(1, 0, height)[:, None].repeat(bar_w, axis=1)
    out.paste(Image.fromarray(np.round(_ramp(ramp)).astype(np.uint8), "RGB"), (0, 10))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 10, bar_w - 1, 10 + height - 1), outline="#6b6b6b")
    for i, text in enumerate(labels):
        y = 10 + (height - 1) * i / max(ticks - 1, 1)
        draw.line((bar_w, y, bar_w + 3, y), fill="#000000")
        draw.text((bar_w + gap, y), text, fill="#000000", font=font, anchor="lm")
    return out
