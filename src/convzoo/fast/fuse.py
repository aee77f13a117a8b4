"""Fuse a conv with the residual add after it into one oneDNN call, its weight prepacked,
and apply the activation after it in place.

``torch.ops.mkldnn._convolution_pointwise`` is oneDNN's convolution, and ``.binary`` with a
fused ``add``: the kernels torch.compile's freezing passes emit on CPU. Fusing saves the
extra passes over memory. Exact up to float rounding (the add commuted). Conditions, read
on the graph: the conv output has exactly one reader (the activation or add), the add's
operands have the same shape and dtype (no broadcasting, no type promotion, ``alpha = 1``),
weights are constants; float32 and bfloat16 2-D convs on CPU only.

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

__all__ = ["accumulate_in_place", "activation_sites", "fuse_convs", "pack_linears", "post_op",
           "unfuse_activations", "units"]

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
    return (x is not None and y is not None and x.dim() == 4 and x.dtype in _DTYPES
            and x.device.type == "cpu" and (call.bias is None or is_constant(call.bias)))


#: What oneDNN's fused convs take here: float32, and bfloat16 (``precision='bf16'``: the
#: same kernels inductor's freezing emits for bfloat16; checked equal to conv + relu).
_DTYPES = (torch.float32, torch.bfloat16)


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


def _plan(node: fx.Node) -> tuple[ConvCall, fx.Node | None, fx.Node | None] | None:
    """``(conv, add operand or None, activation or None)`` for an eligible conv: the add
    that alone reads it (binary post-op), then the activation that alone reads the conv or
    the add."""
    call = conv_call(node)
    if not _eligible(call):
        return None
    assert call is not None
    reader = only_user(node)
    if reader is not None and post_op(reader) is not None:
        return call, None, reader
    other = _add_operand(node, reader) if reader is not None else None
    if other is None:
        return call, None, None
    assert reader is not None
    after = only_user(reader)
    return call, other, after if after is not None and post_op(after) is not None else None


def activation_sites(gm: fx.GraphModule) -> list[fx.Node]:
    """The activations :func:`fuse_convs` can make oneDNN post-ops: one reading a conv
    alone, or a ReLU reading a fused add alone (the binary call takes relu as its only
    unary op in this build)."""
    if not torch.backends.mkldnn.is_available():
        return []
    found = []
    for node in gm.graph.nodes:
        plan = _plan(node)
        if plan is None or plan[2] is None:
            continue
        _, other, act = plan
        if other is None or post_op(act)[0] == "relu":  # type: ignore[index]
            found.append(act)
    return found


def fuse_convs(gm: fx.GraphModule, post_ops: set[fx.Node] | frozenset = frozenset()
               ) -> tuple[int, int]:
    """Fuse every eligible conv with its one reader when that is an add (binary post-op);
    the activation reading the conv (or the add), if any, becomes a oneDNN post-op when it
    is in ``post_ops`` (see :func:`activation_sites`; NaN becomes a number there, so the
    caller proves no NaN can reach it: :mod:`convzoo.fast.guard`), else runs in place on the
    fused call's output. In place.

    Returns:
        ``(activations fused or run in place on a fused output, adds fused)``.

    Shape:
        unchanged.
    """
    if not torch.backends.mkldnn.is_available():
        return 0, 0
    acts = adds = 0
    for node in list(gm.graph.nodes):
        plan = _plan(node)
        if plan is None:
            continue
        call, other, act = plan
        geometry = (call.padding, call.stride, call.dilation, call.groups)
        fused = act is not None and act in post_ops
        if other is None:  # the conv alone, or with its activation
            kind, scalars = post_op(act) if fused else ("none", [])  # type: ignore[misc]
            with gm.graph.inserting_before(node):
                new = gm.graph.call_function(_POINTWISE.default, (
                    call.x, _packed(gm, call), call.bias, *geometry, kind, scalars, ""))
            replace(node, new)
        else:
            add = only_user(node)
            assert add is not None
            with gm.graph.inserting_before(add):
                new = gm.graph.call_function(_POINTWISE.binary, (
                    call.x, other, _packed(gm, call), call.bias, *geometry, "add", None,
                    "relu" if fused else None, [], None))
            replace(add, new)
            adds += 1
        if act is not None:
            replace(act, new if fused else _in_place(act, new))
            acts += 1
    gm.graph.eliminate_dead_code()
    return acts, adds


def pack_linears(gm: fx.GraphModule) -> int:
    """Every float32 CPU ``linear`` with a constant 2-D weight becomes MKL's linear with the
    weight packed once for the input's row count (``mkl._mkl_linear``, as inductor's
    freezing emits); returns how many. In place.

    Shape:
        unchanged.
    """
    if not torch.backends.mkl.is_available():
        return 0
    count = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target is not aten.linear.default:
            continue
        x, w = node.args[0], node.args[1]
        b = node.args[2] if len(node.args) > 2 else node.kwargs.get("bias")
        xv = meta(x)
        if xv is None or xv.dtype != torch.float32 or xv.device.type != "cpu" \
                or xv.dim() < 2 or not is_constant(w) or (b is not None and not is_constant(b)):
            continue
        weight = constant(gm, w)
        if weight.dim() != 2 or weight.dtype != torch.float32 or xv.numel() == 0:
            continue
        rows = xv.numel() // xv.shape[-1]
        packed = torch.ops.mkl._mkl_reorder_linear_weight(weight, rows)
        with gm.graph.inserting_before(node):
            new = gm.graph.call_function(torch.ops.mkl._mkl_linear.default, (
                x, add_constant(gm, packed, "packed"), w, b, rows))
        replace(node, new)
        count += 1
    gm.graph.eliminate_dead_code()
    return count


def unfuse_activations(gm: fx.GraphModule) -> int:
    """Undo the activation post-ops of :func:`fuse_convs`: each becomes the same activation
    run in place on the call's output (torch's NaN semantics); returns how many. In place.

    Shape:
        unchanged.
    """
    count = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target not in (_POINTWISE.default,
                                                            _POINTWISE.binary, _IN_PLACE):
            continue
        args = list(node.args)
        at = 7 if node.target is _POINTWISE.default else 10
        kind = args[at]
        if kind in (None, "none"):
            continue
        scalars = [float(v) for v in args[at + 1]] if node.target is _POINTWISE.default else []
        args[at] = "none" if node.target is _POINTWISE.default else None
        if node.target is _POINTWISE.default:
            args[at + 1] = []
        node.args = tuple(args)
        users = list(node.users)
        target = aten.relu_.default if kind == "relu" else aten.hardtanh_.default
        with gm.graph.inserting_after(node):
            act = gm.graph.call_function(target, (node, *scalars))
        act.meta.update(node.meta)
        for user in users:
            user.replace_input_with(node, act)
        count += 1
    gm.recompile()
    return count


def units(gm: fx.GraphModule) -> set[fx.Node]:
    """The nodes :func:`fuse_convs` merges into the node after them (a conv read by its
    activation or add; an add read by its activation): no value of theirs is materialized.
    """
    inside: set[fx.Node] = set()
    for node in gm.graph.nodes:
        plan = _plan(node)
        if plan is None:
            continue
        _, other, act = plan
        if other is not None or act is not None:
            inside.add(node)
        if other is not None and act is not None:
            inside.add(only_user(node))  # type: ignore[arg-type]
    return inside


_ALIASES = (aten.relu_.default, aten.hardtanh_.default)  # in place: return their input


def _buffer(node: fx.Node) -> list[fx.Node] | None:
    """The chain of nodes holding one fresh buffer, from ``node`` back to the call that
    allocated it (oneDNN calls, max pooling), through in-place activations and identity
    checks; None when the buffer may be anything else (an input, a constant, a view)."""
    from convzoo.fast.guard import bounded

    chain = [node]
    while chain[-1].op == "call_function" and (
            chain[-1].target in _ALIASES or chain[-1].target is bounded
            or chain[-1].target is _IN_PLACE):
        chain.append(chain[-1].args[0])  # type: ignore[arg-type]
    last = chain[-1]
    fresh = (_POINTWISE.default, _POINTWISE.binary, aten.max_pool2d.default)
    return chain if last.op == "call_function" and last.target in fresh else None


_IN_PLACE = torch.ops.mkldnn._convolution_pointwise_.binary


def accumulate_in_place(gm: fx.GraphModule) -> int:
    """Every fused conv + add whose other operand is a buffer nobody reads afterwards
    writes its sum into that buffer (``_convolution_pointwise_.binary``, oneDNN's sum
    post-op, as inductor's freezing does) instead of a new tensor; returns how many. In
    place.

    Shape:
        unchanged.
    """
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    count = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target is not _POINTWISE.binary:
            continue
        chain = _buffer(node.args[1])  # type: ignore[arg-type]
        if chain is None or any(u is not node and u not in chain and order[u] > order[node]
                                for c in chain for u in c.users):
            continue  # read after the add (or returned): it must keep its value
        source = _buffer(node.args[0])  # type: ignore[arg-type]
        if node.args[0] in chain or (source is not None and source[-1] is chain[-1]):
            continue  # the conv reads the same buffer it would write
        x, other, *rest = node.args
        with gm.graph.inserting_before(node):
            new = gm.graph.call_function(_IN_PLACE, (other, x, *rest))
        replace(node, new)
        gm.graph.erase_node(node)
        count += 1
    return count
