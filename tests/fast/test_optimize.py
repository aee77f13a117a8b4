"""convzoo.fast.optimize: exact rewrites, layout plan, backends; every zoo model."""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest
import torch
import torch.nn as nn
from plain_nets import randomize_batchnorms

import convzoo.models as zoo
from convzoo.fast import optimize
from convzoo.fast.pick import KEEPS_NAN, keeps_nan
from convzoo.layers import ChannelShuffle, Conv2d, Depthwise, DepthwiseSeparable, Pointwise

RTOL = 1e-4  # pinned: |optimized - original| <= RTOL * max(1, max |original|)


def _check(model: nn.Module, x: torch.Tensor):
    model.eval()
    with torch.no_grad():
        ref = model(x)
    fast = optimize(model, x)
    y = fast(x)
    scale = max(1.0, ref.abs().max().item())
    assert y.shape == ref.shape and y.is_contiguous()
    assert (y - ref).abs().max().item() <= RTOL * scale
    assert fast.report.max_abs_error <= RTOL * scale
    return fast


def _randomize_bn(model: nn.Module) -> nn.Module:
    return randomize_batchnorms(model, seed=1)


class _Residual(nn.Module):
    """conv -> BN, but the conv's output is also added: the BN must not be folded."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y


def _nets() -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    torch.manual_seed(0)
    return {
        "separable_stack": (nn.Sequential(
            Conv2d(3, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            DepthwiseSeparable(16, 24, 3, padding=1, norm=nn.BatchNorm2d, mid_norm=nn.BatchNorm2d,
                               activation=nn.ReLU6, mid_activation=nn.ReLU6, bias=False),
            Depthwise(24, 21, padding=10, bias=False), nn.BatchNorm2d(24),
            Pointwise(24, 8),
        ), (2, 3, 32, 32)),
        "shuffle": (nn.Sequential(
            Pointwise(8, 12), nn.BatchNorm2d(12), ChannelShuffle(3), Conv2d(12, 6, 3, padding=1),
            ChannelShuffle(2), Conv2d(6, 6, 1, groups=3),  # second shuffle crosses groups
        ), (2, 8, 10, 10)),
        "large_dense": (nn.Sequential(Conv2d(3, 4, 19, padding=9), nn.BatchNorm2d(4), nn.ReLU(),
                                      nn.Conv2d(4, 2, 21, padding=10)), (1, 3, 24, 24)),
        "residual": (_Residual(), (2, 4, 8, 8)),
        "conv1d": (nn.Sequential(Conv2d(2, 4, 3, ndim=1), nn.BatchNorm1d(4)), (2, 2, 12)),
    }


@pytest.mark.parametrize("name", list(_nets()))
def test_own_nets(name: str) -> None:
    model, shape = _nets()[name]
    _randomize_bn(model)
    x = torch.randn(shape)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = _check(model, x)
    r = fast.report
    expected = {"separable_stack": (4, 0), "shuffle": (1, 1), "large_dense": (1, 0),
                "residual": (0, 0), "conv1d": (1, 0)}[name]
    assert (r.folded_batchnorms, r.folded_shuffles) == expected
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # untouched
    if name == "large_dense":
        assert r.coverage["fft"] == 2
    if name == "separable_stack":
        assert r.coverage["convs"] == 5 and r.coverage["fused"] >= 3
    assert r.channels_last == (name not in ("conv1d", "large_dense"))  # all FFT there
    other = torch.randn((3, *shape[1:]))  # another batch size, another input
    with torch.no_grad():
        ref, got = model(other), fast(other)
    assert (got - ref).abs().max().item() <= RTOL * max(1.0, ref.abs().max().item())


def _zoo_case(name: str) -> tuple[nn.Module, torch.Tensor]:
    entry = zoo.MODELS[name]
    shape = entry.input_shape
    small = (1, shape[1], *[min(s, 32) for s in shape[2:]])
    config = {}
    fields = {f.name for f in dataclasses.fields(entry.config)}
    if "clip_shape" in fields:  # models whose classifier is sized by the input clip
        config["clip_shape"] = small[2:]
    torch.manual_seed(0)
    return _randomize_bn(zoo.create(name, **config)), torch.randn(small)


# Zoo models whose first run (oneDNN primitive creation for every conv shape, twice: NCHW
# and channels_last) takes several seconds on the shared 2-core CPU: behind -m slow.
HEAVY = {"resnet50", "resnext50_32x4d", "deeplabv3", "xception", "vgg16", "c3d", "r2plus1d",
         "unet"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in sorted(zoo.MODELS)],
)
def test_zoo_models(name: str) -> None:
    model, x = _zoo_case(name)
    fast = _check(model, x)
    bns = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert fast.report.folded_batchnorms <= bns
    other = torch.randn((2, *x.shape[1:]), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():  # another input and batch size: optimized again on first use
        ref, got = model(other), fast(other)
    assert (got - ref).abs().max().item() <= RTOL * max(1.0, ref.abs().max().item())


def test_rejects_bad_arguments() -> None:
    net = nn.Sequential(Conv2d(2, 2, 3))
    with pytest.raises(ValueError, match=r"`backend` \(='tvm'\) must be one of: torch, "
                       "onnxruntime, openvino, auto"):
        optimize(net, torch.randn(1, 2, 8, 8), backend="tvm")
    with pytest.raises(ValueError, match=r"`example_input` \(=list\) must be a tensor"):
        optimize(net, [1, 2])  # type: ignore[arg-type]


    with pytest.raises(ValueError, match=r"`precision` \(='fp16'\) must be one of: fp32, bf16"):
        optimize(net, torch.randn(1, 2, 8, 8), precision="fp16")
    with pytest.raises(ValueError, match=r"`backend` \(='onnxruntime'\) has no bfloat16 "):
        optimize(net, torch.randn(1, 2, 8, 8), backend="onnxruntime", precision="bf16")
    with pytest.raises(ValueError, match=r"^`example_input` \(shape \(1, 3, 8, 8\)\) is not "
                       r"accepted by `model` \(Sequential\): ValueError: `input` shape "):
        optimize(net, torch.randn(1, 3, 8, 8))


def test_bf16_precision_or_a_clear_refusal() -> None:
    from convzoo.fast.precision import bf16_flags
    from convzoo.fast.verify import BF16_RTOL

    net = _randomize_bn(nn.Sequential(Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      Depthwise(8, 3, padding=1))).eval()
    x = torch.randn(2, 3, 12, 12)
    if not bf16_flags():
        with pytest.raises(ValueError, match=r"`precision` \(='bf16'\) needs a CPU with native "
                           r"bfloat16 \(avx512_bf16 or amx_bf16 in /proc/cpuinfo\); this CPU "
                           "has neither"):
            optimize(net, x, precision="bf16")
        return
    fast = optimize(net, x, precision="bf16")
    r = fast.report
    assert r.precision == "bf16" and 0 < r.fresh_error <= r.tolerance
    other = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        ref, got = net(other), fast(other)
    assert got.dtype == torch.float32
    assert (got - ref).abs().max().item() <= BF16_RTOL * max(1.0, ref.abs().max().item())


def _backend_net() -> nn.Module:
    torch.manual_seed(0)
    return _randomize_bn(nn.Sequential(Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                       Depthwise(8, 3, padding=1), ChannelShuffle(2),
                                       Pointwise(8, 4))).eval()


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino", "auto"])
def test_runtime_backends(backend: str) -> None:
    if backend != "auto":
        pytest.importorskip(backend)
    net, x = _backend_net(), torch.randn(2, 3, 12, 12)
    fast = optimize(net, x, backend=backend)
    r = fast.report
    assert r.fresh_error <= r.tolerance and r.folded_shuffles == 1
    if backend == "auto":
        installed = {n for n in ("onnxruntime", "openvino") if importlib.util.find_spec(n)}
        assert set(r.timings_ms) == {"torch"} | installed
        # the fastest, or one within noise of it (then one keeping NaN, if any)
        assert r.backend == min(r.timings_ms, key=r.timings_ms.__getitem__) or \
            any(k.startswith(r.backend) for k in r.within_noise)
        # the sizes of the chosen result, not of the last runtime tried
        assert r.input_sizes == (fast.inner.input_shape if r.backend != "torch" else
                                 ((0, None),) * 4)
        return
    assert r.backend == backend
    # the session carries the NaN fix-up (issue 18), so the tournament counts it NaN-keeping
    assert fast.inner.fallback is not None and keeps_nan(backend, fast.inner)
    assert not KEEPS_NAN[backend] and r.nan_fixup
    # verified on every regime at the example's shape and at another batch size
    assert {"nonfinite", "image"} <= set(r.regime_errors)
    assert any(k.startswith("like@") for k in r.regime_errors)
    # any batch size, and other spatial sizes the model allows (a dynamic export)
    for shape in [(2, 3, 12, 12), (1, 3, 12, 12), (5, 3, 9, 14)]:
        other = torch.randn(shape)
        torch.testing.assert_close(fast(other), net(other), rtol=1e-4, atol=1e-4)
    assert r.input_sizes[:2] == ((1, None), 3)
    with pytest.raises(ValueError, match=rf"^`input` shape \(=\(1, 4, 12, 12\)\) must be \(N, 3, "
                       rf"H, W\) with N >= 1, H >= \d+, W >= \d+ for the {backend} backend "
                       r"\(sizes the model was exported for\)$"):
        fast(torch.randn(1, 4, 12, 12))


def test_openvino_bf16() -> None:
    pytest.importorskip("openvino")
    from convzoo.fast.precision import bf16_flags

    if not bf16_flags():
        pytest.skip("no native bfloat16 on this CPU")
    net, x = _backend_net(), torch.randn(2, 3, 12, 12)
    fast = optimize(net, x, backend="openvino", precision="bf16")
    assert fast.report.precision == "bf16" and fast.report.fresh_error <= fast.report.tolerance


def test_batched_examples_are_planned_on_one_sample_and_still_exact_on_the_batch():
    net = _randomize_bn(nn.Sequential(Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      DepthwiseSeparable(8, 16, 3, padding=1)))
    x = torch.randn(5, 3, 12, 12)
    fast = _check(net, x)
    assert fast.report.folded_batchnorms >= 1
    # an unbatched model (C, H, W) is recorded on its whole example, not on a slice
    unbatched = nn.Sequential(Conv2d(3, 4, 3, padding=1), nn.ReLU()).eval()
    x3 = torch.randn(3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(optimize(unbatched, x3)(x3), unbatched(x3), atol=1e-5,
                                   rtol=1e-4)


def test_runtime_nan_fixup_and_verification_at_a_new_shape() -> None:
    """Merge of issues 18 and 21: the dynamic session's NaN fix-up runs at a batch and
    spatial size other than the example's (the fix-up, the original model, takes any shape),
    and that new shape is verified on first use (no fallback to the original here)."""
    pytest.importorskip("onnxruntime")
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveMaxPool2d(1)).eval()
    fast = optimize(net, torch.randn(2, 3, 12, 12), backend="onnxruntime")
    y = torch.randn(3, 3, 13, 11)
    y[0, 0, 0, 0] = float("nan")
    with torch.no_grad():
        got, want = fast(y), net(y)
    torch.testing.assert_close(got, want, equal_nan=True, rtol=1e-4, atol=1e-5)
    assert bool(got[0].isnan().any()) and fast.fallbacks == {}
