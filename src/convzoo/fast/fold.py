"""Constant folding and BatchNorm folding on a captured graph (exact rewrites).

- Constant folding: a deterministic node whose inputs are all constants (a weight computed
  by ``weight_norm``/``spectral_norm`` in eval mode, a transposed weight) is computed once.
- BatchNorm after a conv: ``BN(conv(x)) = conv'(x)`` with ``W' = W * s`` and
  ``b' = (b - mean) * s + beta`` per output channel, ``s = gamma / sqrt(var + eps)``. Exact
  when the BatchNorm (inference form) is the conv output's only reader and every weight is
  a constant. The folded weight is a new constant: a weight shared with another conv, or
  read elsewhere in the forward, keeps its value there.
- BatchNorm before a conv: ``conv(s*x + t) = conv_{W*s}(x) + conv_W(t)``, exact when the
  conv pads nothing (padded zeros would otherwise become ``t``) and the BatchNorm output has
  no other reader.
"""

from __future__ import annotations

import operator

import torch
import torch.fx as fx

from convzoo.fast.graph import (
    ConvCall,
    add_constant,
    aten,
    constant,
    conv_call,
    emit_conv,
    getitem_users,
    is_constant,
    only_user,
    replace,
)

__all__ = ["fold_batchnorms", "fold_batchnorms_before", "fold_constants"]

_BN = aten._native_batch_norm_legit_no_training.default


def fold_constants(gm: fx.GraphModule) -> int:
    """Compute once every deterministic node whose inputs are all constants; returns how
    many nodes became constants. In place.

    >>> m = fx.symbolic_trace(torch.nn.Linear(2, 2))
    >>> fold_constants(m)
    0
    """
    env: dict[fx.Node, object] = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            try:
                env[node] = constant(gm, node)
            except ValueError:
                continue
        elif node.op == "call_function" and _pure(node):
            inputs = node.all_input_nodes
            if inputs and all(i in env for i in inputs):
                args, kwargs = fx.node.map_arg((node.args, node.kwargs), env.__getitem__)
                with torch.no_grad():
                    env[node] = node.target(*args, **kwargs)  # type: ignore[operator]
    count = 0
    for node, value in env.items():
        if node.op != "call_function" or not isinstance(value, torch.Tensor):
            continue
        if all(u in env for u in node.users):
            continue  # an inner node: folded with its readers
        with gm.graph.inserting_before(node):
            replace(node, add_constant(gm, value, "const"))
        count += 1
    gm.graph.eliminate_dead_code()
    return count


def _pure(node: fx.Node) -> bool:
    target = node.target
    if target is operator.getitem:
        return True
    if not isinstance(target, torch._ops.OpOverload):
        return False
    return not target._schema.is_mutable and torch.Tag.nondeterministic_seeded not in target.tags


def _bn(node: fx.Node) -> tuple[fx.Node, list[fx.Node]] | None:
    """``(batchnorm node, its output readers)`` when ``node`` is an inference BatchNorm
    whose only read result is its output."""
    if node.op != "call_function" or node.target is not _BN:
        return None
    items = getitem_users(node)
    if set(items) - {0} or not items.get(0):
        return None  # the batch statistics are read: not the inference form alone
    if not all(a is None or is_constant(a) for a in node.args[1:5]):
        return None
    return node, items[0]


def _bn_affine(gm: fx.GraphModule, node: fx.Node, dtype: torch.dtype) -> tuple[torch.Tensor,
                                                                               torch.Tensor]:
    """``(scale, shift)`` with ``BN(y) = y * scale + shift`` per channel."""
    _, weight, bias, mean, var, _, eps = node.args
    mean_t, var_t = constant(gm, mean).to(dtype), constant(gm, var).to(dtype)
    scale = torch.rsqrt(var_t + float(eps))  # type: ignore[arg-type]
    if weight is not None:
        scale = scale * constant(gm, weight).to(dtype)
    shift = -mean_t * scale
    if bias is not None:
        shift = shift + constant(gm, bias).to(dtype)
    return scale, shift


def _foldable_conv(call: ConvCall | None) -> bool:
    return call is not None and is_constant(call.weight) and (
        call.bias is None or is_constant(call.bias))


def fold_batchnorms(gm: fx.GraphModule) -> int:
    """Fold every inference BatchNorm that alone reads a forward or transposed conv's output
    (constant weights) into that conv; returns how many. In place.

    Shape:
        unchanged.
    """
    folded = 0
    for node in list(gm.graph.nodes):
        found = _bn(node)
        if found is None:
            continue
        bn, readers = found
        call = conv_call(bn.args[0])  # type: ignore[arg-type]
        if not _foldable_conv(call) or only_user(call.node) is not bn:  # type: ignore[union-attr]
            continue
        assert call is not None
        w = constant(gm, call.weight)
        scale, shift = _bn_affine(gm, bn, w.dtype)
        if call.transposed:  # weight (C_in, C_out/g, *k): output channel o = g*(C_out/g) + j
            per = w.shape[1]
            s = scale.reshape(call.groups, 1, per, *([1] * (w.dim() - 2)))
            new_w = (w.reshape(call.groups, -1, per, *w.shape[2:]) * s).reshape(w.shape)
        else:
            new_w = w * scale.reshape(-1, *([1] * (w.dim() - 1)))
        old_b = constant(gm, call.bias) if call.bias is not None else torch.zeros_like(scale)
        new_b = old_b * scale + shift
        with gm.graph.inserting_before(call.node):
            wn, bn_node = add_constant(gm, new_w, "w"), add_constant(gm, new_b, "b")
            conv = emit_conv(gm.graph, call, call.x, wn, bn_node)
        conv.meta["val"] = call.node.meta.get("val")
        for r in readers:
            replace(r, conv)
        folded += 1
    gm.graph.eliminate_dead_code()
    return folded


def fold_batchnorms_before(gm: fx.GraphModule) -> int:
    """Fold every inference BatchNorm whose output only unpadded forward convs read into
    those convs' weights and biases; returns how many. In place.

    Shape:
        unchanged.
    """
    folded = 0
    for node in list(gm.graph.nodes):
        found = _bn(node)
        if found is None:
            continue
        bn, readers = found
        calls = [conv_call(u) for r in readers for u in r.users]
        if not calls or any(r.op == "output" or any(u.op == "output" for u in r.users)
                            for r in readers):
            continue
        if not all(_foldable_conv(c) and not c.transposed and not any(c.padding)  # type: ignore
                   and c.x in readers for c in calls):
            continue
        for call in calls:
            assert call is not None
            w = constant(gm, call.weight)
            scale, shift = _bn_affine(gm, bn, w.dtype)
            g, per = call.groups, w.shape[1]
            out_per = w.shape[0] // g
            # input channel of weight column j in output row o: (o // out_per) * per + j
            idx = (torch.arange(w.shape[0]) // out_per)[:, None] * per + torch.arange(per)
            shape = (*idx.shape, *([1] * (w.dim() - 2)))
            new_w = w * scale[idx].reshape(shape)
            extra = (w * shift[idx].reshape(shape)).sum(dim=tuple(range(1, w.dim())))
            old_b = constant(gm, call.bias) if call.bias is not None else torch.zeros_like(extra)
            with gm.graph.inserting_before(call.node):
                wn, bn_node = add_constant(gm, new_w, "w"), add_constant(gm, old_b + extra, "b")
                conv = emit_conv(gm.graph, call, bn.args[0], wn, bn_node)  # type: ignore
            replace(call.node, conv)
        folded += 1
    gm.graph.eliminate_dead_code()
    return folded
