"""Which of convzoo's portable rewrites change the graph ONNX Runtime and OpenVINO execute
(the evidence behind ``convzoo.fast.dynamic.RUNTIME_REWRITES``; not a test).

    .venv/bin/python benchmarks/runtime_rewrites.py [--time] [--models a,b]
        [--out benchmarks/results/runtime_rewrites.json]

For each model (the zoo's MobileNetV2, ShuffleNetV2 and ResNet-50, the plain torch.nn nets
of tests/fast/plain_nets.py, and one probe per rewrite) the same dynamic-batch export is
written without rewrites and with each rewrite alone, then handed to each runtime: ONNX
Runtime's optimized graph (``optimized_model_filepath``, ORT_ENABLE_ALL) and OpenVINO's
runtime model (layer types and the kernels chosen) are counted. A rewrite that leaves both
identical cannot change the runtime's speed; one that removes nodes the runtime runs may.
These counts do not depend on the machine's load. ``--time`` adds the runtimes' latencies,
interleaved in blocks (load-dependent: take them from a quiet machine only).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "fast"))

RESULTS = Path(__file__).parent / "results"


class _BnFirst(nn.Module):
    """A BatchNorm on the input, then an unpadded conv (only convzoo folds it)."""

    def __init__(self) -> None:
        super().__init__()
        self.bn, self.conv = nn.BatchNorm2d(3), nn.Conv2d(3, 16, 1)
        self.tail = nn.Sequential(nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.conv(self.bn(x)))


class _Shuffle(nn.Module):
    """conv, channel shuffle, conv: the permutation folds into the second conv."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(nn.functional.channel_shuffle(torch.relu(self.a(x)), 4))


def _weight_norm() -> nn.Module:
    from torch.nn.utils.parametrizations import weight_norm

    return nn.Sequential(weight_norm(nn.Conv2d(3, 16, 3, padding=1)), nn.ReLU(),
                         nn.Conv2d(16, 8, 1))


def models() -> dict:
    from plain_nets import MobileNetV2, ResNet, ShuffleNetV2, randomize_batchnorms

    import convzoo.models as zoo

    def randomized(make):
        return lambda: randomize_batchnorms(make(), seed=1)

    return {
        "mobilenet_v2": (lambda: randomized(lambda: zoo.create("mobilenet_v2"))(), 224),
        "shufflenet_v2": (lambda: randomized(lambda: zoo.create("shufflenet_v2"))(), 224),
        "resnet50": (lambda: randomized(lambda: zoo.create("resnet50"))(), 224),
        "plain_mobilenet_v2": (randomized(lambda: MobileNetV2(1000, full=True)), 224),
        "plain_resnet": (randomized(ResNet), 64),
        "plain_shufflenet_v2": (randomized(ShuffleNetV2), 64),
        "probe_batchnorm_before": (randomized(_BnFirst), 32),
        "probe_shuffle": (_Shuffle, 32),
        "probe_weight_norm": (_weight_norm, 32),
    }


def _ort_graph(onnx: bytes) -> dict[str, int]:
    import onnx as onnx_lib
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.optimized_model_filepath = os.path.join(tmp, "opt.onnx")
        opts.log_severity_level = 3
        ort.InferenceSession(onnx, opts, providers=["CPUExecutionProvider"])
        graph = onnx_lib.load(opts.optimized_model_filepath).graph
    return dict(sorted(collections.Counter(n.op_type for n in graph.node).items()))


def _ov_graph(onnx: bytes, x: torch.Tensor) -> dict[str, int]:
    import openvino as ov

    core = ov.Core()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        Path(path).write_bytes(onnx)
        compiled = core.compile_model(core.read_model(path), "CPU",
                                      {"INFERENCE_PRECISION_HINT": "f32"})
    compiled.create_infer_request().infer({0: x.numpy()})
    info = [op.get_rt_info() for op in compiled.get_runtime_model().get_ops()]
    return dict(sorted(collections.Counter(
        f"{i['layerType'].astype(str)}:{i['primitiveType'].astype(str)}" for i in info
        if i["layerType"].astype(str) not in ("Const", "Input", "Output")).items()))


def variants(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[bytes, dict[str, int]]]:
    """ONNX bytes and rewrite counts: none, each rewrite alone, all of them (one export path
    for all, so that only the rewrites differ)."""
    from convzoo.fast.dynamic import REWRITES, Portable, export_portable, portable

    base = portable(model, x, (), rewrite=False, spatial=False)
    program = base.source.run_decompositions({})  # type: ignore[union-attr]
    out = {}
    for name, names in {"none": (), **{r: (r,) for r in REWRITES}, "all": tuple(REWRITES)}.items():
        gm = program.module()
        counts = {r: REWRITES[r](gm) for r in names}
        gm.recompile()
        out[name] = (export_portable(Portable(gm, base.trace, base.sizes, base.spec, counts)),
                     counts)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=None, help="comma-separated subset")
    p.add_argument("--time", action="store_true", help="also time each runtime (blocks)")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--out", default=str(RESULTS / "runtime_rewrites.json"))
    args = p.parse_args(argv)
    from convzoo.fast.auto import blocks
    from convzoo.fast.backends import onnxruntime_session, openvino_session

    result: dict = {"machine": {"torch": torch.__version__, "threads": torch.get_num_threads(),
                                "load_average_before": list(os.getloadavg())}, "models": {}}
    chosen = args.models.split(",") if args.models else None
    for name, (make, size) in models().items():
        if chosen and name not in chosen:
            continue
        torch.manual_seed(0)
        model = make().eval()
        x = torch.randn(1, 3, size, size)
        entry: dict = {}
        onnx = variants(model, x)
        for variant, (data, counts) in onnx.items():
            entry[variant] = {"rewrites": counts, "onnxruntime": _ort_graph(data),
                              "openvino": _ov_graph(data, x)}
        for runtime in ("onnxruntime", "openvino"):
            entry[f"changes_{runtime}"] = sorted(
                v for v in onnx if v != "none" and entry[v][runtime] != entry["none"][runtime])
        if args.time:
            calls, arr = {}, x.numpy()
            for variant in ("none", "all"):
                data = onnx[variant][0]
                ort_run, ov_run = onnxruntime_session(data), openvino_session(data)
                calls[f"onnxruntime {variant}"] = lambda r=ort_run, a=arr: r(a)
                calls[f"openvino {variant}"] = lambda r=ov_run, a=arr: r(a)
            entry["ms"] = {k: t.median_ms for k, t in blocks(calls, args.repeats).items()}
        result["models"][name] = entry
        print(name, {r: entry[f"changes_{r}"] for r in ("onnxruntime", "openvino")}, flush=True)
    result["machine"]["load_average_after"] = list(os.getloadavg())
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
