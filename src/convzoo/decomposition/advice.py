"""What :func:`convzoo.advise` returns: per conv, the options (dense, the recommended one, each
other method at its best trade-off for the plan) with their counts, measured latency and error;
the recommended plan; the plans compared on the model-level metric; per method, where its MAC
saving turned into a speed saving on this machine. Printed as an 80-column table
(:mod:`convzoo.analysis.table`) or as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from convzoo.analysis.table import Column, Rendered, TableSpec, compact

__all__ = ["Advice", "AdviceLayer", "AdviceOption", "PlanScore", "rank_text"]


def rank_text(rank: Any) -> str:
    """``96x48`` for a pair, ``12`` for an int, ``''`` for None.

    >>> rank_text((96, 48)), rank_text(12), rank_text(None)
    ('96x48', '12', '')
    """
    if rank is None:
        return ""
    return "x".join(map(str, rank)) if isinstance(rank, tuple | list) else str(rank)


@dataclass
class AdviceOption:
    """One way to run a layer (``method='dense'``: the layer as it is).

    Attributes:
        method, rank: the replacement. params, macs: counted. error: relative error of the
            layer's output (``measured``: on its sampled patches; else estimated from the
            method's exact weight-error curve).
        latency_ms, latency_spread_ms: measured median and half interquartile range (None if
            not measured). speedup: dense median / this median. faster: True/False when the
            difference is beyond the noise (interquartile ranges apart), None otherwise.
        recommended: in the recommended plan.
    """

    method: str
    rank: Any
    params: int
    macs: int
    error: float
    measured: bool
    latency_ms: float | None = None
    latency_spread_ms: float | None = None
    speedup: float | None = None
    faster: bool | None = None
    recommended: bool = False

    @property
    def label(self) -> str:
        """``'tucker 96x48'``, ``'dense'``."""
        return f"{self.method} {rank_text(self.rank)}".strip()


@dataclass
class AdviceLayer:
    """A conv of the model.

    Attributes:
        name: module name. reason: why it has no options ('' when it has).
        width: ``min(C_in, C_out)``. sensitivity: model-level error per unit of this layer's
            output error (None if not measured). options: dense first, then by MACs.
    """

    name: str
    reason: str
    width: int
    sensitivity: float | None
    options: list[AdviceOption]

    def recommended(self) -> AdviceOption | None:
        """The option the plan takes."""
        return next((o for o in self.options if o.recommended), None)

    def verdict(self) -> str:
        """Did the recommended option's MAC saving become a speed saving here?"""
        o = self.recommended()
        if o is None or o.method == "dense":
            return ""
        if o.speedup is None:
            return "not timed"
        if o.faster is None:
            return f"{o.speedup:.2f}x, within noise"
        return f"{o.speedup:.2f}x {'faster' if o.faster else 'slower'}"


@dataclass
class PlanScore:
    """A plan compared on the model-level metric.

    Attributes:
        name: how it was made. macs: its conv MACs. model_error: the metric on the data (or
        the example). plan: layer -> [method, rank].
    """

    name: str
    macs: int
    model_error: float
    plan: dict[str, list[Any]]


