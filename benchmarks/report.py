"""Render benchmarks/results/*.json as the markdown tables of docs/performance.md.

    .venv/bin/python benchmarks/report.py > /tmp/tables.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def machine_line(info: dict) -> str:
    extra = ""
    if "peak_gflops" in info:
        extra = (f"; measured peak {info['peak_gflops']:.0f} GFLOP/s (fp32 matmul), "
                 f"{info['bandwidth_gbs']:.1f} GB/s (copy)")
    return (f"{info['cpu']}, torch {info['torch']} (oneDNN {info['mkldnn']}), "
            f"{info['threads']} intra-op thread(s), Python {info['python']}{extra}")


def layers_table(data: dict) -> str:
    lines = [f"Machine: {machine_line(data['machine'])}", "",
             "| variant | fwd ms (native) | fwd ratio | fwd+bwd ms (native) | fwd+bwd ratio "
             "| fwd roofline | spread |",
             "|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        lines.append(
            f"| {r['variant']} | {r['fwd_ms']:.3g} ({r['fwd_native_ms']:.3g}) "
            f"| {r['fwd_ratio']:.2f}x | {r['train_ms']:.3g} ({r['train_native_ms']:.3g}) "
            f"| {r['train_ratio']:.2f}x | {r['fwd_roofline_fraction']:.1%} "
            f"| {max(r['fwd_spread'], r['train_spread']):.0%} |")
    return "\n".join(lines)


NEW_COLUMNS = ("optimize", "optimize_auto", "optimize_bf16", "torch_compile", "onnxruntime",
               "optimize_onnxruntime", "openvino_f32", "optimize_openvino", "openvino_bf16")


def graph_models_table(data: dict) -> str:
    """The table of a run of the graph-based optimize (issue 11): median ms (x eager)."""
    lines = [f"Machine: {machine_line(data['machine'])}; load average before/after: "
             f"{data['machine'].get('load_average_before', ['?'])[0]:.1f} / "
             f"{data['machine'].get('load_average_after', ['?'])[0]:.1f}", "",
             "| model | batch | eager ms | " + " | ".join(NEW_COLUMNS) + " | optimize s "
             "| compile s |", "|---" * (len(NEW_COLUMNS) + 5) + "|"]
    for r in data["rows"]:
        cells = []
        for key in NEW_COLUMNS:
            if f"{key}_ms" not in r:
                cells.append("-")
                continue
            extra = f", {r['optimize_auto_picked']}" if key == "optimize_auto" else ""
            cells.append(f"{r[key + '_ms']:.1f} ({r[key + '_speedup']:.2f}x{extra})")
        compile_s = f"{r['torch_compile_s']:.1f}" if "torch_compile_s" in r else "-"
        lines.append(f"| {r['model']} | {r['batch']} | {r['eager_ms']:.1f} | "
                     + " | ".join(cells) + f" | {r['optimize_s']:.1f} | {compile_s} |")
    return "\n".join(lines)


def models_table(data: dict) -> str:
    if data["rows"] and "eager_ms" in data["rows"][0]:
        return graph_models_table(data)
    lines = [f"Machine: {machine_line(data['machine'])}", "",
             "| model | batch | eager NCHW ms | optimize | torch.compile (compile s) "
             "| onnxruntime | optimize s |",
             "|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        def cell(key: str, r: dict = r) -> str:
            if f"{key}_ms" not in r:
                return "-"
            return (f"{r[key + '_ms']:.1f} ms ({r[key + '_speedup']:.2f}x, "
                    f"±{r[key + '_spread']:.0%})")
        compile_s = f" ({r['compile_s']:.0f} s)" if "compile_s" in r else ""
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['eager_nchw_ms']:.1f} "
            f"(±{r['eager_nchw_spread']:.0%}) | {cell('optimize')} "
            f"| {cell('torch_compile')}{compile_s} | {cell('onnxruntime')} "
            f"| {r['optimize_s']:.2f} |")
    return "\n".join(lines)


def bf16_table(data: dict) -> str:
    """Max abs error of bfloat16 against float32 on held-out inputs, per model."""
    lines = ["| model | max abs output | convzoo bf16 error | OpenVINO bf16 error |",
             "|---|---|---|---|"]
    for r in data["rows"]:
        lines.append(f"| {r['model']} | {max(r['scale']):.3g} | {max(r['convzoo_bf16']):.3g} "
                     f"| {max(r['openvino_bf16']):.3g} |")
    return "\n".join(lines)


def main() -> int:
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        print(f"### {path.name}\n")
        if path.name.startswith("bf16_error"):
            print(bf16_table(data))
        else:
            print(layers_table(data) if path.name.startswith("layers") else models_table(data))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
