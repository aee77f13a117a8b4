"""convzoo.train: offline data sets, a resumable training loop, atomic checkpoints, DDP.

``train(TrainConfig(model, data, ...))`` trains a zoo model on an offline data set; the
``convzoo train`` command wraps it.
"""

from convzoo.train.checkpoint import load_checkpoint, save_checkpoint
from convzoo.train.data import DATASETS, TaskData, available, load_dataset
from convzoo.train.loop import CHECKPOINT, TrainConfig, TrainResult, train

__all__ = ["CHECKPOINT", "DATASETS", "TaskData", "TrainConfig", "TrainResult", "available",
           "load_checkpoint", "load_dataset", "save_checkpoint", "train"]
