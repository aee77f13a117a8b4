"""What issue 18's soundness checks cost: the seconds ``optimize`` spends in each of them, and
the per-call cost of what an ``Optimized`` call adds around its graph (fresh outputs laid
out as the original's, the NaN fix-up's finiteness check). Writes
benchmarks/results/optimize_checks<tag>.json.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/optimize_checks.py [--size 224]
        [--blocks 5] [--per-block 10] [--backends torch onnxruntime] [--tag _issue18]

Phases of ``optimize`` (timed by wrapping the functions, summed over the call):
``snapshot`` (the reachable-state walk, before and after the real call), ``capture`` (the
whole capture, the snapshot included), ``references`` (the original on the six regimes),
``verify`` (every candidate's verification, float64 noise allowance included when
needed), ``fft_probe`` (the FFT bound propagated). Per call: ``Optimized(x)`` against its
inner module on the same input, in blocks (``--per-block`` calls of one, then of the
other), medians and interquartile spreads, under ``torch.no_grad()``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

import convzoo.fast.optimizer as opt
import convzoo.fast.state as state_mod
import convzoo.models as zoo
from convzoo.fast import optimize

RESULTS = Path(__file__).parent / "results"


def _timed(phases: dict[str, float], module: object, name: str, label: str) -> None:
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            phases[label] += time.perf_counter() - start

    setattr(module, name, wrapper)


def _blocks(fns: dict[str, object], x: torch.Tensor, blocks: int, per_block: int) -> dict:
    samples: dict[str, list[float]] = {k: [] for k in fns}
    with torch.no_grad():
        for fn in fns.values():  # warm-up
            fn(x)  # type: ignore[operator]
        for b in range(blocks):
            order = list(fns) if b % 2 == 0 else list(reversed(fns))
            for name in order:
                for _ in range(per_block):
                    start = time.perf_counter()
                    fns[name](x)  # type: ignore[operator]
                    samples[name].append((time.perf_counter() - start) * 1e3)
    out = {}
    for name, s in samples.items():
        q = statistics.quantiles(s, n=4)
        out[name] = {"median_ms": statistics.median(s), "iqr_ms": q[2] - q[0], "n": len(s)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--per-block", type=int, default=10)
    p.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"])
    p.add_argument("--models", nargs="+", default=["mobilenet_v2", "resnet50", "plain_mnv2"])
    p.add_argument("--tag", default="")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "fast"))
    from plain_nets import MobileNetV2, randomize_batchnorms

    makers = {"plain_mnv2": lambda: MobileNetV2(1000, full=True)}
    phases: dict[str, float] = defaultdict(float)
    _timed(phases, state_mod.Snapshot, "__init__", "snapshot")
    _timed(phases, opt, "capture", "capture")
    _timed(phases, opt, "checks", "references")
    _timed(phases, opt, "verify", "verify")
    _timed(phases, opt, "_fft_risk", "fft_probe")
    load_before = os.getloadavg()
    rows = []
    for name in args.models:
        for backend in args.backends:
            torch.manual_seed(0)
            model = makers[name]() if name in makers else zoo.create(name)
            model = randomize_batchnorms(model, seed=0).eval()
            x = torch.randn(1, 3, args.size, args.size)
            phases.clear()
            start = time.perf_counter()
            fast = optimize(model, x, backend=backend)
            total = time.perf_counter() - start
            calls = _blocks({"optimized": fast, "inner": fast.inner}, x, args.blocks,
                            args.per_block)
            rows.append({"model": name, "backend": backend, "optimize_s": total,
                         "phases_s": dict(phases), "per_call": calls,
                         "call_overhead_ms": calls["optimized"]["median_ms"]
                         - calls["inner"]["median_ms"]})
            print(name, backend, f"optimize {total:.1f} s", {k: round(v, 2)
                                                             for k, v in phases.items()},
                  {k: round(v["median_ms"], 3) for k, v in calls.items()}, flush=True)
    result = {"load_before": load_before, "load_after": os.getloadavg(),
              "threads": torch.get_num_threads(), "precision": "fp32", "size": args.size,
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"optimize_checks{args.tag}.json"
    out.write_text(json.dumps(result, indent=1))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
