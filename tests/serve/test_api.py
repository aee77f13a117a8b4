"""The playground's JSON API: its numbers are the arithmetic's, its taps the engine's, and
every bad request is one line of convzoo's own error, quickly."""

from __future__ import annotations

import numpy as np
import pytest

from convzoo import arithmetic as ar
from convzoo import reference as ref
from convzoo.serve.api import MAX_DRAWN, MAX_FRAMES, conv_api, kinds_api, stack_api
from convzoo.serve.choices import CANDIDATES, choices_api
from convzoo.spec import ConvSpec
from convzoo.viz.animate import KINDS, animate


def test_kinds_cover_the_vocabulary_and_available():
    import convzoo

    info = kinds_api()
    assert info["kinds"] == list(KINDS) and set(convzoo.available()) <= set(info["kinds"])
    assert info["aliases"]["grouped"] == "group" and info["aliases"]["atrous"] == "dilated"
    assert info["defaults"]["transposed"]["op"] == 0 and info["modes"] == ["zero-insertion",
                                                                              "scatter"]


@pytest.mark.parametrize("query, spec, shape", [
    ({"input": "6x5", "in": "2", "out": "4", "k": "3", "s": "2", "p": "1", "g": "2"},
     ConvSpec(2, 4, 3, stride=2, padding=1, groups=2), (1, 2, 6, 5)),
    ({"kind": "transposed", "input": "3x3", "k": "3", "s": "2", "p": "1", "op": "1"},
     ConvSpec(1, 1, 3, stride=2, padding=1, output_padding=1, transposed=True), (1, 1, 3, 3)),
    ({"kind": "atrous", "input": "7", "p": "same"},
     ConvSpec(1, 1, 3, padding="same", dilation=2, ndim=1), (1, 1, 7)),
])
def test_numbers_are_the_arithmetics(query, spec, shape):
    r = conv_api(query)
    stage = r["numbers"]["stages"][0]
    assert stage["output"] == list(spec.output_shape(shape))
    assert [f.split(" = ", 1)[1] for f in stage["formulas"]] == list(spec.output_formulas(shape))
    cost = spec.cost(shape)
    assert (stage["params"], stage["macs"], stage["bytes"]) == (spec.params, cost.macs,
                                                                 cost.bytes)
    fields = spec.receptive_field(shape)
    assert r["numbers"]["totals"]["rf"] == [f"{f.size} (S={f.stride}, P={f.padding})"
                                            for f in fields]
    assert r["frames"] == len(r["player"]["frames"]) == len(r["taps"])


def test_taps_and_running_sums_are_the_engines():
    r = conv_api({"input": "4x4", "k": "3", "s": "1", "p": "1"})
    frames = animate("conv", input_size=(4, 4), padding=1, max_frames=100)
    x = np.random.default_rng(0).integers(0, 5, size=(1, 4, 4)).astype(float)
    w = np.random.default_rng(1).integers(-1, 3, size=(1, 1, 3, 3)).astype(float)
    y = ref.conv(x, w, None, 1, 1)
    assert len(r["taps"]) == 16
    for tap, scene in zip(r["taps"], frames):
        assert tuple(tap["output"]) == scene.meta["output"]
        assert tap["value"] == y[tuple(tap["output"])]
        running = np.cumsum([a * b for a, b, _ in tap["terms"]])
        assert [t[2] for t in tap["terms"]] == pytest.approx(list(running))
        assert tap["terms"][-1][2] == tap["value"]


def test_click_targets_are_the_output_cells():
    r = conv_api({"input": "3x3", "k": "2"})
    assert sorted(t[4] for t in r["player"]["targets"]) == [0, 1, 2, 3]
    boxes = [tuple(t[:4]) for t in r["player"]["targets"]]
    assert len(set(boxes)) == 4  # one cell per frame


def test_stack_fields_follow_the_engine_and_the_chain_algebra():
    s = stack_api({"input": "16", "layers": "3,1,1,1; 3,2,1,1; 3,1,2,2"})
    assert s["sizes"] == [16, 16, 8, 8]
    rf = ar.chain([ar.conv_rf_layer(3, 1, 1, 1), ar.conv_rf_layer(3, 2, 1, 1),
                   ar.conv_rf_layer(3, 1, 2, 2)])
    assert s["levels"][-1]["rf"] == [str(rf.size), str(rf.stride), str(rf.padding)]

    def stack(v):
        for k, st, p, d in ((3, 1, 1, 1), (3, 2, 1, 1), (3, 1, 2, 2)):
            v = ref.conv(v, np.ones((1, 1, k)), None, st, p, d)
        return v

    base = stack(np.zeros((1, 16)))
    for j, field in enumerate(s["fields"]):
        feeding = set()
        for i in range(16):
            x = np.zeros((1, 16))
            x[0, i] = 1
            if stack(x)[0, j] != base[0, j]:
                feeding.add(i)
        assert set(field[0]) == feeding and field[-1] == [j]
        lo, hi = rf.span(j)
        assert feeding <= set(range(int(lo), int(hi) + 1))


