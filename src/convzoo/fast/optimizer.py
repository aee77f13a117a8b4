"""``convzoo.optimize(model, example_input)``: a faster inference module, same outputs.

Passes, in order, all on the captured graph (:mod:`convzoo.fast.capture`; no compiler):

1. capture the eval-mode model as a functional ATen graph, or refuse what cannot be
   captured soundly (data-dependent control flow, tensors leaving torch, state written by
   forward) with a one-line ValueError;
2. constant folding, BatchNorm folding after convs and before unpadded convs
   (:mod:`convzoo.fast.fold`), channel-shuffle folding (:mod:`convzoo.fast.shuffle_fold`);
3. ``backend='torch'``: concat + shuffle as one copy (:mod:`convzoo.fast.interleave`), one
   channels_last plan and the large-kernel fast paths (:mod:`convzoo.fast.plan`), conv +
   activation and conv + add (+ activation) fused into oneDNN calls
   (:mod:`convzoo.fast.fuse`); ``precision='bf16'`` (:mod:`convzoo.fast.precision`);
4. ONNX Runtime / OpenVINO run the graph after step 2 (:mod:`convzoo.fast.backends`);
   ``'auto'`` times every candidate interleaved and keeps the fastest;
5. verification: the result and the original model on a fresh random input (not the
   example, :mod:`convzoo.fast.verify`); beyond the pinned tolerance, refused.
"""

from __future__ import annotations

import copy
import time
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
    check_backend,
    failure_reason,
    onnxruntime_session,
    openvino_session,
)
from convzoo.fast.capture import capture, private_copy
from convzoo.fast.dynamic import RUNTIME_REWRITES, export_portable, other_shapes, portable
from convzoo.fast.fold import fold_batchnorms, fold_batchnorms_before, fold_constants
from convzoo.fast.graph import conv_call
from convzoo.fast.guard import Guarded, fuse_guarded
from convzoo.fast.interleave import interleave_concats, split_interleaves
from convzoo.fast.pick import pick
from convzoo.fast.plan import FFTConv, fft_paths, plan_channels_last
from convzoo.fast.precision import check_precision, to_bf16
from convzoo.fast.shuffle_fold import fold_shuffles
from convzoo.fast.threads import Threaded, ThreadPlan
from convzoo.fast.verify import compare, first_line, fresh_input

__all__ = ["INFERENCE_ONLY", "NOT_PORTABLE", "OptimizeReport", "Optimized", "optimize"]

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
            fresh random input (for ``'bf16'``: against the fp32 original).
        tolerance: the largest absolute bound the errors were checked against: each
            output leaf gets ``rtol(dtype) * max |original leaf| + tiny``
            (:func:`convzoo.fast.verify.compare`).
        fused_activations: activations after a fused conv (or conv + add): oneDNN
            post-ops where :mod:`convzoo.fast.guard` proves no NaN can reach them, else run
            in place on its output (torch's NaN semantics kept either way).
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
    threads: ThreadPlan | None = None
    post_op_activations: int = 0
    guard_checks: int = 0
    candidates_ms: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    decision: str = ""
    within_noise: tuple[str, ...] = ()
    input_sizes: tuple[object, ...] = ()


class _NoBackward(torch.autograd.Function):
    """Identity forward; backward refuses (outputs of an inference-only module). The outputs
    are returned themselves (marked dirty, not as views), so in-place ops on them work as on
    any tensor; they must be fresh tensors (see :func:`_fresh`)."""

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
    ``torch.inference_mode()`` they are plain tensors). Another input shape than the
    example's (or another dtype, device or layout) is optimized (and verified) on first use,
    for ``backend='torch'``; the runtimes take any batch size (and spatial sizes where the
    model allows: ``report.input_sizes``). :meth:`save` writes ONNX or OpenVINO IR.

    Attributes:
        inner: the rewritten graph (or a backend session) for the example's shape.
        report: an :class:`OptimizeReport`.
    """

    def __init__(self, inner: nn.Module, report: OptimizeReport, source: nn.Module,
                 options: dict[str, Any], key: tuple[Any, ...]) -> None:
        super().__init__()
        self.inner = inner
        self.report = report
        self._source = [source]  # the original (eval copy), not a registered submodule
        self._options = options
        self._shapes: dict[tuple[Any, ...], nn.Module] = {key: inner}  # by _key(input)
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
        inner = self._shapes.get(key)
        if inner is None:
            if self.report.backend != "torch":
                inner = self.inner  # the session takes it, or says which shapes it takes
            else:
                inner, _ = _build(self._source[0], x, **self._options)
                plan = self.report.threads
                if plan is not None:  # the chosen count (a region plan is per shape)
                    inner = Threaded(inner, ThreadPlan(plan.threads, plan.available))
                self._shapes[key] = inner
        with torch.no_grad():
            out = inner(x)
        if not torch.is_grad_enabled():
            return out
        leaves, spec = pytree.tree_flatten(out)
        slots = [i for i, t in enumerate(leaves) if isinstance(t, torch.Tensor)
                 and t.dtype.is_floating_point]
        if slots:
            _fresh(leaves, slots, x)
            guarded = _NoBackward.apply(self._token, *[leaves[i] for i in slots])
            for i, t in zip(slots, guarded):
                leaves[i] = t
        return pytree.tree_unflatten(leaves, spec)


def _key(x: torch.Tensor) -> tuple[Any, ...]:
    """What a graph is specialized to: the input's shape, dtype, device and layout."""
    return tuple(x.shape), x.dtype, x.device, x.layout


