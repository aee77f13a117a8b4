"""The speed targets of ``convzoo.advise`` and ``convzoo.decompose`` on real-sized models
(issue 20), timed end to end (not a test):

* ``advise`` of vgg16 and resnet50 at 1x3x224x224 (all methods, budget 0.33): <= 60 s each;
* ``advise`` of unet at 1x1x512x512: <= 90 s;
* ``decompose(method='auto', budget=0.33)`` of each: <= 30 s;
* CP of one 256 -> 256 3x3 conv (at 1x256x56x56; ``budget=0.25`` and ``rank=256``): <= 5 s.

Each case runs ``--runs`` times, the cases alternated run by run; every wall time is kept with
the process CPU time (all threads), the load average before and after, the thread settings and
the per-step seconds of the search.
The zoo models get randomised BatchNorm statistics and classifier weights (as in
``benchmarks/bf16_error.py``) so that their outputs, and so the sensitivities, depend on the
input. Writes ``benchmarks/results/decompose_targets<tag>.json``.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/decompose_targets.py [--runs 2]
    .venv/bin/python benchmarks/decompose_targets.py --quick   # smoke run at tiny sizes
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).parent))

from bf16_error import randomise  # noqa: E402
from run import RESULTS, machine  # noqa: E402

import convzoo.models as zoo  # noqa: E402
from convzoo.decomposition import advise, decompose  # noqa: E402

#: name -> (what, model, input shape, quick input shape, keyword arguments, target seconds)
CASES: dict[str, tuple[str, str, tuple[int, ...], tuple[int, ...], dict[str, Any], float]] = {
    "advise_vgg16_224": ("advise", "vgg16", (1, 3, 224, 224), (1, 3, 32, 32),
                         {"budget": 0.33}, 60.0),
    "advise_resnet50_224": ("advise", "resnet50", (1, 3, 224, 224), (1, 3, 64, 64),
                            {"budget": 0.33}, 60.0),
    "advise_unet_512": ("advise", "unet", (1, 1, 512, 512), (1, 1, 64, 64),
                        {"budget": 0.33}, 90.0),
    "decompose_vgg16_224": ("decompose", "vgg16", (1, 3, 224, 224), (1, 3, 32, 32),
                            {"method": "auto", "budget": 0.33, "repeats": 0}, 30.0),
    "decompose_resnet50_224": ("decompose", "resnet50", (1, 3, 224, 224), (1, 3, 64, 64),
                               {"method": "auto", "budget": 0.33, "repeats": 0}, 30.0),
    "decompose_unet_512": ("decompose", "unet", (1, 1, 512, 512), (1, 1, 64, 64),
                           {"method": "auto", "budget": 0.33, "repeats": 0}, 30.0),
    "cp_conv256_budget": ("decompose", "conv256", (1, 256, 56, 56), (1, 32, 8, 8),
                          {"method": "cp", "budget": 0.25, "repeats": 0}, 5.0),
    "cp_conv256_rank256": ("decompose", "conv256", (1, 256, 56, 56), (1, 32, 8, 8),
                           {"method": "cp", "rank": 256, "repeats": 0}, 5.0),
}


def build(name: str, channels: int) -> nn.Module:
    """A zoo model with randomised BatchNorm and classifier, or one dense 3x3 conv."""
    torch.manual_seed(0)
    if name == "conv256":
        return nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1)).eval()
    return randomise(zoo.create(name))


def run_case(name: str, quick: bool) -> dict[str, Any]:
    what, model_name, shape, small, kwargs, target = CASES[name]
    shape = small if quick else shape
    model = build(model_name, shape[1])
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    call: Callable[[], Any] = (lambda: advise(model, x, progress=False, **kwargs)) \
        if what == "advise" else (lambda: decompose(model, x, progress=False, **kwargs))
    start, cpu = time.perf_counter(), time.process_time()
    result = call()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    row: dict[str, Any] = {"case": name, "input": list(shape), "kwargs": kwargs,
                           "target_s": target, "wall_s": wall, "cpu_s": cpu}
    if what == "advise":
        row.update(plan_mac_fraction=result.plan_macs / result.conv_macs,
                   model_error=result.model_error, latency_ms=result.latency_ms,
                   latency_spread_ms=result.latency_spread_ms,
                   plan_latency_ms=result.plan_latency_ms,
                   plan_latency_spread_ms=result.plan_latency_spread_ms,
                   latency_scope=result.latency_scope, seconds=result.seconds,
                   plan=result.to_dict()["plan"], notes=result.notes)
    else:
        _, report = result
        row.update(mac_ratio=report.mac_ratio, output_error=report.output_error,
                   seconds=report.seconds,
                   plan={r.name: [r.method, list(r.rank) if isinstance(r.rank, tuple)
                                  else r.rank] for r in report.layers
                         if r.status == "decomposed"})
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny inputs: a smoke run")
    p.add_argument("--runs", type=int, default=1, help="runs of every case (alternated)")
    p.add_argument("--only", default=None, help="comma-separated case names")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    p.add_argument("--tag", default="", help="suffix of the result file name")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = list(CASES) if args.only is None else args.only.split(",")
    info = machine()
    info["load_average_before"] = list(os.getloadavg())
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(args.runs):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            row = run_case(name, args.quick)
            runs[name].append(row)
            print(f"{name}: {row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU (target "
                  f"{row['target_s']:.0f} s)", flush=True)
    info["load_average_after"] = list(os.getloadavg())
    summary = {}
    for name, rows in runs.items():
        walls = [row["wall_s"] for row in rows]
        summary[name] = {"median_s": statistics.median(walls), "min_s": min(walls),
                         "max_s": max(walls), "target_s": CASES[name][5],
                         "met": statistics.median(walls) <= CASES[name][5]}
    out = {"machine": info, "quick": args.quick, "precision": "float32",
           "note": "wall time of the whole call; factorizations on one torch thread per "
                   "worker thread, timings on one thread", "summary": summary, "runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    path = RESULTS / f"decompose_targets{suffix}{args.tag}.json"
    path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
