"""Trace a model on the meta device into a :class:`~convzoo.analysis.graph.Graph`.

The model runs once with meta tensors (shapes only: no compute, no memory) for its
parameters, buffers and input, under a ``TorchDispatchMode`` that records every aten op
fed by the input. Data flow is followed by tensor identity, so residual adds and
concatenations become nodes with several inputs. Forward pre/post hooks on every submodule
keep the stack of module calls each op ran inside. Convolutions get their ConvSpec from
:func:`convzoo.spec.spec_from_call` and every count from ``convzoo.arithmetic``.

When the meta run fails part-way (``.item()``, NumPy, data-dependent control flow), the
ops recorded up to the failure are kept and the graph is marked ``partial`` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn as nn
from torch.func import functional_call
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from convzoo import arithmetic as ar
from convzoo.analysis import ops
from convzoo.analysis.graph import Frame, Graph, Node
from convzoo.analysis.op_attrs import named_args, record_attrs
from convzoo.analysis.writes import Writes

__all__ = ["trace", "check_input_shape", "normalize_inputs"]

_OP_INFO: dict[Any, tuple[str, str, bool]] = {}


def _op_info(func: Any) -> tuple[str, str, bool]:
    """``(name, category, allocates)`` of an aten overload, cached."""
    info = _OP_INFO.get(func)
    if info is None:
        name = func.overloadpacket.__name__
        returns = func._schema.returns
        allocates = bool(returns) and returns[0].alias_info is None
        info = (name, ops.category(name), allocates)
        _OP_INFO[func] = info
    return info


def _describe(value: Any) -> str:
    """A short description of a user's input (never a tensor's numbers)."""
    if isinstance(value, torch.Tensor):
        return f"Tensor of shape {tuple(value.shape)}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple) and any(isinstance(v, torch.Tensor) for v in value):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_input_shape(input_shape: Any) -> tuple[int, ...]:
    """Validate ``input_shape``: a sequence of at least 2 positive ints ``(N, C, *spatial)``.

    >>> check_input_shape([1, 3, 32, 32])
    (1, 3, 32, 32)
    """
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else None
    if (
        shape is None
        or len(shape) < 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
    ):
        raise ValueError(
            f"`input_shape` (={_describe(input_shape)}) must be a sequence of at least 2 "
            "positive ints: (N, C, *spatial)"
        )
    return shape


#: One model input: its shape, and its dtype when it is not floating (token ids...).
InputSpec = tuple[tuple[int, ...], torch.dtype | None]


def _input_spec(value: Any) -> InputSpec:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape), None if value.is_floating_point() else value.dtype
    return check_input_shape(value), None


def normalize_inputs(inputs: Any) -> tuple[list[InputSpec], dict[str, InputSpec]]:
    """What torchinfo users type, as positional and keyword input specs.

    Accepts a shape ``(N, C, *spatial)``, a tensor, a tuple or list of shapes or tensors
    (one per positional argument of ``forward``) or a dict of keyword inputs.

    >>> normalize_inputs((1, 3, 8, 8)), normalize_inputs([(1, 3), torch.zeros(2, 5)])[0]
    (([((1, 3, 8, 8), None)], {}), [((1, 3), None), ((2, 5), None)])
    """
    if isinstance(inputs, torch.Tensor):
        return [_input_spec(inputs)], {}
    if isinstance(inputs, Mapping):
        if not inputs or not all(isinstance(k, str) for k in inputs):
            raise ValueError(f"`input_shape` (={_describe(inputs)}) as a dict must map "
                             "forward's argument names to shapes or tensors")
        return [], {k: _input_spec(v) for k, v in inputs.items()}
    if (isinstance(inputs, list | tuple) and inputs
            and all(isinstance(v, torch.Tensor | list | tuple) for v in inputs)):
        return [_input_spec(v) for v in inputs], {}
    return [_input_spec(inputs)], {}


def _expected_input(module: nn.Module) -> str | None:
    """The input a standard layer expects, in words, or None."""
    if isinstance(module, nn.modules.conv._ConvNd):
        n = len(module.kernel_size)
        return f"(N, {module.in_channels}, {n} spatial dim{'s' if n > 1 else ''})"
    if isinstance(module, nn.Linear):
        return f"(..., {module.in_features})"
    if isinstance(module, nn.modules.batchnorm._NormBase):
        return f"(N, {module.num_features}, ...)"
    if isinstance(module, nn.GroupNorm):
        return f"(N, {module.num_channels}, ...)"
    if isinstance(module, nn.LayerNorm):
        return f"(..., {', '.join(map(str, module.normalized_shape))})"
    spec_of = getattr(module, "spec", None)
    if spec_of is not None and hasattr(spec_of, "in_channels"):
        return f"(N, {spec_of.in_channels}, {spec_of.ndim} spatial dims)"
    return None


class _Mistake(Exception):
    """An input the model accepts but was surely not meant (an unbatched conv input)."""


class _Recorder(TorchDispatchMode):
    """Records every aten op fed (transitively) by the traced input."""

    def __init__(self, param_names: dict[int, str], element_bytes: int, dtype: str) -> None:
        super().__init__()
        self.nodes: list[Node] = []
        self.producer: dict[int, int] = {}
        self.derived: dict[int, tuple[str, ...]] = {}
        self.keep: list[Any] = []
        self.param_names = param_names
        self.stack: list[Frame] = []
        self.given: list[Any] = []  # the inputs of each module call on the stack
        self.dtype = dtype
        self.strict = False
        self.writes = Writes()
        self.constants: set[int] = set()  # tensors made in forward from constants only
        self.last_outputs: list[torch.Tensor] = []

    # ------------------------------------------------------------------ bookkeeping
    def add_input(self, x: torch.Tensor) -> None:
        index = len(self.nodes)
        self.nodes.append(Node(index, "input", "input", (), tuple(x.shape)))
        self.producer[id(x)] = index
        self.keep.append(x)

    def _sources(self, args: tuple, kwargs: dict) -> tuple[list[int], list[str], Any]:
        tracked: list[int] = []
        params: list[str] = []
        first = None
        items = list(args) + list(kwargs.values()) if kwargs else args
        for a in items:
            seq = a if isinstance(a, list | tuple) else (a,)
            for t in seq:
                if not isinstance(t, torch.Tensor):
                    continue
                key = id(t)
                index = self.producer.get(key)
                if index is not None:
                    if index not in tracked:
                        tracked.append(index)
                    if first is None:
                        first = t
                elif key in self.param_names:
                    params.append(self.param_names[key])
                elif key in self.derived:
                    params.extend(self.derived[key])
        return tracked, params, first

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: Any = None):
        kwargs = kwargs or {}
        frames = tuple(self.stack)
        for t in _tensors(args, kwargs):  # a write through an alias since t was recorded
            self.writes.refresh(t, self.producer, self.nodes, frames)
        out = func(*args, **kwargs)
        tracked, params, first = self._sources(args, kwargs)
        outs = [t for t in (out if isinstance(out, list | tuple) else (out,))
                if isinstance(t, torch.Tensor)]
        if not outs:
            return out
        if not tracked:
            if params:
                names = tuple(dict.fromkeys(params))
                for t in outs:
                    self.derived[id(t)] = names
                    self.keep.append(t)
            elif all(id(t) in self.constants for t in _tensors(args, kwargs)):
                for t in outs:  # made in forward from nothing the model holds (a mask?)
                    self.constants.add(id(t))
                    self.keep.append(t)
            for t in outs:
                self.writes.produced(t)
            return out
        name, category, allocates = _op_info(func)
        if ops.base_name(name) in ops.SPLITS:  # (one piece too: a size-1 unbind)
            self._pieces(name, func, args, kwargs, tracked, params, first, outs)
            return out
        node = Node(
            len(self.nodes), name, category, tuple(tracked), tuple(outs[0].shape),
            frames, input_shape=tuple(first.shape),
            params=tuple(dict.fromkeys(params)), allocates=allocates,
        )
        if category == "elementwise" and (
            name in ("cat", "stack") or (ops.base_name(name) in ops.MERGES and len(tracked) > 1)
        ):
            node.category = "merge"
        self.last_outputs = outs
        if any(id(t) in self.constants and id(t) not in self.producer and t.numel() > 1
               for t in _tensors(args, kwargs)):  # (a constant written into is traced)
            node.attrs["constant_operand"] = True
        record_attrs(self, node, func, args, kwargs)
        self.nodes.append(node)
        for t in outs:
            self.producer[id(t)] = node.index
            self.writes.produced(t)
        for t in _written(func, args, kwargs):
            self.writes.wrote(t, self.producer.get(id(t), node.index))
        self.keep.extend(outs)
        return out

    def _pieces(self, name: str, func: Any, args: tuple, kwargs: dict, tracked: list[int],
                params: list[str], first: torch.Tensor, outs: list[torch.Tensor]) -> None:
        """One node per output of a split (a slice) or an unbind (a select)."""
        rank = first.dim()
        named = named_args(func, args, kwargs)
        dim = int(named.get("dim", 0)) % max(rank, 1)
        start = 0
        for t in outs:
            node = Node(len(self.nodes), name, "view", tuple(tracked), tuple(t.shape),
                        tuple(self.stack), input_shape=tuple(first.shape),
                        params=tuple(dict.fromkeys(params)), allocates=False)
            if t.dim() < rank:  # unbind: a select
                node.attrs.update(dims=(dim,), index=start)
                start += 1
            else:
                node.attrs.update(dims=(dim,), start=start, step=1)
                start += t.shape[dim]
            self.nodes.append(node)
            self.producer[id(t)] = node.index
            self.writes.produced(t)
            self.keep.append(t)


def _tensors(args: tuple, kwargs: dict) -> list[torch.Tensor]:
    items = list(args) + list(kwargs.values()) if kwargs else args
    out = []
    for a in items:
        for t in (a if isinstance(a, list | tuple) else (a,)):
            if isinstance(t, torch.Tensor):
                out.append(t)
    return out


_WRITTEN: dict[Any, tuple[str, ...]] = {}


def _written(func: Any, args: tuple, kwargs: dict) -> list[torch.Tensor]:
    """The tensor arguments an op writes in place (``self`` of ``add_``, ``out=``...)."""
    names = _WRITTEN.get(func)
    if names is None:
        names = _WRITTEN[func] = tuple(
            a.name for a in func._schema.arguments
            if a.alias_info is not None and a.alias_info.is_write)
    if not names:
        return []
    named = named_args(func, args, kwargs)
    return [named[n] for n in names if isinstance(named.get(n), torch.Tensor)]


# ---------------------------------------------------------------------- module hooks
def _install_hooks(model: nn.Module, rec: _Recorder, outputs: dict) -> list[Any]:
    handles = []
    calls: dict[str, int] = {}
    for name, module in model.named_modules():
        if not name:
            continue
        leaf = next(iter(module.children()), None) is None
        kind = type(module).__name__

        def pre(mod: nn.Module, inputs: Any, name: str = name, kind: str = kind,
                leaf: bool = leaf) -> None:
            calls[name] = calls.get(name, -1) + 1
            rec.stack.append(Frame(name, kind, calls[name], leaf))
            rec.given.append(inputs)  # shapes are read only if the call fails
            if (rec.strict and isinstance(mod, nn.modules.conv._ConvNd) and inputs
                    and isinstance(inputs[0], torch.Tensor)
                    and inputs[0].dim() == len(mod.kernel_size) + 1):
                shape = tuple(inputs[0].shape)
                raise _Mistake(f"an input without a batch dim: add one, e.g. {(1, *shape)}")

        def post(mod: nn.Module, inputs: Any, output: Any, name: str = name) -> None:
            if rec.stack and rec.stack[-1].name == name:
                frame = rec.stack.pop()
                rec.given.pop()
                tensors = [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor)]
                if tensors:  # returned after a write through an alias: its value now
                    rec.writes.refresh(tensors[0], rec.producer, rec.nodes, tuple(rec.stack))
                if tensors and id(tensors[0]) in rec.producer:
                    outputs[(name, frame.call)] = rec.producer[id(tensors[0])]

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))
    return handles


def _meta_state(model: nn.Module, dtype: torch.dtype) -> tuple[dict, dict[int, str], dict]:
    state: dict[str, torch.Tensor] = {}
    names: dict[int, str] = {}
    info: dict[str, tuple[int, bool, int]] = {}
    for name, p in model.named_parameters():
        kind = dtype if p.is_floating_point() else p.dtype
        meta = nn.Parameter(torch.empty(p.shape, dtype=kind, device="meta"), p.requires_grad)
        state[name] = meta
        names[id(meta)] = name
        info[name] = (p.numel(), p.requires_grad, p.numel() * meta.element_size())
    for name, b in model.named_buffers():
        kind = dtype if b.is_floating_point() else b.dtype
        state[name] = torch.empty(b.shape, dtype=kind, device="meta")
    return state, names, info


def _failure(e: Exception, rec: _Recorder, model: nn.Module, given: str) -> str:
    """One line: where the forward pass failed, what that layer expects and what it got."""
    message = str(e).strip().splitlines()[0] if str(e).strip() else ""
    why = f"{type(e).__name__}: {message}" if not isinstance(e, _Mistake) else message
    if not rec.stack:
        expected = _expected_input(model)
        if isinstance(e, TypeError):
            why += ("; pass every input forward takes: a tuple of shapes or tensors, or a "
                    "dict of keyword inputs")
        elif expected:
            why = f"the model ({type(model).__name__}) expects input {expected}: {why}"
        return f"the forward pass failed on meta tensors, given input {given}: {why}"
    frame = rec.stack[-1]
    shapes = [tuple(t.shape) for t in tree_flatten(rec.given[-1])[0]
              if isinstance(t, torch.Tensor)]
    expected = _expected_input(model.get_submodule(frame.name))
    got = ", ".join(map(str, shapes)) or "no tensor"
    wants = f", which expects input {expected}," if expected else ""
    return (f"the forward pass failed on meta tensors in layer {frame.name!r} ({frame.type})"
            f"{wants} given {got}: {why}")


def trace(model: nn.Module, input_shape: Any, dtype: torch.dtype = torch.float32,
          strict: bool = False) -> Graph:
    """Trace ``model`` on the meta device for an input of ``input_shape``.

    Args:
        model: any ``nn.Module``; it is not modified (parameters are swapped for meta
            tensors only during the call; train/eval flags are restored).
        input_shape: what torchinfo accepts: a shape ``(N, C, *spatial)`` (at least 2
            positive ints), a tensor (only its shape and, if not floating, its dtype are
            used), a tuple or list of shapes or tensors (one per positional argument of
            ``forward``), or a dict of keyword inputs. The first input is the one fields
            are measured in.
        dtype: floating dtype of inputs, parameters and buffers (default float32).
        strict: also stop at a convolution given an input without a batch dim (PyTorch
            accepts it, but a summary of ``(C, H, W)`` is surely a missing ``N``).

    Returns:
        A :class:`Graph`; ``graph.partial`` is True (with ``graph.reason``, one line naming
        the layer, what it expects and what it was given) when the forward pass could not
        run on meta tensors to the end.

    >>> g = trace(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()), (1, 3, 32, 32))
    >>> [(n.category, n.shape) for n in g.nodes]
    [('input', (1, 3, 32, 32)), ('conv', (1, 8, 32, 32)), ('activation', (1, 8, 32, 32))]
    >>> g.nodes[1].macs == 8 * 32 * 32 * 3 * 9
    True
    """
    positional, keyword = normalize_inputs(input_shape)
    for spec in (*positional, *keyword.values()):
        # meta tensors allocate nothing, but PyTorch's storage arithmetic overflows far
        # above any real input: the one size guard (convzoo.arithmetic.max_elements)
        ar.check_elements("the input", spec[0])
    if not isinstance(model, nn.Module):
        raise ValueError(f"`model` (={type(model).__name__}) must be a torch.nn.Module")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"`dtype` (={dtype!r}) must be a floating torch.dtype")
    name = str(dtype).removeprefix("torch.")
    element_bytes = ar.dtype_bytes(name)
    state, param_names, param_info = _meta_state(model, dtype)
    rec = _Recorder(param_names, element_bytes, name)
    rec.strict = bool(strict)
    module_outputs: dict[tuple[str, int], int] = {}

    def meta(spec: InputSpec) -> torch.Tensor:
        x = torch.empty(spec[0], dtype=spec[1] or dtype, device="meta")
        rec.add_input(x)
        return x

    args = tuple(meta(v) for v in positional)
    kwargs = {k: meta(v) for k, v in keyword.items()}
    shape = (positional[0] if positional else next(iter(keyword.values())))[0]
    training = {m: m.training for m in model.modules()}
    handles = _install_hooks(model, rec, module_outputs)
    partial, reason, outputs = False, "", ()
    try:
        model.eval()
        with torch.no_grad(), torch.device("meta"), rec:
            out = functional_call(model, state, args, kwargs, tie_weights=True, strict=False)
        flat = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        for t in flat:  # an output written through an alias after it was made
            rec.writes.refresh(t, rec.producer, rec.nodes, ())
        outputs = tuple(dict.fromkeys(rec.producer[id(t)] for t in flat if id(t) in rec.producer))
    except Exception as e:  # noqa: BLE001 - any failure of user code makes the trace partial
        partial = True
        reason = _failure(e, rec, model, _describe(input_shape))
    finally:
        for h in handles:
            h.remove()
        for m, flag in training.items():
            m.training = flag
    return Graph(
        nodes=rec.nodes, outputs=outputs, input_shape=shape, dtype=name,
        element_bytes=element_bytes, params=param_info, module_outputs=module_outputs,
        modules={n: type(m).__name__ for n, m in model.named_modules() if n},
        partial=partial, reason=reason,
    )
