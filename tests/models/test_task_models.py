"""Zoo part 2: U-Net, DeepLabv3, WaveNet, C3D, R(2+1)D, DCGAN generator, ESPCN.

Reference numbers are counted by ``convzoo.analysis`` on meta tensors (no real compute); the
real forward passes run small configurations on tiny inputs.
"""

from __future__ import annotations

import re

import pytest
import torch

from convzoo.analysis import receptive_field, summary
from convzoo.models import available, create, entry
from convzoo.models.unet import unet_output_size
from convzoo.models.wavenet import (
    WaveNetConfig,
    mu_law_decode,
    mu_law_encode,
    wavenet_receptive_field,
)

NAMES = ("unet", "deeplabv3", "wavenet", "c3d", "r2plus1d", "dcgan_generator", "espcn")


def _count(name: str, shape: tuple[int, ...], **config: object) -> tuple[int, int, tuple]:
    with torch.device("meta"):
        model = create(name, **config)
    s = summary(model, shape)
    assert not s.partial
    return s.totals.params, s.totals.macs, s.rows[-1].output_shape


# ------------------------------------------------------------------------ published numbers

@pytest.mark.parametrize(
    ("name", "config", "shape", "params", "macs", "out"),
    [
        # Ronneberger et al. Fig. 1: 572 -> 388, biases, no norm, 1x1 head to 2 classes
        ("unet", {"padding": "valid"}, (1, 1, 572, 572), 31_030_658, 150_428_424_448,
         (1, 2, 388, 388)),
        # torchvision r2plus1d_18: 31,505,325 params, 40.52 GFLOPS (= GMACs)
        ("r2plus1d", {}, (1, 3, 16, 112, 112), 31_505_325, 40_519_080_960, (1, 400)),
        # torchvision deeplabv3_resnet50 (with aux): 42,004,074 params, 178.72 GFLOPS
        ("deeplabv3", {"aux_classifier": True}, (1, 3, 520, 520), 42_004_074,
         178_721_945_088, (1, 21, 520, 520)),
        ("deeplabv3", {}, (1, 3, 520, 520), 39_638_869, 168_731_205_888, (1, 21, 520, 520)),
        ("c3d", {}, (1, 3, 16, 112, 112), 79_991_015, 38_548_959_232, (1, 487)),
        ("c3d", {"num_classes": 101}, (1, 3, 16, 112, 112), 78_409_573, 38_547_378_176,
         (1, 101)),
        ("dcgan_generator", {}, (1, 100, 1, 1), 12_658_432, 410_583_040, (1, 3, 64, 64)),
        ("dcgan_generator", {"ngf": 64}, (1, 100, 1, 1), 3_576_704, 104_628_224,
         (1, 3, 64, 64)),
        ("espcn", {}, (1, 1, 224, 224), 22_729, 1_135_181_824, (1, 1, 672, 672)),
        ("wavenet", {"blocks": 1}, (1, 256, 16000), 283_584, 4_472_832_000, (1, 256, 16000)),
    ],
    ids=["unet-paper", "r2plus1d_18", "deeplabv3-aux", "deeplabv3", "c3d-487", "c3d-101",
         "dcgan-ngf128", "dcgan-ngf64", "espcn-r3", "wavenet-1block"],
)
def test_reference_counts(name, config, shape, params, macs, out):
    assert _count(name, shape, **config) == (params, macs, out)


def test_espcn_upsamplers_do_equal_work():
    counts = {up: _count("espcn", (1, 1, 32, 32), upsampler=up) for up in
              ("subpixel", "transposed", "resize_conv")}
    assert {m for _, m, _ in counts.values()} == {counts["subpixel"][1]}
    # the transposed conv (kernel 3r, stride r) has the sub-pixel conv's weights, fewer biases
    assert counts["subpixel"][0] - counts["transposed"][0] == 9 - 1


def test_unet_upsampler_params():
    for up, params in (("transposed", 31_030_658), ("resize_conv", 31_030_658),
                       ("subpixel", 39_389_378)):
        with torch.device("meta"):
            net = create("unet", upsampler=up)
        assert sum(p.numel() for p in net.parameters()) == params


def test_r2plus1d_mid_channels_rules():
    with torch.device("meta"):
        tv = create("r2plus1d")
        paper = create("r2plus1d", mid_channels="paper")
    # torchvision computes M once per block: layer2.0 (64 -> 128) gives 230 to both convs
    assert tv.stem[0].spatial.out_channels == 45
    assert (tv.layer2[0].conv1.spatial.out_channels,
            tv.layer2[0].conv2.spatial.out_channels) == (230, 230)
    assert (paper.layer2[0].conv1.spatial.out_channels,
            paper.layer2[0].conv2.spatial.out_channels) == (230, 288)
    assert paper.stem[0].spatial.out_channels == 83
    assert sum(p.numel() for p in paper.parameters()) == 33_383_797


