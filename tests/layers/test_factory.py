"""convzoo.create / convzoo.available: build layers by kind name, with pinned errors."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import convzoo
from convzoo.layers import (
    REGISTRY,
    Conv,
    Depthwise,
    DepthwiseSeparable,
    Dilated,
    GroupConv,
    Pointwise,
    TransposedConv,
)

MINE = {
    "conv": Conv, "pointwise": Pointwise, "depthwise": Depthwise,
    "separable": DepthwiseSeparable, "group": GroupConv, "dilated": Dilated,
    "transposed": TransposedConv,
}


def test_create_conv_same_stride2_matches_conv2d():
    layer = convzoo.create("conv", in_channels=3, out_channels=16, kernel_size=3, stride=2,
                           padding="same")
    assert type(layer).__name__ == "Conv" and layer.spec.ndim == 2
    native = nn.Conv2d(3, 16, 3, stride=2)
    native.load_state_dict(layer.state_dict())
    # odd input: symmetric padding 1, exactly nn.Conv2d(padding=1)
    x = torch.randn(2, 3, 7, 7)
    y = layer(x)
    assert y.shape == (2, 16, 4, 4)
    torch.testing.assert_close(y, F.conv2d(x, native.weight, native.bias, 2, 1))
    # even input: total padding 1, the extra element on the right/bottom (TensorFlow's SAME)
    x = torch.randn(2, 3, 8, 8)
    y = layer(x)
    assert y.shape == (2, 16, 4, 4)
    torch.testing.assert_close(y, native(F.pad(x, (0, 1, 0, 1))))


def test_create_separable():
    layer = convzoo.create("separable", in_channels=3, out_channels=16, kernel_size=3,
                           padding=1, mid_norm=nn.BatchNorm2d, mid_activation=nn.ReLU)
    assert isinstance(layer, DepthwiseSeparable)
    assert isinstance(layer.mid_norm, nn.BatchNorm2d) and isinstance(layer.mid_activation, nn.ReLU)
    assert layer(torch.randn(2, 3, 32, 32)).shape == (2, 16, 32, 32)


@pytest.mark.parametrize(
    ("kind", "arguments", "out_shape"),
    [
        ("pointwise", {"in_channels": 3, "out_channels": 256}, (1, 256, 8, 8)),
        ("depthwise", {"in_channels": 3, "kernel_size": 5, "padding": 2}, (1, 3, 8, 8)),
        ("group", {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "groups": 2,
                   "padding": 1}, (1, 8, 8, 8)),
        ("dilated", {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "dilation": 2},
         (1, 4, 8, 8)),
        ("transposed", {"in_channels": 3, "out_channels": 2, "kernel_size": 3, "stride": 2,
                        "padding": "same"}, (1, 2, 16, 16)),
    ],
)
def test_create_every_kind_of_mine(kind, arguments, out_shape):
    layer = convzoo.create(kind, **arguments)
    assert type(layer) is MINE[kind] or isinstance(layer, MINE[kind])
    channels = arguments["in_channels"]
    assert layer(torch.randn(1, channels, 8, 8)).shape == out_shape


def test_unknown_kind_lists_the_valid_ones():
    with pytest.raises(ValueError, match=re.escape(
        f"`kind` (='convolution') must be one of: {', '.join(sorted(REGISTRY))} (or an alias "
        "such as grouped, atrous, sub-pixel)"
    )):
        convzoo.create("convolution")
    with pytest.raises(ValueError, match=re.escape(  # the closest kind, not fifty names
        "`kind` (='depthwize') is not a layer kind; did you mean 'depthwise'? Valid: aspp, ")):
        convzoo.create("depthwize")
    with pytest.raises(ValueError, match=re.escape(  # a misnomer, never an alias
        "`kind` (='deconv') is not a layer kind; did you mean 'transposed'? Valid: aspp, ")):
        convzoo.create("deconv")
    for kind in MINE:
        assert kind in sorted(REGISTRY)


def test_unknown_arguments_list_the_valid_ones():
    with pytest.raises(ValueError, match=re.escape(
        "unknown argument kernel for 'conv' (Conv); valid: in_channels, out_channels, "
        "kernel_size, stride, padding, dilation, groups, bias, padding_mode, ndim, device, dtype"
    )):
        convzoo.create("conv", in_channels=3, out_channels=4, kernel=3)
    with pytest.raises(ValueError, match=re.escape(
        "unknown arguments act, nrm for 'separable' (DepthwiseSeparable); valid: in_channels, "
        "out_channels, kernel_size, stride, padding, dilation, depth_multiplier, bias, norm, "
        "activation, mid_norm, mid_activation, padding_mode, ndim, device, dtype"
    )):
        convzoo.create("separable", in_channels=3, out_channels=4, kernel_size=3, act="relu",
                       nrm=1)
    with pytest.raises(ValueError, match=re.escape(
        "unknown argument padding for 'dilated' (Dilated); valid: in_channels, out_channels, "
        "kernel_size, dilation, stride, bias, padding_mode, ndim, device, dtype"
    )):
        convzoo.create("dilated", in_channels=3, out_channels=4, kernel_size=3, dilation=2,
                       padding=1)


def test_missing_arguments_are_named():
    with pytest.raises(ValueError, match=re.escape(
        "missing arguments out_channels, kernel_size for 'conv' (Conv)"
    )):
        convzoo.create("conv", in_channels=3)
    with pytest.raises(ValueError, match=re.escape(
        "missing argument groups for 'group' (GroupConv)"
    )):
        convzoo.create("group", in_channels=4, out_channels=4, kernel_size=3)


def test_available_lists_every_kind_with_a_description():
    kinds = convzoo.available()
    assert list(kinds) == sorted(REGISTRY)
    assert set(MINE) <= set(kinds)
    for kind, description in kinds.items():
        assert isinstance(description, str) and description.strip(), kind
        assert "\n" not in description
    assert kinds["separable"] == (
        "depthwise-separable: depthwise then pointwise (MobileNet, Xception)"
    )


@pytest.mark.parametrize("kind", sorted(MINE))
def test_registered_examples_run(kind):
    entry = REGISTRY[kind]
    examples = entry.examples()
    assert examples
    dims = set()
    for module, shape in examples:
        assert isinstance(module, entry.cls)
        y = module(torch.randn(shape))
        spec = module.specs()[0]
        dims.add(spec.ndim)
        assert y.shape[0] == shape[0]
        assert module.specs()
    assert dims == {1, 2, 3}
