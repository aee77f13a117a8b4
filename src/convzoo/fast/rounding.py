"""Rounding-sensitive graphs: a step function applied to a value computed with rounding.

Folding, fusion, another memory layout, another backend: every rewrite that is exact in
real arithmetic still rounds differently, by a few units in the last place. That is within
the tolerance of a continuous computation, but a step function (``round``, ``floor``, fake
quantization, a comparison, a nonzero test such as ``logical_not`` or ``any``, ``argmax``,
an integer cast, a cast to a coarser float such as bfloat16) turns it into a whole step: a
fake-quantized net differs by one quantization step on a few inputs in ten, which no finite
set of verification inputs reliably sees. So :func:`rounding_hazard` finds, on the captured
graph, the first step function whose input is *inexact* — computed by an op whose rounding
a rewrite or a backend may change (a conv, a matmul, a sum, a transcendental) — and
``optimize`` refuses the model, naming the module and the op.

Exact, for this analysis: the model's inputs, constants, data movement (views, cat,
indexing, padding, nearest upsampling, max pooling's values), selection (relu, clamp,
max/min, where) and IEEE basic arithmetic (add, sub, mul, div: correctly rounded in every
backend) of exact values. A step function on exact values (``(x * 255).round()`` on the
input) is fine.
"""

from __future__ import annotations

import operator

import torch
import torch.fx as fx

from convzoo.fast.graph import tensor_meta

__all__ = ["Hazard", "rounding_hazard"]

_EXACT = {
    # data movement
    "view", "_unsafe_view", "reshape", "permute", "transpose", "t", "clone", "alias",
    "unsqueeze", "squeeze", "flatten", "unflatten", "expand", "expand_as", "slice", "select",
    "index", "cat", "stack", "split", "split_with_sizes", "chunk", "narrow", "contiguous",
    "unbind", "gather", "index_select", "take", "diagonal", "tril", "triu", "movedim",
    "as_strided", "_unsafe_index", "slice_scatter", "select_scatter", "index_put", "repeat",
    "tile", "flip", "roll", "constant_pad_nd", "pad", "reflection_pad1d", "reflection_pad2d",
    "reflection_pad3d", "replication_pad1d", "replication_pad2d", "replication_pad3d",
    "channel_shuffle", "native_channel_shuffle", "pixel_shuffle", "pixel_unshuffle",
    "upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d",
    "_upsample_nearest_exact1d", "_upsample_nearest_exact2d", "_upsample_nearest_exact3d",
    "detach", "lift_fresh_copy", "copy", "fill", "_to_copy", "to", "unfold", "im2col",
    # creation
    "zeros_like", "ones_like", "full_like", "empty_like", "zeros", "ones", "full", "empty",
    "scalar_tensor", "arange", "new_zeros", "new_ones", "new_full", "new_empty",
    # selection
    "relu", "neg", "abs", "maximum", "minimum", "clamp", "clamp_min", "clamp_max",
    "hardtanh", "where", "masked_fill", "amax", "amin", "max", "min", "max_pool1d",
    "max_pool2d", "max_pool3d", "max_pool2d_with_indices", "max_pool3d_with_indices",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "sort", "topk",
    "kthvalue", "cummax", "cummin", "median", "mode", "bitwise_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "isnan", "isinf", "isfinite", "nan_to_num",
    # IEEE basic arithmetic (one correctly rounded op)
    "add", "sub", "rsub", "mul", "div",
}
_STEPS = {  # step functions of their (float) input
    "round", "floor", "ceil", "trunc", "frac", "sign", "sgn", "signbit", "heaviside",
    "remainder", "fmod", "floor_divide", "gt", "ge", "lt", "le", "eq", "ne", "argmax",
    "argmin", "bucketize", "searchsorted", "threshold", "isin", "histc",
    # nonzero tests of a float (a BN residue of 1e-10 folded to exactly 0 flips them)
    "logical_not", "logical_and", "logical_or", "logical_xor", "any", "all", "count_nonzero",
    "nonzero", "argwhere", "is_nonzero", "isclose", "equal",
    "fake_quantize_per_tensor_affine", "fake_quantize_per_tensor_affine_cachemask",
    "_fake_quantize_per_tensor_affine_cachemask_tensor_qparams",
    "fake_quantize_per_channel_affine", "fake_quantize_per_channel_affine_cachemask",
    "_fake_quantize_learnable_per_tensor_affine", "_fake_quantize_learnable_per_channel_affine",
    "fused_moving_avg_obs_fake_quant", "quantize_per_tensor", "quantize_per_channel",
}
_INDICES = {  # (values, indices): the indices are a step function of the input
    "max", "min", "sort", "topk", "kthvalue", "cummax", "cummin", "median", "mode",
    "max_pool2d_with_indices", "max_pool3d_with_indices", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d",
}


