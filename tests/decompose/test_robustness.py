"""Reproducers from the attack on issue 20 (/work/notes/attack-20.md), pinned: the user's model
is never modified, budgets are never silently dropped, bad inputs are one-line errors, convs
whose module is not just its kernel are never reported exact when they are not."""

from __future__ import annotations

import importlib.util
import warnings

import pytest
import torch
import torch.nn as nn

from convzoo.decomposition import advise, decompose


def _bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1))


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                    reason="onnxruntime not installed")
@pytest.mark.parametrize("call", ["advise", "decompose"])
def test_onnxruntime_timing_keeps_the_models_modes(call: str) -> None:
    """D29/D30: latency.runner put the user's model in eval mode and never restored it."""
    net = _bn_net().train()
    net[1].eval()  # a mixed-mode model comes back mixed
    before = [m.training for m in net.modules()]
    x = torch.randn(2, 3, 8, 8)
    if call == "advise":
        advise(net, x, budget=0.5, repeats=1, backend="onnxruntime", methods=("tucker",))
    else:
        decompose(net, x, "tucker", rank=2, repeats=1, backend="onnxruntime")
    assert [m.training for m in net.modules()] == before


def test_unmet_latency_budget_is_warned_and_noted() -> None:
    """B13: `_choose` passed notes=[] to latency_plan and dropped its "cannot be met" note."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    with pytest.warns(UserWarning, match=r"the latency budget \(30%\) cannot be met"):
        _, rep = decompose(net, torch.randn(1, 4, 8, 8), "auto", budget=0.3, by="latency",
                           repeats=1)
    assert any(n.startswith("the latency budget (30%) cannot be met") for n in rep.notes)
    assert any("the latency budget" in line for line in str(rep).splitlines())


def _small() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))


@pytest.mark.parametrize(("call", "kwargs", "message"), [
    ("decompose", {"example_input": (1, -3, 8, 8)},  # D14: was torch's RuntimeError
     "`example_input` (=(1, -3, 8, 8)) must be a tensor or a shape (N, C, *spatial) of "
     "positive ints"),
    ("advise", {"example_input": (1, 3, 8.7, 8)},  # D15: was silently truncated to 8
     "`example_input` (=(1, 3, 8.7, 8)) must be a tensor or a shape (N, C, *spatial) of "
     "positive ints"),
    ("decompose", {"example_input": (1, 3, True, 8)},
     "`example_input` (=(1, 3, 1, 8)) must be a tensor or a shape (N, C, *spatial) of "
     "positive ints"),
    ("decompose", {"layers": []},  # D20: "succeeded" doing nothing
     "`layers` (=[]) must name conv modules of the model (at least one); valid: 0, 2"),
])
def test_bad_shapes_and_layers(call: str, kwargs: dict, message: str) -> None:
    args = {"example_input": torch.randn(1, 3, 8, 8), "repeats": 0, **kwargs}
    with pytest.raises(ValueError) as e:
        if call == "advise":
            advise(_small(), **args)
        else:
            decompose(_small(), method="svd", rank=2, **args)
    assert str(e.value) == message


def _nan(x: torch.Tensor, value: float = float("nan")) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[5] = value
    return x


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_inputs_and_weights_are_one_line_errors(value: float) -> None:
    """D25/D26/D27: a LinAlgError traceback (data, weight) or a report of inf errors (example)."""
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(ValueError) as e:  # D25
        advise(_small(), x, data=_nan(torch.randn(4, 3, 8, 8), value), repeats=0)
    assert str(e.value) == ("`data` (shape (4, 3, 8, 8)) holds NaN or Inf: every value must "
                            "be finite")
    with pytest.raises(ValueError) as e:
        decompose(_small(), x, "svd", rank=2, repeats=0,
                  data=[torch.randn(2, 3, 8, 8), _nan(torch.randn(2, 3, 8, 8), value)])
    assert str(e.value) == ("`data` (batch 1, shape (2, 3, 8, 8)) holds NaN or Inf: every "
                            "value must be finite")
    with pytest.raises(ValueError) as e:  # D26
        decompose(_small(), _nan(x, value), "auto", budget=0.5, repeats=0)
    assert str(e.value) == ("`example_input` (shape (2, 3, 8, 8)) holds NaN or Inf: every "
                            "value must be finite")
    net = _small()
    with torch.no_grad():
        net[2].weight[0, 0, 0, 0] = value
    with pytest.raises(ValueError) as e:  # D27
        decompose(net, x, "tucker", rank=2, repeats=0)
    assert str(e.value) == ("`model` conv '2' holds NaN or Inf in its weight: every value "
                            "must be finite")


def test_model_giving_inf_on_a_finite_example_is_an_error() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3))
    with torch.no_grad():
        net[0].weight.fill_(1e30)
    with pytest.raises(ValueError, match=r"^`model` \(Sequential\) gives NaN or Inf on "):
        decompose(net, torch.full((1, 3, 8, 8), 1e30), "svd", rank=2, repeats=0)


def test_cli_nan_data_is_one_line_exit_2(tmp_path, capsys) -> None:  # F22
    from convzoo.cli.main import main

    (tmp_path / "net.py").write_text(
        "import torch.nn as nn\n"
        "def make():\n"
        "    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), "
        "nn.Conv2d(8, 8, 3, padding=1))\n")
    torch.save([_nan(torch.randn(2, 3, 8, 8))], tmp_path / "nan.pt")
    rc = main(["decompose", f"{tmp_path / 'net.py'}:make", "--input", "1,3,8,8", "--method",
               "svd", "--rank", "2", "--repeats", "0", "--data", str(tmp_path / "nan.pt")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err == ("convzoo: error: `data` (shape (2, 3, 8, 8)) holds NaN or Inf: every value "
                   "must be finite")
