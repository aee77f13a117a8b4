"""``convzoo.optimize(model, example_input)``: a faster inference module, same outputs.

Passes, in order (each exact; no compiler, ready in well under a second for the zoo):

1. record one forward pass (:mod:`convzoo.fast.usage`): who produces and reads each tensor;
2. fold eval-mode BatchNorms into the conv before them (:mod:`convzoo.fast.fold`);
3. fold channel shuffles into the next conv's weights (:mod:`convzoo.fast.shuffle_fold`);
4. route ``torch.nn.Conv2d`` modules through the fast-path dispatch (convzoo's layers do
   it by themselves: large-kernel depthwise -> channels_last, large dense -> FFT);
5. plan one channels_last layout for 4-D inputs (:mod:`convzoo.fast.plan`): converted once
   at the input and once at the output, the remaining shuffles done NHWC;
6. fuse each 2-D conv with the ReLU/ReLU6 that alone reads its output into one oneDNN call
   (:mod:`convzoo.fast.fuse`; float32 CPU), and a residual add ``x + body(x)`` into the
   last conv of ``body`` (:mod:`convzoo.fast.residual`); ShuffleNet v2's concat + shuffle
   become one interleaving copy (:mod:`convzoo.fast.interleave`);
7. optionally hand the result to ONNX Runtime / OpenVINO, or measure and pick (``'auto'``).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from convzoo.analysis.timing import interleaved
from convzoo.fast.backends import check_backend, onnxruntime_module, openvino_module
from convzoo.fast.fold import fold_batchnorms
from convzoo.fast.fuse import fuse_convs
from convzoo.fast.interleave import interleave_units
from convzoo.fast.plan import (
    ChannelsLast,
    dispatch_torch_convs,
    layout_coverage,
    nhwc_shuffles,
)
from convzoo.fast.residual import fuse_residuals
from convzoo.fast.shuffle_fold import fold_shuffles
from convzoo.fast.usage import Usage, record_usage

__all__ = ["OptimizeReport", "Optimized", "optimize"]


@dataclass(frozen=True)
class OptimizeReport:
    """What :func:`optimize` did.

    Attributes:
        backend: the backend used (``'auto'`` resolved to the one picked).
        folded_batchnorms, folded_shuffles: rewrites applied.
        fused_activations: activations fused into the conv before them.
        fused_adds: residual adds fused into the conv producing one operand.
        interleaved_units: ShuffleNet v2 units whose concat + shuffle became one copy.
        channels_last: whether the channels_last layout was planned.
        coverage: conv calls, those with a channels_last input, and per fast path.
        max_abs_error: ``max |optimized - original|`` at the example input.
        seconds: time :func:`optimize` took.
        timings_ms: for ``'auto'``, the median ms of each candidate backend.
    """

    backend: str
    folded_batchnorms: int
    folded_shuffles: int
    fused_activations: int
    channels_last: bool
    coverage: dict[str, int]
    max_abs_error: float
    seconds: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    fused_adds: int = 0
    interleaved_units: int = 0


class Optimized(nn.Module):
    """The optimized inference module: runs ``inner`` without autograd.

    Attributes:
        inner: the rewritten network (or a backend session). report: an OptimizeReport.
    """

    def __init__(self, inner: nn.Module, report: OptimizeReport) -> None:
        super().__init__()
        self.inner = inner
        self.report = report

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.inner(x)


def _max_error(a: object, b: object) -> float:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return (a.float() - b.float()).abs().max().item() if a.numel() else 0.0
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return max((_max_error(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, dict) and isinstance(b, dict):
        return max((_max_error(a[k], b[k]) for k in a), default=0.0)
    return 0.0


def _record_probe(net: nn.Module, example: torch.Tensor) -> tuple[Usage, torch.Tensor]:
    """Record ``net`` on the first sample of a batched example (falling back to the whole
    example when the model does not take it: e.g. an unbatched input)."""
    if example.dim() >= 3 and example.shape[0] > 1:
        probe = example[:1]
        try:
            return record_usage(net, probe), probe
        except (RuntimeError, ValueError):
            pass
    return record_usage(net, example), example


def net_output(model: nn.Module, x: torch.Tensor) -> Any:
    """``model(x)`` in eval mode without gradients, the model's mode restored."""
    training = model.training
    try:
        with torch.no_grad():
            return model.eval()(x)
    finally:
        model.train(training)


