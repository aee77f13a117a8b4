"""Per-position receptive-field spans against the gradient support (the independent oracle).

With positive weights, identity activations and a positive input no two paths cancel, so
``d out / d x[v]`` is nonzero exactly where ``out`` depends on ``x[v]``. For an axis and an
output index ``u`` along it, the oracle is the set of input positions along that axis where
the gradient of a random positive combination of all outputs with index ``u`` is nonzero;
``field.span(u)`` must be its first and last element (None when it is empty), for every
``u`` (``tests/analysis/oracle.py``; for flattened tokens, per coordinate). Max pooling is
left out: its gradient reaches the argmax only.

The random graphs mix the ops with exact rules (convs, pools, interpolation, pads, pixel
shuffles, branches, slice assignment, canvases, zeroed slices, roll, flip, repeat, expand,
``unfold``, ``as_strided`` windows, ``F.unfold``, splits, tokens with a class token, matrix
products and attention over positions) with ops that must be flagged (index reads and
writes, a channel reshuffle, a constant mask). Every result is checked at every coordinate:
an ``exact`` one must equal the gradient support, any other must contain it, and no rule may
fail on a pattern (no "not modelled here" note).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from tests.analysis.oracle import check, positive_

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


def _slices(dim: int, part: slice) -> tuple:
    index = [slice(None)] * 4
    index[dim] = part
    return tuple(index)


class _Tokens(nn.Module):
    """Image -> tokens (with a class token) -> a channel mix (and attention) -> image."""

    def __init__(self, gen: torch.Generator, attend: bool, cls: bool) -> None:
        super().__init__()
        self.mix = positive_(nn.Linear(C, C), gen)
        self.attend, self.cls = attend, cls

    def forward(self, x):
        n, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)  # (N, HW, C)
        if self.cls:
            t = torch.cat([torch.ones(n, 1, c, dtype=x.dtype), t], 1)
        t = self.mix(t)
        if self.attend:
            t = torch.softmax(t @ t.transpose(1, 2), -1) @ t  # attention over positions
        if self.cls:
            t = t[:, 1:]
        return t.transpose(1, 2).reshape(n, c, h, w)


@st.composite
def graphs_for(draw, h: int, w: int):  # noqa: C901 - one branch per op kind
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    steps, mods, names, is_global = [], [], [], [False, False]

    def conv(k: int, s: int, p: int, d: int, transposed: bool = False, op: int = 0,
             cin: int = C, cout: int = C) -> nn.Module:
        m = (nn.ConvTranspose2d(cin, cout, k, s, p, op, dilation=d) if transposed
             else nn.Conv2d(cin, cout, k, s, p, dilation=d))
        mods.append(positive_(m, gen))
        return m

    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from([
            "conv", "transposed", "avgpool", "adaptive", "interpolate", "shuffle", "unshuffle",
            "pad", "branch", "cat_w", "groupnorm", "softmax_w", "mean_h",
            "shift_write", "canvas", "zero_slice", "roll", "flip", "repeat", "expand",
            "unfold", "as_strided", "im2col", "split", "tokens", "positions", "slice_scatter",
            "index_select", "gather", "index_put", "reshuffle", "masked"]))
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
        elif kind == "shift_write":  # TSM: a shifted copy into zeros, some channels only
            dim = draw(st.sampled_from([2, 3]))
            n = h if dim == 2 else w
            assume(n > 1)
            s = draw(st.integers(1, n - 1))
            channels = draw(st.sampled_from([slice(None), slice(0, 1)]))

            def shift_write(x, dim=dim, s=s, channels=channels):
                y = torch.zeros_like(x)
                y[:, channels][_slices(dim, slice(s, None))] = x[:, channels][
                    _slices(dim, slice(None, -s))]
                if channels != slice(None):
                    y[:, 1:] = x[:, 1:]
                return y
            steps.append(shift_write)
        elif kind == "canvas":  # GeneralizedRCNNTransform: the image copied into zeros
            top, left = draw(st.integers(0, 3)), draw(st.integers(0, 3))
            bottom, right = draw(st.integers(0, 3)), draw(st.integers(0, 3))
            how = draw(st.sampled_from(["new_zeros", "torch.zeros", "setitem"]))

            def canvas(x, top=top, left=left, bottom=bottom, right=right, how=how):
                n, c, hh, ww = x.shape
                size = (n, c, hh + top + bottom, ww + left + right)
                out = (torch.zeros(size, dtype=x.dtype) if how == "torch.zeros"
                       else x.new_zeros(size))
                region = out[:, :, top:top + hh, left:left + ww]
                if how == "setitem":
                    out[:, :, top:top + hh, left:left + ww] = x
                else:
                    region.copy_(x)
                return out
            steps.append(canvas)
            h, w = h + top + bottom, w + left + right
            assume(h <= 24 and w <= 24)
        elif kind == "zero_slice":  # zeroed in place, along one or two dims
            dims = draw(st.sampled_from([(1,), (2,), (3,), (2, 3), (1, 3)]))
            parts = []
            for d in dims:
                n = {1: C, 2: h, 3: w}[d]
                a = draw(st.integers(0, n - 1))
                parts.append((d, slice(a, draw(st.integers(a + 1, n)))))
            how = draw(st.sampled_from(["setitem", "zero_", "fill_"]))

            def zero_slice(x, parts=parts, how=how):
                x = x.clone()
                index = [slice(None)] * 4
                for d, part in parts:
                    index[d] = part
                if how == "setitem":
                    x[tuple(index)] = 0
                elif how == "zero_":
                    x[tuple(index)].zero_()
                else:
                    x[tuple(index)].fill_(0.0)
                return x
            steps.append(zero_slice)
        elif kind == "roll":
            shifts = (draw(st.integers(-5, 5)), draw(st.integers(-5, 5)))
            steps.append(lambda x, shifts=shifts: torch.roll(x, shifts, (2, 3)))
        elif kind == "flip":
            dims = draw(st.sampled_from([(2,), (3,), (2, 3)]))
            steps.append(lambda x, dims=dims: torch.flip(x, dims))
        elif kind == "repeat":
            r = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
            assume(h * r[0] <= 24 and w * r[1] <= 24)
            steps.append(lambda x, r=r: x.repeat(1, 1, *r))
            h, w = h * r[0], w * r[1]
        elif kind == "expand":  # a pooled row broadcast back over the rows
            # (an adaptive pool's window covering the axis is not flagged global)
            steps.append(lambda x: F.adaptive_avg_pool2d(x, (1, x.shape[3])).expand_as(x) + x)
        elif kind == "unfold":  # sliding windows by Tensor.unfold, summed (or one tap kept)
            dim = draw(st.sampled_from([2, 3]))
            n = h if dim == 2 else w
            k, s = draw(st.integers(1, 3)), draw(st.integers(1, 2))
            assume(k <= n)
            keep = draw(st.sampled_from([None, 0, k - 1]))
            steps.append(lambda x, dim=dim, k=k, s=s, keep=keep: (
                x.unfold(dim, k, s).sum(-1) if keep is None else x.unfold(dim, k, s)[..., keep]))
            if dim == 2:
                h = (h - k) // s + 1
            else:
                w = (w - k) // s + 1
        elif kind == "as_strided":  # k x k windows by as_strided, summed
            k, s = draw(st.integers(1, 3)), draw(st.integers(1, 2))
            assume(k <= h and k <= w)
            oh, ow = (h - k) // s + 1, (w - k) // s + 1

            def windows(x, k=k, s=s, oh=oh, ow=ow):
                x = x.contiguous()
                n, c, hh, ww = x.shape
                win = x.as_strided((n, c, oh, ow, k, k),
                                   (c * hh * ww, hh * ww, s * ww, s, ww, 1))
                return win.sum((-1, -2))
            steps.append(windows)
            h, w = oh, ow
        elif kind == "im2col":  # F.unfold, a channel mix, back to an image
            k, s = draw(st.integers(1, 3)), draw(st.integers(1, 2))
            p = draw(st.integers(0, k // 2))
            assume(h + 2 * p >= k and w + 2 * p >= k)
            oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            lin = positive_(nn.Linear(C * k * k, C), gen)
            mods.append(lin)
            steps.append(lambda x, k=k, s=s, p=p, oh=oh, ow=ow, lin=lin: lin(
                F.unfold(x, k, padding=p, stride=s).transpose(1, 2)).transpose(1, 2).reshape(
                    x.shape[0], C, oh, ow))
            h, w = oh, ow
        elif kind == "split":  # the two pieces of a split, swapped
            dim = draw(st.sampled_from([2, 3]))
            n = h if dim == 2 else w
            assume(n > 1)
            cut = draw(st.integers(1, n - 1))
            steps.append(lambda x, dim=dim, cut=cut: torch.cat(
                x.split([cut, x.shape[dim] - cut], dim)[::-1], dim))
        elif kind == "tokens":
            attend, cls = draw(st.booleans()), draw(st.booleans())
            tokens = _Tokens(gen, attend, cls)
            mods.append(tokens)
            steps.append(tokens)
            if attend:
                is_global = [True, True]
        elif kind == "positions":  # spatial-reduction attention (SegFormer, PVT)
            assume(h % 2 == 0 and w % 2 == 0)

            def positions(x):
                n, c, hh, ww = x.shape
                q = x.flatten(2).transpose(1, 2)  # (N, HW, C)
                k = F.avg_pool2d(x, 2).flatten(2)  # (N, C, HW/4)
                t = torch.softmax(q @ k, -1) @ k.transpose(1, 2)
                return t.transpose(1, 2).reshape(n, c, hh, ww)
            steps.append(positions)
            is_global = [True, True]
        elif kind == "slice_scatter":  # one slice written over another
            dim = draw(st.sampled_from([2, 3]))
            n = h if dim == 2 else w
            length = draw(st.integers(1, n))
            src, dst = draw(st.integers(0, n - length)), draw(st.integers(0, n - length))
            steps.append(lambda x, dim=dim, length=length, src=src, dst=dst: torch.slice_scatter(
                x, x.narrow(dim, src, length) * 2, dim, dst, dst + length))
        elif kind in ("index_select", "gather", "index_put"):  # positions from an index tensor
            dim = draw(st.sampled_from([2, 3]))
            n = h if dim == 2 else w
            picks = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n))
            # constants are made in forward, as a model does (meta tensors while tracing)
            if kind == "index_select":
                steps.append(lambda x, dim=dim, picks=picks: torch.index_select(
                    x, dim, torch.tensor(picks)))
            elif kind == "gather":
                def gather(x, dim=dim, picks=picks):
                    shape = list(x.shape)
                    shape[dim] = len(picks)
                    view = [1, 1, 1, 1]
                    view[dim] = -1
                    return torch.gather(x, dim, torch.tensor(picks).view(view).expand(shape))
                steps.append(gather)
            else:
                def index_put(x, dim=dim, picks=picks):
                    x = x.clone()
                    x[_slices(dim, torch.tensor(picks))] = 1.0
                    return x
                steps.append(index_put)
            if kind != "index_put":
                h, w = (len(picks), w) if dim == 2 else (h, len(picks))
        elif kind == "reshuffle":  # channels moved to space and back: channels not tracked
            assume(h % 2 == 0 and w % 2 == 0)
            steps += [nn.PixelUnshuffle(2), nn.PixelShuffle(2)]
        elif kind == "masked":  # a constant mask
            keep = (torch.rand(h, w, generator=gen) > 0.5).tolist()
            steps.append(lambda x, keep=keep: x.masked_fill(torch.tensor(keep), 1.0))
    return Net(steps, mods), names, is_global


def _check_random_graph(data) -> None:
    h, w = data.draw(st.integers(2, 10)), data.draw(st.integers(2, 10))
    net, names, is_global = data.draw(graphs_for(h, w))
    shape = (1, C, h, w)
    right, total, rf = check(net, shape)
    assert not any("not modelled here" in n or "place was lost" in n for n in rf.notes), (
        names, rf.notes)
    for axis, flagged in enumerate(rf.is_global):  # 'whole input': one span (or none)
        place = rf.places[axis]
        size = 1 if place is None else place.size
        spans = {rf.fields[axis].span(u) for u in range(size)} - {None}
        if flagged or (rf.exact and is_global[axis]):
            assert len(spans) <= 1, (names, axis)
    event("exact" if rf.exact else "flagged inexact")
    for name in set(names):  # how often each op is drawn (--hypothesis-show-statistics)
        event(f"op {name}")


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_every_span_equals_the_gradient_support(data):
    """Exact results equal the gradient support at every coordinate; the others contain it."""
    _check_random_graph(data)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(st.data())
def test_every_span_equals_the_gradient_support_1000_examples(data):
    """The same property on 1,000 random graphs (docs/testing.md records the run)."""
    _check_random_graph(data)
