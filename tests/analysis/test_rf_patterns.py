"""The tensor patterns of issue 19 after a conv, each against the gradient support at every
coordinate (``tests/analysis/oracle.py``): exact where a rule is proven, otherwise flagged
inexact with a note naming the op, and never a crash."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from tests.analysis.oracle import check, positive_
from tests.analysis.test_rf_cases import Head
from torch.utils.flop_counter import FlopCounterMode

from convzoo.analysis import field_rules, receptive_field, summary

SHAPE = (1, 2, 8, 6)


def After(fn) -> nn.Module:  # noqa: N802 - a module factory
    """A 3x3 conv, then ``fn``."""
    return Head(fn, channels=2, in_channels=2)


def _run(fn, shape=SHAPE):
    net = positive_(After(fn), torch.Generator().manual_seed(0))
    return check(net, shape)


def _tsm(x):  # temporal shift by slice assignment
    y = torch.zeros_like(x)
    y[..., 1:] = x[..., :-1]
    return y


def _tsm_channels(x):  # TSM proper: part of the channels shifted, the rest copied
    y = torch.zeros_like(x)
    y[:, :1, :, 1:] = x[:, :1, :, :-1]
    y[:, 1:] = x[:, 1:]
    return y


def _batch_images(x):  # GeneralizedRCNNTransform.batch_images: a copy into a zero canvas
    images = [x[0], x[0, :, :5, :4]]
    batched = images[0].new_full((2, 2, 12, 12), 0)
    for i, img in enumerate(images):
        batched[i, : img.shape[0], : img.shape[1], : img.shape[2]].copy_(img)
    return batched


def _zero_columns(x):
    x = x * 1
    x[..., :2] = 0
    return x


def _times_zero(x):  # columns zeroed by an in-place product with 0 (exact: no dependency)
    x = x * 1
    x[..., :2] *= 0
    x[..., 4:].mul_(0.0)
    return x + x[..., 2:3] ** 0 + x[..., 3:4] / float("inf")


def _windows(x):  # 3x3 windows made with as_strided, summed
    x = x.contiguous()
    return x.as_strided((1, 2, 6, 4, 3, 3), (96, 48, 6, 1, 6, 1)).sum((-1, -2))


def _class_token(x):  # tokens with a class token, the class token sliced off again
    t = x.flatten(2).transpose(1, 2)
    t = torch.cat([torch.ones(1, 1, 2, dtype=x.dtype), t], 1)
    return t[:, 1:].transpose(1, 2).reshape(x.shape)


def _positions(x):  # attention with keys from a pooled map (SegFormer)
    q, k = x.flatten(2).transpose(1, 2), F.avg_pool2d(x, 2).flatten(2)
    return torch.softmax(q @ k, -1) @ k.transpose(1, 2)


EXACT = {
    "TSM shift by slice assignment": _tsm,
    "TSM shift of some channels": _tsm_channels,
    "copy into a zero canvas (GeneralizedRCNNTransform)": _batch_images,
    "in-place zeroing of columns": _zero_columns,
    "columns times 0, x ** 0, x / inf": _times_zero,
    "zero_ on a view": lambda x: (lambda y: (y[..., 1:3, :].zero_(), y)[1])(x * 1),
    "slice_scatter": lambda x: torch.slice_scatter(torch.zeros(1, 2, 8, 9, dtype=x.dtype), x,
                                                   3, 2, 8),
    "as_strided 3x3 windows": _windows,
    "Tensor.unfold windows": lambda x: x.unfold(3, 3, 1).sum(-1),
    "F.unfold (im2col) back to an image": lambda x: F.unfold(x, 3).view(1, 2, 9, 6, 4).sum(2),
    "roll": lambda x: torch.roll(x, (2, -1), (2, 3)),
    "flip": lambda x: torch.flip(x, (2, 3)),
    "repeat": lambda x: x.repeat(1, 1, 2, 1),
    "split pieces swapped": lambda x: torch.cat(x.split([2, 4], -1)[::-1], -1),
    "class token concatenated and sliced off": _class_token,
    "matmul over positions (spatial-reduction attention)": _positions,
    "bmm of tokens": lambda x: torch.bmm(x.flatten(2).transpose(1, 2), x.flatten(2)),
    "pixel unshuffle, 1x1 conv, pixel shuffle": nn.Sequential(
        nn.PixelUnshuffle(2), nn.Conv2d(8, 8, 1), nn.PixelShuffle(2)),
}


@pytest.mark.parametrize("name", list(EXACT))
def test_pattern_is_exact_at_every_coordinate(name):
    right, total, rf = _run(EXACT[name])
    assert rf.exact, rf.notes
    assert right == total > 0


def test_tsm_shift_claims_the_input_column_it_copies():
    rf = _run(_tsm)[2]
    assert [rf.fields[1].span(u) for u in range(6)] == [None, (0, 1), (0, 2), (1, 3), (2, 4),
                                                        (3, 5)]
    assert not rf.is_global[1]


def test_zeroed_columns_depend_on_nothing_and_the_canvas_border_neither():
    rf = _run(_zero_columns)[2]
    assert [rf.fields[1].span(u) for u in range(3)] == [None, None, (1, 3)]
    times_zero = _run(_times_zero)[2]  # columns 2 and 3 survive; ** 0 and / inf: constants
    assert [times_zero.fields[1].span(u) for u in range(6)] == [None, None, (1, 3), (2, 4),
                                                                None, None]
    canvas = _run(_batch_images)[2]
    assert canvas.fields[0].span(8) is None and canvas.fields[0].span(7) == (6, 7)


def test_as_strided_windows_are_local_not_global():
    rf = _run(_windows)[2]
    assert rf.is_global == (False, False) and rf.fields[0].span(0) == (0, 3)


def _index_put(x):
    x = x.clone()
    x[:, :, torch.tensor([1, 2])] = 0
    return x


FLAGGED = {  # the op whose note must say why the spans are an upper bound
    "index_select": lambda x: torch.index_select(x, 3, torch.tensor([0, 2, 4])),
    "gather": lambda x: torch.gather(x, 3, torch.zeros(1, 2, 8, 3, dtype=torch.long)),
    "index": lambda x: x[:, :, [0, 2], :],
    "index_put_": lambda x: _index_put(x),
    "masked_fill": lambda x: x.masked_fill(torch.ones(8, 6, dtype=torch.bool).triu(), 0),
    "pixel_shuffle": lambda x: F.pixel_shuffle(F.pixel_unshuffle(x, 2), 2),
    "scatter": lambda x: x.scatter(3, torch.zeros(1, 2, 8, 1, dtype=torch.long), 1.0),
    "cumsum": lambda x: torch.cumsum(x, -1),
    # causal attention: on meta tensors a constant -inf bias added to the scores
    "add": lambda x: F.scaled_dot_product_attention(
        *(x.flatten(2).transpose(1, 2),) * 3, is_causal=True).transpose(1, 2).reshape(x.shape),
}


@pytest.mark.parametrize("op", list(FLAGGED))
def test_pattern_is_flagged_with_a_note_naming_the_op(op):
    right, total, rf = _run(FLAGGED[op])  # the oracle: the spans still contain the truth
    assert not rf.exact
    assert any(note.split(":")[0].rstrip("_") == op.rstrip("_") for note in rf.notes), rf.notes


def test_pixel_unshuffle_then_shuffle_is_not_two_wide_and_exact():
    rf = _run(FLAGGED["pixel_shuffle"])[2]
    two_wide = any(rf.fields[0].span(u) != (max(u - 1, 0), min(u + 1, 7)) for u in range(8))
    assert not rf.exact or not two_wide


def test_the_issue_reproducers_run_and_are_right():
    class A(nn.Module):  # spatial-reduction attention (SegFormer, PVT)
        def __init__(s):
            super().__init__()
            s.sr = nn.Conv2d(8, 8, 8, stride=8)

        def forward(s, x):
            q, k = x.flatten(2).transpose(1, 2), s.sr(x).flatten(2)
            return torch.softmax(q @ k, -1) @ k.transpose(1, 2)

    class V(nn.Module):  # a class token concatenated, then sliced off (DPT, ViT)
        def __init__(s):
            super().__init__()
            s.p = nn.Conv2d(3, 8, 4, 4)
            s.cls = nn.Parameter(torch.zeros(1, 1, 8))

        def forward(s, x):
            t = s.p(x).flatten(2).transpose(1, 2)
            return torch.cat([s.cls, t], 1)[:, 1:]

    gen = torch.Generator().manual_seed(0)
    for model, shape in ((A(), (1, 8, 16, 16)), (V(), (1, 3, 16, 16))):
        summary(model, shape)
        right, total, rf = check(positive_(model, gen), shape)
        assert rf.exact and right == total
    rf = receptive_field(V(), (1, 3, 16, 16))  # tokens: each sees its own 4x4 patch
    assert rf.places[0].coords[:5] == (0, 0, 0, 0, 1) and rf.fields[0].span(1) == (4, 7)


class RCNNTransform(nn.Module):
    """torchvision's ``GeneralizedRCNNTransform`` on the images of a batch (normalize with
    constants made in forward, resize by a scale factor, ``batch_images`` into a zero canvas
    rounded up to 32), then a stride-2 conv (torchvision is not installed here)."""

    def __init__(self, min_size: int = 24, max_size: int = 40) -> None:
        super().__init__()
        self.min_size, self.max_size = min_size, max_size
        self.image_mean, self.image_std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
        self.conv = nn.Conv2d(3, 2, 3, stride=2, padding=1)

    def forward(self, x):
        images = []
        for image in x.unbind(0):  # a list of (C, H, W) images, as detection models take
            mean = torch.as_tensor(self.image_mean, dtype=image.dtype, device=image.device)
            std = torch.as_tensor(self.image_std, dtype=image.dtype, device=image.device)
            image = (image - mean[:, None, None]) / std[:, None, None]
            scale = min(self.min_size / min(image.shape[-2:]),
                        self.max_size / max(image.shape[-2:]))
            images.append(F.interpolate(image[None], scale_factor=scale, mode="bilinear",
                                        recompute_scale_factor=True)[0])
        size = [max(s) for s in zip(*[img.shape for img in images], strict=True)]
        size[1:] = [int(math.ceil(n / 32) * 32) for n in size[1:]]
        batched = images[0].new_full([len(images), *size], 0)
        for i in range(batched.shape[0]):
            img = images[i]
            batched[i, : img.shape[0], : img.shape[1], : img.shape[2]].copy_(img)
        return self.conv(batched)


@pytest.mark.parametrize("shape", [(1, 3, 20, 28), (2, 3, 20, 28), (1, 3, 30, 17)])
def test_detection_preprocessing_is_exact_at_every_coordinate(shape):
    """Faster R-CNN's preprocessing (the issue: every position None, claimed exact); batch 1
    unbinds into a single image (a split with one piece)."""
    net = positive_(RCNNTransform(), torch.Generator().manual_seed(0))
    assert summary(net, shape).totals.macs == 2 * 3 * 9 * 32 * 16 * shape[0]
    right, total, rf = check(net, shape)
    assert rf.exact and rf.notes == () and right == total > 0
    assert rf.fields[0].span(rf.shape[2] - 1) is None  # the canvas border reads nothing


class LeViTish(nn.Module):
    """A patch conv and BatchNorm, then timm LeViT's ``AttentionSubsample`` (queries from
    every other token of the 4x4 grid, attention biases gathered by an index buffer): one of
    the models the issue saw crash (timm is not installed here)."""

    def __init__(self, dim: int = 8, key: int = 4, heads: int = 2, res: int = 4) -> None:
        super().__init__()
        self.stem, self.bn = nn.Conv2d(3, dim, 4, 4), nn.BatchNorm2d(dim)
        self.heads, self.key, self.res = heads, key, res
        self.kv, self.q = nn.Linear(dim, heads * key * 2), nn.Linear(dim, heads * key)
        self.proj = nn.Linear(heads * key, dim)
        points, queries = (list(itertools.product(range(n), repeat=2)) for n in (res, res // 2))
        offsets: dict[tuple[int, int], int] = {}
        idxs = [offsets.setdefault((abs(a * 2 - c), abs(b * 2 - d)), len(offsets))
                for a, b in queries for c, d in points]
        self.attention_biases = nn.Parameter(torch.zeros(heads, len(offsets)))
        self.register_buffer("attention_bias_idxs",
                             torch.tensor(idxs).view(len(queries), len(points)), False)

    def forward(self, x):
        x = self.bn(self.stem(x)).flatten(2).transpose(1, 2)  # (B, N, C)
        b, n, c = x.shape
        k, v = self.kv(x).view(b, n, self.heads, -1).split([self.key, self.key], dim=3)
        k, v = k.permute(0, 2, 3, 1), v.permute(0, 2, 1, 3)
        xs = x.view(b, self.res, self.res, c)[:, ::2, ::2].reshape(b, -1, c)
        q = self.q(xs).view(b, -1, self.heads, self.key).permute(0, 2, 1, 3)
        attn = q @ k + self.attention_biases[:, self.attention_bias_idxs]
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, -1, self.heads * self.key)
        return self.proj(x).transpose(1, 2).reshape(b, c, self.res // 2, self.res // 2)


def test_levit_attention_subsample_counts_and_spans():
    shape = (1, 3, 16, 16)
    net = LeViTish().eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.randn(shape))
    assert 2 * summary(net, shape).totals.macs == counter.get_total_flops()
    right, total, rf = check(positive_(net, torch.Generator().manual_seed(0)).eval(), shape)
    assert rf.exact and rf.is_global == (True, True) and right == total > 0


def test_a_rule_that_fails_gives_the_whole_input_not_a_crash(monkeypatch):
    def broken(node, state):
        raise IndexError("a pattern the rule does not handle")

    monkeypatch.setattr(field_rules, "_roll_flip_repeat", broken)
    net = After(lambda x: torch.roll(x, 1, -1))
    rf = receptive_field(net, SHAPE)
    assert not rf.exact and rf.is_global == (True, True)
    assert "roll: not modelled here (IndexError), field taken as the whole input" in rf.notes
    assert summary(net, SHAPE).rows
