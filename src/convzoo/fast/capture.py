"""Capture a model's inference computation as a functional ATen graph, or refuse.

``torch.export`` (non-strict) traces the eval-mode model with fake tensors: a Python branch
on tensor values cannot be traced (it raises), a tensor leaving torch (``.numpy()``) cannot
be faked (it raises), and the program is functionalized: in-place ops become out-of-place
values and writes to buffers or inputs are listed in its signature. Where export fails for
another reason, ``torch.fx`` symbolic tracing proves the Python control flow static and
``make_fx`` records the functionalized ATen ops. Whatever cannot be captured soundly is
refused with a one-line ``ValueError`` naming the module and the reason.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.fx as fx
import torch.nn as nn

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
    """

    gm: fx.GraphModule
    method: str
    reference: object = None


def refuse(model: nn.Module, reason: str, where: str | None = None) -> ValueError:
    """The one-line refusal: ``model (Type) cannot be optimized soundly: module 'a.b'
    (Type): reason``.

    >>> print(refuse(nn.ReLU(), "writes buffer 'n'", _describe("act", nn.ReLU())))
    `model` (ReLU) cannot be optimized soundly: module 'act' (ReLU): writes buffer 'n'

    """
    place = f"module {where}: " if where is not None else ""
    line = " ".join(f"{place}{reason}".split())  # one line
    return ValueError(f"`model` ({type(model).__name__}) cannot be optimized soundly: {line}")


def _describe(name: str, module: nn.Module) -> str:
    """``'name' (Type)``, the way refusals name a module."""
    return f"'{name or '<root>'}' ({type(module).__name__})"


def _owner(model: nn.Module, fqn: str) -> str:
    """The described module owning a parameter/buffer path."""
    owner = fqn.rpartition(".")[0]
    return _describe(owner, model.get_submodule(owner))


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
            found = f"{_describe(names[id(this)], this)} line {tb.tb_lineno}"
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
    return None


def _fingerprint(value: object) -> object:
    """What must stay the same across a forward call: the value of a plain number, string
    or tuple; the identity of a tensor (in-place writes are checked by value elsewhere); the
    identity and length of a container; the identity of anything else."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return ("value", type(value), value)
    if isinstance(value, tuple) and not isinstance(value, torch.Tensor):
        return ("tuple", tuple(_fingerprint(v) for v in value))
    if isinstance(value, (list, dict, set)):
        return ("container", id(value), len(value))
    return id(value)


def _attributes(model: nn.Module) -> dict[tuple[str, str], object]:
    """Fingerprint of every attribute of every module (to catch state kept across calls)."""
    seen: dict[tuple[str, str], object] = {}
    for name, m in model.named_modules():
        for key, value in vars(m).items():
            if key in ("_parameters", "_buffers", "_modules"):
                for k, v in value.items():
                    seen[(name, f"{key}.{k}")] = id(v)
            elif not key.startswith("_forward") and not key.startswith("_backward"):
                seen[(name, key)] = _fingerprint(value)
    return seen


def _tensors(model: nn.Module) -> dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]]:
    """``(module, attribute) -> (tensor, copy of its values)`` of every tensor a module
    holds (parameters, buffers, plain attributes), to catch in-place writes by forward."""
    found: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}
    for name, m in model.named_modules():
        items = [*m._parameters.items(), *m._buffers.items(), *[
            (k, v) for k, v in vars(m).items() if isinstance(v, torch.Tensor)]]
        for key, value in items:
            if isinstance(value, torch.Tensor) and value.layout == torch.strided:
                found[(name, key)] = (value, value.detach().clone())
    return found


def _check_changes(model: nn.Module, net: nn.Module, before: dict[tuple[str, str], object],
                   values: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Refuse state kept across calls that is no tensor read by the graph: a plain Python
    attribute that forward assigned or changed (a call counter), or a tensor that forward
    wrote in place (an EMA kept in a plain tensor attribute, ``buffer.data`` updates)."""
    for (name, key), mark in _attributes(net).items():
        if key.partition(".")[0] in ("_parameters", "_buffers", "_modules"):
            continue
        value = getattr(net.get_submodule(name), key, None)
        if isinstance(value, torch.Tensor):  # read as a constant: _check_state
            continue
        if (name, key) not in before or before[(name, key)] != mark:
            raise refuse(model, f"forward assigns or changes attribute {key!r} (now "
                         f"{_short(value)}): state kept across calls, which a graph "
                         "cannot carry", _describe(name, net.get_submodule(name)))
    for (name, key), (tensor, copy_) in values.items():
        same = tensor.shape == copy_.shape and bool(
            torch.isclose(tensor.detach(), copy_, rtol=0, atol=0, equal_nan=True).all())
        if not same:
            owner = net.get_submodule(name)
            kind = "buffer" if key in owner._buffers else "parameter" \
                if key in owner._parameters else "tensor attribute"
            raise refuse(model, f"forward writes {kind} {key!r} (state kept across calls)",
                         _describe(name, owner))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else type(value).__name__


