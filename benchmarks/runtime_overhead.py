"""Where a runtime's time goes after convzoo: each step between "the runtime alone" and
``optimize(backend=...)``, timed in one process (not a test).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/runtime_overhead.py \\
        [--model plain_mobilenet_v2] [--batches 1,8] [--size 224] [--rounds 15] \\
        [--threads 2] [--out benchmarks/results/runtime_overhead.json]

Per runtime (ONNX Runtime, OpenVINO f32) and batch size, every variant wrapped in the same
:class:`~convzoo.fast.backends.BackendModule` and timed in interleaved blocks
(:func:`convzoo.fast.auto.blocks`), reported as the ratio to ``alone``:

- ``alone``: the original exported at the example's static shape, one plain session (the
  issue's "runtime alone");
- ``dynamic``: convzoo's portable graph (dynamic batch and spatial sizes, after the runtime's
  rewrites) in one plain session for every shape (how optimize ran before the per-shape
  sessions; what a plain runtime loading ``Optimized.save``'s file does);
- ``static``: the same graph in a session per shape (:mod:`convzoo.fast.sessions`);
- ``static_norewrite``: the dynamic export without any rewrite, in a session per shape;
- ``static_fixup``: ``static`` with the NaN fix-up (the finiteness check of each input);
- ``optimize``: ``optimize(model, x, backend=runtime)`` itself (the wrapper's per-call work
  included).

Also the finiteness checks themselves (torch and NumPy) and a cProfile of one
``optimize`` call. The load average before and after is recorded; take ratios from a quiet
machine (under load only large ratios mean anything).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "fast"))

from run import machine  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def _model(name: str) -> torch.nn.Module:
    if name == "plain_mobilenet_v2":
        from plain_nets import MobileNetV2

        return MobileNetV2(1000, full=True)
    import convzoo.models as zoo

    return zoo.create(name)


def _finite_checks(x: torch.Tensor, rounds: int) -> dict[str, float]:
    """ms per call of each way to tell that ``x`` holds no NaN or Inf."""
    from convzoo.fast.auto import blocks
    from convzoo.fast.backends import finite, finite_array

    a = x.numpy()
    t = blocks({"torch_isfinite_all": lambda: finite(x),
                "numpy_isfinite_all": lambda: bool(np.isfinite(a).all()),
                "finite_array": lambda: finite_array(a),
                "torch_sum": lambda: bool(torch.isfinite(x.sum()))}, rounds=rounds)
    return {k: v.median_ms for k, v in t.items()}


def _profile(fast: torch.nn.Module, x: torch.Tensor, calls: int = 50) -> str:
    prof = cProfile.Profile()
    with torch.no_grad():
        fast(x)
        prof.enable()
        for _ in range(calls):
            fast(x)
        prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
    return out.getvalue()


def run_batch(model: torch.nn.Module, batch: int, args: argparse.Namespace) -> dict:
    from convzoo.fast.auto import blocks
    from convzoo.fast.backends import (
        BackendModule,
        export_onnx,
        onnxruntime_session,
        openvino_session,
    )
    from convzoo.fast.dynamic import export_portable, portable
    from convzoo.fast.optimizer import optimize
    from convzoo.functional.dispatch import native_only

    torch.manual_seed(0)
    x = torch.randn(batch, 3, args.size, args.size)
    with torch.no_grad(), native_only():
        ref = model(x)
    shape = tuple(x.shape)
    static_bytes = export_onnx(model, x)
    bare = export_portable(portable(model, x, rewrites=(), rewrite=False))
    row: dict = {"batch": batch, "input": list(shape), "load_average_before": os.getloadavg()[0]}
    candidates = {}
    for runtime in args.runtimes.split(","):
        def session(data: bytes, static: bool, rt: str = runtime):
            if rt == "onnxruntime":
                return onnxruntime_session(data, static=static)
            return openvino_session(data, "fp32", static=static)

        start = time.perf_counter()
        fast = optimize(model, x, backend=runtime)
        row[f"{runtime}_optimize_s"] = time.perf_counter() - start
        row[f"{runtime}_picked"] = fast.report.threads.describe() if fast.report.threads else ""
        facts = fast._facts
        key = ("onnx", fast.inner.rewrites, fast.inner.spatial)  # the graph it runs
        dyn = facts.exports[key]
        fallback = facts.exports[("fallback", *key[1:])]
        row[f"{runtime}_rewrites"] = facts.exports[("portable", *key[1:])].rewrites
        row[f"{runtime}_rewrite_choice"] = fast.report.runtime_rewrites
        sizes = fast.report.input_sizes
        variants = {
            "alone": BackendModule(session(static_bytes, False), shape, ref, runtime),
            "dynamic": BackendModule(session(dyn, False), sizes, ref, runtime),
            "static": BackendModule(session(dyn, True), sizes, ref, runtime),
            "static_norewrite": BackendModule(session(bare, True), sizes, ref, runtime),
            "static_fixup": BackendModule(session(dyn, True), sizes, ref, runtime,
                                          fallback=fallback),
            "optimize": fast,
        }
        for name, module in variants.items():
            def call(m=module):
                with torch.no_grad():
                    return m(x)
            candidates[f"{runtime}:{name}"] = call
        row[f"{runtime}_profile"] = _profile(fast, x)
    timings = blocks(candidates, rounds=args.rounds, block_s=0.2)
    for runtime in args.runtimes.split(","):
        alone = timings[f"{runtime}:alone"].median
        for k, t in timings.items():
            if k.startswith(runtime + ":"):
                name = k.split(":", 1)[1]
                row[f"{runtime}_{name}_ms"] = t.median_ms
                row[f"{runtime}_{name}_ratio_to_alone"] = alone / t.median
    row["finite_checks_ms"] = _finite_checks(x, args.rounds)
    row["load_average_after"] = os.getloadavg()[0]
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="plain_mobilenet_v2")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runtimes", default="onnxruntime,openvino")
    p.add_argument("--out", default=str(RESULTS / "runtime_overhead.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = _model(args.model).eval()
    info = machine()
    info.update(model=args.model, size=args.size, rounds=args.rounds)
    result: dict = {"machine": info, "rows": []}
    for b in (int(v) for v in args.batches.split(",")):
        row = run_batch(model, b, args)
        result["rows"].append(row)
        print(f"b{b}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()
                                     if k.endswith("ratio_to_alone")), flush=True)
        print("finite checks (ms):", row["finite_checks_ms"], flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
