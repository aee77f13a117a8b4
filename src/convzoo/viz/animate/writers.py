"""The writers: ``.gif`` (every frame, the last one held), ``.svg`` (one frame) and ``.mp4``.

Every writer paints the same primitives (:func:`convzoo.viz.draw.layout`), so a GIF frame,
its SVG and the HTML player show the same picture.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from convzoo import arithmetic as ar
from convzoo.viz.draw import Scene, layout, render_image, render_svg

__all__ = ["FORMATS", "HOLD_MS", "save", "frame_durations"]

FORMATS = (".gif", ".svg", ".mp4")
#: How long the finished output stays on screen before the animation starts again.
HOLD_MS = 2500


def frame_durations(n: int, fps: float) -> list[int]:
    """Milliseconds per frame: ``1000 / fps`` each, the last one held :data:`HOLD_MS` longer.

    >>> frame_durations(3, 2.0)
    [500, 500, 3000]
    """
    step = int(round(1000 / fps))
    return [step] * (n - 1) + [step + HOLD_MS]


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        raise ValueError("writing .mp4 needs `ffmpeg` on PATH, and it was not found; install "
                         "ffmpeg or write a .gif")
    return found


def save(scenes: Sequence[Scene], path: str | Path, fps: float = 2.0, frame: int = 0) -> Path:
    """Write ``scenes`` to ``path``: ``.gif`` (all frames), ``.svg`` (frame number ``frame``)
    or ``.mp4`` (all frames; needs ``ffmpeg`` on PATH).

    >>> import tempfile, os
    >>> from convzoo.viz.animate import animate
    >>> p = save(animate("wavenet"), os.path.join(tempfile.mkdtemp(), "w.svg"), frame=3)
    >>> p.read_text().startswith("<svg")
    True
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"`path` (={str(path)!r}) must end in one of {', '.join(FORMATS)}")
    if not scenes:
        raise ValueError("`scenes` must hold at least one frame")
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not fps > 0:
        raise ValueError(f"`fps` (={fps!r}) must be a positive number")
    if suffix == ".svg":
        if not ar.is_int(frame) or not 0 <= frame < len(scenes):
            raise ValueError(f"`frame` (={frame!r}) must be in 0..{len(scenes) - 1}")
        path.write_text(render_svg(scenes[frame]), encoding="utf-8")
        return path
    ffmpeg = _ffmpeg() if suffix == ".mp4" else None
    sizes = [layout(s)[0] for s in scenes]
    size = (max(w for w, _ in sizes), max(h for _, h in sizes))
    if ffmpeg is not None:
        size = (size[0] + size[0] % 2, size[1] + size[1] % 2)  # yuv420p wants even sizes
    images = [render_image(s, size) for s in scenes]
    if suffix == ".gif":
        from PIL import Image

        # one shared palette (from a few frames), so each frame stores only what changed
        probe = [images[i] for i in sorted({0, len(images) // 2, len(images) - 1})]
        strip = Image.new("RGB", (size[0], size[1] * len(probe)))
        for i, im in enumerate(probe):
            strip.paste(im, (0, i * size[1]))
        palette = strip.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        frames = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
        frames[0].save(path, save_all=True, append_images=frames[1:], loop=0,
                       duration=frame_durations(len(frames), fps), optimize=True, disposal=1)
        return path
    with tempfile.TemporaryDirectory() as tmp:
        for i, im in enumerate(images):
            im.save(Path(tmp) / f"frame_{i:04d}.png")
        cmd = [ffmpeg, "-y", "-loglevel", "error", "-framerate", str(fps), "-i",
               str(Path(tmp) / "frame_%04d.png"), "-pix_fmt", "yuv420p", str(path)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise ValueError(f"ffmpeg failed writing `path` (={str(path)!r}): "
                             f"{done.stderr.strip()[-300:]}")
    return path
