"""Proof of ``convzoo.decompose`` on trained models, and its comparison with tensorly-torch
(offline, CPU; a few minutes).

1. **Trained models.** A 4-conv CNN on ``digits`` (16x16, 10 classes) and the zoo U-Net
   (``base_channels=16, depth=2``) on ``shapes`` (segmentation, mean IoU), trained with
   ``convzoo.train.train`` (what ``convzoo train`` runs).
2. **Budget proof.** Each decomposed with ``method='auto', budget=0.33`` (data-aware: a few
   training batches as ``data``; sensitivity-weighted), evaluated right after, then fine-tuned
   (``convzoo train --init``'s loader); the dense model gets the same fine-tune (the control).
   Whole-model latency, dense and decomposed, timed in blocks.
3. **Against tensorly-torch at equal parameters** (the digits CNN): per conv, at 10 % and 25 %
   of its weights, tensorly-torch's ``FactorizedConv.from_conv`` (CP, Tucker) and convzoo's
   ``cp`` / ``tucker`` with at most as many weights (data-free and data-aware); relative output
   error of the layer on the test images' inputs. Then every conv at 10 %: accuracy right after
   and after one epoch of fine-tuning, next to the dense model given the same epoch.

Writes ``benchmarks/results/decompose_proof.json`` and ``decompose_tltorch.json``.
Usage: ``OMP_WAIT_POLICY=PASSIVE PYTHONPATH=src python tools/decompose_proof.py [--quick]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from convzoo.cli.train import init_factory
from convzoo.decomposition import curve, decompose, find_targets
from convzoo.decomposition.capture import capture
from convzoo.decomposition.latency import runner, time_blocks
from convzoo.decomposition.measure import set_module
from convzoo.models import create
from convzoo.train import TrainConfig, train
from convzoo.train.data import load_dataset
from convzoo.train.factory import make_task

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def digits_net() -> nn.Module:
    """Four 3x3 convs (32, 32, 64, 64 channels) with BatchNorm and ReLU, two max pools, a
    linear classifier: about 99 % on digits."""
    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
    return nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64),
                         *block(64, 64), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 16, 10))


def unet_small() -> nn.Module:
    """The zoo U-Net, base 16 channels, depth 2, 4 classes (shapes)."""
    return create("unet", in_channels=1, num_classes=4, base_channels=16, depth=2)


#: name, factory, data set, training epochs, fine-tune epochs, example batch
RUNS = (("digits_cnn", digits_net, "digits", 10, 1, 32),
        ("unet_small", unet_small, "shapes", 8, 2, 16))


def evaluate(model: nn.Module, data_name: str) -> float:
    """The data set's metric (accuracy or mean IoU) on its test split."""
    data = load_dataset(data_name)
    task = make_task(data)
    scores = task.evaluate(model.eval(), data.x_test, data.y_test, 64, torch.device("cpu"))
    return float(scores[task.metric])


def fine_tune(model: nn.Module, data_name: str, epochs: int, work: Path, label: str) -> float:
    """``epochs`` of training from ``model``'s weights (``convzoo train --init``), then the
    test metric."""
    path = work / f"{label}.pt"
    torch.save(model, path)
    tuned = train(TrainConfig(init_factory(str(path)), data_name, epochs=epochs, lr=1e-3,
                              threads=1, progress=False))
    return evaluate(tuned.model, data_name)


