"""Random graphs for attacking ``optimize``: a recipe of steps, each reading earlier values.

A :class:`Recipe` is drawn by :func:`recipes` (hypothesis) and built into a plain
``torch.nn`` module (:class:`FuzzNet`): convs (dense, grouped, depthwise, dilated, strided,
transposed, large-kernel dense ones that the FFT path takes), BatchNorm (eval with random
statistics, affine off, or a submodule left in training mode), activations (in place or
not; one with a pure forward hook and pre-hook, or with a hook that keeps state), a
per-pixel LayerNorm over channels, add/mul/cat of two values, channel shuffles
(``F.channel_shuffle`` or a view/transpose chain), view/reshape/permute round trips,
pooling, interpolation,
constants (a buffer, a module-level global tensor, a constant output) and state (a
counter in a dict, a list, a set, a SimpleNamespace, a dataclass or a deque), ending in a
plain tensor, a flatten, a transpose, an NHWC permute, a tuple or a dict.
``Recipe.must_refuse`` says whether ``optimize`` has to refuse it (state, a stateful hook,
a submodule in training mode).
"""

from __future__ import annotations

import collections
import types
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import assume
from hypothesis import strategies as st
from plain_nets import randomize_batchnorms

GLOBAL_SCALE = torch.linspace(0.5, 1.5, 64)  # read by forward as a module-level global

ACTIVATIONS = {
    "relu": lambda inplace: nn.ReLU(inplace=inplace),
    "relu6": lambda inplace: nn.ReLU6(inplace=inplace),
    "hardtanh": lambda inplace: nn.Hardtanh(-2.0, 2.0, inplace=inplace),
    "leaky": lambda inplace: nn.LeakyReLU(0.1, inplace=inplace),
    "elu": lambda inplace: nn.ELU(inplace=inplace),
    "gelu": lambda inplace: nn.GELU(),
    "silu": lambda inplace: nn.SiLU(inplace=inplace),
    "hardswish": lambda inplace: nn.Hardswish(inplace=inplace),
    "sigmoid": lambda inplace: nn.Sigmoid(),
    "tanh": lambda inplace: nn.Tanh(),
}
STATES = ("dict", "list", "set", "namespace", "dataclass", "deque")
ENDINGS = ("plain", "flatten2", "flatten1", "nhwc", "transpose", "tuple", "const_out", "dict")


@dataclass
class _Stats:
    calls: int = 0


@dataclass(frozen=True)
class Step:
    """One op: ``op`` with its parameters ``args``, reading the values ``inputs``."""

    op: str
    args: tuple
    inputs: tuple[int, ...]


@dataclass
class Recipe:
    """A drawn graph: the input shape, the steps, how it ends, what it must do."""

    shape: tuple[int, int, int, int]
    steps: list[Step] = field(default_factory=list)
    ending: str = "plain"
    must_refuse: str = ""  # why optimize must refuse it ('' when it may accept)
    seed: int = 0


