"""What every offline data set of ``convzoo train`` returns: :class:`TaskData`.

A data set is a pair of in-memory tensor splits (inputs, targets) plus what the training loop
needs to pick the task, adapt the model's config and choose default hyperparameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from convzoo.arithmetic import check_int

__all__ = ["TASKS", "TaskData", "Defaults", "split", "resize", "check_int", "check_limit"]

#: The closed set of tasks a data set can pose.
TASKS = ("classification", "segmentation", "superres", "sequence", "generation")


@dataclass(frozen=True)
class Defaults:
    """Default hyperparameters of a data set (used when a flag is not given).

    Args:
        epochs: passes over the training split. batch_size: samples per step (per process).
        lr: peak learning rate of AdamW (cosine-annealed to 0 over the run).
    """

    epochs: int
    batch_size: int
    lr: float


@dataclass(frozen=True)
class TaskData:
    """An offline data set, already split.

    Args:
        name: the data set name. task: one of :data:`TASKS`.
        x_train, y_train, x_test, y_test: the splits (first axis: samples).
        num_classes: classes of the targets (classification, segmentation, sequence), or None.
        model_config: fields set on a zoo model's config when the config has them (e.g.
            ``num_classes``, ``in_channels``); fields the config lacks are ignored.
        defaults: default epochs, batch size and learning rate.
        extra: task parameters (e.g. ``scale`` of super-resolution pairs).

    Shape:
        ``x_*``: ``(N, *sample_shape)``; ``y_*``: ``(N, *target_shape)``.

    >>> d = TaskData("toy", "classification", torch.zeros(4, 1, 2, 2), torch.zeros(4).long(),
    ...              torch.zeros(2, 1, 2, 2), torch.zeros(2).long(), 2, {}, Defaults(1, 2, 1e-3))
    >>> d.sample_shape, len(d.x_train)
    ((1, 2, 2), 4)
    """

    name: str
    task: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int | None
    model_config: dict[str, Any]
    defaults: Defaults
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"`task` (={self.task!r}) must be one of: {', '.join(TASKS)}")

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one input sample (without the batch axis)."""
        return tuple(self.x_train.shape[1:])


def check_limit(limit: int | None) -> None:
    """Validate the ``limit`` argument of every loader (None or a positive int)."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"`limit` (={limit!r}) must be None or a positive int")


def split(x: torch.Tensor, y: torch.Tensor, test_fraction: float, seed: int,
          limit: int | None = None) -> tuple[torch.Tensor, ...]:
    """Shuffle with ``seed`` and split into ``(x_train, y_train, x_test, y_test)``.

    Args:
        x, y: inputs and targets (same first axis). test_fraction: share of the test split.
        seed: shuffling seed. limit: keep at most this many samples in each split.

    Shape:
        ``N_test = round(N * test_fraction)``, ``N_train = N - N_test`` (before ``limit``).

    >>> [t.shape[0] for t in split(torch.arange(10), torch.arange(10), 0.2, 0)]
    [8, 8, 2, 2]
    """
    check_limit(limit)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(x)))
    n_test = round(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    if limit is not None:
        train, test = train[:limit], test[:limit]
    return x[train], y[train], x[test], y[test]


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (antialiased) resize of ``(N, C, H, W)`` images to ``size x size``.

    >>> resize(torch.zeros(2, 1, 8, 8), 16).shape
    torch.Size([2, 1, 16, 16])
    """
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)
