"""convzoo.reference: every convolution variant computed from its definition, in NumPy.

The oracle of the test-suite. Functions take NumPy arrays and the same arguments as their
``torch.nn.functional`` counterparts, so any torch call can be replayed against them.
Imports NumPy and ``convzoo.arithmetic`` only.
"""

from convzoo.reference.conv import conv
from convzoo.reference.grad import (
    conv_grad_bias,
    conv_grad_input,
    conv_grad_weight,
    conv_transpose_grad_input,
    conv_transpose_grad_weight,
)
from convzoo.reference.pad import pad, pad_adjoint, pad_indices
from convzoo.reference.transpose import conv_transpose, conv_transpose_scatter
from convzoo.reference.variants import (
    channel_shuffle,
    depthwise,
    flattened,
    pixel_shuffle,
    pixel_unshuffle,
    pointwise,
    separable,
    spatially_separable,
)

__all__ = [
    "conv", "conv_transpose", "conv_transpose_scatter",
    "conv_grad_bias", "conv_grad_input", "conv_grad_weight",
    "conv_transpose_grad_input", "conv_transpose_grad_weight",
    "depthwise", "pointwise", "separable", "flattened", "spatially_separable",
    "channel_shuffle", "pixel_shuffle", "pixel_unshuffle",
    "pad", "pad_adjoint", "pad_indices",
]
