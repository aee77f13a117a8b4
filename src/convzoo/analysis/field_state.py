"""The receptive-field state of one tensor of a traced graph, and the moves every rule is
made of (taps along dims, reshapes, merges, writes, mixing a whole axis).

For each spatial axis ``a`` of the model input the state says where that axis lives in the
tensor (:class:`AxisPlace`) and the exact span of every coordinate along it
(``fields[a].spans``). The claim behind ``exact`` is about *marginals*: the span of
coordinate ``u`` is the bounding interval, along axis ``a`` of the input, of everything the
tensor's elements at coordinate ``u`` depend on (the union over all their other indices).
``mixed`` lists the tensor dims along which elements at one coordinate may depend on
different inputs (the channels of a concat, the window dim of an ``unfold``); an op that
keeps only part of such a dim (a slice, a strided conv skipping positions) then makes the
state inexact instead of wrong.

A place is *plain* (the dim's index is the coordinate) or holds ``coords``: the coordinate
of every index along the dim, ``-1`` for elements outside the axis (a class token), whose
span is ``foreign[a]``. Coords arise where several axes share a dim (tokens of a flattened
image); a dim holding one axis is always re-based to a plain one (:func:`normalize`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from convzoo import arithmetic as ar
from convzoo.arithmetic import ReceptiveField, RFLayer

__all__ = [
    "AxisPlace", "NodeField", "inexact", "whole_span", "mix", "degrade", "dead", "at",
    "remap", "shift", "taps_along", "reshape", "merge", "write", "strided", "normalize",
    "start_state",
]

Span = ar.Span


class AxisPlace(NamedTuple):
    """Where an input spatial axis lives in a tensor of the graph."""

    dim: int  #: the tensor dim holding it
    size: int  #: its number of coordinates
    coords: tuple[int, ...] | None = None  #: per index of the dim (None: index = coordinate)

    def coordinate(self, index: int) -> int:
        """The coordinate at ``index`` along the dim (-1: an element outside the axis)."""
        return index if self.coords is None else self.coords[index]


#: An axis's place, or None once an op removed it (then one span stands for every element).
Axis = AxisPlace | None
#: Per tensor dim, the algebra layers and the taps of an op along it (taps None: identity).
PerDim = dict[int, tuple[Sequence[RFLayer], ar.Taps | None]]


@dataclass(frozen=True)
class NodeField:
    """Receptive field state of one node.

    Attributes:
        fields: one ReceptiveField per spatial axis of the model input; ``fields[a].spans``
            holds the exact span of every coordinate along that axis.
        axes: where each input axis lives in this node's output, or None once removed.
        is_global: per axis, whether every position sees the whole input (the union of all
            spans) after an op mixing the axis (reduction, norm over space, softmax or
            attention over positions, flatten into a matrix product, an unknown op).
        aligned: False when a merge upstream combined branches with different centres or
            strides (algebra centres).
        exact: True when every span is exact; False when an op was over-approximated (see
            :attr:`notes`).
        notes: why the spans are not exact.
        foreign: per axis, the span of the elements of its dim outside the axis (a class
            token), None when there are none or they depend on no input.
        mixed: dims along which elements at one coordinate may depend on different inputs.
        other_input: True for a tensor computed from further model inputs only: it depends
            on no position of the first input, yet is no constant (a product with it does
            not cut positions).
        parts: ``(dim, indices)`` for dims holding no axis of which only ``indices`` hold
            elements that depend on the input, all alike (the others are constants: the
            channels or batch entries of a canvas written so far).
    """

    fields: tuple[ReceptiveField, ...]
    axes: tuple[Axis, ...]
    is_global: tuple[bool, ...]
    aligned: bool = True
    exact: bool = True
    notes: tuple[str, ...] = ()
    foreign: tuple[Span, ...] = ()
    mixed: frozenset[int] = frozenset()
    other_input: bool = False
    parts: tuple[tuple[int, frozenset[int]], ...] = ()

    def part(self, d: int) -> frozenset[int] | None:
        """The indices along ``d`` holding live elements (None: every index)."""
        return next((s for dim, s in self.parts if dim == d), None)

    def foreign_of(self, a: int) -> Span:
        """``foreign[a]`` (None when unset)."""
        return self.foreign[a] if a < len(self.foreign) else None


def start_state(shape: Sequence[int], dims: Sequence[int]) -> NodeField:
    """The model input: each followed dim is its own axis, every position sees itself."""
    return NodeField(
        tuple(ReceptiveField(spans=ar.identity_spans(shape[d])) for d in dims),
        tuple(AxisPlace(d, shape[d]) for d in dims),
        (False,) * len(dims),
    )


def inexact(state: NodeField, note: str) -> NodeField:
    """``state`` flagged not exact, with ``note`` saying why."""
    return replace(state, exact=False, notes=tuple(dict.fromkeys((*state.notes, note))))


def whole_span(state: NodeField, a: int) -> Span:
    """Everything that reaches axis ``a`` of ``state``: the union of all its spans."""
    return ar.union_span([*state.fields[a].spans, state.foreign_of(a)])


def _foreign(state: NodeField) -> list[Span]:
    return [state.foreign_of(a) for a in range(len(state.fields))]


def _whole(state: NodeField, a: int, size: int) -> ReceptiveField:
    """The algebra's stride-0 window of the whole axis, and one span, the union of all."""
    widened = ar.compose(state.fields[a], RFLayer(max(size, 1), 0, 0))
    return replace(widened, spans=(whole_span(state, a),))


