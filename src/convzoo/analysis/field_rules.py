"""One receptive-field rule per kind of op: how a node's state follows from its inputs'.

:func:`step` dispatches on the op. Every rule is exact (a test compares it with the
gradient support) or marks the state inexact with a note naming the op; an op no rule
covers, or a rule failing on a pattern it does not handle, makes every axis the whole
input and inexact: the analysis never stops on a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from convzoo import arithmetic as ar
from convzoo.analysis import ops
from convzoo.analysis.field_state import (
    AxisPlace,
    NodeField,
    PerDim,
    as_mixed,
    at,
    dead,
    degrade,
    inexact,
    merge,
    mix,
    normalize,
    remap,
    reshape,
    shift,
    strided,
    taps_along,
    whole_span,
    write,
)
from convzoo.analysis.graph import Graph, Node
from convzoo.arithmetic import RFLayer

__all__ = ["step"]

_UNKNOWN_INDEX = "positions come from an index tensor or a mask (unknown on meta tensors)"


def _all(state: NodeField) -> list[bool]:
    return [True] * len(state.axes)


def _spatial(node: Node, n: int) -> list[int]:
    rank = len(node.shape)
    return list(range(rank - n, rank))


def _state(states: Sequence[NodeField], index: int | None, like: NodeField) -> NodeField:
    """The state of producer ``index``, or a constant (None: not fed by the input)."""
    return dead(like) if index is None else states[index]


def _operand(node: Node, *names: str) -> int | None:
    found = node.attrs.get("operands", {})
    for name in names:
        if found.get(name) is not None:
            return found[name]
    return None


def _broadcast(state: NodeField, in_shape: Sequence[int], out_shape: Sequence[int]
               ) -> NodeField:
    """``state`` broadcast to ``out_shape`` (new leading dims, size-1 dims repeated)."""
    k = len(out_shape) - len(in_shape)
    out = shift(state, k)
    axes = list(out.axes)
    for a, ax in enumerate(axes):
        if ax is not None and in_shape[ax.dim - k] == 1 and out_shape[ax.dim] != 1:
            axes[a] = AxisPlace(ax.dim, ax.size, (0,) * out_shape[ax.dim])
    parts = tuple((d, p) for d, p in out.parts if not (in_shape[d - k] == 1 and out_shape[d] != 1))
    return replace(out, axes=tuple(axes), parts=parts)


def _pointwise(node: Node, graph: Graph, states: Sequence[NodeField],
               indices: Sequence[int | None]) -> NodeField:
    """Position-by-position union of the operands (broadcast to the node's shape)."""
    live = [i for i in indices if i is not None]
    if not live:
        return dead(states[node.inputs[0]])
    shapes = [graph.nodes[i].shape for i in live]
    rank = len(node.shape)
    operands = [_broadcast(states[i], s, node.shape) for i, s in zip(live, shapes)]
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    return merge(operands, padded, node.shape)


def _gated(node: Node, graph: Graph, states: Sequence[NodeField], out: NodeField) -> bool:
    """Whether an operand of a product is a constant (depends on no input) somewhere the
    product depends on the input: its value there (zero?) is unknown on meta tensors."""
    for i in node.inputs:
        if states[i].other_input:  # values of another model input: not a constant
            continue
        if states[i].parts:  # constant slices
            return True
        s = _broadcast(states[i], graph.nodes[i].shape, node.shape)
        for a, f in enumerate(s.fields):
            ours, theirs = f.spans, out.fields[a].spans
            if None in ours and (len(ours) == 1 or len(ours) != len(theirs) or any(
                    mine is None and total is not None for mine, total in zip(ours, theirs))):
                return not all(t is None for t in theirs)
    return False


def _with_whole(state: NodeField, others: Sequence[NodeField], mixed: Sequence[int] = ()
                ) -> NodeField:
    """Every element of ``state`` also reads all of ``others`` (weights computed from the
    input, keys and values of attention)."""
    state = as_mixed(state)
    fields = []
    for a, f in enumerate(state.fields):
        extra = ar.union_span([whole_span(o, a) for o in others])
        fields.append(f if extra is None else replace(
            f, spans=tuple(ar.union_span([s, extra]) for s in f.spans)))
    glob = tuple(g or any(o.is_global[a] for o in others) for a, g in enumerate(state.is_global))
    notes = tuple(dict.fromkeys((*state.notes, *(n for o in others for n in o.notes))))
    return replace(state, fields=tuple(fields), is_global=glob, notes=notes,
                   exact=state.exact and all(o.exact for o in others),
                   mixed=state.mixed | frozenset(mixed))


# ---------------------------------------------------------------------- windows along dims
def _conv(node: Node, state: NodeField, graph: Graph, states: Sequence[NodeField]
          ) -> NodeField:
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
    channel = len(node.shape) - spec.ndim - 1
    cin, cout, g = spec.in_channels, spec.out_channels, spec.groups
    per_dim[channel] = ((), None if cin == cout == g else ar.group_taps(cin, cout, g))
    out = taps_along(state, node.op, node.shape, per_dim, node.input_shape)
    if g == 1:  # every output channel reads every input channel
        out = replace(out, mixed=out.mixed - {channel})
    weights = [states[i] for i in node.inputs[1:]]  # weights computed from the input
    return _with_whole(out, weights, (channel,)) if weights else out


def _conv_node(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    x = _operand(node, "input")
    if x is None:  # a constant input convolved with weights computed from the input
        like = states[node.inputs[0]]
        return _with_whole(dead(like), [states[i] for i in node.inputs], (1,))
    return _conv(node, states[x], graph, states)


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
        return _pixel_shuffle(node, state)
    else:  # pad
        rank, pad = len(node.shape), a["pad"]
        for j in range(len(pad) // 2):
            dim = rank - 1 - j
            per_dim[dim] = ((RFLayer(1, 1, pad[2 * j]),),
                            ar.pad_taps(node.input_shape[dim], pad[2 * j], pad[2 * j + 1],
                                        a["mode"]))
    out = taps_along(state, node.op, node.shape, per_dim, node.input_shape)
    if cat == "upsample" and a.get("antialias"):
        out = degrade(out, at(out, per_dim),
                      f"{node.op}: antialiased interpolation taken as the whole input")
    return out


def _pixel_shuffle(node: Node, state: NodeField) -> NodeField:
    f, shuffle = node.attrs["factor"], node.category == "pixel_shuffle"
    layer = (ar.pixel_shuffle_rf_layer if shuffle else ar.pixel_unshuffle_rf_layer)(f)
    per_dim: PerDim = {}
    for dim in _spatial(node, 2):
        i = node.input_shape[dim]
        per_dim[dim] = ((layer,), ar.pixel_shuffle_taps(i, f) if shuffle
                        else ar.pixel_unshuffle_taps(i, f))
    channel = len(node.shape) - 3
    cin, cout = node.input_shape[channel], node.shape[channel]
    per_dim[channel] = ((), ar.group_taps(cin, cout, min(cin, cout)))
    out = taps_along(state, node.op, node.shape, per_dim, node.input_shape)
    if not shuffle:  # each output channel holds one sub-position of the window
        return replace(out, mixed=out.mixed | {channel})
    if channel in state.mixed or state.part(channel) is not None:
        return inexact(as_mixed(out), f"{node.op}: moves channels whose elements depend on "
                                      "different inputs into space (channels are not tracked)")
    return out


def _slice(node: Node, state: NodeField) -> NodeField:
    dim, start, step = node.attrs["dims"][0], node.attrs["start"], node.attrs["step"]
    taps = ar.slice_taps(node.input_shape[dim], node.shape[dim], start, step)
    return taps_along(state, node.op, node.shape, {dim: ((RFLayer(1, step, -start),), taps)},
                      node.input_shape)


def _select(node: Node, state: NodeField) -> NodeField:
    dim, index = node.attrs["dims"][0], node.attrs["index"]
    fields, axes = list(state.fields), list(state.axes)
    for a, ax in enumerate(state.axes):
        if ax is not None and ax.dim == dim:
            c = ax.coordinate(index)
            span = state.foreign_of(a) if c < 0 else fields[a].spans[
                c if len(fields[a].spans) > 1 else 0]
            fields[a] = replace(ar.compose(fields[a], RFLayer(1, 1, -max(c, 0))), spans=(span,))
            axes[a] = None
    out = replace(state, fields=tuple(fields), axes=tuple(axes))
    live = state.part(dim)
    if live is not None and index not in live:  # a constant slice picked
        return dead(state)
    if dim in state.mixed and node.input_shape[dim] > 1:
        out = inexact(out, f"{node.op}: picks one element of a dim whose elements depend on "
                           "different inputs (channels are not tracked)")
    mapping: dict[int, int | None] = {
        p: (p if p < dim else p - 1) for p in range(len(node.input_shape))}
    mapping[dim] = None
    return remap(out, mapping)


# ---------------------------------------------------------------------- reindexing
def _roll_flip_repeat(node: Node, state: NodeField) -> NodeField:
    op, a = ops.base_name(node.op), node.attrs
    per_dim: PerDim = {}
    if op == "roll":
        if not a["dims"]:  # torch.roll without dims rolls the flattened tensor
            return degrade(state, _all(state), f"{node.op}: a roll of the flattened tensor "
                                                "is not modelled (whole input)")
        for s, d in zip(a["shifts"], a["dims"]):
            taps = ar.roll_taps(node.input_shape[d], s)
            if d in per_dim:  # the same dim rolled twice
                taps = tuple(per_dim[d][1][t[0]] for t in taps)
            per_dim[d] = ((), taps)
    elif op == "flip":
        for d in a["dims"]:
            per_dim[d] = ((), ar.flip_taps(node.input_shape[d]))
    else:  # repeat: new leading dims, then tiling
        k = len(a["repeats"]) - len(node.input_shape)
        state = shift(state, k)
        in_shape = (1,) * k + tuple(node.input_shape)
        for d, r in enumerate(a["repeats"]):
            if r != 1:
                per_dim[d] = ((), ar.tile_taps(in_shape[d], r))
        return taps_along(state, node.op, node.shape, per_dim, in_shape)
    return taps_along(state, node.op, node.shape, per_dim, node.input_shape)


def _im2col(node: Node, state: NodeField) -> NodeField:
    """``F.unfold``: ``(N, C, H, W) -> (N, C*kh*kw, L)``, L the windows in row-major order."""
    a, rank_in = node.attrs, len(node.input_shape)
    h_dim, w_dim = rank_in - 2, rank_in - 1
    outs = tuple(ar.conv_output_size(node.input_shape[d], k, s, p, dl) for d, k, s, p, dl in zip(
        (h_dim, w_dim), a["kernel_size"], a["stride"], a["padding"], a["dilation"]))
    per_dim: PerDim = {}
    for j, d in enumerate((h_dim, w_dim)):
        k, s, p, dl = a["kernel_size"][j], a["stride"][j], a["padding"][j], a["dilation"][j]
        per_dim[d] = ((ar.conv_rf_layer(k, s, p, dl),),
                      ar.conv_taps(node.input_shape[d], outs[j], k, s, p, dl))
    spatial = list(node.input_shape[:-2]) + list(outs)
    out = taps_along(state, node.op, spatial, per_dim, node.input_shape)
    out = degrade(out, at(out, (rank_in - 3,)), f"{node.op}: an axis in the channel dim")
    l_dim, c_dim = len(node.shape) - 1, len(node.shape) - 2
    axes = list(out.axes)
    for i, ax in enumerate(axes):
        if ax is not None and ax.dim in (h_dim, w_dim):
            coords = tuple(k // outs[1] if ax.dim == h_dim else k % outs[1]
                           for k in range(node.shape[l_dim]))
            axes[i] = AxisPlace(l_dim, ax.size, coords)
        elif ax is not None:
            axes[i] = None
    mixed = {c_dim} | ({l_dim} if out.mixed & {h_dim, w_dim} else set())
    return replace(out, axes=tuple(axes), mixed=frozenset(mixed))


def _layout_view(node: Node, state: NodeField) -> NodeField:
    """A view whose strided layouts were recorded (``as_strided``, ``unfold``...)."""
    located = ar.locate(node.attrs["layout_in"], node.attrs["layout_out"])
    if located is None:
        out = degrade(state, _all(state), f"{node.op}: a strided view convzoo cannot place "
                                          "(whole input)")
        return replace(out, axes=(None,) * len(out.axes), mixed=frozenset())
    return strided(state, node.op, located, node.input_shape, node.shape)


def _indexed_read(node: Node, state: NodeField) -> NodeField:
    op, a = ops.base_name(node.op), node.attrs
    state = as_mixed(state)
    dims = a.get("dims") or tuple(a.get("indexed", ()))
    same_rank = len(node.shape) == len(node.input_shape)
    if op in ("take", "take_along_dim") or len(dims) != 1 or not same_rank:
        out = degrade(state, _all(state), f"{node.op}: {_UNKNOWN_INDEX}")
        return replace(out, axes=(None,) * len(out.axes), mixed=frozenset())
    d = dims[0]
    out = degrade(state, at(state, (d,)), f"{node.op}: {_UNKNOWN_INDEX}")
    out = replace(out, axes=tuple(
        ax._replace(size=node.shape[d], coords=None) if ax is not None and ax.dim == d else ax
        for ax in out.axes))
    if d in state.mixed:
        out = inexact(out, f"{node.op}: picks elements of a dim whose elements depend on "
                           "different inputs")
    per_dim: PerDim = {}  # gather: the other dims keep their first positions
    for e, (i, o) in enumerate(zip(node.input_shape, node.shape)):
        if e != d and o != i:
            per_dim[e] = ((), ar.slice_taps(i, o, 0))
    return _slice_others(out, node, per_dim)


def _slice_others(state: NodeField, node: Node, per_dim: PerDim) -> NodeField:
    if not per_dim:
        return state
    out = taps_along(state, node.op, node.shape, per_dim, node.input_shape)
    if state.mixed & set(per_dim):
        out = inexact(out, f"{node.op}: keeps part of a dim whose elements depend on "
                           "different inputs")
    return out


# ---------------------------------------------------------------------- writes
def _scatter(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    """index_put, scatter, masked_scatter...: the written positions are unknown, so every
    element may hold its old value or any written one (an upper bound)."""
    self_i = _operand(node, "self", "input")
    like = states[node.inputs[0]]
    base = _state(states, self_i, like)
    if self_i is not None:
        base = _broadcast(base, graph.nodes[self_i].shape, node.shape)
    values = [states[i] for i in node.inputs if i != self_i]
    return inexact(_with_whole(base, values), f"{node.op}: writes where {_UNKNOWN_INDEX}")


def _scatter_slice(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    """slice_scatter / select_scatter: ``src`` written over a slice of ``self``."""
    a, shape = node.attrs, node.shape
    base_i, src_i = _operand(node, "self", "input"), _operand(node, "src")
    like = states[node.inputs[0]]
    base = None if base_i is None else states[base_i]
    value = _state(states, src_i, like)
    d = a["dims"][0]
    region = [(0, 1, n) for n in shape]
    if "index" in a:  # select_scatter: src lacks dim d
        region[d] = (a["index"], 1, 1)
        value_dims = tuple(j if j < d else j + 1 for j in range(len(shape) - 1))
    else:
        region[d] = (a["start"], a["step"], len(range(a["start"], a["end"], a["step"])))
        value_dims = tuple(range(len(shape)))
    return write(base, value, node.op, shape, region, value_dims)


def _write_node(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    """A tensor read after a write through an alias (see ``convzoo.analysis.writes``)."""
    a = node.attrs
    value = states[a["value"]]
    base = None if a["base"] is None else states[a["base"]]
    value_shape = graph.nodes[a["value"]].shape
    if a["kind"] == "region":
        return write(base, value, node.op, node.shape, a["region"], a["value_dims"])
    if a["kind"] == "view":
        return strided(value, node.op, a["located"], value_shape, node.shape)
    like = base if base is not None else dead(value)
    out = _with_whole(like, [value])
    return inexact(out, f"{node.op}: a write through an alias overlapping the read tensor in "
                        "a way convzoo does not model (upper bound)")


def _copy(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    src = _operand(node, "src")
    if src is None:
        return dead(states[node.inputs[0]])
    return _broadcast(states[src], graph.nodes[src].shape, node.shape)


def _constant(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    """zeros_like, fill_, zero_...: a constant, or the one value of ``fill_(tensor)``."""
    like = states[node.inputs[0]]
    value = _operand(node, "value")
    if value is None or ops.base_name(node.op) != "fill":
        return dead(like)
    v = states[value]
    return replace(dead(like), fields=tuple(
        replace(f, spans=(whole_span(v, a),)) for a, f in enumerate(v.fields)),
        is_global=v.is_global, exact=v.exact, notes=v.notes)


def _masked(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    """masked_fill and where: which elements keep which operand depends on the mask's
    values; a mask computed from the input is like an activation (the dependency is
    structural), a constant mask cuts positions unknown on meta tensors."""
    op = ops.base_name(node.op)
    found = node.attrs.get("operands", {})
    mask = found.get("mask") if op == "masked_fill" else found.get("condition")
    values = [found.get(k) for k in ("self", "input", "other", "value") if k in found]
    out = _pointwise(node, graph, states, [*values, mask])
    if mask is not None:
        return out
    if op == "where" and len(values) == 2 and None not in values and (
            states[values[0]].fields == states[values[1]].fields
            and states[values[0]].axes == states[values[1]].axes):
        return out  # both branches see the same: which one is read does not matter
    return inexact(out, f"{node.op}: a mask that does not depend on the input keeps or cuts "
                        "positions unknown on meta tensors (upper bound)")


# ---------------------------------------------------------------------- mixing ops
def _contract(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    """Matrix products: axes on the contracted dim of either operand become global; the
    rows of ``a`` and the columns of ``b`` meet in every output element."""
    operands = []
    for role, index in enumerate(node.attrs["operands"]):
        if index is None:
            continue
        state, rank = states[index], len(graph.nodes[index].shape)
        contracted = rank - 1 if role == 0 else rank - 2
        state = mix(state, at(state, (contracted,)), remove=True)
        operands.append((replace(state, mixed=state.mixed - {contracted}, parts=tuple(
            (d, p) for d, p in state.parts if d != contracted)), graph.nodes[index].shape))
    bias = node.attrs.get("bias")
    if bias is not None:
        operands.append((_broadcast(states[bias], graph.nodes[bias].shape, node.shape),
                         node.shape))
    if not operands:
        return dead(states[node.inputs[0]])
    rank = len(node.shape)
    shapes = [list(s) for _, s in operands]
    for s in shapes[:2]:  # the contracted dims take the output's sizes
        s[-2:] = node.shape[-2:]
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    return merge([shift(s, rank - len(sh)) for (s, sh) in operands], padded, node.shape)


def _attention(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    """Every query position reads every key and value position."""
    found = node.attrs.get("operands", {})
    q_i = found.get("query")
    rank = len(node.shape)
    if q_i is None:
        return degrade(states[node.inputs[0]], _all(states[node.inputs[0]]),
                       f"{node.op}: attention without the query traced")
    q = states[q_i]
    q = mix(q, at(q, (len(graph.nodes[q_i].shape) - 1,)), remove=True)
    others = [states[i] for i in node.inputs if i != q_i]
    out = _with_whole(q, [mix(o, _all(o)) for o in others])
    out = replace(out, mixed=frozenset(d for d in out.mixed if d < rank - 1))
    if node.attrs.get("is_causal") or (node.attrs.get("masked") and found.get("attn_mask")
                                       is None):
        out = inexact(out, f"{node.op}: a causal or constant attention mask cuts positions "
                           "(upper bound)")
    return out


def _reduce(node: Node, state: NodeField) -> NodeField:
    a = node.attrs
    out = mix(state, at(state, a["dims"]), remove=not a["keepdim"])
    out = replace(out, mixed=out.mixed - set(a["dims"]), axes=tuple(
        AxisPlace(ax.dim, 1) if ax is not None and ax.dim in a["dims"] else ax
        for ax in out.axes))
    if not a["keepdim"]:
        dims = a["dims"]
        out = remap(out, {p: (None if p in dims else p - sum(d < p for d in dims))
                          for p in range(len(node.input_shape))})
    return out


def _normalize(node: Node, state: NodeField) -> NodeField:
    a = node.attrs
    if a.get("count") == 1:
        # a softmax or normalization over one element is a constant (1, or the norm's bias)
        return dead(mix(state, at(state, a["dims"])))
    out = mix(state, at(state, a["dims"]))
    return replace(out, mixed=out.mixed - set(a["dims"]),
                   parts=tuple((d, p) for d, p in out.parts if d not in a["dims"]))


def _cat(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    rank = len(node.shape)
    dim = node.attrs.get("dim", 0) % rank if rank else 0
    parts = node.attrs.get("parts", ())
    like = states[node.inputs[0]]
    if node.op == "stack":
        parts_states = [remap(_state(states, i, like), {p: p + (p >= dim) for p in range(rank)})
                        for i, _ in parts]
        return merge(parts_states, [node.shape] * len(parts_states), node.shape, dim)
    return _concat(node, dim, [(_state(states, i, like), size) for i, size in parts])


def _concat(node: Node, dim: int, parts: Sequence[tuple[NodeField, int]]) -> NodeField:
    """Concatenation along ``dim``: an axis living there gets the parts' spans one after
    another (a part without it contributes positions outside the axis, e.g. a class
    token); elsewhere the parts are united, and ``dim`` becomes mixed if they differ."""
    states = [s for s, _ in parts]
    shapes = []
    for _, size in parts:
        shape = list(node.shape)
        shape[dim] = size
        shapes.append(shape)
    here = [any(s.axes[a] is not None and s.axes[a].dim == dim for s in states)
            for a in range(len(states[0].axes))]
    # the axes living along dim are concatenated below; the others are united, and dim is
    # mixed when the parts differ in them
    others = [replace(s, axes=tuple(None if h else ax for h, ax in zip(here, s.axes)),
                      fields=tuple(replace(f, spans=(None,)) if h else f
                                   for h, f in zip(here, s.fields))) for s in states]
    differ = len({(tuple(f.spans for f in s.fields), s.axes) for s in others}) > 1
    out = merge(others, shapes, node.shape, dim, differ)
    fields, axes, foreign, hit = list(out.fields), list(out.axes), list(out.foreign), []
    for a in range(len(fields)):
        places = [s.axes[a] for s in states]
        if not here[a]:
            hit.append(False)
            continue
        spans, coords, extra, bad = [], [], [], False
        shared = next((p for p in places if p is not None and p.dim == dim
                       and p.coords is not None), None)
        for s, (_, size), p in zip(states, parts, places):
            if p is not None and p.dim == dim and p.coords is None and shared is None:
                spans.extend(ar.broadcast_spans(s.fields[a].spans, size))
            elif p is not None and p.dim == dim and p is shared:
                coords.extend(p.coords)
                spans = list(s.fields[a].spans)
                extra.append(s.foreign_of(a))
            elif p is not None and p.dim == dim:
                bad = True  # two parts with their own coordinates
            else:  # a part without the axis here: positions outside the axis
                part = whole_span(s, a) if p is not None or len(s.fields[a].spans) > 1 else (
                    s.fields[a].spans[0] if s.fields[a].spans else None)
                if shared is None:
                    spans.extend([part] * size)
                else:
                    coords.extend([-1] * size)
                    extra.append(part)
        hit.append(bad)
        if bad:
            continue
        winner, _ = ar.largest(s.fields[a] for s in states)
        fields[a] = replace(winner, spans=fields[a].spans)
        if shared is None:
            fields[a] = replace(fields[a], spans=tuple(spans))
            axes[a] = AxisPlace(dim, node.shape[dim])
            foreign[a] = None
        else:
            fields[a] = replace(fields[a], spans=tuple(spans))
            axes[a] = AxisPlace(dim, shared.size, tuple(coords))
            foreign[a] = ar.union_span(extra)
    out = replace(out, fields=tuple(fields), axes=tuple(axes), foreign=tuple(foreign))
    out = _constant_parts(out, dim, parts, here)
    return degrade(out, hit, f"{node.op}: concatenates parts that each flatten the axis")


def _constant_parts(out: NodeField, dim: int, parts: Sequence[tuple[NodeField, int]],
                    here: Sequence[bool]) -> NodeField:
    """A concat of alike parts and constants along a dim holding no axis (padding
    channels with zeros): the live indices are known, the dim is not mixed."""
    if any(here):
        return out
    dead_part = [all(f.spans == (None,) for f in s.fields) for s, _ in parts]
    live = [s for (s, _), d in zip(parts, dead_part) if not d]
    if not live or not any(dead_part) or any(s.mixed or s.parts for s in live) or len(
            {(tuple(f.spans for f in s.fields), s.axes) for s in live}) > 1:
        return out
    indices, start = set(), 0
    for (_, size), d in zip(parts, dead_part):
        if not d:
            indices.update(range(start, start + size))
        start += size
    return replace(out, mixed=out.mixed - {dim}, parts=((dim, frozenset(indices)),))


# ---------------------------------------------------------------------- dispatch
def _view(node: Node, state: NodeField) -> NodeField | None:
    """Permutes, reshapes, squeezes, broadcasts and copies (None: not one of those)."""
    op, a = node.op, node.attrs
    if op == "permute":
        return remap(state, {p: a["dims"].index(p) for p in range(len(a["dims"]))})
    if op in ("transpose", "t"):
        d0, d1 = a.get("dims", (0, 1))
        return remap(state, {d0: d1, d1: d0})
    if op == "unsqueeze":
        d = a["dims"][0]
        return remap(state, {p: p + (p >= d) for p in range(len(node.input_shape))})
    if op == "squeeze":
        gone = [d for d in a["dims"] if node.input_shape[d] == 1]
        return remap(state, {p: None if p in gone else p - sum(g < p for g in gone)
                             for p in range(len(node.input_shape))})
    if op in ops.RESHAPES:
        return reshape(state, op, node.input_shape, node.shape)
    if op in ("expand", "expand_as"):
        return _broadcast(state, node.input_shape, node.shape)
    if op in ops.PASS_THROUGH:
        return shift(state, len(node.shape) - len(node.input_shape))
    return None


def _step(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:  # noqa: C901
    op, cat, a = node.op, node.category, node.attrs
    base = ops.base_name(op)
    state = states[node.inputs[0]]
    if op == ops.WRITE:
        return _write_node(node, graph, states)
    if base in ("copy",):
        return _copy(node, graph, states)
    if base in ops.NO_DEPENDENCY:
        return _constant(node, graph, states)
    if cat == "linear":
        return _contract(node, graph, states)
    if cat == "attention":
        return _attention(node, graph, states)
    if base in ("masked_fill", "where"):
        return _masked(node, graph, states)
    if base in ("slice_scatter", "select_scatter"):
        return _scatter_slice(node, graph, states)
    if base in ops.SCATTERS or base == "as_strided_scatter":
        return _scatter(node, graph, states)
    if op in ("cat", "stack"):
        return _cat(node, graph, states)
    if cat == "conv":
        return _conv_node(node, graph, states)
    if a.get("constant_operand") and cat in ("merge", "elementwise") and op not in ("cat",
                                                                                  "stack"):
        return inexact(_step_merge(node, graph, states, state),
                       f"{op}: with a constant tensor made in forward (an attention mask of "
                       "-inf or zeros would cut positions; upper bound)")
    return _step_merge(node, graph, states, state)


def _step_merge(node: Node, graph: Graph, states: Sequence[NodeField], state: NodeField
                ) -> NodeField:  # noqa: C901 - the rest of the op table
    op, cat, a = node.op, node.category, node.attrs
    base = ops.base_name(op)
    if len(node.inputs) > 1:  # other ops of several inputs: united position by position
        state = _pointwise(node, graph, states, list(node.inputs))
        if base in ("mul", "div", "addcmul", "addcdiv") and _gated(node, graph, states, state):
            state = inexact(state, f"{op}: a product with a constant region (a zero there "
                                   "would cut the other operand; upper bound)")
        if cat == "merge" or cat == "elementwise":
            return state
    if a.get("constant_result"):  # x * 0, x / inf, x ** 0: known whatever x holds
        return dead(state)
    if cat in ("pool", "adaptive_pool", "upsample", "pixel_shuffle", "pixel_unshuffle", "pad"):
        return _resample(node, state, graph.dtype)
    if base in ops.SPLITS:
        return _select(node, state) if "index" in a else _slice(node, state)
    if op == "slice":
        return _slice(node, state)
    if op == "select":
        return _select(node, state)
    if base in ("roll", "flip", "repeat"):
        return _roll_flip_repeat(node, state)
    if base == "im2col":
        return _im2col(node, state)
    if base in ops.INDEXED_READS:
        return _indexed_read(node, state)
    if cat == "channel_shuffle" and op != "transpose":
        return taps_along(state, op, node.shape, {1: ((), ar.shuffle_taps(
            node.input_shape[1], a["groups"]))}, node.input_shape)
    moved = _view(node, state)
    if moved is not None:
        return moved
    if "layout_in" in a:
        return _layout_view(node, state)
    if cat == "reduce":
        return _reduce(node, state)
    if cat in ("norm", "activation") and "dims" in a:
        return _normalize(node, state)
    if cat in ("elementwise", "activation", "norm", "merge"):
        return state if tuple(node.shape) == tuple(node.input_shape) else _broadcast(
            state, node.input_shape, node.shape)
    out = degrade(state, _all(state), f"{op}: unknown op, field taken as the whole input")
    if tuple(node.shape) != tuple(node.input_shape):
        out = replace(out, axes=(None,) * len(out.axes), mixed=frozenset())
    return out


def step(node: Node, graph: Graph, states: Sequence[NodeField]) -> NodeField:
    """The state of ``node`` from the states of the nodes before it. Never raises: a rule
    failing on a pattern it does not handle gives the whole input, not exact."""
    try:
        out = _step(node, graph, states)
    except Exception as e:  # noqa: BLE001 - an unmodelled pattern must not stop the analysis
        like = states[node.inputs[0]] if node.inputs else states[0]
        out = degrade(like, _all(like), f"{node.op}: not modelled here ({type(e).__name__}), "
                                        "field taken as the whole input")
        out = replace(out, axes=(None,) * len(out.axes), mixed=frozenset())
    return normalize(out, node.op, node.shape)
