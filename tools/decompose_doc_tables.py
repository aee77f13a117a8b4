"""Rewrite the result tables of ``docs/decompose.md`` from the committed results files, so that
the page quotes them and nothing else. Each table sits between ``<!-- results:NAME -->`` and
``<!-- /results:NAME -->``; a missing results file leaves a sentence (no number) naming the
command that writes it.

    PYTHONPATH=src python tools/decompose_doc_tables.py        # rewrites docs/decompose.md
    PYTHONPATH=src python tools/decompose_doc_tables.py --check  # exit 1 if it would change
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "decompose.md"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def _load_line(info: dict[str, Any]) -> str:
    before = info.get("load_average_before")
    after = info.get("load_average_after")
    if not before or not after:
        return ""
    return f"Load average (1 min) {before[0]:.2f} before, {after[0]:.2f} after."


def _not_measured(command: str, name: str) -> str:
    """The sentence a block holds while its results file is not committed."""
    return (f"No quiet-machine measurement is committed yet: `{command}` writes "
            f"`benchmarks/results/{name}`, and `tools/decompose_doc_tables.py` then writes its "
            "table here.")


def targets() -> str:
    d = _load("decompose_targets.json")
    if d is None:
        return _not_measured("OMP_WAIT_POLICY=PASSIVE python benchmarks/decompose_targets.py "
                             "--runs 2", "decompose_targets.json")
    labels = {
        "advise_vgg16_224": "`advise` vgg16, 1x3x224x224, all methods, budget 0.33",
        "advise_resnet50_224": "`advise` resnet50, 1x3x224x224",
        "advise_unet_512": "`advise` unet, 1x1x512x512",
        "decompose_vgg16_224": "`decompose(method=\"auto\", budget=0.33)` vgg16",
        "decompose_resnet50_224": "`decompose(method=\"auto\", budget=0.33)` resnet50",
        "decompose_unet_512": "`decompose(method=\"auto\", budget=0.33)` unet",
        "cp_conv256_budget": "CP of one 256 -> 256 3x3 conv, `budget=0.25`",
        "cp_conv256_rank256": "CP of one 256 -> 256 3x3 conv, `rank=256`",
    }
    lines = ["| call | target | median wall (min-max) | met |", "|---|---|---|---|"]
    for name, s in d["summary"].items():
        lines.append(f"| {labels.get(name, name)} | <= {s['target_s']:.0f} s | "
                     f"{s['median_s']:.1f} s ({s['min_s']:.1f}-{s['max_s']:.1f}) | "
                     f"{'yes' if s['met'] else '**no**'} |")
    vgg = d["runs"].get("advise_vgg16_224")
    if vgg and vgg[0].get("plan_latency_ms") is not None:
        r = vgg[0]
        lines += ["", f"vgg16's recommended plan keeps {r['plan_mac_fraction']:.1%} of the conv "
                      f"MACs and measured {r['plan_latency_ms']:.1f}±"
                      f"{r['plan_latency_spread_ms'] or 0:.1f} ms against "
                      f"{r['latency_ms']:.1f}±{r['latency_spread_ms'] or 0:.1f} ms dense "
                      f"({r['latency_scope']}, torch, one thread)."]
    m = d["machine"]
    lines += ["", f"{m.get('cpu', '')}, torch {m.get('torch', '')}, "
                  f"{m.get('threads', '')} threads set (searches run on one), "
                  f"OMP_WAIT_POLICY={m.get('omp_wait_policy', '')}; {d['note']}. "
                  f"{_load_line(m)}"]
    return "\n".join(lines)


def crossover() -> str:
    d = _load("decompose_crossover.json")
    if d is None:
        return _not_measured("OMP_WAIT_POLICY=PASSIVE python benchmarks/decompose_crossover.py",
                             "decompose_crossover.json")
    out = []
    for backend in dict.fromkeys(r["backend"] for r in d["rows"]):
        rows = [r for r in d["rows"] if r["backend"] == backend]
        widths = sorted({r["width"] for r in rows})
        out += [f"Speed-up over dense ({backend}; `~`: within noise):", "",
                "| method | " + " | ".join(f"{w} ch" for w in widths) + " |",
                "|---|" + "---|" * len(widths)]
        for method in dict.fromkeys(r["method"] for r in rows):
            cells = []
            for w in widths:
                r = next((r for r in rows if r["method"] == method and r["width"] == w), None)
                cells.append("-" if r is None else
                             f"{r['speedup']:.2f}x" + ("~" if r["faster"] is None else ""))
            out.append(f"| {method} | " + " | ".join(cells) + " |")
        out += ["", f"Crossover on {backend}: " + "; ".join(
            f"{m} {_crossover_width(rows, m, widths)}"
            for m in dict.fromkeys(r["method"] for r in rows)) + ".", ""]
    out.append(f"One thread, blocks of {d['block']}, {d['repeats']} rounds. "
               f"{_load_line(d['machine'])}")
    return "\n".join(out)


def _crossover_width(rows: list[dict[str, Any]], method: str, widths: list[int]) -> str:
    """Where ``method`` turns faster than dense: the smallest width from which it is measured
    faster (outside the noise) at every wider width.

    >>> rows = [{"method": "cp", "width": w, "faster": f}
    ...         for w, f in ((32, False), (64, None), (128, True))]
    >>> _crossover_width(rows, "cp", [32, 64, 128])
    'faster from 128 ch'
    """
    faster = {r["width"]: r["faster"] for r in rows if r["method"] == method}
    start = None
    for w in reversed(widths):
        if faster.get(w) is not True:
            break
        start = w
    if start is None:
        return "not faster at the widest measured"
    return "faster at every measured width" if start == widths[0] else f"faster from {start} ch"


def proof() -> str:
    d = _load("decompose_proof.json")
    if d is None:
        return _not_measured("PYTHONPATH=src python tools/decompose_proof.py",
                             "decompose_proof.json")
    lines = ["| model (metric) | plan | before | right after | after fine-tune | dense after "
             "the same fine-tune | MAC ratio | latency dense -> decomposed (ms) |",
             "|---|---|---|---|---|---|---|---|"]
    for run in d["runs"]:
        for label in ("auto_data_aware", "auto"):
            r = run[label]
            lat = r["latency"]
            lines.append(
                f"| {run['model']} ({run['metric']}) | {label.replace('_', ' ')} | "
                f"{run['before']:.4f} | {r['right_after']:.4f} | {r['after_fine_tune']:.4f} | "
                f"{run['dense_after_same_fine_tune']:.4f} | {r['mac_ratio']:.2f}x | "
                f"{lat['dense_median_ms']:.2f} -> {lat['decomposed_median_ms']:.2f} |")
    c = d["conditions"]
    lines += ["", f"Fine-tune: {d['runs'][0]['fine_tune_epochs']} epoch(s) (digits), "
                  f"{d['runs'][1]['fine_tune_epochs']} (U-Net), lr 1e-3. torch {c['torch']}. "
                  f"Latency: {c['machine']}; load average {c['load_average_before'][0]:.2f} "
                  "before the run (timings, unlike the metrics, depend on the load)."]
    return "\n".join(lines)


def tltorch() -> str:
    d = _load("decompose_tltorch.json")
    if d is None:
        return _not_measured("PYTHONPATH=src python tools/decompose_proof.py",
                             "decompose_tltorch.json")
    lines = ["| conv | weights kept | tltorch CP | convzoo CP | convzoo CP, data | tltorch "
             "Tucker | convzoo Tucker-2 | convzoo Tucker-2, data |",
             "|---|---|---|---|---|---|---|---|"]
    wins = {k: 0 for k in ("convzoo_cp", "convzoo_cp_data_aware", "convzoo_tucker",
                           "convzoo_tucker_data_aware")}
    for r in d["rows"]:
        def e(key: str, r: dict[str, Any] = r) -> str:
            return f"{r[key]['output_error']:.3f}"
        for key in wins:
            base = "tltorch_cp" if "cp" in key else "tltorch_tucker"
            wins[key] += r[key]["output_error"] <= r[base]["output_error"]
        lines.append(f"| {r['layer']} ({r['dense_weights']:,} weights) | {r['fraction']:.0%} | "
                     f"{e('tltorch_cp')} | {e('convzoo_cp')} | {e('convzoo_cp_data_aware')} | "
                     f"{e('tltorch_tucker')} | {e('convzoo_tucker')} | "
                     f"{e('convzoo_tucker_data_aware')} |")
    n = len(d["rows"])
    lines += ["", "Rows where convzoo's output error is at most tensorly-torch's: "
                  f"CP {wins['convzoo_cp']}/{n}, CP with data {wins['convzoo_cp_data_aware']}/{n}, "
                  f"Tucker {wins['convzoo_tucker']}/{n}, Tucker with data "
                  f"{wins['convzoo_tucker_data_aware']}/{n}."]
    if all("weight_error" in r["convzoo_cp"] for r in d["rows"]):
        cp_w = sum(r["convzoo_cp"]["weight_error"] <= r["tltorch_cp"]["weight_error"]
                   for r in d["rows"])
        lines += ["", f"Weight error (what both fit without data): convzoo's CP at most "
                      f"tensorly-torch's in {cp_w}/{n} rows (e.g. conv {d['rows'][-1]['layer']} "
                      f"at {d['rows'][-1]['fraction']:.0%}: "
                      f"{d['rows'][-1]['convzoo_cp']['weight_error']:.4f} against "
                      f"{d['rows'][-1]['tltorch_cp']['weight_error']:.4f})."]
    lines += ["",
              "Every conv at 10 % of its weights, the whole model (accuracy on the test set):",
              "", "| model | right after | after one epoch |", "|---|---|---|"]
    for label, r in d["whole_model_10pct"].items():
        lines.append(f"| {label.replace('_', ' ')} | {r['right_after']:.4f} | "
                     f"{r['after_fine_tune']:.4f} |")
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {"targets": targets, "crossover": crossover,
                                        "proof": proof, "tltorch": tltorch}


def render(text: str) -> str:
    """``text`` with every results block rewritten."""
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)",
                             re.S)
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = p.parse_args(argv)
    text = DOC.read_text()
    new = render(text)
    if args.check:
        return int(new != text)
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
