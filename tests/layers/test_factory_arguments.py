"""torch.nn's factory arguments on every layer with parameters: ``device=`` and ``dtype=``
create the parameters (and the norms' parameters and buffers) there directly; and the
layers' renamed arguments (ResizeConv's ``scale_factor``) still work, with a warning."""

from __future__ import annotations

import inspect
import re
import warnings

import pytest
import torch
import torch.nn as nn

import convzoo
from convzoo.layers import (
    ASPP,
    REGISTRY,
    Conv,
    Depthwise,
    DepthwiseSeparable,
    Dilated,
    Flattened,
    GroupConv,
    Pointwise,
    R2Plus1D,
    ResizeConv,
    ShuffleGroupConv,
    ShuffleUnit,
    SpatiallySeparable,
    SubPixelConv,
    TransposedConv,
)

#: kind -> (build with factory arguments, an input shape).
BUILD = {
    "conv": (lambda **f: Conv(2, 3, 3, **f), (1, 2, 5, 5)),
    "pointwise": (lambda **f: Pointwise(2, 3, **f), (1, 2, 4, 4)),
    "depthwise": (lambda **f: Depthwise(2, 3, **f), (1, 2, 5, 5)),
    "group": (lambda **f: GroupConv(4, 4, 3, 2, **f), (1, 4, 5, 5)),
    "dilated": (lambda **f: Dilated(2, 3, 3, 2, **f), (1, 2, 7, 7)),
    "separable": (lambda **f: DepthwiseSeparable(2, 3, 3, norm=nn.BatchNorm2d,
                                                 mid_norm=nn.BatchNorm2d, **f), (1, 2, 5, 5)),
    "transposed": (lambda **f: TransposedConv(2, 3, 3, 2, **f), (1, 2, 3, 3)),
    "flattened": (lambda **f: Flattened(2, 3, 3, **f), (1, 2, 5, 5)),
    "spatially_separable": (lambda **f: SpatiallySeparable(2, 3, 3, **f), (1, 2, 5, 5)),
    "subpixel": (lambda **f: SubPixelConv(2, 3, 2, **f), (1, 2, 3, 3)),
    "resize_conv": (lambda **f: ResizeConv(2, 3, 2, **f), (1, 2, 3, 3)),
    "shuffle_group": (lambda **f: ShuffleGroupConv(4, 4, 3, 2, **f), (1, 4, 5, 5)),
    "shuffle_unit": (lambda **f: ShuffleUnit(12, 12, 3, **f), (2, 12, 4, 4)),
    "r2plus1d": (lambda **f: R2Plus1D(2, 3, **f), (2, 2, 3, 4, 4)),
    "aspp": (lambda **f: ASPP(2, 3, (2, 3), **f), (2, 2, 5, 5)),
}


def _has_parameters(kind: str) -> bool:
    module, _ = REGISTRY[kind].examples()[0]
    return any(True for _ in module.parameters())


def test_every_layer_with_parameters_takes_device_and_dtype():
    with_params = {kind for kind in REGISTRY if _has_parameters(kind)}
    assert with_params == set(BUILD)
    for kind in with_params:
        params = inspect.signature(REGISTRY[kind].cls).parameters
        assert {"device", "dtype"} <= set(params), kind


@pytest.mark.parametrize("kind", sorted(BUILD))
def test_meta_device_creates_every_tensor_on_meta(kind):
    build, shape = BUILD[kind]
    layer = build(device="meta")
    tensors = [*layer.parameters(), *layer.buffers()]
    assert tensors and all(t.device.type == "meta" for t in tensors)
    y = layer.eval()(torch.empty(shape, device="meta"))  # shapes work without any data
    assert y.device.type == "meta"


@pytest.mark.parametrize("kind", sorted(BUILD))
def test_float64_creates_float64_parameters(kind):
    build, shape = BUILD[kind]
    torch.manual_seed(0)
    layer = build(dtype=torch.float64).eval()
    floats = [t for t in (*layer.parameters(), *layer.buffers()) if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float64 for t in floats)
    x = torch.randn(shape, dtype=torch.float64)
    y = layer(x)
    assert y.dtype == torch.float64
    # the same values as the float32 layer given the float64 weights
    same = build().eval()
    same.load_state_dict({k: v.float() for k, v in layer.state_dict().items()})
    torch.testing.assert_close(same(x.float()), y.float(), rtol=1e-4, atol=1e-5)


def test_a_custom_norm_factory_is_moved_after_it_is_built():
    def norm(channels):  # takes no device/dtype: built on the CPU, then moved
        return nn.GroupNorm(1, channels)

    layer = R2Plus1D(2, 3, norm=norm, dtype=torch.float64)
    assert isinstance(layer.norm, nn.GroupNorm) and layer.norm.weight.dtype == torch.float64


def test_resize_conv_scale_factor_is_a_deprecated_alias_of_upscale_factor():
    with pytest.warns(FutureWarning, match=re.escape(
            "`scale_factor` is deprecated and will be removed in convzoo 0.2: use "
            "`upscale_factor`")):
        layer = ResizeConv(2, 3, scale_factor=2)
    assert layer.upscale_factor == 2
    with pytest.warns(FutureWarning, match=r"`ResizeConv.scale_factor` is deprecated .* use "
                                           r"`ResizeConv.upscale_factor`"):
        assert layer.scale_factor == 2
    with pytest.warns(FutureWarning):
        made = convzoo.create("resize_conv", in_channels=2, out_channels=3, scale_factor=3)
    assert made.upscale_factor == 3
    with pytest.raises(ValueError, match=r"^`scale_factor` \(=2\) and `upscale_factor` \(=3\) "
                                         r"name the same argument; pass only `upscale_factor`$"):
        ResizeConv(2, 3, upscale_factor=3, scale_factor=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name warns about nothing
        assert "upscale_factor=2" in repr(ResizeConv(2, 3, upscale_factor=2))


def test_tracing_a_resize_conv_does_not_trip_the_deprecated_alias():
    """torch.jit.trace reads every attribute dir() lists; the alias is not among them, so a
    user who never wrote ``scale_factor`` gets no warning about it."""
    layer = ResizeConv(2, 3, upscale_factor=2)
    assert "scale_factor" not in dir(layer) and "upscale_factor" in dir(layer)
    x = torch.randn(1, 2, 4, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        traced = torch.jit.trace(layer, x)
    torch.testing.assert_close(traced(x), layer(x))
