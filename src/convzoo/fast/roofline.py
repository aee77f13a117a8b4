"""The machine's roofline, measured: peak float32 FLOP/s (a large matmul) and memory
bandwidth (a large copy), and the fraction of it a measured run reaches.

``roofline time = max(FLOPs / peak, min bytes / bandwidth)``; fraction = roofline time /
measured time (1.0 = at the roof). FLOPs are counted by ``torch.utils.flop_counter`` (which
reports 2 x MACs, DESIGN.md's convention); min bytes = input + output + parameters, once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from convzoo.analysis.timing import interleaved

__all__ = ["Roofline", "measure_roofline", "measure_peaks", "count_flops", "min_bytes"]


@dataclass(frozen=True)
class Roofline:
    """Measured peaks. Attributes: flops_per_s (float32 matmul), bytes_per_s (copy)."""

    flops_per_s: float
    bytes_per_s: float

    def time(self, flops: float, nbytes: float) -> float:
        """Roofline time (s) of a run with ``flops`` and ``nbytes``.

        >>> Roofline(1e9, 1e9).time(2e9, 1e9)
        2.0
        """
        return max(flops / self.flops_per_s, nbytes / self.bytes_per_s)


def measure_roofline(repeats: int = 10) -> Roofline:
    """Peak FLOP/s of a 1024x1024x1024 float32 matmul and bytes/s of a 256 MiB copy
    (read + write), medians of ``repeats`` interleaved runs."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    src = torch.empty(32 * 2**20, dtype=torch.float64).fill_(1.0)  # 256 MiB
    dst = torch.empty_like(src)
    t = interleaved({"mm": lambda: a @ b, "copy": lambda: dst.copy_(src)}, repeats, warmup=2)
    return Roofline(2 * 1024**3 / t["mm"].min, 2 * src.numel() * 8 / t["copy"].min)


def count_flops(fn, *args) -> int:
    """FLOPs (2 x MACs for convs and matmuls) of ``fn(*args)`` (forward, or whatever fn runs).

    >>> count_flops(nn.Conv2d(2, 3, 3, bias=False), torch.randn(1, 2, 5, 5))
    972
    """
    counter = FlopCounterMode(display=False)
    with counter:
        fn(*args)
    return int(counter.get_total_flops())


def min_bytes(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Input + output + parameter bytes (each touched once)."""
    params = sum(p.numel() * p.element_size() for p in module.parameters())
    return x.numel() * x.element_size() + y.numel() * y.element_size() + params


def _onnx_matmul(n: int) -> bytes:
    """An ONNX model computing ``A @ B`` for two ``n x n`` float32 inputs."""
    from onnx import TensorProto, helper

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"])], "mm", [a, b], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def measure_peaks(n: int = 2048, repeats: int = 5) -> dict[str, float]:
    """The physical floor's numerator: GFLOP/s of an ``n``-cubed matmul, best of ``repeats``,
    at torch's thread count: torch float32 and bfloat16, ONNX Runtime float32 and OpenVINO
    float32 and bfloat16 where installed (a runtime may reach more than torch on the same
    cores). Keys: ``torch_fp32``, ``torch_bf16``, ``onnxruntime_fp32``, ``openvino_f32``,
    ``openvino_bf16``."""
    import importlib.util
    import os
    import tempfile

    from convzoo.fast.auto import blocks

    flops = 2.0 * n ** 3
    a32, b32 = torch.randn(n, n), torch.randn(n, n)
    a16, b16 = a32.bfloat16(), b32.bfloat16()
    calls = {"torch_fp32": lambda: a32 @ b32, "torch_bf16": lambda: a16 @ b16}
    an, bn = a32.numpy(), b32.numpy()
    threads = torch.get_num_threads()
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(_onnx_matmul(n), opts, providers=["CPUExecutionProvider"])
        calls["onnxruntime_fp32"] = lambda: sess.run(None, {"a": an, "b": bn})
    if importlib.util.find_spec("openvino") is not None:
        import openvino as ov

        core = ov.Core()
        for hint in ("f32", "bf16"):
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "mm.onnx")
                with open(path, "wb") as f:
                    f.write(_onnx_matmul(n))
                model = core.read_model(path)
            compiled = core.compile_model(model, "CPU", {
                "INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads,
                "PERFORMANCE_HINT": "LATENCY"})
            request = compiled.create_infer_request()
            calls[f"openvino_{hint}"] = lambda r=request: r.infer({0: an, 1: bn})
    t = blocks(calls, rounds=repeats, block_s=0.2)
    return {k: flops / v.min / 1e9 for k, v in t.items()}