# -------------------------------------------------------------------------- receptive fields

@pytest.mark.parametrize(("blocks", "layers", "expected"), [(1, 10, 1025), (3, 10, 3071),
                                                            (2, 4, 32)])
def test_wavenet_receptive_field(blocks, layers, expected):
    config = {"blocks": blocks, "layers_per_block": layers, "skip_channels": 8,
              "quantization": 8, "residual_channels": 4, "dilation_channels": 4}
    with torch.device("meta"):
        net = create("wavenet", **config)
    rf = receptive_field(net, (1, 8, 4096))
    assert rf.sizes == (expected,)
    assert rf.paddings == (expected - 1,)  # causal: the whole field lies in the past
    assert wavenet_receptive_field(WaveNetConfig(**config)) == expected


def test_wavenet_is_causal():
    torch.manual_seed(0)
    net = create("wavenet", layers_per_block=3, blocks=2, residual_channels=4,
                 dilation_channels=4, skip_channels=8, quantization=8).eval()
    x = torch.randn(1, 8, 40)
    y = net(x)
    x2 = x.clone()
    x2[..., 25] += 1.0
    y2 = net(x2)
    assert torch.equal(y[..., :25], y2[..., :25])
    assert not torch.allclose(y[..., 25], y2[..., 25])
    # the change reaches exactly the receptive field (15 samples: 1 + 1 + 2*(1+2+4)) ahead
    changed = (y - y2).abs().amax(dim=1)[0] > 0
    assert changed[25:40].all()


def test_mu_law_round_trip():
    audio = torch.linspace(-1, 1, 101)
    codes = mu_law_encode(audio)
    assert codes.min() == 0 and codes.max() == 255
    assert (mu_law_decode(codes) - audio).abs().max() < 0.03


# ---------------------------------------------------------------- real forwards, small configs

SMALL = [
    ("unet", {"base_channels": 8, "depth": 3}, (2, 1, 64, 64), (2, 2, 64, 64)),
    ("unet", {"base_channels": 4, "depth": 2, "upsampler": "resize_conv", "batch_norm": True,
              "num_classes": 3}, (2, 1, 32, 32), (2, 3, 32, 32)),
    ("unet", {"base_channels": 4, "depth": 2, "padding": "valid", "upsampler": "subpixel"},
     (1, 1, 44, 44), (1, 2, 4, 4)),
    ("deeplabv3", {"backbone": "small", "in_channels": 1, "num_classes": 11,
                   "backbone_base_channels": 8, "aspp_channels": 16, "output_stride": 16},
     (2, 1, 64, 64), (2, 11, 64, 64)),
    ("wavenet", {"layers_per_block": 4, "blocks": 2, "residual_channels": 8,
                 "dilation_channels": 8, "skip_channels": 16, "quantization": 16},
     (2, 16, 100), (2, 16, 100)),
    ("c3d", {"in_channels": 1, "num_classes": 10, "base_channels": 4, "fc_features": 32,
             "clip_shape": (16, 32, 32)}, (2, 1, 16, 32, 32), (2, 10)),
    ("r2plus1d", {"widths": (8, 8, 16, 16), "layers": (1, 1, 1, 1), "in_channels": 1,
                  "num_classes": 10}, (2, 1, 16, 32, 32), (2, 10)),
    ("dcgan_generator", {"nz": 16, "ngf": 8, "out_channels": 1, "image_size": 32},
     (2, 16, 1, 1), (2, 1, 32, 32)),
    ("espcn", {"upscale_factor": 2}, (2, 1, 16, 16), (2, 1, 32, 32)),
    ("espcn", {"upscale_factor": 4, "channels": 3, "upsampler": "transposed"}, (1, 3, 8, 8),
     (1, 3, 32, 32)),
    ("espcn", {"upscale_factor": 3, "upsampler": "resize"}, (1, 1, 8, 8), (1, 1, 24, 24)),
]


@pytest.mark.parametrize(("name", "config", "shape", "out"), SMALL,
                         ids=[f"{n}-{i}" for i, (n, *_) in enumerate(SMALL)])
def test_small_forward_backward(name, config, shape, out):
    torch.manual_seed(0)
    model = create(name, **config)
    y = model(torch.randn(shape))
    assert y.shape == out
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert summary(model, shape).rows[-1].output_shape == out  # the trace agrees


def test_deeplab_small_dilated_and_aux():
    torch.manual_seed(0)
    net = create("deeplabv3", backbone="small", in_channels=1, num_classes=4,
                 backbone_base_channels=4, aspp_channels=8, output_stride=8,
                 aux_classifier=True).eval()
    assert net.config.rates == (12, 24, 36)
    feats = net.backbone.features(torch.randn(1, 1, 64, 64))
    assert feats["layer4"].shape == (1, 32, 8, 8) and feats["layer3"].shape == (1, 16, 8, 8)
    out, aux = net(torch.randn(1, 1, 64, 64))
    assert out.shape == aux.shape == (1, 4, 64, 64)


