"""scikit-image's ``lfw_subset``: 100 faces and 100 non-faces, 25x25 grayscale (bundled).

A binary classification (label 1: face, 0: not a face), resized to 16x16 by default so the
same small CNNs as for the digits fit.
"""

from __future__ import annotations

import torch

from convzoo.train.data.base import Defaults, TaskData, check_int, check_limit, resize, split

__all__ = ["load_lfw_faces"]


def load_lfw_faces(size: int = 16, seed: int = 0, limit: int | None = None) -> TaskData:
    """Faces vs non-faces, 75 % train / 25 % test.

    Args:
        size: side of the resized images (default 16). seed: split seed (default 0).
        limit: keep at most this many samples per split (default all).

    Shape:
        inputs ``(N, 1, size, size)`` standardized; targets ``(N,)`` in ``{0, 1}``.

    >>> d = load_lfw_faces()
    >>> d.x_train.shape, d.x_test.shape, d.num_classes
    (torch.Size([150, 1, 16, 16]), torch.Size([50, 1, 16, 16]), 2)
    """
    check_int("size", size, 8)
    check_limit(limit)
    from skimage.data import lfw_subset

    images = torch.tensor(lfw_subset(), dtype=torch.float32).unsqueeze(1)  # (200, 1, 25, 25)
    labels = torch.cat([torch.ones(100), torch.zeros(100)]).long()  # faces first
    x_train, y_train, x_test, y_test = split(resize(images, size), labels, 0.25, seed, limit)
    mean, std = x_train.mean(), x_train.std().clamp_min(1e-6)
    return TaskData("lfw_faces", "classification", (x_train - mean) / std, y_train,
                    (x_test - mean) / std, y_test, 2, {"num_classes": 2, "in_channels": 1},
                    Defaults(30, 32, 3e-3))
