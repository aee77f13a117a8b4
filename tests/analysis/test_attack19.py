"""The defects an independent attack found in issue 19's analysis (/work/notes/attack-19.md):
a constant mask selecting between two tensors, an attention mask held in a buffer, the MACs
of work that does not depend on the input, and integer buffers used as padding amounts."""

from __future__ import annotations

import torch
import torch.nn as nn
from tests.analysis.oracle import check, positive_

from convzoo.analysis import receptive_field

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
