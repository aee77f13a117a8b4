"""Every method is exact at full rank (float64), against torch.nn's own convs as the oracle;
truncations match the dense kernel they report and lose error as the rank grows."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convzoo.decomposition.methods import METHODS, factorize
from convzoo.decomposition.target import METHOD_NAMES, find_targets, refusal

DT = torch.float64


def _conv(ndim: int, c_in: int, c_out: int, k: tuple[int, ...], **kw: object) -> nn.Module:
    cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim]
    torch.manual_seed(0)
    return cls(c_in, c_out, k, **kw).to(DT)


CASES = [
    (2, 4, 6, (3, 3), {"padding": 1}),
    (2, 6, 4, (1, 1), {}),
    (2, 8, 5, (1, 1), {"stride": 2}),
    (2, 5, 3, (3, 2), {"stride": 2, "padding": (1, 0)}),
    (2, 3, 7, (5, 5), {"padding": "same", "bias": False}),
    (2, 6, 4, (3, 3), {"stride": (2, 1), "padding": 2}),
    (1, 4, 5, (3,), {"padding": 1}),
    (3, 3, 4, (2, 3, 2), {"padding": 1}),
]


@pytest.mark.parametrize("method", METHOD_NAMES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}d-{c[3]}-{sorted(c[4])}")
def test_full_rank_is_exact(method: str, case: tuple) -> None:
    ndim, c_in, c_out, k, kw = case
    conv = _conv(ndim, c_in, c_out, k, **kw)
    target = find_targets(conv)[0]
    why = refusal(target.spec, method)
    if why is not None:  # refused: the one-line reason is the contract
        with pytest.raises(ValueError, match=f"^layer '': {re.escape(why)}$"):
            factorize(target, method)
    else:
        f = factorize(target, method, energy=1.0)
        assert f.exact and f.rank == METHODS[method].full_rank(target.spec)
        x = torch.randn(2, c_in, *[7] * ndim, dtype=DT)
        torch.testing.assert_close(f.module(x), conv(x), rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(f.weight, conv.weight.detach(), rtol=1e-10, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(c_in=st.integers(1, 5), c_out=st.integers(1, 5), kh=st.integers(1, 4),
       kw=st.integers(1, 4), stride=st.integers(1, 2), pad=st.integers(0, 2),
       method=st.sampled_from(METHOD_NAMES))
def test_full_rank_exact_random(c_in: int, c_out: int, kh: int, kw: int, stride: int, pad: int,
                                method: str) -> None:
    assume(kh * kw > 1)
    conv = _conv(2, c_in, c_out, (kh, kw), stride=stride, padding=pad)
    f = factorize(find_targets(conv)[0], method)
    x = torch.randn(1, c_in, 6, 7, dtype=DT)
    torch.testing.assert_close(f.module(x), F.conv2d(x, conv.weight, conv.bias, stride, pad),
                               rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("method", ["separable", "tucker"])
def test_dilated_and_reflect_exact(method: str) -> None:
    conv = _conv(2, 3, 4, (3, 3), dilation=2, padding=2, padding_mode="reflect")
    f = factorize(find_targets(conv)[0], method)
    x = torch.randn(2, 3, 8, 9, dtype=DT)
    torch.testing.assert_close(f.module(x), conv(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_error_shrinks_with_rank(method: str) -> None:
    conv = _conv(2, 8, 8, (3, 3), padding=1)
    target = find_targets(conv)[0]
    full = METHODS[method].full_rank(target.spec)
    top = full[0] if isinstance(full, tuple) else full
    errors = []
    for r in (1, max(top // 2, 1), top):
        f = factorize(target, method, rank=r)
        errors.append(float((f.weight - target.weight).norm() / target.weight.norm()))
    assert errors[0] > errors[-1] and errors[-1] < 1e-10
    assert errors[1] <= errors[0] + 1e-12


def test_truncated_module_matches_its_dense_weight() -> None:
    conv = _conv(2, 6, 5, (3, 3), padding=1)
    for method in METHOD_NAMES:
        f = factorize(find_targets(conv)[0], method, rank=2)
        x = torch.randn(1, 6, 6, 6, dtype=DT)
        torch.testing.assert_close(f.module(x), F.conv2d(x, f.weight, conv.bias, padding=1),
                                   rtol=1e-9, atol=1e-9)


def test_energy_picks_a_smaller_rank() -> None:
    conv = _conv(2, 8, 8, (3, 3), padding=1)
    target = find_targets(conv)[0]
    assert factorize(target, "separable", energy=0.5).rank < 8
    r_out, r_in = factorize(target, "tucker", energy=0.5).rank
    assert r_out * r_in < 64


def test_refusals_pinned() -> None:
    from convzoo.spec import ConvSpec

    assert refusal(ConvSpec(8, 8, 1), "svd") is None
    assert refusal(ConvSpec(8, 8, 1), "tucker") == ("1x1 conv: no spatial extent to factor "
                                                    "(method 'svd' splits it into two 1x1 "
                                                    "convs)")
    assert refusal(ConvSpec(8, 8, 3, groups=8), "svd") == (
        "depthwise conv (groups=8): each filter reads one channel, there is no channel mixing "
        "to factor; left alone")
    assert refusal(ConvSpec(8, 8, 3, groups=2), "cp") == (
        "grouped conv (groups=2): every method factors filters that read all input channels "
        "(groups=1); left alone")
    assert refusal(ConvSpec(8, 8, 3, transposed=True), "svd") == (
        "transposed conv: not decomposed (only forward convs are)")
    assert refusal(ConvSpec(8, 8, 3, padding=1, padding_mode="circular"), "cp") == (
        "padding_mode='circular': the per-axis layers pad with zeros (use separable, tucker "
        "or svd)")
