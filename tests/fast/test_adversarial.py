"""Every adversarial forward ends exact on new inputs or refused with a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from convzoo.fast import optimize
from convzoo.fast.verify import FP32_RTOL

REFUSED = r"^`model` \({cls}\) cannot be optimized soundly with backend='torch': "


def _bn(c: int, seed: int = 1) -> nn.BatchNorm2d:
    g = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm2d(c).eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
        bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
        bn.weight.copy_(torch.rand(c, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(c, generator=g) * 0.3)
    return bn


def _exact_on_new_inputs(model: nn.Module, shape: tuple[int, ...], batches=(1, 3)):
    """optimize at one input; compare with the original on other inputs (and batches)."""
    torch.manual_seed(0)
    model.eval()
    fast = optimize(model, torch.randn(shape))
    for seed, n in enumerate(batches):
        x = torch.randn((n, *shape[1:]), generator=torch.Generator().manual_seed(seed + 7)) * 2
        with torch.no_grad():
            ref = model(x)
            got = fast(x)
        _assert_close(got, ref)
    return fast


def _assert_close(got: object, ref: object) -> None:
    if isinstance(ref, torch.Tensor):
        assert isinstance(got, torch.Tensor) and got.shape == ref.shape
        assert (got - ref).abs().max().item() <= FP32_RTOL * max(1.0, ref.abs().max().item())
    elif isinstance(ref, dict):
        assert isinstance(got, dict) and got.keys() == ref.keys()
        for k in ref:
            _assert_close(got[k], ref[k])
    elif isinstance(ref, (tuple, list)):
        assert type(got) is type(ref) and len(got) == len(ref)
        for a, b in zip(got, ref):
            _assert_close(a, b)
    else:
        assert got == ref


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        if y.mean() > 0:
            return y * 2
        return y


class Wrapper(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 3, 1)
        self.gate = DataDependent()

    def forward(self, x):
        return self.gate(self.stem(x))


class SharedWeight(nn.Module):
    """One weight, two convs, a BatchNorm after one of them."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.b = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.b.weight = self.a.weight
        self.bn = _bn(4)

    def forward(self, x):
        return self.bn(self.a(x)) + self.b(x)


class SharedModule(nn.Module):
    """The same conv module called twice, each call followed by a different BatchNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn1, self.bn2 = _bn(4, 1), _bn(4, 2)

    def forward(self, x):
        return self.bn1(self.conv(x)) - self.bn2(self.conv(x * 2))


class ReadsWeight(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = _bn(4)

    def forward(self, x):
        return self.bn(self.conv(x)) * self.conv.weight.sum()


class ShuffleShared(nn.Module):
    """A channel shuffle before a conv whose weight another conv also uses."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(6, 6, 1)
        self.b = nn.Conv2d(6, 6, 1)
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.a(F.channel_shuffle(x, 2)) + self.b(x)


class ManualShuffle(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(6, 5, 3, padding=1)

    def forward(self, x):
        n, c, h, w = x.shape
        x = x.view(n, 3, c // 3, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return self.conv(x)


def _normed(kind: str) -> nn.Module:
    conv = nn.Conv2d(3, 4, 3, padding=1)
    if kind == "weight_norm":
        conv = nn.utils.parametrizations.weight_norm(conv)
    elif kind == "spectral_norm":
        conv = nn.utils.spectral_norm(conv)
        with torch.no_grad():
            conv.train()(torch.randn(1, 3, 6, 6))  # one power iteration, then frozen in eval
    return nn.Sequential(conv, _bn(4), nn.ReLU())


class SkipMutated(nn.Module):
    """The residual's skip tensor is modified in place after the conv reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = _bn(4)

    def forward(self, x):
        skip = x * 1.0
        y = self.bn(self.conv(skip))
        skip.mul_(3)
        return torch.relu(y + skip)


class ActMutatesConvOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        z = y.relu_()  # in place: y and z alias
        return z + y


class Cache(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.cache = None

    def forward(self, x):
        y = self.conv(x)
        if self.cache is None:
            self.cache = y
        return y + self.cache


class Counter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return self.conv(x) * self.calls


class ToNumpy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = self.conv(x)
        return torch.from_numpy(np.tanh(y.numpy()))


class InputInPlace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        x.relu_()
        return self.conv(x)


class Flatten(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = _bn(4)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        return self.fc(y.view(y.shape[0], -1))


class Structured(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = _bn(4)

    def forward(self, x):
        y = self.bn(self.conv(x))
        return {"feat": y, "pair": (y.relu(), y.mean()), "scale": 2, "name": "cz"}


class FunctionalConv(nn.Module):
    """F.conv2d with constant weights (a buffer), BatchNorm as F.batch_norm."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("w", torch.randn(4, 3, 3, 3))
        bn = _bn(4)
        self.register_buffer("mean", bn.running_mean.clone())
        self.register_buffer("var", bn.running_var.clone())

    def forward(self, x):
        y = F.conv2d(x, self.w, padding=1)
        return F.relu(F.batch_norm(y, self.mean, self.var, training=False))


class TimmConv(nn.Conv2d):
    """A timm-style subclass: 'same' padding computed in forward."""

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 1, 1, 1)), self.weight, self.bias, self.stride, 0,
                        self.dilation, self.groups)


class BNBeforeConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bn = _bn(6)
        self.pw = nn.Conv2d(6, 4, 1, groups=2)
        self.bn2 = _bn(6, 3)
        self.padded = nn.Conv2d(6, 4, 3, padding=1)

    def forward(self, x):
        return self.pw(self.bn(x)), self.padded(self.bn2(x))


class AliasOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = self.conv(x)
        return y, y[:, :2], x


EXACT = {
    "shared_weight": (SharedWeight, (2, 4, 8, 8)),
    "shared_module": (SharedModule, (2, 4, 8, 8)),
    "reads_conv_weight": (ReadsWeight, (2, 3, 8, 8)),
    "shuffle_into_shared_weight": (ShuffleShared, (2, 6, 5, 5)),
    "manual_shuffle": (ManualShuffle, (2, 6, 5, 5)),
    "weight_norm": (lambda: _normed("weight_norm"), (2, 3, 8, 8)),
    "spectral_norm": (lambda: _normed("spectral_norm"), (2, 3, 8, 8)),
    "skip_mutated_in_place": (SkipMutated, (2, 4, 8, 8)),
    "in_place_activation_aliases": (ActMutatesConvOutput, (2, 4, 6, 6)),
    "view_flatten": (Flatten, (2, 3, 8, 8)),
    "dict_tuple_nontensor_outputs": (Structured, (2, 3, 8, 8)),
    "functional_conv": (FunctionalConv, (2, 3, 8, 8)),
    "timm_style_subclass": (lambda: nn.Sequential(TimmConv(3, 4, 3), _bn(4)), (2, 3, 8, 8)),
    "bn_before_conv": (BNBeforeConv, (2, 6, 7, 7)),
    "outputs_alias": (AliasOutput, (2, 3, 4, 4)),
    "conv_transpose_bn": (lambda: nn.Sequential(nn.ConvTranspose2d(4, 6, 3, 2, groups=2),
                                                _bn(6)), (2, 4, 5, 5)),
    "conv3d_bn": (lambda: nn.Sequential(nn.Conv3d(2, 3, 3, padding=1), nn.BatchNorm3d(3)),
                  (2, 2, 4, 5, 5)),
    "training_mode_model": (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), _bn(4), nn.Dropout(0.5),
                                                  nn.ReLU()).train(), (2, 3, 8, 8)),
}


@pytest.mark.parametrize("name", list(EXACT))
def test_exact_on_new_inputs(name: str) -> None:
    make, shape = EXACT[name]
    model = make()
    training = model.training
    fast = _exact_on_new_inputs(model.eval(), shape)
    model.train(training)
    assert fast.report.fresh_error <= fast.report.tolerance
    if name in ("weight_norm", "spectral_norm", "functional_conv", "timm_style_subclass",
                "conv_transpose_bn", "conv3d_bn"):
        assert fast.report.folded_batchnorms == 1  # constant weights computed once, then folded
    if name in ("manual_shuffle",):
        assert fast.report.folded_shuffles == 1
    if name == "bn_before_conv":
        assert fast.report.folded_batchnorms == 1  # the padded conv's BatchNorm stays
    if name == "shared_module":
        assert fast.report.folded_batchnorms == 2  # each call site folded into its own copy


