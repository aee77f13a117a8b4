"""What :func:`convzoo.decompose` reports: per layer and for the whole model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from convzoo.analysis.table import Column, Rendered, TableSpec, compact

__all__ = ["LayerReport", "Report"]


@dataclass
class LayerReport:
    """One convolution of the model.

    Attributes:
        name: module name. status: ``'decomposed'``, ``'kept'`` (left dense: the plan kept it,
            or the asked rank would cost more MACs than dense) or ``'skipped'`` (not
            decomposable). reason: why it was kept or skipped, in one line ('' otherwise).
        method, rank: of the replacement (None when not decomposed).
        params_before/after, macs_before/after: counted by :mod:`convzoo.arithmetic` at the
            layer's input shape (MACs summed over the model's calls of the layer).
        latency_before_ms/after_ms: measured medians (None if not measured).
        weight_error: ``||W_hat - W|| / ||W||``. output_error: relative error of the layer's
            output on its sampled input patches (0 for a layer left alone).
        warning: set when the replacement costs more MACs than the conv (decomposed because
            ``rank``/``energy`` asked for it).
    """

    name: str
    status: str
    reason: str
    method: str | None
    rank: Any
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int
    latency_before_ms: float | None = None
    latency_after_ms: float | None = None
    weight_error: float = 0.0
    output_error: float = 0.0
    warning: str = ""


@dataclass
class Report(Rendered):
    """The whole decomposition (``str(report)``: the table; ``to_json()``).

    Attributes:
        layers: one :class:`LayerReport` per convolution. method, rank, energy, budget, by,
            backend: the request. input_shape: the example's.
        conv_macs_before/after: conv MACs of the model (``convzoo.analysis.summary``'s rows
            of conv kinds). params_before/after: model parameter totals.
        latency_before_ms/after_ms (and spreads): whole-model medians on the example (None if
            not measured). output_error: the relative error of the model's output (every
            floating-point output tensor) on ``error_input``: the example, or the first data
            batch, centre-cropped when larger than 65,536 positions per sample and the model
            takes it. seconds: wall time per step.
    """

    layers: list[LayerReport]
    method: str
    rank: Any
    energy: float | None
    budget: float | None
    by: str
    input_shape: tuple[int, ...]
    conv_macs_before: int
    conv_macs_after: int
    params_before: int
    params_after: int
    latency_before_ms: float | None
    latency_after_ms: float | None
    output_error: float
    backend: str = "torch"
    latency_before_spread_ms: float | None = None
    latency_after_spread_ms: float | None = None
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    error_input: str = "the example"

    @property
    def mac_ratio(self) -> float:
        """``conv_macs_before / conv_macs_after`` (how many times fewer conv MACs)."""
        return self.conv_macs_before / max(self.conv_macs_after, 1)

    @property
    def latency_ratio(self) -> float | None:
        """``latency_before / latency_after`` (speed-up), None if not measured."""
        if not self.latency_before_ms or not self.latency_after_ms:
            return None
        return self.latency_before_ms / self.latency_after_ms

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON values."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["mac_ratio"], d["latency_ratio"] = self.mac_ratio, self.latency_ratio
        for layer in d["layers"]:
            if isinstance(layer["rank"], tuple):
                layer["rank"] = list(layer["rank"])
        return d

    def table_specs(self, wide: bool = False) -> list[TableSpec]:
        """The layers: method and rank, MACs and params before > after, latency, errors."""
        columns = (Column("Layer", "left", text=True), Column("Method", "left", text=True),
                   Column("Rank"), Column("MACs"), Column("Params"), Column("ms"),
                   Column("Out err"))
        rows = []
        for r in self.layers:
            rank = "x".join(map(str, r.rank)) if isinstance(r.rank, tuple | list) else \
                ("" if r.rank is None else str(r.rank))
            rows.append((r.name, r.method or r.status, rank,
                         f"{compact(r.macs_before)}>{compact(r.macs_after)}",
                         f"{compact(r.params_before)}>{compact(r.params_after)}",
                         f"{_ms(r.latency_before_ms)}>{_ms(r.latency_after_ms)}",
                         f"{r.output_error:.2g}"))
        return [TableSpec(f"convzoo decompose ({self.method})", columns, rows)]

    def footer(self) -> str:
        """Totals, reasons and notes as text."""
        lines = [
            f"Conv MACs: {self.conv_macs_before:,} -> {self.conv_macs_after:,} "
            f"({_fewer_or_more(self.mac_ratio)})",
            f"Params: {self.params_before:,} -> {self.params_after:,}",
            f"Model output relative error on {self.error_input}: {self.output_error:.3g}",
        ]
        if self.latency_ratio is not None:
            lines.append(f"Latency ({self.backend}): {self.latency_before_ms:.3f}"
                         f"±{self.latency_before_spread_ms or 0:.2g} ms -> "
                         f"{self.latency_after_ms:.3f}±{self.latency_after_spread_ms or 0:.2g} "
                         f"ms ({self.latency_ratio:.2f}x)")
        lines += [f"{r.status.capitalize()} {r.name}: {r.reason}" for r in self.layers
                  if r.reason and r.status != "decomposed"]
        lines += [f"Warning {r.name}: {r.warning}" for r in self.layers if r.warning]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}"


def _fewer_or_more(ratio: float) -> str:
    """``before/after`` as words: ``'2.00x fewer'``, ``'1.23x more'`` or ``'the same'``.

    >>> _fewer_or_more(2.0), _fewer_or_more(0.81), _fewer_or_more(1.0)
    ('2.00x fewer', '1.23x more', 'the same')
    """
    if ratio > 1:
        return f"{ratio:.2f}x fewer"
    if 0 < ratio < 1:
        return f"{1 / ratio:.2f}x more"
    return "the same"
