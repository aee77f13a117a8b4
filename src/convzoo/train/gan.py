"""Adversarial training of a generator (DCGAN) against a small discriminator.

The generator is the zoo model (e.g. ``dcgan_generator``): noise ``(N, nz, 1, 1)`` -> images.
:class:`Discriminator` is a small DCGAN discriminator built from ``convzoo.layers`` (strided
4x4 convs, BatchNorm, LeakyReLU 0.2). Losses are the non-saturating ones of Goodfellow et al.
2014 with Adam(lr, betas=(0.5, 0.999)) for both networks (Radford et al. 2016); the
discriminator always sees one batch of real and generated images together. After training
a grid of samples from fixed noise is written to ``samples.png``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from convzoo.layers import Conv2d
from convzoo.names import renamed_arguments
from convzoo.train.sums import Sums, add_sums, make_sums
from convzoo.train.tasks import Task

__all__ = ["Discriminator", "GANTask", "sample_grid"]


class Discriminator(nn.Module):
    """DCGAN discriminator: stride-2 4x4 convs halving the image until 4x4, then one 4x4 conv
    to a single logit.

    Args:
        channels: image channels (default 1). image_size: a power of two >= 8 (default 32).
        base_channels: channels of the first conv, doubled at each further stride (default
            32; called ``width`` before 0.2, still accepted with a warning).

    Shape:
        ``(N, channels, S, S)`` -> ``(N,)`` logits (real > 0).

    >>> Discriminator()(torch.randn(2, 1, 32, 32)).shape
    torch.Size([2])
    """

    @renamed_arguments(width="base_channels")
    def __init__(self, channels: int = 1, image_size: int = 32, base_channels: int = 32
                 ) -> None:
        super().__init__()
        if not isinstance(image_size, int) or image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"`image_size` (={image_size!r}) must be a power of two >= 8")
        layers: list[nn.Module] = []
        c_in, c_out, size = channels, base_channels, image_size
        while size > 4:
            layers.append(Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=c_in == channels))
            if c_in != channels:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in, c_out, size = c_out, c_out * 2, size // 2
        layers.append(Conv2d(c_in, 1, 4))  # (N, C, 4, 4) -> (N, 1, 1, 1)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()  # (N, C, S, S) -> (N,)


def sample_grid(images: torch.Tensor, path: Path, columns: int = 8) -> None:
    """Write images ``(N, C, H, W)`` in ``[-1, 1]`` as one PNG grid (1-pixel gaps)."""
    from PIL import Image

    n, c, h, w = images.shape
    rows = math.ceil(n / columns)
    grid = np.zeros((rows * (h + 1) + 1, columns * (w + 1) + 1, c), np.uint8)
    pix = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    for i in range(n):
        r, k = divmod(i, columns)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + k * (w + 1):1 + k * (w + 1) + w] = pix[i]
    Image.fromarray(grid[..., 0] if c == 1 else grid).save(path)


class GANTask(Task):
    """Train ``model`` (a generator) against a :class:`Discriminator`; metrics: the
    discriminator's accuracy on real and generated images and both losses."""

    metric = "d_accuracy"
    schedule = "constant"

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.disc: nn.Module | None = None
        self.disc_opt: torch.optim.Optimizer | None = None
        self.nz = 0

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        # the generator's input is noise of the batch size (x: real images, used by the loss)
        return torch.randn(len(x), self.nz, 1, 1, device=x.device)

    def expected_output(self, x: torch.Tensor, y: torch.Tensor) -> tuple[int, ...]:
        return tuple(x.shape)

    def describe_output(self) -> str:
        return f"images {tuple(self.data.sample_shape)} from noise (N, nz, 1, 1)"

    def _parts(self) -> tuple[nn.Module, torch.optim.Optimizer]:
        if self.disc is None or self.disc_opt is None:
            raise RuntimeError("GANTask.setup() must run before training or checkpointing")
        return self.disc, self.disc_opt

    def configure(self, model_config: dict[str, Any]) -> None:
        nz = model_config.get("nz")
        if not isinstance(nz, int) or nz < 1:
            raise ValueError(f"data set {self.data.name!r} trains a generator: the model's config "
                             f"needs a positive int field `nz` (noise channels), got {nz!r}")
        self.nz = nz

    def optimizer(self, params: Any, lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))

    def setup(self, model: nn.Module, device: torch.device, wrap: Any, lr: float) -> None:
        c, size = self.data.sample_shape[0], self.data.sample_shape[-1]
        self.disc = wrap(Discriminator(c, size).to(device))
        self.disc_opt = self.optimizer(self.disc.parameters(), lr)

    def train_step(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   optimizer: torch.optim.Optimizer) -> Sums:
        disc, disc_opt = self._parts()
        n = len(x)
        fake = model(self.inputs(x))
        # discriminator: one forward over real and (detached) fake images
        logits = disc(torch.cat([x, fake.detach()]))
        target = torch.cat([torch.ones(n, device=x.device), torch.zeros(n, device=x.device)])
        d_loss = F.binary_cross_entropy_with_logits(logits, target)
        disc_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        disc_opt.step()
        # generator: make the discriminator call the fakes real (non-saturating loss); the
        # discriminator sees the same real+fake batch as above, so its BatchNorm statistics
        # are those it was trained with (a fakes-only batch would let G exploit them)
        g_logits = disc(torch.cat([x, fake]))[n:]
        g_loss = F.binary_cross_entropy_with_logits(g_logits, torch.ones(n, device=x.device))
        optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        optimizer.step()
        correct = ((logits > 0).float() == target).sum()
        return make_sums(loss=g_loss.detach() * n, d_loss=d_loss.detach() * n, correct=correct, n=n)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                 device: torch.device) -> dict[str, float]:
        disc = getattr(self._parts()[0], "module", self._parts()[0])
        g = torch.Generator().manual_seed(1234)  # fixed noise; the global RNG is untouched
        modes = model.training, disc.training
        model.eval()
        disc.eval()
        total: Sums = {}
        for i in range(0, len(x), batch_size):
            real = x[i:i + batch_size].to(device)
            z = torch.randn(len(real), self.nz, 1, 1, generator=g).to(device)
            fake_logits, real_logits = disc(model(z)), disc(real)
            n = len(real)
            add_sums(total, make_sums(
                loss=F.binary_cross_entropy_with_logits(fake_logits, torch.ones(n)) * n,
                d_loss=(F.binary_cross_entropy_with_logits(real_logits, torch.ones(n))
                        + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros(n))) * n / 2,
                correct=(real_logits > 0).sum() + (fake_logits <= 0).sum(), n=n))
        model.train(modes[0])
        disc.train(modes[1])
        return self.summarize(total)

    def summarize(self, sums: Sums) -> dict[str, float]:
        n = float(sums["n"])
        return {"loss": float(sums["loss"]) / n, "d_loss": float(sums["d_loss"]) / n,
                "d_accuracy": float(sums["correct"]) / (2 * n)}

    @torch.no_grad()
    def finish(self, model: nn.Module, out: Path | None) -> dict[str, Any]:
        if out is None:
            return {}
        g = torch.Generator().manual_seed(0)
        device = next(model.parameters()).device
        was = model.training
        model.eval()
        images = model(torch.randn(64, self.nz, 1, 1, generator=g).to(device))
        model.train(was)
        path = Path(out) / "samples.png"
        sample_grid(images, path)
        return {"samples": str(path)}

    def state_dict(self) -> dict[str, Any]:
        disc, disc_opt = self._parts()
        return {"discriminator": getattr(disc, "module", disc).state_dict(),
                "discriminator_optimizer": disc_opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        disc, disc_opt = self._parts()
        getattr(disc, "module", disc).load_state_dict(state["discriminator"])
        disc_opt.load_state_dict(state["discriminator_optimizer"])
