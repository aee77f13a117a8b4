"""BatchNorm folding never turns the original's overflow into a number (N15 of the attack
on issue 18, /work/notes/attack-18.md), on every backend: the fold is done only where a
bound holds (convzoo.fast.fold), checked per call where no cut proves it
(convzoo.fast.guard), and the runtimes, which fold BatchNorms themselves, either run
beyond-the-bound inputs on the original or are refused (convzoo.fast.runtime_risk)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.fx as fx
import torch.nn as nn
from runtimes import needs_ort, needs_ov

from convzoo.fast import Refusal, optimize
from convzoo.fast.bounds import FOLD_LIMIT, LIMIT
from convzoo.fast.fold import MIN_FOLD_LIMIT, fold_batchnorms, fold_batchnorms_before, unfoldable
from convzoo.fast.verify import compare, rounding_noise

BACKENDS = ["torch", pytest.param("onnxruntime", marks=needs_ort),
            pytest.param("openvino", marks=needs_ov)]
FMAX = torch.finfo(torch.float32).max


def _exact(model: nn.Module, fast: nn.Module, x: torch.Tensor) -> None:
    """Within the documented bound (the original's own float32 rounding allowed: an input
    of 1e-30 underflows inside the original, not in a folded conv), NaN and inf alike."""
    with torch.no_grad():
        ref, got = model(x), fast(x)
        exact = copy.deepcopy(model).double()(x.double())
    why = compare(got, ref, noise=rounding_noise(ref, exact))[2]
    assert why is None, why
    assert torch.equal(torch.isinf(got), torch.isinf(ref))


class _ConvBN(nn.Module):
    """The attack's N15: a 1x1 conv then a BatchNorm, weights and statistics as given."""

    def __init__(self, weight: float = 1e34, gamma: float = 1e-34, var: float = 1.0,
                 eps: float = 1e-5, transposed: bool = False) -> None:
        super().__init__()
        kind = nn.ConvTranspose2d if transposed else nn.Conv2d
        self.c, self.bn = kind(1, 1, 1, bias=False), nn.BatchNorm2d(1, eps=eps)
        with torch.no_grad():
            self.c.weight.fill_(weight)
            self.bn.weight.fill_(gamma)
            self.bn.running_var.fill_(var)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.c(x))


