"""The one font every picture is drawn and measured with, and colour contrast (WCAG 2).

Pictures are laid out with text widths measured in DejaVu Sans (the font the SVGs and the
HTML player ask for), falling back to Pillow's built-in font where DejaVu is not installed.

>>> round(contrast_ratio("#000000", "#ffffff"), 1)
21.0
>>> text_colour_on("#4e79a7"), text_colour_on("#c62828")
('#000000', '#ffffff')
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["FONT_FAMILY", "MIN_TEXT_PX", "font", "text_width", "luminance", "contrast_ratio",
           "text_colour_on"]

#: The CSS font family of SVGs and the player (DejaVu first: the font widths are measured in).
FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"
#: The smallest text any picture draws, in pixels at 1x.
MIN_TEXT_PX = 14

_DEJAVU = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/Library/Fonts/DejaVuSans.ttf"),
)


@functools.lru_cache(maxsize=16)
def font(size: int):
    """A Pillow font of ``size`` pixels: DejaVu Sans if installed, else Pillow's default."""
    from PIL import ImageFont

    for path in _DEJAVU:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # no FreeType: the fixed bitmap font
        return ImageFont.load_default()


def text_width(text: str, size: int) -> float:
    """Width of ``text`` at ``size`` pixels, in pixels."""
    return float(font(size).getlength(text))


def luminance(colour: str) -> float:
    """Relative luminance of ``#rrggbb`` (WCAG 2)."""
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@functools.lru_cache(maxsize=256)
def text_colour_on(fill: str) -> str:
    """Black or white, whichever reads better on ``fill``."""
    return max(("#000000", "#ffffff"), key=lambda t: contrast_ratio(t, fill))
