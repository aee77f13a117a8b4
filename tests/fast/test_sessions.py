"""Per-shape static runtime sessions (:mod:`convzoo.fast.sessions`): the same outputs as the
original at every batch and spatial size, across calls alternating sizes; the cache bounded
(a dropped shape rebuilt and verified again); the finiteness check of the NaN fix-up exact;
the caller's thread setting untouched; bf16 slower than fp32 said in the report."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st
from plain_nets import randomize_batchnorms

from convzoo.fast import optimize
from convzoo.fast.backends import finite_array
from convzoo.fast.sessions import SESSIONS, ShapeSessions, overrides


class _Net(nn.Module):
    """conv-BN-ReLU6, depthwise, a residual, global pooling, a Linear: spatial sizes free."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16),
                                  nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16),
                                nn.ReLU6(), nn.Conv2d(16, 16, 1), nn.BatchNorm2d(16))
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x)
        y = y + self.dw(y)
        return self.head(y.mean((2, 3)))


def _model() -> nn.Module:
    torch.manual_seed(0)
    return randomize_batchnorms(_Net(), seed=3).eval()


def _rig(monkeypatch: pytest.MonkeyPatch, winner: str, ms: dict[str, float]) -> None:
    """Make the tournament between exactly the names of ``ms`` (a two-way timing inside
    optimize) pick ``winner`` with those medians; every other tournament runs for real."""
    from convzoo.analysis.timing import Timing
    from convzoo.fast import auto

    real = auto.tournament

    def rigged(candidates, nan_keeping, **kwargs):
        if set(candidates) != set(ms):
            return real(candidates, nan_keeping, **kwargs)
        for fn in candidates.values():
            fn()  # each runs
        times = {k: Timing((v / 1e3,) * 3) for k, v in ms.items()}
        return auto.Decision(winner, times, (winner,), (), 3, f"{winner} fastest")

    monkeypatch.setattr(auto, "tournament", rigged)


def test_shape_sessions_bounded_rebuilt_and_verified_again() -> None:
    made: list[object] = []
    rebuilt: list[tuple[int, ...]] = []

    def build(shape):
        made.append(shape)
        return lambda a: [a * 2]

    s = ShapeSessions(build, size=2)
    s.on_rebuild = rebuilt.append
    for n in (1, 3, 7, 1, 1, 3):
        assert s(np.ones(n))[0].shape == (n,)
        assert len(s) <= 2
    assert made == [(1,), (3,), (7,), (1,), (3,)]  # (1,) and (3,) dropped, built again
    assert rebuilt == [(1,), (3,)] and s.builds == {(1,): 2, (3,): 2, (7,): 1}


def test_shape_sessions_rebuild_failing_verification_is_dropped() -> None:
    s = ShapeSessions(lambda shape: (lambda a: [a]), size=1)

    def refuse(shape):
        raise ValueError(f"refused at {shape}")

    s(np.ones(1))
    s(np.ones(2))
    s.on_rebuild = refuse
    with pytest.raises(ValueError, match=r"refused at \(1,\)"):
        s(np.ones(1))
    assert (1,) not in s._runs


def test_shape_sessions_fall_back_to_the_dynamic_session() -> None:
    def build(shape):
        if shape is not None:
            raise RuntimeError("cannot reshape")
        return lambda a: [a + 1]

    s = ShapeSessions(build)
    assert s(np.zeros(2))[0].tolist() == [1.0, 1.0]
    assert s(np.zeros(3))[0].tolist() == [1.0, 1.0, 1.0]


def test_shape_sessions_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^`size` \(=0\) must be an int, at least 1$"):
        ShapeSessions(lambda shape: (lambda a: [a]), size=0)


def test_overrides_pin_names_or_refuse() -> None:
    assert overrides(["batch", 3, "s0", "s1"], (7, 3, 24, 32)) == {"batch": 7, "s0": 24,
                                                                   "s1": 32}
    assert overrides(["batch", 3, 32, 32], (7, 3, 24, 32)) is None  # a fixed size differs
    assert overrides(["batch", None], (1, 2)) is None  # an unnamed dynamic dimension
    assert overrides(["batch"], (1, 2)) is None  # another rank


_VALUES = st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True),
                    st.sampled_from([3e38, -3e38, 1e-45, 0.0, -0.0]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_VALUES, min_size=0, max_size=64), st.sampled_from(["float32", "float64"]))
