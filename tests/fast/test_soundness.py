"""Regressions from the review of the graph-based optimize: each case ends exact on new
inputs or refused with a one-line ValueError naming the module and the reason."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from convzoo.fast import optimize
from convzoo.fast.verify import compare, rtol_for


def _sabotage(monkeypatch, factor: float) -> None:
    """Make the rewrites scale every relu output by ``factor`` (a wrong rewrite)."""
    import convzoo.fast.optimizer as opt

    def broken(gm):
        for node in list(gm.graph.nodes):
            if node.op == "call_function" and node.target is torch.ops.aten.relu.default:
                with gm.graph.inserting_after(node):
                    scaled = gm.graph.call_function(torch.ops.aten.mul.Tensor, (node, factor))
                node.replace_all_uses_with(scaled)
                scaled.args = (node, factor)
        gm.recompile()
        return 0

    monkeypatch.setattr(opt, "fold_shuffles", broken)


def test_tolerance_is_relative_to_the_output_scale(monkeypatch) -> None:
    # finding 4: outputs of size 1e-5 with a 50 % error used to pass an absolute 1e-4 bound
    _sabotage(monkeypatch, 1.5)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
    with torch.no_grad():
        model[3].weight.mul_(1e-5)
        model[3].bias.zero_()
    with pytest.raises(ValueError, match=r"^`model` \(Sequential\) optimized with "
                       r"backend='torch', precision='fp32' differs from the original on the "
                       r"example: output: max abs error [\d.e+-]+ > tolerance [\d.e+-]+ \(rtol "
                       r"0.0001 x max \|original\| [\d.e+-]+\); refusing the result$"):
        optimize(model, torch.randn(1, 3, 8, 8))


def test_tolerance_per_output_leaf() -> None:
    # a small leaf next to a large one is held to its own scale
    ref = (torch.tensor([1000.0]), torch.tensor([1e-3]))
    err, _, why = compare((ref[0], torch.tensor([2e-3])), ref)
    assert why == ("output[1]: max abs error 0.001 > tolerance 1e-07 (rtol 0.0001 x max "
                   "|original| 0.001)")
    assert compare(ref, ref)[2] is None
    assert compare({"a": torch.zeros(3)}, {"a": torch.zeros(3)})[2] is None
    assert compare({"a": torch.full((3,), 1e-30)}, {"a": torch.zeros(3)})[2] is not None


def test_leaf_messages_name_the_leaf() -> None:
    # finding 15: "max abs error inf" said neither which output nor why
    assert compare({"k": torch.tensor([1, 2])}, {"k": torch.tensor([1, 3])})[2] == (
        "output['k']: 1 of 2 torch.int64 entries differ (integer/boolean outputs must be "
        "equal, e.g. an argmax flipped by rounding)")
    assert compare((torch.zeros(1), 0.5), (torch.zeros(1), 0.25))[2] == (
        "output[1]: 0.5 where the original gives 0.25")
    assert compare(torch.zeros(2, 3), torch.zeros(3, 2))[2] == (
        "output: shape (2, 3) where the original gives (3, 2)")
    nan = torch.tensor([float("nan"), 1.0])
    assert compare(torch.tensor([0.0, 1.0]), nan)[2] == (
        "output: NaN at 0 entries where the original has NaN at 1")
    assert compare(nan.clone(), nan)[2] is None


def test_tolerance_depends_on_dtype() -> None:
    assert [rtol_for(d) for d in (torch.float64, torch.float32, torch.float16,
                                  torch.bfloat16)] == [1e-7, 1e-4, 1e-2, 5e-2]


@pytest.mark.parametrize("bn", [False, True])
def test_float16_model_accepted(bn: bool) -> None:
    # finding 12: fp16 models were refused by the fp32 tolerance
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)] if bn else [
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3)]
    model = nn.Sequential(*layers).half().eval()
    if bn:
        with torch.no_grad():
            model[1].running_var.uniform_(0.5, 2.0)
            model[1].running_mean.uniform_(-1.0, 1.0)
    fast = optimize(model, torch.randn(1, 3, 16, 16).half())
    for batch in (1, 2):
        x = torch.randn(batch, 3, 16, 16).half()
        with torch.no_grad():
            assert compare(fast(x), model(x))[2] is None
