"""WaveNet (van den Oord et al. 2016): stacks of dilated causal 1-D convs with gated units.

van den Oord et al., "WaveNet: A Generative Model for Raw Audio", 2016, Sec. 2.1-2.4 and
Fig. 3-4: a causal input conv, then blocks of layers with dilations ``1, 2, ..., 2**(L-1)``
(the paper: 1..512, repeated), each layer a dilated causal conv (kernel 2), the gated unit
``tanh(W_f * x) * sigmoid(W_g * x)``, a 1x1 residual conv added to its input and a 1x1 skip
conv; the skips are summed, then ReLU, 1x1, ReLU, 1x1 to a softmax over the ``quantization``
(256, mu-law) classes. The paper gives no channel widths; the defaults are those of the
common reference port (ibab/tensorflow-wavenet: residual and dilation 32 channels), with
skip 256.

Receptive field (samples): ``1 + (k-1) * (1 + blocks * (2**layers_per_block - 1))`` with the
causal input conv of kernel ``k``: 1 block of 10 layers (k=2) sees 1024 samples through the
stack, 1025 with the input conv; the default 3 blocks see 3071.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import chain, check_int, conv_rf_layer, is_int
from convzoo.layers import Conv1d, Pointwise
from convzoo.models.registry import register_model

__all__ = [
    "WaveNetConfig", "WaveNet", "GatedResidualLayer", "build_wavenet", "wavenet_receptive_field",
    "mu_law_encode", "mu_law_decode",
]


@dataclass(frozen=True)
class WaveNetConfig:
    """Configuration of a WaveNet (defaults: 3 blocks of dilations 1..512, 256 classes).

    Args:
        layers_per_block: layers per block, dilations ``1..2**(layers_per_block-1)``
            (default 10).
        blocks: repetitions of the dilation cycle (default 3).
        residual_channels: channels of the residual stream (default 32).
        dilation_channels: channels of the gated unit's output (default 32).
        skip_channels: channels of the skip connections and the output stack (default 256).
        quantization: classes of the input (one-hot) and of the output softmax (default 256).
        kernel_size: kernel of the dilated convs and of the causal input conv (default 2).
    """

    layers_per_block: int = 10
    blocks: int = 3
    residual_channels: int = 32
    dilation_channels: int = 32
    skip_channels: int = 256
    quantization: int = 256
    kernel_size: int = 2

    def __post_init__(self) -> None:
        for name in ("layers_per_block", "blocks", "residual_channels", "dilation_channels",
                     "skip_channels", "quantization"):
            check_int(name, getattr(self, name))
        if not is_int(self.kernel_size) or self.kernel_size < 2:
            raise ValueError(f"`kernel_size` (={self.kernel_size!r}) must be an int >= 2")
        if self.quantization < 2:
            raise ValueError(f"`quantization` (={self.quantization!r}) must be >= 2")

    @property
    def dilations(self) -> tuple[int, ...]:
        """Dilation of every layer, block after block."""
        return tuple(2**i for _ in range(self.blocks) for i in range(self.layers_per_block))


def wavenet_receptive_field(config: WaveNetConfig) -> int:
    """Receptive field in samples: the causal input conv plus every dilated conv.

    >>> wavenet_receptive_field(WaveNetConfig(blocks=1))
    1025
    """
    k = config.kernel_size
    layers = [conv_rf_layer(k)] + [conv_rf_layer(k, dilation=d) for d in config.dilations]
    return int(chain(layers).size)


class GatedResidualLayer(nn.Module):
    """One WaveNet layer: dilated causal conv to ``2*D`` channels, ``tanh(f) * sigmoid(g)``,
    a 1x1 residual conv (added to the input) and a 1x1 skip conv.

    Args:
        residual_channels: ``R``. dilation_channels: ``D``. skip_channels: ``S``.
        kernel_size: ``k``. dilation: ``d``.
        residual: whether the layer has the residual 1x1 conv (default True; the last layer
            of the net has none, its residual output would be unused). Without it the
            residual output is the input unchanged.

    Shape:
        ``(N, R, T)`` -> (residual ``(N, R, T)``, skip ``(N, S, T)``); output ``t`` sees inputs
        ``t - d*(k-1) .. t``.

    >>> res, skip = GatedResidualLayer(4, 6, 8, 2, 4)(torch.randn(1, 4, 16))
    >>> res.shape, skip.shape
    (torch.Size([1, 4, 16]), torch.Size([1, 8, 16]))
    """

    def __init__(self, residual_channels: int, dilation_channels: int, skip_channels: int,
                 kernel_size: int, dilation: int, residual: bool = True) -> None:
        super().__init__()
        self.conv = Conv1d(residual_channels, 2 * dilation_channels, kernel_size,
                           dilation=dilation, padding="causal")
        self.residual = (Pointwise(dilation_channels, residual_channels, ndim=1) if residual
                         else None)
        self.skip = Pointwise(dilation_channels, skip_channels, ndim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f, g = self.conv(x).chunk(2, dim=1)  # (N, R, T) -> 2 x (N, D, T)
        z = torch.tanh(f) * torch.sigmoid(g)  # gated activation unit, (N, D, T)
        if self.residual is not None:
            x = x + self.residual(z)  # (N, R, T)
        return x, self.skip(z)  # (N, R, T), (N, S, T)


class WaveNet(nn.Module):
    """WaveNet: causal input conv, gated residual layers, summed skips, output stack. The
    last layer has no residual 1x1 conv (only its skip output is used), so every parameter
    gets a gradient (DistributedDataParallel needs no ``find_unused_parameters``).

    Args:
        config: a :class:`WaveNetConfig`.

    Shape:
        one-hot ``(N, Q, T)`` -> logits ``(N, Q, T)``; output ``t`` predicts sample ``t + 1``
        from samples ``t - r + 1 .. t`` (``r`` = :func:`wavenet_receptive_field`). The softmax
        over ``Q`` is left to the loss (``nn.CrossEntropyLoss``) or the sampler.

    >>> net = WaveNet(WaveNetConfig(layers_per_block=4, blocks=2, skip_channels=16,
    ...                             quantization=16))
    >>> net(torch.randn(2, 16, 50)).shape
    torch.Size([2, 16, 50])
    """

    def __init__(self, config: WaveNetConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.input_conv = Conv1d(c.quantization, c.residual_channels, c.kernel_size,
                                 padding="causal")
        self.layers = nn.ModuleList(
            GatedResidualLayer(c.residual_channels, c.dilation_channels, c.skip_channels,
                               c.kernel_size, d, residual=i < len(c.dilations) - 1)
            for i, d in enumerate(c.dilations)
        )
        self.output = nn.Sequential(
            nn.ReLU(), Pointwise(c.skip_channels, c.skip_channels, ndim=1),
            nn.ReLU(), Pointwise(c.skip_channels, c.quantization, ndim=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_conv(x)  # (N, Q, T) -> (N, R, T)
        skips = None
        for layer in self.layers:
            x, skip = layer(x)  # (N, R, T), (N, S, T)
            skips = skip if skips is None else skips + skip
        return self.output(skips)  # (N, S, T) -> (N, Q, T) logits


def mu_law_encode(audio: torch.Tensor, quantization: int = 256) -> torch.Tensor:
    """Mu-law companding (mu = Q - 1) of ``audio`` in [-1, 1] to ints ``0..Q-1`` (paper eq. 2).

    >>> mu_law_encode(torch.tensor([-1.0, 0.0, 1.0])).tolist()
    [0, 128, 255]
    """
    mu = quantization - 1
    y = torch.sign(audio) * torch.log1p(mu * audio.abs().clamp(max=1)) / math.log1p(mu)
    return ((y + 1) / 2 * mu + 0.5).long()


def mu_law_decode(codes: torch.Tensor, quantization: int = 256) -> torch.Tensor:
    """Inverse of :func:`mu_law_encode`: ints ``0..Q-1`` -> audio in [-1, 1].

    >>> mu_law_decode(torch.tensor([0, 255])).tolist()
    [-1.0, 1.0]
    """
    mu = quantization - 1
    y = 2 * codes.float() / mu - 1
    return torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu


@register_model(
    "wavenet", config=WaveNetConfig,
    description="WaveNet: dilated causal 1-D conv stack, gated tanh*sigmoid units, residual + "
    "skip 1x1",
    input_shape=(1, 256, 16000), variants=("dilated", "pointwise"),
    source="van den Oord et al. 2016, WaveNet, Sec. 2.1-2.4, Fig. 3-4 (dilations 1..512 repeated, "
    "256-way mu-law softmax); widths from ibab/tensorflow-wavenet",
)
def build_wavenet(config: WaveNetConfig) -> WaveNet:
    """The WaveNet of ``config``.

    >>> sum(p.numel() for p in build_wavenet(WaveNetConfig(blocks=1)).parameters())
    283584
    """
    return WaveNet(config)
