"""Every PyTorch example of the seed articles (/work/shared/seeds) rebuilt with convzoo layers:
the shapes and parameter counts the articles print, and the same numbers as the article's
own torch.nn code (weights copied)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from convzoo.arithmetic import effective_kernel
from convzoo.layers import (
    ChannelShuffle,
    Conv2d,
    Conv3d,
    Depthwise,
    DepthwiseSeparable,
    Dilated,
    GroupConv,
    Pointwise,
    ShuffleGroupConv,
    TransposedConv2d,
)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def same_output(ours: nn.Module, theirs: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Copy ``ours``'s weights into the article's module (same keys) and compare outputs."""
    theirs.load_state_dict(ours.state_dict())
    y = ours(x)
    torch.testing.assert_close(y, theirs(x))
    return y


# --------------------------------------------------------------------------- seed 000
def test_seed000_conv3d():
    layer = Conv3d(1, 16, (3, 3, 3), padding=(1, 1, 1))
    y = same_output(layer, nn.Conv3d(1, 16, (3, 3, 3), padding=(1, 1, 1)),
                    torch.randn(2, 1, 4, 32, 32))
    assert y.shape == (2, 16, 4, 32, 32)
    assert count(layer) == 16 * 27 + 16 == layer.spec.params == 448


def test_seed000_transposed_doubles_the_size():
    layer = TransposedConv2d(3, 16, 4, stride=2, padding=1)
    y = same_output(layer, nn.ConvTranspose2d(3, 16, 4, stride=2, padding=1),
                    torch.randn(2, 3, 16, 16))
    assert y.shape == (2, 16, 32, 32)
    assert count(layer) == 3 * 16 * 16 + 16 == 784


def test_seed000_dilated():
    layer = Dilated(3, 16, 3, dilation=2)  # 'same' padding is the article's padding=2
    y = same_output(layer, nn.Conv2d(3, 16, 3, dilation=2, padding=2), torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 16, 32, 32)
    assert count(layer) == 448
    assert effective_kernel(3, 2) == 5  # "a 3x3 at dilation 2 sees 5x5"


def test_seed000_separable():
    layer = DepthwiseSeparable(3, 16, 3, padding=1)
    article = nn.Module()
    article.depthwise = nn.Conv2d(3, 3, 3, groups=3, padding=1)
    article.pointwise = nn.Conv2d(3, 16, 1)
    article.load_state_dict(layer.state_dict())
    x = torch.randn(2, 3, 32, 32)
    y = layer(x)
    torch.testing.assert_close(y, article.pointwise(article.depthwise(x)))
    assert y.shape == (2, 16, 32, 32)
    assert count(layer) == (27 + 3) + (48 + 16) == 94
    standard = Conv2d(3, 16, 3, padding=1)
    assert count(standard) == 448
    # MACs: 1/C_out + 1/k^2 of the standard conv (the article's "about 1/9" is the C_out limit)
    dw, pw = layer.specs()
    macs = dw.macs((2, 3, 32, 32)) + pw.macs((2, 3, 32, 32))
    assert macs / standard.spec.macs((2, 3, 32, 32)) == pytest.approx(1 / 16 + 1 / 9)


def test_seed000_flat_conv_is_a_plain_conv():
    layer = Conv2d(3, 16, 3, padding=1)
    y = same_output(layer, nn.Conv2d(3, 16, 3, padding=1), torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 16, 32, 32)


def test_seed000_group():
    layer = GroupConv(8, 16, 3, groups=2, padding=1)
    y = same_output(layer, nn.Conv2d(8, 16, 3, groups=2, padding=1), torch.randn(2, 8, 32, 32))
    assert y.shape == (2, 16, 32, 32)
    assert count(layer) == 16 * 4 * 9 + 16 == 592


def _article_channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    batch_size, channels, height, width = x.shape
    x = x.view(batch_size, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch_size, channels, height, width)


