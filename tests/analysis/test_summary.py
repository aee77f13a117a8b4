"""Summary: torch.nn and convzoo.layers give the same table; depth control; kinds; exports."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
import torch
import torch.nn as nn
from rich.console import Console

import convzoo.layers as L
from convzoo.analysis import receptive_field, summary, trace
from convzoo.arithmetic import variant_names
from convzoo.spec import ConvSpec


def _torch_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8),          # depthwise
        nn.Conv2d(8, 16, 1),                               # pointwise
        nn.Conv2d(16, 16, 3, padding=1, groups=4),         # grouped
        nn.Conv2d(16, 16, 3, padding=2, dilation=2),       # dilated
        nn.ConvTranspose2d(16, 4, 4, stride=2, padding=1),  # transposed
    )


def _convzoo_net() -> nn.Sequential:
    return nn.Sequential(
        L.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        L.Depthwise(8, 3, padding=1),
        L.Pointwise(8, 16),
        L.GroupConv(16, 16, 3, groups=4, padding=1),
        L.Dilated(16, 16, 3, dilation=2),
        L.TransposedConv2d(16, 4, 4, stride=2, padding=1),
    )


SHAPE = (2, 3, 16, 16)


def test_torch_nn_and_convzoo_layers_give_the_same_summary():
    a, b = summary(_torch_net(), SHAPE), summary(_convzoo_net(), SHAPE)

    def keys(s):
        return [(r.name, r.kind, r.output_shape, r.params, r.macs, r.bias_adds,
                 r.output_bytes, r.rf) for r in s.rows]
    assert keys(a) == keys(b)
    assert a.totals == b.totals
    assert [r.kind for r in a.rows] == [
        "conv", "norm", "activation", "depthwise", "pointwise", "group", "dilated",
        "transposed"]


def test_rows_match_convspec_and_parameters():
    model = _torch_net()
    s = summary(model, SHAPE)
    x = torch.randn(SHAPE)
    for row, module in zip(s.rows, model, strict=True):
        y = module(x)
        assert row.output_shape == tuple(y.shape)
        assert row.params == sum(p.numel() for p in module.parameters())
        if isinstance(module, nn.modules.conv._ConvNd):
            assert row.macs == ConvSpec.from_module(module).macs(tuple(x.shape))
        x = y
    assert s.totals.params == s.totals.used_params == sum(p.numel() for p in model.parameters())
    assert s.totals.flops == 2 * s.totals.macs == 2 * sum(r.macs for r in s.rows)


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv2(self.bn(self.conv1(x))) + x)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.stage = nn.Sequential(Block(8), Block(8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(self.pool(self.stage(self.stem(x))).flatten(1))


def test_depth_control_aggregates_into_ancestors():
    full, top, mid = (summary(Net(), (1, 3, 8, 8), depth=d) for d in (None, 1, 2))
    assert [r.name for r in top.rows] == ["stem", "stage", "pool", "fc"]
    assert [r.name for r in mid.rows] == ["stem", "stage.0", "stage.1", "pool", "fc"]
    inner = [r for r in full.rows if r.name.startswith("stage.")]
    stage = top.rows[1]
    assert stage.macs == sum(r.macs for r in inner)
    assert stage.params == sum(r.params for r in inner) == 2 * (2 * (8 * 8 * 9 + 8) + 16)
    assert stage.output_shape == (1, 8, 8, 8) and stage.kind == "conv"
    for s in (full, top, mid):
        assert sum(r.macs for r in s.rows) == s.totals.macs
        assert sum(r.params for r in s.rows) == s.totals.params
    # the residual add in Block.forward is a row of its own at full depth
    assert "stage.0:add" in [r.name for r in full.rows]
    assert [(r.name, r.depth) for r in full.rows if r.name.startswith("stage.0")] == [
        ("stage.0.conv1", 3), ("stage.0.bn", 3), ("stage.0.conv2", 3), ("stage.0:add", 3),
        ("stage.0:relu", 3)]


@pytest.mark.parametrize("depth", [0, -1, 1.5, True, "1"])
def test_bad_depth_raises(depth):
    with pytest.raises(ValueError, match=r"`depth` \(=.*\) must be None or a positive int"):
        summary(Net(), (1, 3, 8, 8), depth=depth)


def test_shared_module_params_counted_once():
    conv = nn.Conv2d(4, 4, 3, padding=1)
    model = nn.Sequential(conv, nn.ReLU(), conv)
    s = summary(model, (1, 4, 6, 6))
    assert [r.params for r in s.rows] == [148, 0, 0]
    assert s.totals.params == 148 and s.totals.macs == 2 * 4 * 36 * 4 * 9


def test_totals_memory_and_trainable():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.Conv2d(4, 2, 1))
    model[2].requires_grad_(False)
    s = summary(model, (2, 3, 6, 6))
    assert s.totals.params == 112 + 10 and s.totals.trainable_params == 112
    assert s.totals.param_bytes == 4 * 122
    assert s.totals.input_bytes == 4 * 2 * 3 * 36
    # conv out 2*4*4*4 + conv out 2*2*4*4; the in-place ReLU allocates nothing
    assert s.totals.activation_bytes == 4 * (128 + 64)
    assert s.totals.bias_adds == 128 + 64
    half = summary(model, (2, 3, 6, 6), dtype=torch.float16)
    assert half.totals.activation_bytes == s.totals.activation_bytes // 2


class SubPixel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 16, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x):
        return self.shuffle(self.conv(x))


class Flattened(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.channel = nn.Conv2d(4, 4, 1)
        self.vertical = nn.Conv2d(4, 4, (3, 1), padding=(1, 0), groups=4)
        self.horizontal = nn.Conv2d(4, 4, (1, 3), padding=(0, 1), groups=4)

    def forward(self, x):
        return self.horizontal(self.vertical(self.channel(x)))


class ShuffleGroup(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gconv = nn.Conv2d(4, 4, 1, groups=2)
        self.shuffle = nn.ChannelShuffle(2)

    def forward(self, x):
        return self.shuffle(self.gconv(x))


class ShuffleUnit(ShuffleGroup):
    def __init__(self) -> None:
        super().__init__()
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)

    def forward(self, x):
        return self.dw(super().forward(x))


class Pyramid(nn.Module):
    """Torch-only ASPP: a 1x1 and two atrous 3x3 convs on one input, concatenated, projected."""

    def __init__(self) -> None:
        super().__init__()
        self.branches = nn.ModuleList([nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 3, padding=2,
                                                                     dilation=2),
                                       nn.Conv2d(4, 4, 3, padding=3, dilation=3)])
        self.project = nn.Conv2d(12, 4, 1)

    def forward(self, x):
        return self.project(torch.cat([b(x) for b in self.branches], 1))


class Stack(nn.Module):
    """Atrous convs in sequence (WaveNet-like): dilated, never an ASPP."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=2, dilation=2)
        self.b = nn.Conv2d(4, 4, 3, padding=4, dilation=4)

    def forward(self, x):
        return self.b(self.a(x))


class ResizeConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2)
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(self.up(x))


@pytest.mark.parametrize("module,kind", [
    (L.DepthwiseSeparable(4, 8, 3, padding=1), "separable"),
    (SubPixel(), "subpixel"),
    (Flattened(), "flattened"),
    (nn.Sequential(nn.Conv2d(4, 4, (3, 1)), nn.Conv2d(4, 4, (1, 3))), "spatially_separable"),
    (ShuffleGroup(), "shuffle_group"),
    (ShuffleUnit(), "shuffle_unit"),
    (ResizeConv(), "resize_conv"),
    (nn.Sequential(nn.ConvTranspose2d(4, 4, 2, 2)), "transposed"),
    (Pyramid(), "aspp"),
    (Stack(), "dilated"),
    (nn.PixelShuffle(2), "pixel_shuffle"),
    (nn.PixelUnshuffle(2), "pixel_unshuffle"),
    (nn.ChannelShuffle(2), "shuffle"),
])
def test_block_kinds(module, kind):
    wrapped = nn.Sequential(module)
    assert summary(wrapped, (1, 4, 6, 6), depth=1).rows[0].kind == kind
    assert kind in variant_names()  # every kind is a word of the one vocabulary


def test_3d_kind():
    s = summary(nn.Sequential(nn.Conv3d(2, 2, 3), nn.Conv3d(2, 2, 3, groups=2)), (1, 2, 6, 6, 6))
    assert [r.kind for r in s.rows] == ["conv3d", "depthwise"]
    factored = nn.Sequential(nn.Sequential(nn.Conv3d(2, 4, (1, 3, 3)), nn.Conv3d(4, 4, (3, 1, 1))))
    assert summary(factored, (1, 2, 6, 6, 6), depth=1).rows[0].kind == "r2plus1d"


