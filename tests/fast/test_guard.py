"""Activations fused as oneDNN post-ops only where no NaN can reach them: the magnitude proof
(convzoo.fast.bounds), its run-time checks and the exact fallback (convzoo.fast.guard),
attacked with inputs from every regime and with intermediate overflows."""

from __future__ import annotations

import pytest
import torch
import torch.fx as fx
import torch.nn as nn
from plain_nets import MobileNetV2, ResNet, ShuffleNetV2, randomize_batchnorms

from convzoo.fast import optimize
from convzoo.fast.bounds import Bounds
from convzoo.fast.graph import aten
from convzoo.fast.guard import Guarded, OutOfBounds, Reference, bounded, cuts
from convzoo.fast.verify import compare

_POINTWISE = torch.ops.mkldnn._convolution_pointwise


def _guarded(fast) -> Guarded:
    inner = fast.inner
    while not isinstance(inner, Guarded):
        inner = inner.inner  # through the thread plan's wrapper
    return inner


def _post_ops(gm: fx.GraphModule) -> int:
    binary = (_POINTWISE.binary, torch.ops.mkldnn._convolution_pointwise_.binary)
    return sum(1 for n in gm.graph.nodes if n.op == "call_function" and (
        (n.target is _POINTWISE.default and n.args[7] != "none") or
        (n.target in binary and n.args[10] is not None)))


