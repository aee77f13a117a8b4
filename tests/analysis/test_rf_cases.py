"""The receptive-field cases of issue 12, each against the gradient support per output index:
upsampling heads (bilinear x8/x2, align_corners, bicubic, nearest x4, PixelShuffle), an
FCN-ResNet-style dilated head, a Wav2Vec2 conv feature encoder on raw audio (transformers'
own class), and the ops that mix the whole input."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from tests.analysis.oracle import positive_
from tests.analysis.test_rf_spans import gradient_spans

from convzoo.analysis import receptive_field, summary


class Head(nn.Module):
    """A 3x3 conv then one upsampling op (the shape of a segmentation head's last step)."""

    def __init__(self, up, channels: int = 1, in_channels: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.up = up

    def forward(self, x):
        return self.up(self.conv(x))


def _positive(net: nn.Module) -> nn.Module:
    return positive_(net, torch.Generator().manual_seed(0))


def _matches(net: nn.Module, shape: tuple[int, ...], pairs=((2, 2), (3, 3))) -> tuple[int, int]:
    """(output indices whose span equals the gradient support, output indices), all axes."""
    rf = receptive_field(net, shape, dtype=torch.float64)
    assert rf.exact, rf.notes
    oracle = gradient_spans(_positive(net), shape, pairs)
    good = total = 0
    for axis, ((_, out_dim), spans) in enumerate(zip(pairs, oracle, strict=True)):
        ours = [rf.fields[axis].span(u) for u in range(rf.shape[out_dim])]
        assert len(ours) == len(spans)
        good += sum(a == b for a, b in zip(ours, spans, strict=True))
        total += len(spans)
    return good, total


UPSAMPLING = {
    "bilinear x8": lambda: nn.Upsample(scale_factor=8, mode="bilinear"),
    "bilinear x2": lambda: nn.Upsample(scale_factor=2, mode="bilinear"),
    "bilinear x8 align_corners": lambda: nn.Upsample(scale_factor=8, mode="bilinear",
                                                     align_corners=True),
    "bicubic x2": lambda: nn.Upsample(scale_factor=2, mode="bicubic"),
    "nearest x4": lambda: nn.Upsample(scale_factor=4),
    "nearest-exact x2.5": lambda: nn.Upsample(scale_factor=2.5, mode="nearest-exact"),
    "bilinear size 23": lambda: nn.Upsample(size=23, mode="bilinear"),
}


@pytest.mark.parametrize("name", list(UPSAMPLING))
def test_upsampling_heads_match_the_gradient_support_at_every_index(name):
    good, total = _matches(Head(UPSAMPLING[name]()), (1, 1, 10, 10))
    assert good == total


def test_pixel_shuffle_matches_at_every_index():
    net = Head(nn.PixelShuffle(2), channels=4)
    assert _matches(net, (1, 1, 10, 10)) == (40, 40)


def test_trilinear_and_linear_follow_each_axis():
    up3 = nn.Sequential(nn.Conv3d(1, 1, 3, padding=1), nn.Upsample(scale_factor=(2, 3, 1.5),
                                                                   mode="trilinear"))
    assert _matches(up3, (1, 1, 3, 4, 5), ((2, 2), (3, 3), (4, 4))) == (6 + 12 + 7,) * 2
    up1 = nn.Sequential(nn.Conv1d(1, 1, 3), nn.Upsample(size=17, mode="linear",
                                                        align_corners=True))
    assert _matches(up1, (1, 1, 9), ((2, 2),)) == (17, 17)


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1, 3x3 with stride or dilation, 1x1) with its shortcut."""

    def __init__(self, c: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 1), nn.Conv2d(c, c, 3, stride, dilation, dilation), nn.Conv2d(c, c, 1))
        self.short = nn.Conv2d(c, c, 1, stride)

    def forward(self, x):
        return self.body(x) + self.short(x)


class FCN(nn.Module):
    """torchvision's FCN-ResNet layout, shrunk: stem, output stride 8 with dilated stages,
    a 3x3 head and a bilinear upsampling back to the input size."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 2, 7, 2, 3), nn.AvgPool2d(3, 2, 1))
        self.stages = nn.Sequential(Bottleneck(2), Bottleneck(2, stride=2),
                                    Bottleneck(2, dilation=2), Bottleneck(2, dilation=4))
        self.head = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 1, 1))

    def forward(self, x):
        y = self.head(self.stages(self.stem(x)))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


@pytest.mark.parametrize("size", [
    (25, 19), pytest.param((45, 37), marks=pytest.mark.slow)])
