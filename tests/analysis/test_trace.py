"""Tracing: conv MACs against ConvSpec, explicit-loop counts and torch's FlopCounterMode;
DAG edges for residual and concatenating branches; partial traces."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import convzoo.layers as L
from convzoo.analysis import summary, trace
from convzoo.spec import ConvSpec

CONV_CASES = [
    ("standard", nn.Conv2d(3, 8, 3, padding=1), (2, 3, 9, 9)),
    ("strided", nn.Conv2d(3, 8, 5, stride=2, padding=2), (1, 3, 17, 16)),
    ("pointwise", nn.Conv2d(6, 4, 1), (1, 6, 7, 7)),
    ("depthwise", nn.Conv2d(6, 12, 3, groups=6), (2, 6, 8, 8)),
    ("grouped", nn.Conv2d(8, 12, 3, groups=4, padding=1, bias=False), (1, 8, 6, 6)),
    ("dilated", nn.Conv2d(4, 4, 3, dilation=3, padding=3), (1, 4, 12, 12)),
    ("transposed", nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1), (2, 4, 5, 5)),
    ("transposed-op", nn.ConvTranspose2d(4, 6, 3, stride=3, output_padding=2, groups=2),
     (1, 4, 4, 5)),
    ("1d", nn.Conv1d(3, 5, 7, stride=2), (2, 3, 30)),
    ("3d", nn.Conv3d(2, 4, 3, padding=1), (1, 2, 4, 6, 6)),
    ("transposed3d", nn.ConvTranspose3d(2, 3, 2, stride=2), (1, 2, 3, 3, 3)),
]


def _flop_counter(model: nn.Module, shape: tuple[int, ...]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(shape))
    return counter.get_total_flops()


@pytest.mark.parametrize("name,module,shape", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_macs_equal_convspec_and_flop_counter(name, module, shape):
    graph = trace(module, shape)
    (node,) = graph.convs
    spec = ConvSpec.from_module(module)
    assert node.spec == spec
    assert node.macs == spec.macs(shape)
    assert node.shape == tuple(module(torch.randn(shape)).shape)
    assert 2 * node.macs == _flop_counter(module, shape)
    assert node.bias_adds == (node.shape[1] * int(torch.tensor(node.shape[2:]).prod())
                              * shape[0] if module.bias is not None else 0)


def _brute_conv2d(x, w, stride, padding, groups):
    """Explicit loops: compute the conv and count every multiply-accumulate."""
    n, cin, h, wd = x.shape
    cout, cpg, kh, kw = w.shape
    xp = F.pad(x, (padding,) * 4)
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out, macs = torch.zeros(n, cout, oh, ow, dtype=x.dtype), 0
    opg = cout // groups
    for b, o, i, j in itertools.product(range(n), range(cout), range(oh), range(ow)):
        g = o // opg
        for c, a, e in itertools.product(range(cpg), range(kh), range(kw)):
            out[b, o, i, j] += w[o, c, a, e] * xp[b, g * cpg + c, i * stride + a, j * stride + e]
            macs += 1
    return out, macs


def _brute_conv_transpose1d(x, w, stride, padding):
    """Explicit scatter loops of a transposed 1-D conv, counting each multiply-accumulate."""
    n, cin, length = x.shape
    _, cout, k = w.shape
    full = (length - 1) * stride + k
    out, macs = torch.zeros(n, cout, full, dtype=x.dtype), 0
    for b, c, i, o, t in itertools.product(range(n), range(cin), range(length), range(cout),
                                           range(k)):
        out[b, o, i * stride + t] += x[b, c, i] * w[c, o, t]
        macs += 1
    return out[:, :, padding:full - padding], macs


def test_grouped_conv_macs_equal_explicit_loops():
    x, w = torch.randn(1, 4, 5, 5, dtype=torch.float64), torch.randn(6, 2, 3, 3,
                                                                      dtype=torch.float64)
    expected, macs = _brute_conv2d(x, w, stride=2, padding=1, groups=2)
    torch.testing.assert_close(expected, F.conv2d(x, w, stride=2, padding=1, groups=2))
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=False)
    assert trace(conv, (1, 4, 5, 5)).macs == macs


def test_transposed_macs_are_the_scatter_count_not_times_stride():
    x, w = torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(3, 2, 4, dtype=torch.float64)
    expected, macs = _brute_conv_transpose1d(x, w, stride=2, padding=1)
    torch.testing.assert_close(expected, F.conv_transpose1d(x, w, stride=2, padding=1))
    conv = nn.ConvTranspose1d(3, 2, 4, stride=2, padding=1, bias=False)
    assert trace(conv, (2, 3, 4)).macs == macs == 2 * 3 * 4 * 2 * 4
    # the DESIGN.md example; torchinfo would report 4x this
    big = trace(nn.ConvTranspose2d(3, 16, 4, stride=2, padding=1), (2, 3, 16, 16))
    assert big.macs == 393216


class ConvLinearNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.b = nn.Conv2d(8, 8, 3, groups=4, padding=1)
        self.c = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.head = nn.Linear(4 * 16 * 16, 10)

    def forward(self, x):
        x = self.c(F.relu(self.b(F.relu(self.a(x)))))
        return self.head(x.flatten(1))


def test_total_flops_equal_flop_counter_on_convs_and_linear():
    model = ConvLinearNet()
    s = summary(model, (2, 3, 16, 16))
    assert s.totals.flops == 2 * s.totals.macs == _flop_counter(model, (2, 3, 16, 16))
    linear = [r for r in s.rows if r.name == "head"][0]
    assert linear.macs == 2 * 1024 * 10 and linear.bias_adds == 2 * 10


class FunctionalConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(5, 3, 3, 3))
        self.post = nn.Conv2d(5, 5, 1)

    def forward(self, x):
        return self.post(F.conv2d(x, self.weight, stride=2))


def test_functional_conv2d_inside_forward_is_counted():
    model = FunctionalConv()
    graph = trace(model, (1, 3, 11, 11))
    first, second = graph.convs
    assert first.module == "" and first.params == ("weight",)
    assert first.macs == ConvSpec(3, 5, 3, stride=2, bias=False).macs((1, 3, 11, 11))
    assert second.module == "post"
    s = summary(model, (1, 3, 11, 11))
    assert [r.name for r in s.rows] == ["convolution", "post"]
    assert s.rows[0].params == 135 and s.totals.macs == first.macs + second.macs
    assert 2 * s.totals.macs == _flop_counter(model, (1, 3, 11, 11))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                  nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.down(x))


def test_residual_add_is_a_node_with_two_inputs():
    graph = trace(BasicBlock(4, 8, 2), (1, 4, 8, 8))
    (add,) = [n for n in graph.nodes if n.op == "add"]
    assert add.category == "merge" and len(add.inputs) == 2
    sources = {graph.nodes[i].module for i in add.inputs}
    assert sources == {"bn2", "down.1"}
    # both branches start at the input node: the graph is a DAG, not a chain
    succ = graph.successors()
    assert {graph.nodes[i].module for i in succ[0]} == {"conv1", "down.0"}


class Inception(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(4, 2, 1)
        self.b3 = nn.Conv2d(4, 3, 3, padding=1)
        self.b5 = nn.Conv2d(4, 5, 5, padding=2)
        self.pool = nn.MaxPool2d(3, 1, 1)

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.pool(x)], 1)


def test_concat_is_a_node_with_one_input_per_branch():
    graph = trace(Inception(), (1, 4, 8, 8))
    cat = graph.nodes[graph.outputs[0]]
    assert cat.op == "cat" and cat.shape == (1, 14, 8, 8)
    assert [graph.nodes[i].module for i in cat.inputs] == ["b1", "b3", "b5", "pool"]


def test_module_frames_and_outputs():
    model = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), nn.Conv2d(2, 2, 1))
    graph = trace(model, (1, 1, 5, 5))
    conv = graph.convs[0]
    assert [f.name for f in conv.frames] == ["0", "0.0"]
    assert [f.leaf for f in conv.frames] == [False, True]
    assert graph.nodes[graph.output_of("0")].op.startswith("relu")
    with pytest.raises(ValueError, match=r"`layer` \(='nope'\) must name a module"):
        graph.output_of("nope")


def test_channel_shuffle_view_transpose_view_is_detected():
    class Shuffle(nn.Module):
        def forward(self, x):
            n, c, h, w = x.shape
            return x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)

    graph = trace(nn.Sequential(nn.Conv2d(4, 4, 1, groups=2), Shuffle()), (1, 4, 3, 3))
    assert [n.category for n in graph.nodes if n.category == "channel_shuffle"]
    assert trace(nn.ChannelShuffle(2), (1, 4, 3, 3)).nodes[1].category == "channel_shuffle"


def test_convzoo_same_padding_records_pad_node():
    graph = trace(L.Conv2d(3, 4, 3, stride=2, padding="same"), (1, 3, 8, 8))
    cats = [n.category for n in graph.nodes]
    assert cats == ["input", "pad", "conv"]
    assert graph.nodes[1].attrs["pad"] == (0, 1, 0, 1)
    assert graph.nodes[2].shape == (1, 4, 4, 4)


class UsesItem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Conv2d(4, 4, 3)

    def forward(self, x):
        x = self.conv(x)
        if x.mean().item() > 0:  # data-dependent: impossible on meta tensors
            x = -x
        return self.head(x)


def test_model_calling_item_gives_a_partial_trace():
    graph = trace(UsesItem(), (1, 3, 8, 8))
    assert graph.partial and "item" in graph.reason.lower()
    assert [n.module for n in graph.convs] == ["conv"]
    with pytest.raises(ValueError, match=r"Tensor.item\(\) cannot be called .*partial=True"):
        summary(UsesItem(), (1, 3, 8, 8))
    s = summary(UsesItem(), (1, 3, 8, 8), partial=True)
    text = str(s)
    assert s.partial and "PARTIAL" in text and "lower bounds" in text
    assert "at least" in text
    assert s.totals.params == sum(p.numel() for p in UsesItem().parameters())
    assert "not reached" in " ".join(s.notes)


def test_model_is_left_untouched():
    model = BasicBlock(2, 2, 1).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trace(model, (1, 2, 6, 6))
    assert model.training and model.bn1.training
    after = model.state_dict()
    assert all(after[k].device.type == "cpu" and torch.equal(after[k], before[k]) for k in before)
    assert not model._forward_hooks and not model.conv1._forward_pre_hooks


def test_dtype_sets_element_bytes():
    graph = trace(nn.Conv2d(1, 1, 3), (1, 1, 4, 4), dtype=torch.float16)
    assert graph.element_bytes == 2 and graph.params["weight"] == (9, True, 18)


@pytest.mark.parametrize("shape", [(3,), [1, 0, 4], "1x3", (1, 3.0, 4)])
def test_bad_input_shape_raises(shape):
    with pytest.raises(ValueError, match=r"`input_shape` \(=.*\) must be a sequence of at least"):
        trace(nn.Conv2d(1, 1, 1), shape)


def test_bad_dtype_and_model_raise():
    with pytest.raises(ValueError, match=r"`dtype` \(=torch.int64\) must be a floating"):
        trace(nn.Conv2d(1, 1, 1), (1, 1, 2, 2), dtype=torch.int64)
    with pytest.raises(ValueError, match=r"`model` \(=function\) must be a torch.nn.Module"):
        trace(lambda x: x, (1, 1, 2, 2))