def _assigned(model: nn.Module, before: dict[tuple[str, str], object]) -> dict[int, str]:
    """``id(value) -> described attribute`` of every tensor attribute that forward assigned."""
    found: dict[int, str] = {}
    for (name, key), ident in _attributes(model).items():
        attr = key.rpartition(".")[2]
        value = getattr(model.get_submodule(name), attr, None)
        if before.get((name, key)) != ident and isinstance(value, torch.Tensor):
            found[id(value)] = f"{attr!r}\0{_describe(name, model.get_submodule(name))}"
    return found


def _check_state(model: nn.Module, gm: fx.GraphModule, assigned: dict[int, str]) -> None:
    """Refuse a graph reading, as a constant, a tensor that a forward call assigned: state
    kept from one call to the next (a cache). An attribute recomputed from parameters at
    each call (``spectral_norm``'s weight) is a computation in the graph, not a constant."""
    for node in gm.graph.nodes:
        if node.op != "get_attr":
            continue
        value: object = gm
        for part in str(node.target).split("."):
            value = getattr(value, part, None)
        if id(value) in assigned:
            attr, where = assigned[id(value)].split("\0")
            raise refuse(model, f"assigns attribute {attr} in forward and reads it in a later "
                         "call (state kept across calls)", where)


def _hook_based_norm(model: nn.Module) -> str | None:
    """The refusal reason for the first module carrying a hook-based ``weight_norm`` or
    ``spectral_norm`` (its weight, recomputed by a hook, is a non-leaf tensor no deep copy
    can take), or None."""
    from torch.nn.utils.spectral_norm import SpectralNorm
    from torch.nn.utils.weight_norm import WeightNorm

    for name, m in model.named_modules():
        for hook in m._forward_pre_hooks.values():
            for cls, fn in ((WeightNorm, "weight_norm"), (SpectralNorm, "spectral_norm")):
                if isinstance(hook, cls):
                    return (f"module {_describe(name, m)}: uses the hook-based "
                            f"torch.nn.utils.{fn}, which cannot be copied; use "
                            f"torch.nn.utils.parametrizations.{fn} instead, or call "
                            f"torch.nn.utils.remove_{fn} on it before optimize")
    return None


def private_copy(model: nn.Module) -> nn.Module:
    """An eval-mode deep copy of ``model`` (refused in one line when it cannot be copied)."""
    try:
        return copy.deepcopy(model).eval()
    except Exception as exc:  # noqa: BLE001
        reason = _hook_based_norm(model)
        if reason is not None:
            raise refuse(model, reason) from None
        raise refuse(model, "cannot be copied (optimize works on a private copy): "
                     f"{type(exc).__name__}: {first_line(exc)}") from None


def _guard_errors() -> tuple[type[BaseException], ...]:
    """The errors a tracer raises at a branch on tensor values (export's data-dependent
    guard, fake-tensor data-dependent outputs, fx's proxy-in-control-flow error)."""
    from torch._subclasses.fake_tensor import (
        DataDependentOutputException,
        DynamicOutputShapeException,
    )
    from torch.fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode
    from torch.fx.proxy import TraceError

    return (GuardOnDataDependentSymNode, DataDependentOutputException,
            DynamicOutputShapeException, TraceError)


@contextlib.contextmanager
def _count_guard_errors() -> Iterator[list[BaseException]]:
    """Record every tracer guard error created inside the block, raised or not: when the
    capture still succeeds, user code caught it (``try: if (y > 0).any(): ... except:``) and
    the graph holds one side of a branch on tensor values."""
    seen: list[BaseException] = []
    originals = {cls: cls.__init__ for cls in _guard_errors()}

    def record(cls: type[BaseException]):
        init = originals[cls]

        def __init__(self, *args, **kwargs):  # noqa: N807
            seen.append(self)
            init(self, *args, **kwargs)
        return __init__

    leaving = {name: getattr(torch.Tensor, name) for name in ("numpy", "__array__")}

    def left(name: str):
        method = leaving[name]

        def wrapper(self, *args, **kwargs):
            # under the tracer this raises; if the capture still succeeds, it was caught
            marker = _LeftTorch(f".{name}()")
            marker.__traceback__ = _stack()
            seen.append(marker)
            return method(self, *args, **kwargs)
        return wrapper

    try:
        for cls in originals:
            cls.__init__ = record(cls)  # type: ignore[method-assign]
        for name in leaving:
            setattr(torch.Tensor, name, left(name))
        yield seen
    finally:
        for cls, init in originals.items():
            cls.__init__ = init  # type: ignore[method-assign]
        for name, method in leaving.items():
            setattr(torch.Tensor, name, method)


class _LeftTorch(Exception):
    """A marker: a tensor was handed to NumPy while the model was being traced."""


def _stack() -> types.TracebackType | None:
    """A traceback of the caller's stack (outermost first), for :func:`_where`."""
    tb, frame = None, sys._getframe(2)
    while frame is not None:
        tb = types.TracebackType(tb, frame, frame.f_lasti, frame.f_lineno)
        frame = frame.f_back
    return tb


