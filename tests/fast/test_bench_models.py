"""The model benchmark's rows (slow: it builds every contender, ONNX exports included)."""

from __future__ import annotations

import pytest

from convzoo.fast.bench import bench_models


@pytest.mark.slow
def test_bench_models_rows() -> None:
    import torch.nn as nn

    extra = {"plain": lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
                                            nn.ReLU6())}
    rows = bench_models(["mobilenet_v2", "no_such_model"], batches=(1,), repeats=3, size=32,
                        compile_=False, log=lambda line: None, extra=extra)
    assert [r["model"] for r in rows] == ["mobilenet_v2", "plain"]
    for r in rows:
        for key in ("eager", "optimize", "optimize_auto", "onnxruntime"):
            assert r[f"{key}_ms"] > 0 and r[f"{key}_speedup"] > 0
        assert r["optimize_auto_picked"] in r["optimize_auto_timings_ms"]
