"""Generated video clips of moving digits: classify the direction of motion.

Each clip shows one scikit-learn digit (8x8) on a ``size x size`` canvas moving at 1 or 2
pixels per frame right, left, down or up, wrapping around the edges (so the position in a
single frame says nothing about the direction: only motion does). Chance accuracy is 25 %.
"""

from __future__ import annotations

import numpy as np
import torch

from convzoo.train.data.base import Defaults, TaskData, check_int, check_limit
from convzoo.train.data.digits import digit_images

__all__ = ["DIRECTIONS", "load_moving_digits"]

#: Class index -> direction, with its (dy, dx) unit step.
DIRECTIONS = {0: ("right", (0, 1)), 1: ("left", (0, -1)), 2: ("down", (1, 0)),
              3: ("up", (-1, 0))}


def load_moving_digits(frames: int = 8, size: int = 16, n_train: int = 1200, n_test: int = 300,
                       seed: int = 0, limit: int | None = None) -> TaskData:
    """Moving-digit clips (generated, seeded).

    Args:
        frames: clip length ``T`` (default 8). size: frame side (default 16, >= 8).
        n_train, n_test: clips per split (defaults 1200, 300). seed: generator seed.
        limit: keep at most this many clips per split.

    Shape:
        inputs ``(N, 1, T, size, size)``; targets ``(N,)`` direction classes in ``0..3``.

    >>> d = load_moving_digits(n_train=4, n_test=2)
    >>> d.x_train.shape, d.num_classes
    (torch.Size([4, 1, 8, 16, 16]), 4)
    """
    check_int("frames", frames, 2)
    check_int("size", size, 8)
    check_limit(limit)
    if limit is not None:
        n_train, n_test = min(n_train, limit), min(n_test, limit)
    rng = np.random.default_rng(seed)
    digits = digit_images()[0][:, 0].numpy()  # (1797, 8, 8)
    n = n_train + n_test
    clips = np.zeros((n, 1, frames, size, size), np.float32)
    labels = rng.integers(0, 4, n)
    for i in range(n):
        canvas = np.zeros((size, size), np.float32)
        canvas[:8, :8] = digits[rng.integers(len(digits))]
        y0, x0 = rng.integers(0, size, 2)
        speed = int(rng.integers(1, 3))
        dy, dx = DIRECTIONS[int(labels[i])][1]
        for t in range(frames):
            shift = (int(y0 + dy * speed * t), int(x0 + dx * speed * t))
            clips[i, 0, t] = np.roll(canvas, shift, axis=(0, 1))
    clips += rng.normal(0.0, 0.1, clips.shape).astype(np.float32)
    x, y = torch.from_numpy(clips), torch.from_numpy(labels).long()
    return TaskData("moving_digits", "classification", x[:n_train], y[:n_train], x[n_train:],
                    y[n_train:], 4, {"num_classes": 4, "in_channels": 1,
                                                   "clip_shape": (frames, size, size)},
                    Defaults(12, 32, 3e-3), {"frames": frames})
