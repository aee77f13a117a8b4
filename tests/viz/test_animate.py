"""convzoo.viz.animate and ``convzoo animate``: frames, highlights, writers, errors, CLI."""

from __future__ import annotations

import importlib
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from convzoo import reference as ref
from convzoo.cli.main import main
from convzoo.spec import ConvSpec
from convzoo.viz.animate import KINDS, MAX_FRAMES, animate, save
from convzoo.viz.taps import conv_taps, zero_insertion_taps

# the modules (``convzoo.viz.animate`` the attribute is the function of the same name)
animate_module = importlib.import_module("convzoo.viz.animate")
writers = importlib.import_module("convzoo.viz.animate.writers")


def influence(engine, x):
    """input index -> output indices that change when it is perturbed (the engine's taps)."""
    base = engine(x)
    found = {}
    for index in np.ndindex(*x.shape):
        bumped = x.copy()
        bumped[index] += 1.0
        changed = np.argwhere(np.abs(engine(bumped) - base) > 1e-9)
        found[tuple(int(i) for i in index)] = {tuple(int(v) for v in o) for o in changed}
    return found


def feeding(found, output):
    return {i for i, outs in found.items() if output in outs}


def drawn_inputs(scene, taps):
    """Input cells highlighted in the drawn padded grids, mapped back to input positions."""
    real, pads = set(), set()
    for grid in scene.grids("input"):
        for pos in grid.highlighted():
            src = taps.source(pos)
            (real.add((grid.channel, *src)) if src is not None
             else pads.add((grid.channel, *pos)))
    return real, pads


