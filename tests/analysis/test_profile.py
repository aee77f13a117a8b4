"""profile(): rows cover every leaf module, per-kind times add up to the total."""

import io
import json

import pytest
import torch
import torch.nn as nn
from rich.console import Console

from convzoo.analysis import OUTSIDE, profile
from convzoo.layers import DepthwiseSeparable


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)
        self.skip = nn.Identity()  # runs no traced op of its own
        self.unused = nn.Linear(2, 2)  # never called

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)) + self.skip(x))  # add and relu: no module


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.act = nn.ReLU()
        self.block = Block(8)
        self.sep = DepthwiseSeparable(8, 8, 3, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)

    def forward(self, x):
        x = self.act(self.stem(x))
        x = self.act(self.block(x))  # `act` is called twice
        return self.up(self.sep(x))


def leaves(model):
    return {n for n, m in model.named_modules() if n and not list(m.children())}


@pytest.fixture(scope="module")
def result():
    return profile(Net(), (1, 3, 16, 16), repeats=2, warmup=1)


def test_rows_cover_every_leaf_module(result):
    module_rows = [r for r in result.rows if r.module]
    assert {r.name for r in module_rows} == leaves(Net())
    timed = [r for r in module_rows if r.call >= 0]
    assert all(r.forward_ms > 0 for r in timed)
    assert [r.call for r in module_rows if r.name == "act"] == [0, 1]
    never = [r for r in result.rows if r.call == -1]
    assert [r.name for r in never] == ["block.unused"] and never[0].forward_ms is None
    skip = next(r for r in result.rows if r.name == "block.skip")
    assert skip.kind == "other" and skip.forward_ms > 0 and skip.output_shape == (1, 8, 8, 8)
    ops = [r for r in result.rows if not r.module]  # ops in Block.forward: timed as OUTSIDE
    assert {r.type for r in ops} >= {"add", "relu"} and all(r.forward_ms is None for r in ops)


def test_rows_carry_summary_numbers(result):
    by_name = {r.name: r for r in result.rows if r.call <= 0}
    assert by_name["stem"].macs == 8 * 8 * 8 * 3 * 9 and by_name["stem"].kind == "conv"
    assert by_name["up"].kind == "transposed" and by_name["up"].macs == 8 * 8 * 8 * 4 * 4
    assert by_name["sep.depthwise"].kind == "depthwise"
    assert by_name["stem"].gmacs_per_s > 0


def test_kind_totals_sum_to_total(result):
    assert sum(result.by_kind.values()) == pytest.approx(result.total_ms)
    assert result.total_ms >= result.wall_ms > 0 and result.by_kind[OUTSIDE] >= 0
    timed = [r for r in result.rows if r.forward_ms is not None]
    assert sum(r.share for r in timed) + result.by_kind[OUTSIDE] / result.total_ms == \
        pytest.approx(1.0)
    assert {"conv", "transposed", "depthwise", "pointwise", "norm"} <= set(result.by_kind)
    assert result.backward_ms is None


def test_backward_and_exports():
    net = Net()
    p = profile(net, (2, 3, 8, 8), backward=True, repeats=1, warmup=0)
    assert p.backward_ms > 0
    assert all(q.grad is None for q in net.parameters())  # grads restored
    data = json.loads(p.to_json())
    assert data["backward_ms"] > 0 and data["by_kind"][OUTSIDE] >= 0
    assert {r["name"] for r in data["rows"]} >= leaves(net)
    buf = io.StringIO()
    p.render(Console(file=buf, width=200))
    assert "time by kind" in buf.getvalue() and "backward" in buf.getvalue()


def test_errors():
    with pytest.raises(ValueError, match=r"`repeats` \(=0\) must be an int >= 1"):
        profile(Net(), (1, 3, 8, 8), repeats=0)
    with pytest.raises(ValueError, match="`input_shape`"):
        profile(Net(), (3,))
