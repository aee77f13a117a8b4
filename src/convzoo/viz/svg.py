"""Small helpers to write SVG by hand and to embed images in HTML as ``data:`` URIs.

Figures of :mod:`convzoo.viz` are SVG text (diagrams, bar charts) or Pillow images (heatmaps,
photographs); the report inlines both, so it needs nothing but the file itself.

>>> doc = svg_document(40, 20, [svg_rect(0, 0, 10, 10, "#ff0000"), svg_text(12, 10, "a<b")])
>>> doc.startswith("<svg") and "a&lt;b" in doc
True
>>> data_uri(b"GIF89a", "image/gif")
'data:image/gif;base64,R0lGODlh'
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from xml.sax.saxutils import escape

from convzoo.viz.fonts import FONT_FAMILY

__all__ = [
    "FONT",
    "svg_document",
    "svg_rect",
    "svg_text",
    "svg_line",
    "svg_circle",
    "data_uri",
    "png_bytes",
    "svg_uri",
]

FONT = FONT_FAMILY


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


def svg_document(width: float, height: float, body: Sequence[str], title: str = "") -> str:
    """A standalone SVG document of ``width`` x ``height`` pixels holding ``body`` elements.

    Args:
        width, height: size in pixels.
        body: SVG element strings (from :func:`svg_rect`, :func:`svg_text`...).
        title: an accessible ``<title>`` (default none).
    """
    w, h = _n(width), _n(height)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" font-family="{FONT}">')
    parts = [head]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    parts.append(f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>')
    parts.extend(body)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def svg_rect(x: float, y: float, w: float, h: float, fill: str, stroke: str = "none",
             width: float = 1) -> str:
    """A rectangle with top-left corner ``(x, y)``."""
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{_n(width)}"/>')


def svg_text(x: float, y: float, text: str, size: int = 12, anchor: str = "start",
             colour: str = "#222222", bold: bool = False) -> str:
    """Text whose baseline starts at ``(x, y)``; ``anchor`` is ``start``, ``middle`` or ``end``."""
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{colour}"{weight}>{escape(text)}</text>')


def svg_line(x0: float, y0: float, x1: float, y1: float, colour: str = "#7a7a7a",
             width: float = 1, opacity: float = 1.0) -> str:
    """A straight line."""
    alpha = f' stroke-opacity="{opacity:.2f}"' if opacity < 1 else ""
    return (f'<line x1="{_n(x0)}" y1="{_n(y0)}" x2="{_n(x1)}" y2="{_n(y1)}" stroke="{colour}" '
            f'stroke-width="{_n(width)}"{alpha}/>')


def svg_circle(x: float, y: float, r: float, fill: str, stroke: str = "#444444") -> str:
    """A circle centred on ``(x, y)``."""
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{fill}" stroke="{stroke}"/>'


def data_uri(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,...``: the bytes inlined, for an ``<img src>`` needing no file."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def svg_uri(svg: str) -> str:
    """An SVG document as a ``data:image/svg+xml`` URI."""
    return data_uri(svg.encode("utf-8"), "image/svg+xml")


def png_bytes(image) -> bytes:
    """A Pillow image encoded as PNG.

    >>> from PIL import Image
    >>> png_bytes(Image.new("RGB", (2, 2)))[:4]
    b'\\x89PNG'
    """
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