def mix(state: NodeField, hit: Sequence[bool], remove: bool = False) -> NodeField:
    """Make the axes whose ``hit`` entry is True global (and drop them when ``remove``)."""
    fields, axes, glob = list(state.fields), list(state.axes), list(state.is_global)
    foreign = _foreign(state)
    for a, yes in enumerate(hit):
        if yes and axes[a] is not None:
            fields[a] = _whole(state, a, axes[a].size)
            foreign[a] = fields[a].spans[0] if axes[a].coords is not None else None
            glob[a] = True
            if remove:
                axes[a] = None
    return replace(state, fields=tuple(fields), axes=tuple(axes), is_global=tuple(glob),
                   foreign=tuple(foreign))


def degrade(state: NodeField, hit: Sequence[bool], note: str) -> NodeField:
    """Unknown to the rules: the axes hit see the whole input, the state is not exact."""
    if not any(hit):
        return state
    fields, glob, foreign = list(state.fields), list(state.is_global), _foreign(state)
    for a, yes in enumerate(hit):
        if yes:
            size = state.axes[a].size if state.axes[a] is not None else 1
            fields[a] = _whole(state, a, size)
            foreign[a] = fields[a].spans[0]
            glob[a] = True
    return inexact(replace(state, fields=tuple(fields), is_global=tuple(glob),
                           foreign=tuple(foreign)), note)


def dead(state: NodeField) -> NodeField:
    """A constant: it depends on no input (every span None, exactly so: an upper bound of
    nothing is nothing)."""
    n = len(state.fields)
    return replace(state, fields=tuple(replace(f, spans=(None,)) for f in state.fields),
                   axes=(None,) * n, foreign=(None,) * n, mixed=frozenset(), other_input=False,
                   parts=(), exact=True, notes=())


def as_mixed(state: NodeField) -> NodeField:
    """Forget which indices of a partly constant dim are live: the dim becomes mixed (an
    upper bound every rule handles)."""
    if not state.parts:
        return state
    return replace(state, mixed=state.mixed | {d for d, _ in state.parts}, parts=())


def with_parts(state: NodeField, parts: dict[int, frozenset[int]]) -> NodeField:
    """``state`` with ``parts`` (an empty index set: every element is a constant)."""
    if any(not indices for indices in parts.values()):
        return dead(state)
    return replace(state, parts=tuple(sorted(parts.items())))


