"""Layout planning and large-kernel fast paths on a captured graph.

- One channels_last plan: every 4-D float input is converted once, the weights of 2-D convs
  are stored NHWC, and oneDNN keeps NHWC from op to op (convs, elementwise ops, pooling,
  concatenations); 4-D outputs are made contiguous once at the end. ``view`` nodes become
  ``reshape`` (same values for any strides: a view of an NHWC tensor that needs NCHW
  strides would otherwise fail, e.g. ``x.view(N, -1)`` before a classifier).
- Large-kernel fast paths: a dense 2-D conv that :func:`convzoo.functional.choose_path`
  sends to the FFT path is computed by :func:`convzoo.functional.conv_fft` where its error
  bound holds on that call, natively otherwise (:mod:`convzoo.fast.fft_guard`); large
  depthwise kernels take oneDNN's channels_last kernel through the plan.
"""

from __future__ import annotations

import torch
import torch.fx as fx
import torch.nn as nn

from convzoo.fast.fft_guard import guarded_conv_fft
from convzoo.fast.graph import (
    add_constant,
    aten,
    constant,
    conv_call,
    is_constant,
    output_nodes,
    replace,
    tensor_meta,
)
from convzoo.functional import choose_path
from convzoo.spec import ConvSpec

__all__ = ["FFTConv", "fft_paths", "plan_channels_last", "to_contiguous"]

_FLOATS = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def to_contiguous(x: object) -> object:
    """``x.contiguous()`` for a tensor (the one conversion out of the plan), else ``x``.

    >>> to_contiguous(torch.zeros(1, 2, 3, 3).to(memory_format=torch.channels_last)).stride()
    (18, 9, 3, 1)
    """
    return x.contiguous() if isinstance(x, torch.Tensor) else x


_RAW_STRIDES = {"as_strided", "as_strided_", "as_strided_copy", "as_strided_scatter"}


def plan_channels_last(gm: fx.GraphModule) -> bool:
    """Plan channels_last through ``gm`` when it holds a 2-D conv on a 4-D float input and
    no ``as_strided`` (which reads memory by the strides seen at capture); returns whether
    it did. In place.

    Shape:
        unchanged (values identical; only strides differ inside).
    """
    graph = gm.graph
    calls = [c for c in map(conv_call, graph.nodes) if c is not None and c.ndim == 2]
    if not calls or any(getattr(getattr(n.target, "overloadpacket", None), "__name__", "")
                        in _RAW_STRIDES for n in graph.nodes):
        return False  # as_strided reads memory by the strides it had at capture
    for node in list(graph.nodes):
        val = tensor_meta(node)
        if node.op == "placeholder" and val is not None and val.dim() == 4 \
                and val.dtype in _FLOATS:
            with graph.inserting_after(node):
                cl = graph.call_function(aten.clone.default, (node,),
                                         {"memory_format": torch.channels_last})
            cl.meta["val"] = val
            node.replace_all_uses_with(
                cl, delete_user_cb=lambda u, cl=cl: u is not cl and u.op != "call_module")
        elif node.op == "call_function" and node.target in (aten.view.default,
                                                            aten._unsafe_view.default):
            node.target = aten.reshape.default
    done: dict[fx.Node, fx.Node] = {}
    for call in calls:
        w = call.weight
        if not is_constant(w) or constant(gm, w).dim() != 4:
            continue
        if w not in done:
            with graph.inserting_before(call.node):
                done[w] = add_constant(
                    gm, constant(gm, w).contiguous(memory_format=torch.channels_last), "w")
        call.node.replace_input_with(w, done[w])
    out = next(n for n in reversed(graph.nodes) if n.op == "output")
    for node in output_nodes(graph):
        val = tensor_meta(node)
        if val is not None and val.dim() == 4:
            with graph.inserting_before(out):
                back = graph.call_function(to_contiguous, (node,))
            back.meta["val"] = val
            out.replace_input_with(node, back)
    graph.eliminate_dead_code()
    return True


class FFTConv(nn.Module):
    """``guarded_conv_fft(spec, x, weight, bias)`` as a graph node (the spec held here):
    the FFT where its stated error bound holds on this call, the native conv otherwise.

    >>> spec = ConvSpec(1, 1, 19, padding=9, ndim=2)
    >>> FFTConv(spec)(torch.randn(1, 1, 20, 20), torch.randn(1, 1, 19, 19), None).shape
    torch.Size([1, 1, 20, 20])
    """

    def __init__(self, spec: ConvSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, x: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor | None) -> torch.Tensor:
        return guarded_conv_fft(self.spec, x, weight, bias)


def fft_paths(gm: fx.GraphModule) -> int:
    """Route every dense 2-D conv that ``choose_path`` sends to the FFT path through
    :class:`FFTConv`; returns how many. In place.

    Shape:
        unchanged.
    """
    count = 0
    for node in list(gm.graph.nodes):
        call = conv_call(node)
        val = tensor_meta(call.x) if call is not None else None
        if call is None or call.transposed or call.ndim != 2 or val is None or \
                call.groups != 1 or not is_constant(call.weight):
            continue
        w = constant(gm, call.weight)
        spec = ConvSpec(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=tuple(call.stride),
                        padding=tuple(call.padding), dilation=tuple(call.dilation),
                        bias=call.bias is not None, ndim=2)
        if choose_path(spec, torch.empty(1, 1, 1, 1, dtype=val.dtype)) != "fft":
            continue
        name = f"_cz_fft_{count}"
        gm.add_submodule(name, FFTConv(spec))
        with gm.graph.inserting_before(node):
            new = gm.graph.call_module(name, (call.x, call.weight, call.bias))
        replace(node, new)
        count += 1
    gm.graph.eliminate_dead_code()
    return count
