"""Fuse a conv with the residual add after it into one oneDNN call, its weight prepacked,
and apply the activation after it in place.

``torch.ops.mkldnn._convolution_pointwise`` is oneDNN's convolution, and ``.binary`` with a
fused ``add``: the kernels torch.compile's freezing passes emit on CPU. Fusing saves the
extra passes over memory. Exact up to float rounding (the add commuted). Conditions, read
on the graph: the conv output has exactly one reader (the activation or add), the add's
operands have the same shape and dtype (no broadcasting, no type promotion, ``alpha = 1``),
weights are constants; float32 2-D convs on CPU only.

The activation (ReLU, ReLU6/Hardtanh) is *not* a oneDNN post-op: oneDNN's relu/hardtanh
post-ops map NaN to a number where torch keeps NaN, and ``.binary`` accepts only relu or
none as its unary op in this build. It runs in place on the fused call's output
(``aten.relu_``/``aten.hardtanh_``, which keep NaN), safe because that output has no other
reader: no extra tensor, one extra pass over memory.

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
    """The activation ``node`` computes (``relu``, ``hardtanh`` (ReLU6)), or None.

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


def _in_place(act: fx.Node, value: fx.Node) -> fx.Node:
    """The activation ``act`` (see :func:`post_op`) applied in place on ``value``."""
    kind, scalars = post_op(act)  # type: ignore[misc]
    target = aten.relu_.default if kind == "relu" else aten.hardtanh_.default
    with act.graph.inserting_before(act):
        return act.graph.call_function(target, (value, *scalars))


def fuse_convs(gm: fx.GraphModule) -> tuple[int, int]:
    """Fuse every eligible conv with its one reader when that is an add (binary post-op);
    the activation reading the conv (or the add), if any, then runs in place on the fused
    call's output. In place.

    Returns:
        ``(activations run in place on a fused output, adds fused)``.

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
            with gm.graph.inserting_before(node):
                new = gm.graph.call_function(_POINTWISE.default, (
                    call.x, _packed(gm, call), call.bias, *geometry, "none", [], ""))
            replace(node, new)
            if unary is not None:
                assert reader is not None
                replace(reader, _in_place(reader, new))
                acts += 1
            continue
        assert reader is not None
        with gm.graph.inserting_before(reader):
            new = gm.graph.call_function(_POINTWISE.binary, (
                call.x, other, _packed(gm, call), call.bias, *geometry, "add", None, None, [],
                None))
        replace(reader, new)
        adds += 1
        after = only_user(new)
        if after is not None and post_op(after) is not None:
            replace(after, _in_place(after, new))
            acts += 1
    gm.graph.eliminate_dead_code()
    return acts, adds
