"""Receptive fields on a traced graph (Araujo, Norris & Sim, Distill 2019), per spatial axis.

Every node gets one :class:`~convzoo.arithmetic.ReceptiveField` per spatial axis of the
model input, composed from its inputs' fields with ``convzoo.arithmetic.receptive``: convs
(dilation folded in), pooling windows, transposed convs (``transposed_rf_layers``), pixel
(un)shuffle, upsampling by ``f`` (stride ``1/f``), pads and crops (shifts of ``P``).
Pointwise ops pass fields through; at merges (add, cat...) the largest field wins
(``largest``) and misaligned branches are reported. Each input axis is followed through
views, permutes and reductions; an axis that is flattened into others or reduced becomes
*global* (its field then covers the whole input).

:func:`receptive_field` reports the output's (or a named layer's) field;
``empirical=True`` adds the effective receptive field of Luo et al. (2016) measured from
input gradients.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import torch
import torch.nn as nn

from convzoo import arithmetic as ar
from convzoo.analysis.graph import Graph, Node
from convzoo.analysis.trace import check_input_shape, trace
from convzoo.arithmetic import ReceptiveField, RFLayer

__all__ = [
    "NodeField", "EmpiricalField", "ReceptiveFieldResult", "node_fields", "receptive_field",
    "empirical_receptive_field", "EMPIRICAL_NOTE",
]

#: (position in the tensor, element multiplier inside that dim, axis size) or None when gone.
Axis = tuple[int, int, int] | None

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


@dataclass(frozen=True)
class NodeField:
    """Receptive field state of one node.

    Attributes:
        fields: one ReceptiveField per spatial axis of the model input.
        axes: where each input axis lives in this node's output, or None once reduced.
        is_global: per axis, whether the field was widened to the whole axis (flatten,
            reduction, fully connected layer).
        aligned: False when a merge upstream combined branches with different centres or
            strides.
        exact: False when an op was approximated (see :attr:`notes`).
        notes: why the field is approximate.
    """

    fields: tuple[ReceptiveField, ...]
    axes: tuple[Axis, ...]
    is_global: tuple[bool, ...]
    aligned: bool = True
    exact: bool = True
    notes: tuple[str, ...] = ()


def _globalize(state: NodeField, keep: Sequence[bool]) -> tuple[list, list, list]:
    """Widen (and drop, unless ``keep``) the axes whose ``keep`` entry is False."""
    fields, axes, glob = list(state.fields), list(state.axes), list(state.is_global)
    for a, ok in enumerate(keep):
        if not ok and axes[a] is not None:
            # the whole axis, then stride 0: every output position sees that same window
            fields[a] = ar.compose(fields[a], RFLayer(axes[a][2], 0, 0))
            glob[a] = True
            axes[a] = None
    return fields, axes, glob


def _apply(state: NodeField, node: Node, per_dim: dict[int, Sequence[RFLayer]]) -> NodeField:
    """Compose layers on the axes living at the given dims; sizes from ``node.shape``."""
    fields, axes = list(state.fields), list(state.axes)
    exact, notes = state.exact, state.notes
    for a, ax in enumerate(axes):
        if ax is None:
            continue
        pos, inner, _ = ax
        if pos in per_dim:
            if inner != 1:
                exact, notes = False, (*notes, f"{node.op}: spatial op on a merged axis")
            fields[a] = ar.chain(per_dim[pos], fields[a])
        axes[a] = (pos, inner, node.shape[pos] if inner == 1 else ax[2])
    return NodeField(tuple(fields), tuple(axes), state.is_global, state.aligned, exact, notes)


def _view(state: NodeField, src: tuple[int, ...], dst: tuple[int, ...]) -> NodeField:
    """Follow each axis through a reshape by matching element strides (contiguous order)."""
    keep, moved = [], []
    for ax in state.axes:
        if ax is None:
            keep.append(True)
            moved.append(None)
            continue
        pos, inner, n = ax
        e = inner * math.prod(src[pos + 1:])  # element stride of the axis
        found = None
        for q in range(len(dst)):
            after = math.prod(dst[q + 1:])
            if after <= e and e % after == 0 and e * n <= after * dst[q]:
                found = (q, e // after, n)
                break
        keep.append(found is not None)
        moved.append(found)
    fields, _, glob = _globalize(state, keep)
    return NodeField(tuple(fields), tuple(moved), tuple(glob), state.aligned, state.exact,
                     state.notes)


def _remap(state: NodeField, mapping: dict[int, int | None]) -> NodeField:
    """Move axes to new positions (``None``: dim removed without widening, e.g. select)."""
    axes = []
    for ax in state.axes:
        if ax is None or ax[0] not in mapping or mapping[ax[0]] is None:
            axes.append(None if ax is None or ax[0] in mapping else ax)
        else:
            axes.append((mapping[ax[0]], ax[1], ax[2]))
    return NodeField(state.fields, tuple(axes), state.is_global, state.aligned, state.exact,
                     state.notes)


def _broadcast(state: NodeField, shift: int) -> NodeField:
    if not shift:
        return state
    axes = tuple(None if a is None else (a[0] + shift, a[1], a[2]) for a in state.axes)
    return NodeField(state.fields, axes, state.is_global, state.aligned, state.exact,
                     state.notes)


def _merge(states: list[NodeField]) -> NodeField:
    if len(states) == 1:
        return states[0]
    fields, axes, glob = [], [], []
    aligned = all(s.aligned for s in states)
    for a in range(len(states[0].fields)):
        winner, _ = ar.largest(s.fields[a] for s in states)
        local = [s.fields[a] for s in states if not s.is_global[a]]
        fields.append(winner)
        # a global field sees everything: alignment is a question among the local ones
        aligned = aligned and (len(local) < 2 or ar.largest(local)[1])
        axes.append(next((s.axes[a] for s in states if s.axes[a] is not None), None))
        glob.append(any(s.is_global[a] and s.fields[a] == winner for s in states))
    notes = tuple(dict.fromkeys(n for s in states for n in s.notes))
    return NodeField(tuple(fields), tuple(axes), tuple(glob), aligned,
                     all(s.exact for s in states), notes)


def _spatial(node: Node, n: int) -> list[int]:
    rank = len(node.shape)
    return list(range(rank - n, rank))


def _upsample_layer(i: int, o: int, mode: str, align: bool) -> RFLayer:
    if mode == "nearest":
        return RFLayer(1, ar.receptive._num(Fraction(i, o)), 0)
    k = 2 if mode == "linear" else 4
    if align:
        s = Fraction(i - 1, o - 1) if o > 1 else Fraction(1)
        return RFLayer(k, ar.receptive._num(s), (k - 2) // 2)
    # window centred on the half-pixel source position (q + 1/2) * i/o - 1/2
    return RFLayer(k, ar.receptive._num(Fraction(i, o)),
                   ar.receptive._num(Fraction(k, 2) - Fraction(i, 2 * o)))


def _adaptive_layer(i: int, o: int) -> tuple[RFLayer, bool]:
    if i % o == 0:
        return RFLayer(i // o, i // o, 0), True
    width = max(-((-(j + 1) * i) // o) - (j * i) // o for j in range(o))
    return RFLayer(width, ar.receptive._num(Fraction(i, o)), 0), False


def _step(node: Node, state: NodeField, graph: Graph) -> NodeField:  # noqa: C901 - op table
    op, cat, a = node.op, node.category, node.attrs
    if cat == "conv":
        spec = node.spec
        dims = _spatial(node, spec.ndim)
        pads = spec.resolved_padding(node.input_shape[-spec.ndim:])
        layers = {}
        for j, dim in enumerate(dims):
            k, s, d, lo = spec.kernel_size[j], spec.stride[j], spec.dilation[j], pads[j][0]
            layers[dim] = (ar.transposed_rf_layers(k, s, lo, d) if spec.transposed
                           else (ar.conv_rf_layer(k, s, lo, d),))
        return _apply(state, node, layers)
    if cat == "pool":
        dims = _spatial(node, len(a["kernel"]))
        return _apply(state, node, {
            dim: (ar.conv_rf_layer(a["kernel"][j], a["stride"][j], a["padding"][j],
                                   a["dilation"][j]),)
            for j, dim in enumerate(dims)})
    if cat in ("adaptive_pool", "upsample"):
        n = int(op.rstrip("d")[-1])
        layers, exact = {}, True
        for dim in _spatial(node, n):
            i, o = node.input_shape[dim], node.shape[dim]
            if cat == "upsample":
                layers[dim] = (_upsample_layer(i, o, a["mode"], a["align_corners"]),)
            else:
                layer, ok = _adaptive_layer(i, o)
                layers[dim], exact = (layer,), exact and ok
        out = _apply(state, node, layers)
        if not exact:
            note = f"{op}: uneven adaptive windows taken at their widest"
            out = NodeField(out.fields, out.axes, out.is_global, out.aligned, False,
                            (*out.notes, note))
        return out
    if cat in ("pixel_shuffle", "pixel_unshuffle"):
        layer = (ar.pixel_shuffle_rf_layer if cat == "pixel_shuffle"
                 else ar.pixel_unshuffle_rf_layer)(a["factor"])
        return _apply(state, node, {d: (layer,) for d in _spatial(node, 2)})
    if cat == "pad":
        rank, pad = len(node.shape), a["pad"]
        return _apply(state, node, {
            rank - 1 - i: (RFLayer(1, 1, pad[2 * i]),) for i in range(len(pad) // 2)})
    if op == "slice":
        return _apply(state, node, {a["dims"][0]: (RFLayer(1, a["step"], -a["start"]),)})
    if op == "select":
        dim = a["dims"][0]
        crop = RFLayer(1, 1, -a["index"])
        state = NodeField(
            tuple(ar.compose(f, crop) if ax is not None and ax[0] == dim and ax[1] == 1 else f
                  for f, ax in zip(state.fields, state.axes, strict=True)),
            state.axes, state.is_global, state.aligned, state.exact, state.notes)
        mapping = {p: (p if p < dim else p - 1) for p in range(len(node.input_shape))}
        mapping[dim] = None
        return _remap(state, mapping)
    if op == "permute":
        return _remap(state, {p: a["dims"].index(p) for p in range(len(a["dims"]))})
    if op == "transpose" or op == "t":
        d0, d1 = a.get("dims", (0, 1))
        return _remap(state, {d0: d1, d1: d0})
    if op in _VIEW_RESHAPES:
        return _view(state, node.input_shape, node.shape)
    if cat == "reduce":
        dims = a["dims"]
        fields, axes, glob = _globalize(state, [
            ax is None or ax[0] not in dims for ax in state.axes])
        out = NodeField(tuple(fields), tuple(axes), tuple(glob), state.aligned, state.exact,
                        state.notes)
        if not a["keepdim"]:
            mapping = {p: p - sum(d < p for d in dims) for p in range(len(node.input_shape))}
            out = _remap(out, mapping)
        return out
    if cat in ("other", "attention") or len(node.shape) != len(node.input_shape):
        if op not in ("clone", "contiguous", "detach", "alias", "_to_copy", "expand"):
            note = f"{op}: treated as pointwise"
            return NodeField(state.fields, state.axes, state.is_global, state.aligned, False,
                             (*state.notes, note))
    return state


def _contract(node: Node, states: list[NodeField], graph: Graph) -> list[NodeField]:
    """Matrix products: axes on the contracted dim of either operand become global."""
    out = []
    for operand, index in enumerate(node.attrs["operands"]):
        if index is None:
            continue
        state, rank = states[index], len(graph.nodes[index].shape)
        contracted = rank - 1 if operand == 0 else rank - 2
        fields, axes, glob = _globalize(state, [
            ax is None or ax[0] != contracted for ax in state.axes])
        out.append(NodeField(tuple(fields), tuple(axes), tuple(glob), state.aligned,
                             state.exact, state.notes))
    return out


def node_fields(graph: Graph) -> list[NodeField]:
    """The receptive field state of every node of ``graph``, in node order.

    >>> g = trace(nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3)),
    ...           (1, 1, 16, 16))
    >>> node_fields(g)[-1].fields[0]
    ReceptiveField(size=8, stride=2, padding=0)
    """
    shape = graph.input_shape
    n = max(len(shape) - 2, 0)
    start = NodeField(
        tuple(ReceptiveField() for _ in range(n)),
        tuple((2 + i, 1, shape[2 + i]) for i in range(n)),
        (False,) * n,
    )
    states: list[NodeField] = [start]
    for node in graph.nodes[1:]:
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
        state = _merge(inputs) if len(inputs) > 1 else inputs[0]
        states.append(state if node.category == "merge" else _step(node, state, graph))
    return states


@dataclass(frozen=True)
class EmpiricalField:
    """Effective receptive field measured from input gradients (Luo et al., 2016).

    Attributes:
        spans: per axis, first and last input index where ``|grad| > threshold * max``.
        sizes: ``last - first + 1`` per axis.
        theoretical: per axis, the theoretical span of the same output element, clipped to
            the input.
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
        fields: ReceptiveField (size ``r``, stride ``S``, padding ``P``) per input axis.
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
    model: nn.Module,
    input_shape: Sequence[int],
    layer: str | None = None,
    empirical: bool = False,
    threshold: float = 0.01,
    init: str = "model",
) -> ReceptiveFieldResult:
    """Theoretical receptive field of the output (or of ``layer``'s output) per spatial axis.

    Args:
        model: any ``nn.Module``; input_shape: ``(N, C, *spatial)``.
        layer: qualified module name (default: the model's first output).
        empirical: also measure the effective field from input gradients (a real forward
            and backward pass at ``input_shape`` with batch 1).
        threshold: fraction of the maximum gradient counted as inside (default 0.01).
        init: ``'model'`` (the model's weights, random input) or ``'ones'`` (weights 1,
            biases 0, input of ones).

    >>> net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, dilation=2))
    >>> rf = receptive_field(net, (1, 1, 32, 32))
    >>> rf.sizes, rf.strides, rf.paddings, rf.centers
    ((7, 7), (1, 1), (1, 1), (2, 2))
    """
    graph = trace(model, input_shape)
    states = node_fields(graph)
    index = _target(graph, layer)
    node, state = graph.nodes[index], states[index]
    measured = None
    if empirical:
        measured = empirical_receptive_field(model, input_shape, layer, threshold, init, graph)
    return ReceptiveFieldResult(
        layer=layer or "", shape=node.shape, fields=state.fields,
        centers=tuple(f.center(0) for f in state.fields), is_global=state.is_global,
        aligned=state.aligned, exact=state.exact, notes=state.notes, partial=graph.partial,
        reason=graph.reason, empirical=measured,
    )


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
    g = x.grad[0].abs().sum(0)
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
        u = center[ax[0] - 2] if ax is not None and ax[0] - 2 < len(center) else 0
        first, last = state.fields[axis].span(u)
        theory.append((max(math.ceil(first), 0), min(math.floor(last), shape[2 + axis] - 1)))
    return EmpiricalField(tuple(spans), tuple(sizes), tuple(theory), center, threshold,
                          gradient=g.detach())
