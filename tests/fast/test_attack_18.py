"""The independent attack on issue 18 (/work/notes/attack-18.md): each reproducer pinned.

Each test is one failure the attacker found on main at fcc34c7: an input or a forward for
which ``optimize`` was silently wrong, refused for the wrong reason, or broke a promise.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
import weakref

import pytest
import torch
import torch.nn as nn
from runtimes import needs_ort, needs_ov

from convzoo.fast import Refusal, optimize
from convzoo.fast.verify import compare

X = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))


def _exact(model: nn.Module, fast: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        why = compare(fast(x), model(x))[2]
    assert why is None, why


@pytest.mark.parametrize("backend", ["torch", pytest.param("onnxruntime", marks=needs_ort),
                                     pytest.param("openvino", marks=needs_ov)])
def test_p03_inference_mode_example_optimizes(backend: str) -> None:
    conv = nn.Conv2d(3, 4, 3).eval()
    with torch.inference_mode():
        x = torch.randn(1, 3, 8, 8)
    fast = optimize(conv, x, backend=backend)
    _exact(conv, fast, x)
    with torch.inference_mode():
        _exact(conv, fast, x)


class _Expand(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(x)[:1].expand(3, -1, -1, -1)


@pytest.mark.parametrize("backend", ["torch", pytest.param("onnxruntime", marks=needs_ort),
                                     pytest.param("openvino", marks=needs_ov)])
def test_o05_expanded_output_keeps_the_original_strides(backend: str) -> None:
    model = _Expand().eval()
    fast = optimize(model, X, backend=backend)
    with torch.no_grad():
        got, ref = fast(X), model(X)
    assert got.stride() == ref.stride() == (0, 100, 10, 1)
    _exact(model, fast, X)
    assert got.data_ptr() != fast(X).data_ptr()  # fresh on every call


class _LayoutBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(x) * (2 if x.is_contiguous(memory_format=torch.channels_last) else 1)


@pytest.mark.filterwarnings("ignore:convzoo.optimize")
@pytest.mark.parametrize("backend", ["torch", pytest.param("onnxruntime", marks=needs_ort),
                                     pytest.param("openvino", marks=needs_ov)])
def test_a08_a_layout_branch_is_followed_or_runs_the_original(backend: str) -> None:
    model = _LayoutBranch().eval()
    fast = optimize(model, X, backend=backend)
    xc = X.contiguous(memory_format=torch.channels_last)
    _exact(model, fast, xc)
    _exact(model, fast, X)
    if backend != "torch":
        assert any("layout or requires_grad" in why for why in fast.fallbacks.values())
    plain = nn.Conv2d(3, 4, 3).eval()  # no branch: the session serves both layouts
    fast = optimize(plain, X, backend=backend)
    _exact(plain, fast, xc)
    assert not fast.fallbacks


class _GradBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(x) * (3 if x.requires_grad else 1)


@pytest.mark.filterwarnings("ignore:convzoo.optimize")
@pytest.mark.parametrize("backend", ["torch", pytest.param("onnxruntime", marks=needs_ort),
                                     pytest.param("openvino", marks=needs_ov)])
def test_a11_a_requires_grad_branch_is_followed_or_runs_the_original(backend: str) -> None:
    model = _GradBranch().eval()
    fast = optimize(model, X, backend=backend)
    x = X.clone().requires_grad_(True)
    _exact(model, fast, x)
    _exact(model, fast, X)
    try:  # and the other way round: exact, or refused (never wrong)
        fast = optimize(model, x, backend=backend)
    except Refusal as exc:
        # a runtime's export traces the example without requires_grad, so the session
        # takes the other branch: its verification on the example refuses it
        assert backend != "torch" and "differs from the original on the example" in str(exc)
    else:
        _exact(model, fast, X)
        _exact(model, fast, x)


class _Seeds(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(1234)
        y = self.c(x)
        return y + torch.randn_like(y)


class _DefaultDtype(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.set_default_dtype(torch.float32)
        return self.c(x)


@pytest.mark.parametrize(("cls", "name"), [(_Seeds, "torch.manual_seed()"),
                                           (_DefaultDtype, "torch.set_default_dtype()")])
def test_s07_a_forward_setting_global_torch_state_refused(cls: type, name: str) -> None:
    from convzoo.fast.tracer_errors import patched

    with pytest.raises(ValueError, match=rf"line \d+: forward calls {re.escape(name)}, "
                       "which sets global torch state"):
        optimize(cls().eval(), X)
    assert not patched()
    torch.manual_seed(5)  # the wrappers are gone: seeding works as before
    a = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(a, torch.rand(1))


class _PyRandom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(x) * (1.0 + random.random())


def test_s04_python_random_in_forward_always_refused_as_not_deterministic() -> None:
    for seed in range(8):  # accepted in 1-2 of 5-6 runs before
        random.seed(seed)
        with pytest.raises(ValueError, match="forward is not deterministic or keeps state"):
            optimize(_PyRandom().eval(), X)


class _Holder:
    n = 0


_HELD = _Holder()


class _CountsThroughAWeakDict(nn.Module):
    """State the snapshot does not see (a WeakValueDictionary's values), reached within
    optimize's own calls: refused as not repeatable, not blamed on a convzoo rewrite."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.d = weakref.WeakValueDictionary({"held": _HELD})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.d["held"].n += 1
        return self.c(x) * (2.0 if self.d["held"].n > 4 else 1.0)


def test_state_seen_by_verification_is_named_as_state() -> None:
    _HELD.n = 0
    with pytest.raises(ValueError, match="forward is not deterministic or keeps state across "
                       r"calls: called again on the example it gives another output \(.*, "
                       r"after the verification inputs\)"):
        optimize(_CountsThroughAWeakDict().eval(), X)


class _Counter:
    def __init__(self) -> None:
        self.n = 0


class _CountsThroughAWeakref(nn.Module):
    """S10b: state in the target of a ``weakref.ref``, past verification's calls."""

    def __init__(self, held: _Counter) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.r = weakref.ref(held)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.r().n += 1
        return self.c(x) * (2.0 if self.r().n > 40 else 1.0)


def test_s10b_state_behind_a_weakref_refused() -> None:
    held = _Counter()
    with pytest.raises(ValueError, match=r"forward changes attribute 'r'\(\)\.n \(0, now 1\): "
                       "state kept across calls"):
        optimize(_CountsThroughAWeakref(held).eval(), X)


class _Iterates(nn.Module):
    """S02b: state in an iterator (``next`` advances it: its state cannot be read)."""

    def __init__(self, it: object) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.it = it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(x) * (1.0 + (next(self.it) >= 40))


@pytest.mark.parametrize(("make", "kind"), [(lambda: itertools.count(), "count"),
                                            (lambda: iter(range(10 ** 6)), "range_iterator")])
def test_s02b_an_iterator_the_model_holds_refused(make, kind: str) -> None:
    with pytest.raises(ValueError, match=rf"forward can read attribute 'it', an iterator "
                       rf"\({kind}\) whose state cannot be read without advancing it"):
        optimize(_Iterates(make()).eval(), X)


def _counting_models() -> dict[str, type]:
    """The attacker's state the snapshot did not see, with a threshold (40 calls) beyond
    verification's own calls: each must be refused as state at capture."""
    import array

    import numpy as np

    class ClassAttr(nn.Module):
        calls = 0

        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            type(self).calls += 1
            return self.c(x) * (2.0 if type(self).calls > 40 else 1.0)

    class TensorAttr(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)
            self.register_buffer("b", torch.zeros(1))
            self.b.n = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.b.n += 1
            return self.c(x) * (2.0 if self.b.n > 40 else 1.0)

    class Arr(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)
            self.a = array.array("d", [0.0])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.a[0] += 1
            return self.c(x) * (2.0 if self.a[0] > 40 else 1.0)

    class Numpy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)
            self.a = np.zeros(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.a += 1
            return self.c(x) * (2.0 if self.a[0] > 40 else 1.0)

    return {"S01b class attribute ClassAttr.calls": ClassAttr,
            "S14b buffer 'b'.n": TensorAttr,
            "S15b attribute 'a' (an array with other contents": Arr,
            "S16b attribute 'a' (an ndarray with other contents": Numpy}


@pytest.mark.parametrize("case", sorted(_counting_models()))
def test_s01b_s14b_s15b_s16b_state_the_snapshot_missed_refused(case: str) -> None:
    said = case.split(" ", 1)[1]
    with pytest.raises(ValueError, match=rf"forward changes {re.escape(said)}.*state kept "
                       "across calls"):
        optimize(_counting_models()[case]().eval(), X)


def test_s08_lru_cache_tensor_written_in_place_refused() -> None:
    cached = functools.lru_cache(maxsize=None)(lambda n: torch.ones(n))

    class Lru(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            t = cached(4)
            t.add_(1.0)
            return self.c(x) * t.view(1, 4, 1, 1)

    with pytest.raises(ValueError, match="forward is not deterministic or keeps state"):
        optimize(Lru().eval(), X)