def _fresh(leaves: list[Any], slots: list[int], x: torch.Tensor) -> None:
    """Copy, in place in ``leaves``, every output tensor that is not a tensor of its own: a
    view, the same tensor as another output, or memory shared with the input."""
    seen: set[int] = {x.untyped_storage().data_ptr()}
    for i in slots:
        t = leaves[i]
        ptr = t.untyped_storage().data_ptr()
        if t._base is not None or ptr in seen:
            t = leaves[i] = t.clone()
            ptr = t.untyped_storage().data_ptr()
        seen.add(ptr)


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
           precision: str = "fp32", method: str = "export") -> tuple[nn.Module, dict[str, Any]]:
    """The torch-backend module for ``example``'s shape, verified, and what was done."""
    facts: dict[str, Any] = {}
    cap = capture(model, example, method)
    gm = cap.gm
    facts["capture"], facts["reference"] = cap.method, cap.reference
    fold_constants(gm)
    after = fold_batchnorms(gm)
    facts["bns_before"] = fold_batchnorms_before(gm)
    facts["bns"] = after + facts["bns_before"]
    facts["shuffles"] = fold_shuffles(gm)
    portable = copy.deepcopy(gm)  # what the ONNX backends export
    portable.recompile()
    facts["portable"] = portable
    facts["units"] = interleave_concats(gm)
    split_interleaves(gm)
    cpu32 = example.dtype == torch.float32 and example.device.type == "cpu"
    facts["fft"] = fft_paths(gm) if cpu32 and precision == "fp32" else 0
    if precision == "bf16":
        to_bf16(gm)
    facts["channels_last"] = plan_channels_last(gm)
    fused = fuse_guarded(gm) if cpu32 and facts["channels_last"] else None
    facts["acts"], facts["adds"] = (fused.acts, fused.adds) if fused else (0, 0)
    facts["post_ops"], facts["checks"] = (fused.post_ops, fused.checks) if fused else (0, 0)
    gm = _freeze(fused.exact if fused else gm)
    facts["coverage"] = _coverage(gm)
    facts["fresh"] = {}  # the model's output at the fresh input, computed once
    facts["errors"] = _verify(model, gm, example, precision, "torch", cap.reference,
                              facts["fresh"])
    if fused is not None and fused.fast is not None:  # verified apart: the exact one above
        gm = Guarded(_freeze(fused.fast), gm, fused.checks)
        errors = _verify(model, gm, example, precision, "torch", cap.reference, facts["fresh"])
        facts["errors"] = tuple(max(a, b) for a, b in zip(facts["errors"], errors))
    return gm, facts


def _verify(model: nn.Module, result: nn.Module, example: torch.Tensor, precision: str,
            backend: str, reference: object, cache: dict[str, Any] | None = None
            ) -> tuple[float, float, float]:
    """``(example error, fresh-input error, largest absolute bound)``; refuses a result
    beyond the pinned tolerance of any output leaf (:func:`convzoo.fast.verify.compare`),
    or one that fails to run. ``reference``: the model's output at the example (computed
    once, by the capture); ``cache`` keeps the model's output at the fresh input across
    calls."""
    errors, bound = [], 0.0
    head = (f"`model` ({type(model).__name__}) optimized with backend={backend!r}, "
            f"precision={precision!r}")
    cache = {} if cache is None else cache
    for x in (example, fresh_input(example, seed=20261206 + example.numel())):
        which = "the example" if x is example else "a fresh random input"
        if x is not example and "fresh" not in cache:
            cache["fresh"] = _run(model, x)
        ref = reference if x is example else cache["fresh"]
        try:
            got = _run(result, x)
        except Exception as exc:  # noqa: BLE001 - a rewrite that fails to run is refused
            raise ValueError(f"{head} fails to run on {which}: {type(exc).__name__}: "
                             f"{first_line(exc)}; refusing the result") from None
        err, tol, why = compare(got, ref, precision)
        if why is not None:
            raise ValueError(f"{head} differs from the original on {which}: {why}; refusing "
                             "the result")
        bound = max(bound, tol)
        errors.append(err)
    return errors[0], errors[1], bound


