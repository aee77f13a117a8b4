"""The offline data sets of ``convzoo train`` (nothing is ever downloaded).

``load_dataset(name, **options)`` returns a :class:`TaskData`; ``available()`` lists them.

>>> sorted(available())[:3]
['digits', 'digits_gan', 'lfw_faces']
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from convzoo.train.data.base import TASKS, Defaults, TaskData
from convzoo.train.data.digits import load_digits, load_digits_gan
from convzoo.train.data.lfw import load_lfw_faces
from convzoo.train.data.moving_digits import load_moving_digits
from convzoo.train.data.sequences import load_sequences
from convzoo.train.data.shapes import load_shapes
from convzoo.train.data.superres import load_superres

__all__ = ["DATASETS", "TASKS", "Defaults", "TaskData", "available", "load_dataset"]

#: name -> (loader, one-line description)
DATASETS: dict[str, tuple[Callable[..., TaskData], str]] = {
    "digits": (load_digits, "scikit-learn digits, 10 classes, resized to 16x16"),
    "lfw_faces": (load_lfw_faces, "scikit-image lfw_subset: faces vs non-faces, 16x16"),
    "shapes": (load_shapes, "generated scenes of circles/squares/triangles with masks, 32x32"),
    "moving_digits": (load_moving_digits, "generated 8-frame clips of a digit moving in one of "
                      "4 directions, 16x16"),
    "sequences": (load_sequences, "generated sums of sines, mu-law quantized, next-step "
                  "prediction"),
    "superres": (load_superres, "x3 super-resolution pairs from scikit-image's photographs"),
    "digits_gan": (load_digits_gan, "scikit-learn digits in [-1, 1] at 32x32 for a DCGAN"),
}


def available() -> dict[str, str]:
    """Every data set with its one-line description."""
    return {name: desc for name, (_, desc) in DATASETS.items()}


def load_dataset(name: str, **options: Any) -> TaskData:
    """Load data set ``name``; ``options`` are its loader's keyword arguments (``seed``,
    ``limit``, ``size``...).

    Raises:
        ValueError: unknown name (listing the data sets) or option (listing the valid ones).

    >>> load_dataset("mnist")
    Traceback (most recent call last):
    ...
    ValueError: `data` (='mnist') must be one of: digits, lfw_faces, shapes, moving_digits, \
sequences, superres, digits_gan
    """
    if name not in DATASETS:
        raise ValueError(f"`data` (={name!r}) must be one of: {', '.join(DATASETS)}")
    loader = DATASETS[name][0]
    valid = list(inspect.signature(loader).parameters)
    renamed = getattr(loader, "__renamed__", {})  # old option names, read with a warning
    unknown = sorted(set(options) - set(valid) - set(renamed))
    if unknown:
        raise ValueError(f"unknown option {', '.join(unknown)} for data set {name!r}; "
                         f"valid: {', '.join(valid)}")
    return loader(**options)
