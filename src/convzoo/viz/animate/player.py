"""One player for every animation: the same controls (play, pause, step, scrub) in the HTML
report, in notebooks (``_repr_html_``) and in the playground, with every frame.

The frames travel as the drawing primitives of :func:`convzoo.viz.draw.layout` (each distinct
primitive once, and per frame the list of those it paints), and ``static/player.js`` only
paints them: no layout and no convolution rule is written in JavaScript.
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from convzoo.viz.animate.writers import HOLD_MS
from convzoo.viz.draw import Box, CellRef, Scene, layout_with_cells

__all__ = ["player_data", "player_html", "player_script", "Animation"]

_IDS = itertools.count()


def player_script() -> str:
    """The player's JavaScript (package data ``convzoo/viz/static/player.js``)."""
    return resources.files("convzoo.viz").joinpath("static/player.js").read_text("utf-8")


def _round(p: tuple) -> tuple:
    return tuple(round(v, 1) if isinstance(v, float) else v for v in p)


def _links(scene: Scene, boxes: dict[CellRef, Box],
           cell_id: Callable[[Box], int]) -> list[int] | None:
    """``[output cell, output channel, input cell, weight cell, ...]`` of one frame (cell
    numbers of ``cells``; weight -1 for a copy), from the frame's ``meta['links']``."""
    out, links = scene.meta.get("output"), scene.meta.get("links")
    if out is None or links is None:
        return None
    where: dict[tuple, Box] = {}
    for ref, box in boxes.items():
        grid = scene.rows[ref.row][ref.col]
        where[(grid.role, grid.channel, ref.index)] = box
    target = where.get(("output", out[0], tuple(out[1:])))
    if target is None:
        return None
    row = [cell_id(target), int(out[0])]
    for c, pos, tap in links:
        box = where.get(("input", c, tuple(pos)))
        if box is not None:
            weight = None if tap is None else where.get(("kernel", c, tuple(tap)))
            row += [cell_id(box), -1 if weight is None else cell_id(weight)]
    return row


def player_data(scenes: Sequence[Scene], fps: float = 2.0) -> dict[str, Any]:
    """The JSON the player paints: primitives, frames, size, speed, click targets and hover
    links.

    ``targets`` holds, per frame that computes an output element, the box of that output
    cell: clicking it shows the frame (its taps and running sum). ``cells`` are the boxes of
    the input, weight and output cells a frame links, and ``links[i]`` (None for a frame
    without) is ``[output cell, output channel, input cell, weight cell, ...]``: which input
    cell meets which weight to give frame ``i``'s output (from the frame's
    ``meta['links']``, i.e. the engine's taps); pointing at a cell highlights the cells
    linked to it.

    >>> from convzoo.viz.animate import animate
    >>> d = player_data(animate("conv", input_size=(3, 3), kernel_size=2))
    >>> len(d["frames"]), len(d["targets"]), len(d["links"][0])
    (4, 4, 10)
    """
    if not scenes:
        raise ValueError("`scenes` must hold at least one frame")
    index: dict[tuple, int] = {}
    prims: list[tuple] = []
    frames: list[list[int]] = []
    targets: list[list] = []
    cells: dict[tuple, int] = {}
    links: list[list[int] | None] = []

    def cell_id(box: Box) -> int:
        return cells.setdefault(tuple(round(v, 1) for v in box), len(cells))

    width = height = 0
    for i, scene in enumerate(scenes):
        (w, h), drawn, boxes = layout_with_cells(scene)
        width, height = max(width, w), max(height, h)
        ids = []
        for p in drawn:
            key = _round(p)
            found = index.get(key)
            if found is None:
                found = index[key] = len(prims)
                prims.append(key)
            ids.append(found)
        frames.append(ids)
        out = scene.meta.get("output")
        if out is not None:
            for ref, box in boxes.items():
                grid = scene.rows[ref.row][ref.col]
                if grid.role == "output" and (grid.channel, *ref.index) == tuple(out):
                    targets.append([*box, i])
        links.append(_links(scene, boxes, cell_id))
    return {"width": width, "height": height, "prims": prims, "frames": frames,
            "targets": targets, "cells": [list(b) for b in cells], "links": links, "fps": fps,
            "hold_ms": HOLD_MS}


_CONTROLS = (
    '<div class="cz-controls" style="margin:4px 0;font:14px sans-serif">'
    '<button type="button" class="cz-play">Play</button> '
    '<button type="button" class="cz-prev" aria-label="previous frame">&#9664; Step</button> '
    '<button type="button" class="cz-next" aria-label="next frame">Step &#9654;</button> '
    '<input type="range" class="cz-scrub" min="0" max="0" value="0" '
    'aria-label="frame" style="width:40%;vertical-align:middle"> '
    '<span class="cz-count"></span></div>'
)


def player_html(scenes: Sequence[Scene], title: str = "", fps: float = 2.0,
                autoplay: bool = False, script: bool = True) -> str:
    """A self-contained player (HTML with its data and, if ``script``, the player's code).

    Args:
        scenes: the frames (all of them are kept). title: an accessible label.
        fps: frames per second while playing; the last frame is held longer.
        autoplay: start playing when shown. script: include ``player.js`` (a page holding
            several players may include it once and pass False to the others).
    """
    data = player_data(scenes, fps)
    data["autoplay"] = autoplay
    pid = f"cz-player-{next(_IDS)}"
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    code = f"<script>{player_script()}</script>" if script else ""
    return (
        f'<div class="cz-player" id="{pid}" role="figure" aria-label="{html.escape(title)}" '
        f'data-frames="{len(scenes)}">{_CONTROLS}'
        '<div style="overflow-x:auto"><svg class="cz-frame" xmlns="http://www.w3.org/2000/svg" '
        'font-family="DejaVu Sans, Verdana, Arial, sans-serif"></svg></div></div>'
        f"{code}<script>window.convzooPlayer(document.getElementById('{pid}'), {payload});"
        "</script>"
    )


class Animation(list):
    """The frames of :func:`~convzoo.viz.animate.animate` (a list of scenes) that also plays
    itself in a notebook (``_repr_html_``: the player) and saves itself (:meth:`save`)."""

    kind: str = ""

    def _repr_html_(self) -> str:
        return player_html(self, title=f"convzoo animation: {self.kind}")

    def save(self, path: Any, fps: float = 2.0, frame: int = 0):
        """:func:`~convzoo.viz.animate.writers.save` these frames to ``path``."""
        from convzoo.viz.animate.writers import save

        return save(self, path, fps=fps, frame=frame)
