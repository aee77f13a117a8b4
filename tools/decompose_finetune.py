"""A longer fine-tune for the U-Net of ``tools/decompose_proof.py``: the same trained model
(same seeds) decomposed with ``tucker`` at ``budget=0.33``, fine-tuned 10 epochs, against the
dense model fine-tuned the same 10 epochs. Writes
``benchmarks/results/decompose_finetune.json``.
Usage: ``PYTHONPATH=src python tools/decompose_finetune.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decompose_proof import RESULTS, evaluate_model, unet_small  # noqa: E402

from convzoo.cli.train import init_factory  # noqa: E402
from convzoo.decompose import decompose  # noqa: E402
from convzoo.train import TrainConfig, train  # noqa: E402
from convzoo.train.data import load_dataset  # noqa: E402


def main() -> int:
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="decompose_finetune_"))
    data_name, options, epochs, tune = "shapes", {}, 8, 10
    trained = train(TrainConfig(unet_small, data_name, epochs=epochs, threads=1,
                                progress=False))
    model = trained.model.eval()
    before = evaluate_model(model, data_name, options)
    example = load_dataset(data_name).x_test[:16]
    new, report = decompose(model, example, "tucker", budget=0.33, repeats=0)
    right_after = evaluate_model(new, data_name, options)
    scores = {}
    for label, module in (("dense", model), ("tucker", new)):
        path = work / f"{label}.pt"
        torch.save(module, path)
        tuned = train(TrainConfig(init_factory(str(path)), data_name, epochs=tune, lr=1e-3,
                                  threads=1, progress=False))
        scores[label] = evaluate_model(tuned.model, data_name, options)
        print(label, scores[label], flush=True)
    out = {"model": "unet_small", "data": data_name, "train_epochs": epochs,
           "fine_tune_epochs": tune, "fine_tune_lr": 1e-3, "before": before,
           "tucker_right_after": right_after, "dense_after_fine_tune": scores["dense"],
           "tucker_after_fine_tune": scores["tucker"],
           "points_lost_vs_dense_fine_tuned": 100 * (scores["dense"] - scores["tucker"]),
           "mac_ratio": report.mac_ratio, "torch": torch.__version__}
    (RESULTS / "decompose_finetune.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
