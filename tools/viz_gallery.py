"""Regenerate the gallery and figures of docs/visualization.md (no timing involved).

Usage: ``.venv/bin/python tools/viz_gallery.py``. ``tools/viz_images.py`` makes the one
measured figure (compare_bars.svg).
"""

from __future__ import annotations

from pathlib import Path

from convzoo.cli.main import main as cli
from convzoo.viz.checkerboard import checkerboard, checkerboard_figure
from convzoo.viz.connectivity import connectivity
from convzoo.viz.fields import (
    effective_field,
    effective_field_figure,
    rf_growth,
    rf_growth_svg,
    rf_network,
)

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"

#: ``convzoo animate`` command lines of the gallery (each also printed in the doc).
ANIMATIONS = (
    "conv --input 5x5 --kernel-size 3 --stride 2 --padding 1 -o conv_stride2_pad1.gif",
    "transposed --mode zero-insertion --input 3x3 --kernel-size 3 --stride 2 --padding 1 "
    "--output-padding 1 -o transposed_zero_insertion.gif",
    "transposed --mode scatter --input 3x3 --kernel-size 3 --stride 2 --padding 1 "
    "--output-padding 1 -o transposed_scatter.gif",
    "group -o group.gif",
    "separable -o separable.gif",
    "shuffle -o shuffle.gif",
    "pixel_shuffle -o pixel_shuffle.gif",
    "wavenet -o wavenet.gif",
    "atrous --input 7x7 -o dilated.gif",
    "conv --input 7 --kernel-size 3 --dilation 2 --padding same -o conv1d_dilated.svg --frame 3",
)


def main() -> int:
    for line in ANIMATIONS:
        args = line.split()
        out = args.index("-o") + 1
        args[out] = str(IMG / args[out])
        if cli(["animate", *args]) != 0:
            return 1
    for kind in ("group", "shuffle_group"):
        (IMG / f"connectivity_{kind}.svg").write_text(connectivity(kind, 8, 2).svg())
    checkerboard_figure(checkerboard()).save(IMG / "checkerboard.png")
    net, shape = rf_network(), (1, 1, 64, 64)
    (IMG / "rf_growth.svg").write_text(rf_growth_svg(
        rf_growth(net, shape), "receptive field across a network (3x3 convs, a stride-2 conv, "
        "dilations 2 and 4)"))
    effective_field_figure(effective_field(net, shape, threshold=0.1)).save(
        IMG / "effective_field.png")
    for p in sorted(IMG.iterdir()):
        print(f"{p.name}: {p.stat().st_size / 1000:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
