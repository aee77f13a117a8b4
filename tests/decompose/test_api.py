"""``convzoo.decompose``: the copy, the report, budgets, the MAC guard and argument validation."""

from __future__ import annotations

import math
import types

import pytest
import torch
import torch.nn as nn

from convzoo.analysis import CONV_KINDS, summary
from convzoo.decomposition import decompose
from convzoo.layers import Conv2d, DepthwiseSeparable


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        Conv2d(8, 16, 3, padding="same"), nn.ReLU(),
        nn.Conv2d(16, 8, 1), nn.Conv2d(8, 8, 3, groups=2, padding=1),
        nn.Conv2d(8, 8, 3, dilation=2, padding=2),
    )


X = torch.randn(2, 3, 10, 10)
ONE_BY_ONE = "1x1 conv: no spatial extent to factor (method 'svd' splits it into two 1x1 convs)"


def test_original_untouched_and_full_rank_exact() -> None:
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.warns(UserWarning, match="cost more MACs than the conv they replace"):
        new, report = decompose(net, X, "separable", repeats=0)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert isinstance(new[0][0], DepthwiseSeparable) and isinstance(net[0], nn.Conv2d)
    torch.testing.assert_close(new(X), net(X), rtol=1e-4, atol=1e-5)
    status = {r.name: (r.status, r.reason) for r in report.layers}
    assert status["4"] == ("skipped", ONE_BY_ONE)
    assert status["5"] == ("skipped", "grouped conv (groups=2): every method factors filters "
                           "that read all input channels (groups=1); left alone")
    assert status["6"][0] == "decomposed"  # dilated: separable handles it
    assert report.output_error < 1e-5
    assert all(r.weight_error < 1e-6 for r in report.layers)
    # full rank costs more MACs than the conv: flagged, never silent
    assert all(r.warning.startswith("separable rank ") for r in report.layers
               if r.status == "decomposed" and r.macs_after >= r.macs_before)
    assert "Warning 0: separable rank 8 costs" in str(report)


def test_depthwise_refused_with_reason() -> None:
    net = nn.Sequential(nn.Conv2d(4, 4, 3, groups=4), nn.Conv2d(4, 4, 3))
    _, report = decompose(net, torch.randn(1, 4, 9, 9), "tucker", rank=2, repeats=0)
    assert report.layers[0].reason == ("depthwise conv (groups=4): each filter reads one "
                                       "channel, there is no channel mixing to factor; left "
                                       "alone")
    assert report.layers[1].status == "decomposed"


def test_one_by_one_by_svd() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(16, 32, 1), nn.ReLU(), nn.Conv2d(32, 16, 1, bias=False))
    x = torch.randn(2, 16, 6, 6)
    new, report = decompose(net, x, "svd", rank=4, repeats=0)
    assert [tuple(m.weight.shape) for m in new[0]] == [(4, 16, 1, 1), (32, 4, 1, 1)]
    assert [r.macs_after for r in report.layers] == [2 * 36 * (16 * 4 + 4 * 32),
                                                     2 * 36 * (32 * 4 + 4 * 16)]
    assert new[2][1].bias is None and new[0][1].bias is not None
    with pytest.warns(UserWarning):
        exact, _ = decompose(net.double(), x.double(), "svd", repeats=0)
    torch.testing.assert_close(exact(x.double()), net(x.double()), rtol=1e-10, atol=1e-10)


def test_report_counts_come_from_summary() -> None:
    net = _net()
    new, report = decompose(net, X, "tucker", rank=2, repeats=0)
    conv = sum(r.macs for r in summary(new, tuple(X.shape)).rows if r.kind in CONV_KINDS)
    assert report.conv_macs_after == conv < report.conv_macs_before
    row = next(r for r in report.layers if r.name == "2")
    assert row.rank == (2, 2) and row.method == "tucker"
    assert row.macs_before == summary(net[2], (2, 8, 10, 10)).totals.macs
    assert row.params_after == sum(p.numel() for p in new[2].parameters())
    assert row.macs_after == summary(new[2], (2, 8, 10, 10)).totals.macs
    assert 0 < row.output_error < 1 and 0 < row.weight_error < 1
    d = report.to_dict()
    assert d["layers"][1]["rank"] == [2, 2] and d["mac_ratio"] == report.mac_ratio
    assert "Conv MACs" in str(report)


