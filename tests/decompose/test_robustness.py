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
