"""Per-position receptive-field spans against the gradient support (the independent oracle).

With positive weights, identity activations and a positive input no two paths cancel, so
``d out / d x[v]`` is nonzero exactly where ``out`` depends on ``x[v]``. For an axis and an
output index ``u`` along it, the oracle is the set of input positions along that axis where
the gradient of a random positive combination of all outputs with index ``u`` is nonzero;
``field.span(u)`` must be its first and last element (None when it is empty), for every
``u``. Max pooling is left out: its gradient reaches the argmax only.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convzoo.analysis import receptive_field

C = 2


def gradient_spans(model: nn.Module, shape: tuple[int, ...],
                   pairs: tuple[tuple[int, int], ...] = ((2, 2), (3, 3)),
                   dtype: torch.dtype = torch.float64) -> list[list[tuple[int, int] | None]]:
    """Per ``(input dim, output dim)`` pair, per output index along the output dim: the first
    and last input index along the input dim where the gradient is nonzero (None if none)."""
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(shape, dtype=dtype, generator=gen) + 0.5).requires_grad_(True)
    y = model(x)
    # a random positive weighting: a plain sum of softmax or normalized outputs is constant
    y = y * (torch.rand(y.shape, dtype=dtype, generator=gen) + 0.5)
    out = []
    for d_in, d_out in pairs:
        spans = []
        for u in range(y.shape[d_out]):
            (g,) = torch.autograd.grad(y.select(d_out, u).sum(), x, retain_graph=True)
            g = g.abs().sum(tuple(e for e in range(g.dim()) if e != d_in))
            inside = torch.nonzero(g > 0).flatten().tolist()
            spans.append((inside[0], inside[-1]) if inside else None)
        out.append(spans)
    return out


def _positive(module: nn.Module, gen: torch.Generator) -> nn.Module:
    with torch.no_grad():
        for p in module.parameters():  # biases too: a gate by a zero output would cut paths
            p.copy_(torch.rand(p.shape, generator=gen, dtype=torch.float64) * 0.8 + 0.2)
    return module.double()


class Net(nn.Module):
    """A list of steps, each ``(kind, callable)``, with the modules they use registered."""

    def __init__(self, steps: list, modules: list[nn.Module]) -> None:
        super().__init__()
        self.steps = steps
        self.mods = nn.ModuleList(modules)

    def forward(self, x):
        for step in self.steps:
            x = step(x)
        return x


def _conv_out(i: int, k: int, s: int, p: int, d: int) -> int:
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def graphs_for(draw, h: int, w: int):  # noqa: C901 - one branch per op kind
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    steps, mods, names, is_global = [], [], [], [False, False]

    def conv(k: int, s: int, p: int, d: int, transposed: bool = False, op: int = 0,
             cin: int = C, cout: int = C) -> nn.Module:
        m = (nn.ConvTranspose2d(cin, cout, k, s, p, op, dilation=d) if transposed
             else nn.Conv2d(cin, cout, k, s, p, dilation=d))
        mods.append(_positive(m, gen))
        return m

    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from([
            "conv", "transposed", "avgpool", "adaptive", "interpolate", "shuffle", "unshuffle",
            "pad", "branch", "cat_w", "groupnorm", "softmax_w", "mean_h"]))
        names.append(kind)
        if kind == "conv":
            k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
            p = draw(st.integers(0, (d * (k - 1)) // 2 + 1))
            oh, ow = _conv_out(h, k, s, p, d), _conv_out(w, k, s, p, d)
            assume(oh >= 1 and ow >= 1)
            steps.append(conv(k, s, p, d))
            h, w = oh, ow
        elif kind == "transposed":
            k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
            p = draw(st.integers(0, d * (k - 1)))
            op = draw(st.integers(0, max(s, d) - 1))
            oh = (h - 1) * s - 2 * p + d * (k - 1) + op + 1
            ow = (w - 1) * s - 2 * p + d * (k - 1) + op + 1
            assume(1 <= oh <= 24 and 1 <= ow <= 24)
            steps.append(conv(k, s, p, d, True, op))
            h, w = oh, ow
        elif kind == "avgpool":
            k, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
            p = draw(st.integers(0, k // 2))
            ceil = draw(st.booleans())
            assume(h + 2 * p >= k and w + 2 * p >= k)
            pool = nn.AvgPool2d(k, s, p, ceil_mode=ceil)
            oh, ow = pool(torch.empty(1, 1, h, w)).shape[-2:]
            steps.append(pool)
            h, w = int(oh), int(ow)
        elif kind == "adaptive":
            h, w = draw(st.integers(1, h)), draw(st.integers(1, w))
            steps.append(nn.AdaptiveAvgPool2d((h, w)))
            if h == w == 1:  # global pooling (PyTorch runs a mean)
                is_global = [True, True]
        elif kind == "interpolate":
            mode = draw(st.sampled_from(["nearest", "nearest-exact", "bilinear", "bicubic"]))
            align = draw(st.booleans()) if mode in ("bilinear", "bicubic") else None
            if draw(st.booleans()):
                sf = draw(st.sampled_from([0.5, 0.75, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0, 4.0]))
                oh, ow = math.floor(h * sf), math.floor(w * sf)
                assume(1 <= oh <= 24 and 1 <= ow <= 24)
                steps.append(lambda x, sf=sf, mode=mode, align=align: F.interpolate(
                    x, scale_factor=sf, mode=mode, align_corners=align))
            else:
                oh, ow = draw(st.integers(1, 20)), draw(st.integers(1, 20))
                steps.append(lambda x, size=(oh, ow), mode=mode, align=align: F.interpolate(
                    x, size=size, mode=mode, align_corners=align))
            h, w = oh, ow
        elif kind == "shuffle":
            assume(h * 2 <= 24 and w * 2 <= 24)
            steps += [conv(1, 1, 0, 1, cout=4 * C), nn.PixelShuffle(2)]
            h, w = 2 * h, 2 * w
        elif kind == "unshuffle":
            assume(h % 2 == 0 and w % 2 == 0)
            steps += [nn.PixelUnshuffle(2), conv(1, 1, 0, 1, cin=4 * C)]
            h, w = h // 2, w // 2
        elif kind == "pad":
            mode = draw(st.sampled_from(["constant", "reflect", "replicate"]))
            limit = min(h, w) - 1 if mode == "reflect" else 3
            pads = tuple(draw(st.integers(0, max(limit, 0))) for _ in range(4))
            # constant 1, not 0: a later gate (x * norm(x)) by a zero would cut the paths
            steps.append(lambda x, pads=pads, mode=mode: F.pad(
                x, pads, mode=mode, value=1.0 if mode == "constant" else None))
            h, w = h + pads[2] + pads[3], w + pads[0] + pads[1]
            assume(h <= 24 and w <= 24)
        elif kind == "branch":
            k, d = draw(st.sampled_from([1, 3, 5])), draw(st.integers(1, 2))
            main = conv(k, 1, d * (k - 1) // 2, d)
            other = draw(st.sampled_from(["identity", "conv1", "pool3"]))
            side = {"identity": nn.Identity(), "conv1": conv(1, 1, 0, 1),
                    "pool3": nn.AvgPool2d(3, 1, 1)}[other]
            merge = draw(st.sampled_from(["add", "mul", "cat"]))
            mix = conv(1, 1, 0, 1, cin=2 * C)
            steps.append(lambda x, main=main, side=side, merge=merge, mix=mix: (
                main(x) + side(x) if merge == "add" else main(x) * side(x) if merge == "mul"
                else mix(torch.cat([main(x), side(x)], 1))))
        elif kind == "cat_w":
            w2 = draw(st.integers(1, 6))
            mode = draw(st.sampled_from(["nearest", "bilinear"]))
            steps.append(lambda x, w2=w2, mode=mode: torch.cat(
                [x, F.interpolate(x, size=(x.shape[2], w2), mode=mode)], -1))
            w += w2
            assume(w <= 24)
        # gated: a plain sum of normalized or softmax outputs is a constant (cancellation)
        elif kind == "groupnorm":
            assume(h * w > 1)
            norm = nn.GroupNorm(1, C).double()
            mods.append(norm)
            steps.append(lambda x, norm=norm: x * norm(x))
            is_global = [True, True]
        elif kind == "softmax_w":
            assume(w > 1)
            steps.append(lambda x: x * torch.softmax(x, -1))
            is_global[1] = True
        elif kind == "mean_h":
            steps.append(lambda x: x + x.mean(2, keepdim=True))
            is_global[0] = True
    return Net(steps, mods), names, is_global


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_every_span_equals_the_gradient_support(data):
    h, w = data.draw(st.integers(2, 10)), data.draw(st.integers(2, 10))
    net, names, is_global = data.draw(graphs_for(h, w))
    shape = (1, C, h, w)
    rf = receptive_field(net, shape, dtype=torch.float64)
    oracle = gradient_spans(net, shape)
    assert rf.exact, (names, rf.notes)
    for axis in range(2):
        ours = [rf.fields[axis].span(u) for u in range(rf.shape[2 + axis])]
        assert ours == oracle[axis], (names, axis)
    assert list(rf.is_global) == is_global, names
