"""Capture a model's inference computation as a functional ATen graph, or refuse.

``torch.export`` (non-strict) traces the eval-mode model with fake tensors: a Python branch
on tensor values cannot be traced (it raises), a tensor leaving torch (``.numpy()``) cannot
be faked (it raises), and the program is functionalized: in-place ops become out-of-place
values and writes to buffers or inputs are listed in its signature. Where export fails for
another reason, ``torch.fx`` symbolic tracing proves the Python control flow static and
``make_fx`` records the functionalized ATen ops.

Around the trace (:func:`capture`): before any forward runs, submodules in training mode
and fake quantization are refused (:func:`convzoo.fast.state.check_structure`); one real
forward call on a private copy gives the reference output and shows any state it (or a
hook) changes (:mod:`convzoo.fast.state`); tracer errors the model's own ``try/except`` swallowed
are noticed (:mod:`convzoo.fast.tracer_errors`); tensors read from globals or closures
become private constants of the graph (listed in :attr:`Captured.constants`); a step
function on a value computed with rounding is refused (:mod:`convzoo.fast.rounding`).
Whatever cannot be captured soundly is refused with a one-line
:class:`~convzoo.fast.refusal.Refusal` naming the module and the reason.
"""

from __future__ import annotations

import copy
import os
import types
from dataclasses import dataclass

import torch
import torch.fx as fx
import torch.nn as nn

from convzoo.fast.determinism import check_repeatable
from convzoo.fast.refusal import Refusal, describe, refuse
from convzoo.fast.rounding import rounding_hazard
from convzoo.fast.state import (
    Snapshot,
    check_structure,
    check_unchanged,
    hook_based_norm,
    hooks,
)
from convzoo.fast.tracer_errors import LeftTorch, ReadsGlobal, SetsGlobal, recording
from convzoo.fast.verify import first_line
from convzoo.functional.dispatch import native_only

__all__ = ["CAPTURE_METHODS", "Captured", "capture", "private_copy", "refuse"]

CAPTURE_METHODS: tuple[str, ...] = ("export", "fx")
_TORCH_DIR = os.path.dirname(torch.__file__)


@dataclass
class Captured:
    """A captured graph.

    Attributes:
        gm: the GraphModule (parameters and buffers as ``get_attr`` nodes, same call
            signature and output structure as the model). method: ``'export'`` or ``'fx'``.
        reference: the model's eager output at the example (no grad).
        constants: the tensors forward reads from outside the model (globals, closure
            variables), each described; the graph holds copies taken at capture time.
        hooks: the forward hooks and pre-hooks captured in the graph (they change no
            state), each described.
    """

    gm: fx.GraphModule
    method: str
    reference: object = None
    constants: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()


def _where(model: nn.Module, tb: types.TracebackType | None) -> str | None:
    """The innermost module of ``model`` whose own code (not torch's) was running in a
    traceback: the frame's first argument (``self`` by any name) is one of its modules."""
    names = {id(m): name for name, m in model.named_modules()}
    found = None
    while tb is not None:
        code = tb.tb_frame.f_code
        this = tb.tb_frame.f_locals.get(code.co_varnames[0]) if code.co_argcount else None
        if isinstance(this, nn.Module) and id(this) in names \
                and not code.co_filename.startswith(_TORCH_DIR):
            found = f"{describe(names[id(this)], this)} line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _classify(exc: BaseException) -> str | None:
    """The soundness reason an export/trace error stands for, or None (another failure)."""
    text = f"{type(exc).__name__}: {exc}"
    if "data-dependent" in text or "DataDependent" in text or "symbolically traced variables "\
            "cannot be used as inputs to control flow" in text:
        return "data-dependent control flow (a Python branch or loop on tensor values)"
    if "numpy()" in text or "__array" in text:
        return "a tensor leaves torch (.numpy()), which no graph can follow"
    if "tolist" in text or ".item()" in text:
        return "a tensor leaves torch (.item()/.tolist()), which no graph can follow"
    if "Inference tensors" in text:
        return None
    if "autograd" in text or "functorch" in text or "does not require grad" in text \
            or "grad_fn" in text:
        return ("forward computes gradients (torch.autograd.grad or .backward()), which an "
                "inference graph cannot hold; compute them outside the model")
    if "Proxy" in text and (".data" in text or "'data'" in text):
        return _DATA_READ
    return None


_DATA_READ = ("forward reads a tensor's .data (a view detached from the graph), which the "
              "tracer cannot follow; use .detach() instead")