def at(state: NodeField, dims: Sequence[int]) -> list[bool]:
    """Per axis: whether it lives at one of ``dims``."""
    return [ax is not None and ax.dim in dims for ax in state.axes]


def remap(state: NodeField, mapping: dict[int, int | None]) -> NodeField:
    """Move dims (``None``: removed; an axis there loses its place, keeping its spans)."""
    axes = []
    for ax in state.axes:
        if ax is None or ax.dim not in mapping:
            axes.append(ax)
        else:
            target = mapping[ax.dim]
            axes.append(None if target is None else ax._replace(dim=target))
    mixed = {mapping.get(d, d) for d in state.mixed}
    parts = tuple((mapping.get(d, d), s) for d, s in state.parts if mapping.get(d, d) is not None)
    return replace(state, axes=tuple(axes), mixed=frozenset(d for d in mixed if d is not None),
                   parts=parts)


def shift(state: NodeField, k: int) -> NodeField:
    """``k`` new leading dims (broadcasting)."""
    if not k:
        return state
    return remap(state, {d: d + k for d in (*[a.dim for a in state.axes if a], *state.mixed,
                                            *(d for d, _ in state.parts))})


def _covers(taps: ar.Taps, size: int) -> bool:
    return {v for t in taps for v in t} >= set(range(size))


def taps_along(state: NodeField, op: str, shape: Sequence[int], per_dim: PerDim,
               in_shape: Sequence[int]) -> NodeField:
    """Compose layers and taps on the axes living at the given dims (output ``shape``)."""
    fields, axes = list(state.fields), list(state.axes)
    hit, skipped = [False] * len(axes), False
    for a, ax in enumerate(axes):
        if ax is None or ax.dim not in per_dim:
            continue
        layers, taps = per_dim[ax.dim]
        if ax.coords is not None:  # a dim holding several axes: only a reindexing keeps them
            if taps is not None and all(len(t) == 1 for t in taps):
                axes[a] = ax._replace(coords=tuple(ax.coords[t[0]] for t in taps))
            elif taps is not None:
                hit[a] = True
            continue
        f = ar.chain(layers, fields[a])
        spans = fields[a].spans if taps is None else ar.compose_spans(fields[a].spans, taps)
        fields[a] = replace(f, spans=spans)
        axes[a] = AxisPlace(ax.dim, shape[ax.dim])
    for d in state.mixed & set(per_dim):
        taps = per_dim[d][1]
        if taps is not None and not _covers(taps, in_shape[d]):
            skipped = True
    parts = dict(state.parts)
    for d, live in state.parts:
        taps = per_dim.get(d, (None, None))[1]
        if taps is not None:  # an output index is live where it reads a live one
            parts[d] = frozenset(o for o, t in enumerate(taps) if live & set(t))
        if d in parts and len(parts[d]) == shape[d]:
            del parts[d]
    out = with_parts(replace(state, fields=tuple(fields), axes=tuple(axes)), parts)
    out = degrade(out, hit, f"{op}: a window along a dim holding several axes")
    if skipped:
        out = inexact(out, f"{op}: keeps part of a dim whose elements depend on different "
                           "inputs (channels are not tracked)")
    return out


def _after(shape: Sequence[int], q: int) -> int:
    return math.prod(shape[q + 1:])


def _container(src: Sequence[int], dst: Sequence[int], p: int) -> int | None:
    """The dst dim holding every element stride of src dim ``p`` (None: ``p`` is split)."""
    e, n = _after(src, p), src[p]
    if n == 1:
        same = [q for q in range(len(dst)) if dst[q] == 1 and _after(dst, q) == e]
        return same[0] if same else None
    for q in range(len(dst)):
        a = _after(dst, q)
        if a <= e and e % a == 0 and e * n <= a * dst[q] and (a * dst[q]) % (e * n) == 0:
            return q
    return None


