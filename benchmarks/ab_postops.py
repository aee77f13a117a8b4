"""A/B of the torch backend's own choices on a loaded machine (not a test): activations as
guarded oneDNN post-ops (``fast``) vs run in place (``exact``, the issue-11 graph) vs
torch.compile(freezing), and the residual sums written into a new tensor instead of the
dead operand (``fast_sum_apart``), each model at batch 1 and 8.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/ab_postops.py [--rounds 8]
        [--models mobilenet_v2,shufflenet_v2,resnet50,plain_mobilenet_v2] [--batches 1,8]
        [--out benchmarks/results/ab_postops_issue21.json]

One intra-op thread, timed by the calling thread's CPU clock (``time.thread_time``): with
one thread all the work runs on the calling thread, so time spent pre-empted by other
processes is not counted (their cache pollution still is). Interleaved blocks
(:func:`convzoo.fast.auto.blocks`), load average before and after recorded. The quiet
machine's numbers come from ``benchmarks/optimize_table.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "fast"))

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="mobilenet_v2,shufflenet_v2,resnet50,plain_mobilenet_v2")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--out", default=str(RESULTS / "ab_postops_issue21.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    import torch._inductor.config as inductor_config
    from plain_nets import MobileNetV2, randomize_batchnorms

    import convzoo.models as zoo
    from convzoo.analysis.timing import quartiles
    from convzoo.fast import guard, optimize
    from convzoo.fast.auto import blocks
    from convzoo.fast.guard import Guarded
    from convzoo.functional.dispatch import native_only

    def _guarded(fast):
        inner = fast.inner
        while not isinstance(inner, Guarded) and hasattr(inner, "inner"):
            inner = inner.inner
        return inner

    rows = []
    for name in args.models.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            torch.manual_seed(0)
            model = MobileNetV2(1000, full=True) if name == "plain_mobilenet_v2" else \
                zoo.create(name)
            model = randomize_batchnorms(model, seed=1).eval()
            x = torch.randn(batch, 3, 224, 224)
            inner = _guarded(optimize(model, x))
            keep = guard.accumulate_in_place
            guard.accumulate_in_place = lambda gm: 0  # the same graph, sums out of place
            try:
                apart = _guarded(optimize(model, x))
            finally:
                guard.accumulate_in_place = keep
            calls = {}
            if isinstance(inner, Guarded):
                calls["fast"], calls["exact"] = inner, inner.exact
            if isinstance(apart, Guarded):
                calls["fast_sum_apart"] = apart
            if not args.no_compile:
                inductor_config.freezing = True
                torch._dynamo.reset()
                with native_only():
                    compiled = torch.compile(model)
                    with torch.no_grad():
                        compiled(x)

                def comp(t: torch.Tensor, c=compiled) -> object:
                    with native_only():
                        return c(t)
                calls["compile"] = comp

            def run(fn, t=x):
                def go() -> object:
                    with torch.no_grad():
                        return fn(t)
                return go

            before = os.getloadavg()[0]
            t = blocks({k: run(f) for k, f in calls.items()}, args.rounds, block_s=0.3,
                       clock=time.thread_time)
            row = {"model": name, "batch": batch, "load_average_before": before,
                   "load_average_after": os.getloadavg()[0],
                   "guard_checks": getattr(inner, "checks", 0)}
            for k, v in t.items():
                row[f"{k}_ms"] = v.median_ms
                q1, _, q3 = quartiles(v.samples)
                row[f"{k}_q1_q3_ms"] = [q1 * 1e3, q3 * 1e3]
            rows.append(row)
            print(json.dumps(row), flush=True)
            Path(args.out).write_text(json.dumps({"threads": 1, "clock": "thread_time",
                                                  "torch": torch.__version__, "rows": rows},
                                                 indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
