"""Thread plans: the count is set only inside an optimized module's calls, restored on every
exit path and per Python thread; the region plan's dynamic programme."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.fx as fx
import torch.nn as nn

from convzoo.fast import optimize
from convzoo.fast.threads import (
    Threaded,
    ThreadPlan,
    region_plan,
    set_threads,
    torch_threads,
    with_regions,
)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


class _Counts(nn.Module):
    """Records the thread count it runs at; raises when asked to."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(torch.get_num_threads())
        if bool(x.isnan().any()):
            raise RuntimeError("boom")
        return x * 2


def test_count_restored_on_every_exit(two_threads) -> None:
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError, match="boom"), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
    inner = _Counts()
    run = Threaded(inner, ThreadPlan(1, 2))
    run(torch.ones(2))
    with pytest.raises(RuntimeError, match="boom"):
        run(torch.tensor([float("nan")]))
    assert inner.seen == [1, 1] and torch.get_num_threads() == 2


def test_region_switches_inside_the_call_are_undone(two_threads) -> None:
    gm = fx.symbolic_trace(nn.Sequential(nn.ReLU(), nn.Tanh()))
    planned = with_regions(gm, (("_1", 1),))  # the tanh runs at 1 thread
    assert [n.target for n in planned.graph.nodes if n.op == "call_function"] == [set_threads]
    run = Threaded(planned, ThreadPlan(2, 2, (("_1", 1),)))
    x = torch.randn(3)
    assert torch.equal(run(x), torch.tanh(torch.relu(x)))
    assert torch.get_num_threads() == 2


def test_concurrent_calls_keep_each_threads_count(two_threads) -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1)).eval()
    x = torch.randn(1, 3, 16, 16)
    fast = optimize(net, x)
    one = Threaded(fast.inner, ThreadPlan(1, 2))  # whatever optimize chose: force a switch
    with torch.no_grad():
        ref = net(x)
    errors, counts = [], []

    def work(own: int) -> None:
        torch.set_num_threads(own)
        for _ in range(20):
            with torch.no_grad():
                y = one(x)
            errors.append((y - ref).abs().max().item())
            counts.append((own, torch.get_num_threads()))

    workers = [threading.Thread(target=work, args=(1 + i % 2,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(errors) == 80 and max(errors) <= 1e-4 * max(1.0, ref.abs().max().item())
    assert all(own == now for own, now in counts)
    assert torch.get_num_threads() == 2


def test_optimize_leaves_the_callers_count(two_threads) -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()).eval()
    fast = optimize(net, torch.randn(1, 3, 12, 12))
    plan = fast.report.threads
    assert plan.available == 2 and plan.threads in (1, 2)
    assert set(fast.report.candidates_ms) >= {"torch@1", "torch@2"}
    with torch.no_grad():
        fast(torch.randn(2, 3, 10, 10))  # another shape: built on first use, same count
    assert torch.get_num_threads() == 2


def test_region_plan_weighs_switches() -> None:
    t = {1: {"a": 1.0, "b": 9.0, "c": 1.0}, 2: {"a": 2.0, "b": 4.0, "c": 2.0}}
    assert region_plan(["a", "b", "c"], t, switch_cost=0.1) == (1, (("b", 2), ("c", 1)))
    assert region_plan(["a", "b", "c"], t, switch_cost=10.0) == (2, ())
    assert ThreadPlan(1, 2, (("b", 2), ("c", 1))).describe() == \
        "1 of 2 threads, 2 from b, 1 from c"