def optimize(model: nn.Module, example_input: torch.Tensor, backend: str = "torch") -> Optimized:
    """An inference module computing ``model`` faster (outputs equal within float tolerance).

    The original model is not modified (a deep copy is rewritten, in eval mode).

    Args:
        model: any network (best: one built from convzoo.layers).
        example_input: an input it accepts (its shape, dtype and device are planned for;
            the ONNX backends are fixed to this shape).
        backend: ``'torch'`` (default), ``'onnxruntime'``, ``'openvino'`` (only when the
            package is importable) or ``'auto'`` (time torch and onnxruntime, keep the
            faster).

    Shape:
        same as ``model``.

    >>> from convzoo.layers import Depthwise, Pointwise
    >>> net = nn.Sequential(Pointwise(3, 8), nn.BatchNorm2d(8), nn.ReLU(), Depthwise(8, 3,
    ...                     padding=1), nn.BatchNorm2d(8)).eval()
    >>> x = torch.randn(2, 3, 16, 16)
    >>> fast = optimize(net, x)
    >>> fast.report.folded_batchnorms, torch.allclose(fast(x), net(x), atol=1e-5)
    (2, True)
    """
    backend = check_backend(backend)
    if not isinstance(example_input, torch.Tensor):
        raise ValueError(f"`example_input` (={type(example_input).__name__}) must be a tensor")
    start = time.perf_counter()
    net = copy.deepcopy(model).eval()
    with torch.no_grad():
        # the passes read the model's structure, not its batch size: record and check on one
        # sample when the example is a batch (3 passes of a batch of 8 cost ~1 s on ResNet-50)
        usage, probe = _record_probe(net, example_input)
        reference = usage.output
        bns = fold_batchnorms(net, usage)
        shuffles = fold_shuffles(net, usage)
        dispatch_torch_convs(net, example_input)
        use_cl = example_input.dim() == 4
        if use_cl:
            nhwc_shuffles(net)  # the remaining shuffles keep the layout too
        inner: nn.Module = (ChannelsLast(net) if use_cl else net).eval()
        exported: nn.Module | None = None  # ONNX backends export the unfused graph
        if backend in ("onnxruntime", "auto"):
            exported = onnxruntime_module(inner, example_input)
        elif backend == "openvino":
            exported = openvino_module(inner, example_input)
        fused = adds = units = 0
        if use_cl and backend in ("torch", "auto"):  # fused oneDNN convs want NHWC
            fused = fuse_convs(net, record_usage(inner, probe), probe)
            adds = fuse_residuals(inner, inner, probe)  # `inner` holds `net`: net replaceable
            units = interleave_units(inner)
        coverage, output = layout_coverage(inner, probe)
        error = _max_error(output, reference)
    chosen, timings = backend, {}
    if backend == "auto" and exported is not None:
        torch_inner, ort_inner = inner, exported
        with torch.no_grad():
            measured = interleaved(
                {"torch": lambda: torch_inner(example_input),
                 "onnxruntime": lambda: ort_inner(example_input)},
                repeats=7, warmup=2,
            )
        timings = {k: v.median_ms for k, v in measured.items()}
        chosen = min(timings, key=timings.__getitem__)
    if chosen != "torch" and exported is not None:
        inner = exported
        with torch.no_grad():  # the ONNX graph is fixed to the example's shape
            full = reference if probe is example_input else net_output(model, example_input)
            error = _max_error(exported(example_input), full)
    report = OptimizeReport(
        backend=chosen, folded_batchnorms=bns, folded_shuffles=shuffles,
        fused_activations=fused, channels_last=use_cl,
        coverage=coverage, max_abs_error=error, seconds=time.perf_counter() - start,
        timings_ms=timings, fused_adds=adds, interleaved_units=units,
    )
    return Optimized(inner, report)
