"""The table of issue 21: every way to run each model, on a quiet machine (not a test).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/optimize_table.py \\
        [--models plain_mobilenet_v2,mobilenet_v2,shufflenet_v2,resnet50,hf_convnext,hf_resnet]
        [--batches 1,8] [--repeats 10] [--threads 2] [--max-load 1.5] [--tries 3]
        [--out benchmarks/results/optimize_issue21.json]
    .venv/bin/python benchmarks/optimize_table.py --table benchmarks/results/optimize_issue21.json

Per model and batch size, in one process, every candidate timed in interleaved blocks
(:func:`convzoo.fast.auto.blocks`): eager, ``optimize`` (torch), ``optimize(backend="auto")``
(its pick), ``torch.compile`` (inductor, freezing), ONNX Runtime alone, OpenVINO f32 and bf16
alone (the original model exported at the example's shape), each runtime after convzoo
(``optimize(backend=...)``, f32 and OpenVINO bf16), ``optimize(precision="bf16")``.
``plain_mobilenet_v2`` is torch.nn only (tests/fast/plain_nets.py); ``hf_convnext`` and
``hf_resnet`` are transformers' ConvNext and ResNet built from their default configs with
random weights (nothing downloaded), their logits returned.

The physical floor: each model's FLOPs (``torch.utils.flop_counter``, 2 x MACs) over the
measured matmul peak (2048-cubed, float32 and bfloat16, torch and the runtimes, at the same
thread count).

Load: the 1-minute load average is read before each row (the script waits, up to
``--wait`` s, until it is at most ``--max-load``) and after it; the CPU time other processes
used during the row is measured too (``/proc/stat`` minus this process), since this
process's own threads raise the load average it reads after a row. A row whose load before
exceeds ``--max-load``, or during which other processes used more than ``--max-external``
cores on average, is repeated (``--tries``), and is not reported if it never runs quiet
(``rejected`` in the file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "fast"))

from run import machine  # noqa: E402  (benchmarks/run.py: the machine description)

RESULTS = Path(__file__).parent / "results"
MODELS = "plain_mobilenet_v2,mobilenet_v2,shufflenet_v2,resnet50,hf_convnext,hf_resnet"


def _cpu_busy() -> tuple[float, float]:
    """(seconds all CPUs were busy, seconds this process used), from /proc."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(v) for v in fields]
    busy = sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)  # minus idle, iowait
    hz = os.sysconf("SC_CLK_TCK")
    t = os.times()
    return busy / hz, t.user + t.system