def reshape(state: NodeField, op: str, src: Sequence[int], dst: Sequence[int]) -> NodeField:
    """Follow each axis through a reshape (row-major element order kept): a dim holding
    several axes keeps each one's coordinate per index, a split into windows keeps the
    outer dim (the window dims become mixed).

    >>> s = start_state((1, 1, 2, 3), (2, 3))
    >>> tokens = reshape(s, "flatten", (1, 1, 2, 3), (1, 1, 6))
    >>> tokens.axes[0].coords, tokens.axes[1].coords
    ((0, 0, 0, 1, 1, 1), (0, 1, 2, 0, 1, 2))
    >>> image = reshape(tokens, "view", (1, 1, 6), (1, 1, 2, 3))
    >>> normalize(image, "view", (1, 1, 2, 3)).axes == s.axes  # plain dims again
    True
    """
    if tuple(src) == tuple(dst):
        return state
    state = as_mixed(state)
    fields, axes = list(state.fields), list(state.axes)
    split, mixed = [False] * len(axes), set()
    ones = _size_one_places(state, src, dst)
    for a, ax in enumerate(state.axes):
        if ax is None:
            continue
        q = _container(src, dst, ax.dim)
        e, n = _after(src, ax.dim), src[ax.dim]
        if n == 1:
            axes[a] = None if ones.get(a) is None else ax._replace(dim=ones[a])
            continue
        own = _own_dim(ax, src, dst)
        if own is not None:  # the coordinate runs along one of the new dims only
            axes[a] = own
            continue
        if q is not None:
            if dst[q] == n and _after(dst, q) == e:
                axes[a] = ax._replace(dim=q)
            else:
                coords = tuple(ax.coordinate((j * _after(dst, q) // e) % n)
                               for j in range(dst[q]))
                axes[a] = AxisPlace(q, ax.size, coords)
            continue
        covering = [q for q in range(len(dst)) if dst[q] > 1 and e <= _after(dst, q) < e * n]
        if (ax.coords is None and covering and math.prod(dst[q] for q in covering) == n
                and covering == list(range(covering[0], covering[-1] + 1))):
            outer, m = covering[0], _after(dst, covering[0]) // e  # m inputs per outer index
            spans = fields[a].spans
            if len(spans) > 1:
                spans = tuple(ar.union_span(spans[i * m:(i + 1) * m]) for i in range(dst[outer]))
            fields[a] = replace(ar.compose(fields[a], RFLayer(m, m, 0)), spans=spans)
            axes[a] = AxisPlace(outer, dst[outer])
            mixed.update(covering[1:])
        else:
            split[a] = True  # mixed below, at its old place, then dropped
    merged_mixed = False
    for d in state.mixed:
        q = _container(src, dst, d)
        if q is not None:
            mixed.add(q)
            merged_mixed |= dst[q] != src[d] and any(ax is not None and ax.dim == q
                                                     for ax in axes)
        else:
            e = _after(src, d)
            mixed.update(q for q in range(len(dst)) if e <= _after(dst, q) * dst[q]
                         and _after(dst, q) < e * src[d])
    out = replace(state, fields=tuple(fields), axes=tuple(axes), mixed=frozenset(mixed))
    out = mix(out, split, remove=True)
    if any(split):
        out = inexact(out, f"{op}: reshape splits an axis (field taken as the whole input)")
    if merged_mixed:
        out = inexact(out, f"{op}: reshape merges a dim whose elements depend on different "
                           "inputs into an axis")
    return out


def _size_one_places(state: NodeField, src: Sequence[int], dst: Sequence[int]
                     ) -> dict[int, int | None]:
    """Axes living in size-1 dims: strides cannot tell those dims apart, so each run of
    size-1 dims at one element stride is matched with the reshaped one's in order (axes
    left over share the last of them; with none left the axis has no place: one span for
    every element)."""
    out: dict[int, int | None] = {}
    for e in {_after(src, r) for r in range(len(src)) if src[r] == 1}:
        items: list[int | None] = []  # an axis index, or None for a dim holding none
        for r in range(len(src)):
            if src[r] == 1 and _after(src, r) == e:
                here = [a for a, ax in enumerate(state.axes) if ax is not None and ax.dim == r]
                items.extend(here or [None])
        slots = [q for q in range(len(dst)) if dst[q] == 1 and _after(dst, q) == e]
        for i, item in enumerate(items):
            if item is not None:  # more dims than slots: merged into the last one (sound)
                out[item] = slots[min(i, len(slots) - 1)] if slots else None
    return out


def _own_dim(ax: AxisPlace, src: Sequence[int], dst: Sequence[int]) -> Axis:
    """For an axis sharing its dim with others (coords), when the reshape splits or
    regroups that dim: a new dim whose index alone gives the coordinate (an unflatten of
    tokens back to rows and columns), one giving it one-to-one preferred; None if none."""
    if ax.coords is None:
        return None
    e, n = _after(src, ax.dim), src[ax.dim]
    kept = {_after(src, r) for r in range(len(src)) if src[r] == 1 and r != ax.dim}
    best = None
    for q in range(len(dst)):
        a = _after(dst, q)
        if a < e or a % e or a * dst[q] > e * n or (dst[q] == 1 and a in kept):
            continue  # outside the dim's elements, or a size-1 dim the input had already
        coords: dict[int, int] = {}
        for j, c in enumerate(ax.coords):
            if coords.setdefault((j * e // a) % dst[q], c) != c:
                break
        else:
            if len(coords) == dst[q]:
                place = AxisPlace(q, ax.size, tuple(coords[i] for i in range(dst[q])))
                if len(set(coords.values())) == len(coords):
                    return place
                best = best or place
    return best


def _place_equal(p: Axis, q: Axis) -> bool:
    return p == q


def merge(states: Sequence[NodeField], shapes: Sequence[Sequence[int]], out: Sequence[int],
          cat_dim: int | None = None, differ: bool | None = None) -> NodeField:
    """Elements combined position by position (``cat_dim``: the parts sit one after another
    along that dim instead; states already broadcast to the output's rank).

    Operands holding an axis at the same place unite their spans coordinate by coordinate;
    an operand holding it elsewhere adds all its spans (its elements at one coordinate here
    run over all of its own), and its dim becomes ``mixed``.

    >>> x = start_state((1, 1, 3), (2,))
    >>> flipped = taps_along(x, "flip", (1, 1, 3), {2: ((), ((2,), (1,), (0,)))}, (1, 1, 3))
    >>> merge([x, flipped], [(1, 1, 3)] * 2, (1, 1, 3)).fields[0].spans
    ((0, 2), (1, 1), (0, 2))
    """
    if len(states) == 1 and cat_dim is None:
        return states[0]
    states = [as_mixed(s) for s in states]
    n = len(states[0].fields)
    fields, axes, glob, foreign = [], [], [], []
    mixed: set[int] = set().union(*(s.mixed for s in states))
    aligned = all(s.aligned for s in states)
    if differ is None:
        differ = len({(tuple(f.spans for f in s.fields), s.axes) for s in states}) > 1
    for a in range(n):
        entries = []
        for s, shape in zip(states, shapes):
            p = s.axes[a]
            if p is not None and (p.dim >= len(shape) or (shape[p.dim] == 1 and out[p.dim] != 1)):
                entries.append((None, (whole_span(s, a),), s.foreign_of(a)))  # broadcast
            else:
                entries.append((p, s.fields[a].spans, s.foreign_of(a)))
        winner, _ = ar.largest(s.fields[a] for s in states)
        local = [s.fields[a] for s in states if not s.is_global[a]]
        aligned = aligned and (len(local) < 2 or ar.largest(local)[1])
        lead = next((p for p, spans, _ in entries if p is not None and len(spans) > 1),
                    next((p for p, _, _ in entries if p is not None), None))
        same = [e for e in entries if e[0] is None or _place_equal(e[0], lead)]
        others = [e for e in entries if not (e[0] is None or _place_equal(e[0], lead))]
        extra = ar.union_span([ar.union_span([*spans, f]) for _, spans, f in others])
        mixed.update(p.dim for p, _, _ in others if p is not None)
        spans = ar.union_spans([spans for _, spans, _ in same])
        if extra is not None:
            spans = tuple(ar.union_span([s, extra]) for s in spans)
        # liveness: an element dead in one operand and live in another makes the marginals
        # of the other axes depend on where it sits
        if differ and any(None in spans for _, spans, _ in entries) and lead is not None:
            mixed.add(lead.dim)
        fields.append(replace(winner, spans=spans))
        axes.append(lead)
        glob.append(any(s.is_global[a] for s in states))
        foreign.append(ar.union_span([f for _, _, f in entries] + [extra]))
    if cat_dim is not None and differ:
        mixed.add(cat_dim)
    if cat_dim is None and any(_dominates(s, fields, axes) for s in states):
        mixed = set()  # every element reads what that operand's elements read: uniform
    notes = tuple(dict.fromkeys(m for s in states for m in s.notes))
    return NodeField(tuple(fields), tuple(axes), tuple(glob), aligned,
                     all(s.exact for s in states), notes, tuple(foreign), frozenset(mixed),
                     all(s.other_input for s in states))


def _dominates(s: NodeField, fields: Sequence[ReceptiveField], axes: Sequence[Axis]) -> bool:
    """``s`` is uniform, live everywhere and holds the union's spans: each element of a
    position-wise union then reads exactly what ``s``'s element reads."""
    return (not s.mixed and all(f.spans is not None and None not in f.spans for f in s.fields)
            and all(f.spans == g.spans for f, g in zip(s.fields, fields))
            and tuple(s.axes) == tuple(axes) and not any(s.foreign))


def strided(state: NodeField, op: str, located: ar.Located, in_shape: Sequence[int],
            out_shape: Sequence[int]) -> NodeField:
    """A strided view of ``state``'s tensor (``as_strided``, ``unfold``, a region read):
    each output dim walks one input dim; several output dims walking the same input dim
    are windows (the first the position, the others ``mixed``)."""
    state = as_mixed(state)
    fields, axes, hit = list(state.fields), list(state.axes), [False] * len(state.axes)
    walk: dict[int, list[int]] = {}
    for j, d in enumerate(located.dims):
        if d is not None and out_shape[j] > 1:
            walk.setdefault(d, []).append(j)
    mixed: set[int] = set()
    partial = False
    for d in range(len(in_shape)):
        js = walk.get(d, [])
        extents = [(out_shape[j], located.steps[j]) for j in js[1:]]
        if js:
            taps = ar.window_taps(out_shape[js[0]], located.start[d], located.steps[js[0]],
                                  extents)
        else:
            taps = ((located.start[d],),)
        covered = _covers(taps, in_shape[d])
        if d in state.mixed:
            mixed.update(js)
            partial |= not covered
        for a, ax in enumerate(state.axes):
            if ax is None or ax.dim != d:
                continue
            if ax.coords is not None and not (covered and len(js) == 1 and taps == tuple(
                    (i,) for i in range(in_shape[d]))):
                hit[a] = True
                continue
            if ax.coords is not None:  # walked whole, in order: the place moves
                axes[a] = ax._replace(dim=js[0])
                continue
            width = sum((size - 1) * step for size, step in extents) + 1
            layer = RFLayer(width, located.steps[js[0]] if js else 1, -located.start[d])
            spans = ar.compose_spans(fields[a].spans, taps)
            fields[a] = replace(ar.compose(fields[a], layer), spans=spans)
            if js:
                axes[a] = AxisPlace(js[0], out_shape[js[0]])
                mixed.update(js[1:])
            else:  # a single index: the axis is gone, one span for every element
                axes[a] = None
    out = replace(state, fields=tuple(fields), axes=tuple(axes), mixed=frozenset(mixed))
    out = degrade(out, hit, f"{op}: a strided view of a dim holding several axes")
    if partial:
        out = inexact(out, f"{op}: keeps part of a dim whose elements depend on different "
                           "inputs")
    return out


def write(base: NodeField | None, value: NodeField, op: str, shape: Sequence[int],
          region: Sequence[tuple[int, int, int]], value_dims: Sequence[int | None]) -> NodeField:
    """``value`` written over ``region`` (``(start, step, count)`` per dim) of ``base``
    (None: a constant); ``value_dims[j]``: the dim of the result value dim ``j`` runs
    along (None for a size-1 dim).

    >>> x = start_state((1, 1, 1, 4), (2, 3))  # y = zeros; y[..., 1:] = x[..., :3]
    >>> shifted = taps_along(x, "slice", (1, 1, 1, 3), {3: ((), ((0,), (1,), (2,)))},
    ...                      (1, 1, 1, 4))
    >>> y = write(None, shifted, "copy_", (1, 1, 1, 4), ((0, 1, 1),) * 3 + ((1, 1, 3),),
    ...           (0, 1, 2, 3))
    >>> y.fields[1].spans
    (None, (0, 0), (1, 1), (2, 2))
    """
    rank = len(shape)
    restricted = [d for d, (_, _, count) in enumerate(region) if count < shape[d]]
    value = as_mixed(value)
    # the value in the result's dims
    mapping = {j: d for j, d in enumerate(value_dims)}
    vals = remap(value, mapping)
    v_axes = [None if ax is None or mapping.get(value.axes[a].dim) is None else ax
              for a, ax in enumerate(vals.axes)]
    v_fields = [f if v_axes[a] is not None or value.axes[a] is None
                else replace(f, spans=(whole_span(value, a),))
                for a, f in enumerate(vals.fields)]
    if base is None:
        base = dead(value)
    if not restricted:  # everything overwritten
        return replace(vals, axes=tuple(v_axes), fields=tuple(v_fields))
    n = len(value.fields)
    base_dead = all(f.spans == (None,) for f in base.fields)
    value_dead = all(f.spans == (None,) for f in value.fields)
    fields, axes, hit, mixed = [], [], [False] * n, set(base.mixed) | set(vals.mixed)
    uneven = False
    for a in range(n):
        bp, vp = base.axes[a], v_axes[a]
        bs, vs = base.fields[a].spans, v_fields[a].spans
        lead = bp if bp is not None else vp
        if lead is None:  # both single
            fields.append(replace(base.fields[a], spans=(ar.union_span([bs[0], vs[0]]),)))
            axes.append(None)
            continue
        d = lead.dim
        if (bp is not None and bp.coords is not None) or (vp is not None and vp.coords is not None):
            hit[a] = True
            fields.append(base.fields[a])
            axes.append(bp)
            continue
        start, step, count = region[d]
        where = ar.region_indices(shape[d], start, step, count)
        old = ar.broadcast_spans(bs, shape[d]) if bp is not None and bp.dim == d else (
            (ar.union_span([*bs, base.foreign_of(a)]),) * shape[d])
        if vp is not None and vp.dim == d:
            new = vs
        else:
            new = (ar.union_span([*vs, value.foreign_of(a)]),)
            if vp is not None:
                mixed.add(vp.dim)
        survive = _survives(base, d, restricted, region, shape)
        uneven |= survive and bool(base.mixed & set(restricted))
        spans = ar.write_spans(old, new, where, survive)
        winner, _ = ar.largest([base.fields[a], v_fields[a]])
        fields.append(replace(winner, spans=spans))
        axes.append(AxisPlace(d, shape[d]))
    place_dims = {ax.dim for ax in axes if ax is not None}
    written = {r: frozenset(ar.region_indices(shape[r], *region[r])) for r in restricted}
    parts: dict[int, frozenset[int]] = {}
    if base_dead:  # live where written: along axes by their spans, elsewhere by parts
        parts = {r: written[r] for r in restricted if r not in place_dims}
    elif value_dead and len(restricted) == 1:  # a constant over a slice of one dim
        r = restricted[0]
        parts = dict(base.parts)
        if r not in place_dims:
            parts[r] = (base.part(r) or frozenset(range(shape[r]))) - written[r]
    else:  # the written elements and the others are live at different indices
        mixed.update(d for d, _ in base.parts)
        if value_dead or not (len(restricted) == 1 and all(
                ax is None or ax.dim == restricted[0] or (
                    base.fields[a].spans == v_fields[a].spans and base.axes[a] == v_axes[a])
                for a, ax in enumerate(axes))):
            mixed.update(restricted)
    out = NodeField(
        tuple(fields), tuple(axes),
        tuple(b or v for b, v in zip(base.is_global, value.is_global)),
        base.aligned and value.aligned, base.exact and value.exact,
        tuple(dict.fromkeys((*base.notes, *value.notes))),
        tuple(ar.union_span([base.foreign_of(a), value.foreign_of(a)]) for a in range(n)),
        frozenset(d for d in mixed if d < rank))
    out = with_parts(out, {d: p for d, p in parts.items() if d not in mixed})
    if uneven:
        out = inexact(out, f"{op}: a write into part of a dim whose elements depend on "
                           "different inputs (the elements left may not see what the others "
                           "saw)")
    return degrade(out, hit, f"{op}: a write into part of a dim holding several axes")


def _survives(base: NodeField, d: int, restricted: Sequence[int],
              region: Sequence[tuple[int, int, int]], shape: Sequence[int]) -> bool:
    """Whether, at a written index along dim ``d``, some element of ``base`` outside the
    region is left that depends on the input: the region leaves out part of another dim,
    and (for a dim holding an axis) a position there that is not a constant."""
    for r in restricted:
        if r == d:
            continue
        holder = next((a for a, ax in enumerate(base.axes) if ax is not None and ax.dim == r),
                      None)
        if holder is None:  # every live index of a dim without an axis is alike
            live = base.part(r)
            if live is None or live - set(ar.region_indices(shape[r], *region[r])):
                return True
            continue
        spans = base.fields[holder].spans
        written = ar.region_indices(shape[r], *region[r])
        if any(spans[i if len(spans) > 1 else 0] is not None
               for i in range(shape[r]) if i not in written):
            return True
    return False


def normalize(state: NodeField, op: str, shape: Sequence[int]) -> NodeField:
    """Re-base a dim holding one axis to plain coordinates; any place that does not fit
    ``shape`` (an op the rules got wrong) makes that axis the whole input, not exact."""
    rank = len(shape)
    fields, axes, foreign = list(state.fields), list(state.axes), _foreign(state)
    lost = [False] * len(axes)
    for a, ax in enumerate(state.axes):
        if ax is None:
            continue
        spans = fields[a].spans
        if ax.dim >= rank or (len(spans) not in (1, ax.size)):
            lost[a] = True
            continue
        if ax.coords is None:
            lost[a] = shape[ax.dim] != ax.size
            continue
        if len(ax.coords) != shape[ax.dim] or max(ax.coords, default=-1) >= ax.size:
            lost[a] = True
            continue
        shared = any(b != a and other is not None and other.dim == ax.dim
                     for b, other in enumerate(state.axes))
        if not shared:
            if len(spans) > 1 or -1 in ax.coords:
                fields[a] = replace(fields[a], spans=tuple(
                    (spans[c] if len(spans) > 1 else spans[0]) if c >= 0 else foreign[a]
                    for c in ax.coords))
            axes[a] = AxisPlace(ax.dim, shape[ax.dim])
            foreign[a] = None
    out = replace(state, fields=tuple(fields), axes=tuple(axes), foreign=tuple(foreign),
                  mixed=frozenset(d for d in state.mixed if d < rank),
                  parts=tuple((d, p) for d, p in state.parts if d < rank and len(p) < shape[d]))
    if any(lost):
        out = degrade(out, lost, f"{op}: an axis's place was lost (field taken as the whole "
                                 "input)")
        out = replace(out, axes=tuple(None if x else ax for x, ax in zip(lost, out.axes)))
    return out
