"""Tracer errors that a model's own ``try/except`` swallowed during a capture.

A forward that branches on tensor values inside ``try: ... except Exception: ...`` makes
the tracer raise at the branch and then catches that error itself: the capture succeeds
with one side of the branch only. The same holds for a tensor handed to NumPy (``.numpy()``
raises under the tracer). :func:`recording` notices both: while it is active, the
``__init__`` of the tracer's guard-error classes and ``Tensor.numpy``/``Tensor.__array__``
note every error created (raised or not) *by the thread that is capturing*.

Scope: the wrappers are installed when the first capture starts and the originals are
restored when the last one ends, on every exit path (return, refusal, crash); threads
that are not capturing go through the wrappers unrecorded. :func:`patched` says whether
they are installed (the tests check it is False after success, refusal and crashes).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["GLOBAL_GETTERS", "GLOBAL_SETTERS", "LeftTorch", "ReadsGlobal", "SetsGlobal",
           "guard_errors", "patched", "recording"]


class LeftTorch(Exception):
    """A marker: a tensor was handed to NumPy while the model was being traced."""


class ReadsGlobal(Exception):
    """A marker: the model's own code read global torch context (grad or inference mode,
    autocast, determinism, the default dtype, ``Tensor.is_inference()``), which a graph
    fixes at the value it had at capture."""


class SetsGlobal(Exception):
    """A marker: the model's own code called a torch function that sets global state (the
    RNG seed or state, the default dtype or device, thread counts, determinism), which a
    graph does not repeat."""


GLOBAL_SETTERS = ("manual_seed", "seed", "set_rng_state", "set_default_dtype",
                  "set_default_device", "set_default_tensor_type", "set_num_threads",
                  "set_num_interop_threads", "use_deterministic_algorithms",
                  "set_flush_denormal")
# global torch context a forward may branch on: the graph keeps the branch taken at capture
GLOBAL_GETTERS = ("are_deterministic_algorithms_enabled",
                  "is_deterministic_algorithms_warn_only_enabled", "is_inference_mode_enabled",
                  "is_grad_enabled", "is_autocast_enabled", "is_autocast_cpu_enabled",
                  "get_autocast_dtype", "get_autocast_cpu_dtype", "get_autocast_gpu_dtype",
                  "get_default_dtype", "get_default_device", "get_num_threads",
                  "get_num_interop_threads", "get_rng_state", "initial_seed")
_TENSOR_GETTERS = ("is_inference",)
_TORCH_DIR = os.path.dirname(torch.__file__)
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # convzoo


def guard_errors() -> tuple[type[BaseException], ...]:
    """The errors a tracer raises at a branch on tensor values (export's data-dependent
    guard, fake-tensor data-dependent outputs, fx's proxy-in-control-flow error)."""
    from torch._subclasses.fake_tensor import (
        DataDependentOutputException,
        DynamicOutputShapeException,
    )
    from torch.fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode
    from torch.fx.proxy import TraceError

    return (GuardOnDataDependentSymNode, DataDependentOutputException,
            DynamicOutputShapeException, TraceError)


_LOCK = threading.Lock()
_LOCAL = threading.local()  # .stack: the record lists of this thread's active captures
_INSTALLED: dict[tuple[type, str], Any] = {}  # (class, name) -> its own original (None:
# inherited); empty when restored
_USERS = 0  # captures in progress, all threads together
_LEAVING = ("numpy", "__array__")


def _records() -> list[list[BaseException]]:
    stack = getattr(_LOCAL, "stack", None)
    if stack is None:
        stack = _LOCAL.stack = []
    return stack


def _stack() -> types.TracebackType | None:
    """A traceback of the caller's stack (outermost first), to locate the model's line."""
    tb, frame = None, sys._getframe(2)
    while frame is not None:
        tb = types.TracebackType(tb, frame, frame.f_lasti, frame.f_lineno)
        frame = frame.f_back
    return tb


def _replace(owner: type, name: str, make: Any) -> None:
    """Set ``owner.name`` to ``make(current)``, remembering how to undo it exactly (an
    attribute the class only inherited is deleted again, not shadowed)."""
    own = name in vars(owner)
    _INSTALLED[(owner, name)] = vars(owner)[name] if own else None
    setattr(owner, name, make(getattr(owner, name)))


def _install() -> None:
    def record_init(init: Any) -> Any:
        def __init__(self, *args, **kwargs):  # noqa: N807
            stack = _records()
            if stack and not any(e is self for e in stack[-1]):  # once per error object
                stack[-1].append(self)
            init(self, *args, **kwargs)
        return __init__

    def record_leaving(name: str) -> Any:
        def make(method: Any) -> Any:
            def wrapper(self, *args, **kwargs):
                stack = _records()
                if stack:  # it raises under the tracer; if the capture succeeds, it was caught
                    marker = LeftTorch(f".{name}()")
                    marker.__traceback__ = _stack()
                    stack[-1].append(marker)
                return method(self, *args, **kwargs)
            return wrapper
        return make

    def record_setter(name: str, kind: type[Exception] = SetsGlobal,
                      owner: str = "torch") -> Any:
        def make(function: Any) -> Any:
            def wrapper(*args, **kwargs):
                stack = _records()
                caller = sys._getframe(1).f_code.co_filename
                if stack and not caller.startswith(_TORCH_DIR) and not (
                        kind is ReadsGlobal and caller.startswith(_OWN_DIR)):  # the model's
                    marker = kind(f"{owner}.{name}()")  # (convzoo's layers pick exact paths)
                    marker.__traceback__ = _stack()
                    stack[-1].append(marker)
                return function(*args, **kwargs)
            return wrapper
        return make

    for cls in guard_errors():
        _replace(cls, "__init__", record_init)
    for owner in (torch, torch.random):
        for name in GLOBAL_SETTERS:
            if callable(vars(owner).get(name)):
                _replace(owner, name, record_setter(name))
        for name in GLOBAL_GETTERS:
            if callable(vars(owner).get(name)):
                _replace(owner, name, record_setter(name, ReadsGlobal))
    for name in _TENSOR_GETTERS:
        _replace(torch.Tensor, name, record_setter(name, ReadsGlobal, "Tensor"))
    for name in _LEAVING:
        _replace(torch.Tensor, name, record_leaving(name))


def _restore() -> None:
    for (owner, name), original in reversed(list(_INSTALLED.items())):
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _INSTALLED.clear()


def patched() -> bool:
    """Whether the recording wrappers are installed right now (a capture is running).

    >>> patched()
    False
    """
    return bool(_INSTALLED)


@contextlib.contextmanager
def recording() -> Iterator[list[BaseException]]:
    """Record, for this thread, every tracer guard error created and every tensor handed to
    NumPy inside the block (see the module docstring); restored on every exit.

    >>> with recording() as seen:
    ...     _ = torch.zeros(1).numpy()
    >>> [str(e) for e in seen], patched()
    (['.numpy()'], False)
    """
    global _USERS
    seen: list[BaseException] = []
    with _LOCK:
        if _USERS == 0:
            _install()
        _USERS += 1
    _records().append(seen)
    try:
        yield seen
    finally:
        _records().pop()
        with _LOCK:
            _USERS -= 1
            if _USERS == 0:
                _restore()