def test_fcn_style_head_matches_at_every_output_pixel(size):
    assert _matches(FCN(), (1, 1, *size)) == (sum(size),) * 2


def _wav2vec2(norm: str) -> nn.Module:
    from transformers import Wav2Vec2Config
    from transformers.models.wav2vec2.modeling_wav2vec2 import Wav2Vec2FeatureEncoder

    config = Wav2Vec2Config(conv_dim=(2,) * 7, feat_extract_norm=norm, conv_bias=True,
                            feat_extract_activation="linear")
    return Wav2Vec2FeatureEncoder(config).eval()


def test_wav2vec2_feature_encoder_on_raw_audio():
    # input (N, L): no channel dim, the samples are the axis followed
    net = _wav2vec2("layer")
    rf = receptive_field(net, (1, 16000), dtype=torch.float64)
    assert rf.shape == (1, 2, 49) and rf.is_global == (False,) and rf.exact
    assert rf.sizes == (400,) and rf.strides == (320,)  # wav2vec 2.0: 25 ms frames, 20 ms hop
    assert rf.fields[0].span(0) == (0, 399) and rf.fields[0].span(48) == (15360, 15759)
    assert _matches(net, (1, 3200), ((1, 2),)) == (9, 9)


@pytest.mark.slow
def test_wav2vec2_feature_encoder_every_frame_of_one_second():
    assert _matches(_wav2vec2("layer"), (1, 16000), ((1, 2),)) == (49, 49)


def test_wav2vec2_group_norm_encoder_sees_the_whole_clip():
    # feat_extract_norm='group' normalizes each channel over all time steps
    rf = receptive_field(_wav2vec2("group"), (1, 4000))
    assert rf.is_global == (True,) and rf.fields[0].span(3) == (0, 3999) and rf.exact


class Mixer(nn.Module):
    def __init__(self, op) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.op = op

    def forward(self, x):
        return self.op(self.conv(x))


class GRN(nn.Module):
    """ConvNeXt-V2 global response normalization (channels last)."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return (x * nx + x).permute(0, 3, 1, 2)


GLOBAL = {
    "GroupNorm": (lambda: nn.GroupNorm(1, 2), (True, True)),
    "InstanceNorm": (lambda: nn.InstanceNorm2d(2), (True, True)),
    "LayerNorm (C,H,W)": (lambda: nn.LayerNorm((2, 9, 8)), (True, True)),
    "softmax over W": (lambda: nn.Softmax(-1), (False, True)),
    "softmax over H": (lambda: nn.Softmax(2), (True, False)),
    "softmax over C": (lambda: nn.Softmax(1), (False, False)),
    "global response norm": (GRN, (True, True)),
    "global pooling": (lambda: nn.AdaptiveAvgPool2d(1), (True, True)),
    "BatchNorm (eval)": (lambda: nn.BatchNorm2d(2), (False, False)),
}


@pytest.mark.parametrize("name", list(GLOBAL))
def test_ops_mixing_space_make_the_field_the_whole_input(name):
    make, expected = GLOBAL[name]
    net = Mixer(make()).eval()
    rf = receptive_field(net, (1, 2, 9, 8), dtype=torch.float64)
    assert rf.is_global == expected and rf.exact
    oracle = gradient_spans(_positive(net), (1, 2, 9, 8), ((2, 2), (3, 3)))
    for axis in range(2):
        ours = [rf.fields[axis].span(u) for u in range(rf.shape[2 + axis])]
        assert ours == oracle[axis]
        if expected[axis]:
            assert set(ours) == {(0, 8 - axis)}


def test_attention_over_positions_is_global():
    class Attend(nn.Module):
        def forward(self, x):
            t = x.flatten(2).transpose(1, 2)  # (N, HW, C)
            return F.scaled_dot_product_attention(t, t, t).transpose(1, 2).reshape(x.shape)

    rf = receptive_field(Attend(), (1, 2, 4, 5))
    assert rf.is_global == (True, True) and rf.exact and rf.fields[1].span(4) == (0, 4)


def test_an_unknown_op_is_the_whole_input_and_not_exact():
    net = Mixer(lambda x: torch.cumsum(x, -1))
    rf = receptive_field(net, (1, 2, 9, 8))
    assert rf.is_global == (True, True) and not rf.exact
    assert any("cumsum" in n and "whole input" in n for n in rf.notes)


def test_summary_table_says_whole_input():
    s = summary(Mixer(nn.GroupNorm(1, 2)), (1, 2, 9, 8))
    row = s.rows[-1]
    assert row.rf_global == (True, True)
    text = str(s)
    assert "whole" in text and any("whole input" in c for c in s.conventions)
