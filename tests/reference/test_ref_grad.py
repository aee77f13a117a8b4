"""Reference gradients (from the definitions) against torch autograd, float64."""

import numpy as np
import torch
from hypothesis import given
from tests.strategies import conv_configs
from tests.torch_oracle import make_params, torch_conv

from convzoo import reference as ref


@given(conv_configs())
def test_gradients_match_autograd(config):
    spec, shape = config
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    w, b = make_params(spec)
    w.requires_grad_(True)
    y = torch_conv(spec, x, w, b)
    g = torch.randn_like(y)
    gx, gw = torch.autograd.grad(y, (x, w), g)
    pads = spec.resolved_padding(shape[-spec.ndim:])
    gn, wn = g.numpy(), w.detach().numpy()
    if spec.transposed:
        args = (spec.stride, pads, spec.output_padding, spec.groups, spec.dilation)
        ours_x = ref.conv_transpose_grad_input(gn, wn, shape, *args)
        ours_w = ref.conv_transpose_grad_weight(x.detach().numpy(), gn, spec.weight_shape, *args)
    else:
        args = (spec.stride, pads, spec.dilation, spec.groups, spec.padding_mode)
        ours_x = ref.conv_grad_input(gn, wn, shape, *args)
        ours_w = ref.conv_grad_weight(x.detach().numpy(), gn, spec.weight_shape, *args)
    np.testing.assert_allclose(ours_x, gx.numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours_w, gw.numpy(), rtol=1e-9, atol=1e-9)
    if len(shape) == spec.ndim + 2:
        np.testing.assert_allclose(ref.conv_grad_bias(gn), gn.sum(axis=(0, *range(2, gn.ndim))))
