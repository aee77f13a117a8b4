"""ChannelShuffle, ShuffleGroupConv and ShuffleUnit against the reference engine and torch.nn."""

import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convzoo import reference as ref
from convzoo.layers import ChannelShuffle, ShuffleGroupConv, ShuffleUnit


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))
def test_channel_shuffle_matches_reference_and_torch(groups, per, ndim):
    x = torch.randn(2, groups * per, *([3] * ndim), dtype=torch.float64)
    ours = ChannelShuffle(groups)(x)
    np.testing.assert_array_equal(ours.numpy(), ref.channel_shuffle(x.numpy(), groups))
    if ndim == 2:
        torch.testing.assert_close(ours, nn.ChannelShuffle(groups)(x))
    perm = ChannelShuffle(groups).permutation(groups * per)
    torch.testing.assert_close(ours, x[:, perm])


def test_seed_000_shuffle_group_conv_is_group_conv_then_permutation():
    torch.manual_seed(0)
    m = ShuffleGroupConv(8, 16, 3, groups=2, padding=1).double()
    x = torch.randn(2, 8, 32, 32, dtype=torch.float64)
    y = F.conv2d(x, m.conv.weight, m.conv.bias, padding=1, groups=2)
    # the article's channel_shuffle: view (N, g, C/g, H, W), transpose(1, 2), view back
    expected = y.view(2, 2, 8, 32, 32).transpose(1, 2).contiguous().view(2, 16, 32, 32)
    torch.testing.assert_close(m(x), expected)
    assert sum(p.numel() for p in m.parameters()) == sum(s.params for s in m.specs()) == 592


@settings(max_examples=20)
@given(st.sampled_from([(12, 12, 3, 1, True), (6, 24, 3, 2, True), (4, 16, 2, 2, False),
                        (16, 16, 4, 1, True)]), st.integers(4, 7))
def test_shuffle_unit_matches_an_explicit_torch_construction(config, size):
    cin, cout, g, stride, first = config
    torch.manual_seed(size)
    m = ShuffleUnit(cin, cout, groups=g, stride=stride, first_group_conv=first).double().eval()
    for bn in (m.bn1, m.bn2, m.bn3):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, cin, size, size + 1, dtype=torch.float64)
    g1 = g if first else 1

    def bn(t, mod):
        return F.batch_norm(t, mod.running_mean, mod.running_var, mod.weight, mod.bias, False,
                            0.0, mod.eps)

    y = F.relu(bn(F.conv2d(x, m.conv1.weight, groups=g1), m.bn1))
    y = nn.ChannelShuffle(g1)(y) if g1 > 1 else y
    y = bn(F.conv2d(y, m.dwconv.weight, stride=stride, padding=1, groups=cout // 4), m.bn2)
    y = bn(F.conv2d(y, m.conv2.weight, groups=g), m.bn3)
    if stride == 1:
        expected = F.relu(x + y)
    else:
        expected = F.relu(torch.cat([F.avg_pool2d(x, 3, 2, 1), y], 1))
    torch.testing.assert_close(m(x), expected)


def test_shuffle_unit_parameter_count_by_hand():
    # stride 1, 240 channels, g=3: 1x1 240->60 (g3) + dw 3x3 on 60 + 1x1 60->240 (g3) + 3 BNs
    m = ShuffleUnit(240, 240, groups=3)
    convs = 60 * 80 + 60 * 9 + 240 * 20
    norms = 2 * (60 + 60 + 240)
    assert sum(p.numel() for p in m.parameters()) == convs + norms
    assert sum(s.params for s in m.specs()) == convs


@pytest.mark.parametrize("call, message", [
    (lambda: ChannelShuffle(0), "`groups` (=0) must be a positive int"),
    (lambda: ChannelShuffle(4)(torch.ones(1, 6, 2)),
     "`input` channel dim (=6) must be divisible by `groups` (=4)"),
    (lambda: ChannelShuffle(2)(torch.ones(4, 6)),
     "`input` shape (=(4, 6)) must be (N, C, *spatial) with at least one spatial dim"),
    (lambda: ShuffleUnit(12, 24, stride=1),
     "`out_channels` (=24) must equal `in_channels` (=12) for stride 1"),
    (lambda: ShuffleUnit(24, 24, stride=2),
     "`out_channels` (=24) must exceed `in_channels` (=24) for stride 2"),
    (lambda: ShuffleUnit(12, 12, stride=3), "`stride` (=3) must be 1 or 2"),
    (lambda: ShuffleGroupConv(6, 8, 3, groups=4),
     "`in_channels` (=6) must be divisible by `groups` (=4)"),
])
def test_errors_are_pinned(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
