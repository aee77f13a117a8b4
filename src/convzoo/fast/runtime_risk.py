"""What ONNX Runtime or OpenVINO may compute differently from torch on a *finite* input.

The NaN fix-up (:class:`~convzoo.fast.backends.BackendModule`) sends inputs holding NaN or
Inf to torch. A finite input can still make NaN or Inf inside the model, in two ways:

1. an op that makes them from finite values: ``0/0``, the log or square root of a negative
   value, a fractional power of one, a norm with ``eps = 0`` on a constant group, a constant
   holding ``-inf`` (:func:`nan_sources`). OpenVINO fuses activations into its convolutions
   and they turn NaN into a number (``relu(NaN) = 0``; torch keeps NaN), and its own kernels
   for these ops are not IEEE's, so a graph with such an op is refused for OpenVINO. ONNX
   Runtime computes them as IEEE does; it is refused only where such a NaN can reach an op
   that ONNX Runtime does not keep NaN through (a max reduction, max pooling, or an op this
   module has not checked: :data:`ORT_KEEPS_NAN`);
2. an overflow: an input large enough makes some value ``inf``, then ``inf - inf`` NaN.
   The runtimes fold a BatchNorm (and a multiplication by a constant) into the conv before
   it, which moves where that conv overflows (:mod:`convzoo.fast.fold`). Where interval
   arithmetic (:class:`~convzoo.fast.bounds.Bounds`) bounds every value of the graph below
   1e30 for inputs up to ``S >= 2^30``, the session runs inputs with ``max |x| <= S`` and
   sends larger ones to the original model: exact on every input. Where it cannot (a deep
   ReLU network multiplies the bound by every layer's weights), a fold so extreme that
   ordinary inputs would reach the overflow (:func:`~convzoo.fast.fold.unfoldable`) is
   refused; what remains is an input so large that a value inside the model overflows
   float32 (3.4e38), where which entries end as inf or NaN depends on the order of the sums
   in torch too.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import torch
import torch.fx as fx

from convzoo.fast.bounds import LIMIT, Bounds, ancestors, batchnorm_affine
from convzoo.fast.fold import unfoldable
from convzoo.fast.graph import constant

__all__ = ["CREATES_NAN", "ORT_KEEPS_NAN", "RuntimeRisk", "describe", "nan_sources",
           "runtime_risk"]

_DIV = "divides by a value that can be 0 (0/0 is NaN, x/0 is inf)"
_LOG = "takes the log of a value that can be negative (NaN) or 0 (-inf)"
_ROOT = "takes the square root of a value that can be negative (NaN)"
_DOMAIN = "is NaN or inf outside its domain"

#: Ops that make NaN or Inf from finite values (op name -> how), overflow aside.
CREATES_NAN: dict[str, str] = {
    "div": _DIV, "true_divide": _DIV, "floor_divide": _DIV, "remainder": _DIV, "fmod": _DIV,
    "reciprocal": _DIV, "sqrt": _ROOT, "rsqrt": _ROOT + " or 0 (inf)", "log": _LOG,
    "log2": _LOG, "log10": _LOG, "log1p": _LOG, "xlogy": _LOG,
    "pow": "raises a value that can be negative to a fractional power (NaN), or 0 to a "
           "negative one (inf)",
    "acos": _DOMAIN, "asin": _DOMAIN, "acosh": _DOMAIN, "atanh": _DOMAIN, "logit": _DOMAIN,
    "erfinv": _DOMAIN, "digamma": _DOMAIN, "lgamma": _DOMAIN, "polygamma": _DOMAIN,
    "mvlgamma": _DOMAIN,
    "var": "divides by n - correction, 0 for one element", "std": "divides by n - correction,"
    " 0 for one element", "var_mean": "divides by n - correction, 0 for one element",
    "std_mean": "divides by n - correction, 0 for one element",
}

#: Ops ONNX Runtime keeps a NaN through, as torch does: IEEE arithmetic, data movement,
#: convolutions, sums and means, and the elementwise activations and normalizations checked
#: with a NaN made inside the model by ``0/0`` (in every entry of a sample, and in part of
#: it: ``tests/fast/test_runtime_nan.py``; OpenVINO turned NaN into a number in ReLU,
#: ReLU6, clamp, hardsigmoid, max pooling, amax, maximum and even exp). Max reductions and
#: max pooling are left out (ONNX Runtime drops NaN there on some inputs: issue 18), as is
#: any op not named here.
ORT_KEEPS_NAN: frozenset[str] = frozenset({
    "convolution", "conv1d", "conv2d", "conv3d", "linear", "addmm", "mm", "bmm", "matmul",
    "add", "sub", "rsub", "mul", "div", "neg", "abs", "exp", "log", "sqrt", "rsqrt", "pow",
    "reciprocal", "view", "_unsafe_view", "reshape", "permute", "transpose", "t", "flatten",
    "unflatten", "unsqueeze", "squeeze", "expand", "select", "slice", "split",
    "split_with_sizes", "chunk", "unbind", "cat", "stack", "clone", "contiguous", "alias",
    "detach", "_to_copy", "to", "mean", "sum", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d",
    "adaptive_avg_pool3d", "constant_pad_nd", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "native_channel_shuffle", "_native_batch_norm_legit_no_training",
    "native_layer_norm", "native_group_norm", "getitem", "relu", "sigmoid", "tanh",
    "hardtanh", "clamp", "clamp_min", "leaky_relu", "gelu", "silu", "elu", "softplus",
    "hardswish", "hardsigmoid", "_softmax", "_log_softmax", "where", "gt", "lt", "ge", "le",
    "relu6", "softmax", "log_softmax", "layer_norm", "group_norm",
})


def _name(node: fx.Node) -> str:
    """The op's name without overload (``div`` for ``aten.div.Tensor``)."""
    target = node.target
    if target is operator.getitem:
        return "getitem"
    packet = getattr(target, "overloadpacket", None)
    return getattr(packet, "__name__", getattr(target, "__name__", str(target)))


