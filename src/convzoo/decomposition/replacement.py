"""The module a decomposed conv becomes: its stages in a row, exposing the dense conv's
hyperparameters, so that a model whose forward reads them (``transformers`` ViT reads
``projection.weight.dtype``; MobileNetV2's ``apply_tf_padding`` reads ``conv.stride``,
``kernel_size`` and ``dilation``) runs unchanged."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["Decomposed", "HYPERPARAMETERS"]

#: What a replacement copies from the conv it replaces (``torch.nn.Conv*d`` names).
HYPERPARAMETERS = ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                   "dilation", "groups", "padding_mode", "transposed", "output_padding")


class Decomposed(nn.Sequential):
    """``stages`` applied in a row, with the replaced conv's hyperparameters as attributes.

    ``weight`` is the first stage's weight: it answers ``dtype``, ``device`` and
    ``requires_grad`` as the conv's did, but it is not the dense kernel (its shape differs).

    Args:
        conv: the dense conv replaced (only its hyperparameters are read).
        stages: the replacement's modules, in order.

    Shape:
        as ``conv``: ``(N, C_in, *spatial) -> (N, C_out, *spatial_out)``.

    >>> conv = nn.Conv2d(8, 4, 3, stride=2, padding=1)
    >>> d = Decomposed(conv, nn.Conv2d(8, 2, 3, stride=2, padding=1), nn.Conv2d(2, 4, 1))
    >>> d.stride, d.kernel_size, d.in_channels, d.weight.dtype
    ((2, 2), (3, 3), 8, torch.float32)
    >>> d(torch.randn(1, 8, 6, 6)).shape
    torch.Size([1, 4, 3, 3])
    """

    def __init__(self, conv: nn.Module, *stages: nn.Module) -> None:
        super().__init__(*stages)
        for name in HYPERPARAMETERS:
            if hasattr(conv, name):
                setattr(self, name, getattr(conv, name))

    @property
    def weight(self) -> torch.Tensor:
        """The first stage's weight (the conv's dtype and device; not its kernel)."""
        for p in self.parameters():
            return p
        raise AttributeError("a Decomposed module without parameters has no weight")
