"""Functional forms of convzoo's convolutions (torch tensors in, torch tensors out).

``run_spec`` runs a ConvSpec natively; ``run_fast`` runs it on the fast path that static
facts choose (``choose_path``: channels_last for large-kernel or channels_last depthwise,
FFT for large dense kernels with few channels, native otherwise), with the same values.
The model-level inference passes live above the layers, in ``convzoo.fast``.
"""

from convzoo.functional.conv import conv, conv_transpose, run_spec
from convzoo.functional.dispatch import choose_path, run_fast
from convzoo.functional.fft import conv_fft
from convzoo.functional.layout import conv_channels_last, is_channels_last

__all__ = [
    "choose_path", "conv", "conv_channels_last", "conv_fft", "conv_transpose",
    "is_channels_last", "run_fast", "run_spec",
]
