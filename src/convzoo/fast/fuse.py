"""Fuse a conv with the activation after it into one oneDNN call (no compiler).

``torch.ops.mkldnn._convolution_pointwise`` is oneDNN's convolution with a fused unary
post-op (the kernel torch.compile's freezing passes emit on CPU). Calling it eagerly saves
the activation's extra pass over memory and the Python dispatch of a convzoo layer.
Exact: the post-op computes the same elementwise function on the same accumulator.
Used only for float32 CPU inputs with oneDNN; convs on the FFT path are left alone.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from convzoo.fast.fold import replace_module
from convzoo.fast.usage import Usage
from convzoo.functional.dispatch import choose_path
from convzoo.layers.base import ConvBase

__all__ = ["FusedConv", "fusable", "fuse_convs"]


def _post_op(module: nn.Module | None) -> tuple[str, list[float]] | None:
    if module is None:
        return "none", []
    if type(module) is nn.ReLU:
        return "relu", []
    if type(module) in (nn.ReLU6, nn.Hardtanh):
        return "hardtanh", [float(module.min_val), float(module.max_val)]
    return None


class FusedConv(nn.Module):
    """A 2-D convzoo conv (optionally with its ReLU/ReLU6/Hardtanh) as one oneDNN call.

    Args:
        conv: a 2-D forward convzoo conv with static symmetric zero padding.
        activation: the ``nn.ReLU``/``nn.ReLU6``/``nn.Hardtanh`` after it, or None.
        nhwc: bring any input to channels_last first (the planned layout; default False).

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``, as ``conv``.

    >>> from convzoo.layers import Conv2d
    >>> conv, x = Conv2d(3, 4, 3, padding=1), torch.randn(1, 3, 8, 8)
    >>> torch.allclose(FusedConv(conv, nn.ReLU6())(x), nn.functional.relu6(conv(x)), atol=1e-6)
    True
    """

    def __init__(
        self, conv: ConvBase, activation: nn.Module | None = None, nhwc: bool = False
    ) -> None:
        super().__init__()
        self.nhwc = nhwc
        post = _post_op(activation)
        if not fusable(conv) or post is None:
            raise ValueError(
                f"`conv` (={conv.spec}) and `activation` (={activation!r}) must be a 2-D "
                "forward conv with static symmetric zero padding and None/ReLU/ReLU6/Hardtanh"
            )
        s = self.spec = conv.spec
        self.weight, self.bias = conv.weight, conv.bias
        self.attr, self.scalars = post
        self.padding = [lo for lo, _ in s.resolved_padding()]
        self.stride, self.dilation, self.groups = list(s.stride), list(s.dilation), s.groups

    def forward(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        """``act(conv(x))``; with ``other`` (same shape as the output): ``conv(x) + other``
        in one call (oneDNN's binary post-op; only for ``activation=None``)."""
        if self.nhwc:  # e.g. a channel slice of an NHWC tensor: back to dense NHWC
            x = x.contiguous(memory_format=torch.channels_last)
        if other is not None:
            if self.attr != "none":
                raise ValueError(f"`other` needs a conv without activation (got {self.attr!r})")
            if self.nhwc:
                other = other.contiguous(memory_format=torch.channels_last)
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, other, self.weight, self.bias, self.padding, self.stride, self.dilation,
                self.groups, "add", None, None, [], None,
            )
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.weight, self.bias, self.padding, self.stride, self.dilation, self.groups,
            self.attr, self.scalars, "",
        )


def fusable(conv: nn.Module) -> bool:
    """Whether ``conv`` is a 2-D forward convzoo conv with static symmetric zero padding.

    >>> from convzoo.layers import Conv2d
    >>> fusable(Conv2d(2, 2, 3, padding=1)), fusable(Conv2d(2, 2, 2, padding="same"))
    (True, False)
    """
    if not isinstance(conv, ConvBase):
        return False
    s = conv.spec
    if s.transposed or s.ndim != 2 or isinstance(s.padding, str) or s.padding_mode != "zeros":
        return False
    return all(lo == hi for lo, hi in s.resolved_padding())


def fuse_convs(model: nn.Module, usage: Usage, example: torch.Tensor) -> int:
    """Replace every fusable conv of ``model`` by a :class:`FusedConv` (taking in the
    activation module that alone reads its output); returns the number of activations
    fused. In place; only for a float32 CPU ``example`` with oneDNN available.

    Args:
        model: the network (BatchNorms already folded). usage: its recorded forward pass
            (after folding). example: the input.

    Shape:
        unchanged.
    """
    if example.dtype != torch.float32 or example.device.type != "cpu" or \
            not torch.backends.mkldnn.is_available():
        return 0
    readers: dict[int, list[nn.Module]] = {}
    for module, inp in usage.inputs.items():
        readers.setdefault(inp, []).append(module)
    fused = 0
    for conv in list(model.modules()):
        if not fusable(conv) or conv not in usage.outputs or usage.calls[conv] != 1:
            continue
        if conv.spec.groups == 1 and choose_path(conv.spec, _probe(example)) == "fft":
            continue  # the FFT path beats oneDNN there
        acts = [m for m in readers.get(usage.outputs[conv], [])
                if _post_op(m) not in (None, ("none", [])) and usage.only_consumer(conv, m)]
        activation = acts[0] if len(acts) == 1 else None
        replace_module(model, conv, FusedConv(conv, activation, nhwc=True))  # type: ignore[arg-type]
        if activation is not None:
            replace_module(model, activation, nn.Identity())
            fused += 1
    return fused


def _probe(example: torch.Tensor) -> torch.Tensor:
    return torch.empty(1, 1, 1, 1, dtype=example.dtype, device=example.device)
