"""``make_task``: the task object of a data set (supervised tasks or the GAN).

In a module of its own so that the task modules do not import each other: ``tasks`` holds
the base class and the supervised tasks, ``gan`` the GAN built on that base class, and this
module picks one of them.
"""

from __future__ import annotations

from convzoo.train.data.base import TaskData
from convzoo.train.gan import GANTask
from convzoo.train.tasks import (
    ClassificationTask,
    SegmentationTask,
    SequenceTask,
    SuperResTask,
    Task,
)

__all__ = ["make_task", "TASKS"]

#: ``TaskData.task`` -> the task class training it.
TASKS: dict[str, type[Task]] = {
    "classification": ClassificationTask, "segmentation": SegmentationTask,
    "superres": SuperResTask, "sequence": SequenceTask, "generation": GANTask,
}


def make_task(data: TaskData) -> Task:
    """The task object for ``data.task``.

    >>> from convzoo.train.data import load_dataset
    >>> type(make_task(load_dataset("digits", limit=2))).__name__
    'ClassificationTask'
    """
    return TASKS[data.task](data)
