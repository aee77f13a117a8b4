"""The training tasks: what a model's output must look like, its loss and its metrics.

A task turns a batch into a loss and a dict of *sums* (float64 tensors: loss sum, counts,
confusion matrix...), which add up over batches, over an interrupted-and-resumed epoch and over
DDP ranks; :meth:`Task.summarize` turns sums into the reported metrics. Every metric is
"higher is better" except ``loss``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from convzoo.names import renamed_attribute
from convzoo.train.data.base import TaskData
from convzoo.train.metrics import confusion, mean_iou
from convzoo.train.sums import Sums, add_sums, make_sums

__all__ = ["Task", "ClassificationTask", "SegmentationTask", "SuperResTask", "SequenceTask"]


class Task:
    """Base task: a supervised loss on ``model(x)`` vs ``y``, optimized with AdamW.

    Args:
        data: the :class:`TaskData` being trained on.

    Attributes:
        metric: the headline metric (shown in the progress bar, tracked for the best epoch).
        schedule: ``"cosine"`` (annealed to 0 over the run) or ``"constant"``.
    """

    metric = "accuracy"
    schedule = "cosine"

    def __init__(self, data: TaskData) -> None:
        self.data = data

    # -- shapes -----------------------------------------------------------------------------
    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What the model receives for stored inputs ``x`` (default: ``x`` itself)."""
        return x

    def expected_output(self, x: torch.Tensor, y: torch.Tensor) -> tuple[int, ...]:
        """The output shape the task needs for a batch."""
        raise NotImplementedError

    def describe_output(self) -> str:
        """The needed output, in words (for error messages)."""
        raise NotImplementedError

    def configure(self, model_config: dict[str, Any]) -> None:
        """Read what the task needs from the model's config (the GAN's ``nz``)."""

    # -- training ---------------------------------------------------------------------------
    def setup(self, model: nn.Module, device: torch.device, wrap: Any, lr: float) -> None:
        """Build task-owned modules (the GAN's discriminator); nothing for supervised tasks."""

    def optimizer(self, params: Any, lr: float) -> torch.optim.Optimizer:
        """The optimizer of the model's parameters: AdamW, weight decay 1e-4."""
        return torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss of a batch (a mean)."""
        raise NotImplementedError

    def batch_sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> Sums:
        """The sums one batch contributes."""
        raise NotImplementedError

    def train_step(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   optimizer: torch.optim.Optimizer) -> Sums:
        """One optimization step on a batch; returns its sums."""
        out = model(self.inputs(x))
        loss = self.loss(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return self.batch_sums(out.detach(), y, loss.detach())

    @torch.no_grad()
    def evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                 device: torch.device) -> dict[str, float]:
        """Metrics of ``model`` (in eval mode) over a whole split."""
        was_training = model.training
        model.eval()
        total: Sums = {}
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            out = model(self.inputs(xb))
            add_sums(total, self.batch_sums(out, yb, self.loss(out, yb)))
        model.train(was_training)
        return self.summarize(total)

    def summarize(self, sums: Sums) -> dict[str, float]:
        """Reported metrics from accumulated sums."""
        raise NotImplementedError

    def finish(self, model: nn.Module, out: Path | None) -> dict[str, Any]:
        """After training (rank 0): write artifacts; returns extra result fields."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Task-owned state to checkpoint (empty for supervised tasks)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


class ClassificationTask(Task):
    """Cross-entropy on logits ``(N, K)``; metric: accuracy.

    >>> from convzoo.train.data.base import Defaults
    >>> d = TaskData("t", "classification", torch.zeros(2, 1), torch.tensor([0, 1]),
    ...              torch.zeros(2, 1), torch.tensor([0, 1]), 2, {}, Defaults(1, 2, 1e-3))
    >>> t = ClassificationTask(d)
    >>> out = torch.tensor([[2.0, 0.0], [3.0, 0.0]])
    >>> t.summarize(t.batch_sums(out, d.y_train, t.loss(out, d.y_train)))["accuracy"]
    0.5
    """

    metric = "accuracy"

    def expected_output(self, x: torch.Tensor, y: torch.Tensor) -> tuple[int, ...]:
        return (len(x), int(self.data.num_classes or 0))

    def describe_output(self) -> str:
        return f"logits (N, {self.data.num_classes})"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)

    def batch_sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> Sums:
        return make_sums(loss=loss * len(y), correct=(out.argmax(1) == y).sum(), n=len(y))

    def summarize(self, sums: Sums) -> dict[str, float]:
        n = float(sums["n"])
        return {"loss": float(sums["loss"]) / n, "accuracy": float(sums["correct"]) / n}


