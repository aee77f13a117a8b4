"""Cost formulas equal brute-force counts and torch.utils.flop_counter, every variant."""

import itertools
import math

import torch
from hypothesis import assume, given
from tests.strategies import conv_configs
from tests.torch_oracle import make_params, torch_conv
from torch.utils.flop_counter import FlopCounterMode

from convzoo import ConvSpec
from convzoo.arithmetic import conv_macs


def brute_force_forward_macs(spec: ConvSpec, shape) -> int:
    """Enumerate (output position, tap) pairs of the definition; padded taps included."""
    n = spec.ndim
    batch = shape[0] if len(shape) == n + 2 else 1
    out = spec.output_shape(shape)[-n:]
    pairs = 0
    for _pos in itertools.product(*(range(o) for o in out)):
        for _tap in itertools.product(*(range(k) for k in spec.kernel_size)):
            pairs += 1  # one weight * one (possibly padded) input element
    return batch * spec.out_channels * (spec.in_channels // spec.groups) * pairs


def brute_force_transposed_macs(spec: ConvSpec, shape) -> int:
    """Enumerate the scatter of every input element through every tap (cropped ones included)."""
    n = spec.ndim
    batch = shape[0] if len(shape) == n + 2 else 1
    spatial = shape[-n:]
    scatters = 0
    for pos in itertools.product(*(range(i) for i in spatial)):
        for tap in itertools.product(*(range(k) for k in spec.kernel_size)):
            # target = pos*s + tap*d - lo: counted whether or not it survives the crop
            _target = [p * s + t * d for p, t, s, d in zip(pos, tap, spec.stride, spec.dilation)]
            scatters += 1
    return batch * spec.in_channels * (spec.out_channels // spec.groups) * scatters


@given(conv_configs())
def test_macs_equal_brute_force(config):
    spec, shape = config
    brute = brute_force_transposed_macs if spec.transposed else brute_force_forward_macs
    assert spec.macs(shape) == brute(spec, shape)


@given(conv_configs())
def test_flops_equal_torch_flop_counter(config):
    """torch.utils.flop_counter reports 2 * MACs for conv and transposed conv."""
    spec, shape = config
    if len(shape) == spec.ndim + 1:
        shape = (1, *shape)
    x = torch.zeros(shape, dtype=torch.float64)
    w, b = make_params(spec)
    with FlopCounterMode(display=False) as counter:
        torch_conv(spec, x, w, b)
    assert counter.get_total_flops() == spec.flops(shape) == 2 * spec.macs(shape)


@given(conv_configs(transposed=True))
def test_transposed_macs_equal_the_adjoint_forward_conv(config):
    """DESIGN.md: a transposed conv costs what the forward conv it is the adjoint of costs."""
    spec, shape = config
    out = spec.output_shape(shape)
    forward = ConvSpec(
        spec.out_channels, spec.in_channels, spec.kernel_size, spec.stride, spec.padding,
        spec.dilation, spec.groups, ndim=spec.ndim,
    )
    # output_padding >= stride (allowed when dilation > stride) breaks the adjoint pairing
    assume(forward.output_shape(out)[-spec.ndim:] == tuple(shape[-spec.ndim:]))
    assert forward.macs(out) == spec.macs(shape)


def test_transposed_is_not_overcounted_by_stride():
    # torchinfo/torchscan count the zero-inserted input: prod(stride) = 4x too many here
    spec = ConvSpec(3, 16, 4, stride=2, padding=1, transposed=True)
    assert spec.macs((2, 3, 16, 16)) == 2 * 3 * 16 * 16 * 16 * 16 == 393216
    zero_inserted = conv_macs(2, 3, 16, (4, 4), (16, 16), (32, 32))
    assert zero_inserted == 4 * spec.macs((2, 3, 16, 16))


@given(conv_configs())
def test_params_equal_torch_parameter_count(config):
    # the oracle is torch.nn's own module with the same hyperparameters (not a weight built
    # from spec.weight_shape)
    spec, _ = config
    cls = {(False, 1): torch.nn.Conv1d, (False, 2): torch.nn.Conv2d, (False, 3): torch.nn.Conv3d,
           (True, 1): torch.nn.ConvTranspose1d, (True, 2): torch.nn.ConvTranspose2d,
           (True, 3): torch.nn.ConvTranspose3d}[(spec.transposed, spec.ndim)]
    m = cls(spec.in_channels, spec.out_channels, spec.kernel_size, stride=spec.stride,
            groups=spec.groups, bias=spec.bias, dilation=spec.dilation, device="meta")
    assert spec.params == sum(p.numel() for p in m.parameters())
    assert spec.weight_shape == tuple(m.weight.shape)


def test_cost_bytes_and_intensity():
    spec = ConvSpec(3, 4, 3, padding=1, bias=False)
    c = spec.cost((2, 3, 32, 32), dtype="float32")
    inputs, outputs = 2 * 3 * 32 * 32, 2 * 4 * 32 * 32
    assert c.bytes == 4 * (inputs + 108 + outputs)
    assert math.isclose(c.intensity, c.flops / c.bytes)
    assert c.bias_adds == 0 and spec.cost((2, 3, 32, 32)).flops == 2 * c.macs
    assert ConvSpec(3, 4, 3, padding=1).cost((2, 3, 32, 32)).bias_adds == outputs
