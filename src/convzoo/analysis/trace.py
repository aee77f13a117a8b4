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

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn as nn
from torch.func import functional_call
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from convzoo import arithmetic as ar
from convzoo.analysis.graph import Frame, Graph, Node
from convzoo.spec import spec_from_call

__all__ = ["trace", "check_input_shape", "normalize_inputs"]

_ACTIVATIONS = {
    "relu", "relu6", "gelu", "silu", "hardswish", "sigmoid", "tanh", "leaky_relu", "elu",
    "hardtanh", "hardsigmoid", "mish", "softplus", "prelu", "_prelu_kernel", "rrelu", "celu",
    "selu", "glu", "softmax", "_softmax", "log_softmax", "_log_softmax", "threshold",
    "hardshrink", "softshrink", "log_sigmoid_forward", "sgn", "sign", "logit", "_safe_softmax",
}
_NORMS = {
    "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
    "native_layer_norm", "native_group_norm", "_batch_norm_with_update",
    "_batch_norm_no_update", "batch_norm", "instance_norm", "rms_norm", "_fused_rms_norm",
}
_MERGES = {"add", "sub", "mul", "div", "cat", "stack", "maximum", "minimum", "where", "rsub"}
_POOLS = {
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "max_pool1d_with_indices", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "lp_pool1d", "lp_pool2d",
}
_ADAPTIVE = {
    "_adaptive_avg_pool1d", "_adaptive_avg_pool2d", "_adaptive_avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
}
_UPSAMPLE = {
    "upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d",
    "_upsample_nearest_exact1d", "_upsample_nearest_exact2d", "_upsample_nearest_exact3d",
    "upsample_linear1d", "upsample_bilinear2d", "upsample_trilinear3d", "upsample_bicubic2d",
    "_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa",
}
_PADS = {
    "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
    "replication_pad1d", "replication_pad2d", "replication_pad3d", "_pad_circular",
}
_REDUCE = {
    "mean", "sum", "amax", "amin", "max", "min", "var", "std", "var_mean", "logsumexp",
    "linalg_vector_norm", "norm", "prod", "std_mean", "argmax", "argmin",
}
#: Softmax-like activations: they mix the positions along their ``dim``.
_SOFTMAX = {"softmax", "_softmax", "log_softmax", "_log_softmax", "_safe_softmax"}
_VIEWS = {
    "view", "_unsafe_view", "reshape", "permute", "transpose", "t", "expand", "unsqueeze",
    "squeeze", "select", "slice", "contiguous", "clone", "detach", "alias", "_to_copy",
    "split", "split_with_sizes", "unbind", "chunk", "narrow", "flatten", "unflatten",
    "as_strided", "lift_fresh", "_reshape_alias", "expand_as", "view_as", "copy",
    "lift_fresh_copy", "to", "dropout", "native_dropout", "feature_dropout",
}
_MATMULS = {"mm", "addmm", "bmm", "baddbmm"}
_ATTENTION = {
    "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_flash_attention", "scaled_dot_product_attention",
    "_scaled_dot_product_attention_math", "_scaled_dot_product_cudnn_attention",
}
_ELEMENTWISE = _MERGES | {
    "neg", "exp", "log", "sqrt", "rsqrt", "pow", "abs", "clamp", "clamp_min", "clamp_max",
    "reciprocal", "erf", "square", "masked_fill", "fill", "zero", "mul_", "addcmul",
    "addcdiv", "lerp", "floor", "ceil", "round", "fmod", "remainder", "bitwise_and",
    "logical_not", "eq", "ne", "lt", "le", "gt", "ge", "cos", "sin", "nan_to_num",
}


def _category(name: str) -> str:
    base = name[:-1] if name.endswith("_") and not name.endswith("__") else name
    if base in ("convolution", "_convolution", "convolution_overrideable"):
        return "conv"
    for cat, names in (
        ("linear", _MATMULS), ("pool", _POOLS), ("adaptive_pool", _ADAPTIVE),
        ("norm", _NORMS), ("activation", _ACTIVATIONS), ("upsample", _UPSAMPLE),
        ("pad", _PADS), ("reduce", _REDUCE), ("view", _VIEWS), ("attention", _ATTENTION),
        ("elementwise", _ELEMENTWISE),
    ):
        if base in names:
            return cat
    if base in ("pixel_shuffle", "pixel_unshuffle"):
        return base
    if base in ("channel_shuffle", "native_channel_shuffle"):
        return "channel_shuffle"
    return "other"