def latency(dense: nn.Module, new: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Whole-model medians and spreads, timed interleaved in blocks."""
    t = time_blocks({"dense": runner(dense, x), "decomposed": runner(new, x)}, 10, 3)
    return {f"{k}_{m}": getattr(v, m) for k, v in t.items() for m in ("median_ms", "spread_ms")}


def budget_proof(name: str, factory: Any, data_name: str, epochs: int, tune: int, batch: int,
                 work: Path, quick: bool) -> tuple[dict[str, Any], nn.Module]:
    trained = train(TrainConfig(factory, data_name, epochs=2 if quick else epochs, threads=1,
                                progress=False))
    model = trained.model.eval()
    data = load_dataset(data_name)
    before = evaluate(model, data_name)
    example = data.x_test[:batch]
    batches = [data.x_train[i:i + 64] for i in range(0, 256, 64)]
    tune = 1 if quick else tune
    row: dict[str, Any] = {"model": name, "data": data_name, "metric": make_task(data).metric,
                           "train_epochs": 2 if quick else epochs, "fine_tune_epochs": tune,
                           "fine_tune_lr": 1e-3, "before": before,
                           "dense_after_same_fine_tune": fine_tune(model, data_name, tune, work,
                                                                   f"{name}_dense")}
    for label, kwargs in (("auto_data_aware", {"data": batches, "sensitivity": True}),
                          ("auto", {})):
        start = time.perf_counter()
        new, report = decompose(model, example, "auto", budget=0.33, repeats=0,
                                progress=False, **kwargs)
        wall = time.perf_counter() - start
        new.eval()
        row[label] = {
            "decompose_wall_s": wall, "right_after": evaluate(new, data_name),
            "after_fine_tune": fine_tune(new, data_name, tune, work, f"{name}_{label}"),
            "mac_ratio": report.mac_ratio, "params_before": report.params_before,
            "params_after": report.params_after, "output_error": report.output_error,
            "latency": latency(model, new, example),
            "plan": {r.name: [r.method, list(r.rank) if isinstance(r.rank, tuple) else r.rank]
                     for r in report.layers if r.status == "decomposed"},
        }
        print(f"{name} {label}: {before:.4f} -> {row[label]['right_after']:.4f} -> "
              f"{row[label]['after_fine_tune']:.4f} (dense after the same fine-tune "
              f"{row['dense_after_same_fine_tune']:.4f}); {report.mac_ratio:.2f}x fewer MACs",
              flush=True)
    return row, model


def _weights(module: nn.Module) -> int:
    return sum(p.numel() for n, p in module.named_parameters() if not n.endswith("bias"))


def _tucker_pair(c: Any, budget: int, spec: Any) -> tuple[int, int]:
    """The ``(R_out, R_in)`` with the lowest exact error among those with at most ``budget``
    weights."""
    best = None
    k = spec.weight_shape[2] * spec.weight_shape[3]
    for r_out in range(1, spec.out_channels + 1):
        for r_in in range(1, spec.in_channels + 1):
            if r_in * spec.in_channels + r_out * r_in * k + spec.out_channels * r_out > budget:
                break
            err = c.error((r_out, r_in))
            if best is None or err < best[0]:
                best = (err, (r_out, r_in))
    return best[1] if best is not None else (1, 1)


def _convzoo(t: Any, method: str, budget: int, sample: Any) -> Any:
    """convzoo's ``method`` on target ``t`` with at most ``budget`` weights (converged)."""
    c = curve(t, method, None, sample)
    spec = t.spec
    if method == "cp":
        rank: Any = max(1, budget // (spec.in_channels + spec.out_channels + sum(
            spec.kernel_size)))
    else:
        rank = _tucker_pair(c, budget, spec)
    c.polish(rank)
    return c.build(rank)


