"""Receptive fields on a traced graph, per spatial axis and per output position.

Every node gets one :class:`~convzoo.arithmetic.ReceptiveField` per spatial axis of the
model input. It carries two things, both from ``convzoo.arithmetic``:

* the Distill algebra's size ``r``, effective stride ``S`` and padding ``P`` (Araujo, Norris
  & Sim, 2019), composed with ``convzoo.arithmetic.receptive``;
* the exact span of every output position (``field.span(u)``), composed from each op's
  taps with ``convzoo.arithmetic.spans``: convs, pools, transposed convs, interpolation
  (every mode, ``align_corners``, ``scale_factor`` or ``size``), adaptive pools, pixel
  (un)shuffle, pads and crops. At merges (add, mul, channel concat) spans are united
  position by position; a concat along the axis itself concatenates them.

Each input axis is followed through views, permutes and reductions. An op that mixes every
position of an axis (a reduction, global pooling, a norm whose statistics run over space,
softmax along the axis, attention over positions, a matrix product contracting it) makes
that axis *global*: every output position sees the whole input (the union of all spans).
An op the tracer does not know is taken as global too, and the field is then flagged as not
``exact`` (an upper bound).

:func:`receptive_field` reports the output's (or a named layer's) field;
``empirical=True`` adds the effective receptive field of Luo et al. (2016) measured from
input gradients.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, NamedTuple

import torch
import torch.nn as nn

from convzoo import arithmetic as ar
from convzoo.analysis.graph import Graph, Node
from convzoo.analysis.trace import check_input_shape, trace
from convzoo.arithmetic import ReceptiveField, RFLayer
from convzoo.names import renamed_function

__all__ = [
    "NodeField", "EmpiricalField", "ReceptiveFieldResult", "node_fields", "receptive_field",
    "receptive_field_of",
    "empirical_receptive_field", "spatial_dims", "EMPIRICAL_NOTE",
]


class AxisPlace(NamedTuple):
    """Where an input spatial axis lives in a tensor of the graph."""

    dim: int  #: the tensor dim holding it
    inner: int  #: its element stride inside that dim (1: the dim is the axis itself)
    size: int  #: its length


#: An axis's place, or None once an op removed it.
Axis = AxisPlace | None
#: Per tensor dim, the algebra layers and the taps of an op along it (None: the identity).
PerDim = dict[int, tuple[Sequence[RFLayer], ar.Taps | None]]

EMPIRICAL_NOTE = (
    "The effective receptive field (Luo et al., 2016) is where the gradient of the centre "
    "output w.r.t. the input exceeds a fraction of its maximum. It is smaller than the "
    "theoretical field: paths through the centre of the window are far more numerous than "
    "those reaching its border, so the gradient is Gaussian-like and its tails (exactly "
    "zero only outside the theoretical field) fall below the threshold; it also depends on "
    "the weights and nonlinearities."
)

_VIEW_RESHAPES = {
    "view", "_unsafe_view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze",
    "_reshape_alias",
}
_PASS = {"clone", "contiguous", "detach", "alias", "_to_copy", "expand", "lift_fresh", "copy",
         "lift_fresh_copy", "to", "dropout", "native_dropout", "feature_dropout", "expand_as",
         "view_as", "as_strided"}
#: Ops whose output does not depend on the values of their input.
_NO_DEPENDENCY = {
    "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
    "new_zeros", "new_ones", "new_empty", "new_full", "randint_like", "sym_size",
}
_SPLITS = {"split", "split_with_sizes", "unbind", "chunk", "split_with_sizes_copy"}


def spatial_dims(shape: Sequence[int]) -> tuple[int, ...]:
    """The dims of a model input followed as spatial axes: ``2..`` of ``(N, C, *spatial)``;
    dim 1 of a rank-2 input ``(N, L)`` (a signal without a channel dim, e.g. raw audio).

    >>> spatial_dims((1, 3, 8, 8)), spatial_dims((1, 16000))
    ((2, 3), (1,))
    """
    if len(shape) == 2:
        return (1,)
    return tuple(range(2, len(shape)))


@dataclass(frozen=True)
class NodeField:
    """Receptive field state of one node.

    Attributes:
        fields: one ReceptiveField per spatial axis of the model input; ``fields[a].spans``
            holds the exact span of every position along that axis.
        axes: where each input axis lives in this node's output, or None once reduced.
        is_global: per axis, whether every position sees the whole input (the union of all
            spans) after an op mixing the axis (reduction, norm over space, softmax or
            attention over positions, flatten into a matrix product, an unknown op).
        aligned: False when a merge upstream combined branches with different centres or
            strides (algebra centres).
        exact: True when every span is exact; False when an op was over-approximated (see
            :attr:`notes`).
        notes: why the spans are not exact.
    """

    fields: tuple[ReceptiveField, ...]
    axes: tuple[Axis, ...]
    is_global: tuple[bool, ...]
    aligned: bool = True
    exact: bool = True
    notes: tuple[str, ...] = ()


def _inexact(state: NodeField, note: str) -> NodeField:
    return replace(state, exact=False, notes=tuple(dict.fromkeys((*state.notes, note))))


def _whole(f: ReceptiveField, n: int) -> ReceptiveField:
    """Every position sees all that reaches the axis: the algebra's stride-0 window of the
    whole axis, and one span, the union of all."""
    # the whole axis, then stride 0: every output position sees that same window
    widened = ar.compose(f, RFLayer(n, 0, 0))
    return replace(widened, spans=(ar.union_span(f.spans),))


def _mix(state: NodeField, mixed: Sequence[bool], remove: bool = False) -> NodeField:
    """Make the axes whose ``mixed`` entry is True global (and drop them when ``remove``)."""
    fields, axes, glob = list(state.fields), list(state.axes), list(state.is_global)
    for a, hit in enumerate(mixed):
        if hit and axes[a] is not None:
            fields[a] = _whole(fields[a], axes[a].size)
            glob[a] = True
            if remove:
                axes[a] = None
    return replace(state, fields=tuple(fields), axes=tuple(axes), is_global=tuple(glob))


def _at(state: NodeField, dims: Sequence[int]) -> list[bool]:
    return [ax is not None and ax.dim in dims for ax in state.axes]


def _apply(state: NodeField, node: Node, per_dim: PerDim) -> NodeField:
    """Compose layers and taps on the axes living at the given dims; sizes from the node."""
    fields, axes = list(state.fields), list(state.axes)
    merged = False
    for a, ax in enumerate(axes):
        if ax is None:
            continue
        pos, inner, _ = ax
        if pos in per_dim:
            layers, taps = per_dim[pos]
            f = ar.chain(layers, fields[a])
            if inner != 1:  # the op runs over a dim holding several axes: bound it
                merged = True
                spans = (ar.union_span(fields[a].spans),)
            elif taps is None:  # the identity along this dim (a 1x1 stride-1 conv)
                spans = fields[a].spans
            else:
                spans = ar.compose_spans(fields[a].spans, taps)
            fields[a] = replace(f, spans=spans)
        axes[a] = AxisPlace(pos, inner, node.shape[pos] if inner == 1 else ax.size)
    out = replace(state, fields=tuple(fields), axes=tuple(axes))
    return _inexact(out, f"{node.op}: spatial op on a merged axis") if merged else out


def _view(state: NodeField, node: Node) -> NodeField:
    """Follow each axis through a reshape by matching element strides (contiguous order)."""
    src, dst = node.input_shape, node.shape
    split, moved = [], []
    for ax in state.axes:
        if ax is None:
            split.append(False)
            moved.append(None)
            continue
        pos, inner, n = ax
        e = inner * math.prod(src[pos + 1:])  # element stride of the axis
        found = None
        for q in range(len(dst)):
            after = math.prod(dst[q + 1:])
            if after <= e and e % after == 0 and e * n <= after * dst[q]:
                found = AxisPlace(q, e // after, n)
                break
        split.append(found is None)
        moved.append(found)
    out = _mix(state, split, remove=True)
    out = replace(out, axes=tuple(m if not s else None for m, s in zip(moved, split,
                                                                       strict=True)))
    if any(s and ax is not None for s, ax in zip(split, state.axes, strict=True)):
        out = _inexact(out, f"{node.op}: reshape splits an axis (field taken as the whole "
                            "input)")
    return out


def _remap(state: NodeField, mapping: dict[int, int | None]) -> NodeField:
    """Move axes to new positions (``None``: dim removed without widening, e.g. select)."""
    axes = []
    for ax in state.axes:
        if ax is None or ax.dim not in mapping or mapping[ax.dim] is None:
            axes.append(None if ax is None or ax.dim in mapping else ax)
        else:
            axes.append(ax._replace(dim=mapping[ax.dim]))
    return replace(state, axes=tuple(axes))


def _broadcast(state: NodeField, shift: int) -> NodeField:
    if not shift:
        return state
    axes = tuple(None if a is None else a._replace(dim=a.dim + shift) for a in state.axes)
    return replace(state, axes=axes)


def _merge(states: list[NodeField], node: Node, shapes: list[tuple[int, ...]]) -> NodeField:
    """United spans (concatenated along a concat's own axis); the algebra's largest field."""
    if len(states) == 1:
        return states[0]
    rank = len(node.shape)
    cat_dim = node.attrs.get("dim", 0) % rank if node.op == "cat" and rank else None
    fields, axes, glob = [], [], []
    aligned = all(s.aligned for s in states)
    for a in range(len(states[0].fields)):
        winner, _ = ar.largest(s.fields[a] for s in states)
        local = [s.fields[a] for s in states if not s.is_global[a]]
        # a global field sees everything: alignment is a question among the local ones
        aligned = aligned and (len(local) < 2 or ar.largest(local)[1])
        axis = next((s.axes[a] for s in states if s.axes[a] is not None), None)
        parts = [s.fields[a].spans for s in states]
        if axis is not None and axis.dim == cat_dim and axis.inner == 1:
            spans = ar.concat_spans(parts, [shape[cat_dim] for shape in shapes])
        else:
            spans = ar.union_spans(parts)
        fields.append(replace(winner, spans=spans))
        axes.append(axis)
        glob.append(any(s.is_global[a] for s in states))
    notes = tuple(dict.fromkeys(n for s in states for n in s.notes))
    return NodeField(tuple(fields), tuple(axes), tuple(glob), aligned,
                     all(s.exact for s in states), notes)


def _spatial(node: Node, n: int) -> list[int]:
    rank = len(node.shape)
    return list(range(rank - n, rank))


def _conv(node: Node, state: NodeField) -> NodeField:
    spec = node.spec
    pads = spec.resolved_padding(node.input_shape[-spec.ndim:])
    taps = ar.transposed_taps if spec.transposed else ar.conv_taps
    per_dim: PerDim = {}
    for j, dim in enumerate(_spatial(node, spec.ndim)):
        k, s, d, lo = spec.kernel_size[j], spec.stride[j], spec.dilation[j], pads[j][0]
        i, o = node.input_shape[dim], node.shape[dim]
        identity = k == 1 and s == 1 and lo == 0 and i == o
        per_dim[dim] = (ar.conv_axis_rf_layers(k, s, lo, d, spec.transposed),
                        None if identity else taps(i, o, k, s, lo, d))
    return _apply(state, node, per_dim)


def _resample(node: Node, state: NodeField, dtype: str) -> NodeField:
    """Pools, adaptive pools, interpolation, pixel (un)shuffle, pads and crops."""
    cat, a = node.category, node.attrs
    per_dim: PerDim = {}
    if cat == "pool":
        for j, dim in enumerate(_spatial(node, len(a["kernel"]))):
            k, s, p, d = a["kernel"][j], a["stride"][j], a["padding"][j], a["dilation"][j]
            per_dim[dim] = ((ar.conv_rf_layer(k, s, p, d),),
                            ar.conv_taps(node.input_shape[dim], node.shape[dim], k, s, p, d))
    elif cat == "adaptive_pool":
        for dim in _spatial(node, int(node.op.rstrip("d")[-1])):
            i, o = node.input_shape[dim], node.shape[dim]
            per_dim[dim] = ((ar.adaptive_rf_layer(i, o)[0],), ar.adaptive_taps(i, o))
    elif cat == "upsample":
        dims = _spatial(node, len(node.shape) - 2)
        same = all(node.input_shape[d] == node.shape[d] for d in dims)
        for j, dim in enumerate(dims):
            i, o = node.input_shape[dim], node.shape[dim]
            # bicubic copies only when every axis keeps its size
            scale = None if (a["mode"] == "cubic" and same) else a["scales"][j]
            per_dim[dim] = ((ar.interpolate_rf_layer(i, o, a["mode"], a["align_corners"]),),
                            ar.interpolate_taps(i, o, a["mode"], a["align_corners"], scale,
                                                dtype))
    elif cat in ("pixel_shuffle", "pixel_unshuffle"):
        f = a["factor"]
        shuffle = cat == "pixel_shuffle"
        layer = (ar.pixel_shuffle_rf_layer if shuffle else ar.pixel_unshuffle_rf_layer)(f)
        for dim in _spatial(node, 2):
            i = node.input_shape[dim]
            per_dim[dim] = ((layer,), ar.pixel_shuffle_taps(i, f) if shuffle
                            else ar.pixel_unshuffle_taps(i, f))
    elif cat == "pad":
        rank, pad = len(node.shape), a["pad"]
        for j in range(len(pad) // 2):
            dim = rank - 1 - j
            per_dim[dim] = ((RFLayer(1, 1, pad[2 * j]),),
                            ar.pad_taps(node.input_shape[dim], pad[2 * j], pad[2 * j + 1],
                                        a["mode"]))
    else:  # a slice along a spatial dim
        dim = a["dims"][0]
        per_dim[dim] = ((RFLayer(1, a["step"], -a["start"]),),
                        ar.slice_taps(node.input_shape[dim], node.shape[dim], a["start"],
                                      a["step"]))
    out = _apply(state, node, per_dim)
    if cat == "upsample" and a.get("antialias"):
        out = _inexact(_mix(out, _at(out, per_dim)),
                       f"{node.op}: antialiased interpolation taken as the whole input")
    return out


def _select(node: Node, state: NodeField) -> NodeField:
    dim, index = node.attrs["dims"][0], node.attrs["index"]
    crop = RFLayer(1, 1, -index)
    fields = []
    for f, ax in zip(state.fields, state.axes, strict=True):
        if ax is not None and ax.dim == dim and ax.inner == 1:
            f = replace(ar.compose(f, crop), spans=(f.span(index % ax.size),))
        fields.append(f)
    state = replace(state, fields=tuple(fields))
    mapping: dict[int, int | None] = {
        p: (p if p < dim else p - 1) for p in range(len(node.input_shape))}
    mapping[dim] = None
    return _remap(state, mapping)


def _step(node: Node, state: NodeField, graph: Graph) -> NodeField:  # noqa: C901 - op table
    op, cat, a = node.op, node.category, node.attrs
    if cat == "conv":
        return _conv(node, state)
    if cat in ("pool", "adaptive_pool", "upsample", "pixel_shuffle", "pixel_unshuffle", "pad",
               "crop"):
        return _resample(node, state, graph.dtype)
    if op == "slice":
        return _resample(node, state, graph.dtype)
    if op == "select":
        return _select(node, state)
    if op == "permute":
        return _remap(state, {p: a["dims"].index(p) for p in range(len(a["dims"]))})
    if op == "transpose" or op == "t":
        d0, d1 = a.get("dims", (0, 1))
        return _remap(state, {d0: d1, d1: d0})
    if op in _VIEW_RESHAPES:
        return _view(state, node)
    if op in _SPLITS:
        dim = a.get("dims", (0,))[0]
        if any(ax is not None and ax.dim == dim for ax in state.axes):
            return _inexact(_mix(state, _at(state, (dim,))),
                            f"{op}: split along a spatial axis taken as the whole input")
        return state
    if cat == "reduce":
        out = _mix(state, _at(state, a["dims"]), remove=not a["keepdim"])
        if not a["keepdim"]:
            dims = a["dims"]
            out = _remap(out, {p: p - sum(d < p for d in dims)
                               for p in range(len(node.input_shape)) if p not in dims})
        return out
    if cat in ("norm", "activation") and a.get("count") == 1:
        # a softmax or normalization over one element is a constant (1, or the norm's bias)
        out = _mix(state, _at(state, a["dims"]))
        return replace(out, fields=tuple(replace(f, spans=(None,)) for f in out.fields))
    if cat in ("norm", "activation") and "dims" in a:
        return _mix(state, _at(state, a["dims"]))
    if cat == "attention":  # every query position reads every key position
        rank = len(node.shape)
        return _mix(state, _at(state, (rank - 2, rank - 1)))
    if op in _NO_DEPENDENCY:
        return replace(state, fields=tuple(replace(f, spans=(None,)) for f in state.fields))
    if op in _PASS or cat == "view":
        return _broadcast(state, len(node.shape) - len(node.input_shape))
    if cat == "other":
        out = _mix(state, [True] * len(state.axes),
                   remove=len(node.shape) != len(node.input_shape))
        return _inexact(out, f"{op}: unknown op, field taken as the whole input")
    if len(node.shape) != len(node.input_shape):
        return _inexact(state, f"{op}: changes the rank, treated as pointwise")
    return state


def _contract(node: Node, states: list[NodeField], graph: Graph) -> list[NodeField]:
    """Matrix products: axes on the contracted dim of either operand become global."""
    out = []
    for operand, index in enumerate(node.attrs["operands"]):
        if index is None:
            continue
        state, rank = states[index], len(graph.nodes[index].shape)
        contracted = rank - 1 if operand == 0 else rank - 2
        out.append(_mix(state, _at(state, (contracted,)), remove=True))
    return out


def _picks_from_concat(node: Node, graph: Graph) -> bool:
    """A slice, select or split of a concat along the concat's dim: channels are not
    tracked, so the part keeps every branch's spans (an upper bound)."""
    if node.op not in ("slice", "select", "narrow", *_SPLITS) or not node.inputs:
        return False
    src = graph.nodes[node.inputs[0]]
    dims = node.attrs.get("dims", (0,))
    return (src.op == "cat" and len(src.inputs) > 1 and bool(src.shape)
            and dims[0] == src.attrs.get("dim", 0) % len(src.shape)
            and node.shape != src.shape)


def _start(shape: Sequence[int]) -> NodeField:
    dims = spatial_dims(shape)
    return NodeField(
        tuple(ReceptiveField(spans=ar.identity_spans(shape[d])) for d in dims),
        tuple(AxisPlace(d, 1, shape[d]) for d in dims),
        (False,) * len(dims),
    )


def node_fields(graph: Graph) -> list[NodeField]:
    """The receptive field state of every node of ``graph``, in node order.

    >>> g = trace(nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3)),
    ...           (1, 1, 16, 16))
    >>> f = node_fields(g)[-1].fields[0]
    >>> f, f.span(0), f.span(3)
    (ReceptiveField(size=8, stride=2, padding=0), (0, 7), (6, 13))
    """
    start = _start(graph.input_shape)
    unrelated = replace(start, fields=tuple(replace(f, spans=(None,)) for f in start.fields),
                        axes=(None,) * len(start.axes))
    states: list[NodeField] = [start]
    for node in graph.nodes[1:]:
        if node.category == "input":  # a further model input: it sees none of the first
            states.append(unrelated)
            continue
        inputs = []
        rank = len(node.shape)
        for i in node.inputs:
            s = states[i]
            shift = rank - len(graph.nodes[i].shape) if node.op != "stack" else 0
            inputs.append(_broadcast(s, shift) if node.category == "merge" else s)
        if node.op == "stack":
            dim = node.attrs.get("dim", 0) % rank
            inputs = [_remap(s, {p: p + (p >= dim) for p in range(rank - 1)}) for s in inputs]
        if node.category == "linear":
            inputs = _contract(node, states, graph)
        shapes = [graph.nodes[i].shape for i in node.inputs]
        state = _merge(inputs, node, shapes) if len(inputs) > 1 else inputs[0]
        if _picks_from_concat(node, graph):
            state = _inexact(state, f"{node.op}: part of a channel concat (the spans of all "
                                    "its branches are kept)")
        states.append(_independent(state if node.category == "merge"
                                   else _step(node, state, graph)))
    return states


def _independent(state: NodeField) -> NodeField:
    """An output that no position along one axis connects to the input depends on no input
    at all: its spans are None along every axis (a branch like that adds nothing at a
    merge)."""
    if not any(f.spans is not None and all(s is None for s in f.spans) for f in state.fields):
        return state
    if all(f.spans == (None,) for f in state.fields):
        return state
    return replace(state, fields=tuple(replace(f, spans=(None,)) for f in state.fields))


@dataclass(frozen=True)
class EmpiricalField:
    """Effective receptive field measured from input gradients (Luo et al., 2016).

    Attributes:
        spans: per axis, first and last input index where ``|grad| > threshold * max``.
        sizes: ``last - first + 1`` per axis.
        theoretical: per axis, the exact span of the same output element (``field.span``),
            ``(0, -1)`` when it depends on no input.
        center: index of the output element whose gradient was taken, per output axis.
        threshold: the fraction of the maximum used.
        note: why the two differ.
        gradient: the channel-summed ``|d out_centre / d input|`` map itself (float64 tensor
            of the input's spatial shape), for heatmaps.
    """

    spans: tuple[tuple[int, int], ...]
    sizes: tuple[int, ...]
    theoretical: tuple[tuple[int, int], ...]
    center: tuple[int, ...]
    threshold: float
    note: str = EMPIRICAL_NOTE
    gradient: torch.Tensor | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ReceptiveFieldResult:
    """Receptive field of a model's output (or of a named layer's output), per spatial axis.

    Attributes:
        layer: the module name ('' for the model output). shape: that tensor's shape.
        fields: ReceptiveField (size ``r``, stride ``S``, padding ``P``) per input axis;
            ``fields[axis].span(u)`` is the exact input span of output index ``u`` along
            that axis (None when it depends on no input).
        centers: input-coordinate centre of output element 0 on each axis.
        is_global, aligned, exact, notes: see :class:`NodeField`.
        partial: the trace stopped early (then the field is of the last traced op).
        empirical: the measured effective field when asked for.
    """

    layer: str
    shape: tuple[int, ...]
    fields: tuple[ReceptiveField, ...]
    centers: tuple[int | Fraction, ...]
    is_global: tuple[bool, ...]
    aligned: bool
    exact: bool
    notes: tuple[str, ...] = ()
    partial: bool = False
    reason: str = ""
    empirical: EmpiricalField | None = field(default=None)

    @property
    def sizes(self) -> tuple:
        """``r`` per axis."""
        return tuple(f.size for f in self.fields)

    @property
    def strides(self) -> tuple:
        """``S`` per axis."""
        return tuple(f.stride for f in self.fields)

    @property
    def paddings(self) -> tuple:
        """``P`` per axis."""
        return tuple(f.padding for f in self.fields)

    def _repr_html_(self) -> str:
        """One row per axis as an HTML table (Jupyter)."""
        from convzoo.analysis.html import receptive_field_html

        return receptive_field_html(self)


def _target(graph: Graph, layer: str | None) -> int:
    if layer is None or layer == "":
        if graph.outputs:
            return graph.outputs[0]
        return len(graph.nodes) - 1
    return graph.output_of(layer)


def receptive_field(
    model: nn.Module | Graph,
    input_shape: Any = None,
    layer: str | None = None,
    empirical: bool = False,
    threshold: float = 0.01,
    init: str = "model",
    dtype: torch.dtype = torch.float32,
    partial: bool = False,
) -> ReceptiveFieldResult:
    """Theoretical receptive field of the output (or of ``layer``'s output) per spatial axis.

    Args:
        model: any ``nn.Module``, or a :class:`~convzoo.analysis.Graph` already traced by
            :func:`convzoo.analysis.trace` (then ``input_shape``, ``dtype`` and ``partial``
            are the graph's own and are not passed, and ``empirical`` needs the model).
        input_shape: ``(N, C, *spatial)``.
        layer: qualified module name (default: the model's first output).
        empirical: also measure the effective field from input gradients (a real forward
            and backward pass at ``input_shape`` with batch 1).
        threshold: fraction of the maximum gradient counted as inside (default 0.01).
        init: ``'model'`` (the model's weights, random input) or ``'ones'`` (weights 1,
            biases 0, input of ones).
        dtype: the floating dtype the model runs in (default float32); interpolation rounds
            its source indices in it, like PyTorch.
        partial: when the forward pass fails on the input, report the field of the last
            traced op instead of raising (see :func:`convzoo.analysis.summary`).

    ``input_shape`` takes what :func:`convzoo.analysis.trace` takes (a shape, a tensor, a
    tuple of them, a dict of keyword inputs); fields are in the first input's positions.

    >>> net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, dilation=2))
    >>> rf = receptive_field(net, (1, 1, 32, 32))
    >>> rf.sizes, rf.strides, rf.paddings, rf.centers
    ((7, 7), (1, 1), (1, 1), (2, 2))
    >>> receptive_field(trace(nn.Conv2d(1, 1, 3, stride=2), (1, 1, 9, 9))).fields[0].span(3)
    (6, 8)
    """
    if isinstance(model, Graph):
        if input_shape is not None or empirical or dtype is not torch.float32 or partial:
            raise ValueError(
                "`input_shape`, `empirical`, `dtype` and `partial` must be left at their "
                "defaults when `model` is a traced Graph (it carries its input shape and "
                "dtype; the empirical field needs the model itself)")
        return _field_of(model, layer)
    if input_shape is None:
        raise ValueError("`input_shape` (=None) must be given with a model (only a traced "
                         "Graph carries its own)")
    graph = trace(model, input_shape, dtype, strict=not partial)
    if graph.partial and not partial:
        raise ValueError(f"{graph.reason} (partial=True gives the field of the traced part)")
    result = _field_of(graph, layer)
    if empirical:
        measured = empirical_receptive_field(model, input_shape, layer, threshold, init, graph)
        result = replace(result, empirical=measured)
    return result


def _field_of(graph: Graph, layer: str | None = None) -> ReceptiveFieldResult:
    """The field of an already traced graph's output (or of ``layer``'s output)."""
    index = _target(graph, layer)
    node, state = graph.nodes[index], node_fields(graph)[index]
    return ReceptiveFieldResult(
        layer=layer or "", shape=node.shape, fields=state.fields,
        centers=tuple(f.center(0) for f in state.fields), is_global=state.is_global,
        aligned=state.aligned, exact=state.exact, notes=state.notes, partial=graph.partial,
        reason=graph.reason,
    )


@renamed_function("convzoo.analysis.receptive_field_of", "convzoo.analysis.receptive_field")
def receptive_field_of(graph: Graph, layer: str | None = None) -> ReceptiveFieldResult:
    """Deprecated: ``receptive_field(graph, layer=...)``."""
    return _field_of(graph, layer)


def empirical_receptive_field(
    model: nn.Module,
    input_shape: Sequence[int],
    layer: str | None = None,
    threshold: float = 0.01,
    init: str = "model",
    graph: Graph | None = None,
) -> EmpiricalField:
    """Effective receptive field (Luo et al., 2016) of the centre output element.

    Runs a real forward/backward pass (batch 1, float64) on a copy of ``model`` and keeps,
    per axis, the input positions where the channel-summed ``|d out_centre / d input|``
    exceeds ``threshold`` times its maximum (max over the other axes).

    >>> net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3))
    >>> erf = empirical_receptive_field(net, (1, 1, 9, 9), init="ones")
    >>> erf.center, erf.spans, erf.theoretical
    ((2, 2), ((2, 6), (2, 6)), ((2, 6), (2, 6)))
    """
    shape = check_input_shape(input_shape)
    if init not in ("model", "ones"):
        raise ValueError(f"`init` (={init!r}) must be one of 'model', 'ones'")
    if not 0 <= threshold < 1:
        raise ValueError(f"`threshold` (={threshold!r}) must be in [0, 1)")
    graph = graph if graph is not None else trace(model, shape)
    state = node_fields(graph)[_target(graph, layer)]
    net = copy.deepcopy(model).to(dtype=torch.float64).eval()
    generator = torch.Generator().manual_seed(0)
    if init == "ones":
        with torch.no_grad():
            for name, p in net.named_parameters():
                p.fill_(0.0 if name.rsplit(".", 1)[-1] == "bias" else 1.0)
        x = torch.ones((1, *shape[1:]), dtype=torch.float64)
    else:
        x = torch.randn((1, *shape[1:]), dtype=torch.float64, generator=generator)
    x.requires_grad_(True)
    captured: list[torch.Tensor] = []
    handle = None
    if layer:
        module = net.get_submodule(layer)
        handle = module.register_forward_hook(
            lambda m, i, o: captured.append(o) if not captured else None)
    try:
        out = net(x)
    finally:
        if handle is not None:
            handle.remove()
    y = captured[0] if captured else out
    y = y[0] if isinstance(y, list | tuple) else y
    spatial = y.shape[2:] if y.dim() > 2 else ()
    center = tuple((s - 1) // 2 for s in spatial)
    y[(0, slice(None), *center)].sum().backward()
    g = x.grad[0].abs() if len(shape) == 2 else x.grad[0].abs().sum(0)
    peak = g.max()
    spans, sizes, theory = [], [], []
    for axis in range(g.dim()):
        others = tuple(d for d in range(g.dim()) if d != axis)
        profile = g.amax(dim=others) if others else g
        inside = torch.nonzero(profile > threshold * peak).flatten().tolist()
        lo, hi = (inside[0], inside[-1]) if inside else (0, -1)
        spans.append((lo, hi))
        sizes.append(hi - lo + 1)
        ax = state.axes[axis]
        u = center[ax.dim - 2] if ax is not None and 0 <= ax.dim - 2 < len(center) else 0
        theory.append(state.fields[axis].span(u) or (0, -1))
    return EmpiricalField(tuple(spans), tuple(sizes), tuple(theory), center, threshold,
                          gradient=g.detach())