def _numbers(value: object) -> list[float]:
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _numbers(item)]
    if isinstance(value, float):
        return [value]
    return []


def _nonzero_constant(gm: fx.GraphModule, arg: object) -> bool:
    """Whether ``arg`` is a number or a constant tensor with no zero, NaN or inf."""
    if isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return arg != 0 and math.isfinite(float(arg))
    if isinstance(arg, fx.Node) and arg.op == "get_attr":
        try:
            t = constant(gm, arg)
        except (ValueError, AttributeError):
            return False
        return t.numel() > 0 and bool((torch.isfinite(t) & (t != 0)).all())
    return False


def _creates(gm: fx.GraphModule, node: fx.Node, varying: bool = True) -> str | None:
    """How ``node`` can make NaN or Inf from finite values, or None (an op computing a
    constant, ``varying=False``, only by a non-finite number or constant: its value is the
    same on every input, so verification sees it)."""
    if node.op == "get_attr":
        try:
            t = constant(gm, node)
        except (ValueError, AttributeError):
            return None
        floating = t.dtype.is_floating_point or t.dtype.is_complex
        if floating and t.numel() and not bool(torch.isfinite(t).all()):
            return "is a constant holding NaN or +-inf"
        return None
    if node.op != "call_function":
        return None
    bad = [v for v in _numbers((node.args, tuple(node.kwargs.values())))
           if not math.isfinite(v)]
    if bad:
        return f"uses the number {bad[0]}"
    if not varying:
        return None
    name = _name(node)
    if name in ("div", "true_divide", "floor_divide", "remainder", "fmod") \
            and len(node.args) > 1 and _nonzero_constant(gm, node.args[1]):
        return None
    if name == "pow" and len(node.args) > 1 and isinstance(node.args[1], (int, float)) \
            and not isinstance(node.args[1], bool) and float(node.args[1]).is_integer() \
            and node.args[1] >= 0:
        return None  # x ** 2: overflow only
    if name in ("var", "std", "var_mean", "std_mean") and node.kwargs.get("correction") == 0:
        return None
    if name in ("native_layer_norm", "native_group_norm", "layer_norm", "group_norm"):
        at = 7 if name == "native_group_norm" else 4
        eps = node.args[at] if len(node.args) > at else node.kwargs.get("eps", 1e-5)
        return None if isinstance(eps, (int, float)) and eps > 0 else \
            "normalizes with eps = 0 (a constant group gives 0 * inf = NaN)"
    if name == "_native_batch_norm_legit_no_training":
        try:
            w, b, m, v = (None if a is None else constant(gm, a)  # type: ignore[arg-type]
                          for a in node.args[1:5])
            scale, shift = batchnorm_affine(w, b, m, v, float(node.args[6]))  # type: ignore
        except (ValueError, AttributeError, TypeError):
            return "normalizes by statistics that are not constants"
        if not bool(torch.isfinite(scale).all() & torch.isfinite(shift).all()):
            return "divides by sqrt(var + eps) = 0 (0 * inf = NaN)"
        return None
    return CREATES_NAN.get(name)


