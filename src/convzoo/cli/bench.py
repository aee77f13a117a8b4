"""``convzoo bench layers|models``: the fast-path benchmarks (convzoo vs PyTorch native).

Not a test: everything runs in this process, interleaved, medians of many repeats
(DESIGN.md's performance method). ``layers``: every layer kind plus the fast-path sweeps,
forward and forward+backward, ratio to native NCHW and roofline fraction. ``models``: eager
vs ``convzoo.optimize`` (torch, auto, bf16) vs ``torch.compile(freezing)`` vs ONNX Runtime and
OpenVINO alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from convzoo.cli.output import console, emit_json, parse_ints

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo bench``."""
    p = subparsers.add_parser(
        "bench", help="benchmark the fast paths and convzoo.optimize against PyTorch",
        description="Time convzoo's fast paths against PyTorch's native NCHW path "
        "(interleaved medians; ratios > 1 mean convzoo is faster).",
    )
    p.add_argument("what", choices=["layers", "models"], help="what to benchmark")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed rounds (default 15 for layers, 10 for models)")
    p.add_argument("--only", default=None, help="layers whose name contains this text")
    p.add_argument("--models", default="mobilenet_v2,shufflenet_v2,resnet50",
                   help="comma-separated zoo names (models)")
    p.add_argument("--batches", default="1,8", help="batch sizes (models), e.g. 1,8")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile (models)")
    p.add_argument("--no-onnx", action="store_true", help="skip ONNX Runtime (models)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--out", default=None, help="also write the rows to this JSON file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo bench``."""
    import torch

    from convzoo.analysis.timing import check_repeats
    from convzoo.fast.bench import bench_layers, bench_models
    from convzoo.fast.roofline import measure_roofline

    if args.repeats is not None:
        check_repeats(args.repeats, "--repeats", 3)
    if args.threads is not None:
        check_repeats(args.threads, "--threads")
        torch.set_num_threads(args.threads)
    quiet = args.json
    log = (lambda line: None) if quiet else (lambda line: console().print(line, markup=False))
    if args.what == "layers":
        rows = bench_layers(measure_roofline(), args.repeats or 15, args.only, log)
        table = Table("variant", "fwd ratio", "fwd+bwd ratio", "fwd roofline", "spread")
        for r in rows:
            table.add_row(r["variant"], f"{r['fwd_ratio']:.2f}x", f"{r['train_ratio']:.2f}x",
                          f"{r['fwd_roofline_fraction']:.1%}", f"{r['fwd_spread']:.0%}")
    else:
        batches = parse_ints(args.batches, "--batches")
        rows = bench_models(args.models.split(","), batches, args.repeats or 10,
                            compile_=not args.no_compile, onnx=not args.no_onnx, log=log)
        table = Table("model", "batch", "candidate", "median ms", "vs eager", "spread")
        for r in rows:
            for key in [k[:-3] for k in r if k.endswith("_ms") and f"{k[:-3]}_speedup" in r]:
                if f"{key}_ms" in r:
                    table.add_row(r["model"], str(r["batch"]), key, f"{r[key + '_ms']:.2f}",
                                  f"{r[key + '_speedup']:.2f}x", f"{r[key + '_spread']:.0%}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    if args.json:
        emit_json(rows)
    else:
        console().print(table)
    return 0