def test_dilated_refused_by_per_axis_methods() -> None:
    _, report = decompose(_net(), X, "cp", rank=2, repeats=0)
    row = next(r for r in report.layers if r.name == "6")
    assert row.reason == ("dilation (2, 2): the per-axis layers take no dilation (use "
                          "separable, tucker or svd)")


@pytest.mark.parametrize("method", ["auto", "tucker", "svd"])
def test_budget_is_met_and_nothing_dearer(method: str) -> None:
    net = _net()
    new, report = decompose(net, X, method, budget=0.5, repeats=0)
    assert report.conv_macs_after <= 0.5 * report.conv_macs_before
    assert new(X).shape == net(X).shape
    assert all(r.macs_after < r.macs_before for r in report.layers if r.status == "decomposed")


def test_latency_budget_measures() -> None:
    net = nn.Sequential(nn.Conv2d(16, 32, 5, padding=2))
    _, report = decompose(net, torch.randn(1, 16, 24, 24), "separable", budget=1.0,
                          by="latency", repeats=1)
    layer = report.layers[0]
    for ms in (layer.latency_before_ms, layer.latency_after_ms, report.latency_before_ms,
               report.latency_after_ms):  # measured: positive, finite milliseconds
        assert ms is not None and 0 < ms < 1e4
    for spread in (report.latency_before_spread_ms, report.latency_after_spread_ms):
        assert spread is not None and 0 <= spread < 1e4
    assert report.latency_ratio == pytest.approx(report.latency_before_ms
                                                 / report.latency_after_ms)
    assert "Latency (torch):" in report.footer()


def test_layers_argument_restricts() -> None:
    _, report = decompose(_net(), X, "separable", rank=1, layers=["0"], repeats=0)
    assert [r.name for r in report.layers] == ["0"]


@pytest.mark.parametrize("method", ["separable", "spatially_separable", "flattened", "cp",
                                    "tucker", "svd"])
def test_energy_means_the_same_for_every_method(method: str) -> None:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(6, 8, 3, padding=1))
    energy = 0.8
    _, report = decompose(net, torch.randn(1, 6, 8, 8), method, energy=energy, repeats=0)
    row = report.layers[0]
    assert row.weight_error <= math.sqrt(1 - energy) + 1e-9
    if isinstance(row.rank, int) and row.rank > 1 and method != "cp":
        _, lower = decompose(net, torch.randn(1, 6, 8, 8), method, rank=row.rank - 1,
                             repeats=0)
        assert lower.layers[0].weight_error > math.sqrt(1 - energy)  # the smallest such rank


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "lowrank"}, "`method` (='lowrank') must be one of: separable, "
     "spatially_separable, flattened, cp, tucker, svd, auto"),
    ({"method": "cp", "rank": 2, "energy": 0.5},
     "`rank` and `energy` were both given: pass at most one of `rank`, `energy`, `budget`"),
    ({"method": "cp", "energy": 1.5}, "`energy` (=1.5) must be a number in (0, 1] (the "
     "fraction of the squared weight norm kept)"),
    ({"method": "cp", "rank": 0}, "`rank` (=0) must be a positive int for method 'cp'"),
    ({"method": "tucker", "rank": (1, 2, 3)},
     "`rank` (=(1, 2, 3)) must be a positive int or a pair (R_out, R_in) of positive ints "
     "for method 'tucker'"),
    ({"method": "auto", "budget": 0.0},
     "`budget` (=0.0) must be a number in (0, 1] (the fraction of the model's conv MACs, or "
     "latency, kept)"),
    ({"method": "auto"}, "`method` (='auto') needs `budget` (it picks per layer the method "
     "and rank that meet it)"),
    ({"method": "cp", "budget": 0.5, "by": "time"}, "`by` (='time') must be one of: macs, "
     "latency"),
    ({"method": "cp", "layers": ["nope"]}, "`layers` (=['nope']) must name conv modules of "
     "the model (at least one); valid: 0, 2, 4, 5, 6"),
    ({"method": "cp", "repeats": -1}, "`repeats` (=-1) must be an int >= 0"),
    ({"method": "cp", "budget": 0.5, "by": "latency"},
     "`repeats` (=0) must be >= 1 when `by` is 'latency'"),
    ({"method": "cp", "backend": "tensorrt"},
     "`backend` (='tensorrt') must be one of: torch, onnxruntime, openvino"),
    ({"method": "cp", "workers": 0}, "`workers` (=0) must be None or an int >= 1"),
    ({"method": "cp", "energy": 0.5, "data": torch.zeros(1, 3, 10, 10)},
     "`energy` (=0.5) keeps a fraction of the weight norm, which `data` does not change: with "
     "`data`, pass `budget` or `rank`"),
    ({"method": "cp", "metric": 3}, "`metric` (=int) must be a callable "
     "metric(outputs, dense_outputs) -> float (lower is better)"),
])
def test_argument_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as e:
        decompose(_net(), X, **{"repeats": 0, **kwargs})
    assert str(e.value) == message