def _check_swallowed(model: nn.Module, net: nn.Module, swallowed: list[BaseException]) -> None:
    """Refuse a capture during which a tracer guard error was created (and caught)."""
    if swallowed and isinstance(swallowed[0], _LeftTorch):
        raise refuse(model, f"a tensor leaves torch ({swallowed[0]}) inside the model's own "
                     "try/except, which caught the tracer's error (the graph would hold the "
                     "fallback path only)", _where(net, swallowed[0].__traceback__))
    if swallowed:
        raise refuse(model, "data-dependent control flow whose tracer error was caught by the "
                     "model's own try/except (the graph would hold one side of the branch)",
                     _where(net, swallowed[0].__traceback__))


def _export(model: nn.Module, example: torch.Tensor) -> fx.GraphModule:
    program = torch.export.export(model, (example,), strict=False).run_decompositions({})
    sig = program.graph_signature
    for _, target in sorted(sig.buffers_to_mutate.items()):
        raise refuse(model, f"forward writes buffer {target.rpartition('.')[2]!r} (state kept "
                     "across calls)", _owner(model, target))
    if sig.user_inputs_to_mutate:
        raise refuse(model, "forward modifies its input in place")
    return program.module()


def _fx(model: nn.Module, example: torch.Tensor) -> fx.GraphModule:
    from torch.fx.experimental.proxy_tensor import make_fx

    traced = fx.symbolic_trace(model)  # raises on Python control flow over tensor values
    for node in traced.graph.nodes:
        if node.op == "call_method" and node.target in ("numpy", "tolist", "item"):
            raise refuse(model, f"a tensor leaves torch (.{node.target}()), which no graph "
                         "can follow")
    functional = torch.func.functionalize(traced, remove="mutations_and_views")
    with torch.no_grad():
        gm = make_fx(functional, pre_dispatch=False)(example.clone())
    for node in gm.graph.nodes:
        if node.op == "call_function" and getattr(node.target, "_schema", None) is not None \
                and node.target._schema.is_mutable:
            raise refuse(model, f"forward writes a tensor in place ({node.target}) that "
                         "outlives the call (a buffer or the input)")
    return gm


def capture(model: nn.Module, example: torch.Tensor, method: str = "export") -> Captured:
    """Capture ``model`` (a private eval-mode copy) at ``example``'s shape; convzoo's layers
    are captured as plain convolutions (their fast paths are re-chosen on the graph).

    Args:
        model: the network (not modified). example: an input it accepts.
        method: ``'export'`` (torch.export, with ``'fx'`` where export fails for a reason
            other than soundness) or ``'fx'`` (symbolic trace + make_fx only).

    Shape:
        the graph is specialized to ``example``'s shape (other shapes re-capture).

    >>> cap = capture(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), torch.randn(1, 1, 5, 5))
    >>> cap.method, sorted({str(n.target) for n in cap.gm.graph.nodes if n.op ==
    ...     "call_function"})
    ('export', ['aten.conv2d.default', 'aten.relu.default'])
    """
    with native_only():  # convzoo layers traced as plain convs: the rewrites pick the paths
        return _capture(model, example, method)


def _capture(model: nn.Module, example: torch.Tensor, method: str) -> Captured:
    if method not in CAPTURE_METHODS:
        raise ValueError(f"`method` (={method!r}) must be one of: {', '.join(CAPTURE_METHODS)}")
    net = private_copy(model)
    before, values = _attributes(net), _tensors(net)
    try:
        with torch.no_grad():
            reference = net(example.clone())  # attributes assigned by forward show up
    except Exception as exc:  # noqa: BLE001
        line = first_line(exc)
        raise ValueError(f"`example_input` (shape {tuple(example.shape)}) is not accepted by "
                         f"`model` ({type(model).__name__}): {type(exc).__name__}: {line}") \
            from None
    _check_changes(model, net, before, values)
    assigned = _assigned(net, before)
    if method == "export":
        try:
            with _count_guard_errors() as swallowed:
                gm = _export(net, example)
            _check_swallowed(model, net, swallowed)
            _check_state(model, gm, assigned)
            return Captured(gm, "export", reference)
        except ValueError as exc:
            if "cannot be optimized soundly" in str(exc):
                raise
            first: BaseException = exc
        except Exception as exc:  # noqa: BLE001 - every export failure is classified
            first = exc
        reason = _classify(first)
        if reason is not None:
            raise refuse(model, reason, _where(net, first.__traceback__)) from None
        net = private_copy(model)
        before = _attributes(net)
        with torch.no_grad():
            net(example.clone())
        assigned = _assigned(net, before)
    try:
        with _count_guard_errors() as swallowed:
            gm = _fx(net, example)
        _check_swallowed(model, net, swallowed)
    except ValueError as exc:
        if "cannot be optimized soundly" in str(exc):
            raise
        reason = _classify(exc) or f"cannot be captured: {first_line(exc)}"
        raise refuse(model, reason) from None
    except Exception as exc:  # noqa: BLE001
        reason = _classify(exc) or f"cannot be captured ({type(exc).__name__}: " \
            f"{first_line(exc)})"
        raise refuse(model, reason, _where(net, exc.__traceback__)) from None
    _check_state(model, gm, assigned)
    return Captured(gm, "fx", reference)
