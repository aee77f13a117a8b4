"""Fuse a conv with the activation and/or residual add after it into one oneDNN call, its
weight prepacked.

``torch.ops.mkldnn._convolution_pointwise`` is oneDNN's convolution with a fused unary
post-op, and ``.binary`` with a fused ``add`` (then optionally a unary op): the kernels
torch.compile's freezing passes emit on CPU. Fusing saves the extra passes over memory.
Exact up to float rounding (the same elementwise function on the same accumulator; the
add commuted). Conditions, read on the graph: the conv output has exactly one reader (the
activation or add), the add's operands have the same shape and dtype (no broadcasting, no
type promotion, ``alpha = 1``), weights are constants; float32 2-D convs on CPU only.

Every eligible 2-D conv, fused or not, gets its weight reordered once into oneDNN's blocked
layout for the input shape (``mkldnn._reorder_convolution_weight``, as inductor's freezing
does) instead of at every call: the same weights, in another memory order.
"""

from __future__ import annotations

import torch
import torch.fx as fx

from convzoo.fast.graph import (
    ConvCall,
    add_constant,
    aten,
    constant,
    conv_call,
    is_constant,
    only_user,
    replace,
)
from convzoo.fast.graph import tensor_meta as meta

__all__ = ["fuse_convs", "post_op"]

_POINTWISE = torch.ops.mkldnn._convolution_pointwise


def post_op(node: fx.Node) -> tuple[str, list[float]] | None:
    """The oneDNN unary post-op computing ``node`` (``relu``, ``hardtanh`` (ReLU6)), or None.

    >>> g = fx.Graph(); x = g.placeholder("x")
    >>> post_op(g.call_function(aten.hardtanh.default, (x, 0.0, 6.0)))
    ('hardtanh', [0.0, 6.0])
    """
    if node.op != "call_function" or len(node.args) < 1 or node.kwargs:
        return None
    if node.target is aten.relu.default and len(node.args) == 1:
        return "relu", []
    if node.target is aten.hardtanh.default:
        lo, hi = (list(node.args[1:]) + [-1.0, 1.0][len(node.args) - 1:])[:2]
        return "hardtanh", [float(lo), float(hi)]  # type: ignore[arg-type]
    return None


def _eligible(call: ConvCall | None) -> bool:
    if call is None or call.transposed or call.ndim != 2 or not is_constant(call.weight):
        return False
    x, y = meta(call.x), meta(call.node)
    return (x is not None and y is not None and x.dim() == 4 and x.dtype == torch.float32
            and x.device.type == "cpu" and (call.bias is None or is_constant(call.bias)))


def _add_operand(conv: fx.Node, add: fx.Node) -> fx.Node | None:
    """The other operand of ``add = conv + other`` when it is a same-shape, same-dtype tensor."""
    if add.target is not aten.add.Tensor or add.kwargs.get("alpha", 1) != 1 \
            or len(add.args) != 2:
        return None
    a, b = add.args
    other = b if a is conv else a if b is conv else None
    if not isinstance(other, fx.Node) or other is conv:
        return None
    o, y, s = meta(other), meta(conv), meta(add)
    if o is None or y is None or s is None or o.shape != y.shape or o.dtype != y.dtype \
            or s.shape != y.shape or s.dtype != y.dtype:
        return None
    return other


def _packed(gm: fx.GraphModule, call: ConvCall) -> fx.Node:
    """A constant holding ``call``'s weight prepacked for its input shape."""
    x = meta(call.x)
    assert x is not None
    w = constant(gm, call.weight)
    packed = torch.ops.mkldnn._reorder_convolution_weight(
        w, call.padding, call.stride, call.dilation, call.groups, list(x.shape))
    return add_constant(gm, packed, "packed")


def fuse_convs(gm: fx.GraphModule) -> tuple[int, int]:
    """Fuse every eligible conv with its one reader: an activation (unary post-op) or an
    add (binary post-op, then the add's one reader if it is an activation). In place.

    Returns:
        ``(activations fused, adds fused)``.

    Shape:
        unchanged.
    """
    if not torch.backends.mkldnn.is_available():
        return 0, 0
    acts = adds = 0
    for node in list(gm.graph.nodes):
        call = conv_call(node)
        if not _eligible(call):
            continue
        assert call is not None
        geometry = (call.padding, call.stride, call.dilation, call.groups)
        reader = only_user(node)
        unary = post_op(reader) if reader is not None else None
        other = _add_operand(node, reader) if reader is not None and unary is None else None
        if other is None:  # the conv alone, or with its activation
            last = reader if unary is not None else node
            with gm.graph.inserting_before(last):
                new = gm.graph.call_function(_POINTWISE.default, (
                    call.x, _packed(gm, call), call.bias, *geometry,
                    *(unary if unary is not None else ("none", [])), ""))
            replace(last, new)
            acts += unary is not None
            continue
        assert reader is not None
        last, attr, scalars = reader, None, []
        after = only_user(reader)
        if after is not None and post_op(after) is not None:
            last = after
            attr, scalars = post_op(after)  # type: ignore[misc]
            acts += 1
        with gm.graph.inserting_before(last):
            new = gm.graph.call_function(_POINTWISE.binary, (
                call.x, other, _packed(gm, call), call.bias, *geometry, "add", None, attr, scalars,
                None))
        replace(last, new)
        adds += 1
    gm.graph.eliminate_dead_code()
    return acts, adds