def _regimes(shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    image = torch.randint(0, 256, shape, generator=g).float()
    image[..., : shape[-1] // 3] = 0  # a zero region
    out = {"normal": torch.randn(shape, generator=g), "image 0-255": image,
           "1e4": torch.randn(shape, generator=g) * 1e4,
           "1e-4": torch.randn(shape, generator=g) * 1e-4,
           "1e30": torch.randn(shape, generator=g) * 1e30,
           "3e38": torch.full(shape, 3e38)}
    for name, value in (("nan", float("nan")), ("+inf", float("inf")), ("-inf", -float("inf"))):
        x = torch.randn(shape, generator=g)
        x[0, 1, 3, 4] = value
        out[name] = x
    return out


NETS = {"mobilenet_v2": MobileNetV2, "resnet": ResNet, "shufflenet_v2": ShuffleNetV2}


@pytest.mark.parametrize("name", list(NETS))
def test_fused_where_proven_and_like_torch_in_every_regime(name: str) -> None:
    torch.manual_seed(0)
    model = randomize_batchnorms(NETS[name](), seed=3).eval()
    fast = optimize(model, torch.randn(2, 3, 48, 48))
    g = _guarded(fast)
    assert fast.report.post_op_activations == _post_ops(g.fast) > 0
    assert fast.report.guard_checks == g.checks >= 1
    assert isinstance(g.exact, Reference)  # BatchNorms folded: only the original is exact
    for regime, x in _regimes((2, 3, 48, 48)).items():
        with torch.no_grad():
            ref, got = model(x), fast(x)
        _, _, why = compare(got, ref)
        assert why is None, f"{regime}: {why}"


def test_the_exact_graph_runs_exactly_when_a_check_fails(monkeypatch) -> None:
    model = randomize_batchnorms(ResNet(), seed=3).eval()
    fast = optimize(model, torch.randn(1, 3, 32, 32))
    g = _guarded(fast)

    class _Exact(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("exact graph")

    monkeypatch.setattr(g, "exact", _Exact())
    with torch.no_grad():
        fast(torch.randn(1, 3, 32, 32) * 100)  # within the proof: the fused graph
        for bad in (float("nan"), float("inf"), 1e35):
            x = torch.randn(1, 3, 32, 32)
            x[0, 0, 0, 0] = bad
            with pytest.raises(RuntimeError, match="exact graph"):
                fast(x)


class _Blowup(nn.Module):
    """Convs with huge weights and ReLUs: finite inputs overflow inside, inf - inf = NaN."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b, self.c = (nn.Conv2d(4, 4, 3, padding=1) for _ in range(3))
        with torch.no_grad():
            for conv in (self.a, self.b):
                conv.weight.mul_(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.c(torch.relu(self.b(torch.relu(self.a(x))))))


@pytest.mark.parametrize("size", [1.0, 1e3, 1e8])
def test_overflow_inside_the_graph_never_hides_a_nan(size: float) -> None:
    # Which entries overflow to inf or NaN depends on the order of the sums: eager torch
    # in channels_last already differs from eager NCHW there. What the guard must keep is
    # the unfused graph's result: no NaN turned into a number by a fused activation.
    model = _Blowup(1e17).eval()
    fast = optimize(model, torch.randn(1, 4, 8, 8))
    g = _guarded(fast)
    x = torch.randn(1, 4, 8, 8) * size
    with torch.no_grad():
        ref, got, exact = model(x), fast(x), g.exact(x)
    if bool(torch.isfinite(ref).all()):
        assert compare(got, ref)[2] is None
    else:  # the attack overflowed (it does at 1e8)
        assert bool(ref.isnan().any()) and bool(got.isnan().any())
    assert size < 1e8 or not bool(torch.isfinite(ref).all())
    assert compare(got, exact)[2] is None
    eager_nhwc = model(x.contiguous(memory_format=torch.channels_last))
    assert torch.equal(exact.isnan(), eager_nhwc.isnan())


def test_bounds_of_a_conv_are_its_largest_row_norm() -> None:
    conv = nn.Conv2d(2, 3, 3, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(54.0).reshape(3, 2, 3, 3) - 27)
        conv.bias.copy_(torch.tensor([1.0, -5.0, 2.0]))
    gm = fx.symbolic_trace(nn.Sequential(conv, nn.ReLU6()))
    x = next(n for n in gm.graph.nodes if n.op == "placeholder")
    x.meta["val"] = torch.empty(1, 2, 5, 5)
    nodes = [n for n in gm.graph.nodes if n.op not in ("placeholder", "output")]
    # symbolic_trace leaves call_module nodes: no rule, so unbounded (never fused)
    assert all(v == float("inf") for v in Bounds(gm).propagate({x: 1.0}, nodes).values())
    from convzoo.fast.capture import capture

    cap = capture(nn.Sequential(conv, nn.ReLU6()).eval(), torch.randn(1, 2, 5, 5))
    graph = cap.gm.graph
    x = next(n for n in graph.nodes if n.op == "placeholder")
    conv_node = next(n for n in graph.nodes if n.target is aten.conv2d.default)
    act = next(n for n in graph.nodes if n.target is aten.hardtanh.default)
    b = Bounds(cap.gm).propagate({x: 2.0}, [n for n in graph.nodes if n in (conv_node, act)])
    row = conv.weight.detach().abs().reshape(3, -1).sum(1).max().item()  # 459
    # plus the rounding allowance: (1 + n 2^-23)(1 + 2^-7), n = 54 weights
    assert row * 2.0 + 5.0 <= b[conv_node] <= (row * 2.0 + 5.0) * 1.008
    assert b[act] == 6.0


def test_checks_read_any_layout_without_copying() -> None:
    x = torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    assert bounded(x, 10.0) is x
    x[1, 2, 3, 4] = 11.0
    with pytest.raises(OutOfBounds):
        bounded(x, 10.0)
    assert bounded(torch.randn(4, 6)[:, ::2], 100.0).shape == (4, 3)
    assert bounded(torch.empty(0, 3), 1.0).shape == (0, 3)


def test_cuts_skip_nodes_jumped_over_by_a_residual() -> None:
    gm = fx.symbolic_trace(ResNet().eval())
    x = next(n for n in gm.graph.nodes if n.op == "placeholder")
    names = [n.name for n in cuts(gm.graph, x)]
    assert names[0] == "x" and "add" in names and "layer1_0_conv1" not in names
