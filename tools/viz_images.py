"""Regenerate docs/img/compare_bars.svg (docs/visualization.md) from a fresh ``compare``, and
write the numbers it draws to benchmarks/results/compare_bars.json.

Latency is measured, so run it on a quiet machine. Usage:
``.venv/bin/python tools/viz_images.py [--repeats 50]``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from convzoo.analysis import compare
from convzoo.viz.bars import comparison_bars_svg

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
RESULTS = ROOT / "benchmarks" / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    before = os.getloadavg()[0]
    comparison = compare(32, 64, 3, (32, 32), repeats=args.repeats)
    after = os.getloadavg()[0]
    title = f"32 -> 64, k=3, 32x32 input (median of {args.repeats}, load {before:.2f})"
    (IMG / "compare_bars.svg").write_text(comparison_bars_svg(comparison, title))
    record = json.loads(comparison.to_json())
    record["load_average"] = {"before": before, "after": after}  # a run above 1.5 is noise
    (RESULTS / "compare_bars.json").write_text(json.dumps(record, indent=2) + "\n")
    for row in comparison.variants:
        print(row.name, f"{row.forward_ms:.3f} ms" if row.forward_ms is not None else "-")
    print(f"wrote {IMG / 'compare_bars.svg'} and {RESULTS / 'compare_bars.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
