"""Super-resolution pairs from scikit-image's bundled images (nothing is downloaded).

High-resolution patches are random crops of the luminance (Y, in ``[0, 1]``) of the bundled
photographs; each low-resolution input is the patch downscaled by ``scale`` with antialiased
bicubic interpolation. Training crops come from one set of images, test crops from others, so
the test PSNR measures generalization. The baseline is bicubic upscaling of the input.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from convzoo.names import renamed_arguments
from convzoo.train.data.base import Defaults, TaskData, check_int, check_limit

__all__ = ["TRAIN_IMAGES", "TEST_IMAGES", "luminance", "downscale", "bicubic_upscale",
           "load_superres"]

TRAIN_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "brick", "grass", "gravel", "moon",
                "page", "text", "immunohistochemistry", "hubble_deep_field")
TEST_IMAGES = ("camera", "coins", "cat")


def luminance(name: str) -> np.ndarray:
    """The Y channel (ITU-R BT.601) of bundled image ``name`` as float32 in ``[0, 1]``.

    >>> luminance("camera").shape
    (512, 512)
    """
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)(), np.float32) / 255.0
    if image.ndim == 3:
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    return image


def downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """Antialiased bicubic downscaling by ``scale``: ``(N, C, H, W) -> (N, C, H/s, W/s)``.

    >>> downscale(torch.rand(1, 1, 12, 12), 3).shape
    torch.Size([1, 1, 4, 4])
    """
    h, w = hr.shape[-2:]
    return F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic",
                         align_corners=False, antialias=True).clamp(0, 1)


def bicubic_upscale(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The baseline: bicubic upscaling by ``scale``, clamped to ``[0, 1]``.

    >>> bicubic_upscale(torch.rand(1, 1, 4, 4), 3).shape
    torch.Size([1, 1, 12, 12])
    """
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)


def _crops(names: tuple[str, ...], count: int, patch: int, rng: np.random.Generator) -> np.ndarray:
    images = [luminance(n) for n in names]
    out = np.empty((count, 1, patch, patch), np.float32)
    for i in range(count):
        img = images[i % len(images)]
        y, x = rng.integers(0, img.shape[0] - patch + 1), rng.integers(0, img.shape[1] - patch + 1)
        out[i, 0] = img[y:y + patch, x:x + patch]
    return out


@renamed_arguments(scale="upscale_factor")
def load_superres(upscale_factor: int = 3, patch: int = 48, test_patch: int = 144,
                  n_train: int = 2400, n_test: int = 100, seed: int = 0, limit: int | None = None
                  ) -> TaskData:
    """Super-resolution pairs (low-resolution input, high-resolution target).

    Args:
        upscale_factor: ``r``, high-resolution size over low-resolution size (default 3,
            ESPCN's; called ``scale`` before 0.2, still accepted with a warning).
        patch: high-resolution side of the training patches (default 48; a multiple of
            ``upscale_factor``). test_patch: of the test
            patches (default 144: large enough that the zero padding at the borders of a small
            low-resolution input does not dominate the PSNR). n_train, n_test: patches per
            split (defaults 2400, 100).
        seed: crop seed (default 0). limit: keep at most this many patches per split.

    Shape:
        inputs ``(N, 1, patch/r, patch/r)``; targets ``(N, 1, patch, patch)`` (test:
        ``test_patch`` instead of ``patch``).

    >>> d = load_superres(n_train=2, n_test=2)
    >>> d.x_train.shape, d.y_train.shape, d.x_test.shape, d.extra
    (torch.Size([2, 1, 16, 16]), torch.Size([2, 1, 48, 48]), torch.Size([2, 1, 48, 48]), \
{'upscale_factor': 3})
    """
    scale = upscale_factor
    check_int("upscale_factor", scale, 2)
    for name, value in (("patch", patch), ("test_patch", test_patch)):
        if not isinstance(value, int) or value % scale or value < 3 * scale:
            raise ValueError(f"`{name}` (={value!r}) must be a multiple of `upscale_factor` "
                             f"(={scale}), >= {3 * scale}")
    check_limit(limit)
    if limit is not None:
        n_train, n_test = min(n_train, limit), min(n_test, limit)
    rng = np.random.default_rng(seed)
    hr_train = torch.from_numpy(_crops(TRAIN_IMAGES, n_train, patch, rng))
    hr_test = torch.from_numpy(_crops(TEST_IMAGES, n_test, test_patch, rng))
    return TaskData("superres", "superres", downscale(hr_train, scale), hr_train,
                    downscale(hr_test, scale), hr_test, None,
                    {"upscale_factor": scale, "channels": 1, "in_channels": 1},
                    Defaults(60, 32, 2e-3), {"upscale_factor": scale})
