"""Where a runtime's time goes after convzoo: each step between "the runtime alone" and
``optimize(backend=...)``, timed in one process (not a test).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/runtime_overhead.py \\
        [--model plain_mobilenet_v2] [--batches 1,8] [--size 224] [--rounds 15] \\
        [--threads 2] [--out benchmarks/results/runtime_overhead.json]
    .venv/bin/python benchmarks/runtime_overhead.py --graphs --out FILE  (load-independent)

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

Also the finiteness checks themselves (torch and NumPy) and a cProfile of ``optimize``
calls. ``--graphs``: no timing, what each runtime executes (ONNX Runtime's optimized graph,
OpenVINO's runtime layers and kernels) for ``alone``, ``dynamic`` and ``static``, and how
each differs from ``alone``. The load average before and after is recorded; take ratios from a quiet
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


def _ort_nodes(data: bytes, shape: tuple[int, ...] | None) -> dict[str, int]:
    """Node types of ONNX Runtime's optimized graph (``shape``: dimensions pinned)."""
    import collections
    import tempfile

    import onnx
    import onnxruntime as ort

    from convzoo.fast.sessions import input_dims, overrides

    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.optimized_model_filepath = os.path.join(tmp, "opt.onnx")
        opts.log_severity_level = 3
        for name, size in (overrides(input_dims(data), shape) or {}).items() if shape else ():
            opts.add_free_dimension_override_by_name(name, size)
        ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        graph = onnx.load(opts.optimized_model_filepath).graph
    return dict(sorted(collections.Counter(n.op_type for n in graph.node).items()))


def _ov_nodes(data: bytes, shape: tuple[int, ...] | None, x: np.ndarray) -> dict[str, int]:
    """Layer and primitive types of OpenVINO's runtime model (``shape``: reshaped)."""
    import collections
    import tempfile

    import openvino as ov

    core = ov.Core()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        Path(path).write_bytes(data)
        model = core.read_model(path)
    if shape is not None:
        model.reshape(ov.PartialShape(list(shape)))
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    compiled.create_infer_request().infer({0: x})
    info = [op.get_rt_info() for op in compiled.get_runtime_model().get_ops()]
    return dict(sorted(collections.Counter(
        f"{i['layerType'].astype(str)}:{i['primitiveType'].astype(str)}" for i in info
        if i["layerType"].astype(str) not in ("Const", "Input", "Output")).items()))


def graphs(model: torch.nn.Module, batch: int, size: int) -> dict:
    """What each runtime executes (load-independent): the static export alone, convzoo's
    dynamic graph as one dynamic session, and per shape; the differences to ``alone``."""
    from convzoo.fast.backends import export_onnx
    from convzoo.fast.dynamic import RUNTIME_REWRITES, export_portable, portable

    x = torch.randn(batch, 3, size, size)
    shape = tuple(x.shape)
    alone = export_onnx(model, x)
    dyn = export_portable(portable(model, x, RUNTIME_REWRITES["onnxruntime"]))
    out: dict = {}
    for rt, count in (("onnxruntime", lambda d, s: _ort_nodes(d, s)),
                      ("openvino", lambda d, s: _ov_nodes(d, s, x.numpy()))):
        got = {"alone": count(alone, None), "dynamic": count(dyn, None),
               "static": count(dyn, shape)}
        out[rt] = got
        for v in ("dynamic", "static"):
            keys = set(got[v]) | set(got["alone"])
            out[f"{rt}_{v}_vs_alone"] = {k: (got["alone"].get(k, 0), got[v].get(k, 0))
                                         for k in sorted(keys)
                                         if got["alone"].get(k, 0) != got[v].get(k, 0)}
    return out


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
    p.add_argument("--graphs", action="store_true",
                   help="only count what each runtime executes per variant (no timing)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = _model(args.model).eval()
    info = machine()
    info.update(model=args.model, size=args.size, rounds=args.rounds)
    result: dict = {"machine": info, "rows": []}
    if args.graphs:
        for b in (int(v) for v in args.batches.split(",")):
            found = graphs(model, b, args.size)
            result["rows"].append({"batch": b, **found})
            print(f"b{b}:", json.dumps({k: v for k, v in found.items() if "_vs_" in k}),
                  flush=True)
        Path(args.out).write_text(json.dumps(result, indent=1, default=str))
        return 0
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
