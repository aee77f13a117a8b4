"""Arithmetic output shapes equal the shapes torch produces, on random configurations."""

import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st
from tests.strategies import conv_configs
from tests.torch_oracle import NN_CONV, make_params, torch_conv

from convzoo import ConvSpec
from convzoo.arithmetic import conv_output_size, same_padding


@given(conv_configs())
def test_output_shape_matches_torch(config):
    spec, shape = config
    x = torch.zeros(shape, dtype=torch.float64)
    w, b = make_params(spec)
    assert tuple(torch_conv(spec, x, w, b).shape) == spec.output_shape(shape)


@given(conv_configs(transposed=False))
def test_torch_modules_agree_with_from_module(config):
    """nn.ConvNd built from the spec (symmetric padding only) gives the spec's shape."""
    spec, shape = config
    pads = spec.resolved_padding(shape[-spec.ndim:])
    assume(all(lo == hi for lo, hi in pads))
    m = NN_CONV[spec.ndim](spec.in_channels, spec.out_channels, spec.kernel_size, spec.stride,
            tuple(lo for lo, _ in pads), spec.dilation, spec.groups, spec.bias,
            spec.padding_mode, device="meta")
    assert ConvSpec.from_module(m).output_shape(shape) == spec.output_shape(shape)
    assert tuple(m(torch.empty(shape, device="meta")).shape) == spec.output_shape(shape)


@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 4), st.integers(1, 3))
def test_same_padding_gives_ceil_and_matches_torch_at_stride_1(size, k, s, d):
    lo, hi = same_padding(size, k, s, d)
    # 'same' always pads enough for one window (the early return here never fired): a property
    assert size + lo + hi >= d * (k - 1) + 1
    assert conv_output_size(size, k, s, (lo, hi), d) == -(-size // s)
    assert 0 <= hi - lo <= 1
    if s == 1 and size >= d * (k - 1) + 1:
        x = torch.zeros(1, 1, size, dtype=torch.float64)
        w = torch.zeros(1, 1, k, dtype=torch.float64)
        ours = F.conv1d(F.pad(x, (lo, hi)), w, dilation=d)
        assert ours.shape == F.conv1d(x, w, padding="same", dilation=d).shape
