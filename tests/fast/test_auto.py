"""The block tournament behind ``backend='auto'`` and the thread plan, on a fake clock (each
candidate advances it by a fixed cost, with a seeded jitter): deterministic, no wall time."""

from __future__ import annotations

import random

import pytest

from convzoo.fast.auto import NOISE, blocks, tournament


class _Clock:
    """A clock that the candidates advance."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _candidates(clock: _Clock, costs: dict[str, float], jitter: float = 0.0, seed: int = 0):
    rng = random.Random(seed)

    def make(cost: float):
        def run() -> None:
            clock.t += cost * (1 + rng.uniform(-jitter, jitter))
        return run
    return {name: make(cost) for name, cost in costs.items()}


def test_picks_the_fastest_when_they_differ() -> None:
    clock = _Clock()
    d = tournament(_candidates(clock, {"torch@1": 3e-3, "onnxruntime@1": 1e-3,
                                       "openvino@1": 2e-3}, jitter=0.02),
                   {"torch@1", "onnxruntime@1"}, clock=clock)
    assert d.chosen == "onnxruntime@1"
    assert d.within_noise == ("onnxruntime@1",)
    assert d.reason.startswith("onnxruntime@1 fastest (1 ms; next openvino@1 2 ms, x2.00)")
    assert "torch@1" in d.dropped  # 3x slower: left out of later rounds


def test_within_noise_takes_the_one_keeping_nan() -> None:
    # OpenVINO 1 % faster: within the 3 % noise band, so the NaN-keeping runtime is kept
    clock = _Clock()
    d = tournament(_candidates(clock, {"openvino@2": 1.00e-3, "onnxruntime@2": 1.01e-3},
                               jitter=0.005), {"onnxruntime@2"}, clock=clock)
    assert d.chosen == "onnxruntime@2"
    assert set(d.within_noise) == {"openvino@2", "onnxruntime@2"}
    assert d.reason.startswith(f"within noise ({NOISE:.0%}) after ")
    assert d.reason.endswith("took onnxruntime@2 (keeps NaN)")


def test_noise_that_never_settles_counts_as_within_noise() -> None:
    # a 6 % difference drowned in +-40 % jitter: the budget runs out undecided
    clock = _Clock()
    d = tournament(_candidates(clock, {"openvino@1": 1.00e-3, "torch@1": 1.06e-3},
                               jitter=0.4, seed=3), {"torch@1"}, clock=clock, budget_s=0.2,
                   block_s=1e-6)  # one call per block: the jitter is not averaged away
    assert set(d.within_noise) == {"openvino@1", "torch@1"} and d.chosen == "torch@1"
    assert d.rounds > 3


def test_a_clear_but_small_difference_is_found() -> None:
    clock = _Clock()
    d = tournament(_candidates(clock, {"a": 1.00e-3, "b": 1.08e-3}, jitter=0.01), {"b"},
                   clock=clock)
    assert d.chosen == "a" and d.within_noise == ("a",)


def test_one_candidate_is_not_timed_in_rounds() -> None:
    clock = _Clock()
    d = tournament(_candidates(clock, {"torch@1": 1e-3}), {"torch@1"}, clock=clock)
    assert d.chosen == "torch@1" and d.rounds == 0
    assert d.reason == "torch@1: the only candidate (1 ms)"


def test_rejects_no_candidates() -> None:
    with pytest.raises(ValueError, match=r"^`candidates` \(=\{\}\) must name at least one"):
        tournament({}, set())
    with pytest.raises(ValueError, match=r"^`candidates` \(=\{\}\) must name at least one"):
        blocks({}, rounds=1)


def test_blocks_time_every_candidate_every_round() -> None:
    clock = _Clock()
    t = blocks(_candidates(clock, {"a": 1e-3, "b": 5e-3}), rounds=4, block_s=0.01, clock=clock)
    assert {k: len(v.samples) for k, v in t.items()} == {"a": 4, "b": 4}
    assert t["a"].median == pytest.approx(1e-3) and t["b"].median == pytest.approx(5e-3)
