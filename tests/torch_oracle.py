"""The torch oracle of the tests: torch's conv modules and functions by spatial dims, a
ConvSpec run with torch.nn.functional primitives only, and gradcheck over a layer's
parameters (one copy, shared by every test file)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from convzoo import ConvSpec

_MODES = {
    "zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"
}
#: torch's modules and functions by number of spatial dims.
NN_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
NN_CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
F_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
F_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def param_gradcheck(layer: nn.Module, x: torch.Tensor) -> bool:
    """gradcheck with respect to every parameter of ``layer`` at the input ``x``."""
    params = {k: v.detach().clone().requires_grad_() for k, v in layer.named_parameters()}
    return torch.autograd.gradcheck(
        lambda *vals: torch.func.functional_call(
            layer, dict(zip(params, vals, strict=True)), (x,)),
        tuple(params.values()),
    )


def make_params(spec: ConvSpec, dtype=torch.float64, generator=None):
    """Random weight and bias of the spec's shapes."""
    w = torch.randn(spec.weight_shape, dtype=dtype, generator=generator)
    b = torch.randn(spec.out_channels, dtype=dtype, generator=generator) if spec.bias else None
    return w, b


def torch_conv(spec: ConvSpec, x: torch.Tensor, w: torch.Tensor, b=None) -> torch.Tensor:
    """The spec computed by F.pad + F.convNd / F.conv_transposeNd (explicit, per-side padding)."""
    n = spec.ndim
    unbatched = x.dim() == n + 1
    if unbatched:
        x = x.unsqueeze(0)
    pads = spec.resolved_padding(tuple(x.shape[2:]))
    if spec.transposed:
        y = F_CONV_T[n](
            x, w, b, spec.stride, 0, spec.output_padding, spec.groups, spec.dilation
        )
        index = [slice(None), slice(None)] + [
            slice(lo, y.shape[2 + a] - hi) for a, (lo, hi) in enumerate(pads)
        ]
        y = y[tuple(index)]
    else:
        flat = [v for pair in reversed(pads) for v in pair]
        if spec.padding_mode == "zeros":
            x = F.pad(x, flat)
        elif any(flat):
            x = F.pad(x, flat, mode=_MODES[spec.padding_mode])
        y = F_CONV[n](x, w, b, spec.stride, 0, spec.dilation, spec.groups)
    return y.squeeze(0) if unbatched else y
