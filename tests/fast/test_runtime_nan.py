"""A NaN the model makes itself from a finite input (A14 of the attack on issue 18,
/work/notes/attack-18.md): OpenVINO turned it into a number (a fused ReLU after ``0/0``);
now a graph that can make one is refused for OpenVINO, and for ONNX Runtime where the NaN
can reach an op ONNX Runtime does not keep it through (convzoo.fast.runtime_risk)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from runtimes import needs_ort, needs_ov

from convzoo.fast import Refusal, optimize
from convzoo.fast.capture import capture
from convzoo.fast.runtime_risk import nan_sources, runtime_risk
from convzoo.fast.verify import compare, rounding_noise

X = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))


def _exact(model: nn.Module, fast: nn.Module, x: torch.Tensor) -> None:
    """Within the documented bound (the original's own float32 rounding allowed)."""
    with torch.no_grad():
        ref, got = model(x), fast(x)
        exact = copy.deepcopy(model).double()(x.double())
    why = compare(got, ref, noise=rounding_noise(ref, exact))[2]
    assert why is None, why


def _zero_sample() -> torch.Tensor:
    z = X.clone()
    z[1] = 0
    return z


class _Made(nn.Module):
    """conv, a NaN-making op, conv, then ``after`` (the attack's A14: ``y / max |y|``)."""

    def __init__(self, source: str = "div", after: str = "relu") -> None:
        super().__init__()
        torch.manual_seed(0)
        self.c, self.c2 = nn.Conv2d(3, 4, 3, bias=False), nn.Conv2d(4, 4, 1)
        self.source, self.after = source, after
        self.register_buffer("mask", torch.zeros(1, 4, 11, 11))
        self.mask[0, :, 0, 0] = -float("inf")  # one position masked in every channel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c(x)
        if self.source == "div":
            y = y / y.abs().amax((1, 2, 3), keepdim=True)
        elif self.source == "sign":  # 0/0 where y is 0 (a zero region of the input)
            y = y / y.abs()
        elif self.source == "log":
            y = torch.log(y)
        elif self.source == "sqrt":
            y = torch.sqrt(y)
        elif self.source == "pow":
            y = y.pow(0.5)
        elif self.source == "rsqrt":
            y = torch.rsqrt(y)
        elif self.source == "mask":  # -inf everywhere at one position: softmax 0/0
            y = F.pad(y, (1, 0, 1, 0)) + self.mask
            y = y.softmax(1)
        y = self.c2(y)
        return AFTER[self.after](y)


SOURCES = ["div", "log", "sqrt", "pow", "rsqrt", "mask"]
AFTER = {"relu": F.relu, "max_pool": lambda y: F.max_pool2d(y, 2), "sigmoid": torch.sigmoid,
         "gelu": F.gelu, "relu6": F.relu6, "softmax": lambda y: y.softmax(1),
         "layer_norm": lambda y: F.layer_norm(y, y.shape[1:])}


def test_a14_every_source_makes_nan_in_the_original() -> None:
    for source in SOURCES:
        with torch.no_grad():
            assert _Made(source).eval()(_zero_sample()).isnan().any(), source


@needs_ov
@pytest.mark.parametrize("source", SOURCES)
def test_a14_openvino_refuses_a_graph_that_makes_nan(source: str) -> None:
    with pytest.raises(Refusal, match=r"^`backend` \(='openvino'\) cannot run `model` "
                       r"\(_Made\): .* from a finite input, and OpenVINO does not keep such "
                       r"a NaN .*; use backend='torch'$"):
        optimize(_Made(source).eval(), X, backend="openvino")


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("backend", ["torch", pytest.param("onnxruntime", marks=needs_ort),
                                     pytest.param("auto", marks=needs_ort)])
def test_a14_other_backends_keep_the_nan_or_refuse(source: str, backend: str) -> None:
    model = _Made(source).eval()
    try:
        fast = optimize(model, X, backend=backend)
    except Refusal as exc:  # ONNX Runtime, where the NaN reaches an op not checked
        assert backend == "onnxruntime" and "from a finite input" in str(exc)
        return
    assert fast.report.backend != "openvino"
    for x in (_zero_sample(), X, -X, X * 1e4, torch.zeros_like(X)):
        _exact(model, fast, x)


@needs_ort
def test_onnxruntime_refuses_a_made_nan_reaching_a_max_pool() -> None:
    model = _Made("div", after="max_pool").eval()
    with pytest.raises(Refusal, match=r"ONNX Runtime may turn that NaN into a number in "
                       r"max_pool2d"):
        optimize(model, X, backend="onnxruntime")
    _exact(model, optimize(model, X, backend="torch"), _zero_sample())


@needs_ort
@pytest.mark.parametrize("after", ["relu", "sigmoid", "gelu", "relu6", "softmax", "layer_norm"])
def test_onnxruntime_keeps_a_made_nan_through_the_ops_it_was_checked_on(after: str) -> None:
    partial = X.clone()
    partial[1, :, :, :5] = 0  # 0/0 in part of a sample only
    for source in ("div", "sign"):
        model = _Made(source, after).eval()
        fast = optimize(model, X, backend="onnxruntime")
        for x in (_zero_sample(), partial, X):
            _exact(model, fast, x)
        with torch.no_grad():
            assert fast(partial if source == "sign" else _zero_sample()).isnan().any()


def _graph(model: nn.Module, x: torch.Tensor = X):
    return capture(model.eval(), x).gm


class _Safe(nn.Module):
    """Divisions and powers that cannot make NaN from finite values, and a layer norm."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.register_buffer("scale", torch.full((1, 4, 1, 1), 2.0))
        self.norm = nn.GroupNorm(2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c(x) / 3.0
        return self.norm(y / self.scale + y ** 2)


def test_nan_sources_names_what_can_make_nan_and_nothing_else() -> None:
    assert nan_sources(_graph(_Safe())) == []
    for source, op in [("div", "div"), ("log", "log"), ("sqrt", "sqrt"), ("pow", "pow"),
                       ("rsqrt", "rsqrt")]:
        found = nan_sources(_graph(_Made(source)))
        assert [n.target.overloadpacket.__name__ for n, _ in found] == [op], source
    zero_eps = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GroupNorm(2, 4, eps=0.0))
    (node, how), = nan_sources(_graph(zero_eps))
    assert "eps = 0" in how
    (node, how), = nan_sources(_graph(_Made("mask")))
    assert "NaN or +-inf" in how


def test_runtime_risk_bounds_ordinary_graphs_and_refuses_made_nan() -> None:
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU6(), nn.Conv2d(4, 2, 1))
    risk = runtime_risk(_graph(plain), "openvino")
    assert risk.refusal is None and 2.0 ** 30 <= risk.limit < 1e30
    assert "div ('div'" in runtime_risk(_graph(_Made("div")), "openvino").refusal
    assert runtime_risk(_graph(_Made("div")), "onnxruntime").refusal is None
    assert "max_pool2d" in runtime_risk(_graph(_Made("div", "max_pool")), "onnxruntime").refusal
