"""Inference backends behind :func:`convzoo.optimize`: ONNX Runtime and OpenVINO.

Both run the portable graph (:mod:`convzoo.fast.dynamic`: the rewrites each runtime gains
from, a dynamic batch dimension and, where the model allows, dynamic spatial sizes),
exported once with torch's dynamo ONNX exporter; a shape outside the exported sizes raises
a ValueError naming them. Each input shape in use runs on its own static-shape session,
compiled from that dynamic graph on first use (:mod:`convzoo.fast.sessions`: the runtimes
plan memory and choose kernels better for a fixed shape). Each gets ``threads`` threads
(default ``torch.get_num_threads()``; ``optimize`` measures 1 and N,
:mod:`convzoo.fast.threads`).

NaN: neither runtime keeps torch's NaN semantics. ONNX Runtime's max reductions and max
pooling (``amax``, ``adaptive_max_pool2d``) return numbers where torch returns NaN; OpenVINO
2026.4 fuses ReLU and Clip (ReLU6/Hardtanh) into its convolution, and its fused activations
turn NaN into a number. The fix-up: :class:`BackendModule` sends an input holding NaN or
Inf (:func:`within_array`: one read of the input, by NumPy on the calling thread) to
``fallback``, the original model run by torch, so those inputs get torch's answer exactly;
finite inputs run on the runtime. A NaN the model could make itself from a finite input
(``0/0``), and an overflow moved by the runtime's own BatchNorm folding, are dealt with
before a session is made (:mod:`convzoo.fast.runtime_risk`): such a graph is refused, or
inputs beyond a proven magnitude (``input_limit``) run the original too.

Threads: an ONNX Runtime session may be run from several threads at once; an OpenVINO
infer request may not, so each thread gets its own request (:func:`openvino_session`).

float64: OpenVINO's CPU plugin computes in float32 at best (``INFERENCE_PRECISION_HINT``);
a float64 model is refused for it (:func:`unsupported`).
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import tempfile
import threading

import numpy as np
import torch
import torch.nn as nn
import torch.utils._pytree as pytree

from convzoo.fast.dynamic import check_shape
from convzoo.fast.sessions import ShapeSessions, input_dims, overrides
from convzoo.fast.verify import first_line

__all__ = [
    "BACKENDS", "BackendModule", "NonFiniteFallback", "check_backend", "export_onnx",
    "failure_reason", "finite", "finite_array", "onnxruntime_session", "openvino_session",
    "unsupported", "within", "within_array",
]

BACKENDS: tuple[str, ...] = ("torch", "onnxruntime", "openvino", "auto")


def check_backend(backend: object, precision: str = "fp32") -> str:
    """Validate a backend name (and its support for ``precision``).

    >>> check_backend("torch")
    'torch'
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"`backend` (={backend!r}) must be one of: {', '.join(BACKENDS)}")
    for name in ("onnxruntime", "openvino"):
        if backend == name and importlib.util.find_spec(name) is None:
            raise ValueError(
                f"`backend` (={name!r}) needs the {name} package, which is not installed "
                "here (pip install 'convzoo[deploy]'); use one of: torch, auto"
            )
    if backend == "onnxruntime" and precision == "bf16":
        raise ValueError(
            "`backend` (='onnxruntime') has no bfloat16 convolution kernels on CPU: use "
            "precision='fp32' with it, or backend='openvino' or 'torch' for precision='bf16'"
        )
    return backend


def finite(x: torch.Tensor) -> bool:
    """Whether ``x`` holds no NaN and no Inf (always, for integer and boolean tensors).

    >>> finite(torch.ones(2)), finite(torch.tensor([1.0, float("inf")]))
    (True, False)
    """
    if not (x.dtype.is_floating_point or x.dtype.is_complex) or x.numel() == 0:
        return True
    return bool(torch.isfinite(x).all())


def within(x: torch.Tensor, limit: float = math.inf) -> bool:
    """Whether ``x`` holds no NaN and no Inf and ``max |x| <= limit`` (always, for integer
    and boolean tensors): one read of ``x``.

    >>> within(torch.ones(2), 1.0), within(torch.full((2,), 3.0), 2.0)
    (True, False)
    >>> within(torch.tensor([float("nan")]), 2.0)
    False
    """
    if not (x.dtype.is_floating_point or x.dtype.is_complex) or x.numel() == 0:
        return True
    if math.isinf(limit) or x.dtype.is_complex:
        return finite(x) and (math.isinf(limit) or bool(x.abs().max() <= limit))
    lo, hi = torch.aminmax(x.detach().reshape(-1))
    return bool(-lo <= limit) and bool(hi <= limit)  # NaN fails both


