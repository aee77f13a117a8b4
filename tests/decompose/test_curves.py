"""Curves: one decomposition per layer, every rank from it. Costs counted without building a
module equal ``summary`` of the built module; errors from singular values equal the built
replacement's; sampled patches reproduce the conv's outputs; data-aware factors lower the
output error on held-out data from the same distribution."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from convzoo.analysis import CONV_KINDS, summary
from convzoo.decomposition.curve import chain_cost
from convzoo.decomposition.methods import curve
from convzoo.decomposition.stats import LayerSample, sample_patches, sampled_error
from convzoo.decomposition.target import METHOD_NAMES, find_targets, refusal

CONVS = [
    (lambda: nn.Conv2d(5, 7, 3, stride=2, padding=1), (2, 5, 9, 11)),
    (lambda: nn.Conv2d(6, 4, (3, 2), padding="same", bias=False), (1, 6, 8, 8)),
    (lambda: nn.Conv2d(4, 6, 3, dilation=2, padding=2, padding_mode="reflect"), (1, 4, 9, 9)),
    (lambda: nn.Conv1d(6, 4, 3), (1, 6, 9)),
    (lambda: nn.Conv3d(3, 4, 3, padding=1), (1, 3, 5, 5, 5)),
    (lambda: nn.Conv2d(8, 6, 1, stride=2), (1, 8, 7, 7)),
]


def _conv_macs(module: nn.Module, shape: tuple[int, ...]) -> tuple[int, int]:
    s = summary(module, shape)
    return s.totals.params, sum(r.macs for r in s.rows if r.kind in CONV_KINDS)


@pytest.mark.parametrize("case", CONVS, ids=lambda c: str(c[1]))
def test_costs_are_the_built_modules(case: tuple) -> None:
    make, shape = case
    torch.manual_seed(0)
    t = find_targets(make().double())[0]
    for method in METHOD_NAMES:
        if refusal(t.spec, method) is not None:
            continue
        c = curve(t, method, shape)
        grid = c.grid()
        for rank in {grid[0], grid[len(grid) // 2], grid[-1]} if grid else set():
            assert c.cost(rank) == chain_cost(c.stages(rank), shape)
            assert c.cost(rank) == _conv_macs(c.build(rank).module, shape), (method, rank)
        assert all(c.cost(r)[1] < c.dense_cost()[1] for r in grid)


@pytest.mark.parametrize("method", ["separable", "spatially_separable", "svd", "tucker"])
def test_errors_from_singular_values(method: str) -> None:
    torch.manual_seed(0)
    t = find_targets(nn.Conv2d(6, 8, 3, padding=1).double())[0]
    c = curve(t, method, (1, 6, 7, 7))
    for rank in c.grid():
        built = c.build(rank).weight
        actual = float((built - t.weight).norm() / t.weight.norm())
        assert actual == pytest.approx(c.error(rank), abs=1e-10)
    if method == "tucker":  # HOOI only lowers the truncated HOSVD's error
        rank = c.grid()[len(c.grid()) // 2]
        assert c.polish(rank) and not c.polish(rank)
        refined = float((c.build(rank).weight - t.weight).norm() / t.weight.norm())
        assert refined <= c.error(rank) + 1e-12


def test_errors_fall_with_rank() -> None:
    torch.manual_seed(0)
    t = find_targets(nn.Conv2d(8, 8, 3, padding=1).double())[0]
    for method in ("separable", "spatially_separable", "svd"):
        c = curve(t, method, (1, 8, 6, 6))
        errors = [c.error(r) for r in range(1, int(c.full_rank) + 1)]
        assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-12


@pytest.mark.parametrize("case", CONVS[:5], ids=lambda c: str(c[1]))
def test_sampled_patches_reproduce_the_conv(case: tuple) -> None:
    make, shape = case
    torch.manual_seed(0)
    conv = make().double()
    t = find_targets(conv)[0]
    x = torch.randn(shape, dtype=torch.float64) * 1e3
    y = conv(x).movedim(1, -1).reshape(-1, t.spec.out_channels)
    patches = sample_patches(x, t.spec, 10**9).double()  # every position
    bias = 0 if t.bias is None else t.bias
    torch.testing.assert_close(patches @ t.weight.reshape(t.spec.out_channels, -1).T + bias, y,
                               rtol=1e-5, atol=1e-2)


def test_sampled_error_is_the_output_error() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, padding=1)
    t = find_targets(conv)[0]
    x = torch.randn(1, 4, 8, 8)
    c = curve(t, "svd", (1, 4, 8, 8))
    f = c.build(2)
    patches = sample_patches(x, t.spec, 10**9)
    out = patches @ t.weight.reshape(6, -1).float().T + t.bias.float()
    err = sampled_error(LayerSample(patches.detach(), out.detach()), f.weight - t.weight)
    with torch.no_grad():
        y, y_hat = conv(x), F.conv2d(x, f.weight.float(), conv.bias, padding=1)
    assert err == pytest.approx(float((y_hat - y).norm() / y.norm()), rel=1e-4)


def _correlated(n: int, channels: int, seed: int) -> torch.Tensor:
    """Inputs whose channels live near a 3-dimensional subspace (as real features do)."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(channels, 3, generator=torch.Generator().manual_seed(99))
    z = torch.randn(n, 3, 10, 10, generator=g)
    noise = 0.05 * torch.randn(n, channels, 10, 10, generator=g)
    return torch.einsum("ck,nkhw->nchw", basis, z) + noise


@pytest.mark.parametrize("method", ["svd", "tucker", "cp", "flattened"])
def test_data_aware_lowers_held_out_output_error(method: str) -> None:
    from convzoo.decomposition.capture import capture

    torch.manual_seed(0)
    conv = nn.Conv2d(12, 12, 3, padding=1)
    net = nn.Sequential(conv)
    train, held = _correlated(8, 12, 1), _correlated(8, 12, 2)
    t = find_targets(net)[0]
    infos, _, _ = capture(net, train[:1], [t], data=[train])
    aware = curve(t, method, (1, 12, 10, 10), infos["0"].sample)
    plain = curve(t, method, (1, 12, 10, 10))
    assert aware.data_aware and not plain.data_aware
    rank = {"svd": 3, "tucker": (4, 3), "cp": 6, "flattened": 1}[method]
    y = conv(held)
    errors = []
    for c in (aware, plain):
        f = c.build(rank)
        with torch.no_grad():
            y_hat = f.module(held)
            errors.append(float((y_hat - y).norm() / y.norm()))
    assert errors[0] < errors[1]
