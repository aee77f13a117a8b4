"""The playground's numbers (``sketch`` -> ``animation_numbers``, what ``/api/conv`` serves)
are those of the layer of the same name: ``convzoo.create(kind, ...)`` with the same settings
has the same params (``sum(p.numel())``), the same MACs (torch's ``FlopCounterMode``, half
its FLOPs) and the same output shape. Kinds whose playground draws something else say so in
:data:`DIFFERENT`, with the reason (and the test checks that they really are not layers of
that name, or really differ)."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import convzoo
from convzoo.layers.registry import REGISTRY
from convzoo.serve.api import conv_api
from convzoo.serve.numbers import animation_numbers
from convzoo.viz.animate import KINDS, sketch
from convzoo.viz.animate.options import DEFAULTS

#: Kinds the playground draws differently from ``convzoo.create`` of that word, and why.
DIFFERENT = {
    "conv3d": "no layer of that name: it is create('conv', ndim=3), compared in SAME_AS",
    "shuffle": "takes no input size in the playground (a permutation of channels only): "
               "its numbers are 0 params, 0 MACs and no output shape",
    "shuffle_unit": "draws the unit's branch (1x1 group conv, shuffle, depthwise, 1x1 group "
                    "conv at C_out channels); the layer adds the bottleneck (C_out/4), "
                    "BatchNorms and the residual",
    "wavenet": "a stack of causal dilated convs (WaveNet), not a layer of the zoo",
}
#: Kinds that are another layer with some settings fixed.
SAME_AS = {"conv3d": ("conv", {"ndim": 3})}

#: Settings beyond the defaults (several regimes: channels, strides, 1-D and 3-D, odd sizes).
OTHER = {
    "conv": dict(input_size=(7, 6), stride=2, padding=1, in_channels=2, out_channels=3),
    "conv3d": dict(input_size=(3, 4, 5), kernel_size=(2, 3, 2), stride=(1, 2, 1)),
    "pointwise": dict(in_channels=5, out_channels=3, input_size=(6,)),
    "depthwise": dict(in_channels=3, out_channels=6, stride=2),
    "separable": dict(in_channels=3, out_channels=5, input_size=(6, 5), stride=2),
    "group": dict(groups=4, in_channels=4, out_channels=8, padding=0, input_size=(5, 6)),
    "shuffle_group": dict(groups=3, in_channels=6, out_channels=9, input_size=(4, 3)),
    "dilated": dict(dilation=3, input_size=(9, 9), in_channels=2, out_channels=3),
    "aspp": dict(rates=(1, 2, 4), input_size=(5, 6), in_channels=3, out_channels=2),
    "transposed": dict(stride=3, padding=1, output_padding=2, input_size=(2, 3)),
    "subpixel": dict(upscale_factor=3, input_size=(2, 3), in_channels=2, out_channels=2),
    "pixel_shuffle": dict(in_channels=8, upscale_factor=2, input_size=(3,)),
    "pixel_unshuffle": dict(downscale_factor=3, input_size=(3, 6), in_channels=2),
    "resize_conv": dict(upscale_factor=3, kernel_size=2, in_channels=2, out_channels=3),
    "flattened": dict(in_channels=3, out_channels=4, kernel_size=3, padding=1,
                      input_size=(80, 80)),
    "spatially_separable": dict(in_channels=3, out_channels=4, kernel_size=3, padding=1,
                                input_size=(80, 80)),
    "r2plus1d": dict(in_channels=2, out_channels=2, kernel_size=3, input_size=(8, 40, 40)),
}

CASES = [(k, {}) for k in KINDS if k not in DIFFERENT or k in SAME_AS]
CASES += [(k, o) for k, o in OTHER.items()]


def _layer_numbers(kind: str, opts: dict) -> tuple[int, int, list[int]]:
    name, fixed = SAME_AS.get(kind, (kind, {}))
    cls = REGISTRY[name].cls
    takes = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in opts.items() if k in takes and v is not None}
    if kind == "depthwise" and opts.get("out_channels"):  # the layer's depth multiplier
        kwargs["depth_multiplier"] = opts["out_channels"] // opts["in_channels"]
    if "ndim" in takes and "input_size" in opts:
        kwargs["ndim"] = len(opts["input_size"])
    layer = convzoo.create(name, **{**kwargs, **fixed}).eval()
    x = torch.randn(1, opts.get("in_channels") or 1, *opts["input_size"])
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = layer(x)
    return sum(p.numel() for p in layer.parameters()), counter.get_total_flops() // 2, \
        list(y.shape)


@pytest.mark.parametrize(("kind", "over"), CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_playground_counts_the_layer_of_that_name(kind, over):
    opts = {**DEFAULTS[kind], **over}
    totals = animation_numbers(sketch(kind, **over))["totals"]
    params, macs, shape = _layer_numbers(kind, opts)
    assert (totals["params"], totals["macs"], totals["output"]) == (params, macs, shape)


def test_every_kind_is_compared_or_says_why_not():
    assert set(KINDS) == {k for k, _ in CASES} | set(DIFFERENT)


def test_shuffle_unit_really_differs_from_the_layer():
    """Pinned so the label in DIFFERENT is dropped once the playground draws the layer."""
    totals = animation_numbers(sketch("shuffle_unit", in_channels=8, out_channels=8))["totals"]
    layer = convzoo.create("shuffle_unit", in_channels=8, out_channels=8, groups=2)
    assert totals["params"] != sum(p.numel() for p in layer.parameters())


def test_the_attack_reproducers_through_api_conv():
    """S15-S18 as the attack ran them, through /api/conv's handler."""
    def api(**q: str) -> dict:
        return conv_api(q)["numbers"]["totals"]
    t = api(kind="spatially_separable", input="80x80", **{"in": "3"}, out="4", k="3", p="1")
    assert (t["params"], t["macs"]) == (88, 537_600)
    t = api(kind="flattened", input="80x80", **{"in": "3"}, out="4", k="3", p="1")
    assert (t["params"], t["macs"]) == (40, 230_400)
    t = api(kind="aspp", input="64x64", **{"in": "2"}, out="2", rates="2,3")
    assert (t["params"], t["macs"], t["output"]) == (116, 376_836, [1, 2, 64, 64])
    t = api(kind="r2plus1d", input="8x40x40", **{"in": "2"}, out="2", k="3")
    assert (t["params"], t["macs"], t["output"]) == (104, 1_228_800, [1, 2, 8, 40, 40])
