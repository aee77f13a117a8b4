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

Overflow. Folding moves where a value overflows: with conv weights ``1e34`` and BatchNorm
``gamma = 1e-34``, the original's conv output is ``inf`` at input ``1e5`` (and the
BatchNorm keeps it), while the folded conv, weights ``~1``, gives ``1e5``. So each fold
records on its conv (:data:`~convzoo.fast.bounds.FOLD_LIMIT`) the largest input magnitude
``S`` for which every value of the original's conv and BatchNorm *and* of the folded conv
stays below :data:`~convzoo.fast.bounds.LIMIT` (1e30, far from float32's 3.4e38): below
it neither overflows, so both compute the same numbers up to rounding. The torch backend
checks ``max |input| <= S`` at run time where no bound proves it
(:mod:`convzoo.fast.guard`) and runs the original model otherwise. A BatchNorm is left
unfolded (the original's own computation, exact on every input) where ``S < 2^30`` (weights
or scales so extreme that ordinary inputs would fail the check), where a folded constant
is not finite, or where a folded weight underflows (a nonzero ``W * s`` rounded to zero or
to a subnormal: ``0 * inf`` would then be NaN where the original has ``inf``).
"""

from __future__ import annotations

import math
import operator

import torch
import torch.fx as fx

from convzoo.fast.bounds import (
    FOLD_LIMIT,
    LIMIT,
    affine_bound,
    batchnorm_affine,
    largest_power,
    row_norm,
    weighted_bound,
)
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

__all__ = ["MIN_FOLD_LIMIT", "fold_batchnorms", "fold_batchnorms_before", "fold_constants",
           "fold_limit", "unfoldable"]

_BN = aten._native_batch_norm_legit_no_training.default

#: A fold whose :data:`~convzoo.fast.bounds.FOLD_LIMIT` is below this is not done.
MIN_FOLD_LIMIT = 2.0 ** 30


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


def _bn_affine(gm: fx.GraphModule, node: fx.Node) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scale, shift)`` in float64 with ``BN(y) = y * scale + shift`` per channel."""
    _, weight, bias, mean, var, _, eps = node.args
    return batchnorm_affine(*(None if a is None else constant(gm, a)  # type: ignore[arg-type]
                              for a in (weight, bias, mean, var)), float(eps))  # type: ignore


def _bias(gm: fx.GraphModule, call: ConvCall, channels: int) -> torch.Tensor:
    """The conv's bias in float64 (zeros where it has none)."""
    if call.bias is None:
        return torch.zeros(channels, dtype=torch.float64)
    return constant(gm, call.bias).double()


def _stored(exact: torch.Tensor, dtype: torch.dtype, weights: bool = True
            ) -> torch.Tensor | None:
    """``exact`` (float64) rounded to ``dtype``, or None where that is not finite or, for
    ``weights``, turns a nonzero value into zero or a subnormal (``0 * inf`` would then be
    NaN where the original multiplies ``inf`` by a nonzero weight).

    >>> _stored(torch.tensor([1e-40], dtype=torch.float64), torch.float32) is None
    True
    >>> _stored(torch.tensor([1e-40], dtype=torch.float64), torch.float32, False).item() > 0
    True
    """
    out = exact.to(dtype)
    if not bool(torch.isfinite(out).all()):
        return None
    if weights and dtype.is_floating_point and bool(
            ((exact != 0) & (out.abs() < torch.finfo(dtype).tiny)).any()):
        return None
    return out


def fold_limit(old: tuple[float, float, int], new: tuple[float, float, int],
               scale: torch.Tensor | None, shift: torch.Tensor | None, before: bool,
               prior: float = math.inf) -> float:
    """The largest ``S = 2^e`` such that ``max |x| <= S`` keeps every value of the
    original's conv and BatchNorm and of the folded conv below
    :data:`~convzoo.fast.bounds.LIMIT` (0.0 if none).

    Args:
        old, new: ``(largest row norm, largest |bias|, number of weights)`` of the conv
            before and after the fold.
        scale, shift: the BatchNorm's (float64). before: the BatchNorm reads ``x`` and
            the conv reads its output (else the conv reads ``x``, the BatchNorm its output).
        prior: the limit an earlier fold put on the conv's input (the BatchNorm's output
            when ``before``).

    >>> one = (1.0, 0.0, 1)
    >>> fold_limit((1e34, 0.0, 1), (1.0, 0.0, 1), torch.tensor([1e-34]), torch.zeros(1), False)
    6.103515625e-05
    >>> fold_limit(one, one, torch.ones(1), torch.zeros(1), False) >= 2.0 ** 98
    True
    """
    def ok(e: int) -> bool:
        bx = 2.0 ** e
        folded = weighted_bound(*new[:2], new[2], bx)
        if before:
            u = affine_bound(scale, shift, bx)  # type: ignore[arg-type]
            return u <= min(prior, LIMIT) and max(weighted_bound(*old[:2], old[2], u),
                                                   folded) <= LIMIT
        y = weighted_bound(*old[:2], old[2], bx)
        return bx <= prior and max(y, affine_bound(scale, shift, y),  # type: ignore[arg-type]
                                   folded) <= LIMIT

    return largest_power(ok, -149, 127)


def _norms(w: torch.Tensor, b: torch.Tensor | None, call: ConvCall) -> tuple[float, float, int]:
    top = 0.0 if b is None or b.numel() == 0 else b.double().abs().max().item()
    return row_norm(w, call.transposed, call.groups), top, w.numel()


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
        planned = _after(gm, call, bn)
        if planned is None:
            continue  # a folded constant or the fold limit is out of range: BN stays
        new_w, new_b, limit = planned
        with gm.graph.inserting_before(call.node):
            wn, bn_node = add_constant(gm, new_w, "w"), add_constant(gm, new_b, "b")
            conv = emit_conv(gm.graph, call, call.x, wn, bn_node)
        conv.meta["val"] = call.node.meta.get("val")
        conv.meta[FOLD_LIMIT] = limit
        for r in readers:
            replace(r, conv)
        folded += 1
    gm.graph.eliminate_dead_code()
    return folded


def _after(gm: fx.GraphModule, call: ConvCall, bn: fx.Node
           ) -> tuple[torch.Tensor, torch.Tensor, float] | None:
    """``(new weight, new bias, fold limit)`` of the BatchNorm ``bn`` folded into the conv
    before it, or None where the fold is not sound (a folded constant not finite or
    underflowing, or a fold limit below :data:`MIN_FOLD_LIMIT`)."""
    w = constant(gm, call.weight)
    scale, shift = _bn_affine(gm, bn)
    w64 = w.double()
    if call.transposed:  # weight (C_in, C_out/g, *k): output channel o = g*(C_out/g) + j
        per = w.shape[1]
        s = scale.reshape(call.groups, 1, per, *([1] * (w.dim() - 2)))
        exact_w = (w64.reshape(call.groups, -1, per, *w.shape[2:]) * s).reshape(w.shape)
    else:
        exact_w = w64 * scale.reshape(-1, *([1] * (w.dim() - 1)))
    old_b = _bias(gm, call, scale.numel())
    new_w, new_b = _stored(exact_w, w.dtype), _stored(old_b * scale + shift, w.dtype, False)
    if new_w is None or new_b is None:
        return None
    limit = fold_limit(_norms(w, old_b, call), _norms(new_w, new_b, call), scale, shift,
                       False, call.node.meta.get(FOLD_LIMIT, math.inf))
    return (new_w, new_b, limit) if limit >= MIN_FOLD_LIMIT else None


def unfoldable(gm: fx.GraphModule) -> list[fx.Node]:
    """The nodes scaling a conv's output or input that a runtime may fold into the conv
    itself (an inference BatchNorm, or a multiplication or division by a constant, reading a
    conv with constant weights alone; a BatchNorm a conv reads) where that fold is not sound
    on every input: a folded constant not finite or underflowing, or a fold limit below
    :data:`MIN_FOLD_LIMIT` (ONNX Runtime and OpenVINO fold such scalings themselves;
    convzoo leaves them unfolded for torch).

    >>> unfoldable(fx.symbolic_trace(torch.nn.Linear(2, 2)))
    []
    """
    found = []
    for node in gm.graph.nodes:
        if node.op != "call_function" or not node.args:
            continue
        if _bn(node) is not None and not _before_sound(gm, node):
            found.append(node)
            continue
        scaling = node.target in _SCALINGS and len(node.args) == 2 and not node.kwargs
        for at, arg in enumerate(node.args[:2] if scaling else node.args[:1]):
            call = conv_call(arg) if isinstance(arg, fx.Node) else None
            if not _foldable_conv(call) or only_user(call.node) is not node:  # type: ignore
                continue
            assert call is not None
            if at == 1 and node.target not in (aten.mul.Tensor, aten.mul.Scalar):
                continue  # c / conv: not a scaling of the conv
            if _bn(node) is not None:
                sound = _after(gm, call, node) is not None
            else:
                sound = not scaling or _scaling_sound(gm, call, node, node.args[1 - at])
            if not sound:
                found.append(node)
    return found


_SCALINGS = (aten.mul.Tensor, aten.mul.Scalar, aten.div.Tensor, aten.div.Scalar)


def _before_sound(gm: fx.GraphModule, bn: fx.Node) -> bool:
    """Whether folding the BatchNorm ``bn`` into every forward conv reading its output
    (padded or not: a runtime may fold its scaling alone) keeps the original's overflows."""
    found = _bn(bn)
    assert found is not None
    scale, shift = _bn_affine(gm, bn)
    for reader in found[1]:
        for user in reader.users:
            call = conv_call(user)
            if _foldable_conv(call) and not call.transposed and call.x is reader \
                    and _before(gm, call, scale, shift) is None:  # type: ignore[union-attr]
                return False
    return True


def _scaling_sound(gm: fx.GraphModule, call: ConvCall, node: fx.Node, c: object) -> bool:
    """Whether folding ``conv * c`` (or ``conv / c``), ``c`` a constant, into the conv keeps
    the original's overflows (True for a ``c`` that is not a constant: nothing to fold)."""
    if isinstance(c, fx.Node):
        if not is_constant(c):
            return True
        factor = constant(gm, c).double()
    elif isinstance(c, (int, float)) and not isinstance(c, bool):
        factor = torch.tensor([float(c)], dtype=torch.float64)
    else:
        return True
    if node.target in (aten.div.Tensor, aten.div.Scalar):
        factor = 1.0 / factor
    if factor.numel() == 0:
        return True
    top = factor.abs().max().item()
    w = constant(gm, call.weight)
    old = _norms(w, constant(gm, call.bias) if call.bias is not None else None, call)
    new = (old[0] * top, old[1] * top, old[2])
    if not (math.isfinite(new[0]) and math.isfinite(new[1])):
        return False
    limit = fold_limit(old, new, factor.reshape(-1), torch.zeros(1, dtype=torch.float64),
                       False)
    return limit >= MIN_FOLD_LIMIT


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
        scale, shift = _bn_affine(gm, bn)
        planned = [_before(gm, call, scale, shift) for call in calls]  # type: ignore[arg-type]
        if any(p is None for p in planned):
            continue  # some conv cannot take it soundly: the BatchNorm stays
        for call, (new_w, new_b, limit) in zip(calls, planned):  # type: ignore[misc]
            assert call is not None
            with gm.graph.inserting_before(call.node):
                wn, bn_node = add_constant(gm, new_w, "w"), add_constant(gm, new_b, "b")
                conv = emit_conv(gm.graph, call, bn.args[0], wn, bn_node)  # type: ignore
            conv.meta["val"] = call.node.meta.get("val")
            conv.meta[FOLD_LIMIT] = limit
            replace(call.node, conv)
        folded += 1
    gm.graph.eliminate_dead_code()
    return folded


def _before(gm: fx.GraphModule, call: ConvCall, scale: torch.Tensor, shift: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor, float] | None:
    """``(new weight, new bias, fold limit)`` of a BatchNorm ``(scale, shift)`` folded into
    the unpadded forward conv after it, or None where the fold is not sound (a constant
    not finite or underflowing, or a fold limit below :data:`MIN_FOLD_LIMIT`)."""
    w = constant(gm, call.weight)
    w64 = w.double()
    g, per = call.groups, w.shape[1]
    out_per = w.shape[0] // g
    # input channel of weight column j in output row o: (o // out_per) * per + j
    idx = (torch.arange(w.shape[0]) // out_per)[:, None] * per + torch.arange(per)
    shape = (*idx.shape, *([1] * (w.dim() - 2)))
    extra = (w64 * shift[idx].reshape(shape)).sum(dim=tuple(range(1, w.dim())))
    old_b = _bias(gm, call, w.shape[0])
    new_w, new_b = _stored(w64 * scale[idx].reshape(shape), w.dtype), \
        _stored(old_b + extra, w.dtype, weights=False)
    if new_w is None or new_b is None:
        return None
    limit = fold_limit(_norms(w, old_b, call), _norms(new_w, new_b, call), scale, shift, True,
                       call.node.meta.get(FOLD_LIMIT, math.inf))
    return (new_w, new_b, limit) if limit >= MIN_FOLD_LIMIT else None