@pytest.mark.parametrize("call, message", [
    (lambda: conv_api({"input": "1000000x1000000"}),
     "the output of shape (1, 1, 999998, 999998) would have 999996000004 elements, more than "
     "the limit of "),
    (lambda: conv_api({"frames": "100000"}),
     f"`frames` (='100000') must be an int from 2 to {MAX_FRAMES}"),
    (lambda: choices_api({"kind": "nope"}), "`kind` (='nope') must be one of: conv, "),
    (lambda: choices_api({"kind": "conv", "evil": "1"}), "unknown parameter 'evil'"),
    (lambda: conv_api({"kind": "nope"}), "`kind` (='nope') must be one of: conv, "),
    (lambda: conv_api({"kind": "seperable"}), "`kind` (='seperable') is not a variant name; "
                                              "did you mean 'separable'? Valid: conv, "),
    (lambda: conv_api({"k": "0"}), "`k` (='0') must be comma- or x-separated positive ints"),
    (lambda: conv_api({"p": "wide"}), "`p` (='wide') must be one of 'valid', 'same', 'full', "
                                      "'causal' or comma- or x-separated non-negative ints"),
    (lambda: conv_api({"p": "smae"}), "`p` (='smae') must be one of 'valid', 'same', 'full', "
     "'causal' or comma- or x-separated non-negative ints (did you mean 'same'?)"),
    (lambda: conv_api({"input": "3,4,4"}), "`input` (='3,4,4') must have N=1: an animation "
                                           "draws one sample (a 3-D spatial size is written "
                                           "3x4x4)"),
    (lambda: conv_api({"in": "2", "input": "1,3,4,4"}), "`input` (='1,3,4,4') has C=3 where "
                                                        "`in` is 2"),
    (lambda: conv_api({"kerenl": "3"}), "unknown parameter 'kerenl'; valid: kind, frames, "),
    (lambda: conv_api({"g": "2"}), "`in_channels` (=1) must be divisible by `groups` (=2)"),
    (lambda: conv_api({"evil": "1"}), "unknown parameter 'evil'; valid: kind, frames, input"),
    (lambda: stack_api({"input": "1000000"}), "`input` (=1000000) must be an int from 1 to 256"),
    (lambda: stack_api({"layers": "3,1"}), "`layers[0]` (='3,1') must be 4 ints: k,s,p,d"),
])
def test_bad_requests_are_one_line(call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_only_the_frames_are_limited_the_numbers_always_show():
    r = conv_api({"input": "100x100", "in": "3", "out": "2", "s": "2"})
    spec = ConvSpec(3, 2, 3, stride=2)
    cost = spec.cost((1, 3, 100, 100))
    totals = r["numbers"]["totals"]
    assert (totals["params"], totals["macs"], totals["bytes"]) == (spec.params, cost.macs,
                                                                   cost.bytes)
    assert totals["output"] == [1, 2, 49, 49] and r["frames"] == 0 and r["player"] is None
    assert r["limited"] == ("No frames drawn (the input to animate (3x100x100) has 30000 cells, "
                            "more than the limit of 2048; use a smaller input). The numbers are "
                            "for the whole input.")
    r = conv_api({"input": "40x40", "frames": "256"})  # drawable, but not 256 frames of it
    assert r["frames"] == MAX_DRAWN // 3200 == 31 == len(r["player"]["frames"])
    assert r["limited"].startswith("Frames limited to 31 (of the 256 asked): 3200 cells per "
                                   "frame, and a request draws at most 100000 cells")
    assert r["numbers"] == conv_api({"input": "40x40", "frames": "2"})["numbers"]
    assert conv_api({"kind": "conv"})["limited"] is None
    # a grid that only gets too large inside a kind (the zero-inserted input of a transposed
    # conv): numbers, no frames
    r = conv_api({"kind": "transposed", "input": "20x20", "s": "3"})
    assert r["frames"] == 0 and "the grid to animate" in r["limited"]
    assert r["numbers"]["totals"]["output"] == [1, 1, 60, 60]


@pytest.mark.parametrize("kind", KINDS)
def test_choices_offer_exactly_the_valid_candidates(kind):
    """Each offered value is accepted by /api/conv with the other settings as they are, and
    each candidate left out is refused by it (the request stays the authority)."""
    params = {"kind": kind}
    got = choices_api(params)
    assert got["kind"] == kind and got["valid"]
    for key, offered in got["choices"].items():
        for value in CANDIDATES[key]:
            query = {**params, key: str(value), "frames": "2"}
            try:
                conv_api(query)
                ok = True
            except ValueError:
                ok = False
            assert ok == (str(value) in offered), (kind, key, value)


def test_choices_follow_the_other_settings():
    c = choices_api({"kind": "conv", "input": "5x5", "k": "3"})["choices"]
    assert c["d"] == ["1", "2"] and "6" not in c["k"] and c["k"][-1] == "5"
    assert "causal" not in c["p"]  # 'causal' is for 1-D
    assert choices_api({"kind": "conv", "input": "9"})["choices"]["p"][:4] == [
        "same", "valid", "full", "causal"]
    assert choices_api({"kind": "group", "in": "6", "out": "9"})["choices"]["g"] == ["1", "3"]
    assert choices_api({"kind": "transposed", "s": "3"})["choices"]["op"] == ["0", "1", "2"]
    assert choices_api({"kind": "pixel_shuffle", "factor": "2"})["choices"]["in"] == [
        "4", "8", "12", "16", "24", "32", "48", "64"]
    broken = choices_api({"kind": "conv", "input": "2x2", "k": "5"})
    assert not broken["valid"] and broken["choices"]["k"] == ["1", "2"]


def test_kinds_name_their_articles_by_title():
    from convzoo.tour.articles import ARTICLES

    info = kinds_api()
    assert [a["seed"] for a in info["articles"]["transposed"]] == ["000", "003", "004"]
    assert {a["english"] for a in info["articles"]["separable"]} >= {
        "What is a depthwise separable convolution?"}
    assert [s["cite"] for s in info["sources"]] == [a.cite() for a in ARTICLES]
    assert "seed 000" not in " ".join(info["descriptions"].values())


def test_the_playground_reads_text_as_the_cli_does():
    """One parser (convzoo.text): the same strings mean the same in a URL and on the command
    line, ``3,4,4`` the shape N,C,L and ``3x4x4`` a 3-D spatial size in both."""
    import argparse

    from convzoo.cli.animate import add_parser, options_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())

    def cli(*argv):
        return options_from_args(parser.parse_args(["animate", *argv, "-o", "x.gif"]))

    def url(kind, **query):
        from convzoo.serve.api import _options

        return _options(query, kind)

    assert cli("conv3d", "--input", "3x4x4") == url("conv3d", input="3x4x4") == {
        "input_size": (3, 4, 4)}
    assert cli("conv", "--input", "1,2,5,5") == url("conv", input="1,2,5,5") == {
        "input_size": (5, 5), "in_channels": 2}
    assert (cli("conv", "-k", "3x1", "-s", "2", "-p", "SAME", "-d", "1,2")
            == url("conv", k="3x1", s="2", p="SAME", d="1,2")
            == {"kernel_size": (3, 1), "stride": 2, "padding": "same", "dilation": (1, 2)})
    assert cli("pixel_unshuffle", "--downscale-factor", "3") == url(
        "pixel_unshuffle", factor="3") == {"downscale_factor": 3}
    assert cli("subpixel", "--upscale-factor", "3") == url("subpixel", factor="3") == {
        "upscale_factor": 3}
    for argv, query in (((["conv", "--input", "3,4,4"]), dict(input="3,4,4")),
                        ((["conv", "-p", "smae"]), dict(p="smae")),
                        ((["conv", "-k", "0"]), dict(k="0"))):
        with pytest.raises(ValueError) as flag:
            cli(*argv)
        with pytest.raises(ValueError) as param:
            url(argv[0], **query)
        # the same rule, naming the flag or the parameter as the user wrote it
        name = {"input": "--input", "p": "--padding", "k": "--kernel-size"}[next(iter(query))]
        assert str(flag.value) == str(param.value).replace(f"`{next(iter(query))}`",
                                                           f"`{name}`", 1)