REFUSALS = {
    "data_dependent_branch": (DataDependent, "module '<root>' \\(DataDependent\\) line \\d+: "
                              "data-dependent control flow"),
    "nested_data_dependent": (Wrapper, "module 'gate' \\(DataDependent\\) line \\d+: "
                              "data-dependent control flow"),
    "numpy": (ToNumpy, "module '<root>' \\(ToNumpy\\) line \\d+: a tensor leaves torch "
              "\\(.numpy\\(\\)\\)"),
    "cache_across_calls": (Cache, "module '<root>' \\(Cache\\): forward changes attribute 'cache' "
                           "\\(None, now a tensor of shape \\(2, 3, 6, 6\\)\\) on its first call "
                           "only \\(a lazy set-up, as some transformers models do\\): call the "
                           "model once on an input before optimize$"),
    "buffer_mutated": (Counter, "module '<root>' \\(Counter\\): forward changes buffer 'calls' "
                       "\\(written in place\\): state kept across calls, which a graph cannot "
                       "carry$"),
    "input_mutated": (InputInPlace, "forward modifies its input in place"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refused_with_one_line(name: str) -> None:
    make, message = REFUSALS[name]
    model = make().eval()
    with pytest.raises(ValueError, match=REFUSED.format(cls=type(model).__name__) + message) \
            as info:
        optimize(model, torch.randn(2, 3, 6, 6))
    assert "\n" not in str(info.value)


def test_fx_fallback_refuses_and_captures() -> None:
    from convzoo.fast.capture import capture

    with pytest.raises(ValueError, match=r"^`model` \(DataDependent\) cannot be optimized "
                       r"soundly: module '<root>' \(DataDependent\) line \d+: data-dependent "
                       "control flow"):
        capture(DataDependent(), torch.randn(1, 3, 4, 4), method="fx")
    with pytest.raises(ValueError, match=r"a tensor leaves torch \(.numpy\(\)\)"):
        capture(ToNumpy(), torch.randn(1, 3, 4, 4), method="fx")
    with pytest.raises(ValueError, match=r"forward changes attribute 'cache' \(None, now a "
                       r"tensor of shape \(1, 3, 4, 4\)\) on its first call only"):
        capture(Cache(), torch.randn(1, 3, 4, 4), method="fx")
    model, x = SkipMutated().eval(), torch.randn(2, 4, 5, 5)
    cap = capture(model, x, method="fx")
    assert cap.method == "fx"
    with torch.no_grad():
        _assert_close(cap.gm(x.clone()), model(x.clone()))
    with pytest.raises(ValueError, match=r"`method` \(='jit'\) must be one of: export, fx"):
        capture(model, x, method="jit")


def test_inference_only() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    fast = optimize(model, torch.randn(1, 3, 8, 8))
    assert fast.training is False and fast.eval() is fast
    assert list(fast.parameters()) == []
    with pytest.raises(ValueError, match=r"^`Optimized` is inference-only: train\(\) is not "
                       "supported; use the original model$"):
        fast.train()
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"`Optimized` is inference-only: backward is not "
                       "supported; use the original model"):
        fast(x).sum().backward()
    with torch.no_grad():
        assert not fast(x).requires_grad
    assert model.training  # the original is left as it was


def test_refuses_a_result_beyond_tolerance(monkeypatch) -> None:
    """A wrong rewrite is caught by the fresh-input check (here: a sabotaged fold)."""
    import convzoo.fast.optimizer as opt

    def broken(gm):
        for node in gm.graph.nodes:
            if node.op == "call_function" and node.target is torch.ops.aten.relu.default:
                node.target = torch.ops.aten.sigmoid.default
        return 0

    monkeypatch.setattr(opt, "fold_shuffles", broken)
    with pytest.raises(ValueError, match=r"^`model` \(Sequential\) optimized with "
                       r"backend='torch', precision='fp32' differs from the original on the "
                       r"example: output: max abs error [\d.e+-]+ > tolerance [\d.e+-]+ \(rtol "
                       r"0.0001 x max \|original\| [\d.e+-]+( \+ 4 x the original's own rounding "
                       r"[\d.e+-]+)?\); refusing the result \(the original repeats itself on "
                       r"the example, so a convzoo rewrite is wrong for this model: please "
                       r"report it, and use the original\)$"):
        optimize(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), torch.randn(1, 3, 8, 8))