def tltorch_compare(model: nn.Module, quick: bool, work: Path) -> dict[str, Any]:
    import tltorch

    data = load_dataset("digits")
    targets = find_targets(model)
    train_batches = [data.x_train[i:i + 64] for i in range(0, 256, 64)]
    infos, _, _ = capture(model, data.x_train[:1], targets, data=train_batches)
    test_inputs: dict[str, torch.Tensor] = {}
    hooks = [t.module.register_forward_pre_hook(
        lambda _m, a, name=t.name: test_inputs.__setitem__(name, a[0].detach()))
        for t in targets]
    with torch.no_grad():
        model.eval()(data.x_test)
    for h in hooks:
        h.remove()
    rows, whole = [], {}
    fractions = (0.1,) if quick else (0.1, 0.25)
    for fraction in fractions:
        replaced: dict[str, dict[str, nn.Module]] = {}
        for t in targets:
            conv = t.module
            x = test_inputs[t.name]
            with torch.no_grad():
                y = conv(x)

            def err(module: nn.Module, x: torch.Tensor = x, y: torch.Tensor = y) -> float:
                with torch.no_grad():
                    return float((module.eval()(x) - y).norm() / y.norm())
            row: dict[str, Any] = {"layer": t.name, "fraction": fraction,
                                   "dense_weights": conv.weight.numel()}
            dense_w = conv.weight.detach().to(torch.float64)

            def werr(weight: torch.Tensor, dense_w: torch.Tensor = dense_w) -> float:
                return float((weight.detach().to(torch.float64).reshape(dense_w.shape)
                              - dense_w).norm() / dense_w.norm())
            for fac in ("cp", "tucker"):
                torch.manual_seed(0)
                tl = tltorch.FactorizedConv.from_conv(conv, rank=fraction, factorization=fac,
                                                      decompose_weights=True)
                budget = _weights(tl)
                row[f"tltorch_{fac}"] = {"weights": budget, "output_error": err(tl),
                                         "weight_error": werr(tl.weight.to_tensor())}
                replaced.setdefault(f"tltorch_{fac}", {})[t.name] = tl
                for aware, sample in (("", None), ("_data_aware", infos[t.name].sample)):
                    f = _convzoo(t, fac, budget, sample)
                    key = f"convzoo_{fac}{aware}"
                    row[key] = {"weights": _weights(f.module), "rank": f.rank,
                                "output_error": err(f.module), "weight_error": werr(f.weight)}
                    replaced.setdefault(key, {})[t.name] = f.module
            rows.append(row)
            print({k: ((v["output_error"], v["weight_error"]) if isinstance(v, dict) else v)
                   for k, v in row.items()}, flush=True)
        if fraction == 0.1:
            whole = _whole_model(model, replaced, quick, work)
    return {"rows": rows, "whole_model_10pct": whole}


def _whole_model(model: nn.Module, replaced: dict[str, dict[str, nn.Module]], quick: bool,
                 work: Path) -> dict[str, Any]:
    """Every conv replaced at 10 % of its weights: accuracy right after and after one epoch."""
    out = {"dense": {"right_after": evaluate(model, "digits"),
                     "after_fine_tune": fine_tune(model, "digits", 1, work, "tl_dense")}}
    for label, modules in replaced.items():
        new = copy.deepcopy(model)
        for name, module in modules.items():
            set_module(new, name, copy.deepcopy(module).train())
        new.eval()
        out[label] = {"right_after": evaluate(new, "digits"),
                      "after_fine_tune": fine_tune(new, "digits", 1, work, f"tl_{label}"),
                      "conv_weights": sum(_weights(m) for m in modules.values())}
        print(label, out[label], flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="2 training epochs (a smoke run)")
    args = p.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    conditions = {
        "machine": f"{platform.processor() or platform.machine()}; training and timing on 1 "
                   "intra-op thread, whole-model latency in blocks of 3, 10 rounds",
        "torch": torch.__version__, "python": sys.version.split()[0],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default: active)"),
        "load_average_before": list(os.getloadavg()), "quick": args.quick,
    }
    work = Path(tempfile.mkdtemp(prefix="decompose_proof_"))
    runs, trained = [], {}
    for name, factory, data_name, epochs, tune, batch in RUNS:
        row, model = budget_proof(name, factory, data_name, epochs, tune, batch, work,
                                  args.quick)
        runs.append(row)
        trained[name] = model
    conditions["load_average_after_proof"] = list(os.getloadavg())
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    (RESULTS / f"decompose_proof{suffix}.json").write_text(
        json.dumps({"conditions": conditions, "runs": runs}, indent=2) + "\n")
    compared = tltorch_compare(trained["digits_cnn"], args.quick, work)
    conditions["load_average_after"] = list(os.getloadavg())
    (RESULTS / f"decompose_tltorch{suffix}.json").write_text(json.dumps(
        {"conditions": conditions, "model": "digits_cnn (trained, digits 16x16)",
         "note": "per conv: tensorly-torch FactorizedConv.from_conv(rank=fraction) and "
                 "convzoo's cp/tucker with at most as many weights (biases excluded); "
                 "relative error of the layer's output on the inputs it receives for the "
                 "test images; data-aware: factors fitted on 256 training images",
         **compared}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
