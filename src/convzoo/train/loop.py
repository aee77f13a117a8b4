"""The training loop: ``train(TrainConfig(...))``.

Reproducible and resumable: with ``deterministic=True`` (the default) the run seeds torch,
NumPy and Python, enables ``torch.use_deterministic_algorithms`` and orders every epoch by a
:class:`~torch.utils.data.DistributedSampler` seeded with ``seed + epoch``. A checkpoint
(``last.pt`` in ``out``) holds the model, optimizer, scheduler, task state, RNG states, the
position (epoch, step in the epoch, global step), the running sums of the epoch and the
metrics history, so ``resume=True`` continues an interrupted run, even one killed mid-epoch,
to the very same weights an uninterrupted run reaches.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import DistributedSampler

from convzoo.paths import check_run_dir
from convzoo.train.build import build_model, current_names, probe
from convzoo.train.checkpoint import (
    check_matches,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from convzoo.train.data import load_dataset
from convzoo.train.distributed import Dist, setup, teardown
from convzoo.train.factory import make_task
from convzoo.train.metrics import MetricsLog
from convzoo.train.progress import Progress
from convzoo.train.sums import Sums, add_sums
from convzoo.train.tasks import Task

__all__ = ["TrainConfig", "TrainResult", "train", "CHECKPOINT"]

#: File name of the checkpoint inside ``out``.
CHECKPOINT = "last.pt"


def _positive_or_none(name: str, value: Any, kind: type = int) -> None:
    ok = value is None or (isinstance(value, kind) and not isinstance(value, bool) and value > 0)
    if kind is float:
        ok = value is None or (isinstance(value, int | float) and not isinstance(value, bool)
                               and math.isfinite(value) and value > 0)
    if not ok:
        raise ValueError(f"`{name}` (={value!r}) must be a positive {kind.__name__}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    Args:
        model: a zoo name (``convzoo.models.create``) or a no-argument factory of an nn.Module.
        data: a data set name (``convzoo.train.data.available()``).
        epochs, batch_size, lr: default: the data set's (batch size is per process).
        out: folder for ``last.pt``, ``metrics.csv``, ``metrics.json`` (and artifacts such as
            ``samples.png``); None writes nothing (no checkpoints).
        resume: continue from ``out/last.pt`` (default False: start afresh). ``epochs`` may
            differ from the checkpoint's (not below the epochs it completed): the run goes on
            to the new count, and a cosine schedule is recomputed for the new total (from the
            resume point on, the learning rate a run planned with that many epochs has).
        force: start afresh in an ``out`` that already holds files (default False: such a
            folder is refused, so a previous run is never overwritten by accident).
        seed: seeds the model's initialization, the sampler and the RNGs (default 0).
        model_config: zoo config fields overriding the data set's and the defaults.
        data_config: options of the data set loader (e.g. ``{"size": 24}``).
        limit: keep at most this many samples per split (tiny runs; default all).
        checkpoint_every: also checkpoint every this many steps (default 0: at epoch ends).
        deterministic: deterministic algorithms (default True).
        device: ``"cpu"``, ``"cuda"`` or None (CUDA if available).
        progress: show the progress bar and per-epoch lines on stderr (default True).
        threads: torch intra-op threads for this run (default None: torch's choice); 1 is
            often fastest for small models on a busy CPU.
    """

    model: str | Callable[[], nn.Module]
    data: str
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    out: str | Path | None = None
    resume: bool = False
    seed: int = 0
    model_config: dict[str, Any] = field(default_factory=dict)
    data_config: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None
    checkpoint_every: int = 0
    deterministic: bool = True
    device: str | None = None
    progress: bool = True
    threads: int | None = None
    force: bool = False

    def __post_init__(self) -> None:
        _positive_or_none("threads", self.threads)
        _positive_or_none("epochs", self.epochs)
        _positive_or_none("batch_size", self.batch_size)
        _positive_or_none("lr", self.lr, float)
        _positive_or_none("limit", self.limit)
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise ValueError(f"`checkpoint_every` (={self.checkpoint_every!r}) must be an int "
                             ">= 0")
        if self.resume and self.out is None:
            raise ValueError("`resume` (=True) needs `out`, the folder holding the checkpoint")
        if self.out is not None:  # before any work: a bad folder is a one-line error now
            check_run_dir(self.out, "out", self.resume, self.force)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: the trained module (unwrapped from DDP). final: the last epoch's metrics
            (``train_*`` and ``test_*``). history: one row per epoch. wall_s: training seconds
            (summed over resumed segments). out: the output folder or None.
        steps: optimizer steps taken in total. rank: this process's rank (0 unless DDP; only
            rank 0 evaluates, so other ranks' rows hold train metrics only).
    """

    model: nn.Module
    final: dict[str, Any]
    history: list[dict[str, Any]]
    wall_s: float
    out: Path | None
    steps: int
    rank: int = 0


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _batches(sampler: DistributedSampler, epoch: int, batch_size: int) -> list[list[int]]:
    """This rank's batches of ``epoch`` (the last, partial batch dropped when a full one
    exists, so BatchNorm never sees a batch of one)."""
    sampler.set_epoch(epoch)
    idx = list(sampler)
    full = len(idx) // batch_size
    cut = full * batch_size if full else len(idx)
    return [idx[i:i + batch_size] for i in range(0, cut, batch_size)]


def _reduce(sums: Sums, d: Dist) -> Sums:
    if not d.distributed:
        return sums
    out = {}
    for k, v in sorted(sums.items()):
        t = v.to(d.device)
        dist.all_reduce(t)
        out[k] = t.cpu()
    return out


class _Run:
    """State of one run (kept together so that checkpoints capture all of it)."""

    def __init__(self, cfg: TrainConfig, d: Dist) -> None:
        self.cfg, self.d = cfg, d
        data_options = {"seed": cfg.seed, **cfg.data_config}
        if cfg.limit is not None:
            data_options["limit"] = cfg.limit
        self.data = load_dataset(cfg.data, **data_options)
        defaults = self.data.defaults
        self.epochs = cfg.epochs or defaults.epochs
        self.batch_size = cfg.batch_size or defaults.batch_size
        self.lr = float(cfg.lr or defaults.lr)
        self.task: Task = make_task(self.data)
        _seed_all(cfg.seed)
        model, self.name, self.config = build_model(cfg.model, self.data, cfg.model_config)
        self.task.configure(self.config)
        probe(model, self.name, self.task, self.data)
        self.model = model.to(d.device)
        wrap = self._wrap
        self.net = wrap(self.model)
        self.task.setup(self.model, d.device, wrap, self.lr)
        self.opt = self.task.optimizer(self.model.parameters(), self.lr)
        self.sampler = DistributedSampler(
            range(len(self.data.x_train)), num_replicas=d.world_size, rank=d.rank,
            shuffle=True, seed=cfg.seed, drop_last=False)
        self.steps_per_epoch = len(_batches(self.sampler, 0, self.batch_size))
        total = max(self.epochs * self.steps_per_epoch, 1)
        if self.task.schedule == "cosine":
            self.sched: Any = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=total)
        else:
            self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda _: 1.0)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.sums: Sums = {}
        self.log = MetricsLog()
        self.wall_s = 0.0
        self.out = Path(cfg.out) if cfg.out is not None else None

    def _wrap(self, module: nn.Module) -> nn.Module:
        if not self.d.distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.d.device.index] if self.d.device.type == "cuda" else None
        return DDP(module, device_ids=ids)

    # -- checkpoints -----------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed by this run."""
        return {"model": self.name, "model_config": self.config, "data": self.data.name,
                "data_config": dict(self.cfg.data_config), "limit": self.cfg.limit,
                "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "seed": self.cfg.seed, "world_size": self.d.world_size}

    def save(self) -> None:
        if self.out is None or not self.d.is_main:
            return
        save_checkpoint(self.out / CHECKPOINT, {
            "meta": self.meta(), "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
            "task": self.task.state_dict(), "rng": rng_state(), "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
            "sums": self.sums, "history": self.log.rows, "wall_s": self.wall_s,
        })

    def restore(self) -> None:
        path = Path(self.cfg.out or ".") / CHECKPOINT
        state = load_checkpoint(path)
        stored = current_names(state.get("meta", {}))  # a run saved before a rename resumes
        check_matches(path, stored, {k: v for k, v in self.meta().items() if k != "epochs"})
        done = int(state.get("epoch", 0))
        if self.epochs < done:
            raise ValueError(f"`epochs` (={self.epochs}) must be at least the {done} epochs "
                             f"the checkpoint '{path}' completed")
        try:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            self.sched.load_state_dict(state["scheduler"])
            self.task.load_state_dict(state["task"])
            set_rng_state(state["rng"])
            self.epoch, self.step_in_epoch = int(state["epoch"]), int(state["step_in_epoch"])
            self.global_step = int(state["global_step"])
            self.sums = dict(state["sums"])
            self.log = MetricsLog(state["history"])
            self.wall_s = float(state["wall_s"])
            if stored.get("epochs") != self.epochs:
                self._extend_schedule()
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise ValueError(f"checkpoint '{path}' does not fit this run's model/optimizer "
                             f"({type(e).__name__}: {first})") from None

    def _extend_schedule(self) -> None:
        """After resuming with another epoch count: the cosine schedule's horizon becomes the
        new total, and the learning rate its closed form at the current step (the scheduler's
        recursive update then follows the new curve)."""
        if not isinstance(self.sched, torch.optim.lr_scheduler.CosineAnnealingLR):
            return  # a constant schedule does not depend on the length of the run
        total = max(self.epochs * self.steps_per_epoch, 1)
        self.sched.T_max = total
        t, low = self.sched.last_epoch, self.sched.eta_min
        for group, base in zip(self.opt.param_groups, self.sched.base_lrs):
            group["lr"] = low + (base - low) * (1 + math.cos(math.pi * t / total)) / 2

    # -- training --------------------------------------------------------------------------
    def _epoch_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.data.x_train, self.data.y_train
        for idx in _batches(self.sampler, self.epoch, self.batch_size)[self.step_in_epoch:]:
            index = torch.tensor(idx)
            yield x[index].to(self.d.device), y[index].to(self.d.device)

    def run(self, bar: Progress) -> None:
        every = self.cfg.checkpoint_every
        while self.epoch < self.epochs:
            bar.start_epoch(self.epoch, self.epochs, self.steps_per_epoch, self.step_in_epoch)
            start_wall, seen = self.wall_s, 0
            for x, y in self._epoch_batches():
                t0 = time.perf_counter()
                add_sums(self.sums, self.task.train_step(self.net, x, y, self.opt))
                self.sched.step()
                self.wall_s += time.perf_counter() - t0
                self.step_in_epoch += 1
                self.global_step += 1
                seen += len(x) * self.d.world_size
                running = self.task.summarize(self.sums)
                throughput = seen / max(self.wall_s - start_wall, 1e-9)
                bar.advance(running["loss"], self.task.metric, running.get(self.task.metric),
                            throughput)
                if every and self.global_step % every == 0 and (
                        self.step_in_epoch < self.steps_per_epoch):
                    self.save()
            self._end_epoch(seen / max(self.wall_s - start_wall, 1e-9) if seen else 0.0, bar)

    def _sync_buffers(self) -> None:
        """Give every rank rank 0's buffers (BatchNorm running statistics): DDP broadcasts
        them before each forward, so after the last step each rank holds its own update."""
        if self.d.distributed:
            for module in (self.model, getattr(self.task, "disc", None)):
                for buf in (module.buffers() if module is not None else ()):
                    dist.broadcast(buf, 0)

    def _end_epoch(self, throughput: float, bar: Progress) -> None:
        self._sync_buffers()
        train_metrics = self.task.summarize(_reduce(self.sums, self.d))
        row: dict[str, Any] = {"epoch": self.epoch + 1, "step": self.global_step}
        row.update({f"train_{k}": v for k, v in train_metrics.items()})
        if self.d.is_main:
            test = self.task.evaluate(self.model, self.data.x_test, self.data.y_test,
                                      max(self.batch_size, 64), self.d.device)
            row.update({f"test_{k}": v for k, v in test.items()})
        row["lr"] = self.sched.get_last_lr()[0]
        row["samples_per_s"] = throughput
        row["wall_s"] = self.wall_s
        self.log.append(row)
        bar.end_epoch(row, self.task.metric)
        self.epoch, self.step_in_epoch, self.sums = self.epoch + 1, 0, {}
        self.save()
        if self.out is not None and self.d.is_main:
            self.log.write(self.out, self.result_meta())

    def result_meta(self, **extra: Any) -> dict[str, Any]:
        return {**self.meta(), "model_config": self.config, "task": self.data.task,
                "metric": self.task.metric, "train_samples": len(self.data.x_train),
                "test_samples": len(self.data.x_test), **extra}


def train(config: TrainConfig) -> TrainResult:
    """Train ``config.model`` on ``config.data``; see :class:`TrainConfig`.

    Raises:
        ValueError: (one line) unknown model or data set, bad config values, a model that
            cannot take the data set's input or does not output what its task needs, a
            missing, corrupt or mismatched checkpoint on resume.

    >>> r = train(TrainConfig("digits_separable", "digits", epochs=1, batch_size=8, limit=16,
    ...                       model_config={"base_channels": 4}, progress=False))
    >>> r.steps, sorted(r.final)[:2]
    (2, ['epoch', 'lr'])
    """
    d = setup(config.device)
    previous = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    try:
        torch.use_deterministic_algorithms(config.deterministic)
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        run = _Run(config, d)
        if config.resume:
            run.restore()
        elif run.out is not None and d.is_main:
            (run.out / CHECKPOINT).unlink(missing_ok=True)
        bar = Progress(enabled=config.progress and d.is_main, stream=sys.stderr)
        with bar:
            run.run(bar)
        extra: dict[str, Any] = {}
        if d.is_main:
            extra = run.task.finish(run.model, run.out)
        final = dict(run.log.rows[-1]) if run.log.rows else {}
        final.update(extra)
        if run.out is not None and d.is_main:
            run.log.write(run.out, run.result_meta(final=final, wall_s=run.wall_s))
        return TrainResult(run.model, final, run.log.rows, run.wall_s, run.out, run.global_step,
                           d.rank)
    finally:
        torch.use_deterministic_algorithms(previous)
        torch.set_num_threads(threads)
        teardown(d)

