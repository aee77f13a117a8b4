"""Where a MAC saving becomes a speed saving (not a test): one 3x3 conv (C -> C, 56x56,
batch 8) and each method's replacement at about a quarter of its MACs, for widths C = 32 ...
512, timed on each backend interleaved in blocks (``convzoo.decomposition.latency``: one
warm-up block each, then rounds of ``--block`` runs in a row, the order rotating), one intra-op
thread. Speed-up = dense median / replacement median, with both spreads; ``faster`` is None
when their interquartile ranges overlap. Writes
``benchmarks/results/decompose_crossover<tag>.json``.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/decompose_crossover.py
    .venv/bin/python benchmarks/decompose_crossover.py --quick   # smoke run
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).parent))

from run import RESULTS, machine  # noqa: E402

from convzoo.decomposition import curve, find_targets  # noqa: E402
from convzoo.decomposition.latency import faster, runner, time_blocks  # noqa: E402

METHODS = ("tucker", "spatially_separable", "svd", "cp", "separable", "flattened")


def quarter_rank(c: Any, dense: int) -> Any:
    """The grid rank whose MACs are closest to a quarter of the conv's."""
    grid = c.grid()
    if not grid:
        return None
    return min(grid, key=lambda r: abs(c.cost(r)[1] - dense / 4))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="widths 16, 32 at 14x14, torch only")
    p.add_argument("--widths", default="32,64,128,256,512")
    p.add_argument("--backends", default="torch,onnxruntime,openvino")
    p.add_argument("--repeats", type=int, default=10, help="rounds of blocks")
    p.add_argument("--block", type=int, default=3, help="runs in a row per candidate")
    p.add_argument("--tag", default="")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    widths = (16, 32) if args.quick else tuple(int(w) for w in args.widths.split(","))
    backends = ("torch",) if args.quick else tuple(args.backends.split(","))
    side, batch = (14, 2) if args.quick else (56, 8)
    repeats = 2 if args.quick else args.repeats
    info = machine()
    info["load_average_before"] = list(os.getloadavg())
    rows: list[dict[str, Any]] = []
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    path = RESULTS / f"decompose_crossover{suffix}{args.tag}.json"
    for width in widths:
        torch.manual_seed(0)
        conv = nn.Conv2d(width, width, 3, padding=1).eval()
        shape = (batch, width, side, side)
        x = torch.randn(shape)
        t = find_targets(conv)[0]
        dense_macs = t.spec.macs(shape)
        modules: dict[str, tuple[nn.Module, Any, int]] = {"dense": (conv, None, dense_macs)}
        for method in METHODS:
            c = curve(t, method, shape)
            rank = quarter_rank(c, dense_macs)
            if rank is not None:
                modules[method] = (c.build(rank).module.float().eval(), rank, c.cost(rank)[1])
        for backend in backends:
            # one backend's compiled candidates alive at a time (an optimized runtime model
            # keeps its verification inputs: at width 512 all three backends at once filled
            # 24 GB)
            calls = {name: runner(m, x, backend) for name, (m, _, _) in modules.items()}
            times = time_blocks(calls, repeats, args.block)
            del calls
            gc.collect()
            for name, (_, rank, macs) in modules.items():
                if name == "dense":
                    continue
                rows.append({
                    "width": width, "side": side, "batch": batch, "backend": backend,
                    "method": name, "rank": list(rank) if isinstance(rank, tuple) else rank,
                    "mac_fraction": macs / dense_macs,
                    "dense_median_ms": times["dense"].median_ms,
                    "dense_spread_ms": times["dense"].spread_ms,
                    "median_ms": times[name].median_ms, "spread_ms": times[name].spread_ms,
                    "speedup": times["dense"].median_ms / times[name].median_ms,
                    "faster": faster(times[name], times["dense"]),
                })
                print(rows[-1], flush=True)
            write(path, info, repeats, args.block, rows)  # what is measured so far survives
    info["load_average_after"] = list(os.getloadavg())
    write(path, info, repeats, args.block, rows)
    print(f"wrote {path}")
    return 0


def write(path: Path, info: dict[str, Any], repeats: int, block: int,
          rows: list[dict[str, Any]]) -> None:
    """The results file (rewritten after every backend: a run stopped midway keeps its rows,
    without ``load_average_after``)."""
    path.write_text(json.dumps({"machine": info, "precision": "float32", "threads": 1,
                                "repeats": repeats, "block": block, "rows": rows},
                               indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
