"""scikit-learn's handwritten digits (1,797 8x8 images, bundled: nothing is downloaded).

``digits``: classification, resized for small CNNs (default 16x16), standardized.
``digits_gan``: the same images resized to 32x32 and scaled to ``[-1, 1]`` (a DCGAN's tanh
range), for training a generator; the targets are the digit labels (unused by the GAN).
"""

from __future__ import annotations

import torch

from convzoo.train.data.base import Defaults, TaskData, check_int, check_limit, resize, split

__all__ = ["digit_images", "load_digits", "load_digits_gan"]


def digit_images() -> tuple[torch.Tensor, torch.Tensor]:
    """All digits as ``(1797, 1, 8, 8)`` float images in ``[0, 1]`` and ``(1797,)`` labels.

    >>> x, y = digit_images()
    >>> x.shape, int(y.max()), float(x.max())
    (torch.Size([1797, 1, 8, 8]), 9, 1.0)
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return x, torch.tensor(bunch.target, dtype=torch.long)


def _check_size(size: int, minimum: int) -> None:
    check_int("size", size, minimum)


def load_digits(size: int = 16, seed: int = 0, limit: int | None = None) -> TaskData:
    """Digits classification: 80 % train, 20 % test (stratified by a seeded shuffle).

    Args:
        size: side of the resized images (default 16). seed: split seed (default 0).
        limit: keep at most this many samples per split (default all).

    Shape:
        inputs ``(N, 1, size, size)`` standardized (mean 0, std 1 over the train split);
        targets ``(N,)`` in ``0..9``.

    >>> d = load_digits(limit=5)
    >>> d.x_train.shape, d.num_classes
    (torch.Size([5, 1, 16, 16]), 10)
    """
    _check_size(size, 8)
    check_limit(limit)
    x, y = digit_images()
    x = resize(x, size)
    x_train, y_train, x_test, y_test = split(x, y, 0.2, seed, limit)
    mean, std = x_train.mean(), x_train.std().clamp_min(1e-6)
    return TaskData("digits", "classification", (x_train - mean) / std, y_train,
                    (x_test - mean) / std, y_test, 10,
                    {"num_classes": 10, "in_channels": 1}, Defaults(30, 64, 3e-3))


def load_digits_gan(size: int = 32, seed: int = 0, limit: int | None = None) -> TaskData:
    """Digits for a DCGAN generator: images in ``[-1, 1]`` (tanh range), 90 % / 10 % split.

    Args:
        size: image side (default 32, a DCGAN ``image_size``). seed, limit: as
            :func:`load_digits`.

    Shape:
        inputs ``(N, 1, size, size)`` in ``[-1, 1]``; targets ``(N,)`` digit labels.

    >>> d = load_digits_gan(limit=3)
    >>> d.x_train.shape, d.task
    (torch.Size([3, 1, 32, 32]), 'generation')
    """
    _check_size(size, 8)
    check_limit(limit)
    x, y = digit_images()
    x = resize(x, size).clamp(0, 1) * 2 - 1
    x_train, y_train, x_test, y_test = split(x, y, 0.1, seed, limit)
    return TaskData("digits_gan", "generation", x_train, y_train, x_test, y_test, None,
                    {"out_channels": 1, "image_size": size}, Defaults(20, 64, 2e-4))
