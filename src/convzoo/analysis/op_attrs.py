"""What the tracer records about each op: its MACs (from ``convzoo.arithmetic``) and the
arguments the receptive-field rules need, in ``node.attrs``.

A handler gets the recorder (``rec.producer`` maps a tensor's id to the node that made it),
the node, the aten overload and its arguments. ``attrs`` written here:

* ``dims``, ``keepdim``, ``count``: reductions, norms, softmax, views;
* ``start``, ``step``, ``index``: slices, selects and each piece of a split;
* ``operands``: producer node (or None: a constant) of each tensor argument by role
  (``copy_``'s ``self``/``src``, a matrix product's ``a``/``b``/``bias``, ``where``...);
* ``parts``: a concatenation's ``(producer, size along dim)`` for every operand;
* ``layout_in``/``layout_out``: the strided layouts of an aliasing view (``as_strided``);
* the kernel, stride, padding... of pools, pads, interpolation, ``unfold`` and ``im2col``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from convzoo import arithmetic as ar
from convzoo.analysis import ops
from convzoo.analysis.graph import Node
from convzoo.spec import spec_from_call

__all__ = ["record_attrs", "named_args", "layout"]

_ARG_NAMES: dict[Any, tuple[str, ...]] = {}


def named_args(func: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The op's arguments by their schema names."""
    names = _ARG_NAMES.get(func)
    if names is None:
        names = _ARG_NAMES[func] = tuple(a.name for a in func._schema.arguments)
    return {**dict(zip(names, args, strict=False)), **kwargs}


def layout(t: torch.Tensor) -> ar.Layout:
    """``(sizes, strides, offset)`` of a tensor, in elements."""
    return ar.Layout(tuple(t.shape), tuple(t.stride()), int(t.storage_offset()))