@pytest.mark.parametrize("groups", [2, 4])
def test_seed000_shuffle_group(groups):
    """The article's ShuffleGroupConvNet (group conv, then its view/transpose/view channel
    shuffle) with its weights copied: convzoo's ChannelShuffle after a GroupConv and the one
    ShuffleGroupConv layer give its output exactly."""
    group = GroupConv(8, 16, 3, groups=groups, padding=1)
    layer = nn.Sequential(group, ChannelShuffle(groups))
    fused = ShuffleGroupConv(8, 16, 3, groups, padding=1)
    fused.conv.load_state_dict(group.state_dict())
    article = nn.Conv2d(8, 16, 3, groups=groups, padding=1)
    article.load_state_dict(group.state_dict())
    x = torch.randn(2, 8, 32, 32)
    expected = _article_channel_shuffle(article(x), groups)
    y = layer(x)
    assert y.shape == (2, 16, 32, 32)
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(fused(x), expected)
    assert not torch.equal(expected, article(x))  # the shuffle moved channels
    assert count(layer) == count(fused) == 16 * (8 // groups) * 9 + 16


# --------------------------------------------------------------------------- seed 001
def test_seed001_standard_conv_12x12():
    x = torch.rand(1, 3, 12, 12)
    one = Conv2d(3, 1, (5, 5))
    assert same_output(one, nn.Conv2d(3, 1, (5, 5)), x).shape == (1, 1, 8, 8)
    many = Conv2d(3, 256, (5, 5))
    assert same_output(many, nn.Conv2d(3, 256, (5, 5)), x).shape == (1, 256, 8, 8)
    assert count(many) == 256 * 75 + 256 == 19456


def test_seed001_group_conv():
    layer = GroupConv(256, 32, (3, 3), groups=8, padding=1)
    y = same_output(layer, nn.Conv2d(256, 32, (3, 3), padding=1, groups=8),
                    torch.rand(1, 256, 12, 12))
    assert y.shape == (1, 32, 12, 12)
    assert count(layer) == 32 * 32 * 9 + 32 == 9248


def test_seed001_pointwise():
    layer = Pointwise(3, 256)
    y = same_output(layer, nn.Conv2d(3, 256, (1, 1)), torch.rand(1, 3, 8, 8))
    assert y.shape == (1, 256, 8, 8)
    assert count(layer) == 3 * 256 + 256 == 1024


def test_seed001_depthwise():
    layer = Depthwise(3, (5, 5))
    y = same_output(layer, nn.Conv2d(3, 3, (5, 5), groups=3), torch.rand(1, 3, 12, 12))
    assert y.shape == (1, 3, 8, 8)
    assert count(layer) == 3 * 25 + 3 == 78


def test_seed001_separable_vs_standard():
    x = torch.rand(1, 3, 12, 12)
    layer = DepthwiseSeparable(3, 256, (5, 5))
    article = nn.Sequential(nn.Conv2d(3, 3, (5, 5), groups=3), nn.Conv2d(3, 256, (1, 1)))
    article[0].load_state_dict(layer.depthwise.state_dict())
    article[1].load_state_dict(layer.pointwise.state_dict())
    y = layer(x)
    torch.testing.assert_close(y, article(x))
    assert y.shape == (1, 256, 8, 8)
    assert count(layer) == (75 + 3) + (768 + 256) == 1102
    # the MACs: 8*8*(3*25 + 3*256) against 8*8*3*256*25 -> 1/256 + 1/25 of the standard conv
    dw, pw = layer.specs()
    standard = Conv2d(3, 256, 5).spec
    ratio = (dw.macs(x.shape) + pw.macs((1, 3, 8, 8))) / standard.macs(x.shape)
    assert ratio == pytest.approx(1 / 256 + 1 / 25)


class ArticleDepthWiseConv(nn.Module):
    """Seed 001's Depth_Wise_Conv, verbatim (its pointwise conv has padding=1)."""

    def __init__(self, in_channel, out_channel):
        super().__init__()
        self.conv_group = nn.Conv2d(in_channel, in_channel, kernel_size=3, stride=1, padding=1,
                                    groups=in_channel)
        self.conv_point = nn.Conv2d(in_channel, out_channel, kernel_size=1, stride=1, padding=1,
                                    groups=1)
        self.bn = nn.BatchNorm2d(out_channel)
        self.act = nn.ReLU()

    def forward(self, inputs):
        return self.act(self.bn(self.conv_point(self.conv_group(inputs))))


def test_seed001_depth_wise_conv_class_faithfully():
    """The article's pointwise conv pads by 1, so 16x16 becomes 18x18 (a ring of
    relu(bn(bias)) around the map); convzoo reproduces it, and the intended block keeps 16x16."""
    ours = nn.Module()
    ours.conv_group = Depthwise(3, 3, stride=1, padding=1)
    ours.conv_point = Conv2d(3, 16, kernel_size=1, stride=1, padding=1)
    ours.bn = nn.BatchNorm2d(16)
    ours.act = nn.ReLU()
    article = ArticleDepthWiseConv(3, 16)
    article.load_state_dict(ours.state_dict())
    x = torch.rand(1, 3, 16, 16)
    y = ours.act(ours.bn(ours.conv_point(ours.conv_group(x))))
    torch.testing.assert_close(y, article(x))
    assert y.shape == (1, 16, 18, 18)
    assert count(ours) == count(article) == (27 + 3) + (48 + 16) + 32
    intended = DepthwiseSeparable(3, 16, 3, padding=1, norm=nn.BatchNorm2d, activation=nn.ReLU)
    assert intended(x).shape == (1, 16, 16, 16)
    assert count(intended) == count(article)


# --------------------------------------------------------------------------- seed 002
def test_seed002_standard_vs_separable_parameters():
    x = torch.randn(2, 3, 32, 32)
    standard = Conv2d(3, 4, 3, padding=1, bias=False)
    assert same_output(standard, nn.Conv2d(3, 4, 3, padding=1, bias=False), x).shape == (
        2, 4, 32, 32)
    assert count(standard) == 4 * 3 * 3 * 3 == 108
    separable = DepthwiseSeparable(3, 4, 3, padding=1, bias=False)
    article_dw = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)
    article_pw = nn.Conv2d(3, 4, 1, bias=False)
    article_dw.load_state_dict(separable.depthwise.state_dict())
    article_pw.load_state_dict(separable.pointwise.state_dict())
    assert separable.depthwise(x).shape == (2, 3, 32, 32)
    y = separable(x)
    torch.testing.assert_close(y, article_pw(article_dw(x)))
    assert y.shape == standard(x).shape == (2, 4, 32, 32)
    assert count(separable.depthwise) == 27 and count(separable.pointwise) == 12
    assert count(separable) == 39 == sum(s.params for s in separable.specs())


