"""Optional inference backends behind :func:`convzoo.optimize`: ONNX Runtime, OpenVINO.

Both run the already folded model, exported once with torch's dynamo ONNX exporter at the
example input's shape (a fixed-shape graph: other shapes raise a ValueError).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import torch
import torch.nn as nn

__all__ = ["BACKENDS", "OnnxRuntimeModule", "check_backend", "export_onnx", "onnxruntime_module"]

BACKENDS: tuple[str, ...] = ("torch", "onnxruntime", "openvino", "auto")


def check_backend(backend: object) -> str:
    """Validate a backend name; ``'openvino'`` also needs the package to be importable.

    >>> check_backend("torch")
    'torch'
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"`backend` (={backend!r}) must be one of: {', '.join(BACKENDS)}")
    if backend == "openvino" and importlib.util.find_spec("openvino") is None:
        raise ValueError(
            "`backend` (='openvino') needs the openvino package, which is not installed here; "
            "use one of: torch, onnxruntime, auto"
        )
    return backend


def export_onnx(model: nn.Module, example: torch.Tensor) -> bytes:
    """The ONNX bytes of ``model`` at ``example``'s shape (dynamo exporter, no file)."""
    program = torch.onnx.export(model, (example,), dynamo=True, verbose=False)
    return program.model_proto.SerializeToString()


class OnnxRuntimeModule(nn.Module):
    """An ONNX Runtime session wrapped as a module: ``forward(x)`` runs the session.

    Args:
        onnx_bytes: the model. input_shape: the shape it was exported at.

    Shape:
        ``input_shape`` -> the exported output shape.
    """

    def __init__(self, onnx_bytes: bytes, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            onnx_bytes, options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = tuple(input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape) != self.input_shape:
            raise ValueError(
                f"`input` shape (={tuple(x.shape)}) must be the exported shape "
                f"(={self.input_shape}) for the onnxruntime backend"
            )
        array = np.ascontiguousarray(x.detach().cpu().numpy())
        return torch.from_numpy(self.session.run(None, {self.input_name: array})[0])


def onnxruntime_module(model: nn.Module, example: torch.Tensor) -> OnnxRuntimeModule:
    """Export ``model`` and load it into ONNX Runtime."""
    return OnnxRuntimeModule(export_onnx(model, example), tuple(example.shape))


def openvino_module(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """Export ``model`` and compile it with OpenVINO (only when openvino is importable)."""
    check_backend("openvino")
    import openvino as ov  # pragma: no cover - not installed in this environment

    compiled = ov.Core().compile_model(ov.convert_model(model, example_input=example), "CPU")

    class _OpenVino(nn.Module):  # pragma: no cover
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(compiled(x.numpy())[0])

    return _OpenVino()