def _arg(args: tuple, kwargs: dict, i: int, name: str, default: Any) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def _per_axis(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    return value * n if len(value) == 1 else value


def _producer(rec: Any, value: Any) -> Any:
    """The producer node of a tensor argument (None: a constant), a tuple for a list."""
    if isinstance(value, list | tuple):
        return tuple(_producer(rec, v) for v in value)
    if isinstance(value, torch.Tensor):
        return rec.producer.get(id(value))
    return None


def _operands(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    named = named_args(func, args, kwargs)
    node.attrs["operands"] = {
        k: _producer(rec, v) for k, v in named.items()
        if isinstance(v, torch.Tensor) or (isinstance(v, list | tuple) and any(
            isinstance(t, torch.Tensor) for t in v))}


# ---------------------------------------------------------------------- op handlers
def _no_attrs(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    return None


def _conv(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    x, weight, bias, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    spec = spec_from_call(
        x, weight, bias, list(stride), list(padding), list(dilation), int(groups),
        transposed=bool(transposed), output_padding=list(output_padding),
    )
    cost = spec.cost(tuple(x.shape), rec.dtype)
    node.spec, node.macs, node.bias_adds = spec, cost.macs, cost.bias_adds
    _operands(rec, node, func, args, kwargs)


def _linear(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    name = node.op
    a, b = (args[1], args[2]) if name in ("addmm", "baddbmm") else (args[0], args[1])
    *batch, m, k = a.shape
    n = b.shape[-1]
    rows = math.prod(batch) * m
    # a matrix product is a pointwise conv with no spatial axes: rows x (K -> N)
    node.macs = ar.conv_macs(rows, k, n, (), (), ())
    node.bias_adds = ar.conv_bias_adds(rows, n, (), bias=name in ("addmm", "baddbmm"))
    node.attrs["operands"] = (rec.producer.get(id(a)), rec.producer.get(id(b)))
    if name in ("addmm", "baddbmm"):
        node.attrs["bias"] = _producer(rec, args[0])


def _pool(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
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


def _upsample(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    op = node.op
    mode = ("nearest-exact" if "nearest_exact" in op else "nearest" if "nearest" in op
            else "cubic" if "cubic" in op else "linear")
    named = named_args(func, args, kwargs)
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


def _norm(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    """``attrs['dims']``: the dims whose positions the normalization statistics mix;
    ``attrs['count']``: how many elements each statistic runs over."""
    named, shape = named_args(func, args, kwargs), node.input_shape
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


def _activation(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    if node.op in ops.SOFTMAXES and node.input_shape:
        dim = int(named_args(func, args, kwargs)["dim"]) % len(node.input_shape)
        node.attrs.update(dims=(dim,), count=node.input_shape[dim])


def _factor(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    node.attrs["factor"] = int(args[1])


def _pad(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    node.attrs["pad"] = tuple(int(v) for v in args[1])
    op = node.op
    node.attrs["mode"] = ("reflect" if op.startswith("reflection") else "replicate"
                          if op.startswith("replication") else "circular"
                          if "circular" in op else "constant")


def _reduce(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    rank = len(node.input_shape)
    named = named_args(func, args, kwargs)
    dims = named.get("dim")
    if dims is None or dims == []:
        dims = range(rank)
    elif isinstance(dims, int):
        dims = (dims,)
    node.attrs["dims"] = tuple(sorted(d % rank for d in dims)) if rank else ()
    node.attrs["keepdim"] = bool(named.get("keepdim", False))


def _dim(value: Any, rank: int) -> int:
    return int(value) % max(rank, 1)


def _reindex(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    """roll, flip, repeat, unfold, im2col, index reads and scatters, slice/select_scatter,
    as_strided and other aliasing views."""
    name = ops.base_name(node.op)
    named = named_args(func, args, kwargs)
    first = args[0] if args and isinstance(args[0], torch.Tensor) else None
    shape = tuple(first.shape) if first is not None else node.input_shape  # self's shape
    rank = len(shape)
    a = node.attrs
    if name == "roll":
        shifts, dims = list(named["shifts"]), list(named.get("dims") or [])
        a.update(shifts=tuple(int(s) for s in shifts),
                 dims=tuple(_dim(d, rank) for d in dims))
    elif name == "flip":
        a["dims"] = tuple(_dim(d, rank) for d in named["dims"])
    elif name == "repeat":
        a["repeats"] = tuple(int(r) for r in named["repeats"])
    elif name == "unfold":
        a.update(dims=(_dim(named["dimension"], rank),), size=int(named["size"]),
                 step=int(named["step"]))
    elif name in ("im2col", "col2im"):
        a.update({k: tuple(int(v) for v in named[k])
                  for k in ("kernel_size", "dilation", "padding", "stride")})
    elif name in ("index_select", "gather", "index_add", "index_copy", "index_fill", "scatter",
                  "scatter_add", "scatter_reduce", "index_reduce"):
        a["dims"] = (_dim(named["dim"], rank),)
    elif name in ("index", "index_put", "_index_put_impl"):
        a["indexed"] = tuple(i for i, t in enumerate(named["indices"]) if t is not None)
    elif name == "slice_scatter":
        dim = _dim(named.get("dim", 0), rank)
        size = shape[dim]
        start, end = named.get("start") or 0, named.get("end")
        start = start + size if start < 0 else min(start, size)
        end = size if end is None else (end + size if end < 0 else min(end, size))
        a.update(dims=(dim,), start=start, end=end, step=int(named.get("step", 1) or 1))
    elif name == "select_scatter":
        dim = _dim(named["dim"], rank)
        a.update(dims=(dim,), index=int(named["index"]) % shape[dim])
    _operands(rec, node, func, args, kwargs)
    x = args[0] if args and isinstance(args[0], torch.Tensor) else None
    returns = func._schema.returns
    if x is not None and returns and returns[0].alias_info is not None:  # a view of x
        out = rec.last_outputs[0]
        a.update(layout_in=layout(x), layout_out=layout(out))


def _view(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    name, rank = node.op, len(node.input_shape)
    if ops.base_name(name) in ops.REINDEX | ops.INDEXED_READS | ops.SCATTERS:
        _reindex(rec, node, func, args, kwargs)
        return
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
    elif name in ("select", "slice", "narrow", "unsqueeze", "squeeze"):
        dim = _arg(args, kwargs, 1, "dim", None)
        if dim is None:  # squeeze(): every size-1 dim; slice(): dim 0
            dim = [d for d, n in enumerate(node.input_shape) if n == 1] if name == "squeeze" \
                else 0
        dims = tuple(dim) if isinstance(dim, list | tuple) else (dim,)
        out_rank = len(node.shape) if name == "unsqueeze" else max(rank, 1)
        node.attrs["dims"] = tuple(d % out_rank for d in dims)
        if name == "select":
            node.attrs["index"] = int(args[2]) % node.input_shape[node.attrs["dims"][0]]
        if name == "slice":
            start = _arg(args, kwargs, 2, "start", 0) or 0
            size = node.input_shape[node.attrs["dims"][0]]
            node.attrs["start"] = start + size if start < 0 else min(start, size)
            node.attrs["step"] = int(_arg(args, kwargs, 4, "step", 1))
            if node.attrs["dims"][0] >= 2:
                node.category = "crop"
    elif name in ("copy", "copy_"):
        _operands(rec, node, func, args, kwargs)
    elif name in ("as_strided", "expand", "alias") or func._schema.returns and (
            func._schema.returns[0].alias_info is not None and name not in ops.RESHAPES):
        x = args[0]
        node.attrs.update(layout_in=layout(x), layout_out=layout(rec.last_outputs[0]))


def _merge(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    if node.op in ("cat", "stack"):
        dim = int(_arg(args, kwargs, 1, "dim", 0))
        node.attrs["dim"] = dim
        tensors = [t for t in args[0] if isinstance(t, torch.Tensor)]
        rank = len(node.shape)
        d = dim % rank if rank else 0
        node.attrs["parts"] = tuple(
            (rec.producer.get(id(t)), t.shape[d] if node.op == "cat" and t.dim() else 1)
            for t in tensors)
    else:
        _operands(rec, node, func, args, kwargs)
        if _constant_result(node.op, args):
            node.attrs["constant_result"] = True


def _constant_result(op: str, args: tuple) -> bool:
    """Whether a Python number makes the result a constant whatever the tensor holds (for
    finite inputs): ``x * 0``, ``x / inf``, ``x ** 0`` and their in-place forms.

    >>> _constant_result("mul_", (None, 0.0)), _constant_result("mul", (None, 2))
    (True, False)
    """
    base = ops.base_name(op)
    number = args[1] if len(args) > 1 and isinstance(args[1], int | float) else None
    if number is None or isinstance(args[0], int | float):
        return False
    return ((base == "mul" and number == 0) or (base == "div" and math.isinf(number))
            or (base == "pow" and number == 0))


def _attention(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    named = named_args(func, args, kwargs)
    node.attrs.update(is_causal=bool(named.get("is_causal", False)),
                      masked=named.get("attn_mask") is not None)
    _operands(rec, node, func, args, kwargs)


def _shuffle(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    node.attrs["groups"] = int(args[1])


def _other(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    if ops.base_name(node.op) in ops.NO_DEPENDENCY:
        _operands(rec, node, func, args, kwargs)


_HANDLERS = {
    "conv": _conv, "linear": _linear, "pool": _pool, "upsample": _upsample,
    "pixel_shuffle": _factor, "pixel_unshuffle": _factor, "pad": _pad, "reduce": _reduce,
    "view": _view, "merge": _merge, "elementwise": _merge, "channel_shuffle": _shuffle,
    "norm": _norm, "activation": _activation, "attention": _attention, "other": _other,
    "reindex": _view,
}


def record_attrs(rec: Any, node: Node, func: Any, args: tuple, kwargs: dict) -> None:
    """Fill ``node.macs``/``bias_adds``/``attrs`` for one recorded op."""
    _HANDLERS.get(node.category, _no_attrs)(rec, node, func, args, kwargs)
