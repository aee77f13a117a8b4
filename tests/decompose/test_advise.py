"""``convzoo.advise``: one budget for the whole model (no per-layer cap), sensitivity-weighted
planning, plans compared on the model-level metric, never a plan slower than dense (timings
faked so that the outcome is known), any output container, and partial results on Ctrl-C."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
import torch
import torch.nn as nn

import convzoo.decomposition.advising as advise_module
from convzoo.analysis.timing import Timing
from convzoo.decomposition import Interrupted, advise
from convzoo.decomposition.latency import Latency


def _latency(ms: float) -> Latency:
    samples = tuple(ms * 1e-3 * (1 + 0.01 * i) for i in range(6))
    t = Timing(samples)
    return Latency(t.median_ms, t.spread_ms, len(samples), t)


def _fake_timer(option_ms: float) -> Callable[..., dict[str, Latency]]:
    """Dense (a layer's or the whole model's) takes 1 ms, every other option ``option_ms``."""
    def time_blocks(calls: Mapping[str, object], repeats: int = 3,
                    block: int = 3) -> dict[str, Latency]:
        return {k: _latency(1.0 if k.startswith("dense") else option_ms) for k in calls}
    return time_blocks


class TwoConvs(nn.Module):
    """``a``: an exactly rank-1 conv (free to compress) unless ``random_a``; ``b``: random."""

    def __init__(self, scale_b: float = 1.0, random_a: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.b = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        if not random_a:
            with torch.no_grad():
                u, v = torch.randn(16, 1), torch.randn(1, 16 * 9)
                self.a.weight.copy_((u @ v).reshape(16, 16, 3, 3))
        self.scale_b = scale_b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) + self.scale_b * self.b(x)


X = torch.randn(1, 16, 12, 12)


def test_one_budget_for_the_whole_model() -> None:
    a = advise(TwoConvs(), X, budget=0.5, methods=("svd",), repeats=0, sensitivity=False)
    plan = a.plan()
    assert plan["a"] == ("svd", 1)  # exactly rank one: the cheapest option, no error
    b = next(o for o in a.layers[1].options if o.recommended)
    dense_b = a.layers[1].options[0].macs
    assert b.macs > 0.5 * dense_b  # b spends what a saved: no per-layer cap
    assert a.plan_macs <= 0.5 * a.conv_macs
    assert a.plan_macs >= 0.4 * a.conv_macs  # the budget is spent, not left on the table


def test_sensitivity_steers_the_budget() -> None:
    model = TwoConvs(scale_b=1e-3, random_a=True)  # b barely reaches the output
    a = advise(model, X, budget=0.3, methods=("tucker",), repeats=0)
    sens = {layer.name: layer.sensitivity for layer in a.layers}
    assert sens["b"] < 0.01 * sens["a"]
    rec = {layer.name: next(o for o in layer.options if o.recommended) for layer in a.layers}
    assert rec["b"].macs < rec["a"].macs
    assert [p.model_error for p in a.plans] == sorted(p.model_error for p in a.plans)
    assert a.model_error == a.plans[0].model_error


def test_metric_and_data() -> None:
    calls = []

    def metric(new: torch.Tensor, dense: torch.Tensor) -> float:
        calls.append(new.shape)
        return float((new - dense).abs().max())

    data = [torch.randn(2, 16, 12, 12) for _ in range(2)]
    a = advise(TwoConvs(), X, budget=0.5, methods=("svd", "tucker"), repeats=0, data=data,
               metric=metric)
    assert calls and all(shape == (2, 16, 12, 12) for shape in calls)
    assert a.model_error == pytest.approx(min(p.model_error for p in a.plans))


def test_never_a_plan_slower_than_dense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(advise_module, "time_blocks", _fake_timer(2.0))
    a = advise(TwoConvs(), X, budget=0.5, methods=("svd", "tucker"), repeats=1)
    assert a.plan() == {}
    assert all(o.method == "dense" for layer in a.layers for o in layer.options
               if o.recommended)
    assert any("measured slower than dense were replaced" in n for n in a.notes)
    assert a.crossover["svd"].startswith("slower than dense at every width timed")


def test_a_faster_plan_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(advise_module, "time_blocks", _fake_timer(0.5))
    a = advise(TwoConvs(), X, budget=0.5, methods=("svd",), repeats=1)
    assert a.plan() and a.plan_latency_ms < a.latency_ms and a.latency_scope == "model"
    rows = [layer for layer in a.layers if layer.options]
    assert all(layer.verdict() == "2.00x faster" for layer in rows
               if layer.recommended().method != "dense")
    assert "Latency (torch, whole model)" in str(a)


def test_by_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(advise_module, "time_blocks", _fake_timer(0.4))
    a = advise(TwoConvs(), X, budget=0.5, methods=("svd",), repeats=1, by="latency",
               sensitivity=False)
    assert a.by == "latency" and a.plan()  # every option takes 0.4 of dense: 0.5 is met


class Outputs(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> object:
        y = self.conv(x)
        if self.kind == "dict":
            return {"features": y, "count": 3, "pooled": y.mean((2, 3))}
        return (y, None, [y.sum()])


@pytest.mark.parametrize("kind", ["dict", "tuple"])
def test_any_output_container(kind: str) -> None:
    a = advise(Outputs(kind), (1, 3, 8, 8), budget=0.6, methods=("svd", "tucker"), repeats=0)
    assert a.model_error is not None and 0 <= a.model_error < 1


def test_transformers_model_output() -> None:
    transformers = pytest.importorskip("transformers")
    cfg = transformers.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                    layer_type="basic", num_labels=3)
    torch.manual_seed(0)
    model = transformers.ResNetForImageClassification(cfg).eval()
    a = advise(model, (1, 3, 32, 32), budget=0.5, methods=("svd", "tucker"), repeats=0)
    assert a.plan_macs <= 0.5 * a.conv_macs and a.model_error is not None
    from convzoo.decomposition import decompose

    new, report = decompose(model, torch.randn(1, 3, 32, 32), "auto", budget=0.5, repeats=0)
    assert type(new(torch.randn(1, 3, 32, 32))).__name__ == "ImageClassifierOutputWithNoAttention"
    assert 0 < report.output_error < 1


def test_interrupted_keeps_what_is_done() -> None:
    def metric(new: object, dense: object) -> float:
        raise KeyboardInterrupt

    with pytest.raises(Interrupted) as e:
        advise(TwoConvs(), X, budget=0.5, methods=("svd",), repeats=0, metric=metric)
    assert e.value.stage == "measuring sensitivity"
    partial = e.value.partial
    assert partial.interrupted == "measuring sensitivity"
    assert [layer.name for layer in partial.layers] == ["a", "b"]
    assert "Interrupted while measuring sensitivity" in str(partial)


def test_table_and_arguments() -> None:
    a = advise(TwoConvs(), X, budget=0.5, methods=("svd",), repeats=0)
    text = str(a)
    assert "*svd 1" in text and max(len(line) for line in text.splitlines()) <= 80
    with pytest.raises(ValueError, match=r"^`methods` \(=\(\)\) must be a non-empty"):
        advise(TwoConvs(), X, methods=())
    with pytest.raises(ValueError, match=r"^`sensitivity` \(=1\) must be True or False$"):
        advise(TwoConvs(), X, sensitivity=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["onnxruntime",
                                     pytest.param("openvino", marks=pytest.mark.slow)])
def test_latency_on_an_onnx_backend(backend: str, quiet_onnx: None) -> None:
    pytest.importorskip(backend)
    net = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
    a = advise(net, (1, 8, 16, 16), budget=0.5, methods=("svd",), repeats=1, backend=backend,
               sensitivity=False)
    dense = a.layers[0].options[0]
    assert a.backend == backend and dense.latency_ms is not None and dense.latency_ms > 0
    assert a.latency_ms is not None and f"Latency ({backend}" in str(a)


def test_model_without_convs() -> None:
    with pytest.raises(ValueError) as e:
        advise(nn.Sequential(nn.Flatten(), nn.Linear(48, 4)), (1, 3, 4, 4), repeats=0)
    assert str(e.value) == ("`model` (=Sequential) has no convolution to decompose: no "
                            "torch.nn.Conv1d/2d/3d or convzoo conv module in it")


def test_progress_per_step_layer_and_method(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``progress=True`` every long step gets a bar, advanced per layer (and method) up
    to its total; the bars themselves (rich, on stderr) are replaced by a recorder here."""
    from convzoo.decomposition.progress import Steps

    bars: list[list] = []  # [description, total, [labels]]

    def add(_self: Steps, description: str, total: int) -> int:
        bars.append([description, total, []])
        return len(bars) - 1

    monkeypatch.setattr(Steps, "_add", add)
    monkeypatch.setattr(Steps, "_update",
                        lambda _self, task, _d, label, _done: bars[task][2].append(label))
    monkeypatch.setattr(Steps, "_remove", lambda _self, _task: None)
    advise(TwoConvs(), X, budget=0.5, methods=("svd", "tucker"), repeats=1, progress=True)
    steps = {b[0] for b in bars}
    assert {"factorizing", "evaluating candidates", "sensitivity", "comparing plans",
            "timing layers"} <= steps
    assert all(len(labels) == total for _, total, labels in bars)  # every bar completes
    factorizing = next(b for b in bars if b[0] == "factorizing")
    assert sorted(factorizing[2]) == ["a svd", "a tucker", "b svd", "b tucker"]
