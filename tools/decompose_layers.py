"""Time per MAC of a dense 3x3 conv and of its Tucker-2 replacements at two shapes with the
same MACs: 16 channels at 32x32 and 64 channels at 8x8 (batch 32), one thread, interleaved,
30 runs (median and minimum). Writes ``benchmarks/results/decompose_layers.json``.
Usage: ``PYTHONPATH=src python tools/decompose_layers.py``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch
import torch.nn as nn

from convzoo.analysis.timing import interleaved
from convzoo.decompose.measure import cost
from convzoo.decompose.methods import factorize
from convzoo.decompose.target import find_targets

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def main() -> int:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for channels, side in ((16, 32), (64, 8)):
        conv = nn.Conv2d(channels, channels, 3, padding=1).eval()
        x = torch.randn(32, channels, side, side)
        target = find_targets(conv)[0]
        modules = {"dense": conv}
        for r in (channels // 4, channels * 3 // 8, channels // 2):
            modules[f"tucker ({r}, {r})"] = factorize(target, "tucker", rank=r).module.float()
        with torch.no_grad():
            times = interleaved({k: functools.partial(m.eval(), x) for k, m in modules.items()},
                                repeats=30, warmup=3)
        for name, module in modules.items():
            macs = cost(module, tuple(x.shape))[1]
            rows.append({"channels": channels, "side": side, "batch": 32, "layer": name,
                         "macs": macs, "median_ms": times[name].median_ms,
                         "min_ms": times[name].min * 1e3})
            print(rows[-1], flush=True)
    (RESULTS / "decompose_layers.json").write_text(json.dumps(
        {"conditions": "2 CPU cores shared with other jobs (load average about 12), 1 "
                       "intra-op thread, interleaved, 30 runs", "torch": torch.__version__,
         "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
