"""The FFT path's grid (tight circular lengths) and its cache of weight spectra."""

from __future__ import annotations

import pytest
import torch

from convzoo.functional import conv_fft, fft, run_spec
from convzoo.functional.smooth import is_smooth, next_fast_len
from convzoo.spec import ConvSpec

EDGES = [  # (spec, input shape): grids bounded by H + max(lo, hi), by k, by H_out
    (ConvSpec(2, 3, 21, padding="same", ndim=2), (2, 2, 64, 61)),
    (ConvSpec(2, 2, (7, 9), padding=((6, 0), (0, 8)), ndim=2), (1, 2, 11, 12)),  # one-sided
    (ConvSpec(2, 2, 3, padding=9, ndim=2), (1, 2, 5, 6)),  # padding beyond the kernel
    (ConvSpec(1, 2, 21, padding="same", ndim=2), (1, 1, 4, 3)),  # kernel larger than input
    (ConvSpec(2, 2, (5, 4), dilation=(3, 2), stride=(2, 3), padding=(7, 2), ndim=2),
     (1, 2, 13, 17)),
    (ConvSpec(2, 3, 5, padding=(4, 2), padding_mode="reflect", ndim=2), (1, 2, 9, 7)),
    (ConvSpec(17, 2, 3, padding=1, ndim=2), (1, 17, 8, 8)),  # einsum channel mix
]


def _tensors(spec: ConvSpec, shape: tuple[int, ...], seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    w = torch.randn(spec.weight_shape, generator=g, dtype=torch.float64)
    b = torch.randn(spec.out_channels, generator=g, dtype=torch.float64)
    return x, w, b


@pytest.mark.parametrize("case", range(len(EDGES)))
def test_tight_grid_equals_native(case: int) -> None:
    spec, shape = EDGES[case]
    x, w, b = _tensors(spec, shape)
    ref = run_spec(spec, x, w, b)
    torch.testing.assert_close(conv_fft(spec, x, w, b), ref, rtol=0,
                               atol=1e-10 * max(ref.abs().max().item(), 1.0))


def test_next_fast_len() -> None:
    for n in range(1, 300):
        m = next_fast_len(n)
        assert m >= n and is_smooth(m) and (m % 4 == 0 or m <= 4)
        assert all(not (is_smooth(j) and j % 4 == 0) for j in range(max(n, 5), m))
    assert (next_fast_len(73), next_fast_len(82)) == (80, 96)


SPEC = ConvSpec(3, 4, 19, padding="same", ndim=2)


def _count_spectra(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    inner = fft._spectrum

    def counted(*args):
        calls[0] += 1
        return inner(*args)

    monkeypatch.setattr(fft, "_spectrum", counted)
    return calls


def test_cache_hit_equals_uncached(monkeypatch: pytest.MonkeyPatch) -> None:
    x, w, b = _tensors(SPEC, (2, 3, 24, 23))
    w = torch.nn.Parameter(w)
    calls = _count_spectra(monkeypatch)
    with torch.no_grad():
        first = conv_fft(SPEC, x, w, b)
        second = conv_fft(SPEC, x, w, b)
    assert calls[0] == 1 and fft._SPECTRA.get(w) is not None  # the second call hit
    uncached = conv_fft(SPEC, x, w, b)  # grad enabled, weight requires grad: no cache
    assert calls[0] == 2
    assert torch.equal(first, second) and torch.equal(second.detach(), uncached.detach())
    torch.testing.assert_close(second, run_spec(SPEC, x, w.detach(), b), rtol=0, atol=1e-9)


def test_cache_sees_in_place_updates(monkeypatch: pytest.MonkeyPatch) -> None:
    x, w, b = _tensors(SPEC, (1, 3, 20, 20))
    calls = _count_spectra(monkeypatch)
    conv_fft(SPEC, x, w, b)  # a weight not requiring grad is cached even with grad enabled
    w.mul_(2.0)  # in place: same tensor, same data_ptr
    y = conv_fft(SPEC, x, w, b)
    torch.testing.assert_close(y, run_spec(SPEC, x, w, b), rtol=0, atol=1e-9)
    p = torch.nn.Parameter(w.clone())
    with torch.no_grad():
        conv_fft(SPEC, x, p, b)
    p.data[0, 0, 0, 0] += 1.0  # through .data: the version counter does not see it
    with torch.no_grad():
        y = conv_fft(SPEC, x, p, b)
    torch.testing.assert_close(y, run_spec(SPEC, x, p.detach(), b), rtol=0, atol=1e-9)
    assert calls[0] == 4  # every change recomputed the spectrum


def test_cache_with_grad_gives_weight_gradient() -> None:
    x, w, b = _tensors(SPEC, (1, 3, 20, 20))
    w = torch.nn.Parameter(w)
    with torch.no_grad():
        conv_fft(SPEC, x, w, b)  # fills the cache
    conv_fft(SPEC, x, w, b).square().sum().backward()
    w_ref = w.detach().clone().requires_grad_()
    run_spec(SPEC, x, w_ref, b).square().sum().backward()
    assert w.grad is not None
    torch.testing.assert_close(w.grad, w_ref.grad, rtol=1e-9, atol=1e-8)


def test_no_cache_under_compile() -> None:
    x, w, b = _tensors(SPEC, (1, 3, 20, 20))
    compiled = torch.compile(lambda x, w: conv_fft(SPEC, x, w, b), fullgraph=True,
                             backend="aot_eager")
    with torch.no_grad():
        y = compiled(x, w)
    assert fft._SPECTRA.get(w) is None
    torch.testing.assert_close(y, run_spec(SPEC, x, w, b), rtol=0, atol=1e-9)


def test_cache_is_bounded_and_weak() -> None:
    x, w, b = _tensors(SPEC, (1, 3, 20, 20))
    with torch.no_grad():
        for side in (20, 40, 60, 80, 100):  # grids 32, 60, 72, 96, 120
            conv_fft(SPEC, torch.randn(1, 3, side, side, dtype=torch.float64), w, b)
    assert 1 <= len(fft._SPECTRA[w]) <= fft._SPECTRA_PER_WEIGHT
    before = len(fft._SPECTRA)
    del w
    assert len(fft._SPECTRA) == before - 1
