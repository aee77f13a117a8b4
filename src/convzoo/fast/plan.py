"""Layout planning: one channels_last layout through the whole network.

Weights of every 4-D parameter are stored NHWC and the input is converted once; conv,
BatchNorm, activations, residual adds and concatenations then keep NHWC from layer to layer
(oneDNN picks the channels_last kernels when input or weight is channels_last), and the
output is converted back once. :func:`layout_coverage` measures how much of the network
actually ran NHWC.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from convzoo.functional.dispatch import choose_path, run_fast
from convzoo.functional.layout import is_channels_last
from convzoo.layers.base import ConvBase
from convzoo.spec import ConvSpec

__all__ = [
    "ChannelsLast", "ChannelsLastShuffle", "FastConv", "dispatch_torch_convs", "layout_coverage",
    "nhwc_shuffles",
]


class ChannelsLast(nn.Module):
    """Run ``inner`` (its 4-D weights made channels_last) on a channels_last input; 4-D
    outputs come back NCHW-contiguous. Values are unchanged (only strides differ).

    Args:
        inner: the network.

    Shape:
        same as ``inner``.

    >>> m = ChannelsLast(nn.Conv2d(3, 4, 3))
    >>> y = m(torch.randn(1, 3, 8, 8)); y.shape, y.is_contiguous()
    (torch.Size([1, 4, 6, 6]), True)
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)  # the one conversion in
        y = self.inner(x)
        if isinstance(y, torch.Tensor) and y.dim() == 4:
            y = y.contiguous()  # the one conversion out
        return y


class ChannelsLastShuffle(nn.Module):
    """A channel shuffle that keeps a channels_last tensor channels_last (one copy).

    ``ChannelShuffle``'s reshape -> transpose -> reshape on an NHWC tensor returns NCHW (the
    layout would break there); done on the ``(N, H, W, C)`` view instead, the same
    permutation stays NHWC. NCHW inputs take the original path. Same values either way.

    Args:
        groups: the shuffle's groups.

    Shape:
        ``(N, C, H, W)`` -> same; output channel ``j*g + i`` is input channel ``i*(C/g) + j``.

    >>> x = torch.arange(6.).reshape(1, 6, 1, 1).contiguous(memory_format=torch.channels_last)
    >>> ChannelsLastShuffle(2)(x)[0, :, 0, 0].tolist()
    [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or not x.is_contiguous(memory_format=torch.channels_last):
            from convzoo.layers.shuffle import channel_shuffle

            return channel_shuffle(x, self.groups)
        n, c, h, w = x.shape
        y = x.permute(0, 2, 3, 1).reshape(n, h, w, self.groups, c // self.groups)  # NHWC view
        y = y.transpose(3, 4).reshape(n, h, w, c)  # (N, H, W, C) shuffled, one copy
        return y.permute(0, 3, 1, 2)  # NCHW shape, channels_last strides


def nhwc_shuffles(model: nn.Module) -> int:
    """Replace every ``ChannelShuffle`` of ``model`` by a :class:`ChannelsLastShuffle`
    (in place); returns how many.

    >>> from convzoo.layers import ChannelShuffle
    >>> m = nn.Sequential(ChannelShuffle(2))
    >>> nhwc_shuffles(m), type(m[0]).__name__
    (1, 'ChannelsLastShuffle')
    """
    from convzoo.layers.shuffle import ChannelShuffle

    count = 0
    for name, module in list(model.named_modules()):
        if isinstance(module, ChannelShuffle):
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent), attr, ChannelsLastShuffle(module.groups))
            count += 1
    return count


class FastConv(nn.Module):
    """A ``torch.nn.Conv2d`` routed through :func:`convzoo.functional.run_fast` (same weights).

    >>> conv = nn.Conv2d(2, 2, 21, padding=10)
    >>> x = torch.randn(1, 2, 24, 24)
    >>> torch.allclose(FastConv(conv)(x), conv(x), atol=1e-4)
    True
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv
        self.spec = ConvSpec.from_module(conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_fast(self.spec, x, self.conv.weight, self.conv.bias)


def dispatch_torch_convs(model: nn.Module, example: torch.Tensor) -> int:
    """Wrap the ``torch.nn.Conv2d`` modules of ``model`` (convzoo's layers dispatch by
    themselves) in :class:`FastConv`; returns how many. In place.

    Args:
        model: the network. example: an input (only dtype/device read).

    Shape:
        unchanged.

    >>> m = nn.Sequential(nn.Conv2d(2, 2, 3))
    >>> dispatch_torch_convs(m, torch.randn(1, 2, 8, 8)), type(m[0]).__name__
    (1, 'FastConv')
    """
    count = 0
    for name, module in list(model.named_modules()):
        if type(module) is nn.Conv2d and module.padding_mode == "zeros":
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent), attr, FastConv(module))
            count += 1
    return count


def layout_coverage(model: nn.Module, example: torch.Tensor) -> tuple[dict[str, int], object]:
    """Count the conv calls of one forward pass, those whose input was channels_last, and
    the fast path each took; also return the model's output of that pass.

    Args:
        model: the network. example: its input.

    Returns:
        ``({'convs': n, 'channels_last_inputs': m, 'native': ..., 'channels_last': ...,
        'fft': ..., 'fused': ...}, output)`` ('fused': :class:`~convzoo.fast.fuse.FusedConv`).

    >>> from convzoo.layers import Conv2d
    >>> layout_coverage(ChannelsLast(Conv2d(3, 4, 3)), torch.randn(1, 3, 8, 8))[0]['convs']
    1
    """
    from convzoo.fast.fuse import FusedConv

    counts = {"convs": 0, "channels_last_inputs": 0, "native": 0, "channels_last": 0, "fft": 0,
              "fused": 0}

    def hook(module: nn.Module, args: tuple) -> None:
        x = args[0]
        counts["convs"] += 1
        counts["channels_last_inputs"] += int(is_channels_last(x))
        spec = module.spec
        if isinstance(module, FusedConv):
            counts["fused"] += 1  # one oneDNN call with its activation
        else:
            counts["native" if spec.transposed else choose_path(spec, x)] += 1

    handles = [
        m.register_forward_pre_hook(hook) for m in model.modules()
        if isinstance(m, (ConvBase, FastConv, FusedConv))
    ]
    try:
        with torch.no_grad():
            output = model(example)
    finally:
        for h in handles:
            h.remove()
    return counts, output