def test_bad_model_and_input() -> None:
    with pytest.raises(ValueError, match=r"^`model` \(=int\) must be a torch.nn.Module$"):
        decompose(3, X, "cp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^`example_input` \(=\(3, 4\)\) must be a torch"):
        decompose(_net(), torch.zeros(3, 4), "cp")
    with pytest.raises(ValueError) as e:
        decompose(nn.Sequential(nn.Linear(4, 4)), torch.zeros(1, 3, 4), "cp")
    assert str(e.value) == ("`model` (=Sequential) has no convolution to decompose: no "
                            "torch.nn.Conv1d/2d/3d or convzoo conv module in it")


def test_wrong_input_channels_is_one_line() -> None:
    with pytest.raises(ValueError) as e:
        decompose(_net(), torch.zeros(1, 5, 10, 10), "tucker", rank=2, repeats=0)
    text = str(e.value)
    assert "\n" not in text
    assert text.startswith("`example_input` (shape (1, 5, 10, 10)) does not run through "
                           "`model` (Sequential): ")
    assert "channels" in text or "channel dim" in text


def test_budget_too_small() -> None:
    with pytest.raises(ValueError, match=r"^`budget` \(=0.01\) cannot be met: the cheapest "
                       r"plan keeps \d+\.\d% of the conv macs$"):
        decompose(_net(), X, "separable", budget=0.01, repeats=0)


def test_float64_model_and_train_mode_kept() -> None:
    net = _net().double().train()
    with pytest.warns(UserWarning):
        new, _ = decompose(net, X.double(), "spatially_separable", repeats=0)
    assert new.training and next(new[0].parameters()).dtype == torch.float64
    torch.testing.assert_close(new(X.double()), net(X.double()), rtol=1e-10, atol=1e-10)


def test_bare_conv_model() -> None:
    conv = nn.Conv2d(4, 6, 3, padding=1)
    new, report = decompose(conv, torch.randn(1, 4, 8, 8), "svd", rank=3, repeats=0)
    assert isinstance(new, nn.Sequential) and report.layers[0].name == ""
    assert new(torch.randn(1, 4, 8, 8)).shape == (1, 6, 8, 8)


def test_package_entry_points() -> None:
    import convzoo
    import convzoo.decomposition as package

    assert convzoo.decompose is package.decompose and convzoo.advise is package.advise
    assert type(package) is types.ModuleType  # a plain package, no callable module class
    from convzoo import advise
    from convzoo import decompose as top

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    new, report = top(net, X, method="tucker", rank=2, repeats=0)
    assert report.layers[0].method == "tucker" and report.layers[0].rank == (2, 2)
    advice = advise(net, X, budget=0.9, repeats=0)
    assert advice.plan_macs <= 0.9 * advice.conv_macs


@pytest.mark.parametrize("kwargs", [{"method": "tucker", "rank": 2},
                                    {"method": "auto", "budget": 0.33}])
def test_output_error_on_a_cropped_example_is_the_dense_models(kwargs: dict) -> None:
    """An example over SENSITIVITY_POSITIONS positions is evaluated on its centre crop; the
    reference there is the dense model's output, not the decomposed one's (it was computed
    after the replacements once, and the report said 0.0 for a 0.40 error)."""
    from convzoo.decomposition.search import SENSITIVITY_POSITIONS

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(16, 2, 3, padding=1)).eval()
    side = 2 * math.isqrt(SENSITIVITY_POSITIONS)  # 4x the positions: a 256x256 crop
    x = torch.randn(1, 1, side, side, generator=torch.Generator().manual_seed(1))
    new, report = decompose(net, x, repeats=0, progress=False, **kwargs)
    assert "centre crop" in report.error_input
    crop = x[:, :, side // 4: side // 4 + side // 2, side // 4: side // 4 + side // 2]
    with torch.no_grad():
        want = ((new(crop) - net(crop)).norm() / net(crop).norm()).item()
    assert want > 1e-3  # something was decomposed, lossily
    assert report.output_error == pytest.approx(want, rel=1e-4)