def nan_sources(gm: fx.GraphModule) -> list[tuple[fx.Node, str]]:
    """The nodes of ``gm`` the output depends on that can make NaN or Inf from finite
    values, each with how (overflow aside: :func:`runtime_risk`).

    >>> g = fx.symbolic_trace(torch.nn.Linear(2, 2))
    >>> nan_sources(g)
    []
    """
    out = next(n for n in reversed(gm.graph.nodes) if n.op == "output")
    live = ancestors(out.all_input_nodes)
    varying = {n for n in gm.graph.nodes if n.op == "placeholder"}
    found = []
    for node in gm.graph.nodes:
        if node.op != "placeholder" and any(a in varying for a in node.all_input_nodes):
            varying.add(node)
        if node in live:
            how = _creates(gm, node, node in varying)
            if how is not None:
                found.append((node, how))
    return found


def describe(node: fx.Node) -> str:
    """``op 'name' (in module 'path')``: where a node comes from, for messages."""
    stack = node.meta.get("nn_module_stack") or {}
    where = ""
    if stack:
        path, kind = list(stack.values())[-1]
        kind = getattr(kind, "__name__", str(kind)).rsplit(".", 1)[-1]
        where = f" in module '{path or '<root>'}' ({kind})"
    return f"{_name(node)} ('{node.name}'{where})"


def _first_dropper(source: fx.Node, keeps: frozenset[str]) -> fx.Node | None:
    """The first op a NaN made at ``source`` reaches that is not in ``keeps``."""
    seen, stack = set(), [source]
    while stack:
        node = stack.pop()
        for user in node.users:
            if user in seen or user.op == "output":
                continue
            seen.add(user)
            if user.op != "call_function" or _name(user) not in keeps:
                return user
            stack.append(user)
    return None


@dataclass(frozen=True)
class RuntimeRisk:
    """What a runtime session of a graph needs to be exact.

    Attributes:
        limit: inputs with ``max |x| <= limit`` run on the runtime, larger ones (and NaN,
            Inf) on the original model; ``inf``: every finite input runs on the runtime.
        refusal: why the runtime cannot run this graph soundly (None: it can).
    """

    limit: float
    refusal: str | None = None


def runtime_risk(gm: fx.GraphModule, runtime: str) -> RuntimeRisk:
    """The :class:`RuntimeRisk` of running ``gm`` (a portable graph, BatchNorms after convs
    not folded) on ``runtime`` (see the module docstring).

    >>> runtime_risk(fx.symbolic_trace(torch.nn.Linear(2, 2)), "openvino").refusal is None
    True
    """
    for node, how in nan_sources(gm):
        where = describe(node)
        if runtime == "openvino":
            return RuntimeRisk(math.inf, (
                f"{where} {how} from a finite input, and OpenVINO does not keep such a NaN "
                "(its fused activations turn it into a number, where torch keeps NaN)"))
        dropper = _first_dropper(node, ORT_KEEPS_NAN) if _name(node) in ORT_KEEPS_NAN \
            or node.op == "get_attr" else node
        if dropper is not None:
            return RuntimeRisk(math.inf, (
                f"{where} {how} from a finite input, and ONNX Runtime may turn that NaN "
                f"into a number in {describe(dropper)}, where torch keeps NaN"))
    limit = _input_limit(gm)
    if limit > 0.0:
        return RuntimeRisk(limit)
    extreme = unfoldable(gm)
    if extreme:
        return RuntimeRisk(math.inf, (
            f"{describe(extreme[0])} scales a conv's output or input so far (beyond what "
            f"interval arithmetic can bound below 1e30) that {runtime}, which folds such "
            "a scaling into the conv, can give a number where the original overflows to inf"))
    return RuntimeRisk(math.inf)


def _input_limit(gm: fx.GraphModule) -> float:
    """The largest ``S = 2^e >= 2^30`` such that ``max |input| <= S`` keeps every value
    of ``gm`` below :data:`~convzoo.fast.bounds.LIMIT`, or 0.0 (none proven)."""
    from convzoo.fast.bounds import _float_valued, _size
    from convzoo.fast.guard import MIN_LIMIT_EXP  # the torch guard's smallest useful limit

    inputs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    out = next(n for n in reversed(gm.graph.nodes) if n.op == "output")
    if len(inputs) != 1:
        return 0.0
    val = inputs[0].meta.get("val")
    if not isinstance(val, torch.Tensor) or not val.dtype.is_floating_point:
        return 0.0
    live = ancestors(out.all_input_nodes)
    nodes = [n for n in gm.graph.nodes if n in live and n.op in ("call_function",
             "call_module") and not _size(n) and _float_valued(n)]
    return Bounds(gm).limit(inputs[0], nodes, LIMIT, MIN_LIMIT_EXP, 99)
