"""The tracer-error recording of a capture is scoped: torch is restored on every exit path
(success, refusal, a crash, an interrupt), and other threads are never recorded."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn as nn
from torch.fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode

from convzoo.fast import optimize
from convzoo.fast.refusal import Refusal
from convzoo.fast.tracer_errors import guard_errors, patched, recording

ORIGINAL = {"numpy": torch.Tensor.numpy, "__array__": torch.Tensor.__array__}
OWN_INITS = {cls: vars(cls).get("__init__") for cls in guard_errors()}


def _restored() -> bool:
    return (not patched() and torch.Tensor.numpy is ORIGINAL["numpy"]
            and torch.Tensor.__array__ is ORIGINAL["__array__"]
            and all(vars(cls).get("__init__") is init for cls, init in OWN_INITS.items()))


class _Branch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y * 2 if y.mean() > 0 else y


def test_restored_after_success_and_refusal() -> None:
    optimize(nn.Sequential(nn.Conv2d(3, 4, 3)).eval(), torch.randn(1, 3, 8, 8))
    assert _restored()
    with pytest.raises(Refusal, match="data-dependent control flow"):
        optimize(_Branch().eval(), torch.randn(1, 3, 8, 8))
    assert _restored()


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_restored_after_a_crash(monkeypatch, error: BaseException) -> None:
    import convzoo.fast.capture as capture

    def crash(*args, **kwargs):
        assert patched()  # inside the capture: installed
        raise error

    monkeypatch.setattr(capture, "_export", crash)
    monkeypatch.setattr(capture, "_fx", crash)
    with pytest.raises((Refusal, KeyboardInterrupt)):
        optimize(nn.Sequential(nn.Conv2d(3, 4, 3)).eval(), torch.randn(1, 3, 8, 8))
    assert _restored()


def test_other_threads_are_not_recorded_and_nesting_restores() -> None:
    entered, leave = threading.Event(), threading.Event()
    recorded: list[list[BaseException]] = []

    def capturing() -> None:
        with recording() as seen:
            recorded.append(seen)
            entered.set()
            leave.wait(10)

    worker = threading.Thread(target=capturing)
    worker.start()
    entered.wait(10)
    assert patched()
    torch.zeros(1).numpy()  # this thread is not capturing
    GuardOnDataDependentSymNode("not recorded")
    with recording() as mine:  # a second capture, nested in time
        torch.zeros(1).numpy()
    assert [str(e) for e in mine] == [".numpy()"] and patched()
    leave.set()
    worker.join()
    assert recorded == [[]] and _restored()
