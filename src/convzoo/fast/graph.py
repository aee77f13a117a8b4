"""Facts and edits on a captured ATen graph (the ground the rewrites of ``optimize`` stand on).

A captured graph (:mod:`convzoo.fast.capture`) is functional: no node mutates a tensor, so
who reads a value is exactly ``node.users``, and aliasing cannot change a value behind a
rewrite's back. Parameters, buffers and lifted constants are ``get_attr`` nodes; a rewrite
never edits one in place (it may be shared by other readers): it registers a new constant.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
import torch.fx as fx

__all__ = [
    "ConvCall", "aten", "add_constant", "constant", "conv_call", "emit_conv", "getitem_users",
    "is_constant",
    "only_user", "output_nodes", "replace", "tensor_meta",
]

aten = torch.ops.aten

_CONVS_ND = {aten.conv1d.default: 1, aten.conv2d.default: 2, aten.conv3d.default: 3}
_TRANSPOSED_ND = {aten.conv_transpose1d.default: 1, aten.conv_transpose2d.input: 2,
                  aten.conv_transpose3d.input: 3}


@dataclass
class ConvCall:
    """A forward or transposed convolution node, its arguments normalized.

    Attributes:
        node: the graph node. x, weight, bias: its tensor arguments (bias may be None).
        stride, padding, dilation, output_padding: one int per spatial axis.
        transposed: a ConvTranspose. groups: channel groups.
    """

    node: fx.Node
    x: fx.Node
    weight: fx.Node
    bias: fx.Node | None
    stride: list[int]
    padding: list[int]
    dilation: list[int]
    transposed: bool
    output_padding: list[int]
    groups: int

    @property
    def ndim(self) -> int:
        """Spatial dimensions."""
        return len(self.stride)


def _ntuple(value: object, n: int) -> list[int] | None:
    if isinstance(value, int):
        return [value] * n
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return list(value) * n if len(value) == 1 else list(value)
    return None


def conv_call(node: fx.Node) -> ConvCall | None:
    """The convolution a node computes (``aten.convolution`` or ``aten.conv{1,2,3}d`` with
    integer padding), or None for any other node.

    >>> g = fx.Graph(); x, w = g.placeholder("x"), g.placeholder("w")
    >>> c = g.call_function(aten.conv2d.default, (x, w, None, [2, 2], [1, 1]))
    >>> call = conv_call(c); call.stride, call.padding, call.groups
    ([2, 2], [1, 1], 1)
    """
    if node.op != "call_function":
        return None
    if node.target is aten.convolution.default:
        x, w, b, stride, padding, dilation, transposed, out_pad, groups = node.args
        n = len(stride)
        return ConvCall(node, x, w, b, list(stride), list(padding), list(dilation),
                        bool(transposed), list(out_pad), int(groups))
    n = _CONVS_ND.get(node.target)  # type: ignore[arg-type]
    if n is not None:
        names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
        defaults: tuple = (None, None, None, 1, 0, 1, 1)
    else:
        n = _TRANSPOSED_ND.get(node.target)  # type: ignore[arg-type]
        if n is None:
            return None
        names = ("input", "weight", "bias", "stride", "padding", "output_padding", "groups",
                 "dilation")
        defaults = (None, None, None, 1, 0, 0, 1, 1)
    values = dict(zip(names, list(node.args) + [node.kwargs.get(k, d) for k, d in
                                                zip(names[len(node.args):],
                                                    defaults[len(node.args):])]))
    keys = ("stride", "padding", "dilation", "output_padding")
    norm = [_ntuple(values.get(k, 0), n) for k in keys]
    if any(v is None or len(v) != n for v in norm):
        return None  # e.g. padding='same' given as a string: left as it is
    return ConvCall(node, values["input"], values["weight"], values["bias"], norm[0], norm[1],
                    norm[2], node.target in _TRANSPOSED_ND, norm[3],
                    int(values["groups"]))


def emit_conv(graph: fx.Graph, call: ConvCall, x: fx.Node, weight: fx.Node,
              bias: fx.Node | None) -> fx.Node:
    """Insert ``aten.convolution`` with ``call``'s geometry (at the graph's insert point)."""
    return graph.call_function(aten.convolution.default, (
        x, weight, bias, call.stride, call.padding, call.dilation, call.transposed,
        call.output_padding, call.groups,
    ))


def is_constant(node: object) -> bool:
    """Whether ``node`` is a ``get_attr`` node (a parameter, buffer or constant)."""
    return isinstance(node, fx.Node) and node.op == "get_attr"


def constant(gm: fx.GraphModule, node: fx.Node) -> torch.Tensor:
    """The tensor a ``get_attr`` node reads."""
    value: object = gm
    for part in str(node.target).split("."):
        value = getattr(value, part)
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"`node` (={node.name}) must read a tensor constant")
    return value.detach()


def add_constant(gm: fx.GraphModule, tensor: torch.Tensor, hint: str = "c") -> fx.Node:
    """Register ``tensor`` as a new buffer of ``gm`` and insert a ``get_attr`` node for it
    (at the graph's current insert point)."""
    index = sum(1 for _ in gm.buffers())
    name = f"_cz_{hint}_{index}"
    while hasattr(gm, name):
        index += 1
        name = f"_cz_{hint}_{index}"
    if not tensor.is_mkldnn:  # an opaque oneDNN (prepacked) tensor is kept as it is
        tensor = tensor.detach().clone(memory_format=torch.preserve_format)
    gm.register_buffer(name, tensor)
    return gm.graph.get_attr(name)


def tensor_meta(node: object) -> torch.Tensor | None:
    """The (fake) tensor value a node was traced with, when it is one tensor."""
    if not isinstance(node, fx.Node):
        return None
    val = node.meta.get("val")
    return val if isinstance(val, torch.Tensor) else None


def only_user(node: fx.Node) -> fx.Node | None:
    """The node's one reader, or None (no reader, several, or the graph's output)."""
    users = list(node.users)
    if len(users) != 1 or users[0].op == "output":
        return None
    return users[0]


def output_nodes(graph: fx.Graph) -> set[fx.Node]:
    """The nodes the graph returns (directly)."""
    out = next(n for n in reversed(graph.nodes) if n.op == "output")
    found: set[fx.Node] = set()
    fx.node.map_arg(out.args, found.add)
    return found


def replace(old: fx.Node, new: fx.Node) -> None:
    """Make every reader of ``old`` read ``new`` instead (``new`` keeps ``old``'s meta: its
    value and the fold limit of a conv a BatchNorm was folded into)."""
    for key in ("val", "convzoo_fold_limit"):  # convzoo.fast.bounds.FOLD_LIMIT
        if key in old.meta and key not in new.meta:
            new.meta[key] = old.meta[key]
    old.replace_all_uses_with(new)


def getitem_users(node: fx.Node) -> dict[int, list[fx.Node]]:
    """``index -> getitem readers`` of a node returning a tuple (None when another reads it)."""
    found: dict[int, list[fx.Node]] = {}
    for user in node.users:
        if user.target is not operator.getitem:
            return {}
        found.setdefault(int(user.args[1]), []).append(user)  # type: ignore[arg-type]
    return found
