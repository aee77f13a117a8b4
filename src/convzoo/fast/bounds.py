"""Magnitude bounds on a captured graph: how large an input keeps every value finite.

oneDNN's fused activations (``relu``, ``hardtanh`` post-ops) are exact on every number but
turn NaN into one, where torch keeps NaN. A NaN can only reach an activation from a NaN or
an infinity upstream, and on a finite input an infinity only appears where some value
overflows. :class:`Bounds` proves, by interval arithmetic over the graph, the largest
``S`` such that ``max |source| <= S`` keeps every value the given nodes depend on below
:data:`LIMIT` (far from float32's and bfloat16's largest number, 3.4e38): no overflow,
hence no infinity, hence no NaN there. :mod:`convzoo.fast.guard` checks ``max |source| <=
S`` at run time (one read of the tensor, NaN failing the comparison) and runs the graph
with the activations fused only then.

Per node, a bound ``B`` on ``|value|`` from its inputs' bounds (float64 arithmetic, a factor
for the rounding of every result, ``1 + n 2^-23`` for a sum of ``n`` products):

- conv, linear with a constant weight: ``max_o sum |W_o| * B_x + max |b|`` (the largest
  L1 norm of the weights one output element sums); other matmuls: ``n * B_a * B_b``;
- data movement, pooling, means, ReLU, dropout in eval, casts: ``B``;
- ``hardtanh(lo, hi)``, ``relu6``, ``clamp(lo, hi)``: ``min(B, max(|lo|, |hi|))``;
  sigmoid, tanh, softmax: 1;
- add/sub ``B_a + |alpha| B_b``, mul ``B_a B_b``, division by a nonzero constant;
- layer/group norm: ``sqrt(n) max|gamma| + max|beta|`` (Samuelson's inequality: no value
  of a group of ``n`` lies more than ``sqrt(n - 1)`` standard deviations from its mean),
  its squares bounded by ``B^2``; only with ``eps > 0`` (with ``eps = 0`` a constant group
  gives ``0 * inf``);
- BatchNorm in inference: ``B max|s| + max|t|`` with ``s = gamma / sqrt(var + eps)``,
  ``t = beta - mean s`` (unbounded where ``s`` or ``t`` is not finite);
- a conv a BatchNorm was folded into (:mod:`convzoo.fast.fold`) carries the largest input
  magnitude for which the *original's* conv and BatchNorm stay below :data:`LIMIT`
  (:data:`FOLD_LIMIT`): beyond it, unbounded;
- any other op: unbounded (an activation depending on it is never fused).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable

import torch
import torch.fx as fx

from convzoo.fast.graph import aten, constant, conv_call, tensor_meta

__all__ = ["FOLD_LIMIT", "LIMIT", "Bounds", "affine_bound", "ancestors", "batchnorm_affine",
           "largest_power", "row_norm", "weighted_bound"]

#: Every value a fused activation depends on must stay below this (float32 max: 3.4e38).
LIMIT = 1e30
#: Node meta key of a conv a BatchNorm was folded into: the largest ``max |input|`` for
#: which every value of the original's conv and BatchNorm, and of the folded conv, stays
#: below :data:`LIMIT` (:mod:`convzoo.fast.fold`).
FOLD_LIMIT = "convzoo_fold_limit"
_EPS = 2.0 ** -7  # relative rounding of one stored result (bfloat16; float32 is finer)

_SAME = {
    aten.relu.default, aten.relu_.default, aten.clone.default, aten.contiguous.default,
    aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.permute.default,
    aten.transpose.int, aten.t.default, aten.flatten.using_ints, aten.unflatten.int,
    aten.unsqueeze.default, aten.squeeze.dim, aten.squeeze.dims, aten.squeeze.default,
    aten.expand.default, aten.select.int, aten.slice.Tensor, aten.split.Tensor,
    aten.split_with_sizes.default, aten.chunk.default, aten.unbind.int, aten.alias.default,
    aten.channel_shuffle.default, aten.native_channel_shuffle.default,
    aten.pixel_shuffle.default, aten.pixel_unshuffle.default, aten.dropout.default,
    aten.max_pool2d.default, aten.max_pool2d_with_indices.default, aten.max_pool1d.default,
    aten.max_pool3d.default, aten.avg_pool2d.default, aten.avg_pool1d.default,
    aten.avg_pool3d.default, aten.adaptive_avg_pool2d.default, aten.adaptive_avg_pool1d.default,
    aten.adaptive_avg_pool3d.default, aten._adaptive_avg_pool2d.default,
    aten.adaptive_max_pool2d.default, aten.mean.dim, aten.mean.default, aten.amax.default,
    aten._to_copy.default, aten.to.dtype, aten.lift_fresh_copy.default, aten.detach.default,
    aten.silu.default, aten.gelu.default, aten.hardswish.default, aten.cat.default,
    aten.stack.default, aten.upsample_nearest2d.vec, aten.upsample_nearest2d.default,
    aten.constant_pad_nd.default, aten.roll.default, aten.flip.default,
}
_UNIT = {aten.sigmoid.default, aten.tanh.default, aten.hardsigmoid.default,
         aten._softmax.default, aten.softmax.int}
_MATMUL = {aten.mm.default, aten.bmm.default, aten.matmul.default}
_BN = aten._native_batch_norm_legit_no_training.default


def ancestors(nodes: Iterable[fx.Node]) -> set[fx.Node]:
    """Every node the given nodes depend on, themselves included.

    >>> g = fx.Graph(); x = g.placeholder("x"); y = g.call_function(torch.relu, (x,))
    >>> sorted(n.name for n in ancestors([y]))
    ['relu', 'x']
    """
    seen: set[fx.Node] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.all_input_nodes)
    return seen


def _flat(value: object) -> list[object]:
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flat(item)]
    return [value]


def _numel(shape: Iterable[int]) -> int:
    return math.prod(int(s) for s in shape)


class _Rules:
    """Bounds of one graph at one input bound (constants' norms computed once)."""

    def __init__(self, gm: fx.GraphModule) -> None:
        self.gm = gm
        self.cache: dict[fx.Node, float] = {}
        self.rows: dict[fx.Node, tuple[float, int]] = {}

    def const(self, node: fx.Node) -> float:
        if node not in self.cache:
            try:
                t = constant(self.gm, node)
            except (ValueError, AttributeError):
                self.cache[node] = math.inf
            else:
                if t.is_mkldnn or t.is_sparse or t.numel() == 0:
                    self.cache[node] = math.inf if t.numel() else 0.0
                else:
                    top = t.detach().double().abs().max().item()
                    self.cache[node] = top if math.isfinite(top) else math.inf
        return self.cache[node]

    def row_norm(self, node: fx.Node, transposed: bool, groups: int) -> tuple[float, int]:
        """``(max_o sum |W_o|, number of weights)``: the largest sum of weight magnitudes
        one output element takes (an output channel's row; for a transposed conv, every
        input channel of its group and every tap); ``inf`` for a non-finite or opaque
        weight."""
        if node not in self.rows:
            try:
                w = constant(self.gm, node)
            except (ValueError, AttributeError):
                w = None
            if w is None or w.is_mkldnn or w.numel() == 0:
                self.rows[node] = (math.inf if w is None or w.numel() else 0.0, 0)
                return self.rows[node]
            self.rows[node] = (row_norm(w, transposed, groups), w.numel())
        return self.rows[node]


def row_norm(w: torch.Tensor, transposed: bool = False, groups: int = 1) -> float:
    """``max_o sum |W_o|``: the largest sum of weight magnitudes one output element of a
    conv (or linear) takes (an output channel's row; for a transposed conv, every input
    channel of its group and every tap); ``inf`` when it is not finite.

    >>> row_norm(torch.tensor([[1.0, -2.0], [0.5, 0.5]]))
    3.0
    """
    if w.numel() == 0:
        return 0.0
    a = w.detach().double().abs()
    if transposed:  # (C_in, C_out/g, *k): output channel g*(C_out/g)+j
        rows = a.reshape(groups, w.shape[0] // groups, w.shape[1], -1).sum(dim=(1, 3))
    else:
        rows = a.reshape(w.shape[0], -1).sum(dim=1)
    top = rows.max().item()
    return top if math.isfinite(top) else math.inf


def weighted_bound(row: float, top: float, terms: int, bx: float) -> float:
    """A bound on every partial sum and the result of a conv (or linear) on inputs
    ``|x| <= bx``, rounding included, from its weights' largest row norm ``row``
    (:func:`row_norm`), its largest bias magnitude ``top`` and its number of weights
    ``terms``.

    >>> weighted_bound(2.0, 1.0, 4, 3.0) >= 7.0, weighted_bound(2.0, 1.0, 4, math.inf)
    (True, inf)
    """
    if not (math.isfinite(bx) and math.isfinite(top) and math.isfinite(row)):
        return math.inf
    return _accumulated(row * bx + top, terms)


def batchnorm_affine(weight: torch.Tensor | None, bias: torch.Tensor | None,
                     mean: torch.Tensor, var: torch.Tensor, eps: float
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(s, t)`` in float64 with ``BN(y) = y s + t`` per channel (inference form).

    >>> s, t = batchnorm_affine(None, None, torch.zeros(1), torch.full((1,), 4.0), 0.0)
    >>> s.item(), t.item()
    (0.5, -0.0)
    """
    scale = torch.rsqrt(var.detach().double() + float(eps))
    if weight is not None:
        scale = scale * weight.detach().double()
    shift = -mean.detach().double() * scale
    if bias is not None:
        shift = shift + bias.detach().double()
    return scale, shift


def affine_bound(scale: torch.Tensor, shift: torch.Tensor, bx: float) -> float:
    """A bound on ``y s + t`` for ``|y| <= bx`` (two roundings); ``inf`` where ``s`` or
    ``t`` is not finite.

    >>> affine_bound(torch.tensor([2.0]), torch.tensor([1.0]), 3.0) >= 7.0
    True
    """
    if scale.numel() == 0:
        return bx
    s, t = scale.abs().max().item(), shift.abs().max().item()
    if not (math.isfinite(s) and math.isfinite(t) and math.isfinite(bx)):
        return math.inf
    return (bx * s * (1.0 + _EPS) + t) * (1.0 + _EPS)


def _accumulated(bound: float, terms: int) -> float:
    """A sum of ``terms`` products bounded by ``bound`` in exact arithmetic, rounded."""
    return bound * (1.0 + terms * 2.0 ** -23) * (1.0 + _EPS)


def _value(env: dict[fx.Node, float], arg: object) -> float:
    """The bound of an argument: a node's, a number's magnitude, else infinity."""
    if isinstance(arg, fx.Node):
        return env.get(arg, math.inf)
    if isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return abs(float(arg)) if math.isfinite(float(arg)) else math.inf
    return math.inf


def _weighted(rules: _Rules, weight: fx.Node, bias: object, bx: float, transposed: bool,
              groups: int) -> float:
    """``max_o sum |W_o| B_x + max |b|``, rounded, for a constant weight."""
    row, terms = rules.row_norm(weight, transposed, groups)
    if isinstance(bias, fx.Node):
        b = rules.const(bias) if bias.op == "get_attr" else math.inf
    else:
        b = 0.0 if bias is None else _value_of(bias)
    return _accumulated(row * bx + b, terms) if bx < math.inf else math.inf


def _value_of(arg: object) -> float:
    return _value({}, arg) if not isinstance(arg, fx.Node) else math.inf


def _conv(rules: _Rules, env: dict[fx.Node, float], node: fx.Node) -> float | None:
    call = conv_call(node)
    if call is None:
        return None
    bx = _value(env, call.x)
    if FOLD_LIMIT in node.meta and not bx <= node.meta[FOLD_LIMIT]:
        return math.inf  # beyond it the original's (unfolded) conv may overflow
    bias = env.get(call.bias, math.inf) if isinstance(call.bias, fx.Node) and \
        call.bias.op != "get_attr" else call.bias
    if call.weight.op == "get_attr":
        return _weighted(rules, call.weight, bias, bx, call.transposed, call.groups)
    w = tensor_meta(call.weight)
    if w is None:
        return math.inf
    fan = _numel(w.shape)  # at least the products one output element sums
    b = 0.0 if bias is None else bias if isinstance(bias, float) else _value(env, bias)
    return _accumulated(fan * bx * _value(env, call.weight), fan) + b


def _linear(rules: _Rules, env: dict[fx.Node, float], node: fx.Node) -> float:
    x, w = node.args[0], node.args[1]
    b = node.args[2] if len(node.args) > 2 else node.kwargs.get("bias")
    if not isinstance(w, fx.Node) or w.op != "get_attr":
        return math.inf
    if isinstance(b, fx.Node) and b.op != "get_attr":
        b = env.get(b, math.inf)
    return _weighted(rules, w, b, _value(env, x), False, 1)


def _addmm(env: dict[fx.Node, float], node: fx.Node) -> float:
    bias, a, b = node.args[:3]
    val = tensor_meta(a)
    fan = int(val.shape[-1]) if val is not None else None
    if fan is None:
        return math.inf
    return _value(env, bias) + _accumulated(fan * _value(env, a) * _value(env, b), fan)


def _norm(rules: _Rules, env: dict[fx.Node, float], node: fx.Node) -> tuple[float, float]:
    """(output bound, bound of the sums of squares it forms) of layer/group norm."""
    bx = _value(env, node.args[0])
    if node.target is aten.native_layer_norm.default:
        shape, gamma, beta = node.args[1], node.args[2], node.args[3]
        n = _numel(shape)  # type: ignore[arg-type]
    else:  # native_group_norm(x, gamma, beta, N, C, HxW, group, eps)
        gamma, beta = node.args[1], node.args[2]
        n = int(node.args[4]) // int(node.args[6]) * int(node.args[5])  # type: ignore[arg-type]
    g = 1.0 if gamma is None else rules.const(gamma)  # type: ignore[arg-type]
    b = 0.0 if beta is None else rules.const(beta)  # type: ignore[arg-type]
    eps = node.args[4] if node.target is aten.native_layer_norm.default else node.args[7]
    if not (isinstance(eps, (int, float)) and eps > 0):
        return math.inf, math.inf  # a constant group: 0 * rsqrt(0) = NaN
    return (math.sqrt(n) * g + b) * (1.0 + _EPS), _accumulated(bx * bx * n, n)


_NORMS = (aten.native_layer_norm.default, aten.native_group_norm.default)


def _batchnorm(rules: _Rules, env: dict[fx.Node, float], node: fx.Node) -> float:
    """The output bound of an inference BatchNorm with constant statistics."""
    x, weight, bias, mean, var = node.args[:5]
    eps = node.args[6] if len(node.args) > 6 else node.kwargs.get("eps", 1e-5)
    try:
        w, b = (None if a is None else constant(rules.gm, a) for a in (weight, bias))
        m, v = constant(rules.gm, mean), constant(rules.gm, var)
    except (ValueError, AttributeError, TypeError):
        return math.inf
    scale, shift = batchnorm_affine(w, b, m, v, float(eps))  # type: ignore[arg-type]
    return affine_bound(scale, shift, _value(env, x))


def _size(node: fx.Node) -> bool:
    """Whether a node is a size (a SymInt or int): an argument giving a shape, never a
    value that flows into a tensor's entries."""
    return isinstance(node.meta.get("val"), (int, torch.SymInt)) and \
        not isinstance(node.meta.get("val"), bool)


def _float_valued(node: fx.Node) -> bool:
    """Whether a node's value is a float tensor (or a tuple, or unknown): an integer tensor
    (indices) gets no magnitude bound, since it may index or scale anything."""
    val = node.meta.get("val")
    return not isinstance(val, torch.Tensor) or val.dtype.is_floating_point


def _clamped(largest: float, lo: object, hi: object) -> float:
    """The bound after clamping to ``[lo, hi]`` (either may be None: one side only)."""
    lo = float(lo) if isinstance(lo, (int, float)) else None
    hi = float(hi) if isinstance(hi, (int, float)) else None
    if lo is not None and hi is not None:
        return min(largest, max(abs(lo), abs(hi)))
    return max([largest] + [abs(v) for v in (lo, hi) if v is not None])


def _bound(rules: _Rules, env: dict[fx.Node, float], node: fx.Node) -> float:
    op, target = node.op, node.target
    if op == "get_attr":
        return rules.const(node)
    if op != "call_function" or not _float_valued(node):
        return math.inf
    largest = max((_value(env, a) for a in node.all_input_nodes if not _size(a)), default=0.0)
    if target is _BN:
        return _batchnorm(rules, env, node)
    conv = _conv(rules, env, node)
    if conv is not None:
        return conv
    if target is operator.getitem:
        src = node.args[0]
        if isinstance(src, fx.Node) and src.target in (*_NORMS, _BN) and node.args[1] != 0:
            return math.inf  # the mean and reciprocal deviation of a norm: not bounded here
        return largest
    if target in _SAME or getattr(target, "__name__", "") in ("interleave", "interleave_chunks",
                                                             "to_contiguous"):
        pad = [abs(float(v)) for v in _flat(node.args[2:]) if isinstance(v, (int, float))] \
            if target is aten.constant_pad_nd.default else []
        value = tensor_meta(node)  # a cast to a narrower float overflows beyond its range
        if value is not None and value.dtype.is_floating_point \
                and max([largest, *pad]) * (1.0 + _EPS) > torch.finfo(value.dtype).max:
            return math.inf
        return max([largest, *pad]) * (1.0 + _EPS)
    if target in _UNIT:
        return 1.0
    if target in (aten.hardtanh.default, aten.hardtanh_.default):
        args = [*node.args[1:3], -1.0, 1.0][:2] if len(node.args) == 1 else \
            [*node.args[1:3], 1.0][:2]
        return _clamped(largest, *args)
    if target is aten.relu6.default:
        return _clamped(largest, 0.0, 6.0)
    if target is aten.clamp.default:
        return _clamped(largest, *[*node.args[1:3], None, None][:2])
    if target is aten.clamp_min.default:
        return _clamped(largest, node.args[1], None)
    if target is aten.clamp_max.default:
        return _clamped(largest, None, node.args[1])
    if target is aten.leaky_relu.default:
        slope = float(node.args[1]) if len(node.args) > 1 else 0.01  # type: ignore[arg-type]
        return largest * max(1.0, abs(slope))
    if target in (aten.add.Tensor, aten.sub.Tensor, aten.add.Scalar, aten.sub.Scalar):
        alpha = abs(float(node.kwargs.get("alpha", 1)))  # type: ignore[arg-type]
        return (_value(env, node.args[0]) + alpha * _value(env, node.args[1])) * (1.0 + _EPS)
    if target in (aten.mul.Tensor, aten.mul.Scalar):
        return _value(env, node.args[0]) * _value(env, node.args[1]) * (1.0 + _EPS)
    if target in (aten.div.Tensor, aten.div.Scalar):
        d = node.args[1]
        if isinstance(d, (int, float)) and not isinstance(d, bool) and d != 0:
            return _value(env, node.args[0]) / abs(float(d)) * (1.0 + _EPS)
        return math.inf
    if target is aten.linear.default:
        return _linear(rules, env, node)
    if target is aten.addmm.default:
        return _addmm(env, node)
    if target in _MATMUL:
        a = tensor_meta(node.args[0])
        if a is None:
            return math.inf
        fan = int(a.shape[-1])
        return _accumulated(fan * _value(env, node.args[0]) * _value(env, node.args[1]), fan)
    if target in (aten.sum.dim_IntList, aten.sum.default):
        val, out = tensor_meta(node.args[0]), tensor_meta(node)
        if val is None or out is None:
            return math.inf
        n = max(1, _numel(val.shape) // max(1, _numel(out.shape)))
        return _accumulated(n * largest, n)
    return math.inf


class Bounds:
    """Interval bounds over one graph (the constants' norms computed once).

    >>> g = fx.Graph(); x = g.placeholder("x"); x.meta["val"] = torch.empty(1)
    >>> s = g.call_function(aten.add.Tensor, (x, x))
    >>> y = g.call_function(aten.hardtanh.default, (s, 0.0, 6.0)); _ = g.output(y)
    >>> bounds = Bounds(fx.GraphModule(torch.nn.Module(), g))
    >>> b = bounds.propagate({x: 5.0}, [s, y])
    >>> round(b[s], 3), b[y]
    (10.078, 6.0)
    >>> m = g.call_function(aten.mul.Tensor, (x, x))
    >>> bounds.limit(x, [m], limit=1e6) == 2.0 ** 9
    True
    """

    def __init__(self, gm: fx.GraphModule) -> None:
        self.rules = _Rules(gm)

    def propagate(self, sources: dict[fx.Node, float],
                  nodes: Iterable[fx.Node]) -> dict[fx.Node, float]:
        """Bounds of ``nodes`` (in graph order) given those of ``sources``: a bound on
        ``|value|`` (for a layer or group norm, the larger of its output's and that of the
        sums of squares it forms); ``inf`` where no rule applies or an input is unknown."""
        env = dict(sources)
        out: dict[fx.Node, float] = {}
        for node in nodes:
            if node in sources:
                continue
            for arg in node.all_input_nodes:
                if arg not in env and arg.op == "get_attr":
                    env[arg] = self.rules.const(arg)
            if node.target in _NORMS:
                env[node], formed = _norm(self.rules, env, node)
                out[node] = max(env[node], formed)
            else:
                env[node] = out[node] = _bound(self.rules, env, node)
        return out

    def limit(self, source: fx.Node, nodes: list[fx.Node], limit: float = LIMIT,
              lo: int = -100, hi: int = 100) -> float:
        """The largest ``S = 2^e`` (``lo <= e <= hi``; 0.0 if none) such that ``|source| <=
        S`` keeps every one of ``nodes`` (read in graph order, depending on ``source`` and
        constants only) below ``limit``."""
        def ok(e: int) -> bool:
            return all(v <= limit for v in self.propagate({source: 2.0 ** e}, nodes).values())

        return largest_power(ok, lo, hi)


def largest_power(ok: Callable[[int], bool], lo: int, hi: int) -> float:
    """``2 ** e`` for the largest ``e`` in ``[lo, hi]`` with ``ok(e)`` (``ok`` monotone:
    true up to some point), or 0.0.

    >>> largest_power(lambda e: 2.0 ** e <= 10.0, -5, 5), largest_power(lambda e: False, 0, 3)
    (8.0, 0.0)
    """
    if not ok(lo):
        return 0.0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return 2.0 ** lo
