"""``Optimized.save(path)``: a file plain ONNX Runtime or OpenVINO can deploy.

- ``*.onnx``: the ONNX model of the portable graph after the rewrites ONNX Runtime gains
  from (:data:`convzoo.fast.dynamic.RUNTIME_REWRITES`), with a dynamic batch dimension;
  spatial sizes fixed at the example's (a file cannot carry the range of sizes a graph was
  proven for, which convzoo's own sessions check: :func:`convzoo.fast.dynamic.check_shape`);
- ``*.xml``: the same graph (OpenVINO's rewrites) as OpenVINO IR, its float32 weights in the
  ``.bin`` of the same name (``openvino.save_model``, no float16 compression).

The file is read back with the runtime it is meant for and verified against the original
model (:mod:`convzoo.fast.verify`) at the example and one fresh input per regime
(:mod:`convzoo.fast.regimes`), at the example's shape and at the other shapes it admits
(another batch size, other spatial sizes), before ``save`` returns; a file that differs is
deleted and refused. The file carries no NaN fix-up (convzoo's sessions send inputs holding
NaN or Inf to torch; a plain runtime cannot): such inputs are the runtime's to handle, and
are not verified (ONNX Runtime's max reductions and OpenVINO's fused activations turn NaN
into numbers, :mod:`convzoo.fast.backends`). Weights are float32 whatever ``precision``
optimize used: the runtime that loads the file chooses its inference precision (OpenVINO:
``INFERENCE_PRECISION_HINT``).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from convzoo.fast.backends import BackendModule, onnxruntime_session
from convzoo.fast.dynamic import RUNTIME_REWRITES

__all__ = ["FORMATS", "save"]

#: File suffix -> (runtime it targets, what it is).
FORMATS = {".onnx": ("onnxruntime", "ONNX"), ".xml": ("openvino", "OpenVINO IR (+ .bin)")}


def _check_path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"`path` (={path!r}) must be a file path ending in .onnx or .xml")
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        kinds = ", ".join(f"{k} ({v[1]})" for k, v in FORMATS.items())
        raise ValueError(f"`path` (={str(path)!r}) must end in one of: {kinds}")
    if p.parent and not p.parent.exists():
        raise ValueError(f"`path` (={str(path)!r}) is in a folder that does not exist: "
                         f"{p.parent}")
    runtime = FORMATS[p.suffix.lower()][0]
    if importlib.util.find_spec(runtime) is None:
        raise ValueError(f"`path` (={str(path)!r}) needs the {runtime} package to write and "
                         "verify the file, which is not installed here (pip install "
                         "'convzoo[deploy]')")
    return p


def _onnx(facts: Any, runtime: str, example: torch.Tensor) -> tuple[bytes, Any]:
    """The ONNX bytes and portable graph for ``runtime`` (exported once, cached)."""
    from convzoo.fast.optimizer import _session

    _session(runtime, facts, example, "fp32", 1, spatial=False)  # exported once, cached
    rewrites = RUNTIME_REWRITES[runtime]
    return facts.exports[("onnx", rewrites, False)], facts.exports[("portable", rewrites, False)]


def _openvino_run(xml: Path):
    """A function running the saved IR in OpenVINO (float32 inference)."""
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(xml)), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32",
                                   "INFERENCE_NUM_THREADS": torch.get_num_threads()})
    request = compiled.create_infer_request()

    def run(array: np.ndarray) -> list[np.ndarray]:
        result = request.infer({0: array})
        return [np.array(result[out], copy=True) for out in compiled.outputs]

    return run


def save(optimized: Any, path: str) -> str:
    """Write ``optimized`` (a :class:`~convzoo.fast.optimizer.Optimized`) to ``path`` (see
    the module docstring) and return the path written.

    >>> import torch.nn as nn, tempfile, os, convzoo
    >>> fast = convzoo.optimize(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval(),
    ...                         torch.randn(1, 3, 8, 8))
    >>> with tempfile.TemporaryDirectory() as d:  # doctest: +SKIP
    ...     os.path.basename(fast.save(os.path.join(d, "net.onnx")))
    'net.onnx'
    """
    from convzoo.fast.optimizer import _verify_shapes

    p = _check_path(path)
    runtime = FORMATS[p.suffix.lower()][0]
    facts, example = optimized._facts, optimized._example
    data, found = _onnx(facts, runtime, example)
    written = [p]
    try:
        if runtime == "onnxruntime":
            p.write_bytes(data)
            run = onnxruntime_session(p.read_bytes(), static=False)  # as a plain runtime
        else:
            import openvino as ov

            onnx_path = p.with_suffix(".cz-tmp.onnx")
            onnx_path.write_bytes(data)
            try:
                model = ov.Core().read_model(str(onnx_path))
            finally:
                onnx_path.unlink()
            written.append(p.with_suffix(".bin"))
            ov.save_model(model, str(p), compress_to_fp16=False)
            run = _openvino_run(p)
        module = BackendModule(run, found.sizes, facts.reference, f"saved {runtime}")
        module.input_dtype = example.dtype
        # every regime but NaN/Inf inputs: the file has no NaN fix-up (the module docstring)
        _verify_shapes(facts.source, module, example, "fp32", runtime, facts, finite_only=True)
    except Exception:
        for f in written:
            if f.exists():
                f.unlink()
        raise
    return str(p)
