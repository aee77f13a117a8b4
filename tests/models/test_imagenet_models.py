"""ImageNet classifiers of the zoo: params and MACs pinned (convzoo.analysis.summary on the meta
device) and checked against the published figures; configs validated; one tiny real forward each.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import pytest
import torch
import torch.nn as nn

from convzoo.analysis import summary
from convzoo.arithmetic import variant_names
from convzoo.models import create, entry
from convzoo.models.resnet import ResNetConfig, build_resnet, resnet50_backbone

IMAGENET = ("vgg16", "resnet50", "resnext50_32x4d", "mobilenet_v1", "mobilenet_v2",
            "shufflenet_v1", "shufflenet_v2", "xception")


def measure(name: str, input_shape: tuple[int, ...] | None = None, **config):
    """(model on meta, summary at the reference input or ``input_shape``), cached."""
    return _measure(name, input_shape, tuple(sorted(config.items())))


@functools.cache
def _measure(name: str, input_shape: tuple[int, ...] | None, items: tuple):
    config = dict(items)
    with torch.device("meta"):
        model = create(name, **config)
    return model, summary(model, input_shape or entry(name).input_shape)


def fc_macs(s) -> int:
    return sum(r.macs for r in s.rows if r.type == "Linear")


def bn_affine(model: nn.Module) -> int:
    return sum(2 * m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))


# name, config, params, MACs: measured by convzoo at the reference input (224x224, Xception 299)
PINNED = [
    ("vgg16", {}, 138_357_544, 15_470_264_320),
    ("vgg16", {"batch_norm": True}, 138_365_992, 15_470_264_320),
    ("resnet50", {}, 25_557_032, 4_089_184_256),
    ("resnext50_32x4d", {}, 25_028_904, 4_230_479_872),
    ("mobilenet_v2", {}, 3_504_872, 300_774_272),
    ("shufflenet_v2", {"width_mult": 0.5}, 1_366_792, 40_476_448),
    ("shufflenet_v2", {"width_mult": 1.0}, 2_278_604, 144_907_992),
    ("shufflenet_v2", {"width_mult": 1.5}, 3_503_624, 295_759_392),
    ("shufflenet_v2", {"width_mult": 2.0}, 7_393_996, 583_253_464),
    ("mobilenet_v1", {}, 4_231_976, 568_740_352),
    ("mobilenet_v1", {"width_mult": 0.75}, 2_585_560, 325_400_448),
    ("mobilenet_v1", {"width_mult": 0.5}, 1_331_592, 149_497_088),
    ("mobilenet_v1", {"width_mult": 0.25}, 470_072, 41_030_272),
    ("shufflenet_v1", {"groups": 1}, 1_531_936, 143_078_976),
    ("shufflenet_v1", {"groups": 2}, 1_733_848, 140_836_512),
    ("shufflenet_v1", {"groups": 3}, 1_865_728, 137_460_672),
    ("shufflenet_v1", {"groups": 4}, 1_968_344, 134_339_776),
    ("shufflenet_v1", {"groups": 8}, 2_434_768, 138_365_952),
    ("shufflenet_v1", {"width_mult": 0.25}, 306_124, 13_300_656),
    ("shufflenet_v1", {"width_mult": 0.5}, 718_324, 37_589_856),
    ("shufflenet_v1", {"width_mult": 1.5}, 3_442_168, 292_443_552),
    ("shufflenet_v1", {"width_mult": 2.0}, 5_450_776, 524_045_184),
    ("xception", {}, 22_855_952, 8_357_403_496),
]


@pytest.mark.parametrize(("name", "config", "params", "macs"), PINNED,
                         ids=[f"{n}-{'-'.join(map(str, c.values())) or 'ref'}"
                              for n, c, _, _ in PINNED])
def test_pinned_counts(name, config, params, macs):
    _, s = measure(name, **config)
    assert not s.partial
    assert (s.totals.params, s.totals.macs) == (params, macs)


# torchvision's documented params (exact) and "GFLOPS" (= GMACs, 2 decimals) at 224x224
TORCHVISION = [
    ("vgg16", {}, 138_357_544, 15.47),
    ("resnet50", {}, 25_557_032, 4.09),
    ("resnext50_32x4d", {}, 25_028_904, 4.23),
    ("mobilenet_v2", {}, 3_504_872, 0.30),
    ("shufflenet_v2", {"width_mult": 0.5}, 1_366_792, 0.04),
    ("shufflenet_v2", {"width_mult": 1.0}, 2_278_604, 0.14),
    ("shufflenet_v2", {"width_mult": 1.5}, 3_503_624, 0.30),
    ("shufflenet_v2", {"width_mult": 2.0}, 7_393_996, 0.58),
]


@pytest.mark.parametrize(("name", "config", "params", "gmacs"), TORCHVISION)
def test_torchvision_documented(name, config, params, gmacs):
    _, s = measure(name, **config)
    assert s.totals.params == params
    assert round(s.totals.macs / 1e9, 2) == gmacs


# Howard et al. 2017: Table 8 (1.0-224), Table 6 (alpha), Table 7 (resolution): M mult-adds, M
# params. The paper counts the FC layer in both and BatchNorm in neither.
MOBILENET_V1 = [
    ({}, 569, 4.2), ({"width_mult": 0.75}, 325, 2.6), ({"width_mult": 0.5}, 149, 1.3),
    ({"width_mult": 0.25}, 41, 0.5), ({"resolution": 192}, 418, 4.2),
    ({"resolution": 160}, 290, 4.2), ({"resolution": 128}, 186, 4.2),
]


@pytest.mark.parametrize(("config", "mmacs", "mparams"), MOBILENET_V1)
def test_mobilenet_v1_paper(config, mmacs, mparams):
    res = config.get("resolution", 224)
    model, s = measure("mobilenet_v1", (1, 3, res, res), **config)
    assert model.config.input_shape == (1, 3, res, res)
    assert fc_macs(s) == model.classifier.in_features * 1000
    if res == 160:  # 290.675M: the paper truncates this one (it rounds 568.7 up to 569)
        assert int(s.totals.macs / 1e6) == mmacs
    else:
        assert round(s.totals.macs / 1e6) == mmacs
    assert round((s.totals.params - bn_affine(model)) / 1e6, 1) == mparams
    # without the FC layer the rounding would not match at 1.0-224 (567.7M)
    if not config:
        assert round((s.totals.macs - fc_macs(s)) / 1e6) == 568


def test_mobilenet_v1_resolution_pins():
    got = [measure("mobilenet_v1", (1, 3, r, r), resolution=r)[1].totals.macs
           for r in (192, 160, 128)]
    assert got == [418_121_728, 290_675_200, 186_400_768]


# Zhang et al. 2017, Table 1: complexity (M mult-adds) of ShuffleNet 1x per g: reproduced by
# convzoo without the final FC layer (with it: 143/141/137/134/138).
@pytest.mark.parametrize(("groups", "mmacs", "channels"), [
    (1, 143, (144, 288, 576)), (2, 140, (200, 400, 800)), (3, 137, (240, 480, 960)),
    (4, 133, (272, 544, 1088)), (8, 137, (384, 768, 1536)),
])
def test_shufflenet_v1_table1(groups, mmacs, channels):
    model, s = measure("shufflenet_v1", groups=groups)
    assert tuple(getattr(model, f"stage{i}")[-1].conv2.spec.out_channels
                 for i in (2, 3, 4)) == channels
    assert round((s.totals.macs - fc_macs(s)) / 1e6) == mmacs


# Table 2 (0.25x 13M, 0.5x 38M) and the MobileNet comparison (1.5x 292M, 2x 524M), g = 3, FC
# included.
@pytest.mark.parametrize(("width_mult", "mmacs"),
                         [(0.25, 13), (0.5, 38), (1.5, 292), (2.0, 524)])
def test_shufflenet_v1_widths(width_mult, mmacs):
    _, s = measure("shufflenet_v1", width_mult=width_mult)
    assert round(s.totals.macs / 1e6) == mmacs


def test_xception_keras_params():
    model, s = measure("xception")
    moving = sum(b.numel() for n, b in model.named_buffers() if "running" in n)
    assert s.totals.params + moving == 22_910_480  # Keras counts BN moving mean/variance
    assert s.rows[-1].output_shape == (1, 1000)
    assert [r.output_shape for r in s.rows if r.type == "AdaptiveAvgPool2d"] == [(1, 2048, 1, 1)]


@pytest.mark.parametrize(("dilation", "stride"), [
    ((False, False, False), 32), ((False, False, True), 16), ((False, True, True), 8),
])
def test_resnet50_backbone_output_stride(dilation, stride):
    with torch.device("meta"):
        body = resnet50_backbone(dilation)
        y = body(torch.empty(1, 3, 224, 224))
        feats = body.features(torch.empty(1, 3, 224, 224))
    assert body.output_stride == stride and body.out_channels == 2048
    assert tuple(y.shape) == (1, 2048, 224 // stride, 224 // stride)
    assert [tuple(f.shape)[1] for f in feats.values()] == [256, 512, 1024, 2048]
    assert not any(isinstance(m, nn.Linear | nn.AdaptiveAvgPool2d) for m in body.modules())
    dilations = {m.spec.dilation for m in body.layer4.modules() if hasattr(m, "spec")
                 and m.spec.kernel_size == (3, 3)}
    expected = 32 // stride  # layer4's largest dilation: 1, 2 (os 16) or 4 (os 8)
    assert max(dilations) == (expected, expected)


def test_resnet_dilated_counts():
    # same params as ResNet-50; output stride 8 runs stages 3-4 at 28x28
    with torch.device("meta"):
        model = build_resnet(ResNetConfig(replace_stride_with_dilation=(False, True, True)))
    s = summary(model, (1, 3, 224, 224))
    assert (s.totals.params, s.totals.macs) == (25_557_032, 19_079_364_608)


def test_torchvision_state_dict_keys():
    with torch.device("meta"):
        keys = {n: set(create(n).state_dict()) for n in
                ("vgg16", "resnet50", "mobilenet_v2", "shufflenet_v2")}
    assert {"features.0.weight", "features.28.bias", "classifier.6.weight"} <= keys["vgg16"]
    assert {"conv1.weight", "layer1.0.downsample.0.weight", "layer4.2.bn3.running_var",
            "fc.bias"} <= keys["resnet50"]
    assert {"features.0.0.weight", "features.1.conv.0.0.weight", "features.2.conv.1.0.weight",
            "features.17.conv.3.running_mean", "features.18.0.weight",
            "classifier.1.weight"} <= keys["mobilenet_v2"]
    assert {"conv1.0.weight", "stage2.0.branch1.2.weight", "stage2.1.branch2.6.bias",
            "stage4.3.branch2.5.weight", "conv5.1.weight", "fc.weight"} <= keys["shufflenet_v2"]


# ------------------------------------------------------------------ registry and docs
@pytest.mark.parametrize("name", IMAGENET)
def test_registry_entry(name):
    e = entry(name)
    assert dataclasses.is_dataclass(e.config) and e.config.__dataclass_params__.frozen
    assert set(e.variants) <= set(variant_names()) and e.variants
    assert "Table" in e.source and e.input_shape[:2] == (1, 3)
    module_doc = __import__(e.build.__module__, fromlist=["_"]).__doc__
    assert "Table" in module_doc and re.search(r"\b20[01]\d\b", module_doc)  # paper, year
    cfg = e.config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.num_classes = 3


@pytest.mark.parametrize(("name", "config", "message"), [
    ("vgg16", {"num_classes": 0}, "`num_classes` (=0) must be a positive int"),
    ("vgg16", {"dropout": 1.0}, "`dropout` (=1.0) must be a number in [0, 1)"),
    ("vgg16", {"batch_norm": 1}, "`batch_norm` (=1) must be a bool"),
    ("resnet50", {"layers": (3, 4, 6)}, "`layers` (=(3, 4, 6)) must be a tuple of 4 positive ints"),
    ("resnet50", {"replace_stride_with_dilation": (False, True)},
     "`replace_stride_with_dilation` (=(False, True)) must be a tuple of 3 bools"),
    ("resnext50_32x4d", {"groups": 0}, "`groups` (=0) must be a positive int"),
    ("mobilenet_v1", {"width_mult": 1.5}, "`width_mult` (=1.5) must be a number in (0, 1]"),
    ("mobilenet_v1", {"resolution": 16}, "`resolution` (=16) must be >= 32 (stride 32)"),
    ("mobilenet_v2", {"width_mult": 0}, "`width_mult` (=0) must be a number in (0, 4]"),
    ("shufflenet_v1", {"groups": 5}, "`groups` (=5) must be one of 1, 2, 3, 4, 8"),
    ("shufflenet_v1", {"width_mult": 0.75},
     "`width_mult` (=0.75) must be one of 0.25, 0.5, 1.0, 1.5, 2.0"),
    ("shufflenet_v2", {"width_mult": 3.0}, "`width_mult` (=3.0) must be one of 0.5, 1.0, 1.5, 2.0"),
    ("xception", {"middle_repeats": -1}, "`middle_repeats` (=-1) must be a positive int"),
    ("xception", {"in_channels": 2.0}, "`in_channels` (=2.0) must be a positive int"),
])
def test_config_validation(name, config, message):
    with pytest.raises(ValueError) as info:
        create(name, **config)
    assert str(info.value).startswith(message)


def test_unknown_field():
    with pytest.raises(ValueError, match="unknown config field alpha for model 'resnet50'"):
        create("resnet50", alpha=0.5)


@pytest.mark.parametrize("name, old, new, value", [
    ("mobilenet_v1", "alpha", "width_mult", 0.5),
    ("shufflenet_v1", "scale", "width_mult", 0.5),
    ("shufflenet_v2", "width", "width_mult", 0.5),
    ("digits_separable", "width", "base_channels", 8),
    ("clips_r2plus1d", "width", "base_channels", 8),
    ("deeplabv3", "backbone_width", "backbone_base_channels", 8),
    ("espcn", "scale", "upscale_factor", 2),
])
def test_renamed_config_fields_still_work_with_a_warning(name, old, new, value):
    from convzoo.models import entry

    config = entry(name).config
    message = (f"`{old}` is deprecated and will be removed in convzoo 0.2: use `{new}`")
    with pytest.warns(FutureWarning, match=re.escape(message)):
        made = config(**{old: value})
    assert getattr(made, new) == value and made == config(**{new: value})
    with pytest.warns(FutureWarning, match=re.escape(f"`{config.__name__}.{old}` is "
                                                     "deprecated")):
        assert getattr(made, old) == value
    with pytest.warns(FutureWarning, match=re.escape(message)):
        create(name, **{old: value})  # the zoo's own check of field names reads them too
    with pytest.raises(ValueError, match=f"`{old}` .* and `{new}` .* name the same argument"):
        config(**{old: value, new: value})


# ------------------------------------------------------------------ one small real forward each
@pytest.mark.parametrize(("name", "config", "size"), [
    ("vgg16", {"hidden": 32, "num_classes": 10}, 32),
    ("resnet50", {"num_classes": 10}, 64),
    ("resnext50_32x4d", {"num_classes": 10, "layers": (1, 1, 1, 1)}, 64),
    ("mobilenet_v1", {"width_mult": 0.25, "num_classes": 10}, 64),
    ("mobilenet_v2", {"width_mult": 0.5, "num_classes": 10}, 64),
    ("shufflenet_v1", {"groups": 8, "width_mult": 0.5, "num_classes": 10}, 64),
    ("shufflenet_v2", {"width_mult": 0.5, "num_classes": 10}, 64),
    ("xception", {"middle_repeats": 1, "num_classes": 10}, 64),
])
def test_forward_small(name, config, size):
    torch.manual_seed(0)
    model = create(name, **config).eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, size, size))
    assert y.shape == (1, 10) and torch.isfinite(y).all()