def finite_array(a: np.ndarray) -> bool:
    """Whether a NumPy array holds no NaN and no Inf (always, for integer and boolean
    arrays). NumPy's vectorized check on the calling thread: it leaves the runtime's own
    threads their cores, where ``torch.isfinite(x).all()`` wakes torch's OpenMP pool to
    compete with them on every call (``benchmarks/runtime_overhead.py`` times both).

    >>> finite_array(np.ones(3, np.float32)), finite_array(np.array([1.0, np.nan]))
    (True, False)
    >>> finite_array(np.full(4, 3e38, np.float32)), finite_array(np.array([np.inf, -np.inf]))
    (True, False)
    """
    if a.dtype.kind not in "fc" or a.size == 0:
        return True
    return bool(np.isfinite(a).all())


def within_array(a: np.ndarray, limit: float = math.inf) -> bool:
    """:func:`within` for a NumPy array, on the calling thread (as :func:`finite_array`):
    no NaN, no Inf and ``max |a| <= limit``.

    >>> within_array(np.ones(2, np.float32), 1.0), within_array(np.full(2, 3.0), 2.0)
    (True, False)
    >>> within_array(np.array([np.nan]), 2.0), within_array(np.array([np.inf]))
    (False, False)
    """
    if math.isinf(limit) or a.dtype.kind not in "fc" or a.size == 0:
        return finite_array(a)
    return bool(np.abs(a).max() <= limit)  # NaN compares False; Inf exceeds any finite limit


class NonFiniteFallback(nn.Module):
    """``main(x)`` for finite inputs, ``fallback(x)`` for inputs holding NaN or Inf (the NaN
    fix-up of a computation that does not keep torch's NaN semantics).

    >>> m = NonFiniteFallback(nn.Identity(), nn.Flatten(0))
    >>> m(torch.ones(1, 2)).shape, m(torch.full((1, 2), float("nan"))).shape
    (torch.Size([1, 2]), torch.Size([2]))
    """

    def __init__(self, main: nn.Module, fallback: nn.Module) -> None:
        super().__init__()
        self.main, self.fallback = main, fallback

    def forward(self, x: torch.Tensor) -> object:
        return self.main(x) if finite(x) else self.fallback(x)


def unsupported(name: str, dtype: torch.dtype) -> str | None:
    """Why backend ``name`` cannot compute a model of input ``dtype`` exactly, or None.

    >>> unsupported("openvino", torch.float64)[:41]
    'OpenVINO computes float64 models in float'
    >>> unsupported("onnxruntime", torch.float64) is None
    True
    """
    if name == "openvino" and dtype == torch.float64:
        return ("OpenVINO computes float64 models in float32 (its CPU plugin has no float64 "
                "kernels), beyond the float64 tolerance; use backend='torch' or 'onnxruntime'")
    return None


def failure_reason(exc: BaseException) -> str:
    """One line saying why an exporter or runtime failed: the innermost cause of a chained
    error (the ONNX exporter wraps it twice), or the line of a runtime's multi-line report
    that names what is unsupported.

    >>> failure_reason(RuntimeError("Exception from core.cpp:84:\\nUnsupported padding mode"))
    'RuntimeError: Unsupported padding mode'
    """
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 10:
        chain.append(chain[-1].__cause__)
    inner = chain[-1]
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(inner))
    lines = [ln.strip(" -") for ln in text.splitlines() if ln.strip(" -")]
    telling = [ln for ln in lines if re.search(r"unsupported|not supported|failed for", ln, re.I)]
    line = " ".join(dict.fromkeys(telling)) if telling else first_line(inner)
    if len(line) > 200:
        line = line[:196].rsplit(" ", 1)[0] + " ..."
    where = f" (in: {first_line(chain[-2], 100)})" if len(chain) > 1 else ""
    return f"{type(inner).__name__}: {line}{where}"


def export_onnx(model: nn.Module, example: torch.Tensor) -> bytes:
    """The ONNX bytes of ``model`` at ``example``'s shape (dynamo exporter, no file), exported
    in eval mode (its own mode restored after)."""
    was_training = model.training
    model.eval()
    try:
        program = torch.onnx.export(model, (example,), dynamo=True, verbose=False)
    finally:
        model.train(was_training)
    return program.model_proto.SerializeToString()