_OP_INFO: dict[Any, tuple[str, str, bool]] = {}


def _op_info(func: Any) -> tuple[str, str, bool]:
    """``(name, category, allocates)`` of an aten overload, cached."""
    info = _OP_INFO.get(func)
    if info is None:
        name = func.overloadpacket.__name__
        returns = func._schema.returns
        allocates = bool(returns) and returns[0].alias_info is None
        info = (name, _category(name), allocates)
        _OP_INFO[func] = info
    return info


def _arg(args: tuple, kwargs: dict, i: int, name: str, default: Any) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def _per_axis(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    return value * n if len(value) == 1 else value


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
            return out
        name, category, allocates = _op_info(func)
        node = Node(
            len(self.nodes), name, category, tuple(tracked), tuple(outs[0].shape),
            tuple(self.stack), input_shape=tuple(first.shape),
            params=tuple(dict.fromkeys(params)), allocates=allocates,
        )
        if category == "elementwise" and (
            name in ("cat", "stack") or (name.rstrip("_") in _MERGES and len(tracked) > 1)
        ):
            node.category = "merge"
        _HANDLERS.get(node.category, _no_attrs)(self, node, func, args, kwargs, first)
        self.nodes.append(node)
        for t in outs:
            self.producer[id(t)] = node.index
        self.keep.extend(outs)
        return out


# ---------------------------------------------------------------------- op handlers
def _no_attrs(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    return None


def _conv(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    x, weight, bias, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    spec = spec_from_call(
        x, weight, bias, list(stride), list(padding), list(dilation), int(groups),
        transposed=bool(transposed), output_padding=list(output_padding),
    )
    cost = spec.cost(tuple(x.shape), rec.dtype)
    node.spec, node.macs, node.bias_adds = spec, cost.macs, cost.bias_adds


def _linear(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    name = node.op
    a, b = (args[1], args[2]) if name in ("addmm", "baddbmm") else (args[0], args[1])
    *batch, m, k = a.shape
    n = b.shape[-1]
    rows = math.prod(batch) * m
    # a matrix product is a pointwise conv with no spatial axes: rows x (K -> N)
    node.macs = ar.conv_macs(rows, k, n, (), (), ())
    node.bias_adds = ar.conv_bias_adds(rows, n, (), bias=name in ("addmm", "baddbmm"))
    node.attrs["operands"] = (rec.producer.get(id(a)), rec.producer.get(id(b)))


def _pool(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    kernel = args[1]
    n = len(node.input_shape) - 2 if isinstance(kernel, int) else len(kernel)
    n = len(kernel) if not isinstance(kernel, int) and len(kernel) > 1 else n
    k = _per_axis(kernel, n)
    stride = _arg(args, kwargs, 2, "stride", [])
    s = k if not stride else _per_axis(stride, n)
    p = _per_axis(_arg(args, kwargs, 3, "padding", 0), n)
    d = (1,) * n
    if "max" in node.op:
        d = _per_axis(_arg(args, kwargs, 4, "dilation", 1), n)
    node.attrs.update(kernel=k, stride=s, padding=p, dilation=d)


_ARG_NAMES: dict[Any, tuple[str, ...]] = {}


def _named(func: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The op's arguments by their schema names."""
    names = _ARG_NAMES.get(func)
    if names is None:
        names = _ARG_NAMES[func] = tuple(a.name for a in func._schema.arguments)
    return {**dict(zip(names, args, strict=False)), **kwargs}


def _upsample(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    op = node.op
    mode = ("nearest-exact" if "nearest_exact" in op else "nearest" if "nearest" in op
            else "cubic" if "cubic" in op else "linear")
    named = _named(func, args, kwargs)
    align = bool(named.get("align_corners") or False) if "nearest" not in mode else False
    n = len(node.shape) - 2
    keys = ("scales",) if n == 1 else ("scales_h", "scales_w") if n == 2 else (
        "scales_d", "scales_h", "scales_w")
    scales = tuple(named.get(k) for k in keys)
    if "scale_factors" in named:  # the .vec overload, when it is not decomposed
        factors = named["scale_factors"]
        scales = tuple(factors) if factors else (None,) * n
    node.attrs.update(mode=mode, align_corners=align, scales=scales,
                      antialias=op.endswith("_aa"))


def _norm(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    """``attrs['dims']``: the dims whose positions the normalization statistics mix;
    ``attrs['count']``: how many elements each statistic runs over."""
    named, shape = _named(func, args, kwargs), node.input_shape
    rank = len(shape)
    if "normalized_shape" in named:  # layer norm, RMS norm: the last dims
        dims = tuple(range(rank - len(named["normalized_shape"]), rank))
        count = math.prod(shape[rank - len(dims):])
    elif "group" in named:  # group norm: per sample, all positions
        dims = tuple(range(2, rank))
        count = shape[1] // int(named["group"]) * math.prod(shape[2:])
    elif named.get("training", False):  # batch statistics (instance norm, train-mode BN)
        dims = (0, *range(2, rank))
        count = shape[0] * math.prod(shape[2:])
    else:
        dims, count = (), 0
    node.attrs.update(dims=dims, count=count)


def _activation(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any
                ) -> None:
    if node.op in _SOFTMAX and node.input_shape:
        dim = int(_named(func, args, kwargs)["dim"]) % len(node.input_shape)
        node.attrs.update(dims=(dim,), count=node.input_shape[dim])


def _factor(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    node.attrs["factor"] = int(args[1])


def _pad(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    node.attrs["pad"] = tuple(int(v) for v in args[1])
    op = node.op
    node.attrs["mode"] = ("reflect" if op.startswith("reflection") else "replicate"
                          if op.startswith("replication") else "circular"
                          if "circular" in op else "constant")


def _reduce(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    rank = len(node.input_shape)
    named = _named(func, args, kwargs)
    dims = named.get("dim")
    if dims is None or dims == []:
        dims = range(rank)
    elif isinstance(dims, int):
        dims = (dims,)
    node.attrs["dims"] = tuple(sorted(d % rank for d in dims)) if rank else ()
    node.attrs["keepdim"] = bool(named.get("keepdim", False))


def _view(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    name, rank = node.op, len(node.input_shape)
    if name == "permute":
        node.attrs["dims"] = tuple(d % rank for d in args[1])
    elif name == "transpose" and rank:
        node.attrs["dims"] = (args[1] % rank, args[2] % rank)
        src = rec.nodes[node.inputs[0]]
        if (  # channel shuffle: (N, C, *sp) -view-> (N, g, C/g, *sp) -transpose(1, 2)->
            node.attrs["dims"] == (1, 2) and src.op in ("view", "_unsafe_view")
            and len(src.input_shape) == rank - 1
            and src.input_shape[1] == node.input_shape[1] * node.input_shape[2]
        ):
            node.category = "channel_shuffle"
            node.attrs["groups"] = node.input_shape[1]
    elif name in ("split", "split_with_sizes", "unbind", "chunk") and rank:
        node.attrs["dims"] = (int(_named(func, args, kwargs).get("dim", 0)) % rank,)
    elif name in ("select", "slice", "narrow", "unsqueeze", "squeeze"):
        dim = _arg(args, kwargs, 1, "dim", 0)
        dims = tuple(dim) if isinstance(dim, list | tuple) else (dim,)
        out_rank = len(node.shape) if name == "unsqueeze" else max(rank, 1)
        node.attrs["dims"] = tuple(d % out_rank for d in dims)
        if name == "select":
            node.attrs["index"] = int(args[2])
        if name == "slice":
            start = _arg(args, kwargs, 2, "start", 0) or 0
            size = node.input_shape[node.attrs["dims"][0]]
            node.attrs["start"] = start + size if start < 0 else min(start, size)
            node.attrs["step"] = int(_arg(args, kwargs, 4, "step", 1))
            if node.attrs["dims"][0] >= 2:
                node.category = "crop"


def _cat(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    if node.op in ("cat", "stack"):
        node.attrs["dim"] = int(_arg(args, kwargs, 1, "dim", 0))


def _shuffle(rec: _Recorder, node: Node, func: Any, args: tuple, kwargs: dict, x: Any) -> None:
    node.attrs["groups"] = int(args[1])


_HANDLERS = {
    "conv": _conv, "linear": _linear, "pool": _pool, "upsample": _upsample,
    "pixel_shuffle": _factor, "pixel_unshuffle": _factor, "pad": _pad, "reduce": _reduce,
    "view": _view, "merge": _cat, "elementwise": _cat, "channel_shuffle": _shuffle,
    "norm": _norm, "activation": _activation,
}


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