class FuzzNet(nn.Module):
    """The module a :class:`Recipe` describes (see the module docstring)."""

    def __init__(self, recipe: Recipe) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(recipe.seed)
        torch.manual_seed(recipe.seed)
        self.recipe = recipe
        layers: list[nn.Module] = []
        for step in recipe.steps:
            layers.append(self._module(step, g))
        self.layers = nn.ModuleList(layers)
        randomize_batchnorms(self, recipe.seed)
        self.register_buffer("base", torch.randn(4, generator=g))
        self.stats = {"calls": 0}
        self.seen: list[int] = []
        self.tags: set[int] = set()
        self.ns = types.SimpleNamespace(calls=0)
        self.record = _Stats()
        self.recent: collections.deque = collections.deque(maxlen=3)
        self.eval()
        for step, layer in zip(recipe.steps, self.layers):
            if step.op == "bn" and step.args[1] == "training":
                layer.train()

    @staticmethod
    def _module(step: Step, g: torch.Generator) -> nn.Module:
        a = step.args
        if step.op == "conv":
            cin, cout, k, stride, pad, dil, groups, bias = a
            return nn.Conv2d(cin, cout, k, stride, pad, dil, groups, bias)
        if step.op == "convT":
            cin, cout, k, stride, pad, outpad, groups = a
            return nn.ConvTranspose2d(cin, cout, k, stride, pad, outpad, groups)
        if step.op == "bn":
            return nn.BatchNorm2d(a[0], affine=a[1] != "no_affine")
        if step.op == "act":
            return ACTIVATIONS[a[0]](a[1])
        if step.op == "ln":
            ln = nn.LayerNorm(a[0])
            with torch.no_grad():
                ln.weight.copy_(torch.rand(a[0], generator=g) + 0.5)
                ln.bias.copy_(torch.randn(a[0], generator=g) * 0.3)
            return ln
        if step.op == "hook":
            act = nn.Hardtanh(-3.0, 3.0)
            if a[0] == "pure":
                act.register_forward_hook(lambda m, i, o: o * 0.5)
                act.register_forward_pre_hook(lambda m, i: (i[0] + 1.0,))
            else:
                calls: list[int] = []
                act.register_forward_hook(lambda m, i, o: calls.append(1))
            return act
        if step.op == "pool":
            kind, size = a
            return {"max": nn.MaxPool2d(2), "avg": nn.AvgPool2d(2),
                    "adaptive": nn.AdaptiveAvgPool2d(size)}[kind]
        if step.op == "const":
            mod = nn.Module()
            mod.register_buffer("value", torch.randn(1, a[0], 1, 1, generator=g))
            return mod
        return nn.Identity()

    def _state(self, kind: str) -> None:
        if kind == "dict":
            self.stats["calls"] += 1
        elif kind == "list":
            self.seen.append(len(self.seen))
        elif kind == "set":
            self.tags.add(len(self.tags))
        elif kind == "namespace":
            self.ns.calls += 1
        elif kind == "dataclass":
            self.record.calls += 1
        else:
            self.recent.append(len(self.recent))

    def forward(self, x: torch.Tensor) -> object:
        values = [x]
        for step, layer in zip(self.recipe.steps, self.layers):
            v = [values[i] for i in step.inputs]
            a = step.args
            if step.op in ("conv", "convT", "bn", "act", "pool", "hook"):
                y = layer(v[0])
            elif step.op == "ln":  # over channels, per pixel
                y = layer(v[0].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            elif step.op == "add":
                y = v[0] + v[1]
            elif step.op == "mul":
                y = v[0] * v[1]
            elif step.op == "cat":
                y = torch.cat([v[0], v[1]], 1)
            elif step.op == "shuffle":
                groups, manual = a
                if manual:
                    n, c, h, w = v[0].shape
                    y = v[0].view(n, groups, c // groups, h, w).transpose(1, 2).contiguous()
                    y = y.view(n, c, h, w)
                else:
                    y = F.channel_shuffle(v[0], groups)
            elif step.op == "view":
                n, c, h, w = v[0].shape
                if a[0] == "flat":
                    y = v[0].reshape(n, c, h * w).view(n, c, h, w)
                elif a[0] == "permute":
                    y = v[0].permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
                else:
                    y = v[0].flatten(1).unflatten(1, (c, h, w))
            elif step.op == "interp":
                mode, corners = a
                y = F.interpolate(v[0], scale_factor=2, mode=mode,
                                  align_corners=corners if mode == "bilinear" else None)
            elif step.op == "const":
                y = v[0] + layer.value
            elif step.op == "global":
                c = v[0].shape[1]
                y = v[0] * GLOBAL_SCALE[:c].view(1, c, 1, 1)
            elif step.op == "state":
                self._state(a[0])
                y = v[0] * 1.0
            else:
                raise AssertionError(step.op)
            values.append(y)
        out = values[-1]
        end = self.recipe.ending
        if end == "flatten2":
            return out.flatten(2)
        if end == "flatten1":
            return out.flatten(1)
        if end == "nhwc":
            return out.permute(0, 2, 3, 1)
        if end == "transpose":
            return out.transpose(1, 2)
        if end == "tuple":
            return out, values[len(values) // 2]
        if end == "const_out":
            return out, self.base * 8
        if end == "dict":
            return {"out": out, "mean": out.mean((2, 3))}
        return out


@st.composite
def recipes(draw: st.DrawFn, fft: bool = True) -> Recipe:
    """A random :class:`Recipe` (at most 6 steps, at most 16 channels, sides 1-32)."""
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 6))
    h, w = draw(st.integers(4, 12)), draw(st.integers(4, 12))
    recipe = Recipe((n, c, h, w), seed=draw(st.integers(0, 2**16)))
    shapes = [(c, h, w)]
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(shapes) - 1))
        c, h, w = shapes[i]
        op = draw(st.sampled_from(["conv", "conv", "conv", "convT", "bn", "act", "act", "add",
                                   "mul", "cat", "shuffle", "view", "pool", "interp", "const",
                                   "global", "state", "ln", "hook"]))
        inputs: tuple[int, ...] = (i,)
        if op == "conv":
            big = fft and c * 4 <= 64 and draw(st.integers(0, 5)) == 0
            k = draw(st.sampled_from([19, 21])) if big else draw(st.sampled_from([1, 3, 5]))
            stride = 1 if big else draw(st.sampled_from([1, 1, 2]))
            dil = 1 if big else draw(st.sampled_from([1, 1, 2]))
            groups = 1 if big else draw(st.sampled_from(
                [g for g in (1, 2, 3, c) if c % g == 0]))
            cout = groups * draw(st.integers(1, max(1, 8 // groups)))
            pad = draw(st.sampled_from([0, dil * (k - 1) // 2]))
            oh = (h + 2 * pad - dil * (k - 1) - 1) // stride + 1
            ow = (w + 2 * pad - dil * (k - 1) - 1) // stride + 1
            assume(oh >= 1 and ow >= 1)
            args: tuple = (c, cout, k, stride, pad, dil, groups, draw(st.booleans()))
            shape = (cout, oh, ow)
        elif op == "convT":
            groups = draw(st.sampled_from([g for g in (1, 2) if c % g == 0]))
            cout = groups * draw(st.integers(1, 3))
            k, stride = draw(st.sampled_from([2, 3])), draw(st.sampled_from([1, 2]))
            pad = draw(st.integers(0, (k - 1) // 2))
            outpad = draw(st.integers(0, stride - 1))
            oh = (h - 1) * stride - 2 * pad + k + outpad
            ow = (w - 1) * stride - 2 * pad + k + outpad
            assume(max(oh, ow) <= 32)
            args, shape = (c, cout, k, stride, pad, outpad, groups), (cout, oh, ow)
        elif op == "bn":
            mode = draw(st.sampled_from(["eval", "eval", "no_affine", "training"]))
            args, shape = (c, mode), (c, h, w)
            if mode == "training":
                recipe.must_refuse = recipe.must_refuse or "training"
        elif op == "act":
            args = (draw(st.sampled_from(sorted(ACTIVATIONS))), draw(st.booleans()))
            shape = (c, h, w)
        elif op in ("add", "mul", "cat"):
            same = [j for j, s in enumerate(shapes) if (s == shapes[i] if op != "cat"
                                                        else s[1:] == (h, w))]
            inputs = (i, draw(st.sampled_from(same)))
            other = shapes[inputs[1]][0]
            assume(op != "cat" or c + other <= 16)
            args, shape = (), ((c + other) if op == "cat" else c, h, w)
        elif op == "shuffle":
            groups = [g for g in (2, 3, 4) if c % g == 0 and c > g]
            assume(groups)
            args, shape = (draw(st.sampled_from(groups)), draw(st.booleans())), (c, h, w)
        elif op == "view":
            args, shape = (draw(st.sampled_from(["flat", "permute", "unflatten"])),), (c, h, w)
        elif op == "pool":
            kind = draw(st.sampled_from(["max", "avg", "adaptive"]))
            assume(h >= 2 and w >= 2)
            size = (max(1, h // 2), max(1, w // 3))
            args = (kind, size)
            shape = (c, *size) if kind == "adaptive" else (c, h // 2, w // 2)
        elif op == "interp":
            assume(h * 2 <= 32 and w * 2 <= 32)
            args = (draw(st.sampled_from(["nearest", "bilinear"])), draw(st.booleans()))
            shape = (c, 2 * h, 2 * w)
        elif op in ("const", "ln"):
            args, shape = (c,), (c, h, w)
        elif op == "hook":
            args, shape = (draw(st.sampled_from(["pure", "stateful"])),), (c, h, w)
            if args[0] == "stateful":
                recipe.must_refuse = recipe.must_refuse or "hook"
        elif op == "global":
            args, shape = (), (c, h, w)
        else:
            kind = draw(st.sampled_from(STATES))
            args, shape = (kind,), (c, h, w)
            recipe.must_refuse = recipe.must_refuse or f"state:{kind}"
        recipe.steps.append(Step(op, args, inputs))
        shapes.append(shape)
    recipe.ending = draw(st.sampled_from(ENDINGS))
    return recipe


def cancelling_mean() -> Recipe:
    """The 1,000-example run's find (issue 18): a 19x19 conv on a 9x10 input, returning the
    conv and its mean (``{"out": y, "mean": y.mean((2, 3))}``), a mean far smaller than
    the conv's terms on image-like inputs."""
    return Recipe(shape=(1, 1, 9, 10), steps=[
        Step(op="view", args=("flat",), inputs=(0,)),
        Step(op="view", args=("flat",), inputs=(0,)),
        Step(op="conv", args=(1, 1, 19, 1, 9, 1, 1, False), inputs=(0,))],
        ending="dict", must_refuse="", seed=774)


def example_for(recipe: Recipe, kind: str, seed: int) -> torch.Tensor:
    """An example input of the recipe's shape: ``normal``, ``image`` (0-255 with a zero
    band), ``large`` (1e3), ``small`` (1e-3) or ``some_nan`` (a NaN in one place)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(recipe.shape, generator=g)
    if kind == "image":
        x = torch.randint(0, 256, recipe.shape, generator=g).float()
        x[:, :, : recipe.shape[2] // 3] = 0
    elif kind == "large":
        x = x * 1e3
    elif kind == "small":
        x = x * 1e-3
    elif kind == "some_nan":
        x.view(-1)[0] = float("nan")
    return x


__all__ = ["ACTIVATIONS", "ENDINGS", "GLOBAL_SCALE", "STATES", "FuzzNet", "Recipe", "Step",
           "cancelling_mean", "example_for", "recipes"]