CONV_CASES = [
    dict(input_size=(5, 5), kernel_size=3, stride=2, padding=1),
    dict(input_size=(6, 5), kernel_size=(3, 2), stride=(2, 1), padding="same", dilation=(1, 2)),
    dict(input_size=(9,), kernel_size=3, stride=2, padding="full", dilation=2, groups=2,
         in_channels=2, out_channels=4),
    dict(input_size=(4, 4), kernel_size=2, padding=((0, 1), (1, 0)), groups=2, in_channels=4,
         out_channels=2),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_frames_highlight_exactly_the_engines_cells(case):
    scenes = animate("conv", **case)
    o = {**animate_module.DEFAULTS["conv"], **case}
    spec = ConvSpec(o["in_channels"], o["out_channels"], o["kernel_size"], o["stride"],
                    o["padding"], o["dilation"], o["groups"], ndim=len(o["input_size"]))
    taps = conv_taps(spec, o["input_size"])
    x = np.ones((spec.in_channels, *o["input_size"]))
    w = np.random.default_rng(0).uniform(0.5, 1.5, spec.weight_shape)
    found = influence(lambda v: ref.conv(v, w, None, spec.stride, spec.padding, spec.dilation,
                                         spec.groups), x)
    assert len(scenes) == min(MAX_FRAMES, spec.out_channels * np.prod(taps.output_size))
    for scene in scenes:
        real, pads = drawn_inputs(scene, taps)
        assert real == feeding(found, scene.meta["output"]) == scene.meta["inputs"]
        assert pads == scene.meta["padding"] == taps.padding_cells(scene.meta["output"])
        assert scene.meta["sum"] == scene.meta["value"]  # the caption's sum is the engine's
        assert any(line.startswith(("H: out = floor(", "L: out = floor("))
                   for line in scene.caption)


@pytest.mark.parametrize("mode", ["zero-insertion", "scatter"])
@pytest.mark.parametrize("case", [
    dict(input_size=(3, 3), kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(input_size=(4,), kernel_size=2, stride=3, padding=((0, 2),), dilation=2, output_padding=2,
         in_channels=2, out_channels=4, groups=2),
])
def test_transposed_frames_highlight_exactly_the_engines_cells(mode, case):
    scenes = animate("transposed", mode=mode, **case)
    o = {**animate_module.DEFAULTS["transposed"], **case}
    spec = ConvSpec(o["in_channels"], o["out_channels"], o["kernel_size"], o["stride"],
                    o["padding"],
                    o["dilation"], o["groups"], transposed=True,
                    output_padding=o["output_padding"], ndim=len(o["input_size"]))
    x = np.ones((spec.in_channels, *o["input_size"]))
    w = np.random.default_rng(0).uniform(0.5, 1.5, spec.weight_shape)
    args = (None, spec.stride, spec.padding, spec.output_padding, spec.groups, spec.dilation)
    found = influence(lambda v: ref.conv_transpose(v, w, *args), x)
    assert found == influence(lambda v: ref.conv_transpose_scatter(v, w, *args), x)
    if mode == "scatter":
        assert len(scenes) == x.size
        for scene in scenes:
            drawn = set()
            for grid in scene.grids("output"):
                for f in grid.highlighted():
                    kept = tuple(v - lo for v, (lo, _) in zip(f, spec.padding))
                    if all(0 <= v < n for v, n in zip(kept, grid.shape)) and \
                            (grid.channel, *f) not in scene.meta["cropped"]:
                        drawn.add((grid.channel, *kept))
            assert drawn == scene.meta["targets"] == found[scene.meta["input"]]
        last = scenes[-1].meta
        keep = tuple(slice(lo, f - hi) for (lo, hi), f in zip(last["crop"], last["full"].shape[1:]))
        y = ref.conv_transpose_scatter(np.ones_like(x), np.ones(spec.weight_shape), *args)
        assert last["last"] and last["full"][(slice(None), *keep)].shape == y.shape
        return
    taps = zero_insertion_taps(spec, o["input_size"])
    for scene in scenes:
        sources = {(g.channel, *p) for g in scene.grids("source") for p in g.highlighted()}
        windows = {(g.channel, *p) for g in scene.grids("input") for p in g.highlighted()}
        real = {(c, *taps.source(p)) for c, *p in windows if taps.kind(p) == "input"}
        assert sources == real == scene.meta["inputs"] == feeding(found, scene.meta["output"])
        assert scene.meta["sum"] == pytest.approx(scene.meta["value"])


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_writes_a_gif_and_an_svg(kind, tmp_path):
    scenes = animate(kind, max_frames=5)
    assert 1 < len(scenes) <= 5
    gif = save(scenes, tmp_path / f"{kind}.gif", fps=4)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames > 1
    svg = save(scenes, tmp_path / f"{kind}.svg", frame=len(scenes) - 1)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg") and len(root) > 5


@pytest.mark.parametrize("kind", ["depthwise", "pointwise", "grouped", "separable", "flattened",
                                  "spatially_separable", "conv3d"])
def test_conv_like_kinds_sum_what_the_engine_computes(kind):
    for scene in animate(kind, max_frames=12):
        assert scene.meta["sum"] == scene.meta["value"]
        assert scene.meta["output"][0] < len(scene.grids("output"))


def test_staged_kinds_chain_stages():
    stages = [s.meta["stage"] for s in animate("flattened")]
    assert stages == sorted(stages) and set(stages) == {0, 1, 2}
    assert "stage 2/2: pointwise 1x1" in animate("separable")[-1].caption[0]


def test_big_outputs_are_subsampled_and_say_so():
    scenes = animate("conv", input_size=(12, 12), padding="same")
    assert len(scenes) == MAX_FRAMES
    assert "showing 64 of 144 (subsampled" in scenes[0].caption[-3]
    assert len(animate("conv", input_size=(12, 12), max_frames=10)) == 10


def test_wavenet_receptive_field_grows_as_the_engine_says():
    scenes = animate("wavenet")
    assert [s.meta["rf"] for s in scenes[:4]] == [2, 4, 8, 16]
    x = np.ones((1, 16))

    def stack(v, top):
        for d in (1, 2, 4, 8)[:top]:
            v = ref.conv(v, np.ones((1, 1, 2)), None, 1, ((d, 0),), d)
        return v

    for s in scenes:
        top, t = s.meta["output"]
        found = influence(lambda v, top=top: stack(v, top), x)
        assert {j for (_, j) in feeding(found, (0, t))} == s.meta["inputs"]
        assert len(s.meta["inputs"]) == min(s.meta["rf"], t + 1)


def test_pixel_shuffle_and_shuffle_follow_the_engine():
    x = np.zeros((4, 3, 3))
    for s in animate("pixel_shuffle"):
        (c, *j), = s.meta["inputs"]
        x[...] = 0
        x[(c, *j)] = 1
        assert ref.pixel_shuffle(x[None], 2)[(0, *s.meta["output"])] == 1
    shuffled = [s for s in animate("shuffle") if s.meta["shuffled"]]
    assert [s.meta["sources"] for s in shuffled] == [[0, 2], [4, 1], [3, 5]]


@pytest.mark.parametrize("call, message", [
    (lambda: animate("convolution"), r"^`kind` \(='convolution'\) must be one of: conv, "
                                     r"conv3d, .*r2plus1d \(or an alias such as grouped, "
                                     r"atrous, sub-pixel\)$"),
    (lambda: animate("dilatd"), r"^`kind` \(='dilatd'\) is not a variant name; did you mean "
                                r"'dilated'\? Valid: conv, "),
    (lambda: animate("transposed", mode="gather"),
     r"^`mode` \(='gather'\) must be one of 'zero-insertion', 'scatter'$"),
    (lambda: animate("conv", mode="scatter"),
     r"^`mode` \(='scatter'\) does not apply to kind 'conv', which takes: kernel_size, "
     r"stride"),
    (lambda: animate("pointwise", kernel_size=3), r"^`kernel_size` \(=3\) does not apply to kind"),
    (lambda: animate("conv", input_size=(0, 3)),
     r"^`input_size` \(=\(0, 3\)\) must be 1 to 3 positive ints"),
    (lambda: animate("conv3d", input_size=(4, 4)),
     r"^`input_size` \(=\(4, 4\)\) must have 3 spatial sizes \(D, H, W\) for kind 'conv3d'$"),
    (lambda: animate("wavenet", input_size=(4, 4)),
     r"^`input_size` \(=\(4, 4\)\) must have 1 spatial size for kind 'wavenet'$"),
    (lambda: animate("conv", groups=2), r"^`in_channels` \(=1\) must be divisible by `groups`"),
    (lambda: animate("conv", max_frames=1), r"^`max_frames` \(=1\) must be an int from 2 to 4096$"),
    (lambda: animate("flattened", kernel_size=(3, 3)),
     r"^`kernel_size` \(=\(3, 3\)\) must be a single int for kind 'flattened'$"),
    (lambda: animate("conv", input_size=(60, 60)), r"more than the limit of 2048; use a smaller"),
])
def test_bad_arguments_raise_pinned_messages(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_writer_errors(tmp_path, monkeypatch):
    scenes = animate("conv", input_size=(3, 3), kernel_size=2)
    with pytest.raises(ValueError, match=r"^`path` \(='.*a\.png'\) must end in one of \.gif, "
                                         r"\.svg, \.mp4$"):
        save(scenes, tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"^`fps` \(=0\) must be a positive number$"):
        save(scenes, tmp_path / "a.gif", fps=0)
    with pytest.raises(ValueError, match=r"^`frame` \(=4\) must be in 0\.\.3$"):
        save(scenes, tmp_path / "a.svg", frame=4)
    monkeypatch.setattr(writers.shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match=r"^writing \.mp4 needs `ffmpeg` on PATH"):
        save(scenes, tmp_path / "a.mp4")
    assert not (tmp_path / "a.mp4").exists()


@pytest.mark.skipif(writers.shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_mp4_with_ffmpeg(tmp_path):
    scenes = animate("conv", input_size=(3, 3), kernel_size=2)
    path = save(scenes, tmp_path / "a.mp4")
    assert path.read_bytes()[4:8] == b"ftyp"  # an ISO media file, not an error text
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True)
    assert int(probe.stdout.strip()) == len(scenes)  # every frame of the animation


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_gif_and_svg(capsys, tmp_path):
    gif = tmp_path / "t.gif"
    code, out, err = run(capsys, "animate", "transposed", "--mode", "scatter", "--input", "2x2",
                         "--stride", "2", "--padding", "1", "--output-padding", "1", "-o",
                         str(gif))
    assert (code, err) == (0, "") and out == f"wrote {gif} (transposed: 4 frames)\n"
    with Image.open(gif) as im:
        assert im.n_frames == 4
    svg = tmp_path / "c.svg"
    code, out, _ = run(capsys, "animate", "conv", "--kernel-size", "3", "--stride", "2",
                       "--padding", "same", "--input", "6x6", "--in", "2", "--out", "2",
                       "--groups", "2",
                       "--frame", "2", "-o", str(svg))
    assert code == 0 and "(conv: 1 frame)" in out
    ET.parse(svg)


def test_cli_bad_kind_and_options(capsys, tmp_path, monkeypatch):
    code, out, err = run(capsys, "animate", "nope", "-o", str(tmp_path / "x.gif"))
    assert code == 2 and out == ""
    assert err.startswith("convzoo: error: `kind` (='nope') must be one of: conv, ")
    assert all(k in err for k in KINDS) and err.count("\n") == 1
    code, _, err = run(capsys, "animate", "conv", "--input", "5,a", "-o", str(tmp_path / "x.gif"))
    assert code == 2 and "`--input` (='5,a') must be comma- or x-separated positive ints" in err
    monkeypatch.setattr(writers.shutil, "which", lambda name: None)
    code, _, err = run(capsys, "animate", "wavenet", "-o", str(tmp_path / "x.mp4"))
    assert code == 2 and "needs `ffmpeg` on PATH" in err
    assert not (tmp_path / "x.gif").exists()


# ------------------------------------------------------------------ one vocabulary, every kind
def test_every_available_kind_animates_and_aliases_resolve():
    import convzoo

    assert set(convzoo.available()) <= set(KINDS)
    for alias, kind in [("grouped", "group"), ("atrous", "dilated"), ("sub-pixel", "subpixel"),
                        ("Standard", "conv"), ("depthwise separable", "separable"),
                        ("resize-conv", "resize_conv")]:
        assert animate(alias, max_frames=3).kind == kind
    assert type(convzoo.create("grouped", in_channels=4, out_channels=4, kernel_size=3,
                               groups=2)) is type(convzoo.create("group", in_channels=4,
                                                                 out_channels=4, kernel_size=3,
                                                                 groups=2))


@pytest.mark.parametrize("kind", ["dilated", "aspp", "r2plus1d", "subpixel", "resize_conv",
                                  "shuffle_group", "shuffle_unit"])
def test_new_conv_stages_sum_what_the_engine_computes(kind):
    scenes = [s for s in animate(kind, max_frames=400) if "sum" in s.meta]
    assert scenes
    for scene in scenes:
        assert scene.meta["sum"] == scene.meta["value"]
        assert scene.meta["sum"] == sum(w * v for w, v in scene.meta["terms"])


def test_dilated_frames_are_the_engines_taps():
    scenes = animate("dilated", input_size=(7, 7), max_frames=400)
    spec = ConvSpec(1, 1, 3, padding="same", dilation=2)
    taps = conv_taps(spec, (7, 7))
    w = np.random.default_rng(0).uniform(0.5, 1.5, spec.weight_shape)
    found = influence(lambda v: ref.conv(v, w, None, 1, taps.padding, 2), np.ones((1, 7, 7)))
    assert len(scenes) == 49
    for s in scenes:
        assert s.meta["inputs"] == feeding(found, s.meta["output"])
        assert s.meta["padding"] == taps.padding_cells(s.meta["output"])


@pytest.mark.parametrize("kind, engine", [
    ("pixel_unshuffle", lambda x: ref.pixel_unshuffle(x[None], 2)[0]),
    ("resize_conv", lambda x: x.repeat(2, axis=1).repeat(2, axis=2)),
])
def test_copy_kinds_follow_the_engine(kind, engine):
    shape = (1, 4, 4) if kind == "pixel_unshuffle" else (1, 2, 2)
    for s in animate(kind, max_frames=400):
        if s.meta.get("stage", 0) != 0:
            continue
        (c, *j), = s.meta["inputs"]
        x = np.zeros(shape)
        x[(c, *j)] = 1
        assert engine(x)[s.meta["output"]] == 1


@pytest.mark.parametrize("call, message", [
    (lambda: animate("conv", input_size=(10**6, 10**6)),
     r"^the input to animate \(1x1000000x1000000\) has 1000000000000 cells, more than the "
     r"limit of 2048; use a smaller input$"),
    (lambda: animate("conv", max_frames=10**5), r"^`max_frames` \(=100000\) must be an int "),
    (lambda: animate("conv", kernel_size=10**6),
     r"^`kernel_size` \(=1000000\) must be at most 64 per "),
    (lambda: animate("conv", in_channels=10**6), r"^`in_channels` \(=1000000\) must be an int "
                                                 r"from 1 to 64 to animate$"),
    (lambda: animate("aspp", rates=(0,)), r"^`rates` \(=\(0,\)\) must be one or more positive"),
    (lambda: animate("pixel_unshuffle", input_size=(3, 4)),
     r"^`input_size` \(=\(3, 4\)\) must be divisible by `downscale_factor` \(=2\)"),
])
def test_size_guard_and_new_kind_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sum_text_reads_like_arithmetic():
    from convzoo.viz.animate.text import sum_text

    assert sum_text("y", [(2, 3), (-1, 0), (1, -1)], 5) == "y = 2·3 - 1·0 + 1·(-1) = 5"
    assert sum_text("y", [(1, 1)] * 9, 9).endswith("+ ... (1 more term) = 9")


def test_gif_holds_the_last_frame(tmp_path):
    scenes = animate("conv", input_size=(3, 3), kernel_size=2)
    with Image.open(save(scenes, tmp_path / "h.gif", fps=2)) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
    assert durations == [500, 500, 500, 3000]


def test_cli_speaks_the_vocabulary(capsys, tmp_path):
    for alias, kind in [("atrous", "dilated"), ("grouped", "group"), ("sub-pixel", "subpixel")]:
        out = tmp_path / f"{kind}.svg"
        code, printed, err = run(capsys, "animate", alias, "-o", str(out))
        assert (code, err) == (0, "") and printed == f"wrote {out} ({kind}: 1 frame)\n"
    code, _, err = run(capsys, "animate", "aspp", "--rates", "1,2", "--input", "3x3", "-o",
                       str(tmp_path / "a.gif"))
    assert code == 0 and err == ""


def test_kernel_and_factor_are_deprecated_names_of_animate():
    with pytest.warns(FutureWarning, match=r"`kernel` is deprecated .* use `kernel_size`"):
        old = animate("conv", input_size=(3, 3), kernel=2)
    new = animate("conv", input_size=(3, 3), kernel_size=2)
    assert [s.meta for s in old] == [s.meta for s in new]
    for kind, name in (("pixel_shuffle", "upscale_factor"), ("pixel_unshuffle",
                                                              "downscale_factor")):
        with pytest.warns(FutureWarning, match=f"`factor` is deprecated .* use `{name}`"):
            old = animate(kind, factor=3, input_size=(3, 3) if name == "upscale_factor"
                          else (6, 6), in_channels=9 if name == "upscale_factor" else 1)
        assert old[0].meta["copy"] == (kind, 3)
    with pytest.raises(ValueError, match=r"^`kernel` \(=2\) and `kernel_size` \(=3\) name the "
                                         r"same argument; pass only `kernel_size`$"):
        animate("conv", kernel=2, kernel_size=3)
