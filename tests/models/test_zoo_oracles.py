"""Zoo forward values against implementations this project did not write.

ResNet-50 and MobileNetV2 against Hugging Face ``transformers``' ``ResNetForImageClassification``
and ``MobileNetV2ForImageClassification`` built from configs (no weights downloaded): the
convzoo model gets random weights and random BatchNorm statistics, they are copied into the
transformers model by name, and both run in float64 on the same random 64x64 input in eval
mode; the logits must agree to float64 rounding. MobileNetV2 runs at 1x3x32x32: PyTorch computes
float64 depthwise convolutions one group at a time (``slow_conv2d``), ~100x slower than float32.

ShuffleNetV2 has no ``transformers`` class, and timm (which has none either) cannot be imported
without torchvision, so it is compared with a plain ``torch.nn`` ShuffleNetV2 written below from
the paper (Ma et al. 2018, Fig. 3 (c)/(d) and Table 5). That oracle is written by this project,
from the paper rather than from convzoo's code, so it is not independent in the way the
transformers classes are (docs/testing.md says so).
"""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn

from convzoo.models import create

transformers = pytest.importorskip("transformers")



def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every parameter and every BatchNorm statistic drawn at random (seeded), so that the
    normalisations do something; the scales keep the activations of a deep net in range."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.05)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
            elif hasattr(m, "weight") and isinstance(getattr(m, "weight", None), nn.Parameter):
                w = m.weight
                w.copy_(torch.randn(w.shape, generator=g) * (2 / w[0].numel()) ** 0.5)
                if getattr(m, "bias", None) is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


def copy_by_names(source: nn.Module, target: nn.Module, rename) -> None:
    """``target``'s state dict from ``source``'s, key ``k`` of source going to ``rename(k)``;
    every key of both is used exactly once and every shape must match."""
    src = source.state_dict()
    mapped = {rename(k): v for k, v in src.items()}
    dst = target.state_dict()
    assert len(mapped) == len(src) and set(mapped) == set(dst), sorted(set(mapped) ^ set(dst))[:6]
    for k, v in mapped.items():
        assert v.shape == dst[k].shape, k
    target.load_state_dict(mapped)


def run_both(ours: nn.Module, theirs: nn.Module, logits, size=(2, 3, 64, 64)):
    """Both models' logits in float64, eval mode, on one random input of ``size``."""
    ours, theirs = ours.double().eval(), theirs.double().eval()
    x = torch.randn(size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        return ours(x), logits(theirs(x))


def resnet_key(k: str) -> str:
    """torchvision-style names (convzoo) -> transformers' ResNet names."""
    k = re.sub(r"^conv1\.", "resnet.embedder.embedder.convolution.", k)
    k = re.sub(r"^bn1\.", "resnet.embedder.embedder.normalization.", k)
    k = re.sub(r"^fc\.", "classifier.1.", k)
    m = re.match(r"^layer(\d)\.(\d+)\.(.*)$", k)
    if m:
        stage, block, rest = int(m[1]) - 1, m[2], m[3]
        rest = re.sub(r"^conv(\d)\.", lambda c: f"layer.{int(c[1]) - 1}.convolution.", rest)
        rest = re.sub(r"^bn(\d)\.", lambda c: f"layer.{int(c[1]) - 1}.normalization.", rest)
        rest = re.sub(r"^downsample\.0\.", "shortcut.convolution.", rest)
        rest = re.sub(r"^downsample\.1\.", "shortcut.normalization.", rest)
        k = f"resnet.encoder.stages.{stage}.layers.{block}.{rest}"
    return k


def test_resnet50_matches_transformers():
    config = transformers.ResNetConfig(
        num_channels=3, embedding_size=64, hidden_sizes=[256, 512, 1024, 2048],
        depths=[3, 4, 6, 3], layer_type="bottleneck", hidden_act="relu",
        downsample_in_first_stage=False, downsample_in_bottleneck=False, num_labels=1000,
    )
    theirs = transformers.ResNetForImageClassification(config)
    ours = randomize_(create("resnet50"))
    copy_by_names(ours, theirs, resnet_key)
    a, b = run_both(ours, theirs, lambda out: out.logits, size=(1, 3, 64, 64))
    assert a.shape == (1, 1000) and a.std() > 1e-3  # a non-trivial function of the input
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_mobilenet_v2_matches_transformers():
    config = transformers.MobileNetV2Config(
        num_channels=3, depth_multiplier=1.0, tf_padding=False, layer_norm_eps=1e-5,
        hidden_act="relu6", num_labels=1000, classifier_dropout_prob=0.0,
    )
    theirs = transformers.MobileNetV2ForImageClassification(config)
    ours = randomize_(create("mobilenet_v2"))
    # both list their layers in the order they run: stem conv, the first block's depthwise
    # and projection, then expand / depthwise / project per block, the last 1x1, the classifier
    mapping = dict(zip(ours.state_dict(), theirs.state_dict()))
    copy_by_names(ours, theirs, mapping.__getitem__)
    a, b = run_both(ours, theirs, lambda out: out.logits, size=(1, 3, 32, 32))
    assert a.shape == (1, 1000) and a.std() > 1e-3
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------ ShuffleNetV2 from the paper
def conv_bn(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, relu: bool = True):
    layers = [nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, *([nn.ReLU()] if relu else []))


class PaperUnit(nn.Module):
    """Fig. 3 (c) (stride 1: channel split, one branch) and (d) (stride 2: both branches see
    the whole input); concat, then a channel shuffle with 2 groups."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        half = c_out // 2
        self.stride = stride
        if stride == 2:
            self.left = nn.Sequential(conv_bn(c_in, c_in, 3, 2, groups=c_in, relu=False),
                                      conv_bn(c_in, half, 1))
        right_in = c_in if stride == 2 else half
        self.right = nn.Sequential(conv_bn(right_in, half, 1),
                                   conv_bn(half, half, 3, stride, groups=half, relu=False),
                                   conv_bn(half, half, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            y = torch.cat([a, self.right(b)], 1)
        else:
            y = torch.cat([self.left(x), self.right(x)], 1)
        n, c, h, w = y.shape
        return y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


class PaperShuffleNetV2(nn.Module):
    """Table 5, 1x: Conv1 3x3/2 (24), MaxPool 3x3/2, stages of 4/8/4 units (116/232/464), the
    first of each with stride 2, Conv5 1x1 (1024), global average pool, FC."""

    def __init__(self, widths=(24, 116, 232, 464, 1024), repeats=(4, 8, 4), classes=1000):
        super().__init__()
        self.conv1 = conv_bn(3, widths[0], 3, 2)
        self.pool = nn.MaxPool2d(3, 2, 1)
        units, c = [], widths[0]
        for width, n in zip(widths[1:4], repeats):
            units += [PaperUnit(c, width, 2)] + [PaperUnit(width, width, 1) for _ in range(n - 1)]
            c = width
        self.units = nn.Sequential(*units)
        self.conv5 = conv_bn(c, widths[4], 1)
        self.fc = nn.Linear(widths[4], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv5(self.units(self.pool(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


def test_shufflenet_v2_matches_a_plain_torch_nn_version_of_the_paper():
    ours = randomize_(create("shufflenet_v2"))
    theirs = PaperShuffleNetV2()
    # the paper's order of layers within a unit: left branch (stride 2 only), then right
    mapping = dict(zip(ours.state_dict(), theirs.state_dict()))
    copy_by_names(ours, theirs, mapping.__getitem__)
    a, b = run_both(ours, theirs, lambda out: out)
    assert a.shape == (2, 1000) and a.std() > 1e-3
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
