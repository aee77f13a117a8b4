"""The independent re-attack on issue 18 (/work/notes/attack-18r.md): each reproducer pinned.

Each test is one case the re-attack found on main: a forward for which ``optimize`` was
silently wrong, crashed, or refused for a wrong reason.
"""

from __future__ import annotations

import re
import threading
import types

import pytest
import torch
import torch.nn as nn
from runtimes import needs_ort, needs_ov

from convzoo.fast import Refusal, optimize
from convzoo.fast.verify import compare

BACKENDS = ["torch", pytest.param("onnxruntime", marks=needs_ort),
            pytest.param("openvino", marks=needs_ov)]
X = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))


class _ExpandOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.c(x)
        return y[:1].expand(3, -1, -1, -1), y.mean((2, 3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_d25_grad_mode_call_with_an_expanded_output_among_several(backend: str) -> None:
    m = _ExpandOut().eval()
    fast = optimize(m, X, backend=backend)
    got = fast(X)  # grad mode: the default call
    with torch.no_grad():
        ref = m(X)
        assert compare(got, ref)[2] is None
        assert compare(fast(X), ref)[2] is None
    assert got[0].stride() == ref[0].stride()
    with pytest.raises(RuntimeError):
        got[1].sum().backward()


class _Branch(nn.Module):
    """``y * 2`` where ``flag()`` holds (global torch context read by forward), else ``y``."""

    def __init__(self, flag) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.flag = flag

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c(x)
        return y * 2.0 if self.flag(x) else y


GETTERS = {
    "C4": (lambda x: torch.are_deterministic_algorithms_enabled(),
           "torch.are_deterministic_algorithms_enabled()"),
    "C5": (lambda x: torch.is_inference_mode_enabled(), "torch.is_inference_mode_enabled()"),
    "C6": (lambda x: x.is_inference(), "Tensor.is_inference()"),
    "C10": (lambda x: torch.get_default_dtype() == torch.float64, "torch.get_default_dtype()"),
    "grad": (lambda x: torch.is_grad_enabled(), "torch.is_grad_enabled()"),
    "autocast": (lambda x: torch.is_autocast_enabled("cpu"), "torch.is_autocast_enabled()"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(GETTERS))
def test_c4_c5_c6_c10_forward_reading_global_torch_context_refused(case: str,
                                                                   backend: str) -> None:
    flag, name = GETTERS[case]
    with pytest.raises(Refusal, match=re.escape(name)) as info:
        optimize(_Branch(flag).eval(), X, backend=backend)
    assert "\n" not in str(info.value)


def test_c1_optimize_inside_autocast_refused_naming_autocast() -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16), \
            pytest.raises(Refusal, match="torch.autocast") as info:
        optimize(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval(), X)
    assert "convzoo rewrite" not in str(info.value)


class _DeadMask(nn.Module):
    """conv 7x7 then BN whose running mean is the conv bias: a black window gives a BN
    residue of ~1e-10 in the original, exactly 0 once folded (N6)."""

    def __init__(self, step) -> None:
        super().__init__()
        self.c, self.bn, self.step = nn.Conv2d(3, 6, 7), nn.BatchNorm2d(6), step
        with torch.no_grad():
            self.bn.running_mean.copy_(self.c.bias)
            self.bn.running_var.uniform_(0.5, 2.0)
            self.bn.weight.uniform_(0.1, 0.9)
            self.bn.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.step(torch.relu(self.bn(self.c(x))))


STEPS = {
    "logical_not": (torch.logical_not, "aten.logical_not"),
    "any": (lambda y: torch.any(y, dim=1), "aten.any"),
    "all": (lambda y: torch.all(y, dim=1), "aten.all"),
    "logical_or": (lambda y: torch.logical_or(y, y[:, :1]), "aten.logical_or"),
    "bf16": (lambda y: y.to(torch.bfloat16).float(), "torch.bfloat16"),
    "fp16": (lambda y: y.half().float(), "torch.float16"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(STEPS))
def test_n4_n5_n6_nonzero_tests_and_narrowing_casts_are_steps(case: str,
                                                                backend: str) -> None:
    torch.manual_seed(0)
    step, name = STEPS[case]
    with pytest.raises(Refusal, match=re.escape(name)):
        optimize(_DeadMask(step).eval(), torch.randn(2, 3, 16, 16), backend=backend)


def test_n6_a_nonzero_test_of_exact_values_is_still_optimized() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.c(x), torch.logical_not(x).any(dim=1)

    m = Net().eval()
    fast = optimize(m, X)
    with torch.no_grad():
        assert compare(fast(X), m(X))[2] is None


class _HalfTrip(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.c2(torch.relu(self.c1(x.half().float()))))


def test_n1_a_float16_round_trip_overflowing_to_inf_keeps_torchs_nan() -> None:
    torch.manual_seed(0)
    m = _HalfTrip().eval()
    fast = optimize(m, torch.randn(2, 3, 12, 12))
    x = torch.randn(2, 3, 12, 12)
    x[0, 0, 5, 5] = 1e5  # finite, but inf in float16
    with torch.no_grad():
        want = m(x)
        assert int(want.isnan().sum()) > 0
        assert compare(fast(x), want)[2] is None


class _Stats:  # S1: a class used as a namespace
    calls = 0


_CFG = types.ModuleType("cfg")  # S2: a module's attribute
_CFG.calls = 0
_TLS = threading.local()  # S4
N_CALLS = 0  # S6


def _helper(y: torch.Tensor) -> torch.Tensor:  # S3: a function attribute
    _helper.calls = getattr(_helper, "calls", 0) + 1
    return y * (2.0 if _helper.calls > 60 else 1.0)


class _Cfg(dict):  # S5
    pass


class _Tracker:  # S7
    def __init__(self) -> None:
        self.n = 0


def _count(s: nn.Module, case: str) -> int:
    if case == "S1":
        _Stats.calls += 1
        return _Stats.calls
    if case == "S2":
        _CFG.calls += 1
        return _CFG.calls
    if case == "S4":
        _TLS.n = getattr(_TLS, "n", 0) + 1
        return _TLS.n
    if case == "S5":
        s.cfg.calls += 1
        return s.cfg.calls
    if case == "S6":
        g = globals()
        g["N_" + "CALLS"] += 1
        return g["N_CALLS"]
    for t in s.listeners:  # S7
        t.n += 1
        return t.n
    return 0


class _Counter(nn.Module):
    def __init__(self, case: str) -> None:
        super().__init__()
        self.c, self.case = nn.Conv2d(3, 4, 3), case
        self.cfg = _Cfg()
        self.cfg.calls = 0
        self.listeners = {_Tracker()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c(x)
        if self.case == "S3":
            return _helper(y)
        return y * (2.0 if _count(self, self.case) > 60 else 1.0)


@pytest.mark.parametrize("case", ["S1", "S2", "S3", "S4", "S5", "S6", "S7"])
def test_s1_to_s7_state_forward_keeps_outside_the_walk_refused(case: str) -> None:
    with pytest.raises(Refusal) as info:
        optimize(_Counter(case).eval(), X)
    assert "\n" not in str(info.value)


class _AsStridedConv(nn.Module):
    """A hand-written im2col conv reading the input's memory through ``as_strided`` (D23)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 3, 3, 3) * 0.2)
        self.c = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        s = x.stride()
        patches = x.as_strided((n, c, h - 2, w - 2, 3, 3), (s[0], s[1], s[2], s[3], s[2], s[3]))
        return self.c(torch.einsum("nchwij,ocij->nohw", patches, self.w))


def test_d23_as_strided_on_the_input_keeps_its_layout() -> None:
    torch.manual_seed(1)
    m = _AsStridedConv().eval()
    fast = optimize(m, torch.randn(2, 3, 12, 12))
    assert not fast.report.channels_last
    for x in (X, torch.randn(2, 3, 12, 12).contiguous(memory_format=torch.channels_last)):
        with torch.no_grad():
            assert compare(fast(x), m(x))[2] is None
