"""The zoo at a glance: each model's variant kinds, params, MACs and receptive field.

Everything is counted by ``convzoo.analysis`` on meta tensors (no real compute): one trace per
model gives the summary totals and the receptive field of the deepest feature map that is still
spatial (for a classifier, the map before global pooling; for a dense predictor, its output).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from convzoo.analysis.kinds import CONV_KINDS
from convzoo.analysis.receptive import node_fields
from convzoo.analysis.summary import summary
from convzoo.analysis.trace import trace

__all__ = ["ZooRow", "zoo_rows", "zoo_row", "format_count"]


@dataclass(frozen=True)
class ZooRow:
    """One model of the zoo at its reference input.

    Attributes:
        name: zoo name. variants: the convolution variants it is known for (declared).
        kinds: ``(kind, share of the conv MACs)`` of the convolutions the trace found,
            largest share first (measured: :data:`convzoo.analysis.kinds.CONV_KINDS`).
        input_shape: ``(N, C, *spatial)`` the numbers hold at. params, macs: totals.
        rf_sizes, rf_strides: receptive field ``r`` and effective stride ``S`` per input axis
            of the deepest spatial feature map (``rf_layer``, its module name).
        source: the paper/table its numbers reproduce.
    """

    name: str
    variants: tuple[str, ...]
    kinds: tuple[tuple[str, float], ...]
    input_shape: tuple[int, ...]
    params: int
    macs: int
    rf_sizes: tuple[int | Fraction, ...]
    rf_strides: tuple[int | Fraction, ...]
    rf_layer: str
    source: str


def format_count(n: int) -> str:
    """``25557032 -> '25.56M'``, ``4089184256 -> '4.09G'``.

    >>> format_count(25557032), format_count(4089184256), format_count(999)
    ('25.56M', '4.09G', '999')
    """
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def zoo_row(name: str) -> ZooRow:
    """Count zoo model ``name`` at its reference input shape (meta tensors only)."""
    from convzoo.models import create, entry

    e = entry(name)
    model = create(name)
    graph = trace(model, e.input_shape)
    counted = summary(graph)
    totals = counted.totals
    by_kind: dict[str, int] = {}
    for row in counted.rows:
        if row.kind in CONV_KINDS:
            by_kind[row.kind] = by_kind.get(row.kind, 0) + row.macs
    conv_macs = sum(by_kind.values()) or 1
    kinds = tuple(sorted(((k, m / conv_macs) for k, m in by_kind.items()),
                         key=lambda item: -item[1]))
    states = node_fields(graph)
    index = 0
    for i, (node, state) in enumerate(zip(graph.nodes, states)):
        spatial = len(node.shape) == len(e.input_shape)
        if state.fields and spatial and not any(state.is_global):
            index = i
    state, node = states[index], graph.nodes[index]
    return ZooRow(
        name=name,
        variants=e.variants,
        kinds=kinds,
        input_shape=e.input_shape,
        params=totals.params,
        macs=totals.macs,
        rf_sizes=tuple(f.size for f in state.fields),
        rf_strides=tuple(f.stride for f in state.fields),
        rf_layer=node.module or node.op,
        source=e.source,
    )


def zoo_rows(names: Iterable[str] | None = None) -> list[ZooRow]:
    """:func:`zoo_row` for ``names`` (default: every registered model, sorted)."""
    from convzoo.models import MODELS

    return [zoo_row(name) for name in (sorted(MODELS) if names is None else names)]