def optimize(model: nn.Module, example_input: torch.Tensor, backend: str = "torch",
             precision: str = "fp32") -> Optimized:
    """An inference module computing ``model`` (in eval mode) faster, verified on an input
    other than the example.

    The original model is not modified. What cannot be captured soundly (data-dependent
    control flow, tensors leaving torch, state written by forward) is refused with a
    one-line ValueError naming the module and the reason; so is a result that differs from
    the original beyond the pinned tolerance on a fresh random input (each output leaf
    relative to its own scale, the bound depending on its dtype:
    :func:`convzoo.fast.verify.compare`). NaN propagates as in torch for ``backend='torch'``
    and ONNX Runtime; OpenVINO turns NaN into numbers through ReLU/ReLU6 (a property of that
    runtime: :mod:`convzoo.fast.backends`). ``'auto'`` leaves out a backend that cannot
    export, compile, run or match the model, saying why in ``report.dropped``.

    Residual risk: a forward whose behaviour differs while traced in a way no tracer error
    and no ``.numpy()`` call reveals (a branch on ``torch.compiler.is_compiling()``, an
    ``except`` around another tensor-to-Python conversion that fails under tracing) is
    checked only by the verification on fresh inputs.

    Args:
        model: any network (torch.nn, convzoo layers, functional convs with constant
            weights); it is optimized in eval mode.
        example_input: an input it accepts (its shape, dtype and device are planned for;
            the ONNX backends are fixed to this shape).
        backend: ``'torch'`` (default), ``'onnxruntime'``, ``'openvino'`` or ``'auto'``
            (time every installed backend, interleaved, and keep the fastest).
        precision: ``'fp32'`` (default) or ``'bf16'`` (CPUs with native bfloat16 only;
            errors against the fp32 original are reported).

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
    start = time.perf_counter()
    source = private_copy(model)
    options = {"precision": precision}
    inner, facts = _build(source, example_input, **options)
    facts["source"] = source
    builders: dict[str, Callable[[int], nn.Module]] = {}
    checked: dict[str, tuple[float, float, float]] = {}
    dropped: dict[str, str] = {}
    available = max(1, torch.get_num_threads())
    if backend in ("torch", "auto"):
        builders["torch"] = lambda n: Threaded(inner, ThreadPlan(n, available))
        checked["torch"] = facts["errors"]  # verified while built
    if backend in ("onnxruntime", "openvino", "auto"):
        names = [backend] if backend != "auto" else [
            n for n in ("onnxruntime", "openvino") if _installed(n)
            and not (n == "onnxruntime" and precision == "bf16")]
        for name in names:
            try:
                session, checked[name], spatial = _runtime(name, facts, example_input,
                                                           precision, available)
                builders[name] = lambda n, name=name, s=session, sp=spatial: s \
                    if n == available else _session(name, facts, example_input, precision, n,
                                                    sp)
            except Exception as exc:  # noqa: BLE001 - a backend that cannot take the model
                dropped[name] = str(exc) if isinstance(exc, ValueError) and \
                    "refusing the result" in str(exc) else failure_reason(exc)
                if backend != "auto":
                    if isinstance(exc, ValueError) and "refusing the result" in str(exc):
                        raise
                    raise ValueError(f"`backend` (={name!r}) cannot run `model` "
                                     f"({type(model).__name__}): {dropped[name]}") from None
    picked = pick(builders, example_input, inner if "torch" in builders else None)
    chosen = picked.order[0]
    example_error, fresh_error, tol = checked[chosen.backend]
    if chosen.backend != "torch" and chosen.plan.threads != available:  # its own session
        example_error, fresh_error, tol = _verify(source, chosen.module, example_input,
                                                  precision, chosen.backend,
                                                  facts["reference"], facts["fresh"])
    medians = picked.decision.medians_ms()
    timings = {b: min(v for k, v in medians.items() if k.split("@")[0] == b)
               for b in builders} if len(medians) > 1 else {}
    report = OptimizeReport(
        backend=chosen.backend, folded_batchnorms=facts["bns"],
        folded_shuffles=facts["shuffles"],
        fused_activations=facts["acts"] if chosen.backend == "torch" else 0,
        channels_last=facts["channels_last"] and chosen.backend == "torch",
        coverage=facts["coverage"] if chosen.backend == "torch" else {},
        max_abs_error=max(example_error, fresh_error), seconds=time.perf_counter() - start,
        timings_ms=timings, fused_adds=facts["adds"] if chosen.backend == "torch" else 0,
        interleaved_units=facts["units"] if chosen.backend == "torch" else 0,
        precision=precision, capture=facts["capture"], example_error=example_error,
        fresh_error=fresh_error, tolerance=tol, dropped=dropped, threads=chosen.plan,
        post_op_activations=facts["post_ops"] if chosen.backend == "torch" else 0,
        guard_checks=facts["checks"] if chosen.backend == "torch" else 0,
        candidates_ms={k: (t.median_ms, *(q * 1e3 for q in quartiles(t.samples)[::2]))
                       for k, t in picked.decision.timings.items()},
        decision=picked.decision.reason, within_noise=picked.decision.within_noise,
        input_sizes=_sizes(chosen.module, example_input),
    )
    optimized = Optimized(chosen.module, report, source, options, _key(example_input))
    optimized._facts = facts  # the portable graphs, for save()
    optimized._example = example_input.detach().clone()
    return optimized


def _sizes(module: nn.Module, example: torch.Tensor) -> tuple[object, ...]:
    """The input sizes a result takes: a session's exported sizes; any, for the torch
    backend (each new shape optimized on first use)."""
    if isinstance(module, BackendModule):
        return module.input_shape
    return tuple((0, None) for _ in example.shape)


def _session(name: str, facts: dict[str, Any], example: torch.Tensor, precision: str,
             threads: int, spatial: bool = True) -> nn.Module:
    """The ``name`` backend's module for its portable graph, with ``threads`` threads
    (export and compile may raise); ``spatial=False``: spatial sizes fixed (for files)."""
    rewrites = RUNTIME_REWRITES[name]
    key = ("onnx", rewrites, spatial)
    if key not in facts:  # rewritten only where one of them applies (seen on the graph)
        needed = {"batchnorms_before": facts["bns_before"], "shuffles": facts["shuffles"]}
        found = portable(facts["source"], example, rewrites,
                         any(needed.get(r, 1) for r in rewrites), spatial)
        facts[("portable", rewrites, spatial)], facts[key] = found, export_portable(found)
    found = facts[("portable", rewrites, spatial)]
    run = onnxruntime_session(facts[key], threads) if name == "onnxruntime" else \
        openvino_session(facts[key], precision, threads)
    module = BackendModule(run, found.sizes, facts["reference"], name)
    module.input_dtype = example.dtype
    with torch.no_grad():
        module(example)  # fails here, not at the first call, when the runtime cannot run it
    return module


def _runtime(name: str, facts: dict[str, Any], example: torch.Tensor, precision: str,
             threads: int) -> tuple[nn.Module, tuple[float, float, float], bool]:
    """The ``name`` session, verified at every shape it admits, and whether its spatial
    sizes are dynamic: where a spatial size the export admitted fails verification (a
    ``Linear`` over flattened features, whose size relation no range expresses), the
    session is rebuilt with them fixed."""
    session = _session(name, facts, example, precision, threads)
    try:
        return session, _verify_shapes(facts["source"], session, example, precision, name,
                                       facts), True
    except ValueError:
        if all(isinstance(s, int) for s in session.input_shape[2:]):
            raise
    session = _session(name, facts, example, precision, threads, spatial=False)
    return session, _verify_shapes(facts["source"], session, example, precision, name,
                                   facts), False


def _verify_shapes(model: nn.Module, result: nn.Module, example: torch.Tensor, precision: str,
                   backend: str, facts: dict[str, Any]) -> tuple[float, float, float]:
    """:func:`_verify` at the example, then at the other shapes the portable graph admits
    (another batch size, other spatial sizes: :func:`convzoo.fast.dynamic.other_shapes`)."""
    errors = _verify(model, result, example, precision, backend, facts["reference"],
                     facts["fresh"])
    for shape in other_shapes(example, result.input_shape):
        other = fresh_input(example, seed=20261207 + sum(shape), shape=shape)
        try:
            ref = _run(model, other)
        except Exception as exc:  # noqa: BLE001 - the model itself takes no such input
            raise ValueError(f"`model` ({type(model).__name__}) does not run at input shape "
                             f"{shape}: {type(exc).__name__}: {first_line(exc)}") from None
        more = _verify(model, result, other, precision, backend, ref, {})
        errors = tuple(max(a, b) for a, b in zip(errors, more))
    return errors  # type: ignore[return-value]


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
