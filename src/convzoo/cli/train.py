"""``convzoo train MODEL --data DATASET``: train a zoo model on an offline data set.

Progress (rich bar: loss, metric, throughput) goes to stderr; the final evaluation to stdout;
``--out DIR`` receives ``last.pt`` (atomic checkpoint), ``metrics.csv`` and ``metrics.json``;
it is checked before anything runs, and a folder holding a previous run is refused unless
``--resume`` (continue it, possibly to a larger ``--epochs``) or ``--force`` (start over).
``--nproc N`` relaunches the same command under ``torchrun`` with N processes (DDP).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from typing import Any

from convzoo.paths import check_run_dir

__all__ = ["add_parser", "run", "parse_assignments", "init_factory"]


def parse_assignments(items: list[str] | None, flag: str) -> dict[str, Any]:
    """``["base_channels=16", "upsampler=subpixel"]`` -> ``{"base_channels": 16, "upsampler":
    "subpixel"}``.

    Values are Python literals when they parse as one (ints, floats, tuples, True/None),
    otherwise strings.

    >>> parse_assignments(["base_channels=16", "upsampler=resize_conv", "layers=(1, 2)"], "--set")
    {'base_channels': 16, 'upsampler': 'resize_conv', 'layers': (1, 2)}
    >>> parse_assignments(["base_channels"], "--set")
    Traceback (most recent call last):
    ...
    ValueError: `--set` (='base_channels') must be KEY=VALUE
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"`{flag}` (={item!r}) must be KEY=VALUE")
        try:
            value: Any = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        out[key.strip()] = value
    return out


def init_factory(path: str) -> Any:
    """A no-argument factory loading the whole module saved at ``path`` (``--init``).

    >>> init_factory("missing.pt")
    Traceback (most recent call last):
    ...
    ValueError: `--init` (='missing.pt') must be a file holding a saved nn.Module
    """
    from pathlib import Path

    if not Path(path).is_file():
        raise ValueError(f"`--init` (={path!r}) must be a file holding a saved nn.Module")

    def load() -> Any:
        import torch

        return torch.load(path, weights_only=False, map_location="cpu")

    load.__qualname__ = f"init:{path}"
    return load


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo train``."""
    p = subparsers.add_parser(
        "train", help="train a zoo model on an offline data set (checkpoints, resume, DDP)",
        description="Train MODEL (a zoo name) on DATASET (offline: digits, lfw_faces, shapes, "
        "moving_digits, sequences, superres, digits_gan), show progress, evaluate at the end. "
        "With --out, checkpoints are written atomically and --resume continues a run.",
    )
    p.add_argument("model", metavar="MODEL", help="zoo model name, e.g. digits_separable")
    p.add_argument("--data", required=True, metavar="DATASET", help="offline data set name")
    p.add_argument("--epochs", type=int, default=None, help="default: the data set's")
    p.add_argument("--batch-size", type=int, default=None, help="per process; default: data's")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate; default: data's")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder for last.pt, metrics.csv, metrics.json (and samples.png)")
    p.add_argument("--resume", action="store_true",
                   help="continue from DIR/last.pt (--epochs may extend the run)")
    p.add_argument("--force", action="store_true",
                   help="start afresh in a DIR that already holds a run (default: refuse)")
    p.add_argument("--init", default=None, metavar="PATH",
                   help="start from the nn.Module saved at PATH (torch.save of a whole model, "
                   "e.g. `convzoo decompose --out`) instead of a fresh MODEL")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", dest="model_config",
                   help="model config field, repeatable (e.g. --set base_channels=16)")
    p.add_argument("--data-option", action="append", metavar="KEY=VALUE", dest="data_config",
                   help="data set loader option, repeatable (e.g. --data-option size=24)")
    p.add_argument("--limit", type=int, default=None, help="at most N samples per split")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                   help="also checkpoint every STEPS steps (default: at epoch ends only)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="default: cuda if available")
    p.add_argument("--no-deterministic", action="store_true",
                   help="allow nondeterministic algorithms (faster on some GPUs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or epoch lines")
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="run N DDP processes on this machine via torchrun (gloo on CPU, nccl "
                   "on GPU)")
    p.add_argument("--json", action="store_true", help="print the final evaluation as JSON")
    p.set_defaults(func=run)


def _argv(args: argparse.Namespace) -> list[str]:
    """The ``convzoo train`` arguments of ``args``, without ``--nproc``."""
    argv = ["train", args.model, "--data", args.data, "--seed", str(args.seed)]
    for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size),
                        ("--lr", args.lr), ("--out", args.out), ("--limit", args.limit),
                        ("--threads", args.threads), ("--device", args.device),
                        ("--init", args.init)):
        if value is not None:
            argv += [flag, str(value)]
    if args.checkpoint_every:
        argv += ["--checkpoint-every", str(args.checkpoint_every)]
    for item in args.model_config or []:
        argv += ["--set", item]
    for item in args.data_config or []:
        argv += ["--data-option", item]
    for flag, on in (("--resume", args.resume), ("--force", args.force),
                     ("--no-deterministic", args.no_deterministic),
                     ("--no-progress", args.no_progress), ("--json", args.json)):
        if on:
            argv.append(flag)
    return argv


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo train``."""
    if args.out is not None:  # before torch loads: a bad --out is a one-line error at once
        check_run_dir(args.out, "--out", args.resume, args.force, ("--resume", "--force"))
    from convzoo.train import TrainConfig, train

    model_config = parse_assignments(args.model_config, "--set")
    data_config = parse_assignments(args.data_config, "--data-option")
    model: Any = args.model if args.init is None else init_factory(args.init)
    config = TrainConfig(  # validates every value before anything is launched
        model, args.data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        out=args.out, resume=args.resume, force=args.force, seed=args.seed,
        model_config=model_config,
        data_config=data_config, limit=args.limit, checkpoint_every=args.checkpoint_every,
        deterministic=not args.no_deterministic, device=args.device,
        progress=not args.no_progress, threads=args.threads)
    if args.nproc is not None:
        from convzoo.train.distributed import torchrun_command

        return subprocess.call(torchrun_command(args.nproc, _argv(args)))
    result = train(config)
    if result.rank != 0:  # under torchrun, rank 0 alone reports
        return 0
    from convzoo.cli.output import console, emit_json, print_pairs

    if args.json:
        emit_json({"final": result.final, "wall_s": result.wall_s, "steps": result.steps})
        return 0
    rows = [(k, f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in result.final.items()]
    rows.append(("training wall time", f"{result.wall_s:.1f} s"))
    if result.out is not None:
        rows.append(("output", str(result.out)))
    print_pairs(console(), rows)
    return 0