class _Logits(torch.nn.Module):
    """A transformers image classifier returning its logits (a tensor, not a ModelOutput)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).logits


def extra_models(names: list[str]) -> dict:
    """Factories of the non-zoo models named."""
    out = {}
    if "plain_mobilenet_v2" in names:
        from plain_nets import MobileNetV2

        out["plain_mobilenet_v2"] = lambda: MobileNetV2(1000, full=True)
    if "hf_convnext" in names:
        def convnext() -> torch.nn.Module:
            from transformers import ConvNextConfig, ConvNextForImageClassification

            return _Logits(ConvNextForImageClassification(ConvNextConfig()))
        out["hf_convnext"] = convnext
    if "hf_resnet" in names:
        def resnet() -> torch.nn.Module:
            from transformers import ResNetConfig, ResNetForImageClassification

            return _Logits(ResNetForImageClassification(ResNetConfig()))
        out["hf_resnet"] = resnet
    return out


def run_row(name: str, batch: int, args: argparse.Namespace, extra: dict) -> dict:
    """One model at one batch size, with the load around it."""
    from convzoo.fast.bench import bench_models

    load_before = os.getloadavg()[0]
    busy0, own0, t0 = *_cpu_busy(), time.monotonic()
    rows = bench_models([name] if name not in extra else [], (batch,), args.repeats,
                        size=args.size, compile_=not args.no_compile, onnx=True,
                        extra={name: extra[name]} if name in extra else None)
    busy1, own1, t1 = *_cpu_busy(), time.monotonic()
    row = rows[0]
    row["load_average_before"] = load_before
    row["load_average_after"] = os.getloadavg()[0]
    row["external_cores"] = max(0.0, (busy1 - busy0) - (own1 - own0)) / (t1 - t0)
    row["seconds"] = t1 - t0
    return row


def quiet(args: argparse.Namespace) -> float:
    """Wait (up to --wait s) for the 1-minute load average to fall to --max-load."""
    deadline = time.monotonic() + args.wait
    while os.getloadavg()[0] > args.max_load and time.monotonic() < deadline:
        time.sleep(10)
    return os.getloadavg()[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=MODELS)
    p.add_argument("--batches", default="1,8")
    p.add_argument("--repeats", type=int, default=10, help="interleaved rounds of blocks")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=224, help="input height and width")
    p.add_argument("--max-load", type=float, default=1.5)
    p.add_argument("--max-external", type=float, default=0.25,
                   help="cores other processes may use during a row (average)")
    p.add_argument("--tries", type=int, default=3)
    p.add_argument("--wait", type=float, default=600.0)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--peak-size", type=int, default=2048)
    p.add_argument("--out", default=str(RESULTS / "optimize_issue21.json"))
    p.add_argument("--table", default=None, metavar="FILE",
                   help="print the markdown tables of a results file and exit")
    args = p.parse_args(argv)
    if args.table:
        print(tables(json.loads(Path(args.table).read_text())))
        return 0
    torch.set_num_threads(args.threads)
    from convzoo.fast.roofline import measure_peaks

    names = args.models.split(",")
    extra = extra_models(names)
    info = machine()
    info.update(size=args.size, repeats=args.repeats, max_load=args.max_load,
                max_external=args.max_external)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    quiet(args)
    info["peaks_gflops"] = measure_peaks(args.peak_size)
    result: dict = {"machine": info, "rows": [], "rejected": []}
    for name in names:
        for batch in (int(b) for b in args.batches.split(",")):
            for attempt in range(1, args.tries + 1):
                quiet(args)
                row = run_row(name, batch, args, extra)
                row["attempt"] = attempt
                ok = row["load_average_before"] <= args.max_load and \
                    row["external_cores"] <= args.max_external
                print(f"{name} b{batch} try {attempt}: load {row['load_average_before']:.2f} -> "
                      f"{row['load_average_after']:.2f}, other processes "
                      f"{row['external_cores']:.2f} cores: {'kept' if ok else 'repeated'}",
                      flush=True)
                if ok:
                    result["rows"].append(row)
                    break
                result["rejected"].append(row)
            out.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {out}")
    print(tables(result))
    return 0


_COLUMNS = (("eager", "eager"), ("optimize", "optimize (torch)"),
            ("optimize_auto", "auto (pick)"), ("torch_compile", "compile(freezing)"),
            ("onnxruntime", "ONNX Runtime"), ("openvino_f32", "OpenVINO f32"),
            ("openvino_bf16", "OpenVINO bf16"), ("optimize_bf16", "optimize bf16 torch"),
            ("optimize_openvino_bf16", "optimize bf16 openvino"))


def _ms(row: dict, key: str) -> str:
    v = row.get(f"{key}_ms")
    return "-" if v is None else f"{v:.3g}"


def tables(result: dict) -> str:
    """The markdown tables of a results file: the issue's table (with the floor), each
    runtime alone vs after convzoo, and the targets."""
    peaks = result["machine"].get("peaks_gflops", {})
    fp32 = max((v for k, v in peaks.items() if k.endswith(("fp32", "f32"))), default=0.0)
    bf16 = max((v for k, v in peaks.items() if k.endswith("bf16")), default=0.0)
    head = "| model, batch | " + " | ".join(c for _, c in _COLUMNS) + \
        " | GFLOP | floor fp32 / bf16 ms |"
    lines = [head, "|" + "---|" * (len(_COLUMNS) + 3)]
    for r in result["rows"]:
        cells = [_ms(r, k) for k, _ in _COLUMNS]
        cells[2] += f" ({r.get('optimize_auto_picked', '?')})"
        gflop = r.get("flops", 0) / 1e9
        floor = f"{gflop / fp32 * 1e3:.3g} / {gflop / bf16 * 1e3:.3g}" if fp32 and bf16 else "-"
        lines.append(f"| {r['model']}, {r['batch']} | " + " | ".join(cells) +
                     f" | {gflop:.3g} | {floor} |")
    lines += ["", "| model, batch | ONNX Runtime alone / after convzoo | OpenVINO f32 alone / "
              "after convzoo | OpenVINO bf16 alone / after convzoo |", "|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['model']}, {r['batch']} | {_ms(r, 'onnxruntime')} / "
                     f"{_ms(r, 'optimize_onnxruntime')} | {_ms(r, 'openvino_f32')} / "
                     f"{_ms(r, 'optimize_openvino')} | {_ms(r, 'openvino_bf16')} / "
                     f"{_ms(r, 'optimize_openvino_bf16')} |")
    lines += ["", "| model, batch | torch >= compile | auto / fastest single runtime | load "
              "before -> after (other processes, cores) |", "|---|---|---|---|"]
    for r in result["rows"]:
        singles = {k: r[f"{k}_ms"] for k in ("optimize", "onnxruntime", "openvino_f32")
                   if f"{k}_ms" in r}
        best = min(singles, key=singles.__getitem__) if singles else None
        ratio = singles[best] / r["optimize_auto_ms"] if best and "optimize_auto_ms" in r else None
        met = r.get("optimize_ms", 1e9) <= r.get("torch_compile_ms", 0.0)
        lines.append(
            f"| {r['model']}, {r['batch']} | {'met' if met else 'not met'} "
            f"({_ms(r, 'optimize')} vs {_ms(r, 'torch_compile')}) | "
            f"{'-' if ratio is None else f'{ratio:.2f}x of {best}'} | "
            f"{r['load_average_before']:.2f} -> {r['load_average_after']:.2f} "
            f"({r['external_cores']:.2f}) |")
    if result.get("rejected"):
        lines += ["", "not reported (load): " + ", ".join(
            f"{r['model']} b{r['batch']} try {r['attempt']}" for r in result["rejected"])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
