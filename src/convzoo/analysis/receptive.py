"""Receptive fields on a traced graph, per spatial axis and per output position.

Every node gets one :class:`~convzoo.arithmetic.ReceptiveField` per spatial axis of the
model input. It carries two things, both from ``convzoo.arithmetic``:

* the Distill algebra's size ``r``, effective stride ``S`` and padding ``P`` (Araujo, Norris
  & Sim, 2019), composed with ``convzoo.arithmetic.receptive``;
* the exact span of every output position (``field.span(u)``), composed from each op's
  taps: convs, pools, transposed convs, interpolation (every mode, ``align_corners``,
  ``scale_factor`` or ``size``), adaptive pools, pixel (un)shuffle, pads, crops, rolls,
  flips, windows (``unfold``, ``as_strided``, ``F.unfold``) and writes into part of a
  tensor (slice assignment, a copy into a canvas). At merges (add, mul, channel concat)
  spans are united position by position; a concat along the axis itself concatenates them.

Each input axis is followed through views, permutes and reductions, into flattened token
dims and back (:mod:`convzoo.analysis.field_state`). An op that mixes every position of an
axis (a reduction, global pooling, a norm whose statistics run over space, softmax along
the axis, attention over positions, a matrix product contracting it) makes that axis
*global*: every output position sees the whole input (the union of all spans). The rules,
one per kind of op, are in :mod:`convzoo.analysis.field_rules`: each is exact, or marks the
field not ``exact`` with a note naming the op (an upper bound); an op without a rule is
taken as the whole input, and the analysis never stops on a model.

:func:`receptive_field` reports the output's (or a named layer's) field;
``empirical=True`` adds the effective receptive field of Luo et al. (2016) measured from
input gradients.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import torch
import torch.nn as nn

from convzoo.analysis.field_rules import step
from convzoo.analysis.field_state import AxisPlace, NodeField, dead, start_state
from convzoo.analysis.graph import Graph
from convzoo.analysis.trace import check_input_shape, trace
from convzoo.arithmetic import ReceptiveField, Span
from convzoo.names import renamed_function

__all__ = [
    "NodeField", "EmpiricalField", "ReceptiveFieldResult", "node_fields", "receptive_field",
    "receptive_field_of",
    "empirical_receptive_field", "spatial_dims", "layer_output", "EMPIRICAL_NOTE",
]


EMPIRICAL_NOTE = (
    "The effective receptive field (Luo et al., 2016) is where the gradient of the centre "
    "output w.r.t. the input exceeds a fraction of its maximum. It is smaller than the "
    "theoretical field: paths through the centre of the window are far more numerous than "
    "those reaching its border, so the gradient is Gaussian-like and its tails (exactly "
    "zero only outside the theoretical field) fall below the threshold; it also depends on "
    "the weights and nonlinearities."
)


def spatial_dims(shape: Sequence[int]) -> tuple[int, ...]:
    """The dims of a model input followed as spatial axes: ``2..`` of ``(N, C, *spatial)``;
    dim 1 of a rank-2 input ``(N, L)`` (a signal without a channel dim, e.g. raw audio).

    >>> spatial_dims((1, 3, 8, 8)), spatial_dims((1, 16000))
    ((2, 3), (1,))
    """
    if len(shape) == 2:
        return (1,)
    return tuple(range(2, len(shape)))


def node_fields(graph: Graph) -> list[NodeField]:
    """The receptive field state of every node of ``graph``, in node order.

    >>> g = trace(nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3)),
    ...           (1, 1, 16, 16))
    >>> f = node_fields(g)[-1].fields[0]
    >>> f, f.span(0), f.span(3)
    (ReceptiveField(size=8, stride=2, padding=0), (0, 7), (6, 13))
    """
    start = start_state(graph.input_shape, spatial_dims(graph.input_shape))
    states: list[NodeField] = [start]
    for node in graph.nodes[1:]:
        if node.category == "input" or not node.inputs:  # a further model input: it sees
            states.append(replace(dead(start), other_input=True))  # none of the first
            continue
        states.append(_independent(step(node, graph, states)))
    return states


def _independent(state: NodeField) -> NodeField:
    """An output that no position along one axis connects to the input depends on no input
    at all: its spans are None along every axis (a branch like that adds nothing at a
    merge)."""
    if not any(f.spans is not None and all(s is None for s in f.spans)
               and state.foreign_of(a) is None for a, f in enumerate(state.fields)):
        return state
    if all(f.spans == (None,) for f in state.fields):
        return state
    return replace(dead(state), other_input=state.other_input)


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
        places: where each input axis lives in that tensor (a dim, and for a dim holding
            several axes, e.g. flattened tokens, the coordinate of each index), None once
            an op removed it; :meth:`span_at` reads them.
        foreign: per axis, the span of the elements of its dim outside the axis (a class
            token), None when there are none or they depend on no input.
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
    places: tuple[AxisPlace | None, ...] = ()
    foreign: tuple[Span, ...] = ()

    def span_at(self, axis: int, index: Sequence[int]) -> Span:
        """The span along input ``axis`` of the coordinate the output element at ``index``
        (a full index into :attr:`shape`) sits at; for a dim holding several axes
        (flattened tokens) the union over every element at that coordinate, as for a
        plain dim.

        >>> rf = receptive_field(nn.Conv2d(1, 1, 3), (1, 1, 5, 6))
        >>> rf.span_at(1, (0, 0, 2, 3)) == rf.fields[1].span(3)
        True
        """
        place = self.places[axis] if axis < len(self.places) else None
        f = self.fields[axis]
        if place is None:
            return f.span(0)
        c = place.coordinate(index[place.dim])
        if c < 0:
            return self.foreign[axis] if axis < len(self.foreign) else None
        return f.span(c)

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
        reason=graph.reason, places=state.axes,
        foreign=tuple(state.foreign_of(a) for a in range(len(state.fields))),
    )


@renamed_function("convzoo.analysis.receptive_field_of", "convzoo.analysis.receptive_field")
def receptive_field_of(graph: Graph, layer: str | None = None) -> ReceptiveFieldResult:
    """Deprecated: ``receptive_field(graph, layer=...)``."""
    return _field_of(graph, layer)


def layer_output(model: nn.Module, x: Any, layer: str | None = None) -> Any:
    """Run ``model`` on ``x``; return its output, or the output of ``layer``'s first call.

    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    >>> layer_output(net, torch.zeros(1, 1, 5, 5), "0").shape
    torch.Size([1, 2, 3, 3])
    """
    captured: list[Any] = []
    handle = None
    if layer:
        handle = model.get_submodule(layer).register_forward_hook(
            lambda m, i, o: captured.append(o) if not captured else None)
    try:
        out = model(x)
    finally:
        if handle is not None:
            handle.remove()
    return captured[0] if layer else out


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
    y = layer_output(net, x, layer)
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
        u = ax.coordinate(u) if ax is not None and u < len(ax.coords or ()) else u
        span = state.foreign_of(axis) if u < 0 else state.fields[axis].span(max(u, 0))
        theory.append(span or (0, -1))
    return EmpiricalField(tuple(spans), tuple(sizes), tuple(theory), center, threshold,
                          gradient=g.detach())
