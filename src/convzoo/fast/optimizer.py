"""``convzoo.optimize(model, example_input)``: a faster inference module, same outputs.

Passes, in order, all on the captured graph (:mod:`convzoo.fast.capture`; no compiler):

1. capture the eval-mode model as a functional ATen graph, or refuse what cannot be
   captured soundly (data-dependent control flow, tensors leaving torch, state changed by
   forward, hooks, submodules in training mode, step functions on rounded values) with a
   one-line :class:`~convzoo.fast.refusal.Refusal` (a ValueError);
2. constant folding, BatchNorm folding after convs and before unpadded convs
   (:mod:`convzoo.fast.fold`), channel-shuffle folding (:mod:`convzoo.fast.shuffle_fold`);
3. ``backend='torch'``: concat + shuffle as one copy (:mod:`convzoo.fast.interleave`), one
   channels_last plan and the large-kernel fast paths (:mod:`convzoo.fast.plan`), conv +
   activation and conv + add (+ activation) fused into oneDNN calls
   (:mod:`convzoo.fast.fuse`); ``precision='bf16'`` (:mod:`convzoo.fast.precision`);
4. ONNX Runtime / OpenVINO run the graph after step 2, exported with a dynamic batch (and
   spatial sizes where the model allows: :mod:`convzoo.fast.dynamic`), compiled once per
   input shape in use with that shape fixed (:mod:`convzoo.fast.sessions`), with the NaN
   fix-up (:mod:`convzoo.fast.backends`), each runtime's rewrites kept only where they do
   not measure slower; every candidate runs at 1 and ``torch.get_num_threads()`` threads
   (:mod:`convzoo.fast.threads`) and one tournament keeps the fastest
   (:mod:`convzoo.fast.pick`);
5. verification: the result and the original model on the example and on one fresh input
   per regime (:mod:`convzoo.fast.regimes`), for a runtime also at another batch and
   spatial size; beyond the pinned tolerance, refused (:mod:`convzoo.fast.verify`).

Each call of the result returns fresh tensors laid out as the original's
(:mod:`convzoo.fast.outputs`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn
import torch.utils._pytree as pytree

from convzoo.analysis.timing import quartiles
from convzoo.fast.backends import (
    BackendModule,
    NonFiniteFallback,
    check_backend,
    failure_reason,
    onnxruntime_session,
    openvino_session,
    unsupported,
)
from convzoo.fast.capture import capture, private_copy
from convzoo.fast.determinism import check_repeatable
from convzoo.fast.dynamic import (
    RUNTIME_REWRITES,
    check_shape,
    export_portable,
    other_shapes,
    portable,
)
from convzoo.fast.fft_guard import FFTNoise
from convzoo.fast.fold import fold_batchnorms, fold_batchnorms_before, fold_constants
from convzoo.fast.graph import conv_call
from convzoo.fast.guard import Guarded, Reference, fuse_guarded, guard_folds
from convzoo.fast.interleave import interleave_concats, split_interleaves
from convzoo.fast.outputs import finish, storages, strides_of
from convzoo.fast.pick import pick
from convzoo.fast.plan import FFTConv, fft_paths, plan_channels_last
from convzoo.fast.precision import check_precision, to_bf16
from convzoo.fast.refusal import Refusal, refuse
from convzoo.fast.regimes import finite_statistics
from convzoo.fast.relayout import reverify
from convzoo.fast.runtime_risk import runtime_risk
from convzoo.fast.shuffle_fold import fold_shuffles
from convzoo.fast.state import check_structure
from convzoo.fast.threads import Threaded, ThreadPlan
from convzoo.fast.verify import (
    Check,
    Verified,
    checks,
    first_line,
    fresh_input,
    inputs_per_regime,
    regime_scales,
    verification_seed,
    verify,
    with_scales,
)
from convzoo.functional.dispatch import native_only

__all__ = ["INFERENCE_ONLY", "NOT_PORTABLE", "OptimizeReport", "Optimized", "Refusal",
           "optimize"]

INFERENCE_ONLY = "`Optimized` is inference-only: {what} is not supported; use the original model"
NOT_PORTABLE = ("`Optimized` cannot be copied: {what} is not supported (it holds weights "
                "prepacked for this machine's oneDNN); use .save('model.onnx') or "
                ".save('model.xml') for a deployable file, or copy or save the original model "
                "and call convzoo.optimize again")


@dataclass(frozen=True)
class OptimizeReport:
    """What :func:`optimize` did and how close the result is.

    Attributes:
        backend: the backend used (``'auto'`` resolved to the one picked).
        folded_batchnorms, folded_shuffles: rewrites applied (BatchNorms folded before and
            after convs; channel permutations folded into the next conv).
        channels_last: whether the channels_last layout was planned.
        coverage: conv nodes of the final graph: ``convs``, ``fused`` (oneDNN calls with a
            prepacked weight, post-ops fused where found), ``fft``, ``native``.
        max_abs_error: the larger of ``example_error`` and ``fresh_error``.
        seconds: time :func:`optimize` took.
        timings_ms: for ``'auto'``, the median ms of each candidate backend.
        dropped: for ``'auto'``, each candidate backend left out and why (it failed to
            export or compile the model, or its result failed verification).
        fused_adds: residual adds fused into the conv producing one operand.
        interleaved_units: concat + channel shuffle pairs done as one copy.
        precision: ``'fp32'`` or ``'bf16'``.
        capture: ``'export'`` (torch.export) or ``'fx'`` (torch.fx fallback).
        example_error, fresh_error: ``max |optimized - original|`` at the example and at a
            fresh input drawn like it (for ``'bf16'``: against the fp32 original).
        tolerance: the larger absolute bound those two errors were checked against: each
            output leaf gets ``rtol(dtype) * max |original leaf| + tiny``; for ``'bf16'``
            ``rtol * max(max |original leaf|, s_R) + tiny`` with ``s_R`` the input regime's
            output scale (``regime_scales``; :func:`convzoo.fast.verify.compare`).
        fused_activations: activations after a fused conv (or conv + add): oneDNN
            post-ops where :mod:`convzoo.fast.guard` proves no NaN can reach them, else run
            in place on its output (torch's NaN semantics kept either way).
        regime_errors: every input the result was verified on (a key of
            :data:`convzoo.fast.regimes.REGIMES`: the example and one fresh input per regime
            the original accepts; for a runtime also each other input shape it was verified
            at, as ``regime@shape``) -> ``(max abs error, bound)`` (for ``'bf16'``, three
            inputs per regime: the largest of each).
        regime_scales: for ``'bf16'``, ``regime -> output leaf -> s_R``
            (:func:`convzoo.fast.verify.regime_scale` of the model at the example): the
            output scale its error bound is relative to, at every input shape; empty for
            ``'fp32'``.
        constants: tensors forward reads from outside the model (module-level globals,
            closure variables), captured as constants at optimize time: a later change to
            them is not seen by the result (as for the model's own weights: optimize works
            on a private copy).
        nan_fixup: for ONNX Runtime, OpenVINO and bfloat16, which do not keep torch's NaN
            semantics: how inputs holding NaN or Inf are computed instead ('' for
            ``'torch'`` in fp32, which keeps them).
        fft_native: why the FFT path was left out (every conv native), '' when it was not.
        hooks: forward hooks and pre-hooks captured in the graph (they change no state, so
            the graph computing their effect replays them on every call); a hook that
            changes state is refused instead.
        threads: the :class:`~convzoo.fast.threads.ThreadPlan` the result runs at (1 or
            ``torch.get_num_threads()``, or a per-region plan), set only inside its calls.
        post_op_activations, guard_checks: activations fused as oneDNN post-ops, and the
            tensors checked per call so that they see no NaN (:mod:`convzoo.fast.guard`).
        candidates_ms: every measured candidate (``backend@threads``): median, first and
            third quartile of its block times, ms per call (:mod:`convzoo.fast.auto`).
        decision: why the chosen candidate won, in one sentence; within_noise: the
            candidates not told apart from the fastest.
        input_sizes: the input shapes the result takes, per dimension an int (fixed) or
            ``(min, max)`` (max None: unbounded).
        precision_note: for ``precision='bf16'``, the chosen bfloat16 result timed against
            the same backend in float32 at the same thread count (interleaved blocks): says
            when bfloat16 measured slower (``'bf16 measured slower than fp32 here (X vs Y
            ms)'``; the bfloat16 result is kept, as asked). fp32_ms: that float32 time.
        runtime_rewrites: per runtime candidate whose rewrites applied to this model, what
            timing them against the same export without rewrites found ('... kept (X ms
            with, Y ms without)' or '... dropped: slower here (...)').
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
    precision: str = "fp32"
    capture: str = "export"
    example_error: float = 0.0
    fresh_error: float = 0.0
    tolerance: float = 0.0
    dropped: dict[str, str] = field(default_factory=dict)
    regime_errors: dict[str, tuple[float, float]] = field(default_factory=dict)
    constants: tuple[str, ...] = ()
    nan_fixup: str = ""
    fft_native: str = ""
    hooks: tuple[str, ...] = ()

    threads: ThreadPlan | None = None
    post_op_activations: int = 0
    guard_checks: int = 0
    candidates_ms: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    decision: str = ""
    within_noise: tuple[str, ...] = ()
    input_sizes: tuple[object, ...] = ()
    regime_scales: dict[str, dict[str, float]] = field(default_factory=dict)
    precision_note: str = ""
    fp32_ms: float | None = None
    runtime_rewrites: dict[str, str] = field(default_factory=dict)

NAN_FIXUP = ("inputs holding NaN or Inf run the original model in torch (torch's NaN "
             "semantics)")


@dataclass
class _Facts:
    """What the passes of :func:`_build` found and did (read by the report and sessions).

    Attributes:
        capture: ``'export'`` or ``'fx'``. reference: the original's output at the example.
        portable: the graph after the portable rewrites (what the ONNX backends export).
        checks: the verification inputs with the original's outputs on them.
        strides: the strides of the original's output leaves at the example.
        constants: tensors read from globals or closures, captured (described).
        hooks: the hooks captured in the graph (described).
        bns, shuffles, units, acts, adds: rewrites applied. channels_last: planned.
        coverage: conv nodes of the torch graph. verified: the torch graph's verification.
        fft_native: why the FFT path was left out ('' when it was not).
        fallback: the NaN fix-up module of the torch graph in bf16 (built on first use).
        source: the model (private eval copy). exact: it in float64 (built on first use).
        bns_before: BatchNorms folded into a following conv (of ``bns``).
        post_ops, guard_checks: activations fused as oneDNN post-ops, tensors checked.
        exports: ``("portable" | "onnx", rewrites, spatial)`` -> each runtime's dynamic
            graph and its ONNX bytes (:func:`_session`, built once).
        shape_checks: input shape -> the verification inputs at that shape (another batch
            or spatial size, :func:`_verify_shapes`), built once.
        precision: the one requested. scales: for ``'bf16'``, each regime's output scale
            (:func:`convzoo.fast.verify.regime_scales`), attached to every check.
    """

    capture: str
    reference: object
    portable: fx.GraphModule
    checks: list[Check]
    strides: tuple[tuple[int, ...] | None, ...]
    constants: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()
    bns: int = 0
    shuffles: int = 0
    units: int = 0
    channels_last: bool = False
    acts: int = 0
    adds: int = 0
    coverage: dict[str, int] = field(default_factory=dict)
    verified: Verified | None = None
    fft_native: str = ""
    fallback: nn.Module | None = None
    source: nn.Module | None = None
    exact: Callable[[], nn.Module] | None = None
    bns_before: int = 0
    post_ops: int = 0
    guard_checks: int = 0
    exports: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    shape_checks: dict[tuple[int, ...], list[Check]] = field(default_factory=dict)
    precision: str = "fp32"
    scales: dict[str, dict[str, float]] = field(default_factory=dict)


class _NoBackward(torch.autograd.Function):
    """Identity forward; backward refuses (outputs of an inference-only module). The outputs
    are returned themselves (marked dirty, not as views), so in-place ops on them work as on
    any tensor; they must be fresh tensors (see :func:`convzoo.fast.outputs.finish`)."""

    @staticmethod
    def forward(ctx: Any, token: torch.Tensor, *outs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.mark_dirty(*outs)
        return outs

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> None:
        raise RuntimeError(INFERENCE_ONLY.format(what="backward"))


class Optimized(nn.Module):
    """The optimized inference module.

    Inference only: ``training`` is always False, ``train()`` raises, and with grad mode on
    the outputs carry a ``grad_fn`` whose backward raises (under ``torch.no_grad()`` or
    ``torch.inference_mode()`` they are plain tensors). Every call returns fresh tensors
    (never a constant, the input, or one tensor twice) with the strides the original's
    outputs have at that input. Another input shape than the example's (or another dtype,
    device, layout or strides) is optimized (and verified) on first use, for
    ``backend='torch'``, at the chosen thread count; where that result is refused, inputs
    of that kind run the original model (exact, slower; a ``RuntimeWarning`` says why,
    :attr:`fallbacks` keeps it). The runtimes take any batch size (and spatial sizes where
    the model allows: ``report.input_sizes``), verified at optimize time at the example's
    and at other shapes. Safe to call from several threads at once, on every backend.
    :meth:`save` writes ONNX or OpenVINO IR.

    Attributes:
        inner: the rewritten graph (or a backend session) for the example's shape.
        report: an :class:`OptimizeReport`.
        fallbacks: input key (shape, dtype, device, layout, strides) -> the refusal that
            made inputs of that kind run the original model.
    """

    def __init__(self, inner: nn.Module, report: OptimizeReport, source: nn.Module,
                 options: dict[str, Any], key: tuple[Any, ...],
                 strides: tuple[tuple[int, ...] | None, ...] = ()) -> None:
        super().__init__()
        self.inner = inner
        self.report = report
        self._source = [source]  # the original (eval copy), not a registered submodule
        self._options = options
        self._shapes: dict[tuple[Any, ...], nn.Module] = {key: inner}  # by _key(input)
        self._layouts: dict[tuple[Any, ...], tuple[Any, set[int]]] = {
            key: (strides, storages(inner))}  # the original's output strides, held memory
        self._lock = threading.Lock()  # one build per new key, whatever the threads
        self.fallbacks: dict[tuple[Any, ...], str] = {}  # keys running the original, and why
        self._token = torch.zeros((), requires_grad=True)
        self.training = False

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "training" and value and "_options" in self.__dict__:
            raise ValueError(INFERENCE_ONLY.format(what="training=True"))
        super().__setattr__(name, value)

    def __deepcopy__(self, memo: dict[int, Any]) -> Optimized:
        raise ValueError(NOT_PORTABLE.format(what="copy.deepcopy()"))

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise ValueError(NOT_PORTABLE.format(what="pickling (torch.save)"))

    def _apply(self, fn: Any, recurse: bool = True) -> Optimized:
        raise ValueError(
            "`Optimized` is fixed to the dtype and device it was optimized for: .to(), "
            ".double(), .half(), .cuda() and the like are not supported; convert the original "
            "model and call convzoo.optimize again")

    def save(self, path: str) -> str:
        """Write a deployable artifact: ``*.onnx`` (the ONNX model after convzoo's rewrites
        for ONNX Runtime) or ``*.xml`` (OpenVINO IR, weights in the ``.bin`` beside it),
        with a dynamic batch dimension (and spatial sizes where the model allows). Plain
        onnxruntime / openvino load it without convzoo. Returns the path written
        (:func:`convzoo.fast.artifact.save`)."""
        from convzoo.fast.artifact import save

        return save(self, path)

    def train(self, mode: bool = True) -> Optimized:
        """Only ``train(False)`` (``eval()``) is allowed."""
        if mode:
            raise ValueError(INFERENCE_ONLY.format(what="train()"))
        return self

    def forward(self, x: torch.Tensor) -> Any:
        key = _key(x)
        if key not in self._shapes:
            self._add(key, x)
        inner = self._shapes[key]
        strides, held = self._layouts[key]
        with torch.no_grad():
            out = inner(x)
        leaves, spec = finish(out, strides, x, held)
        if torch.is_grad_enabled():
            slots = [i for i, t in enumerate(leaves) if isinstance(t, torch.Tensor)
                     and t.dtype.is_floating_point]
            # autograd lets a Function that marks a view dirty return one tensor only: an
            # output that is a view (an expanded output) gets a Function of its own
            views = [i for i in slots if leaves[i]._base is not None]
            for group in [[i for i in slots if i not in views]] + [[i] for i in views]:
                if group:
                    guarded = _NoBackward.apply(self._token, *[leaves[i] for i in group])
                    for i, t in zip(group, guarded):
                        leaves[i] = t
        return pytree.tree_unflatten(leaves, spec)

    def _add(self, key: tuple[Any, ...], x: torch.Tensor) -> None:
        """The module (and the original's output strides) for a new input key: built and
        verified for ``backend='torch'`` (run at the chosen thread count); for a runtime,
        the session, verified on every regime at a shape it was not verified at before
        (a shape or dtype it does not take: it raises itself, naming the sizes it takes).
        Where the result is refused, inputs of that kind run the original (said)."""
        with self._lock:
            if key in self._shapes:
                return
            source = self._source[0]
            try:
                if self.report.backend == "torch":
                    inner, facts = _build(source, x, **self._options)
                    strides = facts.strides
                    plan = self.report.threads
                    if plan is not None:  # the chosen count (a region plan is per shape)
                        inner = Threaded(inner, ThreadPlan(plan.threads, plan.available))
                else:
                    inner, strides = self.inner, ()
                    if _takes(inner, x):  # the original's output strides at this input
                        with native_only():
                            strides = strides_of(_run(source, x))
                        self._verify_shape(inner, tuple(x.shape))
                        example = getattr(self, "_example", None)
                        if example is None or not _same_layout(x, example):
                            # verified in that layout (a forward may branch on it)
                            reverify(source, inner, x, _head(source, self.report.backend,
                                     self.report.precision), self.report.precision,
                                     self._options.get("scales"))
            except Refusal as exc:  # this shape runs the original: exact, and said
                inner, strides = _Original(source), ()
                self.fallbacks[key] = str(exc)
                warnings.warn(f"convzoo.optimize: inputs of shape {tuple(x.shape)} "
                              f"({x.dtype}) run the original model: {exc}", RuntimeWarning,
                              stacklevel=3)
            self._layouts[key] = (strides, storages(inner))
            self._shapes[key] = inner

    def _verify_shape(self, session: nn.Module, shape: tuple[int, ...]) -> None:
        """Verify a runtime session at ``shape`` on every regime (the example's shape was
        verified at optimize time; the inputs at a shape are drawn once, the session runs
        on them once per new input key)."""
        facts: _Facts | None = getattr(self, "_facts", None)
        example = getattr(self, "_example", None)
        if facts is None or example is None or shape == tuple(example.shape):
            return
        found = _checks_at(facts, example, shape)
        backend, precision = self.report.backend, self.report.precision
        verify(session, found, precision, _head(facts.source, backend, precision),
               _hint(backend, precision))

    def _verify_rebuilt(self, shape: tuple[int, ...]) -> None:
        """Verify the runtime's session for ``shape`` built again after the per-shape cache
        dropped it (:class:`~convzoo.fast.sessions.ShapeSessions`), on every regime at that
        shape (the inputs drawn when it was first verified)."""
        facts: _Facts = self._facts
        example: torch.Tensor = self._example
        found = facts.checks if shape == tuple(example.shape) else \
            _checks_at(facts, example, shape)
        backend, precision = self.report.backend, self.report.precision
        verify(self.inner, found, precision, _head(facts.source, backend, precision),
               _hint(backend, precision))


def _takes(session: nn.Module, x: torch.Tensor) -> bool:
    """Whether a runtime session takes ``x`` (its shape within the exported sizes, its
    dtype the exported one)."""
    try:
        check_shape(tuple(x.shape), session.input_shape, "the session")
    except ValueError:
        return False
    return getattr(session, "input_dtype", None) in (None, x.dtype)


def _same_layout(x: torch.Tensor, example: torch.Tensor) -> bool:
    """Whether ``x`` is laid out as the example (contiguous or channels_last alike) and
    alike in ``requires_grad``: what the verification inputs at any shape reproduce.

    >>> e = torch.zeros(1, 2, 3, 3)
    >>> _same_layout(torch.ones(4, 2, 5, 5), e), _same_layout(
    ...     e.contiguous(memory_format=torch.channels_last), e)
    (True, False)
    """
    formats = [torch.contiguous_format] + ([torch.channels_last] if x.dim() == 4 else [])
    return (x.requires_grad == example.requires_grad and x.dim() == example.dim()
            and all(x.is_contiguous(memory_format=f) == example.is_contiguous(memory_format=f)
                    for f in formats))


class _Original(nn.Module):
    """The original model (the private eval copy), for inputs whose optimized graph was
    refused."""

    def __init__(self, source: nn.Module) -> None:
        super().__init__()
        self.source = source

    def forward(self, x: torch.Tensor) -> Any:
        return self.source(x)


def _key(x: torch.Tensor) -> tuple[Any, ...]:
    """What a graph is specialized to: the input's shape, dtype, device, layout, strides
    (the original's output strides may follow the input's) and requires_grad (a forward may
    branch on either)."""
    strides = tuple(x.stride()) if x.layout == torch.strided else ()
    return tuple(x.shape), x.dtype, x.device, x.layout, strides, x.requires_grad


def _run(model: nn.Module, x: torch.Tensor) -> Any:
    with torch.no_grad():
        return model(x)


def _freeze(gm: fx.GraphModule) -> fx.GraphModule:
    """Drop unused attributes; parameters become buffers (nothing left to train)."""
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    used = {str(n.target) for n in gm.graph.nodes if n.op == "get_attr"}
    for name, _ in list(gm.named_parameters()) + list(gm.named_buffers()):
        owner, _, attr = name.rpartition(".")
        mod = gm.get_submodule(owner)
        tensor = getattr(mod, attr)
        delattr(mod, attr)
        if name in used:
            mod.register_buffer(attr, tensor.detach())
    gm.recompile()
    return gm


def _coverage(gm: fx.GraphModule) -> dict[str, int]:
    counts = {"convs": 0, "fused": 0, "fft": 0, "native": 0}
    fused = (torch.ops.mkldnn._convolution_pointwise.default,
             torch.ops.mkldnn._convolution_pointwise.binary,
             torch.ops.mkldnn._convolution_pointwise_.binary)
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in fused:
            counts["fused"] += 1
        elif node.op == "call_module" and isinstance(gm.get_submodule(node.target), FFTConv):
            counts["fft"] += 1
        elif conv_call(node) is not None:
            counts["native"] += 1
        else:
            continue
        counts["convs"] += 1
    return counts


def _build(model: nn.Module, example: torch.Tensor, backend: str = "torch",
           precision: str = "fp32", method: str = "export",
           scales: dict[str, dict[str, float]] | None = None) -> tuple[nn.Module, _Facts]:
    """The torch-backend module for ``example``'s shape, verified, and what was done
    (``backend``: the one requested, named in refusals; ``scales``: see :func:`_portable`)."""
    facts = _portable(model, example, backend, method, precision, scales)
    return _torch_module(model, facts, example, precision, backend), facts


def _portable(model: nn.Module, example: torch.Tensor, backend: str,
              method: str = "export", precision: str = "fp32",
              scales: dict[str, dict[str, float]] | None = None) -> _Facts:
    """Capture, the portable rewrites (constant, BatchNorm and shuffle folding) and the
    verification inputs with the original's outputs (computed once, for every backend;
    for ``'bf16'`` three per regime, each carrying its regime's output scale: ``scales``,
    those of the optimize call at another input shape, else measured on these inputs)."""
    cap = capture(model, example, method, backend)
    gm = cap.gm
    fold_constants(gm)
    after = fold_batchnorms(gm)
    before = fold_batchnorms_before(gm)
    shuffles = fold_shuffles(gm)
    gm = copy.deepcopy(gm)  # a plain GraphModule (export's own refuses .eval(), ONNX needs it)
    gm.recompile()
    exact = functools.cache(lambda: copy.deepcopy(model).double())  # built if needed
    with native_only():  # the original as defined: convzoo layers' own fast paths off
        found = checks(model, example, cap.reference, seed=verification_seed(example),
                       exact=exact, count=inputs_per_regime(precision))
        check_repeatable(model, lambda: _run(model, example), cap.reference, backend,
                         ", after the verification inputs")
    if precision == "bf16":
        scales = regime_scales(found) if scales is None else scales
        with_scales(found, scales)
    return _Facts(capture=cap.method, reference=cap.reference, portable=gm, checks=found,
                  strides=strides_of(cap.reference), constants=cap.constants, hooks=cap.hooks,
                  bns=after + before, shuffles=shuffles, source=model, exact=exact,
                  bns_before=before, precision=precision,
                  scales=scales if precision == "bf16" and scales else {})


def _head(model: nn.Module, backend: str, precision: str) -> str:
    return (f"`model` ({type(model).__name__}) optimized with backend={backend!r}, "
            f"precision={precision!r}")


def _hint(backend: str, precision: str) -> str:
    """What a user whose result was refused can try (appended to the refusal)."""
    if precision == "bf16":
        return " (bfloat16 is too coarse for this model on that input: use precision='fp32')"
    if backend != "torch":
        return f" ({backend} computes this model differently: use backend='torch')"
    return (" (the original repeats itself on the example, so a convzoo rewrite is wrong for "
            "this model: please report it, and use the original)")


def _torch_graph(facts: _Facts, example: torch.Tensor, precision: str,
                 fft: bool) -> tuple[fx.GraphModule, nn.Module | None]:
    """The portable graph with the torch-only rewrites: interleaving, the FFT path (when
    ``fft``), bfloat16, the channels_last plan and oneDNN fusion; frozen. Returns the exact
    graph (every activation in place: torch's NaN semantics) and, where
    :func:`~convzoo.fast.guard.fuse_guarded` proved some activation safe as a oneDNN
    post-op or a BatchNorm was folded, the :class:`~convzoo.fast.guard.Guarded` graph
    running it with its checks (else None). A graph with folds falls back to the original
    model (:class:`~convzoo.fast.guard.Reference`): only it keeps the original's overflows
    where a check fails (:mod:`convzoo.fast.fold`)."""
    gm = copy.deepcopy(facts.portable)
    facts.units = interleave_concats(gm)
    split_interleaves(gm)
    cpu32 = example.dtype == torch.float32 and example.device.type == "cpu"
    if fft and cpu32 and precision == "fp32":
        fft_paths(gm)
    if precision == "bf16":
        to_bf16(gm)
    facts.channels_last = plan_channels_last(gm)
    fused = fuse_guarded(gm) if cpu32 and facts.channels_last else None
    checked, count = guard_folds(gm) if fused is None else (None, 0)
    facts.acts, facts.adds = (fused.acts, fused.adds) if fused else (0, 0)
    facts.post_ops, facts.guard_checks = (fused.post_ops, fused.checks) if fused else (0, count)
    exact = _freeze(fused.exact if fused else gm)
    facts.coverage = _coverage(exact)
    fast = None
    if fused is not None and fused.fast is not None:  # folds fall back to the original
        fast = Guarded(_freeze(fused.fast), Reference(facts.source) if fused.folds else exact,
                       fused.checks)  # type: ignore[arg-type]
    elif checked is not None:
        fast = Guarded(_freeze(checked), Reference(facts.source), count)  # type: ignore
    return exact, fast


def _fft_risk(model: nn.Module, facts: _Facts, example: torch.Tensor, precision: str,
              backend: str) -> str:
    """'' when the FFT path may stand for the convs it would take, else why not: the graph
    with :class:`~convzoo.fast.fft_guard.FFTNoise` in their place (the native conv plus
    noise as large as the stated FFT error bound) fails verification, i.e. the model
    amplifies an error of that size beyond the tolerance on some regime."""
    if not (example.dtype == torch.float32 and example.device.type == "cpu"
            and precision == "fp32"):
        return ""
    probe = copy.deepcopy(facts.portable)
    if not fft_paths(probe):
        return ""
    for name, sub in list(probe.named_children()):
        if isinstance(sub, FFTConv):
            setattr(probe, name, FFTNoise(sub.spec))
    try:
        verify(_freeze(probe), facts.checks, precision, _head(model, backend, precision))
    except Refusal as exc:  # (its hint is not shown: the conv just stays native)
        where = str(exc).partition(" differs from the original ")[2] or str(exc)
        return ("the FFT's stated error bound (relative to the input's magnitude) moves the "
                f"output beyond the tolerance {where.removesuffix('; refusing the result')}")
    return ""


def _torch_module(model: nn.Module, facts: _Facts, example: torch.Tensor, precision: str,
                  backend: str) -> nn.Module:
    """The torch graph, verified on every check (the FFT path left out where its error
    bound does not hold for this model, or where the graph with it fails verification).
    bfloat16 does not keep torch's NaN semantics (oneDNN's bf16 kernels turn some Inf into
    NaN): with it, inputs holding NaN or Inf run on the float32 folded graph."""
    facts.fft_native = _fft_risk(model, facts, example, precision, backend)
    head = _head(model, "torch" if backend == "auto" else backend, precision)
    hint = _hint("torch", precision)

    def built(fft: bool) -> nn.Module:
        exact, fast = _torch_graph(facts, example, precision, fft)
        found: list[Verified] = []
        if fast is None or fast.exact is exact:  # it runs, alone or where a check fails
            module = _nan_fixed(exact, facts, precision)
            found.append(verify(module, facts.checks, precision, head, hint))
        if fast is not None:  # the checked graph verified apart (its fallback above)
            module = _nan_fixed(fast, facts, precision)
            found.append(verify(module, facts.checks, precision, head, hint))
        facts.verified = found[0] if len(found) == 1 else _worst(*found)
        return module

    try:
        return built(fft=not facts.fft_native)
    except Refusal as exc:
        if not facts.coverage.get("fft"):
            raise
        facts.fft_native = f"the graph with the FFT path failed verification: {exc}"
        return built(fft=False)


def _nan_fixed(module: nn.Module, facts: _Facts, precision: str) -> nn.Module:
    """``module`` as it is in fp32 (torch keeps NaN); in bf16 with the NaN fix-up."""
    return module if precision == "fp32" else NonFiniteFallback(module, _fallback(facts))


def _worst(a: Verified, b: Verified, tag: str = "") -> Verified:
    """The larger errors and bounds of two verifications (``b``'s regimes named
    ``regime{tag}`` in ``errors``)."""
    errors = dict(a.errors)
    for name, (err, tol) in b.errors.items():
        old = errors.get(name + tag, (0.0, 0.0))
        errors[name + tag] = (max(old[0], err), max(old[1], tol))
    return Verified(max(a.example_error, b.example_error), max(a.fresh_error, b.fresh_error),
                    max(a.tolerance, b.tolerance), errors)


def _fallback(facts: _Facts) -> nn.Module:
    """The original model, run by torch: the NaN fix-up of bfloat16 (not the folded graph:
    a folded BatchNorm may turn the original's overflow into a number,
    :mod:`convzoo.fast.fold`)."""
    if facts.fallback is None:
        facts.fallback = Reference(facts.source)  # type: ignore[arg-type]
    return facts.fallback


def optimize(model: nn.Module, example_input: torch.Tensor, backend: str = "torch",
             precision: str = "fp32") -> Optimized:
    """An inference module computing ``model`` (in eval mode) faster: equal to it on every
    input within the pinned tolerance, or refused with a one-line :class:`Refusal`.

    The contract, as it holds (docs/performance.md says how each part is checked):

    - **Refused before anything is traced** (one line naming the requested backend, the
      module and the cause): a submodule in training mode inside an eval-mode model,
      torch.ao fake quantization or observers, an example with no finite value.
    - **Refused by the capture**: data-dependent control flow (also when the model's own
      ``try/except`` swallows the tracer's error), tensors leaving torch (``.numpy()``,
      ``.item()``), any change a real forward call makes to anything reachable from the
      model (attributes, containers, objects, tensors written in place, its hooks'
      closures, the globals its code reads; a change on the first call only says that one
      warm-up call fixes it), an iterator or generator the model holds, and a step
      function (``round``, fake quantization, a comparison, ``argmax``, an integer cast)
      of a value computed with rounding, which no rewrite can keep exact.
    - **Captured and said**: tensors read from module-level globals or closures become
      constants copied at optimize time (``report.constants``); forward hooks and
      pre-hooks that change no state are part of the graph, replayed by every call
      (``report.hooks``).
    - **Verified**: on the example and on one fresh input per regime (drawn like the
      example, image-like 0-255 with zero regions, the same with nearly equal channels,
      1e4 and 1e-4 magnitudes, NaN and +-Inf), each output leaf within
      ``rtol(dtype) * max |original leaf|`` plus
      :data:`~convzoo.fast.verify.NOISE_FACTOR` times the original's own float rounding at
      that input, NaN at the same places, infinities equal
      (:func:`convzoo.fast.verify.verify`); else refused, naming the backend, the input
      and the leaf. The FFT path is used only where its error bound, relative to the
      input's magnitude, holds on each call and for this model (``report.fft_native``).
    - **bf16** is held to a bound relative to the input regime's output scale, not to one
      input's output (bfloat16's error follows the magnitude of the computation, and an
      output that cancels, like the mean of a conv, can be far smaller than it): at an
      input of regime R, each float leaf within ``5e-2 * max(max |original leaf|, s_R)``
      (plus the allowance above), ``s_R`` being the lower median of the original's
      ``max |leaf|`` over the three fixed-seed fresh inputs of R that verification draws
      (:func:`convzoo.fast.verify.regime_scale`; the example counts as ``like``;
      ``report.regime_scales``). Verified on three inputs per regime, each within half
      that bound (:data:`~convzoo.fast.verify.BF16_MARGIN`); else refused.
    - **NaN semantics**: ``backend='torch'`` in fp32 keeps torch's; ONNX Runtime, OpenVINO
      and bf16 do not, and run inputs holding NaN or Inf on the original model in torch
      instead (``report.nan_fixup``). A graph that can make NaN itself from a finite input
      (``0/0``, the log of a negative value) is refused for OpenVINO, and for ONNX
      Runtime where that NaN can reach an op it does not keep NaN through
      (:mod:`convzoo.fast.runtime_risk`).
    - **Overflow**: a BatchNorm is folded only where a bound keeps the original's conv
      and BatchNorm below 1e30 for inputs the graph checks per call (else the original
      model runs); a runtime, which folds BatchNorms itself, runs inputs beyond a proven
      magnitude on the original model, or is refused where a fold is too extreme.
    - **Calls**: fresh output tensors every call (never a constant, the input or one tensor
      twice), laid out with the strides the original's outputs have, plain under
      ``torch.no_grad()``; safe from several threads on every backend (one OpenVINO infer
      request per thread). OpenVINO refuses float64 models. ``'auto'`` leaves out a
      backend that cannot export, compile, run or match the model (``report.dropped``).
      A new input shape whose graph is refused runs the original model
      (:attr:`Optimized.fallbacks`, with a ``RuntimeWarning``).

    Residual risks: verification is a finite set of inputs; a difference that shows only
    on inputs unlike all of them (a branch on ``torch.compiler.is_compiling()`` taken
    differently, state changed only under conditions the real call did not meet) can
    pass; bf16's bound is checked on three inputs per regime, not proven (an input of no
    regime has no stated bf16 bound). On ONNX Runtime and OpenVINO, where no bound covers
    the whole graph (deep ReLU networks), an input that overflows float32 inside the model
    can give a number where the original gives inf or NaN. Globals that are not tensors
    are read at optimize time. Deep state outside what forward's code names (a callee's
    callee beyond four levels, objects past 200,000 in the walk) is not seen; neither is a
    global forward hook registered after optimize, nor ``torch.autocast`` around a call of
    the optimized model (it computes as optimized).

    Args:
        model: any network (torch.nn, convzoo layers, functional convs with constant
            weights); it is optimized in eval mode.
        example_input: an input it accepts (its shape, dtype and device are planned for;
            the ONNX backends are fixed to this shape).
        backend: ``'torch'`` (default), ``'onnxruntime'``, ``'openvino'`` or ``'auto'``
            (time every installed backend, interleaved, and keep the fastest).
        precision: ``'fp32'`` (default) or ``'bf16'`` (CPUs with native bfloat16 only;
            errors against the fp32 original are reported, bounded as said above).

    Shape:
        same as ``model``.

    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
    ...                     nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8)).eval()
    >>> x = torch.randn(2, 3, 16, 16)
    >>> fast = optimize(net, x)
    >>> fast.report.folded_batchnorms, fast.report.fresh_error <= fast.report.tolerance
    (2, True)
    >>> fast(torch.randn(4, 3, 16, 16)).shape  # another batch size: optimized on first use
    torch.Size([4, 8, 16, 16])
    """
    precision = check_precision(precision)
    backend = check_backend(backend, precision)
    if not isinstance(example_input, torch.Tensor):
        raise ValueError(f"`example_input` (={type(example_input).__name__}) must be a tensor")
    if precision == "bf16" and example_input.dtype != torch.float32:
        raise ValueError(
            f"`precision` (='bf16') needs a float32 `example_input` (got {example_input.dtype}):"
            " the bfloat16 rewrite converts float32 constants only; use precision='fp32'")
    if (example_input.dtype.is_floating_point or example_input.dtype.is_complex) \
            and finite_statistics(example_input) is None:
        raise refuse(model, f"`example_input` holds no finite value (all "
                     f"{example_input.numel()} entries are NaN or +-Inf): the result is "
                     "verified on fresh finite inputs drawn like the example, which this one "
                     "cannot seed; pass a representative input", None, backend)
    autocast = [d for d in ("cpu", "cuda", "xpu") if torch.is_autocast_enabled(d)]
    if autocast:
        raise refuse(model, f"optimize is called inside torch.autocast (device_type="
                     f"{autocast[0]!r}), which changes the dtypes the model computes in; call "
                     "it outside autocast (with a model converted to the dtype wanted)",
                     None, backend)
    start = time.perf_counter()
    check_structure(model, backend)  # before the copy: submodules in training mode
    source = private_copy(model, backend)
    options: dict[str, Any] = {"precision": precision}
    facts = _portable(source, example_input, backend, precision=precision)
    if precision == "bf16":  # every input shape's bound is relative to these
        options["scales"] = facts.scales
    inner: nn.Module | None = None
    builders: dict[str, Callable[[int], nn.Module]] = {}
    checked: dict[str, Verified] = {}
    dropped: dict[str, str] = {}
    rewrite_notes: dict[str, str] = {}
    available = max(1, torch.get_num_threads())
    if backend in ("torch", "auto"):
        try:
            inner = torch_inner = _torch_module(source, facts, example_input, precision,
                                                backend)
            builders["torch"] = lambda n: Threaded(torch_inner, ThreadPlan(n, available))
            checked["torch"] = facts.verified  # type: ignore[assignment] # verified while built
        except Refusal as exc:
            if backend != "auto":
                raise
            dropped["torch"] = str(exc)
    if backend in ("onnxruntime", "openvino", "auto"):
        names = [backend] if backend != "auto" else [
            n for n in ("onnxruntime", "openvino") if _installed(n)
            and not (n == "onnxruntime" and precision == "bf16")]
        for name in names:
            try:
                session, checked[name], rewrite_notes[name] = _runtime(
                    name, facts, example_input, precision, available)
                if not rewrite_notes[name]:
                    del rewrite_notes[name]
                builders[name] = lambda n, name=name, s=session: s if n == available else \
                    _session(name, facts, example_input, precision, n, s.spatial, s.rewrites)
            except Exception as exc:  # noqa: BLE001 - a backend that cannot take the model
                dropped[name] = str(exc) if isinstance(exc, Refusal) else failure_reason(exc)
                if backend != "auto":
                    if isinstance(exc, Refusal) and "refusing the result" in str(exc):
                        raise  # verification's own refusal: names backend and input
                    raise Refusal(f"`backend` (={name!r}) cannot run `model` "
                                  f"({type(model).__name__}): {dropped[name]}") from None
    if not builders:
        why = "; ".join(f"{k}: {v}" for k, v in dropped.items())
        raise Refusal(f"`model` ({type(model).__name__}) cannot be optimized with "
                      f"backend={backend!r}: every candidate was left out ({why})")
    picked = pick(builders, example_input, inner)
    chosen, verified = None, None
    for candidate in picked.order:  # the fastest verified one (each session is verified)
        try:
            verified = checked[candidate.backend]
            if candidate.backend != "torch" and candidate.plan.threads != available:
                verified = _verify_shapes(source, candidate.module, example_input, precision,
                                          candidate.backend, facts)  # its own session
            chosen = candidate
            break
        except Refusal as exc:
            if backend != "auto":
                raise
            dropped[candidate.name] = str(exc)
    if chosen is None or verified is None:
        why = "; ".join(f"{k}: {v}" for k, v in dropped.items())
        raise Refusal(f"`model` ({type(model).__name__}) cannot be optimized with "
                      f"backend={backend!r}: every candidate was left out ({why})")
    note, fp32_ms = _versus_fp32(chosen, facts, example_input, precision, available) \
        if precision == "bf16" else ("", None)
    medians = picked.decision.medians_ms()
    timings = {b: min(v for k, v in medians.items() if k.split("@")[0] == b)
               for b in builders} if len(medians) > 1 else {}
    on_torch = chosen.backend == "torch"
    report = OptimizeReport(
        backend=chosen.backend, folded_batchnorms=facts.bns, folded_shuffles=facts.shuffles,
        fused_activations=facts.acts if on_torch else 0,
        channels_last=facts.channels_last and on_torch,
        coverage=facts.coverage if on_torch else {},
        max_abs_error=max(verified.example_error, verified.fresh_error),
        seconds=time.perf_counter() - start,
        timings_ms=timings, fused_adds=facts.adds if on_torch else 0,
        interleaved_units=facts.units if on_torch else 0, precision=precision,
        capture=facts.capture, example_error=verified.example_error,
        fresh_error=verified.fresh_error, tolerance=verified.tolerance, dropped=dropped,
        regime_errors=verified.errors, constants=facts.constants,
        nan_fixup=_nan_fixup(chosen.module, on_torch, precision),
        fft_native=facts.fft_native if on_torch else "", hooks=facts.hooks,
        threads=chosen.plan,
        post_op_activations=facts.post_ops if on_torch else 0,
        guard_checks=facts.guard_checks if on_torch else 0,
        candidates_ms={k: (t.median_ms, *(q * 1e3 for q in quartiles(t.samples)[::2]))
                       for k, t in picked.decision.timings.items()},
        decision=picked.decision.reason, within_noise=picked.decision.within_noise,
        input_sizes=_sizes(chosen.module, example_input), regime_scales=facts.scales,
        precision_note=note, fp32_ms=fp32_ms, runtime_rewrites=rewrite_notes,
    )
    optimized = Optimized(chosen.module, report, source, options, _key(example_input),
                          facts.strides)
    optimized._facts = facts  # the portable graphs, for save()
    optimized._example = example_input.detach().clone()
    sessions = getattr(chosen.module, "sessions", None)
    if sessions is not None:  # a per-shape session built again is verified again
        sessions.on_rebuild = optimized._verify_rebuilt
    return optimized


def _nan_fixup(module: nn.Module, on_torch: bool, precision: str) -> str:
    """``report.nan_fixup``: which inputs run the original model instead, and why."""
    if on_torch and precision == "fp32":
        return ""
    limit = getattr(module, "input_limit", math.inf)
    if math.isinf(limit):
        return NAN_FIXUP
    return (f"{NAN_FIXUP}; so do inputs with max |x| > {limit:g}, beyond which no bound "
            "proves that no value of the model overflows")


def _caller(module: nn.Module, example: torch.Tensor) -> Callable[[], object]:
    """A zero-argument call of ``module`` on ``example`` under ``torch.no_grad()`` (a
    candidate of a timing)."""
    def run() -> object:
        with torch.no_grad():
            return module(example)
    return run


def _versus_fp32(chosen: Any, facts: _Facts, example: torch.Tensor, precision: str,
                 available: int) -> tuple[str, float | None]:
    """The chosen bfloat16 candidate timed against the same backend in float32, at the same
    thread count, in interleaved blocks (:func:`convzoo.fast.auto.tournament`): ``(note,
    fp32 ms)``, the note saying when bfloat16 measured slower ('' otherwise). The float32
    module is built only to be timed (torch: the graph of the float32 passes, without the
    FFT path; a runtime: its float32 session) and is not kept."""
    from convzoo.fast.auto import tournament

    if precision != "bf16":
        return "", None
    threads = chosen.plan.threads
    try:
        if chosen.backend == "torch":
            exact, fast = _torch_graph(dataclasses.replace(facts), example, "fp32", fft=False)
            fp32: nn.Module = Threaded(fast if fast is not None else exact,
                                       ThreadPlan(threads, available))
        else:
            fp32 = _session(chosen.backend, facts, example, "fp32", threads)
    except Exception:  # noqa: BLE001 - no float32 counterpart to time: nothing to say
        return "", None

    decision = tournament({"bf16": _caller(chosen.module, example),
                           "fp32": _caller(fp32, example)}, set(), budget_s=2.0)
    ms = decision.medians_ms()
    if decision.chosen == "fp32" and "bf16" not in decision.within_noise:
        return (f"bf16 measured slower than fp32 here ({ms['bf16']:.3g} vs {ms['fp32']:.3g} "
                f"ms, {chosen.backend} at {threads} threads); kept bf16 as asked: "
                "precision='fp32' is faster and exact"), ms["fp32"]
    return "", ms["fp32"]


def _sizes(module: nn.Module, example: torch.Tensor) -> tuple[object, ...]:
    """The input sizes a result takes: a session's exported sizes; any, for the torch
    backend (each new shape optimized on first use)."""
    if isinstance(module, BackendModule):
        return module.input_shape
    return tuple((0, None) for _ in example.shape)


def _session(name: str, facts: _Facts, example: torch.Tensor, precision: str,
             threads: int, spatial: bool = True,
             rewrites: tuple[str, ...] | None = None) -> BackendModule:
    """The ``name`` backend's module for its portable graph, with ``threads`` threads
    (export and compile may raise; a dtype the backend cannot compute exactly, or a graph
    it cannot run soundly (:func:`~convzoo.fast.runtime_risk.runtime_risk`), is refused)
    and the NaN fix-up: inputs holding NaN or Inf (or beyond the proven magnitude) run the
    original model in torch. ``spatial=False``: spatial sizes fixed (for files).
    ``rewrites``: the portable rewrites applied (default: the runtime's,
    :data:`~convzoo.fast.dynamic.RUNTIME_REWRITES`)."""
    reason = unsupported(name, example.dtype)
    if reason is not None:
        raise Refusal(reason)
    rewrites = RUNTIME_REWRITES[name] if rewrites is None else rewrites
    key = ("onnx", rewrites, spatial)
    if key not in facts.exports:  # rewritten only where one of them applies (seen on the graph)
        needed = {"batchnorms_before": facts.bns_before, "shuffles": facts.shuffles}
        found = portable(facts.source, example, rewrites,
                         any(needed.get(r, 1) for r in rewrites), spatial)
        facts.exports[("portable", rewrites, spatial)] = found
        facts.exports[key] = export_portable(found)
        facts.exports[("graph", rewrites, spatial)] = _analysed(found)
    found = facts.exports[("portable", rewrites, spatial)]
    if ("risk", name, rewrites, spatial) not in facts.exports:
        facts.exports[("risk", name, rewrites, spatial)] = runtime_risk(
            facts.exports[("graph", rewrites, spatial)], name)
    risk = facts.exports[("risk", name, rewrites, spatial)]
    if risk.refusal is not None:
        raise Refusal(f"{risk.refusal}; use backend='torch'")
    run = onnxruntime_session(facts.exports[key], threads) if name == "onnxruntime" else \
        openvino_session(facts.exports[key], precision, threads)
    module = BackendModule(run, found.sizes, facts.reference, name,
                           fallback=_fallback(facts), input_limit=risk.limit)
    module.input_dtype = example.dtype
    module.rewrites, module.spatial = rewrites, spatial  # how it was built (other threads)
    with torch.no_grad():
        module(example)  # fails here, not at the first call, when the runtime cannot run it
    return module


def _analysed(found: Any) -> fx.GraphModule:
    """A runtime session's own dynamic portable graph (:class:`~convzoo.fast.dynamic.Portable`)
    as a GraphModule in core ATen (its constants as attributes, BatchNorm as
    ``_native_batch_norm_legit_no_training``, as convzoo's capture has it): what
    :func:`~convzoo.fast.runtime_risk.runtime_risk` analyses."""
    source = found.source
    if isinstance(source, torch.export.ExportedProgram):
        return source.run_decompositions({}).module()
    return source


def _runtime(name: str, facts: _Facts, example: torch.Tensor, precision: str,
             threads: int) -> tuple[BackendModule, Verified, str]:
    """The ``name`` session, verified at every shape it admits, and what the rewrite
    measurement found (:func:`_measured_rewrites`). Where a spatial size the export
    admitted fails verification (a ``Linear`` over flattened features, whose size relation
    no range expresses), the session is rebuilt with spatial sizes fixed."""
    session = _session(name, facts, example, precision, threads)
    try:
        verified = _verify_shapes(facts.source, session, example, precision, name, facts)
    except ValueError:  # a Refusal included
        if all(isinstance(s, int) for s in session.input_shape[2:]):
            raise
        session = _session(name, facts, example, precision, threads, spatial=False)
        verified = _verify_shapes(facts.source, session, example, precision, name, facts)
    return _measured_rewrites(name, facts, example, precision, threads, session, verified)


def _measured_rewrites(name: str, facts: _Facts, example: torch.Tensor, precision: str,
                       threads: int, session: BackendModule, verified: Verified
                       ) -> tuple[BackendModule, Verified, str]:
    """The runtime's rewrites kept only where they do not make it slower: when one applied
    to this model, the same export without any rewrite is timed against it (interleaved
    blocks, :func:`convzoo.fast.auto.tournament`, at ``threads`` threads) and, when the
    rewritten graph measures slower beyond noise, the session without rewrites replaces it
    (verified at every shape first). Returns ``(session, verification, note)``, the note
    saying what was measured ('' when no rewrite applied)."""
    from convzoo.fast.auto import tournament

    found = facts.exports[("portable", session.rewrites, session.spatial)]
    applied = [r for r, n in found.rewrites.items() if n]
    if not applied:
        return session, verified, ""
    try:
        plain = _session(name, facts, example, precision, threads, session.spatial, ())
    except Exception:  # noqa: BLE001 - the unrewritten graph does not export or compile
        return session, verified, f"{', '.join(applied)} kept (no session without them)"

    decision = tournament({"rewritten": _caller(session, example),
                           "plain": _caller(plain, example)}, set(), budget_s=2.0)
    ms = decision.medians_ms()
    timed = f"{ms['rewritten']:.3g} ms with, {ms['plain']:.3g} ms without"
    if decision.chosen == "plain" and "rewritten" not in decision.within_noise:
        try:
            checked = _verify_shapes(facts.source, plain, example, precision, name, facts)
        except ValueError:
            return session, verified, f"{', '.join(applied)} kept ({timed}; the graph " \
                "without them failed verification)"
        return plain, checked, f"{', '.join(applied)} dropped: slower here ({timed})"
    return session, verified, f"{', '.join(applied)} kept ({timed})"


def _verify_shapes(model: nn.Module, result: nn.Module, example: torch.Tensor, precision: str,
                   backend: str, facts: _Facts, finite_only: bool = False) -> Verified:
    """:func:`convzoo.fast.verify.verify` on every regime at the example's shape, then at
    the other shapes the result admits (another batch size, other spatial sizes:
    :func:`convzoo.fast.dynamic.other_shapes`), each with one fresh input per regime
    (:func:`convzoo.fast.verify.checks`, built once per shape). ``finite_only``: inputs
    holding NaN or Inf left out (a saved file, which has no NaN fix-up).

    Raises:
        Refusal: the result differs from the original (or fails to run) on some input, or
            the model itself does not run at one of those shapes.
    """
    head, hint = _head(model, backend, precision), _hint(backend, precision)

    def usable(found: list[Check]) -> list[Check]:
        if not finite_only:
            return found
        return [c for c in found if not (c.regime.input.dtype.is_floating_point
                                         and not bool(c.regime.input.isfinite().all()))]

    verified = verify(result, usable(facts.checks), precision, head, hint)
    for shape in other_shapes(example, result.input_shape):
        found = _checks_at(facts, example, shape)
        more = verify(result, usable(found), precision, head, hint)
        verified = _worst(verified, more, "@" + "x".join(map(str, shape)))
    return verified


def _checks_at(facts: _Facts, example: torch.Tensor, shape: tuple[int, ...]) -> list[Check]:
    """The verification inputs at ``shape`` (one fresh input per regime, three for bf16 with
    the optimize call's regime scales, drawn like the example, with the original's
    outputs), built once per shape.

    Raises:
        Refusal: the model itself does not run at that shape.
    """
    if shape not in facts.shape_checks:
        model = facts.source
        other = fresh_input(example, seed=20261207 + sum(shape), shape=shape)
        try:
            with native_only():
                found = checks(model, other, _run(model, other),
                               seed=verification_seed(other), exact=facts.exact,
                               count=inputs_per_regime(facts.precision))
        except Exception as exc:  # noqa: BLE001 - the model itself takes no such input
            raise Refusal(f"`model` ({type(model).__name__}) does not run at input shape "
                          f"{shape}: {type(exc).__name__}: {first_line(exc)}") from None
        facts.shape_checks[shape] = with_scales(found, facts.scales) \
            if facts.precision == "bf16" else found
    return facts.shape_checks[shape]


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
