"""Run the convzoo benchmarks and write benchmarks/results/*.json (not a test).

    .venv/bin/python benchmarks/run.py layers [--repeats 15] [--only TEXT]
    .venv/bin/python benchmarks/run.py models [--repeats 10] [--models a,b] [--no-compile]

Everything in one process, interleaved, medians (convzoo.analysis.timing.interleaved).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import torch

from convzoo.fast.bench import bench_layers, bench_models
from convzoo.fast.roofline import measure_roofline

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    """The machine description written next to every result."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(),
            "mkldnn": torch.backends.mkldnn.is_available(), "bf16_flags": _bf16(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default: active)")}


def _bf16() -> list[str]:
    from convzoo.fast.precision import bf16_flags

    return bf16_flags()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("what", choices=["layers", "models"])
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--only", default=None)
    p.add_argument("--models", default="mobilenet_v2,shufflenet_v2,resnet50,plain_mobilenet_v2",
                   help="zoo names, and plain_mobilenet_v2 (torch.nn, tests/fast/plain_nets.py)")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--no-onnx", action="store_true")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--tag", default="", help="suffix of the result file name")
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()

    def log(line: str) -> None:
        print(line, flush=True)

    if args.what == "layers":
        roof = measure_roofline()
        info["peak_gflops"] = roof.flops_per_s / 1e9
        info["bandwidth_gbs"] = roof.bytes_per_s / 1e9
        log(f"roofline: {info['peak_gflops']:.1f} GFLOP/s, {info['bandwidth_gbs']:.1f} GB/s")
        rows = bench_layers(roof, args.repeats or 15, args.only, log)
    else:
        batches = tuple(int(b) for b in args.batches.split(","))
        names = args.models.split(",")
        extra = {}
        if "plain_mobilenet_v2" in names:  # a torch.nn MobileNetV2 written without convzoo
            sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "fast"))
            from plain_nets import MobileNetV2

            extra["plain_mobilenet_v2"] = lambda: MobileNetV2(1000, full=True)
        info["load_average_before"] = list(os.getloadavg())
        rows = bench_models([n for n in names if n not in extra], batches, args.repeats or 10,
                            compile_=not args.no_compile, onnx=not args.no_onnx, log=log,
                            extra=extra)
        info["load_average_after"] = list(os.getloadavg())
    out = RESULTS / f"{args.what}{args.tag}.json"
    out.write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
