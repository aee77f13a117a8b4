"""``summary(model, input_shape)`` (or ``summary(graph)``): a per-layer table of shapes,
params, MACs and fields.

Rows are module calls (the innermost module of each op by default; ``depth=d`` aggregates
everything below depth ``d`` into its ancestor, like torchinfo); ops run directly in a
container's ``forward`` (a residual add, ``F.conv2d``) get rows of their own. Every number
comes from the traced graph, whose counts come from ``convzoo.arithmetic``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import torch
import torch.nn as nn

from convzoo import arithmetic as ar
from convzoo.analysis.graph import Graph, Node
from convzoo.analysis.kinds import classify
from convzoo.analysis.receptive import node_fields
from convzoo.analysis.table import Column, Rendered, TableSpec, count
from convzoo.analysis.trace import trace
from convzoo.arithmetic import ReceptiveField
from convzoo.names import renamed_function

__all__ = ["Row", "Totals", "Summary", "summary", "summarize", "CONVENTIONS"]

#: The counting conventions printed under every summary (DESIGN.md).
CONVENTIONS = (
    "MACs: multiply-accumulates of weights with inputs, padded positions included, bias "
    "excluded; FLOPs = 2 x MACs (torch.utils.flop_counter); torchvision's 'GFLOPS' are MACs.",
    "Transposed conv MACs = N*C_in*prod(in)*(C_out/g)*prod(k) (the scatter count; torchinfo "
    "and torchscan count prod(stride) times more).",
    "Params = weights + biases + normalization affine parameters (each shared tensor once).",
    "Activation memory: every op output that is a new tensor (views and in-place ops excluded), "
    "input excluded; bytes at the traced dtype.",
    "Receptive field per spatial axis: size r and effective stride S at the row's output "
    "(Araujo et al., Distill 2019), in input pixels. A fractional S (1/2 after a x2 "
    "upsampling) means output positions are denser than input pixels; r counts padding, so it "
    "can exceed the input. 'whole': the row mixes every position along that axis (a norm over "
    "space, softmax or attention over positions, global pooling, a flatten into a linear "
    "layer, an op not recognized), so every output sees the whole input. Exact per-position "
    "spans: receptive_field(...).fields[axis].span(u).",
)


def _num(x: int | Fraction) -> int | str:
    return str(x) if isinstance(x, Fraction) else x


@dataclass(frozen=True)
class Row:
    """One summary row.

    Attributes:
        name: module qualified name (``'block:add'`` for an op in ``block``'s own forward).
        type: module class name, or the aten op of a functional row.
        kind: from :func:`convzoo.analysis.kinds.classify`.
        depth: nesting depth of the module (1 = child of the model).
        output_shape, params (first use of each parameter), macs, bias_adds, output_bytes.
        rf: receptive field per input spatial axis at the row's output.
        rf_global: per axis, whether that field covers the whole axis.
        nodes: indices of the graph nodes in the row.
    """

    name: str
    type: str
    kind: str
    depth: int
    output_shape: tuple[int, ...]
    params: int
    macs: int
    bias_adds: int
    output_bytes: int
    rf: tuple[ReceptiveField, ...]
    rf_global: tuple[bool, ...]
    nodes: tuple[int, ...]

    @property
    def flops(self) -> int:
        """``2 * macs``."""
        return ar.flops(self.macs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (fractions as ``'1/2'`` strings)."""
        d = asdict(self)
        d["rf"] = {
            "size": [_num(f.size) for f in self.rf],
            "stride": [_num(f.stride) for f in self.rf],
            "padding": [_num(f.padding) for f in self.rf],
            "global": list(self.rf_global),
        }
        del d["rf_global"]
        d["output_shape"], d["nodes"], d["flops"] = list(self.output_shape), list(self.nodes), \
            self.flops
        return d


@dataclass(frozen=True)
class Totals:
    """Model totals. ``params``/``trainable_params``/``param_bytes`` come from the model's
    parameters (exact even for a partial trace); the rest from the traced ops."""

    params: int
    trainable_params: int
    used_params: int
    macs: int
    flops: int
    bias_adds: int
    activation_bytes: int
    input_bytes: int
    param_bytes: int


@dataclass
class Summary(Rendered):
    """Result of :func:`summary`: :attr:`rows`, :attr:`totals` and the notes.

    ``partial`` is True when the model could not be traced to the end; then MACs, FLOPs,
    activation memory and the rows cover only the traced part (lower bounds).
    """

    rows: list[Row]
    totals: Totals
    input_shape: tuple[int, ...]
    dtype: str
    depth: int | None
    partial: bool = False
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    conventions: tuple[str, ...] = CONVENTIONS
    graph: Graph | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ export
    def to_dict(self) -> dict[str, Any]:
        """Everything as plain Python (JSON-ready)."""
        return {
            "input_shape": list(self.input_shape),
            "dtype": self.dtype,
            "depth": self.depth,
            "partial": self.partial,
            "reason": self.reason,
            "rows": [r.to_dict() for r in self.rows],
            "totals": asdict(self.totals),
            "notes": list(self.notes),
            "conventions": list(self.conventions),
        }

    def to_csv(self) -> str:
        """One CSV line per row (receptive fields as ``'r0xr1'`` and ``'S0xS1'``)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["name", "type", "kind", "depth", "output_shape", "params", "macs", "flops",
                    "bias_adds", "output_bytes", "rf_size", "rf_stride", "partial"])
        for r in self.rows:
            w.writerow([r.name, r.type, r.kind, r.depth, "x".join(map(str, r.output_shape)),
                        r.params, r.macs, r.flops, r.bias_adds, r.output_bytes,
                        _rf_text(r, "size"), _rf_text(r, "stride"), self.partial])
        return buf.getvalue()

    # ------------------------------------------------------------------ rendering
    def table_specs(self, wide: bool = False) -> list[TableSpec]:
        """The per-row table. Narrow (default, fits 80 columns): no Type column, counts
        compact (``4.09 G``), a receptive field equal on every axis as one number (``427``
        for ``427x427``). ``wide``: the Type column and every digit."""
        title = "convzoo summary" + (" (PARTIAL: see notes)" if self.partial else "")
        columns = [Column("Layer", "left", name=True), Column("Type", "left", text=True),
                   Column("Kind", "left", text=True), Column("Output shape", "left"),
                   Column("Params"), Column("MACs"), Column("Out bytes"), Column("RF r"),
                   Column("RF S")]
        rows = [["  " * max(r.depth - 1, 0) + r.name, r.type, r.kind,
                 "x".join(map(str, r.output_shape)), count(r.params, wide),
                 count(r.macs, wide), count(r.output_bytes, wide),
                 _rf_text(r, "size", wide), _rf_text(r, "stride", wide)] for r in self.rows]
        if not wide:
            columns[3:9] = [Column("Output", "left"), Column("Params"), Column("MACs"),
                            Column("Out B"), Column("RF"), Column("S")]
            del columns[1]
            for row in rows:
                del row[1]
        return [TableSpec(title, tuple(columns), [tuple(row) for row in rows])]

    def footer(self) -> str:
        """Totals, notes and conventions as text."""
        t, lb = self.totals, ("at least " if self.partial else "")
        lines = []
        if self.partial:
            lines.append(f"PARTIAL TRACE: {self.reason}")
            lines.append("  MACs, FLOPs, bias adds, activation memory and the rows cover only "
                         "the traced part (lower bounds); parameter totals are exact.")
        lines += [
            f"Input: {'x'.join(map(str, self.input_shape))} ({self.dtype}, "
            f"{t.input_bytes:,} bytes)",
            f"Params: {t.params:,} (trainable {t.trainable_params:,}; "
            f"{t.param_bytes:,} bytes)",
            f"MACs: {lb}{t.macs:,}   FLOPs: {lb}{t.flops:,}   bias adds: {lb}{t.bias_adds:,}",
            f"Activation memory: {lb}{t.activation_bytes:,} bytes",
        ]
        lines += [f"Note: {n}" for n in self.notes]
        lines += [f"Convention: {c}" for c in self.conventions]
        return "\n".join(lines)


def _rf_text(row: Row, what: str, wide: bool = True) -> str:
    parts = [
        "whole" if g and what == "size" else str(getattr(f, what))
        for f, g in zip(row.rf, row.rf_global, strict=True)
    ]
    return parts[0] if not wide and len(set(parts)) == 1 else "x".join(parts)


# ---------------------------------------------------------------------- grouping
def _row_key(node: Node, depth: int | None) -> tuple:
    frames = node.frames
    if depth is not None and len(frames) >= depth:
        f = frames[depth - 1]
        return ("module", f.name, f.call, depth)
    if frames and frames[-1].leaf:
        f = frames[-1]
        return ("module", f.name, f.call, len(frames))
    return ("op", node.index, len(frames))


def _summarize(graph: Graph, depth: int | None = None) -> Summary:
    """The :class:`Summary` of an already traced graph."""
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool)
                              or depth < 1):
        raise ValueError(f"`depth` (={depth!r}) must be None or a positive int")
    states = node_fields(graph)
    groups: dict[tuple, list[Node]] = {}
    for node in graph.nodes[1:]:
        key = _row_key(node, depth)
        if key[0] == "op" and node.category == "view":
            continue
        groups.setdefault(key, []).append(node)
    rows, seen = [], set()
    eb = graph.element_bytes
    for key, nodes in groups.items():
        if key[0] == "module":
            _, name, call, level = key
            out = graph.module_outputs.get((name, call), nodes[-1].index)
            kind_name = next(f.type for f in nodes[0].frames if f.name == name)
        else:
            node = nodes[0]
            name = f"{node.module}:{node.op}" if node.module else node.op
            out, kind_name, level = node.index, node.op, key[2] + 1
        new = [p for n in nodes for p in n.params if p not in seen]
        seen.update(new)
        shape = graph.nodes[out].shape
        st = states[out]
        rows.append(Row(
            name=name, type=kind_name, kind=classify(nodes), depth=level, output_shape=shape,
            params=sum(graph.params[p][0] for p in dict.fromkeys(new)),
            macs=sum(n.macs for n in nodes), bias_adds=sum(n.bias_adds for n in nodes),
            output_bytes=math.prod(shape) * eb, rf=st.fields, rf_global=st.is_global,
            nodes=tuple(n.index for n in nodes),
        ))
    return Summary(rows, _totals(graph, seen), graph.input_shape, graph.dtype, depth,
                   graph.partial, graph.reason, _notes(graph, seen, states), graph=graph)


def _totals(graph: Graph, used: set[str]) -> Totals:
    macs = graph.macs
    return Totals(
        params=sum(v[0] for v in graph.params.values()),
        trainable_params=sum(v[0] for v in graph.params.values() if v[1]),
        used_params=sum(graph.params[p][0] for p in used),
        macs=macs,
        flops=ar.flops(macs),
        bias_adds=sum(n.bias_adds for n in graph.nodes),
        activation_bytes=sum(math.prod(n.shape) for n in graph.nodes[1:] if n.allocates)
        * graph.element_bytes,
        input_bytes=math.prod(graph.input_shape) * graph.element_bytes,
        param_bytes=sum(v[2] for v in graph.params.values()),
    )


def _notes(graph: Graph, used: set[str], states: list) -> list[str]:
    notes = []
    unused = sum(v[0] for k, v in graph.params.items() if k not in used)
    if unused:
        what = "were not reached by the traced part" if graph.partial else "are never used"
        notes.append(f"{unused:,} parameters {what} (counted in the totals, in no row).")
    uncounted = sorted({n.op for n in graph.nodes if n.category == "attention"})
    if uncounted:
        notes.append(f"MACs of {', '.join(uncounted)} are not counted.")
    unknown = sorted({n.op for n in graph.nodes if n.category == "other"})
    if unknown:
        notes.append(f"ops not recognized (no MACs counted, receptive field taken as the "
                     f"whole input): {', '.join(unknown)}.")
    inexact = sorted({m for s in states for m in s.notes})
    if inexact:
        notes.append("receptive fields approximate: " + "; ".join(inexact) + ".")
    return notes


def summary(
    model: nn.Module | Graph,
    input_shape: Any = None,
    depth: int | None = None,
    dtype: torch.dtype = torch.float32,
    partial: bool = False,
) -> Summary:
    """Trace ``model`` on meta tensors and summarize it (or summarize a graph already traced).

    Args:
        model: any ``nn.Module`` (not modified), or a :class:`~convzoo.analysis.Graph` from
            :func:`convzoo.analysis.trace` (then ``input_shape``, ``dtype`` and ``partial``
            are the graph's own and are not passed).
        input_shape: ``(N, C, *spatial)``, a tensor, a tuple of shapes or tensors (one per
            positional argument of ``forward``) or a dict of keyword inputs, as torchinfo
            takes them (:func:`convzoo.analysis.trace`).
        depth: None (default) for one row per innermost module call, or ``d >= 1`` to
            aggregate into the modules at depth ``d`` (1 = the model's children).
        dtype: floating dtype for the bytes columns (default float32).
        partial: when the forward pass fails on the input (a wrong channel count, a
            missing batch dim, a missing input, ``.item()``), summarize the traced part
            (MACs then are lower bounds) instead of raising.

    Raises:
        ValueError: one line naming the layer that failed, what it expects and what it was
            given, unless ``partial``.

    >>> s = summary(nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16)),
    ...             (1, 3, 32, 32))
    >>> s.totals.params, s.totals.macs, s.totals.flops
    (480, 442368, 884736)
    >>> g = trace(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), (1, 3, 8, 8))
    >>> [(r.name, r.kind, r.macs) for r in summary(g).rows]
    [('0', 'conv', 7776), ('1', 'activation', 0)]
    """
    if isinstance(model, Graph):
        _graph_arguments(model, input_shape, dtype, partial)
        return _summarize(model, depth)
    if input_shape is None:
        raise ValueError("`input_shape` (=None) must be given with a model (only a traced "
                         "Graph carries its own)")
    graph = trace(model, input_shape, dtype, strict=not partial)
    if graph.partial and not partial:
        raise ValueError(f"{graph.reason} (partial=True summarizes the traced part)")
    return _summarize(graph, depth)


def _graph_arguments(graph: Graph, input_shape: Any, dtype: Any, partial: bool) -> None:
    """A traced graph brings its input shape, dtype and partial state: refuse others."""
    if input_shape is not None:
        raise ValueError(f"`input_shape` (={input_shape!r}) must be omitted when `model` is a "
                         f"traced Graph (it was traced at {graph.input_shape})")
    if dtype is not torch.float32 or partial:
        raise ValueError(f"`dtype` and `partial` must be left at their defaults when `model` "
                         f"is a traced Graph (pass them to trace); got dtype={dtype}, "
                         f"partial={partial}")


@renamed_function("convzoo.analysis.summarize", "convzoo.analysis.summary")
def summarize(graph: Graph, depth: int | None = None) -> Summary:
    """Deprecated: ``summary(graph, depth=...)``."""
    return summary(graph, depth=depth)
