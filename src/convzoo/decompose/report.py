"""What :func:`convzoo.decompose` reports: per layer and for the whole model."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["LayerReport", "Report", "short"]


def short(n: float | None) -> str:
    """Compact number: ``1234567 -> '1.23M'``, ``None -> '-'``.

    >>> short(1234567), short(950), short(None)
    ('1.23M', '950', '-')
    """
    if n is None:
        return "-"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.3g}" if isinstance(n, float) else str(n)


@dataclass
class LayerReport:
    """One convolution of the model.

    Attributes:
        name: module name. status: ``'decomposed'``, ``'kept'`` (the plan kept it dense) or
            ``'skipped'`` (not decomposable; ``reason`` says why, in one line).
        method, rank: of the replacement (None when not decomposed).
        params_before/after, macs_before/after: ``convzoo.analysis.summary`` counts at the
            layer's input shape. latency_before_ms/after_ms: measured medians (None if not
            measured). weight_error, output_error: relative reconstruction errors (0 for a
            layer left alone).
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


@dataclass
class Report:
    """The whole decomposition.

    Attributes:
        layers: one :class:`LayerReport` per convolution. method, rank, energy, budget, by: the
            request. input_shape: the example's.
        conv_macs_before/after: conv MACs of the model (``summary`` rows of conv kinds).
        params_before/after: model parameter totals. latency_before_ms/after_ms: whole-model
            medians on the example (None if not measured). output_error: relative error of the
            model's output on the example.
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
    notes: list[str] = field(default_factory=list)

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

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON."""
        return json.dumps(self.to_dict(), indent=indent)

    def table(self) -> Any:
        """The layers as a ``rich.table.Table`` (fits 80 columns)."""
        from rich.table import Table

        t = Table(title=f"convzoo decompose ({self.method})", show_lines=False)
        for col, justify in (("Layer", "left"), ("Method", "left"), ("Rank", "right"),
                             ("MACs", "right"), ("Params", "right"), ("ms", "right"),
                             ("Out err", "right")):
            t.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for r in self.layers:
            rank = "x".join(map(str, r.rank)) if isinstance(r.rank, tuple) else short(r.rank)
            method = r.method or r.status
            t.add_row(r.name, method[:12], rank,
                      f"{short(r.macs_before)}>{short(r.macs_after)}",
                      f"{short(r.params_before)}>{short(r.params_after)}",
                      f"{_ms(r.latency_before_ms)}>{_ms(r.latency_after_ms)}",
                      f"{r.output_error:.2g}")
        return t

    def footer(self) -> str:
        """Totals and notes as text."""
        lines = [
            f"Conv MACs: {self.conv_macs_before:,} -> {self.conv_macs_after:,} "
            f"({self.mac_ratio:.2f}x fewer)",
            f"Params: {self.params_before:,} -> {self.params_after:,}",
            f"Model output relative error on the example: {self.output_error:.3g}",
        ]
        if self.latency_ratio is not None:
            lines.append(f"Latency: {self.latency_before_ms:.3f} ms -> "
                         f"{self.latency_after_ms:.3f} ms ({self.latency_ratio:.2f}x)")
        lines += [f"Skipped {r.name}: {r.reason}" for r in self.layers if r.status == "skipped"]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def render(self, console: Any = None) -> None:
        """Print the table and footer on a ``rich`` console."""
        from rich.console import Console

        console = console if console is not None else Console()
        console.print(self.table())
        console.print(self.footer(), markup=False, highlight=False)

    def __str__(self) -> str:
        from rich.console import Console

        buf = io.StringIO()
        self.render(Console(file=buf, width=80, force_terminal=False, color_system=None))
        return buf.getvalue()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}"
