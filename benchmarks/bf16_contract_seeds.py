"""bf16's stated bound on fresh seeds (not a timing): ``optimize(precision='bf16')`` holds
each float output leaf at an input of regime R within ``5e-2 * max(max |leaf|, s_R)``
(``convzoo.fast.verify.regime_scale``). For each model: whether optimize accepts it (per
example seed), and on ``--seeds`` fresh inputs of every regime the ratio error / bound,
under the stated bound (relative to ``s_R``) and under the old one (relative to that
input's own ``max |leaf|``), for the accepted result and for the bf16 graph built without
verification (what a result would do had it been accepted). Models: the 1,000-example
fuzz run's cancelling mean (a 19x19 conv on 9x10 and its mean), a small plain torch.nn
CNN classifier. Writes ``benchmarks/results/bf16_contract_seeds.json``.

    PYTHONPATH=src python benchmarks/bf16_contract_seeds.py [--seeds 50] [--examples 10]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch
import torch.nn as nn

from convzoo.fast import Refusal, optimize
from convzoo.fast.optimizer import _nan_fixed, _portable, _torch_graph
from convzoo.fast.regimes import regimes
from convzoo.fast.verify import BF16_RTOL, NOISE_FACTOR, regime_scale, rounding_noise
from convzoo.functional.dispatch import native_only

RESULTS = Path(__file__).parent / "results"
TESTS = Path(__file__).parents[1] / "tests" / "fast"  # the fuzz graph, the CNN, the leaf walk


def ratios(model: nn.Module, result: nn.Module, x: torch.Tensor,
           scale: dict[str, float]) -> tuple[float, float]:
    """The worst error / bound over the output leaves at ``x``: (stated bound, relative to
    ``max(max |leaf|, s_R)``; old bound, relative to ``max |leaf|`` alone), each bound with
    the allowance for the original's own rounding."""
    from bf16_oracle import leaves

    with torch.no_grad(), native_only():
        ref = model(x)
        exact = rounding_noise(ref, copy.deepcopy(model).double()(x.double()))
    with torch.no_grad():
        got = result(x)
    new = old = 0.0
    for (path, a), (_, b) in zip(leaves(got), leaves(ref)):
        if not (isinstance(b, torch.Tensor) and b.dtype.is_floating_point):
            continue
        finite = b.isfinite()
        if not bool(finite.any()):
            continue
        a, b = a.double()[finite], b.double()[finite]
        err = (a - b).abs().max().item()
        top = b.abs().max().item()
        extra = torch.finfo(torch.float32).tiny + NOISE_FACTOR * exact.get(path, 0.0)
        new = max(new, err / (BF16_RTOL * max(top, scale.get(path, 0.0)) + extra))
        old = max(old, err / (BF16_RTOL * top + extra))
    return new, old


def _summary(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    return {"n": len(v), "median": v[len(v) // 2], "p90": v[int(0.9 * (len(v) - 1))],
            "max": v[-1], "over_1": sum(r > 1 for r in v)}


def unverified_bf16(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """The torch bf16 graph optimize builds for ``x``, not verified."""
    facts = _portable(model, x, "torch", precision="bf16")
    return _nan_fixed(_torch_graph(facts, x, "bf16", fft=False)[0], facts, "bf16")


def study(name: str, model: nn.Module, examples: list[torch.Tensor], seeds: int) -> dict:
    row: dict = {"model": name, "examples": []}
    for i, x in enumerate(examples):
        scales = regime_scale(model, x)
        entry: dict = {"example": i}
        try:
            fast = optimize(model, x, precision="bf16", backend="torch")
            entry["outcome"] = "accepted"
        except Refusal as exc:
            fast = None
            entry["outcome"] = "refused"
            entry["refusal"] = str(exc)
        forced = unverified_bf16(model, x)
        for label, result in (("accepted", fast), ("unverified", forced)):
            if result is None:
                continue
            per: dict = {}
            for seed in range(seeds):
                for regime in regimes(x, 5000 + seed):
                    new, old = ratios(model, result, regime.input, scales[regime.name])
                    per.setdefault(regime.name, ([], []))
                    per[regime.name][0].append(new)
                    per[regime.name][1].append(old)
            entry[label] = {r: {"stated": _summary(n), "per_input": _summary(o)}
                            for r, (n, o) in per.items()}
        row["examples"].append(entry)
        print(name, i, entry["outcome"], flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--examples", type=int, default=10)
    p.add_argument("--out", default=str(RESULTS / "bf16_contract_seeds.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    sys.path.insert(0, str(TESTS))
    from fuzz_nets import FuzzNet, cancelling_mean, example_for
    from plain_nets import small_cnn

    recipe = cancelling_mean()
    rows = [
        study("cancelling_mean (fuzz, 19x19 conv on 9x10 and its mean)", FuzzNet(recipe),
              [example_for(recipe, "normal", 101 + 101 * k) for k in range(args.examples)],
              args.seeds),
        study("small plain torch.nn CNN classifier (tests/fast/plain_nets.py small_cnn)",
              small_cnn(), [torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(k))
                       for k in range(max(1, args.examples // 5))], args.seeds),
    ]
    out = {"rtol": BF16_RTOL, "fresh_seeds_per_regime": args.seeds,
           "note": "ratio = error / bound; 'stated': bound relative to max(max|leaf|, s_R), "
                   "'per_input': relative to max|leaf| alone (the old bound); over_1 counts "
                   "inputs beyond the bound", "rows": rows}
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
