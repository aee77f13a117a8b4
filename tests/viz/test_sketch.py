"""Numbers without frames: ``sketch`` gives the stages of an animation (their ConvSpecs and
shapes) for an input of any size, the same numbers the drawn frames give where both exist;
and the hover links the player gets (which input cell meets which weight for each output)."""

from __future__ import annotations

import time

import pytest

from convzoo.serve.numbers import animation_numbers
from convzoo.spec import ConvSpec
from convzoo.viz.animate import KINDS, TooLargeToDraw, animate, player_data, sketch
from convzoo.viz.draw import layout_with_cells

#: Settings beyond the defaults, per kind (several regimes: strides, 'same', groups, 1-D/3-D).
OTHER = [
    ("conv", dict(input_size=(7, 6), stride=2, padding=1, in_channels=2, out_channels=3)),
    ("conv", dict(input_size=(9,), kernel_size=4, padding="same", dilation=2)),
    ("conv3d", dict(input_size=(3, 4, 5), kernel_size=(2, 3, 2), stride=(1, 2, 1))),
    ("depthwise", dict(in_channels=3, out_channels=6, stride=2)),
    ("group", dict(groups=4, in_channels=4, out_channels=8, padding=0)),
    ("dilated", dict(dilation=3, input_size=(9, 9))),
    ("transposed", dict(stride=3, padding=1, output_padding=2, input_size=(2, 3))),
    ("transposed", dict(mode="scatter", groups=2, in_channels=2, out_channels=4)),
    ("subpixel", dict(upscale_factor=3, input_size=(2,))),
    ("pixel_unshuffle", dict(downscale_factor=3, input_size=(3, 6), in_channels=2)),
    ("resize_conv", dict(upscale_factor=3, kernel_size=2)),
    ("aspp", dict(rates=(1, 2, 4), input_size=(5, 5))),
    ("wavenet", dict(kernel_size=3, input_size=(10,))),
    ("shuffle_unit", dict(groups=2, in_channels=4, out_channels=6, kernel_size=5)),
]


@pytest.mark.parametrize("kind, options", [(k, {}) for k in KINDS] + OTHER,
                         ids=[*KINDS, *(f"{k}-{i}" for i, (k, _) in enumerate(OTHER))])
def test_sketch_numbers_are_the_drawn_frames_numbers(kind, options):
    drawn = animation_numbers(animate(kind, **options))
    stages = sketch(kind, **options)
    assert animation_numbers(stages) == drawn
    assert all(s.rows == [] for s in stages)  # nothing drawn


def test_an_input_too_large_to_draw_still_has_its_numbers():
    with pytest.raises(TooLargeToDraw, match=r"^the input to animate \(3x100x100\) has 30000 "
                       r"cells, more than the limit of 2048"):
        animate("conv", input_size=(100, 100), in_channels=3)
    assert issubclass(TooLargeToDraw, ValueError)
    start = time.perf_counter()
    stages = sketch("conv", input_size=(100, 100), in_channels=3, out_channels=8, stride=2)
    n = animation_numbers(stages)
    spec = ConvSpec(3, 8, 3, stride=2)
    cost = spec.cost((1, 3, 100, 100))
    assert n["totals"]["params"] == spec.params == 3 * 8 * 9 + 8
    assert (n["totals"]["macs"], n["totals"]["bytes"]) == (cost.macs, cost.bytes)
    assert n["totals"]["output"] == [1, 8, 49, 49]
    big = sketch("resize_conv", input_size=(1000, 1000), upscale_factor=4, out_channels=64)
    assert animation_numbers(big)["totals"]["output"] == [1, 64, 4000, 4000]
    assert time.perf_counter() - start < 60  # (no per-cell work: a generous bound)


def test_a_sketch_refuses_what_animate_refuses():
    for kind, options, message in [
        ("group", dict(groups=3, in_channels=4), r"divisible by `groups`"),
        ("conv", dict(input_size=(2, 2), kernel_size=5), r"effective kernel size"),
        ("pixel_unshuffle", dict(input_size=(5, 5)), r"divisible by `downscale_factor`"),
        ("conv", dict(rates=(1, 2)), r"does not apply to kind 'conv'"),
    ]:
        with pytest.raises(ValueError, match=message) as drawn:
            animate(kind, **options)
        with pytest.raises(ValueError) as sketched:
            sketch(kind, **options)
        assert str(sketched.value) == str(drawn.value)


def _box(scene, role, channel, cell):
    _, _, boxes = layout_with_cells(scene)
    for ref, box in boxes.items():
        g = scene.rows[ref.row][ref.col]
        if (g.role, g.channel, ref.index) == (role, channel, tuple(cell)):
            return [round(v, 1) for v in box]
    raise AssertionError((role, channel, cell))


@pytest.mark.parametrize("kind, options", [
    ("conv", dict(input_size=(4, 4), padding=1, in_channels=2)),
    ("group", dict()),
    ("transposed", dict(input_size=(2, 2))),
    ("pixel_shuffle", dict()),
])
def test_hover_links_pair_each_input_cell_with_the_weight_it_meets(kind, options):
    scenes = animate(kind, **options)
    data = player_data(scenes)
    cells = data["cells"]
    assert len(data["links"]) == len(scenes)
    for scene, row, target in zip(scenes, data["links"], data["targets"]):
        out = scene.meta["output"]
        assert cells[row[0]] == [round(v, 1) for v in target[:4]] and row[1] == out[0]
        pairs = list(zip(row[2::2], row[3::2]))
        assert len(pairs) == len(scene.meta["links"])
        for (i, w), (c, pos, tap) in zip(pairs, scene.meta["links"]):
            assert cells[i] == _box(scene, "input", c, pos)
            assert (w == -1) if tap is None else cells[w] == _box(scene, "kernel", c, tap)
        if kind != "pixel_shuffle":  # a conv: every tap of the kernel(s) once per channel
            spec = scene.meta["spec"]
            taps = spec.in_channels // spec.groups
            for k in spec.kernel_size:
                taps *= k
            assert len({w for _, w in pairs}) == len(pairs) == taps
