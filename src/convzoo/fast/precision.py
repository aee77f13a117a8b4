"""Reduced precision for ``optimize``: bfloat16 where the CPU computes it natively.

``precision='bf16'`` stores every float constant of the graph in bfloat16, casts float
inputs to bfloat16 once at the entry and float outputs back to the input's dtype at the
exit. The numerically sensitive ops (:data:`FLOAT32_OPS`: normalizations, softmax,
reductions, exp/log/pow, as torch.autocast keeps them) run in float32 between casts: in
bfloat16 a LayerNorm over a few nearly equal values, or a variance computed by
cancellation, loses every digit. Only offered where the CPU has native bfloat16
instructions (``avx512_bf16`` or ``amx_bf16`` in ``/proc/cpuinfo``); elsewhere it is
refused, saying so.
"""

from __future__ import annotations

import operator
from pathlib import Path

import torch
import torch.fx as fx

from convzoo.fast.graph import add_constant, constant, output_nodes, tensor_meta

__all__ = ["FLOAT32_OPS", "PRECISIONS", "bf16_flags", "check_precision", "to_bf16"]

PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
FLOAT32_OPS = frozenset({  # aten op packets kept in float32 under precision='bf16'
    "layer_norm", "native_layer_norm", "group_norm", "native_group_norm", "instance_norm",
    "rms_norm", "_fused_rms_norm", "batch_norm", "_native_batch_norm_legit_no_training",
    "softmax", "_softmax", "log_softmax", "_log_softmax", "var", "var_mean", "std",
    "std_mean", "mean", "sum", "cumsum", "prod", "norm", "linalg_vector_norm", "logsumexp",
    "exp", "log", "log1p", "expm1", "pow", "rsqrt", "sqrt", "reciprocal",
})
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """The native-bfloat16 CPU flags present (read from ``/proc/cpuinfo`` by default).

    >>> bf16_flags("flags : fpu avx512f avx512_bf16"), bf16_flags("flags : fpu")
    (['avx512_bf16'], [])
    """
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    words = set(cpuinfo.split())
    return [f for f in _BF16_FLAGS if f in words]


def check_precision(precision: object) -> str:
    """Validate ``precision``; ``'bf16'`` also needs native bfloat16 on this CPU.

    >>> check_precision("fp32")
    'fp32'
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"`precision` (={precision!r}) must be one of: {', '.join(PRECISIONS)}")
    if precision == "bf16" and not bf16_flags():
        raise ValueError(
            "`precision` (='bf16') needs a CPU with native bfloat16 (avx512_bf16 or amx_bf16 "
            "in /proc/cpuinfo); this CPU has neither: use precision='fp32'"
        )
    return precision


def _cast(graph: fx.Graph, node: fx.Node, dtype: torch.dtype) -> fx.Node:
    new = graph.call_function(torch.ops.aten._to_copy.default, (node,), {"dtype": dtype})
    val = tensor_meta(node)
    if val is not None:
        new.meta["val"] = val.to(dtype)
    return new


def to_bf16(gm: fx.GraphModule) -> int:
    """Rewrite ``gm`` to compute in bfloat16 (float32 constants stored as bfloat16, float
    inputs cast in, float outputs cast back); returns how many constants were converted.

    Shape:
        unchanged; output dtypes unchanged.
    """
    graph = gm.graph
    count = 0
    for node in list(graph.nodes):
        val = tensor_meta(node)
        if node.op == "get_attr":
            try:
                t = constant(gm, node)
            except ValueError:
                continue
            if t.dtype == torch.float32:
                with graph.inserting_before(node):
                    node.replace_all_uses_with(add_constant(gm, t.to(torch.bfloat16), "bf16"))
                count += 1
        elif node.op == "placeholder" and val is not None and val.dtype == torch.float32:
            with graph.inserting_after(node):
                cast = _cast(graph, node, torch.bfloat16)
            node.replace_all_uses_with(
                cast, delete_user_cb=lambda u, c=cast: u is not c and u.op != "call_module")
    out = next(n for n in reversed(graph.nodes) if n.op == "output")
    for node in output_nodes(graph):
        val = tensor_meta(node)
        if val is not None and val.dtype == torch.float32:
            with graph.inserting_before(out):
                back = _cast(graph, node, torch.float32)
            out.replace_input_with(node, back)
    _keep_float32(gm)
    graph.eliminate_dead_code()
    return count


def _is_bf16_constant(gm: fx.GraphModule, node: fx.Node) -> bool:
    try:
        return node.op == "get_attr" and constant(gm, node).dtype == torch.bfloat16
    except ValueError:
        return False


def _keep_float32(gm: fx.GraphModule) -> None:
    """Run every :data:`FLOAT32_OPS` node on float32 copies of its bfloat16 inputs, its
    float outputs cast back to bfloat16 for the readers (the traced dtypes are the float32
    ones, so a node's output dtype is read from its trace)."""
    graph = gm.graph
    for node in list(graph.nodes):
        packet = getattr(node.target, "overloadpacket", None)
        if node.op != "call_function" or packet is None or packet.__name__ not in FLOAT32_OPS:
            continue
        inputs = [i for i in node.all_input_nodes if _is_bf16_constant(gm, i) or (
            (v := tensor_meta(i)) is not None and v.dtype == torch.float32)]
        with graph.inserting_before(node):
            wide = {i: _cast(graph, i, torch.float32) for i in inputs}
        for old, new in wide.items():
            node.replace_input_with(old, new)
        outs = [node] if tensor_meta(node) is not None else [  # a tuple: its getitem readers
            u for u in node.users if u.target is operator.getitem]
        for value in outs:
            val = tensor_meta(value)
            if val is None or val.dtype != torch.float32:
                continue
            with graph.inserting_after(value):
                narrow = _cast(graph, value, torch.bfloat16)
            value.replace_all_uses_with(narrow, delete_user_cb=lambda u, n=narrow: u is not n)