def _inputs(*values: float) -> list[torch.Tensor]:
    out = [torch.full((2, 1, 6, 6), v) for v in values]
    mixed = torch.randn(2, 1, 6, 6)
    mixed[1] = values[-1]
    return [*out, mixed, torch.zeros(2, 1, 6, 6)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_n15_fold_keeps_the_original_overflow(backend: str) -> None:
    model = _ConvBN().eval()
    with torch.no_grad():
        assert torch.isinf(model(torch.full((2, 1, 6, 6), 1e5))).all()  # the original: inf
    try:
        fast = optimize(model, torch.randn(2, 1, 6, 6), backend=backend)
    except Refusal as exc:  # a runtime folds the BatchNorm itself: refused, said why
        assert backend != "torch"
        assert "batch_norm" in str(exc) and "overflows to inf" in str(exc)
        return
    assert backend == "torch" and fast.report.folded_batchnorms == 0
    for x in _inputs(1e5, -1e5, 1.0, 1e-3):
        _exact(model, fast, x)


@needs_ort
def test_n15_auto_leaves_out_the_runtimes_and_is_exact() -> None:
    model = _ConvBN().eval()
    fast = optimize(model, torch.randn(2, 1, 6, 6), backend="auto")
    assert fast.report.backend == "torch"
    assert "overflows to inf" in fast.report.dropped["onnxruntime"]
    _exact(model, fast, torch.full((2, 1, 6, 6), 1e5))


@pytest.mark.parametrize(("kwargs", "folds"), [
    ({"weight": 1e-30, "gamma": 1e30}, True),  # huge gamma on tiny weights: bounded, folds
    ({"weight": 3.0, "gamma": 1e30}, False),  # huge gamma: the original overflows at 1e-1
    ({"weight": 1.0, "gamma": 1.0, "var": 0.0, "eps": 0.0}, False),  # scale inf: 0 * inf
    ({"weight": 1.0, "gamma": 1.0, "var": 0.0, "eps": 1e-5}, True),  # tiny var, eps > 0
    ({"weight": 1e-20, "gamma": 1e-20}, False),  # the folded weight is subnormal
    ({"weight": 1e34, "gamma": 1e-34, "transposed": True}, False),  # N15, transposed
    ({"weight": 2.0, "gamma": 0.5}, True),  # ordinary: folded, guarded at float32's edge
])
def test_batchnorm_extremes_fold_only_where_bounded(kwargs: dict, folds: bool) -> None:
    model = _ConvBN(**kwargs).eval()
    fast = optimize(model, torch.randn(2, 1, 6, 6))
    assert fast.report.folded_batchnorms == int(folds)
    big = FMAX / 1.9  # the conv's output (x 2) overflows, the folded conv's (x 1) not
    for x in _inputs(big, -big, 1e30, 1e9, 1e-30, 0.5, float("inf")):
        _exact(model, fast, x)


def test_an_ordinary_fold_at_float32s_edge() -> None:
    # conv x2 then BN x0.5: the original overflows at 2e38 (inf), the folded conv (x1) not;
    # on main the folded graph gave 2e38 here
    model = _ConvBN(weight=2.0, gamma=0.5).eval()
    fast = optimize(model, torch.randn(2, 1, 6, 6))
    assert fast.report.folded_batchnorms == 1 and fast.report.guard_checks >= 1
    x = torch.full((2, 1, 6, 6), 2e38)
    with torch.no_grad():
        assert torch.isinf(model(x)).all()
    _exact(model, fast, x)
    _exact(model, fast, torch.randn(2, 1, 6, 6) * 1e4)


class _BNBefore(nn.Module):
    """A BatchNorm scaling by ``gamma`` read by an unpadded conv of weight ``weight``."""

    def __init__(self, gamma: float, weight: float) -> None:
        super().__init__()
        self.bn, self.c = nn.BatchNorm2d(2), nn.Conv2d(2, 2, 1)
        with torch.no_grad():
            self.bn.weight.fill_(gamma)
            self.c.weight.fill_(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(self.bn(x))


@pytest.mark.parametrize("backend", BACKENDS)
def test_batchnorm_before_a_conv_keeps_the_overflow(backend: str) -> None:
    model = _BNBefore(gamma=1e30, weight=1e-30).eval()  # the BN's output overflows at 3.4e8
    try:
        fast = optimize(model, torch.randn(2, 2, 5, 5), backend=backend)
    except Refusal as exc:  # a runtime may fold the BN's scaling into the conv itself
        assert backend != "torch" and "overflows to inf" in str(exc)
        return
    assert fast.report.folded_batchnorms == 0
    for v in (1e9, -1e9, 1.0):
        _exact(model, fast, torch.full((2, 2, 5, 5), v))


def test_chained_batchnorms_compose_their_limits() -> None:
    conv = nn.Conv2d(2, 2, 3, padding=1)
    bn1, bn2 = nn.BatchNorm2d(2), nn.BatchNorm2d(2)
    with torch.no_grad():
        bn1.weight.fill_(1e20)
        bn2.weight.fill_(1e-20)
    model = nn.Sequential(conv, bn1, bn2).eval()  # bn1 overflows at ~1e10 / |W|
    fast = optimize(model, torch.randn(2, 2, 6, 6))
    for v in (1e12, 1e10, 1e8, 1.0):
        _exact(model, fast, torch.full((2, 2, 6, 6), v))
        _exact(model, fast, torch.randn(2, 2, 6, 6) * v)


def _traced(model: nn.Module, x: torch.Tensor) -> fx.GraphModule:
    from convzoo.fast.capture import capture

    return capture(model.eval(), x).gm


def test_fold_records_its_limit_and_skips_what_it_cannot_bound() -> None:
    ordinary = _traced(_ConvBN(weight=2.0, gamma=0.5), torch.randn(1, 1, 4, 4))
    assert fold_batchnorms(ordinary) == 1
    (conv,) = [n for n in ordinary.graph.nodes if FOLD_LIMIT in n.meta]
    limit = conv.meta[FOLD_LIMIT]
    assert MIN_FOLD_LIMIT <= limit and 2.0 * limit <= LIMIT  # the original's conv: x2
    extreme = _traced(_ConvBN(), torch.randn(1, 1, 4, 4))
    assert fold_batchnorms(extreme) == 0 and len(unfoldable(extreme)) == 1
    assert not unfoldable(_traced(_ConvBN(weight=2.0, gamma=0.5), torch.randn(1, 1, 4, 4)))
    before = _traced(_BNBefore(1e30, 1e-30), torch.randn(1, 2, 4, 4))
    assert fold_batchnorms_before(before) == 0


class _Scaled(nn.Module):
    """A conv of huge weights times a tiny constant: OpenVINO folds the multiply too."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(1, 1, 1, bias=False)
        with torch.no_grad():
            self.c.weight.fill_(1e34)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(x) * 1e-34


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_multiplication_a_runtime_folds_keeps_the_overflow(backend: str) -> None:
    model = _Scaled().eval()
    try:
        fast = optimize(model, torch.randn(2, 1, 6, 6), backend=backend)
    except Refusal as exc:
        assert backend != "torch" and "overflows to inf" in str(exc)
        return
    assert backend == "torch"
    _exact(model, fast, torch.full((2, 1, 6, 6), 1e5))


def _small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()


def _mobile_block() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
        nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
        nn.Conv2d(16, 8, 1, bias=False), nn.BatchNorm2d(8)).eval()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make", [_small_cnn, _mobile_block])
def test_ordinary_models_still_fold_and_run_everywhere(backend: str, make) -> None:
    model = make()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, 12, 12)
    fast = optimize(model, x, backend=backend)
    assert fast.report.backend == backend
    if backend == "torch":
        assert fast.report.folded_batchnorms == (2 if make is _small_cnn else 3)
        if make is _mobile_block:  # ReLU6 bounds everything: the input check alone
            assert fast.report.guard_checks == 1
    else:  # the whole graph bounded: inputs beyond the bound run the original
        assert "so do inputs with max |x| >" in fast.report.nan_fixup
        assert math.isinf(fast.inner.input_limit) is False
    for v in (1.0, 255.0, 1e4, 1e20, 1e35, FMAX):
        _exact(model, fast, torch.randn(2, 3, 12, 12).clamp(-1, 1) * v)
