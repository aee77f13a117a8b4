"""Budgets by measured latency (``by="latency"``) on the trained models of
``tools/decompose_proof.py`` (same seeds, same training, so the same weights).

For each model: ``decompose(method="auto", budget=B, by="latency")`` for B in 0.33 and 0.5,
then the conv MAC ratio, the measured whole-model latency ratio and the metric right after
and after the same short fine-tune as the proof. Writes
``benchmarks/results/decompose_latency.json``.
Usage: ``PYTHONPATH=src python tools/decompose_latency.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decompose_proof import RESULTS, RUNS, evaluate_model  # noqa: E402

from convzoo.cli.train import init_factory  # noqa: E402
from convzoo.decompose import decompose  # noqa: E402
from convzoo.train import TrainConfig, train  # noqa: E402
from convzoo.train.data import load_dataset  # noqa: E402


def main() -> int:
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="decompose_latency_"))
    runs = []
    for name, factory, data_name, options, epochs, tune, batch in RUNS:
        trained = train(TrainConfig(factory, data_name, epochs=epochs, data_config=options,
                                    threads=1, progress=False))
        model = trained.model.eval()
        before = evaluate_model(model, data_name, options)
        example = load_dataset(data_name, **options).x_test[:batch]
        for budget in (0.33, 0.5):
            t0 = time.time()
            try:
                new, report = decompose(model, example, "auto", budget=budget, by="latency",
                                        repeats=20)
            except ValueError as e:  # the budget cannot be met: recorded, not hidden
                runs.append({"model": name, "budget_latency": budget, "infeasible": str(e)})
                print(f"{name} latency budget {budget}: {e}", flush=True)
                continue
            wall = time.time() - t0
            right_after = evaluate_model(new, data_name, options)
            path = work / f"{name}_{budget}.pt"
            torch.save(new, path)
            tuned = train(TrainConfig(init_factory(str(path)), data_name, epochs=tune, lr=1e-3,
                                      data_config=options, threads=1, progress=False))
            after = evaluate_model(tuned.model, data_name, options)
            row = {"model": name, "budget_latency": budget, "before": before,
                   "right_after": right_after, "after_fine_tune": after,
                   "mac_ratio": report.mac_ratio, "latency_ratio": report.latency_ratio,
                   "latency_before_ms": report.latency_before_ms,
                   "latency_after_ms": report.latency_after_ms, "decompose_wall_s": wall,
                   "plan": {r.name: [r.method, list(r.rank) if isinstance(r.rank, tuple)
                                     else r.rank] for r in report.layers
                            if r.status == "decomposed"},
                   "report": report.to_dict()}
            runs.append(row)
            print(f"{name} latency budget {budget}: {before:.4f} -> {right_after:.4f} -> "
                  f"{after:.4f}; MACs {report.mac_ratio:.2f}x, latency "
                  f"{report.latency_ratio:.2f}x", flush=True)
    (RESULTS / "decompose_latency.json").write_text(json.dumps(
        {"conditions": "2 shared CPU cores (4 other jobs running), 1 intra-op thread, "
                       "interleaved medians of 20; example batch 32 (VGG) / 16 (U-Net)",
         "torch": torch.__version__, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
