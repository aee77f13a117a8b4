"""convzoo vs torchinfo vs torchscan vs torch.utils.flop_counter on docs/analysis.md's network.

The peers are dev-only dependencies. These tests pin the table of docs/analysis.md: params
agree everywhere; on the transposed conv torchinfo and torchscan count the zero-inserted input
(prod(stride) times too many MACs) while convzoo and PyTorch's flop counter count the scatter.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

import convzoo

torchinfo = pytest.importorskip("torchinfo")
torchscan = pytest.importorskip("torchscan")

SHAPE = (1, 3, 32, 32)


def make() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),                        # standard
        nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=4),   # grouped
        nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1),    # transposed, x2
        nn.Conv2d(16, 3, 1),                                   # pointwise
    )


CONVZOO_MACS = [442_368, 294_912, 2_097_152, 49_152]
PARAMS = [448, 1_184, 8_208, 51]


def test_convzoo_numbers_match_the_doc_table():
    s = convzoo.summary(make(), SHAPE)
    assert [r.macs for r in s.rows] == CONVZOO_MACS
    assert [r.params for r in s.rows] == PARAMS
    assert s.totals.macs == 2_883_584 and s.totals.bias_adds == 44_032


def test_flop_counter_agrees_with_convzoo_on_every_layer():
    model, x = make(), torch.randn(SHAPE)
    flops = []
    for layer in model:
        with FlopCounterMode(display=False) as counter:
            x = layer(x)
        flops.append(counter.get_total_flops())
    assert [f // 2 for f in flops] == CONVZOO_MACS


def test_torchinfo_overcounts_the_transposed_conv_by_prod_stride():
    stats = torchinfo.summary(make(), SHAPE, verbose=0)
    layers = [layer for layer in stats.summary_list if layer.depth == 1]
    macs = [layer.macs for layer in layers]
    assert [layer.num_params for layer in layers] == PARAMS
    outputs = [16 * 32 * 32, 32 * 16 * 16, 16 * 32 * 32, 3 * 32 * 32]
    # every conv: convzoo's MACs + one bias add per output element ...
    for i in (0, 1, 3):
        assert macs[i] == CONVZOO_MACS[i] + outputs[i]
    # ... and the transposed conv counted over the zero-inserted input: 4x the scatter
    assert macs[2] == 4 * CONVZOO_MACS[2] + outputs[2] == 8_404_992


def test_torchscan_overcounts_the_transposed_conv_by_prod_stride():
    info = torchscan.crawl_module(make(), SHAPE[1:])
    layers = [layer for layer in info["layers"] if layer["depth"] == 1]
    macs = [layer["metrics"]["macs"]["value"] for layer in layers]
    assert [layer["parameters"]["trainable"] for layer in layers] == PARAMS
    assert [macs[i] for i in (0, 1, 3)] == [CONVZOO_MACS[i] for i in (0, 1, 3)]
    assert macs[2] == 4 * CONVZOO_MACS[2] + 8 == 8_388_616
    # and a negative receptive field for the transposed conv, where convzoo has 8 (r, S=1, P=4)
    assert layers[2]["metrics"]["receptive_field"]["value"] == -4
    rf = convzoo.receptive_field(make(), SHAPE)
    assert rf.sizes == (8, 8) and rf.strides == (1, 1) and rf.paddings == (4, 4)
