"""The pictures at the conv_arithmetic standard, measured on what is drawn: text at least
14 px, contrast at least 4.5:1 (from the layout and from the rendered pixels), nothing drawn
over text, no text clipped, a legend on every frame, the index convention stated, the kernel
written over the input it multiplies."""

from __future__ import annotations

import numpy as np
import pytest

from convzoo.viz.animate import KINDS, animate
from convzoo.viz.animate.text import INDEX_NOTE
from convzoo.viz.draw import COLOURS, layout, legend_entries, render_image
from convzoo.viz.fonts import MIN_TEXT_PX, contrast_ratio, font

#: Every kind with settings that exercise padding, groups, zeros and links.
CASES = [(k, {}) for k in KINDS] + [
    ("transposed", dict(mode="scatter", padding=1, output_padding=1)),
    ("transposed", dict(padding=1, output_padding=1, in_channels=2, out_channels=2, groups=2)),
    ("conv", dict(in_channels=2, out_channels=2, stride=2, padding=1)),
]


def frames_of(kind, opts):
    scenes = animate(kind, max_frames=400, **opts)
    picked = sorted({0, len(scenes) // 2, len(scenes) - 1})
    return [scenes[i] for i in picked]


def text_box(p):
    _, x, y, text, size, _, anchor = p
    x0, y0, x1, y1 = font(size).getbbox(text, anchor=anchor)
    return x + x0, y + y0, x + x1, y + y1


def overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def inside(box, outer, slack=0.0):
    return (box[0] >= outer[0] - slack and box[1] >= outer[1] - slack
            and box[2] <= outer[2] + slack and box[3] <= outer[3] + slack)


def background(prims, upto, point):
    """Fill of the topmost filled rectangle under ``point`` drawn before ``upto``."""
    colour = COLOURS["background"]
    for p in prims[:upto]:
        if p[0] == "rect" and p[5] is not None and p[1] <= point[0] <= p[3] \
                and p[2] <= point[1] <= p[4]:
            colour = p[5]
    return colour


def hex_colour(rgb) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


def segment_hits_box(seg, box, steps=64):
    x0, y0, x1, y1 = seg
    for t in np.linspace(0, 1, steps):
        x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        if box[0] <= x <= box[2] and box[1] <= y <= box[3]:
            return True
    return False


@pytest.mark.parametrize("kind, opts", CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_layout_meets_the_targets(kind, opts):
    for scene in frames_of(kind, opts):
        (width, height), prims = layout(scene)
        texts = [(i, p) for i, p in enumerate(prims) if p[0] == "text"]
        assert texts and all(p[4] >= MIN_TEXT_PX for _, p in texts)
        first_text = texts[0][0]
        assert all(p[0] == "text" for p in prims[first_text:])  # nothing drawn over a text
        boxes = [text_box(p) for _, p in texts]
        for a in range(len(boxes)):  # no text over another
            for b in range(a + 1, len(boxes)):
                assert not overlaps(boxes[a], boxes[b]), (texts[a][1][3], texts[b][1][3])
        for (i, p), box in zip(texts, boxes):
            assert inside(box, (0, 0, width, height)), p[3]  # not clipped by the canvas
            centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            bg = background(prims, i, centre)
            assert contrast_ratio(p[5], bg) >= 4.5, (p[3], p[5], bg)
            for q in prims[:first_text]:  # a line under a text is hidden by a halo
                if q[0] == "line" and segment_hits_box(q[1:5], box):
                    halo = [h for h in prims[prims.index(q):first_text] if h[0] == "rect"
                            and h[5] == COLOURS["background"] and inside(box, h[1:5], 1)]
                    assert halo, p[3]
        cells = [p for p in prims if p[0] == "rect" and p[5] is not None and p[7] == 1]
        for _, p in texts:  # a cell's text stays inside its cell
            if p[6] == "mm" or p[3].startswith("×"):
                box = text_box(p)
                assert any(inside(box, c[1:5]) for c in cells), p[3]
        assert any(p[3] == "legend:" for _, p in texts)
        labels = {p[3] for _, p in texts}
        assert all(meaning in labels for _, meaning in legend_entries(scene))


@pytest.mark.parametrize("kind", ["conv", "dilated", "transposed", "group", "pixel_shuffle"])
def test_index_convention_is_stated_on_the_picture(kind):
    for scene in frames_of(kind, {}):
        assert any(line.startswith(INDEX_NOTE) for line in scene.caption)


def test_kernel_weights_are_written_over_the_input():
    scene = animate("conv", input_size=(4, 4), padding=1)[5]
    grid = scene.grids("input")[0]
    written = {pos for pos in np.ndindex(*grid.shape) if grid.weight[pos]}
    assert written == grid.highlighted() and len(written) == 9
    w = scene.grids("kernel")[0]
    assert sorted(grid.weight[p] for p in written) == sorted(w.text.flat)


@pytest.mark.parametrize("kind", ["conv", "transposed", "group", "shuffle", "wavenet"])
def test_drawn_pixels_have_the_contrast(kind):
    """Measured on the rendered frame: in each text's box, the ink (the pixel farthest from
    the box's most common colour) against that background."""
    scene = animate(kind, max_frames=400)[3]
    image = np.asarray(render_image(scene)).astype(int)
    (_, _), prims = layout(scene)
    checked, worst = 0, 21.0
    for p in prims:
        if p[0] != "text" or not p[3].strip():
            continue
        x0, y0, x1, y1 = (int(round(v)) for v in text_box(p))
        patch = image[max(y0, 0):y1, max(x0, 0):x1].reshape(-1, 3)
        if len(patch) == 0:
            continue
        colours, counts = np.unique(patch, axis=0, return_counts=True)
        bg = colours[counts.argmax()]
        ink = patch[np.abs(patch - bg).sum(axis=1).argmax()]
        ratio = contrast_ratio(hex_colour(ink), hex_colour(bg))
        worst = min(worst, ratio)
        checked += 1
    assert checked > 10 and worst >= 4.5, worst


def svg_figures():
    from convzoo.analysis import compare
    from convzoo.viz.bars import comparison_bars_svg
    from convzoo.viz.connectivity import CONNECTIVITY_KINDS, connectivity
    from convzoo.viz.fields import rf_growth, rf_growth_svg, rf_network

    out = [(f"connectivity {k}", connectivity(k, 8, 2).svg()) for k in CONNECTIVITY_KINDS]
    out.append(("bars", comparison_bars_svg(compare(8, 8, 3, (8, 8), measure=False))))
    out.append(("rf growth", rf_growth_svg(rf_growth(rf_network(), (1, 1, 32, 32)))))
    return out


@pytest.mark.parametrize("name, svg", svg_figures(), ids=lambda v: v if len(v) < 40 else "")
def test_svg_figures_text_is_large_and_fits(name, svg):
    import xml.etree.ElementTree as ET

    from convzoo.viz.fonts import text_width

    root = ET.fromstring(svg)
    width = float(root.get("width"))
    texts = [e for e in root.iter() if e.tag.endswith("text")]
    assert texts
    for t in texts:
        size = float(t.get("font-size"))
        assert size >= MIN_TEXT_PX, (name, t.text)
        w = text_width(t.text or "", int(size)) * (1.08 if t.get("font-weight") == "bold" else 1)
        x, anchor = float(t.get("x")), t.get("text-anchor", "start")
        left = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
        assert 0 <= left and left + w <= width, (name, t.text)  # measured: not clipped