def _export_reason(exc: BaseException) -> str:
    """Why torch.export failed, in words, to add where the fx fallback failed too: a tensor
    read through ``.data`` surfaces in export as a fake tensor among its constants."""
    if "fake tensor in the exported program constant" in str(exc):
        return f"torch.export: {_DATA_READ}"
    return f"torch.export: {type(exc).__name__}: {first_line(exc, 120)}"


def private_copy(model: nn.Module, backend: str | None = None) -> nn.Module:
    """An eval-mode deep copy of ``model`` (refused in one line when it cannot be copied)."""
    try:
        return copy.deepcopy(model).eval()
    except Exception as exc:  # noqa: BLE001
        found = hook_based_norm(model)  # says what to do instead
        if found is not None:
            raise refuse(model, found[1], found[0], backend) from None
        raise refuse(model, "cannot be copied (optimize works on a private copy): "
                     f"{type(exc).__name__}: {first_line(exc)}", None, backend) from None


def _check_swallowed(model: nn.Module, net: nn.Module, swallowed: list[BaseException],
                     backend: str | None) -> None:
    """Refuse a capture during which a tracer guard error was created (and caught)."""
    setters = [e for e in swallowed if isinstance(e, SetsGlobal)]
    if setters:
        raise refuse(model, f"forward calls {setters[0]}, which sets global torch state on "
                     "every call; the optimized graph would not (set it outside the model)",
                     _where(net, setters[0].__traceback__), backend)
    readers = [e for e in swallowed if isinstance(e, ReadsGlobal)]
    if readers:
        raise refuse(model, f"forward calls {readers[0]}, which reads global torch context; "
                     "the optimized graph keeps the branch taken when it was optimized "
                     "(pass the setting to the model explicitly)",
                     _where(net, readers[0].__traceback__), backend)
    if swallowed and isinstance(swallowed[0], LeftTorch):
        raise refuse(model, f"a tensor leaves torch ({swallowed[0]}) inside the model's own "
                     "try/except, which caught the tracer's error (the graph would hold the "
                     "fallback path only)", _where(net, swallowed[0].__traceback__), backend)
    if swallowed:
        raise refuse(model, "data-dependent control flow whose tracer error was caught by the "
                     "model's own try/except (the graph would hold one side of the branch)",
                     _where(net, swallowed[0].__traceback__), backend)


def _export(model: nn.Module, net: nn.Module, example: torch.Tensor,
            backend: str | None) -> fx.GraphModule:
    program = torch.export.export(net, (example,), strict=False).run_decompositions({})
    sig = program.graph_signature
    for _, target in sorted(sig.buffers_to_mutate.items()):
        owner = target.rpartition(".")[0]
        raise refuse(model, f"forward writes buffer {target.rpartition('.')[2]!r} (state kept "
                     "across calls)", describe(owner, net.get_submodule(owner)), backend)
    if sig.user_inputs_to_mutate:
        raise refuse(model, "forward modifies its input in place", None, backend)
    return program.module()


def _fx(model: nn.Module, net: nn.Module, example: torch.Tensor,
        backend: str | None) -> fx.GraphModule:
    from torch.fx.experimental.proxy_tensor import make_fx

    traced = fx.symbolic_trace(net)  # raises on Python control flow over tensor values
    for node in traced.graph.nodes:
        if node.op == "call_method" and node.target in ("numpy", "tolist", "item"):
            raise refuse(model, f"a tensor leaves torch (.{node.target}()), which no graph "
                         "can follow", None, backend)
    functional = torch.func.functionalize(traced, remove="mutations_and_views")
    with torch.no_grad():
        gm = make_fx(functional, pre_dispatch=False)(example.clone())
    for node in gm.graph.nodes:
        if node.op == "call_function" and getattr(node.target, "_schema", None) is not None \
                and node.target._schema.is_mutable:
            raise refuse(model, f"forward writes a tensor in place ({node.target}) that "
                         "outlives the call (a buffer or the input)", None, backend)
    return gm


