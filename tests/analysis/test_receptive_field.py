"""Receptive fields on traced graphs: hand-derived chains and branches, upsampling layers,
and the support of real input gradients (ones weights) as an independent oracle."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torch.nn as nn

import convzoo.layers as L
from convzoo.analysis import EMPIRICAL_NOTE, empirical_receptive_field, receptive_field
from convzoo.arithmetic import ReceptiveField
from convzoo.spec import ConvSpec


def _chain() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(),
        nn.Conv2d(2, 2, 3, stride=2, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2, 1, 3, dilation=2, padding=2),
    )


def test_chain_matches_hand_derivation():
    # (k, s, p): (3,1,1) -> r3 S1 P1; (3,2,1) -> r5 S2 P2; pool (2,2,0) -> r7 S4 P2;
    # dilated k=3 d=2 is extent 5, p=2 -> r = 7 + 4*4 = 23, S4, P = 2 + 2*4 = 10
    rf = receptive_field(_chain(), (1, 1, 64, 64))
    assert rf.fields == (ReceptiveField(23, 4, 10),) * 2
    assert rf.centers == (1, 1) and rf.aligned and rf.exact and rf.is_global == (False, False)
    assert rf.shape == (1, 1, 16, 16)


def test_named_layer():
    rf = receptive_field(_chain(), (1, 1, 64, 64), layer="2")
    assert rf.fields[0] == ReceptiveField(5, 2, 2) and rf.layer == "2"
    with pytest.raises(ValueError, match=r"`layer` \(='9'\) must name a module"):
        receptive_field(_chain(), (1, 1, 64, 64), layer="9")


class Basic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(2, 2, 3, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, 3, 1, 1))
        self.short = nn.Conv2d(2, 2, 1, 2)

    def forward(self, x):
        return self.main(x) + self.short(x)


def test_residual_branch_takes_the_largest_field():
    # main: r3 S2 P1 then r = 3 + 2*2 = 7, P = 1 + 1*2 = 3; shortcut 1x1/2: r1 S2 P0
    rf = receptive_field(Basic(), (1, 2, 16, 16))
    assert rf.fields == (ReceptiveField(7, 2, 3),) * 2
    assert rf.aligned  # both centred on input 0 for output 0


class Inception(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b = nn.ModuleList([nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 3, padding=1),
                                nn.Conv2d(1, 1, 5, padding=2)])
        self.pool = nn.MaxPool2d(3, 1, 1)

    def forward(self, x):
        return torch.cat([*(b(x) for b in self.b), self.pool(x)], 1)


def test_concat_branches():
    rf = receptive_field(Inception(), (1, 1, 9, 9))
    assert rf.fields == (ReceptiveField(5, 1, 2),) * 2 and rf.aligned


class Misaligned(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 1, 3)
        self.b = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.a(x) + self.b(x)[..., :-2, :-2]  # centres 1 and 0: misaligned


def test_misaligned_branches_are_reported():
    rf = receptive_field(Misaligned(), (1, 1, 8, 8))
    assert rf.fields[0] == ReceptiveField(3, 1, 0) and not rf.aligned


def test_transposed_conv_has_fractional_stride():
    rf = receptive_field(nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1), (1, 1, 8, 8))
    # zero insertion (1, 1/2, 0) then (3, 1, 3-1-1): r = 1 + 2/2 = 2, S = 1/2, P = 1/2
    assert rf.fields[0] == ReceptiveField(2, Fraction(1, 2), Fraction(1, 2))
    assert rf.fields == ConvSpec(1, 1, 3, 2, 1, transposed=True).receptive_field()


def test_pixel_shuffle_and_upsample():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.PixelShuffle(2))
    assert receptive_field(net, (1, 1, 8, 8)).fields[0] == ReceptiveField(3, Fraction(1, 2), 1)
    up = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Upsample(scale_factor=4))
    assert receptive_field(up, (1, 1, 8, 8)).fields[0] == ReceptiveField(3, Fraction(1, 4), 1)
    unshuffle = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(4, 1, 3, padding=1))
    # (2, 2, 0) then (3, 1, 1): r = 2 + 2*2 = 6, S = 2, P = 2
    assert receptive_field(unshuffle, (1, 1, 8, 8)).fields[0] == ReceptiveField(6, 2, 2)


def test_asymmetric_same_padding_goes_through_the_pad_node():
    layer = L.Conv2d(1, 1, 3, stride=2, padding="same")
    rf = receptive_field(layer, (1, 1, 8, 8))
    assert rf.fields == layer.spec.receptive_field((1, 1, 8, 8))
    assert rf.fields[0] == ReceptiveField(3, 2, 0)


def test_channel_shuffle_and_permute_pass_fields_through():
    class Unit(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1, groups=2)
            self.norm = nn.LayerNorm(4)

        def forward(self, x):
            n, c, h, w = x.shape
            x = self.conv(x).view(n, 2, 2, h, w).transpose(1, 2).reshape(n, c, h, w)
            x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            return nn.functional.conv2d(x, torch.ones(4, 4, 3, 1), padding=(1, 0))

    rf = receptive_field(Unit(), (1, 4, 8, 8))
    assert rf.fields == (ReceptiveField(5, 1, 2), ReceptiveField(3, 1, 1))
    assert rf.is_global == (False, False)


def test_flatten_and_linear_make_the_field_global():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 36, 3))
    rf = receptive_field(net, (1, 1, 8, 8))
    assert rf.is_global == (True, True)
    assert all(f.size >= 8 for f in rf.fields)


class SqueezeExcite(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.gate = nn.Conv2d(2, 2, 1)

    def forward(self, x):
        x = self.conv(x)
        return x * torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True)))


def test_global_context_wins_at_the_merge_and_stays_global():
    net = nn.Sequential(SqueezeExcite(), nn.Conv2d(2, 2, 3, padding=1))
    rf = receptive_field(net, (1, 2, 8, 8))
    # the mean sees the conv's whole 8-wide output: r = 3 + 7*1 = 10, then stride 0
    assert rf.fields == (ReceptiveField(10, 0, 1),) * 2 and rf.is_global == (True, True)
    assert rf.aligned  # only one local branch
    assert rf.fields[0].span(5) == (0, 7)  # every output element sees the whole input
    assert rf.fields[0].algebra_span(5) == (-1, 8)  # the algebra's window reaches the padding


def test_attention_over_tokens_is_global_but_qkv_projection_is_not():
    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(4, 12)

        def forward(self, x):
            n, c, h, w = x.shape
            tokens = x.flatten(2).transpose(1, 2)             # (N, HW, C)
            q, k, v = self.qkv(tokens).chunk(3, -1)
            out = torch.softmax(q @ k.transpose(1, 2), -1) @ v  # (N, HW, C)
            return out.transpose(1, 2).reshape(n, c, h, w)

    net = Attention()
    assert receptive_field(net, (1, 4, 6, 6), layer="qkv").fields == (ReceptiveField(),) * 2
    rf = receptive_field(net, (1, 4, 6, 6))
    assert rf.is_global == (True, True) and rf.fields[0].size == 6


@pytest.mark.parametrize("net", [
    # max pooling routes the gradient to one tap only, so the oracle chain averages instead
    nn.Sequential(*[nn.AvgPool2d(2) if isinstance(m, nn.MaxPool2d) else m for m in _chain()]),
    nn.Sequential(nn.Conv2d(1, 1, 5, stride=2), nn.Conv2d(1, 1, 3, dilation=3)),
    nn.Sequential(nn.Conv2d(1, 1, 3), nn.AvgPool2d(3, 2), nn.Conv2d(1, 1, (3, 5))),
])
def test_theoretical_field_equals_gradient_support_with_ones_weights(net):
    shape = (1, 1, 41, 41)
    rf = receptive_field(net, shape, empirical=True, threshold=0.0, init="ones")
    erf = rf.empirical
    # with ones weights and inputs every path is positive: the gradient is nonzero exactly
    # on the theoretical field (clipped to the image)
    assert erf.spans == erf.theoretical
    assert erf.sizes == tuple(min(int(f.size), 41) for f in rf.fields)
    assert erf.note == EMPIRICAL_NOTE


def test_effective_field_is_smaller_than_the_theoretical_one():
    torch.manual_seed(0)
    net = nn.Sequential(*[m for _ in range(6) for m in (nn.Conv2d(2, 2, 3, padding=1),
                                                        nn.ReLU())])
    rf = receptive_field(net, (1, 2, 31, 31), empirical=True, threshold=0.05)
    assert rf.sizes == (13, 13)
    assert all(s <= 13 for s in rf.empirical.sizes)
    ones = empirical_receptive_field(net, (1, 2, 31, 31), threshold=0.05, init="ones")
    assert all(s < 13 for s in ones.sizes)  # binomial tails fall under 5% of the peak


def test_empirical_argument_errors():
    with pytest.raises(ValueError, match=r"`init` \(='zeros'\) must be one of"):
        empirical_receptive_field(nn.Conv2d(1, 1, 3), (1, 1, 5, 5), init="zeros")
    with pytest.raises(ValueError, match=r"`threshold` \(=1.5\) must be in \[0, 1\)"):
        empirical_receptive_field(nn.Conv2d(1, 1, 3), (1, 1, 5, 5), threshold=1.5)
