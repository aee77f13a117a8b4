"""DCGAN generator (Radford, Metz & Chintala 2016): a stack of 4x4 stride-2 transposed convs.

Radford et al., "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", ICLR 2016, Fig. 1 and Sec. 3-4: ``z`` (100) is projected to a
4x4x1024 map, then fractionally strided convs (4x4, stride 2) halve the channels and double
the size, 8x8x512, 16x16x256, 32x32x128, to the 64x64x3 image; BatchNorm + ReLU everywhere but
the output, which is Tanh; weights from N(0, 0.02). The projection is a 4x4 transposed conv of
the 1x1 ``z`` (as the PyTorch DCGAN example), the same parameters as the paper's linear layer
without its bias. ``ngf=128`` gives the paper's 1024 channels (12,658,432 params);
the PyTorch example's ``ngf=64`` (first map 4x4x512) has 3,576,704.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.arithmetic import check_int
from convzoo.layers import TransposedConv2d
from convzoo.models.registry import register_model

__all__ = ["DCGANConfig", "DCGANGenerator", "build_dcgan_generator", "dcgan_init_"]

IMAGE_SIZES = (32, 64)


@dataclass(frozen=True)
class DCGANConfig:
    """Configuration of a DCGAN generator (defaults: the paper's Fig. 1).

    Args:
        nz: latent size (default 100). ngf: channels before the output layer (default 128;
            the first map has ``ngf * image_size / 8`` channels: 1024 at 64x64).
        out_channels: image channels (default 3). image_size: 32 or 64 (default 64).
    """

    nz: int = 100
    ngf: int = 128
    out_channels: int = 3
    image_size: int = 64

    def __post_init__(self) -> None:
        for name in ("nz", "ngf", "out_channels"):
            check_int(name, getattr(self, name))
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"`image_size` (={self.image_size!r}) must be one of 32, 64")


def dcgan_init_(model: nn.Module) -> nn.Module:
    """The paper's init, in place: conv weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0."""
    for m in model.modules():
        if isinstance(m, TransposedConv2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return model


class DCGANGenerator(nn.Module):
    """DCGAN generator: ``z`` -> 4x4 map -> ``log2(image_size/4)`` transposed convs -> image.

    Args:
        config: a :class:`DCGANConfig`.

    Shape:
        ``(N, nz, 1, 1)`` or ``(N, nz)`` -> ``(N, out_channels, image_size, image_size)``;
        each stride-2 layer ``out = (in - 1)*2 - 2*1 + 4 = 2*in``.

    >>> g = DCGANGenerator(DCGANConfig(nz=16, ngf=8, out_channels=1, image_size=32))
    >>> g(torch.randn(2, 16)).shape
    torch.Size([2, 1, 32, 32])
    """

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        ups = (c.image_size // 4).bit_length() - 1  # 64 -> 4 stride-2 layers, 32 -> 3
        widths = [c.ngf * 2**i for i in reversed(range(ups))]  # e.g. 1024, 512, 256, 128
        layers: list[nn.Module] = [
            TransposedConv2d(c.nz, widths[0], 4, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(widths[0]), nn.ReLU(True),
        ]
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            layers += [TransposedConv2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [TransposedConv2d(widths[-1], c.out_channels, 4, stride=2, padding=1,
                                    bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]  # (N, nz) -> (N, nz, 1, 1)
        return self.main(z)  # (N, nz, 1, 1) -> (N, C, S, S) in [-1, 1]


@register_model(
    "dcgan_generator", config=DCGANConfig,
    description="DCGAN generator: z -> 4x4 -> 4x4 stride-2 transposed convs + BN + ReLU -> Tanh "
    "image",
    input_shape=(1, 100, 1, 1), variants=("transposed",),
    source="Radford et al. 2016, DCGAN, Fig. 1 (4x4x1024 -> 64x64x3); 12,658,432 params "
    "(PyTorch DCGAN example, ngf=64: 3,576,704)",
)
def build_dcgan_generator(config: DCGANConfig) -> DCGANGenerator:
    """The DCGAN generator of ``config``.

    >>> sum(p.numel() for p in build_dcgan_generator(DCGANConfig(ngf=64)).parameters())
    3576704
    """
    return DCGANGenerator(config)