class Hazard:
    """A step function on an inexact value.

    Attributes:
        node: the step (or the index output read). source: the op that made its input
            inexact. module: ``'name' (Type)`` of the module that called the step, if known.
    """

    def __init__(self, node: fx.Node, source: fx.Node) -> None:
        self.node, self.source = node, source
        stack = node.meta.get("nn_module_stack") or {}
        self.module: str | None = None
        if stack:
            name, kind = list(stack.values())[-1]
            kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
            self.module = f"'{name or '<root>'}' ({kind_name.rpartition('.')[2]})"

    @property
    def reason(self) -> str:
        """One line saying what and why."""
        return (f"{_name(self.node)} takes a value computed with floating-point rounding "
                f"({_name(self.source)}); the optimized graph rounds it differently (folded "
                "weights, fused or other kernels), which can move the step's result by a "
                "whole step on some inputs, so no result can be exact: return the value it "
                "reads and apply it outside the model, or optimize the float part alone")


def _name(node: fx.Node) -> str:
    target = node.target
    if target is operator.getitem:
        return f"the indices of {_name(node.args[0])}"  # type: ignore[arg-type]
    packet = getattr(target, "overloadpacket", None)
    if packet is not None and packet.__name__ == "_to_copy" and tensor_meta(node) is not None:
        return f"a cast to {tensor_meta(node).dtype} (aten._to_copy)"
    return f"aten.{packet.__name__}" if packet is not None else str(target)


def _op(node: fx.Node) -> str | None:
    packet = getattr(node.target, "overloadpacket", None)
    return packet.__name__ if packet is not None else None


def _is_float(node: object) -> bool:
    val = tensor_meta(node)
    return val is not None and (val.dtype.is_floating_point or val.dtype.is_complex)


def _narrows(node: fx.Node) -> bool:
    """Whether a cast rounds a float to a coarser float (float32 to bfloat16 or float16)."""
    out = tensor_meta(node)
    src = tensor_meta(node.args[0]) if node.args else None
    if out is None or src is None or not (out.dtype.is_floating_point
                                          and src.dtype.is_floating_point):
        return False
    return out.dtype != src.dtype and torch.finfo(out.dtype).eps > torch.finfo(src.dtype).eps


def rounding_hazard(gm: fx.GraphModule) -> Hazard | None:
    """The first step function in ``gm`` (in graph order) whose float input is inexact, or
    None.

    >>> import torch
    >>> from torch.fx.experimental.proxy_tensor import make_fx
    >>> lin = torch.nn.Linear(3, 3)
    >>> rounding_hazard(make_fx(lambda x: lin(x).round())(torch.randn(2, 3))).reason[:47]
    'aten.round takes a value computed with floating'
    >>> rounding_hazard(make_fx(lambda x: lin((x * 4).round()))(torch.randn(2, 3))) is None
    True
    """
    source: dict[fx.Node, fx.Node | None] = {}  # node -> the op making it inexact (None: exact)
    for node in gm.graph.nodes:
        inputs = node.all_input_nodes
        upstream = next((source[i] for i in inputs if source.get(i) is not None), None)
        if node.op != "call_function":
            source[node] = None if node.op in ("placeholder", "get_attr") else upstream
            continue
        if node.target is operator.getitem:
            parent = node.args[0]
            name = _op(parent) if isinstance(parent, fx.Node) else None
            if name in _INDICES and node.args[1] == 1 and upstream is not None and node.users:
                return Hazard(node, upstream)
            source[node] = upstream
            continue
        name = _op(node)
        if name == "div" and node.kwargs.get("rounding_mode") is not None:
            name = "floor_divide"
        if name == "_to_copy" and upstream is not None and not _is_float(node) \
                and any(_is_float(i) for i in inputs):
            return Hazard(node, upstream)  # a float cast to an integer or boolean
        if name == "_to_copy" and upstream is not None and _narrows(node):
            return Hazard(node, upstream)  # a float rounded to a coarser float grid
        if name in _STEPS:
            if any(_is_float(i) and source.get(i) is not None for i in inputs):
                return Hazard(node, next(source[i] for i in inputs  # type: ignore[misc]
                                         if _is_float(i) and source.get(i) is not None))
            source[node] = None
        elif name in _EXACT:
            source[node] = upstream
        else:
            source[node] = node if _is_float(node) or upstream is not None else None
    return None
