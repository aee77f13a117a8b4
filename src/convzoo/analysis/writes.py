"""Writes through aliases: the tracer's memory of in-place ops, so that a tensor read after
another tensor sharing its memory was written (``y[..., 1:] = x``, ``canvas[:h].copy_(img)``,
``x[:, :2].zero_()``) is read with that write.

Each in-place op that a traced tensor feeds records a write event on its storage: the node
that produced the new values and the strided layout it wrote. A tensor read later whose
storage got events since its own value was recorded becomes a synthetic ``write`` node per
event: its old value (or a constant, when it was not traced) with the event's values put in
where the layouts overlap. ``attrs['kind']`` says how they overlap:

* ``'region'``: the written tensor is a strided box of the read one (``attrs['region']``:
  ``(start, step, count)`` per dim, ``attrs['value_dims']``: the read tensor's dim each dim
  of the written one runs along, None for a size-1 dim);
* ``'view'``: the read tensor lies inside the written one (``attrs['located']``, see
  :func:`convzoo.arithmetic.locate`): its new value is a strided view of the written value;
* ``'unknown'``: they overlap otherwise (the rules then take every span of both).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from convzoo import arithmetic as ar
from convzoo.analysis import ops
from convzoo.analysis.graph import Frame, Node
from convzoo.analysis.op_attrs import layout

__all__ = ["Writes"]


class _Event(NamedTuple):
    node: int  #: the node holding the written values
    layout: ar.Layout  #: where they were written


def _storage(t: torch.Tensor) -> int | None:
    try:
        return t.untyped_storage()._cdata
    except (RuntimeError, NotImplementedError, TypeError):  # no storage (sparse, nested...)
        return None


def _extent(lay: ar.Layout) -> tuple[int, int]:
    """First and last storage element a layout touches."""
    lo = hi = lay.offset
    for size, stride in zip(lay.sizes, lay.strides):
        if size > 1:
            if stride >= 0:
                hi += (size - 1) * stride
            else:
                lo += (size - 1) * stride
    return lo, hi


def _relation(read: ar.Layout, written: ar.Layout) -> dict[str, Any] | None:
    """How a write overlaps a later read (the attrs of the write node), None if disjoint."""
    (lo, hi), (first, last) = _extent(read), _extent(written)
    if hi < first or last < lo:
        return None
    inside = ar.locate(read, written)
    if inside is not None:
        used = [dim for dim in inside.dims if dim is not None]
        if len(used) == len(set(used)):  # each dim of the read tensor walked at most once
            region = []
            for dim in range(len(read.sizes)):
                js = [j for j, dd in enumerate(inside.dims) if dd == dim]
                if js:
                    j = js[0]
                    region.append((inside.start[dim], inside.steps[j], written.sizes[j]))
                else:
                    region.append((inside.start[dim], 1, 1))
            return {"kind": "region", "region": tuple(region),
                    "value_dims": _size_one_dims(inside.dims, region)}
    around = ar.locate(written, read)
    if around is not None:
        return {"kind": "view", "located": around}
    return {"kind": "unknown"}


def _size_one_dims(dims: tuple[int | None, ...], region: list[tuple[int, int, int]]
                   ) -> tuple[int | None, ...]:
    """Place the written tensor's size-1 dims (no stride says where they run) on the read
    tensor's dims the region holds one index of, in order (the dims a slice kept)."""
    free = [d for d in range(len(region)) if d not in dims and region[d][2] == 1]
    out = list(dims)
    for j, d in enumerate(out):
        if d is None and free:
            later = [f for f in free if all(e is None or e < f for e in out[:j])]
            if later:
                out[j] = later[0]
                free.remove(later[0])
    return tuple(out)


class Writes:
    """Write events per storage, and how many of them each tensor's recorded value holds."""

    def __init__(self) -> None:
        self.events: dict[int, list[_Event]] = {}
        self.seen: dict[int, int] = {}

    def produced(self, t: torch.Tensor) -> None:
        """``t``'s recorded value holds every write made to its storage so far."""
        key = _storage(t)
        if key is not None:
            self.seen[id(t)] = len(self.events.get(key, ()))

    def wrote(self, t: torch.Tensor, node: int) -> None:
        """An in-place op recorded as ``node`` wrote ``t`` (whose value is now ``node``)."""
        key = _storage(t)
        if key is None:
            return
        self.events.setdefault(key, []).append(_Event(node, layout(t)))
        self.seen[id(t)] = len(self.events[key])

    def refresh(self, t: torch.Tensor, producer: dict[int, int], nodes: list[Node],
                frames: tuple[Frame, ...]) -> None:
        """Before ``t`` is read: one ``write`` node per write it has not seen yet."""
        key = _storage(t)
        events = self.events.get(key) if key is not None else None
        done = self.seen.get(id(t), 0)
        if not events or done >= len(events):
            return
        read = layout(t)
        for event in events[done:]:
            relation = _relation(read, event.layout)
            if relation is None:
                continue
            old = producer.get(id(t))
            node = Node(
                len(nodes), ops.WRITE, "view",
                tuple(i for i in (old, event.node) if i is not None), tuple(t.shape), frames,
                input_shape=tuple(t.shape), allocates=False,
                attrs={"base": old, "value": event.node, **relation},
            )
            nodes.append(node)
            producer[id(t)] = node.index
        self.seen[id(t)] = len(events)
