"""The defects an independent attack found in issue 19's analysis (/work/notes/attack-19.md):
a constant mask selecting between two tensors, an attention mask held in a buffer, the MACs
of work that does not depend on the input, and integer buffers used as padding amounts."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from tests.analysis.oracle import check, positive_
from torch.utils.flop_counter import FlopCounterMode

from convzoo.analysis import receptive_field, summary

SHAPE = (1, 2, 8, 6)


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


# ---------------------------------------------------------------------- A: where
class WhereMade(nn.Module):  # the attack's X01: a mask made in forward from constants
    def forward(self, x):
        return torch.where(torch.arange(6) < 3, x, x.roll(2, 3))


class WhereBuffer(nn.Module):  # the attack's R05: a bool buffer, after a conv
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(2, 2, 3, padding=1)
        self.register_buffer("m", torch.arange(6) < 3)

    def forward(self, x):
        y = self.c(x)
        return torch.where(self.m, y, y.flip(3))


def test_where_with_a_constant_mask_between_different_branches_is_flagged():
    for model in (WhereMade(), WhereBuffer()):
        right, total, rf = check(positive_(model, _gen()), SHAPE, inputs=4)
        assert not rf.exact
        assert any(n.startswith("where") for n in rf.notes), rf.notes
    rf = receptive_field(WhereMade(), SHAPE, dtype=torch.float64)
    assert rf.fields[1].span(0) == (0, 4)  # an upper bound: column 0 reads column 0 only


def test_where_with_a_constant_mask_between_alike_branches_stays_exact():
    class Alike(nn.Module):
        def forward(self, x):
            return torch.where(torch.arange(6) < 3, x, x * 2)

    right, total, rf = check(Alike(), SHAPE)
    assert rf.exact and right == total


# ---------------------------------------------------------------------- B: masks in buffers
class CausalBuffer(nn.Module):  # the attack's R09: causal attention, the mask a buffer
    def __init__(self, additive: bool = False) -> None:
        super().__init__()
        mask = torch.ones(8, 8, dtype=torch.bool).tril()
        if additive:  # the attack's R07: an additive float buffer of -inf
            mask = torch.zeros(8, 8).masked_fill(~mask, float("-inf"))
        self.register_buffer("m", mask)

    def forward(self, x):  # (N, C, L): attention over L
        t = x.transpose(1, 2)
        return F.scaled_dot_product_attention(t, t, t, attn_mask=self.m).transpose(1, 2)


class MaskedScores(nn.Module):  # scores + a float mask computed from a bool buffer
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("m", torch.ones(8, 8, dtype=torch.bool).tril())

    def forward(self, x):
        t = x.transpose(1, 2)
        bias = (~self.m).float() * -1e9
        return (torch.softmax(t @ t.transpose(1, 2) + bias, -1) @ t).transpose(1, 2)


def test_an_attention_mask_held_in_a_buffer_is_flagged():
    for model in (CausalBuffer(), CausalBuffer(additive=True), MaskedScores()):
        right, total, rf = check(model.double(), (1, 2, 8), inputs=4)
        assert not rf.exact, type(model).__name__
        assert any("a mask the model holds" in n for n in rf.notes), rf.notes
    rf = receptive_field(CausalBuffer(), (1, 2, 8), dtype=torch.float64)
    assert rf.fields[0].span(0) == (0, 7)  # an upper bound: position 0 reads position 0


def test_a_buffer_of_finite_numbers_is_still_a_generic_value():
    class Bias(nn.Module):  # a relative position bias gathered by an index buffer (BEiT)
        def __init__(self) -> None:
            super().__init__()
            self.tab = nn.Parameter(torch.rand(15))
            i = torch.arange(8)
            self.register_buffer("idx", i[:, None] - i[None, :] + 7)
            self.register_buffer("scale", torch.tensor([0.5]))

        def forward(self, x):
            t = x.transpose(1, 2) * self.scale
            att = t @ t.transpose(1, 2) + self.tab[self.idx]
            return (torch.softmax(att, -1) @ t).transpose(1, 2)

    right, total, rf = check(positive_(Bias(), _gen()), (1, 2, 8))
    assert rf.exact and right == total


# ---------------------------------------------------------------------- C: constant work
def _flop_counter(model: nn.Module, shape) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(shape))
    return counter.get_total_flops()


class PositionBiasMLP(nn.Module):  # the attack's reproducer: Swin V2's MLP on a table
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(2, 2, 3, padding=1)
        self.mlp = nn.Linear(2, 16)
        self.register_buffer("table", torch.randn(4, 2))

    def forward(self, x):
        return self.c(x) + self.mlp(self.table).sum()


class Queries(nn.Module):  # the attack's U01/U02: learned queries, a product of parameters
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(2, 8, 3, padding=1)
        self.q = nn.Parameter(torch.rand(5, 8))
        self.qp = nn.Linear(8, 8)
        self.a = nn.Parameter(torch.rand(6, 7))
        self.b = nn.Parameter(torch.rand(7, 6))

    def forward(self, x):
        t = self.c(x).flatten(2).transpose(1, 2)
        att = torch.softmax(self.qp(self.q) @ t.transpose(1, 2), -1)
        return (att @ t).sum() + self.c(x) @ (self.a @ self.b)


class GRUOverL(nn.Module):  # the attack's U13: h0, zeros made in forward, meets W_hh
    def __init__(self) -> None:
        super().__init__()
        self.r = nn.GRU(2, 3, batch_first=True)

    def forward(self, x):
        return self.r(x.transpose(1, 2))[0].transpose(1, 2)


@pytest.mark.parametrize("make, shape", [(PositionBiasMLP, SHAPE), (Queries, SHAPE),
                                         (GRUOverL, (1, 2, 6)), (GRUOverL, (2, 2, 5))])
def test_work_that_does_not_depend_on_the_input_is_counted(make, shape):
    model = make().eval()
    s = summary(model, shape)
    assert s.totals.flops == 2 * s.totals.macs == _flop_counter(model, shape)


def test_constant_work_has_its_row_and_leaves_the_fields_alone():
    s = summary(PositionBiasMLP(), SHAPE)
    assert {r.name: r.macs for r in s.rows}["mlp"] == 4 * 2 * 16
    right, total, rf = check(positive_(PositionBiasMLP(), _gen()), SHAPE)
    assert rf.exact and right == total
    # GRU(2, 3) by hand: per step, 3 gates x 3 units read 2 inputs and 3 hidden values
    # (step 0 too: its hidden state is zeros made in forward, but the product runs)
    assert summary(GRUOverL(), (1, 2, 6)).totals.macs == 6 * (9 * 2 + 9 * 3)


# ---------------------------------------------------------------------- D: integer buffers
class PadBuffer(nn.Module):  # the attack's reproducer (Encodec's EncodecConv1d)
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 2, 4, stride=2)
        self.register_buffer("pad", torch.tensor(2), persistent=False)

    def forward(self, x):
        return self.conv(F.pad(x, (self.pad, self.pad)))


def test_padding_held_in_an_integer_buffer_is_read():
    s = summary(PadBuffer(), (1, 1, 16))
    assert s.totals.macs == 9 * 2 * 4 == _flop_counter(PadBuffer(), (1, 1, 16)) // 2
    right, total, rf = check(positive_(PadBuffer(), _gen()), (1, 1, 16))
    assert rf.exact and right == total
    assert rf.fields[0].span(0) == (0, 1) and rf.fields[0].span(8) == (14, 15)


def test_a_value_read_from_a_meta_tensor_says_what_to_do():
    class Item(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("pad", torch.tensor([2, 2]))  # not 0-dim: a meta tensor

        def forward(self, x):
            return F.pad(x, tuple(int(v) for v in self.pad))

    with pytest.raises(ValueError, match=r"Item reads a value out of a tensor .*register_buffer"):
        summary(Item(), (1, 1, 16))


@pytest.mark.slow
def test_transformers_encodec_runs():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.EncodecConfig(
        hidden_size=8, num_filters=4, upsampling_ratios=[2, 2], num_residual_layers=1,
        codebook_size=16, codebook_dim=8, audio_channels=1, num_lstm_layers=1)
    model = transformers.EncodecModel(config).encoder.eval()
    shape = (1, 1, 64)
    s = summary(model, shape)
    # FlopCounterMode counts nothing for CPU aten.lstm: its MACs by hand, 16 steps of an
    # LSTM(16, 16) (4 gates x 16 units reading 16 inputs and 16 hidden values)
    lstm = 16 * 4 * 16 * (16 + 16)
    assert s.totals.macs == _flop_counter(model, shape) // 2 + lstm
    right, total, rf = check(model.double(), shape, inputs=2)
    assert total > 0 and rf.shape == (1, 8, 16)


@pytest.mark.slow
def test_transformers_swinv2_counts_its_position_bias_mlp():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.Swinv2Config(image_size=32, patch_size=2, embed_dim=8,
                                       depths=[1, 1], num_heads=[1, 2], window_size=4)
    config._attn_implementation = "eager"  # FlopCounterMode counts CPU SDPA as 0
    model = transformers.Swinv2Model(config).eval()
    shape = (1, 3, 32, 32)
    assert summary(model, shape).totals.flops == _flop_counter(model, shape)  # 1,448,960
