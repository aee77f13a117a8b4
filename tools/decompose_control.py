"""Control for ``tools/decompose_proof.py``: the undecomposed models given the same short
fine-tune (same epochs, learning rate, seeds) as the decomposed ones, so that "after
fine-tune" is compared with what the extra epochs alone would give; and the whole-model
latency of the same Tucker decomposition (training is deterministic, so the weights are the
proof's) timed longer, with the median and the minimum of 60 interleaved runs (on a
machine shared with other jobs the minimum is the closer estimate of the unloaded time).
Writes ``benchmarks/results/decompose_control.json``.
Usage: ``PYTHONPATH=src python tools/decompose_control.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decompose_proof import RESULTS, RUNS, evaluate_model  # noqa: E402

from convzoo.analysis.timing import interleaved  # noqa: E402
from convzoo.cli.train import init_factory  # noqa: E402
from convzoo.decompose import decompose  # noqa: E402
from convzoo.train import TrainConfig, train  # noqa: E402
from convzoo.train.data import load_dataset  # noqa: E402


def main() -> int:
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="decompose_control_"))
    runs = []
    for name, factory, data_name, options, epochs, tune, batch in RUNS:
        trained = train(TrainConfig(factory, data_name, epochs=epochs, data_config=options,
                                    threads=1, progress=False))
        before = evaluate_model(trained.model, data_name, options)
        path = work / f"{name}.pt"
        torch.save(trained.model, path)
        tuned = train(TrainConfig(init_factory(str(path)), data_name, epochs=tune, lr=1e-3,
                                  data_config=options, threads=1, progress=False))
        after = evaluate_model(tuned.model, data_name, options)
        model = trained.model.eval()
        example = load_dataset(data_name, **options).x_test[:batch]
        new, report = decompose(model, example, "tucker", budget=0.33, repeats=0)
        new.eval()
        with torch.no_grad():
            t = interleaved({"dense": lambda m=model, x=example: m(x),
                             "tucker": lambda m=new, x=example: m(x)}, repeats=60, warmup=5)
        timing = {k: {"median_ms": v.median_ms, "min_ms": v.min * 1e3} for k, v in t.items()}
        runs.append({"model": name, "before": before, "dense_after_same_fine_tune": after,
                     "fine_tune_epochs": tune, "fine_tune_lr": 1e-3,
                     "tucker_mac_ratio": report.mac_ratio, "latency_batch": batch,
                     "timing": timing,
                     "latency_ratio_median": timing["dense"]["median_ms"]
                     / timing["tucker"]["median_ms"],
                     "latency_ratio_min": timing["dense"]["min_ms"] / timing["tucker"]["min_ms"]})
        print(f"{name}: dense {before:.4f} -> same fine-tune {after:.4f}; {timing}", flush=True)
    (RESULTS / "decompose_control.json").write_text(
        json.dumps({"runs": runs, "torch": torch.__version__,
                    "conditions": "2 CPU cores shared with other jobs, 1 intra-op thread"},
                   indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
