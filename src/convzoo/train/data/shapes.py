"""Generated segmentation scenes: circles, squares and triangles with per-pixel masks.

Every scene is a noisy grayscale background with 1 to 3 shapes of random size, position and
brightness (later shapes occlude earlier ones; the mask follows). Brightness does not tell the
classes apart, only the form does, so a network must look at shape (U-Net, DeepLab).
Classes: 0 background, 1 circle, 2 square, 3 triangle.
"""

from __future__ import annotations

import numpy as np
import torch

from convzoo.train.data.base import Defaults, TaskData, check_int, check_limit

__all__ = ["CLASSES", "scene", "load_shapes"]

CLASSES = ("background", "circle", "square", "triangle")


def _shape_mask(kind: int, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float,
                r: float) -> np.ndarray:
    if kind == 1:
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if kind == 2:
        return (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
    # upward triangle: apex at the top, base at the bottom
    top, bottom = cy - r, cy + r * 0.8
    half = (yy - top) / (bottom - top) * r
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)


def scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One scene: an image ``(size, size)`` float32 and its mask ``(size, size)`` int64.

    >>> img, mask = scene(np.random.default_rng(0), 32)
    >>> img.shape, mask.dtype, int(mask.max()) <= 3
    ((32, 32), dtype('int64'), True)
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    image = np.full((size, size), rng.uniform(0.0, 0.35), np.float32)
    mask = np.zeros((size, size), np.int64)
    for _ in range(rng.integers(1, 4)):
        kind = int(rng.integers(1, 4))
        r = rng.uniform(size * 0.12, size * 0.28)
        cy, cx = rng.uniform(r, size - r, 2)
        m = _shape_mask(kind, yy, xx, cy, cx, r)
        image[m] = rng.uniform(0.55, 1.0)
        mask[m] = kind
    image += rng.normal(0.0, 0.06, image.shape).astype(np.float32)
    return image, mask


def load_shapes(size: int = 32, n_train: int = 1200, n_test: int = 200, seed: int = 0,
                limit: int | None = None) -> TaskData:
    """Segmentation scenes (generated, seeded: the same arguments give the same tensors).

    Args:
        size: image side (default 32). n_train, n_test: scenes per split (defaults 1200, 200).
        seed: generator seed (default 0). limit: keep at most this many scenes per split.

    Shape:
        inputs ``(N, 1, size, size)``; targets ``(N, size, size)`` class indices in ``0..3``.

    >>> d = load_shapes(size=16, n_train=4, n_test=2)
    >>> d.x_train.shape, d.y_train.shape, d.num_classes
    (torch.Size([4, 1, 16, 16]), torch.Size([4, 16, 16]), 4)
    """
    check_int("size", size, 8)
    check_limit(limit)
    if limit is not None:
        n_train, n_test = min(n_train, limit), min(n_test, limit)
    rng = np.random.default_rng(seed)
    pairs = [scene(rng, size) for _ in range(n_train + n_test)]
    x = torch.from_numpy(np.stack([p[0] for p in pairs])).unsqueeze(1)
    y = torch.from_numpy(np.stack([p[1] for p in pairs]))
    return TaskData("shapes", "segmentation", x[:n_train], y[:n_train], x[n_train:],
                    y[n_train:], len(CLASSES), {"num_classes": len(CLASSES), "in_channels": 1},
                    Defaults(25, 16, 3e-3))