def test_dcgan_output_range_and_init():
    torch.manual_seed(0)
    g = create("dcgan_generator", nz=8, ngf=4, out_channels=1, image_size=32)
    y = g(torch.randn(4, 8) * 100)
    assert y.abs().max() <= 1
    assert abs(g.main[0].weight.std().item() - 0.02) < 0.005


def test_unet_valid_sizes():
    assert unet_output_size(572, 4, "valid") == 388
    assert unet_output_size(44, 2, "valid") == 4
    with pytest.raises(ValueError, match=re.escape(
            "`input` size (=570) does not fit a valid-padded U-Net of depth 4: level 1 gives "
            "279 after its convs (must be even and >= 2 to pool)")):
        unet_output_size(570, 4, "valid")
    with pytest.raises(ValueError, match=re.escape(
            "`input` size (=60) must be divisible by 2**depth (=8) with padding 'same'")):
        create("unet", base_channels=2, depth=3)(torch.randn(1, 1, 64, 60))
    with pytest.raises(ValueError, match=re.escape(
            "`input` shape (=(1, 3, 64, 64)) must be (N, 1, H, W)")):
        create("unet", base_channels=2, depth=3)(torch.randn(1, 3, 64, 64))


def test_c3d_clip_shape_checked():
    net = create("c3d", base_channels=2, fc_features=8, clip_shape=(16, 32, 32))
    with pytest.raises(ValueError, match=re.escape(
            "`input` shape (=(1, 3, 16, 32, 31)) must be (N, C, *clip_shape) with clip_shape "
            "(16, 32, 32)")):
        net(torch.randn(1, 3, 16, 32, 31))


# ------------------------------------------------------------------------------ config errors

@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("unet", {"depth": 0}, "`depth` (=0) must be a positive int"),
        ("unet", {"padding": "full"}, "`padding` (='full') must be one of 'same', 'valid'"),
        ("unet", {"upsampler": "bilinear"},
         "`upsampler` (='bilinear') must be one of: transposed, subpixel, resize_conv"),
        ("unet", {"batch_norm": 1}, "`batch_norm` (=1) must be a bool"),
        ("deeplabv3", {"output_stride": 32}, "`output_stride` (=32) must be one of 8, 16"),
        ("deeplabv3", {"backbone": "resnet18"},
         "`backbone` (='resnet18') must be one of 'resnet50', 'small'"),
        ("deeplabv3", {"aspp_channels": 0}, "`aspp_channels` (=0) must be a positive int"),
        ("wavenet", {"kernel_size": 1}, "`kernel_size` (=1) must be an int >= 2"),
        ("wavenet", {"quantization": 1}, "`quantization` (=1) must be >= 2"),
        ("wavenet", {"blocks": 2.0}, "`blocks` (=2.0) must be a positive int"),
        ("c3d", {"clip_shape": (16, 112)},
         "`clip_shape` (=(16, 112)) must be a tuple of 3 positive ints"),
        ("c3d", {"clip_shape": (8, 112, 112)},
         "`clip_shape` (=(8, 112, 112)) is too small: pool5 would be (0, 4, 4)"),
        ("c3d", {"dropout": 1.0}, "`dropout` (=1.0) must be a number in [0, 1)"),
        ("r2plus1d", {"widths": (8, 8, 16)},
         "`widths` (=(8, 8, 16)) must be a tuple of 4 positive ints"),
        ("r2plus1d", {"mid_channels": "rule"},
         "`mid_channels` (='rule') must be one of 'torchvision', 'paper'"),
        ("dcgan_generator", {"image_size": 128}, "`image_size` (=128) must be one of 32, 64"),
        ("dcgan_generator", {"nz": -1}, "`nz` (=-1) must be a positive int"),
        ("espcn", {"upscale_factor": 1}, "`upscale_factor` (=1) must be an int >= 2"),
        ("espcn", {"upsampler": "bicubic"},
         "`upsampler` (='bicubic') must be one of: subpixel, transposed, resize_conv"),
        ("espcn", {"upsampler": "subpixle"},
         "`upsampler` (='subpixle') is not an upsampler name; did you mean 'subpixel'? Valid: "
         "subpixel, transposed, resize_conv"),
        ("espcn", {"channels": 0}, "`channels` (=0) must be a positive int"),
    ],
)
def test_config_errors(name, config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        create(name, **config)


def test_registered():
    zoo = available()
    for name in NAMES:
        assert name in zoo
        e = entry(name)
        assert e.source and e.variants and e.input_shape
        e.config()  # the defaults are a valid configuration
    with pytest.raises(ValueError, match=re.escape("unknown config field widht for model")):
        create("unet", widht=8)