def test_finite_array_is_exact(values: list[float], dtype: str) -> None:
    a = np.array(values, dtype=dtype)
    assert finite_array(a) == all(np.isfinite(v) for v in a.tolist())
    big = np.full(1000, 3e38, dtype=dtype)  # large finite values are finite
    assert finite_array(big)
    big[500] = np.nan
    assert not finite_array(big)
    assert finite_array(np.array([1, 2], dtype=np.int64))


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_per_shape_sessions_match_the_original_across_sizes(runtime: str) -> None:
    pytest.importorskip(runtime)
    model = _model()
    torch.manual_seed(1)
    threads = torch.get_num_threads()
    fast = optimize(model, torch.randn(2, 3, 32, 32), backend=runtime)
    sessions = fast.inner.sessions
    assert sessions is not None and sessions.size == SESSIONS
    assert all(isinstance(s, tuple) for s in fast.report.input_sizes[2:])  # spatial dynamic
    sessions.size = 2  # every size below gets dropped and rebuilt at least once
    rebuilt: list[tuple[int, ...]] = []
    verify = sessions.on_rebuild
    assert verify is not None

    def counted(shape):
        rebuilt.append(shape)
        verify(shape)

    sessions.on_rebuild = counted
    shapes = [(1, 3, 32, 32), (3, 3, 32, 32), (7, 3, 32, 32), (3, 3, 24, 40)]
    for _ in range(2):
        for shape in shapes + shapes[::-1]:
            x = torch.randn(shape) * 3
            with torch.no_grad():
                torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4)
            assert len(sessions) <= 2
            assert torch.get_num_threads() == threads
    assert {s[0] for s in rebuilt} >= {1, 3}
    x = torch.randn(7, 3, 32, 32)
    x[2, 1, 5, 5] = float("nan")  # the NaN fix-up at a per-shape session: torch's answer
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4, equal_nan=True)


def test_runtime_calls_leave_the_callers_thread_setting() -> None:
    pytest.importorskip("onnxruntime")
    model = _model()
    before = torch.get_num_threads()
    fast = optimize(model, torch.randn(1, 3, 32, 32), backend="onnxruntime")
    try:
        torch.set_num_threads(1)
        with torch.no_grad():
            fast(torch.randn(5, 3, 32, 32))
            fast(torch.randn(1, 3, 32, 32))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert torch.get_num_threads() == before


def test_bf16_slower_than_fp32_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    from convzoo.fast.precision import bf16_flags
    from convzoo.fast.view import OptimizeView

    if not bf16_flags():
        pytest.skip("no native bfloat16 on this CPU")
    _rig(monkeypatch, "fp32", {"bf16": 18.7, "fp32": 12.0})
    fast = optimize(_model(), torch.randn(1, 3, 32, 32), precision="bf16")
    assert fast.report.precision == "bf16"  # kept, as asked
    assert fast.report.precision_note.startswith(
        "bf16 measured slower than fp32 here (18.7 vs 12 ms, torch at ")
    assert fast.report.fp32_ms == pytest.approx(12.0)
    assert "precision: bf16 measured slower than fp32 here" in OptimizeView(fast.report).footer()


@pytest.mark.parametrize("winner", ["plain", "rewritten"])
def test_runtime_rewrites_kept_only_where_not_slower(monkeypatch: pytest.MonkeyPatch,
                                                     winner: str) -> None:
    pytest.importorskip("onnxruntime")
    from plain_nets import ShuffleNetV2

    slow = "rewritten" if winner == "plain" else "plain"
    _rig(monkeypatch, winner, {winner: 10.0, slow: 20.0})
    torch.manual_seed(0)
    model = randomize_batchnorms(ShuffleNetV2(), seed=2).eval()  # a shuffle folds
    fast = optimize(model, torch.randn(1, 3, 32, 32), backend="onnxruntime")
    note = fast.report.runtime_rewrites["onnxruntime"]
    if winner == "plain":
        assert re.fullmatch(r"(batchnorms_before, )?shuffles dropped: slower here \(20 ms "
                            r"with, 10 ms without\)", note), note
        assert fast.inner.rewrites == ()
    else:
        assert re.fullmatch(r"(batchnorms_before, )?shuffles kept \(10 ms with, 20 ms "
                            r"without\)", note), note
        assert "shuffles" in fast.inner.rewrites
    for batch in (1, 3):
        x = torch.randn(batch, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_per_shape_sessions_from_several_threads(runtime: str) -> None:
    import threading

    from convzoo.fast.verify import compare

    pytest.importorskip(runtime)
    model = _model()
    fast = optimize(model, torch.randn(1, 3, 16, 16), backend=runtime)
    fast.inner.sessions.size = 1  # every call of another shape drops and rebuilds
    wrong: list[str] = []

    def work(batch: int) -> None:
        g = torch.Generator().manual_seed(batch)
        for _ in range(4):
            x = torch.randn(batch, 3, 16, 16, generator=g)
            with torch.no_grad():
                why = compare(fast(x), model(x))[2]
            if why is not None:
                wrong.append(why)

    threads = [threading.Thread(target=work, args=(b,)) for b in (1, 2, 3, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == [] and len(fast.inner.sessions) == 1