# --------------------------------------------------------------------------- seed 003
def test_seed003_fractional_stride_zero_insertion_sizes():
    """2x2 with stride 2 -> 3x3 after zero insertion; 4x4 -> 7x7, then a conv gives 8x8."""
    for size, inserted in ((2, 3), (4, 7)):
        assert (size - 1) * 2 + 1 == inserted
    up = TransposedConv2d(1, 1, 4, stride=2, padding=1)
    assert up(torch.randn(1, 1, 4, 4)).shape == (1, 1, 8, 8)
    # the article's 2x2 example, stride 1, 3x3 kernel, no padding -> 4x4
    assert TransposedConv2d(1, 1, 3)(torch.randn(1, 1, 2, 2)).shape == (1, 1, 4, 4)


def test_seed003_dilated_formula():
    layer = Conv2d(3, 64, 3, dilation=2, padding=2)
    for h in (7, 16, 33):
        h_out = (h + 2 * 2 - 2 * (3 - 1) - 1) // 1 + 1
        assert layer(torch.randn(1, 3, h, h)).shape == (1, 64, h_out, h_out) == (1, 64, h, h)
    assert count(layer) == 64 * 27 + 64
    assert layer.spec.receptive_field()[0].size == 3 + (3 - 1) * (2 - 1) == 5


# --------------------------------------------------------------------------- seed 004
def test_seed004_conv():
    layer = Conv2d(3, 16, 3, stride=1, padding=1)
    y = same_output(layer, nn.Conv2d(3, 16, 3, stride=1, padding=1), torch.randn(1, 3, 32, 32))
    assert y.shape == (1, 16, 32, 32)


def test_seed004_transposed_is_31_not_32():
    """The article says (1, 3, 32, 32); PyTorch (and convzoo) give 31x31:
    (16-1)*2 - 2*1 + (3-1) + 1 = 31. output_padding=1, output_size or padding='same' give 32."""
    x = torch.randn(1, 16, 16, 16)
    layer = TransposedConv2d(16, 3, 3, stride=2, padding=1)
    y = same_output(layer, nn.ConvTranspose2d(16, 3, 3, stride=2, padding=1), x)
    assert y.shape == (1, 3, 31, 31)
    fixed = TransposedConv2d(16, 3, 3, stride=2, padding=1, output_padding=1)
    assert same_output(
        fixed, nn.ConvTranspose2d(16, 3, 3, stride=2, padding=1, output_padding=1), x
    ).shape == (1, 3, 32, 32)
    sized = TransposedConv2d(16, 3, 3, stride=2, padding=1, output_size=(32, 32))
    sized.load_state_dict(fixed.state_dict())
    torch.testing.assert_close(sized(x), fixed(x))
    layer.load_state_dict(fixed.state_dict())
    torch.testing.assert_close(layer(x, output_size=(32, 32)), fixed(x))
    same = TransposedConv2d(16, 3, 3, stride=2, padding="same")
    assert same(x).shape == (1, 3, 32, 32)


class ArticleUNetBlock(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.ReLU(),
        )
        self.up = nn.ConvTranspose2d(out_channels, out_channels // 2, 2, stride=2)

    def forward(self, x, skip):
        return torch.cat([self.up(self.conv(x)), skip], dim=1)


class UNetBlock(nn.Module):
    """The article's block from convzoo layers (same parameter names)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Sequential(
            Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(),
            Conv2d(out_channels, out_channels, 3, padding=1), nn.ReLU(),
        )
        self.up = TransposedConv2d(out_channels, out_channels // 2, 2, stride=2)

    def forward(self, x, skip):
        x = self.conv(x)  # (N, C_in, H, W) -> (N, C_out, H, W)
        x = self.up(x)  # -> (N, C_out/2, 2H, 2W)
        return torch.cat([x, skip], dim=1)  # -> (N, C_out/2 + C_skip, 2H, 2W)


def test_seed004_unet_block():
    ours, article = UNetBlock(64, 128), ArticleUNetBlock(64, 128)
    article.load_state_dict(ours.state_dict())
    x, skip = torch.randn(1, 64, 16, 16), torch.randn(1, 64, 32, 32)
    y = ours(x, skip)
    torch.testing.assert_close(y, article(x, skip))
    assert y.shape == (1, 128, 32, 32)
    assert ours.conv(x).shape == (1, 128, 16, 16)
    assert count(ours) == count(article) == (64 * 128 * 9 + 128) + (128 * 128 * 9 + 128) + (
        128 * 64 * 4 + 64)