class BackendModule(nn.Module):
    """A compiled session (ONNX Runtime or OpenVINO) wrapped as a module.

    Args:
        run: numpy array in -> list of numpy arrays out. input_shape: the exported shape,
            each size an int (fixed) or ``(min, max)`` (dynamic, max None: unbounded).
        template: an output of the original model (its structure; non-tensor leaves kept).
        name: the backend's name (for messages).
        fallback: the module that computes inputs holding NaN or Inf (torch's NaN semantics,
            which neither runtime keeps; see the module docstring), or None.
        input_limit: inputs with ``max |x|`` beyond it run on ``fallback`` too (``inf``:
            only those holding NaN or Inf; :mod:`convzoo.fast.runtime_risk`).

    Shape:
        ``input_shape`` -> the exported output shapes.
    """

    def __init__(self, run, input_shape: tuple[int | tuple[int, int | None], ...],
                 template: object, name: str, fallback: nn.Module | None = None,
                 input_limit: float = math.inf) -> None:
        super().__init__()
        self.run, self.input_shape, self.name = run, tuple(input_shape), name
        self.fallback, self.input_limit = fallback, input_limit
        self.input_dtype: torch.dtype | None = None  # the exported dtype (set by the caller)
        leaves, self.spec = pytree.tree_flatten(template)
        self.leaves = leaves
        self.slots = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)]
        self._taken: set[tuple[int, ...]] = set()  # input shapes checked against input_shape

    @property
    def sessions(self) -> ShapeSessions | None:
        """The per-shape static sessions behind :attr:`run` (None: one session)."""
        return self.run if isinstance(self.run, ShapeSessions) else None

    def forward(self, x: torch.Tensor) -> object:
        shape = tuple(x.shape)
        if shape not in self._taken:  # checked once per shape
            check_shape(shape, self.input_shape, f"the {self.name} backend")
            self._taken.add(shape)
        if self.input_dtype is not None and x.dtype != self.input_dtype:
            raise ValueError(
                f"`input` dtype (={x.dtype}) must be the exported dtype (={self.input_dtype}) "
                f"for the {self.name} backend"
            )
        array = np.ascontiguousarray(x.detach().cpu().numpy())
        if self.fallback is not None and not within_array(array, self.input_limit):
            return self.fallback(x)  # NaN/Inf, or beyond the proven magnitude: exact
        outs = self.run(array)
        if len(outs) != len(self.slots):
            raise ValueError(f"the {self.name} graph returned {len(outs)} tensors, the model "
                             f"{len(self.slots)} (a non-tensor output computed from the input, "
                             "such as a size, becomes a tensor there)")
        leaves = list(self.leaves)
        for slot, array in zip(self.slots, outs):
            leaves[slot] = torch.from_numpy(np.asarray(array))
        return pytree.tree_unflatten(leaves, self.spec)


def onnxruntime_session(onnx_bytes: bytes, threads: int | None = None, static: bool = True):
    """A function running the ONNX model in ONNX Runtime, with ``threads`` intra-op
    threads (default: torch's thread count). ``static``: one session per input shape, its
    symbolic dimensions pinned to that shape (:class:`~convzoo.fast.sessions.ShapeSessions`);
    else one session for every shape (what a plain runtime loading the file does)."""
    import onnxruntime as ort

    count = threads or torch.get_num_threads()
    dims = input_dims(onnx_bytes) if static else []

    def build(shape: tuple[int, ...] | None):
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = count
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if shape is not None:
            pins = overrides(dims, shape)
            if pins is None:
                raise ValueError(f"no static ONNX Runtime session for shape {shape}")
            for name, size in pins.items():
                options.add_free_dimension_override_by_name(name, size)
        session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda array: session.run(None, {name: array})

    return ShapeSessions(build) if static and any(isinstance(d, str) for d in dims) \
        else build(None)


def openvino_session(onnx_bytes: bytes, precision: str = "fp32", threads: int | None = None,
                     static: bool = True):
    """A function running the ONNX model in OpenVINO (CPU), with ``threads`` threads
    (default: torch's thread count) and the inference precision ``'f32'`` or ``'bf16'``;
    safe to call from several threads (an infer request is not: each thread gets its own).
    ``static``: one compiled model per input shape (``Model.reshape`` to it,
    :class:`~convzoo.fast.sessions.ShapeSessions`); else one for every shape."""
    import openvino as ov

    core = ov.Core()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        with open(path, "wb") as f:
            f.write(onnx_bytes)
        model = core.read_model(path)
    config = {
        "INFERENCE_NUM_THREADS": threads or torch.get_num_threads(),
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        "PERFORMANCE_HINT": "LATENCY",
    }

    def build(shape: tuple[int, ...] | None):
        if shape is None:
            compiled = core.compile_model(model, "CPU", config)
        else:
            fixed = model.clone()
            fixed.reshape(ov.PartialShape(list(shape)))
            compiled = core.compile_model(fixed, "CPU", config)
        local = threading.local()
        outputs = compiled.outputs

        def run(array: np.ndarray) -> list[np.ndarray]:
            request = getattr(local, "request", None)
            if request is None:
                request = local.request = compiled.create_infer_request()
            result = request.infer({0: array})
            return [np.array(result[out], copy=True) for out in outputs]  # reused buffers

        return run

    dynamic = model.inputs[0].get_partial_shape().is_dynamic
    return ShapeSessions(build) if static and dynamic else build(None)
