"""The reference transposed conv: zero insertion (the seed definition) vs scatter vs torch,
and the adjoint identity <conv(x), y> = <x, conv_transpose(y)>."""

import numpy as np
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from tests.strategies import conv_configs
from tests.torch_oracle import make_params, torch_conv

from convzoo import ConvSpec
from convzoo import reference as ref


def _args(spec, shape):
    return dict(stride=spec.stride, padding=spec.resolved_padding(shape[-spec.ndim:]),
                output_padding=spec.output_padding, groups=spec.groups, dilation=spec.dilation)


@given(conv_configs(transposed=True))
def test_zero_insertion_and_scatter_match_torch(config):
    spec, shape = config
    x = torch.randn(shape, dtype=torch.float64)
    w, b = make_params(spec)
    expected = torch_conv(spec, x, w, b).numpy()
    bn = None if b is None else b.numpy()
    zero_insert = ref.conv_transpose(x.numpy(), w.numpy(), bn, **_args(spec, shape))
    scatter = ref.conv_transpose_scatter(x.numpy(), w.numpy(), bn, **_args(spec, shape))
    np.testing.assert_allclose(zero_insert, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(scatter, expected, rtol=1e-10, atol=1e-10)


@given(conv_configs(transposed=False), st.integers(0, 2**31 - 1))
def test_adjoint_identity(config, seed):
    """conv_transpose with the same weight is the adjoint of conv (zero padding)."""
    spec, shape = config
    assume(spec.padding_mode == "zeros" and len(shape) == spec.ndim + 2)
    pads = spec.resolved_padding(shape[2:])
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    w = rng.normal(size=spec.weight_shape)
    y_shape = spec.output_shape(shape)
    y = rng.normal(size=y_shape)
    # the transposed conv needs output_padding to restore the exact input size
    op = tuple(
        (i + lo + hi - d * (k - 1) - 1) % s
        for i, (lo, hi), d, k, s in zip(shape[2:], pads, spec.dilation, spec.kernel_size,
                                          spec.stride)
    )
    assume(all(o < max(s, d) for o, s, d in zip(op, spec.stride, spec.dilation)))
    lhs = np.vdot(ref.conv(x, w, None, spec.stride, pads, spec.dilation, spec.groups), y)
    back = ref.conv_transpose(y, w, None, spec.stride, pads, op, spec.groups, spec.dilation)
    assert back.shape == x.shape
    np.testing.assert_allclose(lhs, np.vdot(x, back), rtol=1e-9)


def test_seed_003_zero_insertion_sizes():
    # 2x2 input, stride 2: one zero between elements -> 3x3, then the conv
    x = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    w = np.ones((1, 1, 3, 3))
    y = ref.conv_transpose(x, w, stride=2)
    assert y.shape == (1, 1, 5, 5)
    assert ConvSpec(1, 1, 3, 2, transposed=True).output_shape(x.shape) == y.shape
    # the middle output sums all four inputs (the kernel overlaps them all)
    assert y[0, 0, 2, 2] == 10.0


def test_same_padding_gives_input_times_stride():
    rng = np.random.default_rng(2)
    for k, s in [(3, 2), (4, 2), (1, 3), (5, 3)]:
        y = ref.conv_transpose(rng.normal(size=(1, 2, 5)), rng.normal(size=(2, 1, k)),
                               stride=s, padding="same")
        assert y.shape == (1, 1, 5 * s)
