"""Metrics of the training tasks and the metrics log (CSV and JSON) of a run.

Accuracy, mean intersection-over-union and PSNR are computed from accumulated counts/sums, so
evaluating in batches gives exactly the number a single pass would.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import torch

from convzoo.train.checkpoint import atomic_write_bytes

__all__ = ["confusion", "mean_iou", "psnr", "MetricsLog"]


def confusion(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Confusion matrix ``C[t, p]`` (counts of target class t predicted as p), int64.

    Shape:
        ``pred``, ``target``: any shape, same number of elements -> ``(K, K)``.

    >>> confusion(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), 2).tolist()
    [[1, 1], [0, 1]]
    """
    idx = target.reshape(-1).long() * num_classes + pred.reshape(-1).long()
    return torch.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def mean_iou(conf: torch.Tensor) -> float:
    """Mean over classes of ``TP / (TP + FP + FN)`` from a confusion matrix; classes absent from
    both targets and predictions are left out of the mean.

    >>> mean_iou(torch.tensor([[3, 1], [0, 4]]))
    0.775
    """
    tp = conf.diag().double()
    union = conf.sum(0).double() + conf.sum(1).double() - tp
    present = union > 0
    return float((tp[present] / union[present]).mean()) if present.any() else float("nan")


def psnr(mse: float, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(peak^2 / mse)``.

    >>> round(psnr(0.001), 3)
    30.0
    """
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


class MetricsLog:
    """Rows of per-epoch metrics, written as ``metrics.csv`` and ``metrics.json`` in a folder
    (atomically, after every epoch; the JSON also holds the run's config and final result).

    Args:
        rows: earlier rows (restored from a checkpoint), default none.

    >>> log = MetricsLog()
    >>> log.append({"epoch": 1, "loss": 0.5})
    >>> log.to_csv().splitlines()
    ['epoch,loss', '1,0.5']
    """

    def __init__(self, rows: list[dict[str, Any]] | None = None) -> None:
        self.rows: list[dict[str, Any]] = list(rows or [])

    def append(self, row: dict[str, Any]) -> None:
        """Add one epoch's row."""
        self.rows.append(dict(row))

    def to_csv(self) -> str:
        """The rows as CSV (columns: the union of the keys, in first-seen order)."""
        columns: list[str] = []
        for row in self.rows:
            columns += [k for k in row if k not in columns]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return buf.getvalue()

    def write(self, folder: Path, meta: dict[str, Any]) -> None:
        """Write ``metrics.csv`` and ``metrics.json`` (``{"meta": meta, "epochs": rows}``)."""
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / "metrics.csv", self.to_csv().encode())
        text = json.dumps({"meta": meta, "epochs": self.rows}, indent=2, default=str)
        atomic_write_bytes(folder / "metrics.json", (text + "\n").encode())