@pytest.mark.parametrize("kind", sorted(L.REGISTRY))
def test_a_created_layer_is_summarized_under_its_own_kind(kind):
    """``create(kind)`` and ``summary`` speak one vocabulary: the layer's row says its kind.

    Two dims are exempt, where the pattern is another variant's: a 1-D flattened conv is a
    depthwise-separable one (pointwise and one 1-D depthwise conv), a 1-D spatially separable
    conv a single conv; convzoo's 1-D and 3-D pixel shuffle trace as views (no pixel-shuffle
    op to see).
    """
    for module, shape in L.REGISTRY[kind].examples():
        ndim = len(shape) - 2
        if ndim != 2 and kind in ("flattened", "spatially_separable", "pixel_shuffle",
                                  "pixel_unshuffle", "subpixel"):
            continue
        row = summary(nn.Sequential(module), shape, depth=1).rows[0]
        expected = {"conv": module.spec.kind if hasattr(module, "spec") else kind,
                    "group": "depthwise" if getattr(module, "spec", None) is not None
                    and module.spec.groups == module.spec.in_channels else "group"}
        assert row.kind == expected.get(kind, kind), (kind, shape)


def test_summary_and_receptive_field_take_a_traced_graph():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.Conv2d(2, 2, 3, dilation=2))
    graph = trace(net, (1, 1, 17, 17))
    assert summary(graph, depth=1).rows == summary(net, (1, 1, 17, 17), depth=1).rows
    assert receptive_field(graph).fields == receptive_field(net, (1, 1, 17, 17)).fields
    assert receptive_field(graph, layer="0").sizes == (3, 3)
    with pytest.raises(ValueError, match=r"^`input_shape` \(=\(1, 1, 17, 17\)\) must be omitted "
                                         r"when `model` is a traced Graph"):
        summary(graph, (1, 1, 17, 17))
    with pytest.raises(ValueError, match=r"^`input_shape`, `empirical`, `dtype` and `partial` "
                                         r"must be left at their defaults"):
        receptive_field(graph, empirical=True)
    with pytest.raises(ValueError, match=r"^`input_shape` \(=None\) must be given with a model"):
        summary(net)


def test_summarize_and_receptive_field_of_are_deprecated_aliases():
    from convzoo.analysis import receptive_field_of, summarize

    graph = trace(nn.Conv2d(1, 2, 3), (1, 1, 9, 9))
    with pytest.warns(FutureWarning, match=r"^`convzoo.analysis.summarize` is deprecated and "
                                           r"will be removed in convzoo 0.2: use "
                                           r"`convzoo.analysis.summary`$"):
        assert summarize(graph, 1).rows == summary(graph, depth=1).rows
    with pytest.warns(FutureWarning, match=r"use `convzoo.analysis.receptive_field`$"):
        assert receptive_field_of(graph).sizes == receptive_field(graph).sizes


def test_to_json_round_trips():
    s = summary(nn.Sequential(nn.ConvTranspose2d(2, 2, 3, 2, 1), nn.Conv2d(2, 2, 3)),
                (1, 2, 5, 5))
    data = json.loads(s.to_json())
    assert data == json.loads(json.dumps(s.to_dict()))
    assert data["totals"]["macs"] == s.totals.macs and data["partial"] is False
    assert data["rows"][0]["rf"] == {"size": [2, 2], "stride": ["1/2", "1/2"],
                                     "padding": ["1/2", "1/2"], "global": [False, False]}
    assert data["conventions"] and data["rows"][1]["flops"] == 2 * s.rows[1].macs


def test_to_csv_has_one_line_per_row():
    s = summary(Net(), (1, 3, 8, 8))
    lines = list(csv.DictReader(io.StringIO(s.to_csv())))
    assert len(lines) == len(s.rows)
    assert [int(r["macs"]) for r in lines] == [r.macs for r in s.rows]
    assert lines[0]["rf_size"] == "3x3" and lines[0]["output_shape"] == "1x8x8x8"


def test_render_plain_text_and_rich():
    s = summary(Net(), (1, 3, 8, 8))
    text = str(s)
    assert "\x1b[" not in text and "stage.0.conv1" in text and "Convention:" in text
    assert f"{s.totals.macs:,}" in text and "PARTIAL" not in text
    console = Console(record=True, width=200, force_terminal=True)
    s.render(console)
    assert "convzoo summary" in console.export_text()


def test_global_pool_and_flatten_mark_global_fields():
    s = summary(Net(), (1, 3, 8, 8))
    fc = s.rows[-1]
    assert fc.rf_global == (True, True)
    assert all(f.size >= 8 for f in fc.rf)
    assert math.prod(fc.output_shape) == 5
