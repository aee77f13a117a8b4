"""``optimize(precision='bf16')``'s stated contract (issue 18): the bound is relative to the
input regime's output scale ``s_R`` (:func:`convzoo.fast.verify.regime_scale`), verified on
three inputs per regime; fp32 verification is unchanged. Results are judged by the
independent oracle :mod:`bf16_oracle`."""

from __future__ import annotations

import copy
import re

import pytest
import torch
import torch.nn as nn
from bf16_oracle import judge
from fuzz_nets import FuzzNet, cancelling_mean, example_for
from plain_nets import small_cnn

from convzoo.fast import Refusal, optimize
from convzoo.fast.precision import bf16_flags
from convzoo.fast.regimes import REGIMES, regimes
from convzoo.fast.verify import (
    BF16_INPUTS,
    checks,
    regime_scale,
    verification_seed,
    verify,
    with_scales,
)
from convzoo.functional.dispatch import native_only

needs_bf16 = pytest.mark.skipif(not bf16_flags(), reason="no native bfloat16 on this CPU")
FRESH = [name for name in REGIMES if name != "example"]


def _within(model: nn.Module, fast: nn.Module, x: torch.Tensor, scale: dict[str, float]) -> str:
    """'' when ``fast(x)`` meets bf16's stated bound at ``x``, else why not."""
    with torch.no_grad(), native_only():
        ref = model(x)
    with torch.no_grad():
        got = fast(x)
    why = judge(got, ref, scale)
    if why is not None:  # with the allowance for the original's own rounding
        with torch.no_grad(), native_only():
            why = judge(got, ref, scale, copy.deepcopy(model).double()(x.double()))
    return why or ""


def test_regime_scale_is_the_lower_median_over_three_fresh_inputs_of_each_regime() -> None:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Tanh()).eval()
    x = torch.randn(2, 2, 6, 6)
    scales = regime_scale(net, x)
    assert set(scales) == set(REGIMES)
    seed = verification_seed(x)
    assert seed == 20261206 + x.numel()
    for i, name in enumerate(FRESH):
        maxima = []
        for k in range(BF16_INPUTS):
            drawn = regimes(x, seed + k)[i]
            assert drawn.name == name
            with torch.no_grad():
                y = net(drawn.input).double()
            maxima.append(y[y.isfinite()].abs().max().item())
        assert scales[name] == {"output": sorted(maxima)[1]}, name
    assert scales["example"] == scales["like"]
    # every leaf of a structured output, named as refusals name them
    two = regime_scale(lambda t: {"y": (t, t.sum(1)), "n": 3}, x)
    assert list(two["image"]) == ["output['y'][0]", "output['y'][1]"]


def test_fp32_verification_is_unchanged() -> None:
    net = small_cnn()
    x = torch.randn(2, 3, 16, 16)
    fast = optimize(net, x)
    # the example and one fresh input per regime, as before; no regime scales
    assert [c.regime.name for c in fast._facts.checks] == list(REGIMES)
    assert fast.report.regime_scales == {}
    assert all(c.scale is None for c in fast._facts.checks)
    # scales attached to a check do not widen an fp32 bound
    with native_only(), torch.no_grad():
        found = checks(net, x, net(x), seed=0)
    with_scales(found, {name: {"output": 1e6} for name in REGIMES})
    with pytest.raises(Refusal, match=r"differs from the original on the example: output: max "
                       r"abs error 0\.01 > tolerance \S+ \(rtol 0\.0001 x max \|original\| "):
        verify(lambda t: net(t) + 0.01, found, "fp32", "net")


@needs_bf16
def test_bf16_verifies_three_inputs_per_regime_against_the_regime_scales() -> None:
    net = small_cnn()
    x = torch.randn(2, 3, 16, 16)
    fast = optimize(net, x, precision="bf16")
    names = [c.regime.name for c in fast._facts.checks]
    assert names == ["example", *FRESH * BF16_INPUTS]
    again = regime_scale(net, x)  # the report's scales are regime_scale's
    assert set(fast.report.regime_scales) == set(again) == set(REGIMES)
    for name, scale in again.items():
        assert fast.report.regime_scales[name] == pytest.approx(scale, rel=1e-6), name
    for name, (err, bound) in fast.report.regime_errors.items():
        assert err <= bound, name


@needs_bf16
def test_small_cnn_bf16_is_within_its_stated_bound_on_20_fresh_inputs_of_each_regime() -> None:
    net = small_cnn()
    x = torch.randn(2, 3, 16, 16)
    fast = optimize(net, x, precision="bf16")
    assert fast.report.precision == "bf16" and fast.report.backend == "torch"
    scales = regime_scale(net, x)
    for seed in range(20):
        for regime in regimes(x, 1000 + seed):
            why = _within(net, fast, regime.input, scales[regime.name])
            assert not why, (regime.name, seed, why)


def _bf16_refusal(model: nn.Module, x: torch.Tensor) -> str:
    """The one-line refusal of ``optimize(model, x, precision='bf16')``."""
    with pytest.raises(Refusal) as caught:
        optimize(model, x, precision="bf16")
    text = str(caught.value)
    assert "\n" not in text
    return text


class _Offset(nn.Module):
    """Adds and removes an offset of 100: in bfloat16 (8-bit mantissa) ``x + 100`` keeps
    no digit of a 1e-4 input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 100.0) - 100.0


@needs_bf16
def test_bf16_refusal_names_bf16_the_regime_the_leaf_and_the_error_against_the_bound() -> None:
    x = torch.randn(1, 3, 8, 8) * 1e3  # fine at this magnitude and on images; not at 1e-4
    assert optimize(_Offset(), x).report.precision == "fp32"  # fp32 keeps them
    text = _bf16_refusal(_Offset(), x)
    assert re.fullmatch(
        r"`model` \(_Offset\) optimized with backend='torch', precision='bf16' differs from "
        r"the original on a small-magnitude input: output: max abs error (\S+) > tolerance "
        r"(\S+) \(rtol 0\.05 x (the regime's output scale \S+ \()?max \|original\| \S+\)?"
        r"( \+ 4 x the original's own rounding \S+)?, x 0\.5: the share a reduced precision "
        r"may use\); refusing the result \(bfloat16 is too coarse for this model on that "
        r"input: use precision='fp32'\)", text), text


@needs_bf16
@pytest.mark.parametrize("seed", [101, 202, 303])
def test_bf16_mean_of_a_cancelling_conv_is_refused_naming_the_regime_and_error(seed) -> None:
    """The fuzz run's find (tests/fast/test_fuzz_optimize.py): the mean of a 19x19 conv is
    far smaller than the conv's terms. Its bf16 error on image-like inputs is a large share
    of even the regime's output scale: refused, whatever the example (the image-like
    inputs do not depend on its values)."""
    recipe = cancelling_mean()
    text = _bf16_refusal(FuzzNet(recipe), example_for(recipe, "normal", seed))
    assert re.fullmatch(
        r"`model` \(FuzzNet\) optimized with backend='torch', precision='bf16' differs from "
        r"the original on an image-like input \(0-255 with zero regions\): output\['mean'\]: "
        r"max abs error 0\.0181 > tolerance 0\.0123 \(rtol 0\.05 x max \|original\| 0\.494 "
        r"\+ 4 x the original's own rounding \S+, x 0\.5: the share a reduced precision may "
        r"use\); refusing the result \(bfloat16 is too coarse for this model on that input: "
        r"use precision='fp32'\)", text), text
