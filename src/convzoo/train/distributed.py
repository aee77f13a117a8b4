"""DistributedDataParallel plumbing: the process group from torchrun's environment, the
``torchrun`` command line that ``convzoo train --nproc N`` runs, and rank helpers.

A process is distributed when torchrun set ``WORLD_SIZE > 1`` in its environment; it then
joins the default process group (``gloo`` on CPU, ``nccl`` on CUDA GPUs), each rank reads its
own shard of every epoch through a :class:`~torch.utils.data.DistributedSampler`, gradients
are averaged by DDP, and only rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from convzoo.arithmetic import check_int

__all__ = ["Dist", "setup", "teardown", "torchrun_command", "default_backend"]


@dataclass(frozen=True)
class Dist:
    """Where this process stands: ``rank`` of ``world_size`` processes, its ``device``.

    >>> Dist(0, 1, torch.device("cpu")).is_main
    True
    """

    rank: int
    world_size: int
    device: torch.device
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the one that writes checkpoints, logs and progress)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1


def default_backend() -> str:
    """``nccl`` when CUDA is available, else ``gloo``."""
    return "nccl" if torch.cuda.is_available() else "gloo"


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, str(default))
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name} (={text!r}) must be an int") from None


def setup(device: str | None = None) -> Dist:
    """Join the process group if torchrun launched this process; pick the device.

    Args:
        device: ``"cpu"``, ``"cuda"`` or None (default: CUDA if available, else CPU). Under
            torchrun on CUDA, rank ``r`` uses GPU ``LOCAL_RANK``.

    >>> setup("cpu").world_size  # not launched by torchrun
    1
    """
    world = _env_int("WORLD_SIZE", 1)
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"`device` (={device!r}) must be one of: cpu, cuda")
    use_cuda = torch.cuda.is_available() if device is None else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise ValueError("`device` (='cuda') needs a CUDA GPU, and none is available")
    dev = torch.device("cpu")
    if use_cuda:
        dev = torch.device("cuda", _env_int("LOCAL_RANK", 0))
        torch.cuda.set_device(dev)
    if world <= 1:
        return Dist(0, 1, dev)
    here = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
        here = True
    return Dist(dist.get_rank(), dist.get_world_size(), dev, here)


def teardown(d: Dist) -> None:
    """Leave the process group if :func:`setup` joined it."""
    if d.initialized_here and dist.is_initialized():
        dist.destroy_process_group()


def torchrun_command(nproc: int, args: list[str]) -> list[str]:
    """The command that runs ``convzoo <args>`` in ``nproc`` processes on this machine.

    Args:
        nproc: processes per node (>= 1). args: the ``convzoo`` arguments (without ``--nproc``).

    >>> torchrun_command(2, ["train", "digits_separable", "--data", "digits"])[1:6]
    ['-m', 'torch.distributed.run', '--nproc-per-node', '2', '--standalone']
    """
    check_int("--nproc", nproc)
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
            "--standalone", "-m", "convzoo", *args]