def _private_constants(gm: fx.GraphModule, snapshot: Snapshot) -> tuple[str, ...]:
    """Give ``gm`` its own copy of every tensor constant the model does not own (a global,
    a closure variable, a tensor created while tracing), so that nothing outside the model
    changes the graph later; returns the descriptions of those forward read from globals
    or closures (the rest are the tracer's own)."""
    owned = {id(t) for key, (t, _) in snapshot.tensors.items()
             if id(t) not in snapshot.externals}
    said: list[str] = []
    for node in gm.graph.nodes:
        if node.op != "get_attr":
            continue
        owner_name, _, attr = str(node.target).rpartition(".")
        owner = gm.get_submodule(owner_name)
        value = getattr(owner, attr, None)
        if not isinstance(value, torch.Tensor) or id(value) in owned:
            continue
        ptr = value.untyped_storage().data_ptr() if value.layout == torch.strided \
            and value.numel() else None
        where = snapshot.externals.get(id(value)) or snapshot.external_storages.get(ptr or -1)
        if where is not None:
            said.append(f"{where} (shape {tuple(value.shape)})")
        private = value.detach().clone()
        if attr in owner._parameters:
            del owner._parameters[attr]
            owner.register_buffer(attr, private)
        elif attr in owner._buffers:
            owner._buffers[attr] = private
        else:
            setattr(owner, attr, private)
    return tuple(dict.fromkeys(said))


def capture(model: nn.Module, example: torch.Tensor, method: str = "export",
            backend: str | None = None) -> Captured:
    """Capture ``model`` (a private eval-mode copy) at ``example``'s shape; convzoo's layers
    are captured as plain convolutions (their fast paths are re-chosen on the graph).

    Args:
        model: the network (not modified). example: an input it accepts.
        method: ``'export'`` (torch.export, with ``'fx'`` where export fails for a reason
            other than soundness) or ``'fx'`` (symbolic trace + make_fx only).
        backend: the backend optimize was asked for (named in refusals), or None.

    Shape:
        the graph is specialized to ``example``'s shape (other shapes re-capture).

    >>> cap = capture(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), torch.randn(1, 1, 5, 5))
    >>> cap.method, sorted({str(n.target) for n in cap.gm.graph.nodes if n.op ==
    ...     "call_function"})
    ('export', ['aten.conv2d.default', 'aten.relu.default'])
    """
    if method not in CAPTURE_METHODS:
        raise ValueError(f"`method` (={method!r}) must be one of: {', '.join(CAPTURE_METHODS)}")
    check_structure(model, backend)  # before any forward runs: training mode, fake-quant
    with native_only():  # convzoo layers traced as plain convs: the rewrites pick the paths
        cap = _capture(model, example, method, backend)
    hazard = rounding_hazard(cap.gm)
    if hazard is not None:
        raise refuse(model, hazard.reason, hazard.module, backend)
    return cap


def _capture(model: nn.Module, example: torch.Tensor, method: str,
             backend: str | None) -> Captured:
    if example.is_inference():  # traced as a normal tensor (inference tensors refuse autograd)
        with torch.inference_mode(False):
            example = example.clone()
    net = private_copy(model, backend)
    before = Snapshot(net)

    def call() -> object:
        with torch.no_grad():  # the clone keeps requires_grad (a forward may branch on it)
            return net(example.clone().requires_grad_(example.requires_grad))

    try:
        reference = call()
    except Exception as exc:  # noqa: BLE001
        line = first_line(exc)
        raise ValueError(f"`example_input` (shape {tuple(example.shape)}) is not accepted by "
                         f"`model` ({type(model).__name__}): {type(exc).__name__}: {line}") \
            from None
    check_unchanged(model, net, before, call, backend)
    check_repeatable(model, call, reference, backend)
    first: BaseException | None = None
    if method == "export":
        try:
            with recording() as swallowed:
                gm = _export(model, net, example, backend)
            _check_swallowed(model, net, swallowed, backend)
            return Captured(gm, "export", reference, _private_constants(gm, before),
                            hooks(net))
        except Refusal:
            raise
        except Exception as exc:  # noqa: BLE001 - every export failure is classified
            first = exc
        reason = _classify(first)
        if reason is not None:
            raise refuse(model, reason, _where(net, first.__traceback__), backend) from None
        net = private_copy(model, backend)  # export may have left marks on the first copy
        before = Snapshot(net)
    try:
        with recording() as swallowed:
            gm = _fx(model, net, example, backend)
        _check_swallowed(model, net, swallowed, backend)
    except Refusal:
        raise
    except Exception as exc:  # noqa: BLE001
        reason = _classify(exc) or f"cannot be captured ({type(exc).__name__}: " \
            f"{first_line(exc)})"
        if first is not None and (_classify(exc) is None or _DATA_READ in _export_reason(first)):
            reason += f"; {_export_reason(first)}"
        raise refuse(model, reason, _where(net, exc.__traceback__), backend) from None
    return Captured(gm, "fx", reference, _private_constants(gm, before), hooks(net))