class SegmentationTask(Task):
    """Per-pixel cross-entropy on logits ``(N, K, H, W)``; metrics: pixel accuracy and mean IoU
    (over the classes present, from the confusion matrix of the whole split)."""

    metric = "mean_iou"

    def expected_output(self, x: torch.Tensor, y: torch.Tensor) -> tuple[int, ...]:
        return (len(x), int(self.data.num_classes or 0), *y.shape[1:])

    def describe_output(self) -> str:
        return f"per-pixel logits (N, {self.data.num_classes}, H, W) at the input resolution"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)

    def batch_sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> Sums:
        k = int(self.data.num_classes or 0)
        return make_sums(loss=loss * len(y), n=len(y), confusion=confusion(out.argmax(1), y, k))

    def summarize(self, sums: Sums) -> dict[str, float]:
        conf = sums["confusion"]
        return {"loss": float(sums["loss"]) / float(sums["n"]),
                "pixel_accuracy": float(conf.diag().sum() / conf.sum()),
                "mean_iou": mean_iou(conf)}


class SuperResTask(Task):
    """MSE between the upscaled output and the high-resolution target; metrics: PSNR of the
    model and of bicubic upscaling (mean over images of per-image PSNR on ``[0, 1]`` with the
    output clamped, ignoring a border of ``scale`` pixels, as is customary).

    The model works on centered images: it reads ``x - 0.5`` and its output plus 0.5 is the
    prediction (ESPCN's tanh features train faster on zero-centered inputs).
    """

    metric = "psnr"
    offset = 0.5

    @property
    def upscale_factor(self) -> int:
        """``r``: the targets are ``r`` times the inputs' size per axis."""
        return int(self.data.extra["upscale_factor"])

    scale = renamed_attribute("scale", "upscale_factor")

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.offset

    def expected_output(self, x: torch.Tensor, y: torch.Tensor) -> tuple[int, ...]:
        return tuple(y.shape)

    def describe_output(self) -> str:
        r = self.upscale_factor
        return f"images upscaled x{r} (N, C, {r}H, {r}W)"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out + self.offset, y)

    def _psnr_sum(self, img: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        s = self.upscale_factor
        diff = (img.clamp(0, 1) - y)[..., s:-s, s:-s]
        mse = diff.double().pow(2).flatten(1).mean(1).clamp_min(1e-12)
        return (10.0 * torch.log10(1.0 / mse)).sum()

    def batch_sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> Sums:
        return make_sums(loss=loss * len(y), n=len(y), psnr=self._psnr_sum(out + self.offset, y))

    @torch.no_grad()
    def evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                 device: torch.device) -> dict[str, float]:
        from convzoo.train.data.superres import bicubic_upscale

        result = super().evaluate(model, x, y, batch_size, device)
        base = self._psnr_sum(bicubic_upscale(x, self.upscale_factor), y) / len(y)
        result["bicubic_psnr"] = float(base)
        result["psnr_gain"] = result["psnr"] - result["bicubic_psnr"]
        return result

    def summarize(self, sums: Sums) -> dict[str, float]:
        n = float(sums["n"])
        return {"loss": float(sums["loss"]) / n, "psnr": float(sums["psnr"]) / n}


class SequenceTask(Task):
    """Next-step prediction of quantized sequences (WaveNet): the model reads the one-hot
    codes ``(N, Q, T)`` and outputs logits ``(N, Q, T)`` for the next code at every step (a
    causal model must not see the future); loss: cross-entropy; metric: next-step accuracy,
    reported beside the accuracy of repeating the current code (``repeat_accuracy``).
    """

    metric = "accuracy"

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        q = int(self.data.num_classes or 0)
        return F.one_hot(x, q).transpose(1, 2).float()  # (N, T) codes -> (N, Q, T)

    def expected_output(self, x: torch.Tensor, y: torch.Tensor) -> tuple[int, ...]:
        return (len(x), int(self.data.num_classes or 0), x.shape[-1])

    def describe_output(self) -> str:
        return f"next-step logits (N, {self.data.num_classes}, T)"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)

    def batch_sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> Sums:
        return make_sums(loss=loss * y.numel(), correct=(out.argmax(1) == y).sum(), n=y.numel())

    @torch.no_grad()
    def evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                 device: torch.device) -> dict[str, float]:
        result = super().evaluate(model, x, y, batch_size, device)
        # the trivial predictor "the next code equals the current one", for comparison
        result["repeat_accuracy"] = float((x == y).double().mean())
        return result

    def summarize(self, sums: Sums) -> dict[str, float]:
        n = float(sums["n"])
        return {"loss": float(sums["loss"]) / n, "accuracy": float(sums["correct"]) / n}
