"""``convzoo.decompose``: the copy, the report, budgets and argument validation."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from convzoo.analysis import CONV_KINDS, summary
from convzoo.decompose.api import decompose
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


def test_original_untouched_and_full_rank_exact() -> None:
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    new, report = decompose(net, X, "separable", repeats=0)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert isinstance(new[0], DepthwiseSeparable) and isinstance(net[0], nn.Conv2d)
    torch.testing.assert_close(new(X), net(X), rtol=1e-4, atol=1e-5)
    status = {r.name: (r.status, r.reason) for r in report.layers}
    assert status["4"] == ("skipped", "1x1 conv: no spatial extent to factor, left alone")
    assert status["5"] == ("skipped", "grouped conv (groups=2): only groups=1 convs are "
                           "decomposed")
    assert status["6"][0] == "decomposed"  # dilated: separable handles it
    assert report.output_error < 1e-5
    assert all(r.weight_error < 1e-6 for r in report.layers)


def test_report_counts_come_from_summary() -> None:
    net = _net()
    new, report = decompose(net, X, "tucker", rank=2, repeats=0)
    conv = sum(r.macs for r in summary(new, tuple(X.shape)).rows if r.kind in CONV_KINDS)
    assert report.conv_macs_after == conv < report.conv_macs_before
    row = next(r for r in report.layers if r.name == "2")
    assert row.rank == (2, 2) and row.method == "tucker"
    assert row.macs_before == summary(net[2], (2, 8, 10, 10)).totals.macs
    assert row.params_after == sum(p.numel() for p in new[2].parameters())
    assert 0 < row.output_error < 1 and 0 < row.weight_error < 1
    d = report.to_dict()
    assert d["layers"][1]["rank"] == [2, 2] and d["mac_ratio"] == report.mac_ratio
    assert "Conv MACs" in str(report)


def test_dilated_refused_by_per_axis_methods() -> None:
    _, report = decompose(_net(), X, "cp", rank=2, repeats=0)
    row = next(r for r in report.layers if r.name == "6")
    assert row.reason == ("dilation (2, 2): the per-axis layers take no dilation (use "
                          "separable or tucker)")


@pytest.mark.parametrize("method", ["auto", "tucker"])
def test_budget_is_met(method: str) -> None:
    net = _net()
    new, report = decompose(net, X, method, budget=0.5, repeats=0)
    assert report.conv_macs_after <= 0.5 * report.conv_macs_before
    assert new(X).shape == net(X).shape


def test_latency_budget_measures() -> None:
    net = nn.Sequential(nn.Conv2d(16, 32, 5, padding=2))
    _, report = decompose(net, torch.randn(1, 16, 24, 24), "separable", budget=1.0,
                          by="latency", repeats=2)
    assert report.layers[0].latency_before_ms is not None
    assert report.latency_before_ms is not None


def test_layers_argument_restricts() -> None:
    _, report = decompose(_net(), X, "separable", rank=1, layers=["0"], repeats=0)
    assert [r.name for r in report.layers] == ["0"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "svd"}, "`method` (='svd') must be one of: separable, spatially_separable, "
     "flattened, cp, tucker, auto"),
    ({"method": "cp", "rank": 2, "energy": 0.5},
     "`rank` and `energy` were both given: pass at most one of `rank`, `energy`, `budget`"),
    ({"method": "cp", "energy": 1.5}, "`energy` (=1.5) must be a number in (0, 1]"),
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
     "the model; valid: 0, 2, 4, 5, 6"),
    ({"method": "cp", "repeats": -1}, "`repeats` (=-1) must be an int >= 0"),
    ({"method": "cp", "budget": 0.5, "by": "latency"},
     "`repeats` (=0) must be >= 1 when `by` is 'latency'"),
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


def test_budget_too_small() -> None:
    with pytest.raises(ValueError, match=r"^`budget` \(=0.01\) cannot be met: the cheapest "
                       r"plan keeps \d+\.\d% of the conv macs$"):
        decompose(_net(), X, "separable", budget=0.01, repeats=0)


def test_float64_model_and_train_mode_kept() -> None:
    net = _net().double().train()
    new, _ = decompose(net, X.double(), "spatially_separable", repeats=0)
    assert new.training and next(new[0].parameters()).dtype == torch.float64
    torch.testing.assert_close(new(X.double()), net(X.double()), rtol=1e-10, atol=1e-10)


def test_package_entry_points() -> None:
    import convzoo

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    new, report = convzoo.decompose(net, X, method="tucker", repeats=0)
    assert report.layers[0].method == "tucker" and report.output_error < 1e-5
    advice = convzoo.advise(net, X, budget=0.9, repeats=0)
    assert advice.plan_macs <= 0.9 * advice.conv_macs
    assert convzoo.decompose.factorize is not None  # the package stays a package
