"""CP-ALS: never worse than its start, recovers an exact low-rank tensor, batched equals one at
a time, and stops on the shared event."""

from __future__ import annotations

import threading

import pytest
import torch

from convzoo.decomposition.als import Interrupted, cp_als
from convzoo.decomposition.cp_terms import Terms, exact_terms, reconstruct


def _error(t: torch.Tensor, terms: Terms) -> float:
    return float((reconstruct(terms) - t).norm() / t.norm())


@pytest.mark.parametrize("shape", [(1, 6, 5, 3, 3), (1, 4, 7, 3), (3, 5, 3, 3), (2, 6, 4)])
def test_never_worse_than_the_start(shape: tuple[int, ...]) -> None:
    t = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for rank in (1, 3, 7):
        start = exact_terms(t).head(rank)
        refined, error, _ = cp_als(t, start)
        assert error <= _error(t, start) + 1e-12
        assert error == pytest.approx(_error(t, refined), abs=1e-9)


def test_recovers_a_low_rank_tensor() -> None:
    g = torch.Generator().manual_seed(1)
    factors = [torch.randn(1, d, 4, generator=g, dtype=torch.float64) for d in (10, 9, 3, 3)]
    t = reconstruct(Terms(torch.ones(1, 4, dtype=torch.float64), factors))
    start = exact_terms(t).head(4)
    _, error, sweeps = cp_als(t, start, tol=1e-10, max_sweeps=2000)
    assert _error(t, start) > 0.05 and error < 1e-3, (error, sweeps)


def test_batched_equals_one_at_a_time() -> None:
    t = torch.randn(3, 5, 3, 3, generator=torch.Generator().manual_seed(2),
                    dtype=torch.float64)
    start = exact_terms(t).head(2)
    together, _, _ = cp_als(t, start, max_sweeps=5, tol=0.0)
    alone = [cp_als(t[i:i + 1], exact_terms(t[i:i + 1]).head(2), max_sweeps=5, tol=0.0)[0]
             for i in range(3)]
    joined = torch.cat([reconstruct(a) for a in alone])
    torch.testing.assert_close(reconstruct(together), joined, rtol=1e-8, atol=1e-10)


def test_stop_event_interrupts() -> None:
    t = torch.randn(1, 6, 6, 3, dtype=torch.float64)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Interrupted):
        cp_als(t, exact_terms(t).head(3), stop=stop)
    assert issubclass(Interrupted, KeyboardInterrupt)