@dataclass
class Advice(Rendered):
    """What :func:`convzoo.advise` returns (``str(advice)``: the table; ``to_json()``).

    Attributes:
        layers: one per conv. budget: the fraction of conv MACs (``by='macs'``) or of conv
            latency (``by='latency'``) the plan may keep. by, backend: as asked.
        input_shape: the example's. conv_macs, plan_macs: the model's conv MACs, dense and
            with the recommended plan. model_error: the model-level metric of the recommended
            plan (on the data, or the example). latency_ms / plan_latency_ms (and spreads):
            measured, dense and with the plan; latency_scope: ``'model'`` (the whole model
            timed) or ``'layers'`` (the sum of its convs' medians). plans: the plans compared
            on the metric, best first. crossover: per method, where its options turned from
            slower to faster than dense by layer width. interrupted: the step Ctrl-C stopped
            (None when complete). seconds: wall time per step of the search.
    """

    layers: list[AdviceLayer]
    budget: float
    by: str
    backend: str
    input_shape: tuple[int, ...]
    conv_macs: int
    plan_macs: int
    model_error: float | None = None
    latency_ms: float | None = None
    latency_spread_ms: float | None = None
    plan_latency_ms: float | None = None
    plan_latency_spread_ms: float | None = None
    latency_scope: str | None = None
    plans: list[PlanScore] = field(default_factory=list)
    crossover: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    interrupted: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def plan(self) -> dict[str, tuple[str, Any]]:
        """Layer name -> (method, rank) of each recommended replacement."""
        return {layer.name: (o.method, o.rank) for layer in self.layers for o in layer.options
                if o.recommended and o.method != "dense"}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["plan"] = {k: [m, list(r) if isinstance(r, tuple) else r]
                     for k, (m, r) in self.plan().items()}
        for layer in d["layers"]:
            for o in layer["options"]:
                if isinstance(o["rank"], tuple):
                    o["rank"] = list(o["rank"])
        return d

    def table_specs(self, wide: bool = False) -> list[TableSpec]:
        """One table: per conv its options (``*`` marks the recommended one)."""
        what = "latency" if self.by == "latency" else "MACs"
        columns = (Column("Layer", "left", text=True), Column("Option", "left", text=True),
                   Column("Params"), Column("MACs"), Column("ms"), Column("Speed"),
                   Column("Err"), Column("Sens"))
        rows: list[tuple[str, ...]] = []
        for layer in self.layers:
            if not layer.options:
                rows.append((layer.name, f"skipped: {layer.reason}", "", "", "", "", "", ""))
                continue
            for i, o in enumerate(layer.options):
                ms = "-" if o.latency_ms is None else \
                    f"{o.latency_ms:.3g}±{o.latency_spread_ms or 0:.1g}"
                speed = "" if o.method == "dense" or o.speedup is None else \
                    f"{o.speedup:.2f}x" + ("" if o.faster is not None else "~")
                err = "0" if o.method == "dense" else \
                    (f"{o.error:.2g}" if o.measured else f"~{o.error:.2g}")
                sens = "" if i or layer.sensitivity is None else f"{layer.sensitivity:.2g}"
                rows.append((layer.name if i == 0 else "",
                             ("*" if o.recommended else " ") + o.label,
                             compact(o.params), compact(o.macs), ms, speed, err, sens))
        return [TableSpec(f"convzoo advise (budget {self.budget:.0%} of conv {what})",
                          columns, rows)]

    def footer(self) -> str:
        """The plan's totals, the compared plans, the crossover widths and the notes."""
        lines = []
        if self.interrupted:
            lines.append(f"Interrupted while {self.interrupted}: partial results.")
        lines.append(f"Conv MACs: {self.conv_macs:,} dense, {self.plan_macs:,} with the plan "
                     f"({self.plan_macs / max(self.conv_macs, 1):.1%}; budget "
                     f"{self.budget:.0%} of conv {'latency' if self.by == 'latency' else 'MACs'})")
        if self.model_error is not None:
            lines.append(f"Model-level error of the plan: {self.model_error:.3g}")
        if self.latency_ms is not None and self.plan_latency_ms is not None:
            scope = "whole model" if self.latency_scope == "model" else "sum of the convs"
            lines.append(
                f"Latency ({self.backend}, {scope}): {self.latency_ms:.3f}"
                f"±{self.latency_spread_ms or 0:.2g} ms dense, {self.plan_latency_ms:.3f}"
                f"±{self.plan_latency_spread_ms or 0:.2g} ms with the plan "
                f"({self.latency_ms / max(self.plan_latency_ms, 1e-12):.2f}x)")
        if len(self.plans) > 1:
            lines.append("Plans compared on the model-level error: " + "; ".join(
                f"{p.name} {p.model_error:.3g} ({p.macs / max(self.conv_macs, 1):.0%} MACs)"
                for p in self.plans))
        for method, text in self.crossover.items():
            lines.append(f"Crossover, {method}: {text}")
        lines.append("Err: relative error of the layer's output on its sampled input patches "
                     "(~: estimated from the exact weight-error curve); Sens: model-level error "
                     "per unit of the layer's error; ms: median±IQR/2; Speed: dense/option "
                     "(~: within noise)")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)
