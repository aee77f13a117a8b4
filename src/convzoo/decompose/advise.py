"""``convzoo.advise``: the selection guide as a tool. For every conv of a model, the candidate
replacements (each method at its best rank within the budget) with params, MACs, receptive
field, measured latency and output error, and the recommended plan for the budget."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from convzoo.analysis import receptive_field
from convzoo.decompose.api import check_budget, prepare_layers
from convzoo.decompose.candidates import Candidate, candidates
from convzoo.decompose.measure import frozen, latencies_ms
from convzoo.decompose.methods import check_method
from convzoo.decompose.plan import Option, choose
from convzoo.decompose.report import short
from convzoo.decompose.target import METHOD_NAMES, refusal

__all__ = ["Advice", "AdviceLayer", "AdviceOption", "advise"]


@dataclass
class AdviceOption:
    """One way to run a layer (``method='dense'`` is the layer as it is)."""

    method: str
    rank: Any
    params: int
    macs: int
    rf: tuple[int, ...]
    latency_ms: float | None
    output_error: float
    recommended: bool = False


@dataclass
class AdviceLayer:
    """A conv of the model: its options sorted by MACs, or why it has none."""

    name: str
    reason: str
    options: list[AdviceOption]


@dataclass
class Advice:
    """What :func:`advise` returns.

    Attributes:
        layers: one per conv. budget: the fraction of conv MACs the plan may keep.
        conv_macs: the model's conv MACs; plan_macs: with the recommended options.
        latency_ms / plan_latency_ms: summed layer latencies, dense and recommended.
    """

    layers: list[AdviceLayer]
    budget: float
    input_shape: tuple[int, ...]
    conv_macs: int
    plan_macs: int
    latency_ms: float | None
    plan_latency_ms: float | None
    notes: list[str] = field(default_factory=list)

    def plan(self) -> dict[str, tuple[str, Any]]:
        """Layer name -> (method, rank) of each recommended replacement."""
        return {layer.name: (o.method, o.rank) for layer in self.layers for o in layer.options
                if o.recommended and o.method != "dense"}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        from dataclasses import asdict

        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["plan"] = {k: [m, list(r) if isinstance(r, tuple) else r]
                     for k, (m, r) in self.plan().items()}
        return d

    def table(self) -> Any:
        """Rich table, 80 columns wide at most (the recommended option marked ``*``)."""
        from rich.table import Table

        t = Table(title=f"convzoo advise (budget {self.budget:.0%} of conv MACs)")
        for col, justify in (("Layer", "left"), ("Option", "left"), ("Params", "right"),
                             ("MACs", "right"), ("RF", "right"), ("ms", "right"),
                             ("Err", "right")):
            t.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for layer in self.layers:
            if not layer.options:
                t.add_row(layer.name, f"- {layer.reason}"[:34], "", "", "", "", "")
                continue
            for i, o in enumerate(layer.options):
                rank = "x".join(map(str, o.rank)) if isinstance(o.rank, tuple) else o.rank
                label = o.method if rank is None else f"{o.method[:11]} r{rank}"
                t.add_row(layer.name if i == 0 else "", ("*" if o.recommended else " ") + label,
                          short(o.params), short(o.macs), "x".join(map(str, o.rf)),
                          "-" if o.latency_ms is None else f"{o.latency_ms:.3g}",
                          f"{o.output_error:.2g}")
        return t

    def footer(self) -> str:
        """The plan's totals."""
        lines = [f"Conv MACs: {self.conv_macs:,} dense, {self.plan_macs:,} with the plan "
                 f"({self.plan_macs / max(self.conv_macs, 1):.1%}; budget {self.budget:.0%})"]
        if self.latency_ms and self.plan_latency_ms:
            lines.append(f"Summed layer latency: {self.latency_ms:.3f} ms dense, "
                         f"{self.plan_latency_ms:.3f} ms with the plan")
        return "\n".join(lines + [f"Note: {n}" for n in self.notes])

    def render(self, console: Any = None) -> None:
        """Print the table and footer."""
        from rich.console import Console

        console = console if console is not None else Console()
        console.print(self.table())
        console.print(self.footer(), markup=False, highlight=False)


def _best_per_method(cands: list[Candidate], limit: float) -> list[Candidate]:
    """Per method, the lowest-error candidate within ``limit`` MACs (else the cheapest)."""
    out = []
    for method in dict.fromkeys(c.method for c in cands):
        mine = [c for c in cands if c.method == method]
        fits = [c for c in mine if c.macs <= limit]
        out.append(min(fits, key=lambda c: c.output_error) if fits else
                   min(mine, key=lambda c: c.macs))
    return out


def advise(
    model: nn.Module,
    example_input: torch.Tensor | Sequence[int],
    budget: float = 0.5,
    methods: Sequence[str] = METHOD_NAMES,
    repeats: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> Advice:
    """Candidate replacements for every conv of ``model`` and the plan for ``budget``.

    Args:
        model: any ``nn.Module`` (not modified).
        example_input: a tensor ``(N, C, *spatial)`` or its shape (a seeded normal sample is
            drawn); errors and latencies are measured on it.
        budget: fraction of the model's conv MACs the plan may keep (default 0.5).
        methods: the methods to consider (default all five).
        repeats: timed runs per latency median (default 10; 0 measures nothing).
        progress: called as ``progress(done, total)`` while measuring (the CLI's bar).

    >>> net = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 8, 1))
    >>> a = advise(net, (1, 8, 8, 8), budget=0.5, methods=("tucker", "separable"), repeats=0)
    >>> a.plan_macs <= 0.5 * a.conv_macs, [layer.reason for layer in a.layers][1]
    (True, '1x1 conv: no spatial extent to factor, left alone')
    """
    budget = check_budget(budget)
    methods = tuple(check_method(m, allow_auto=False) for m in methods)
    if not isinstance(example_input, torch.Tensor):
        shape = tuple(int(v) for v in example_input)
        example_input = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    if not isinstance(model, nn.Module):
        raise ValueError(f"`model` (={type(model).__name__}) must be a torch.nn.Module")
    shape = tuple(example_input.shape)
    targets, layers = prepare_layers(model, example_input)
    rows, options, names = [], [], []
    for t in targets:
        why = [refusal(t.spec, m) for m in methods]
        if all(w is not None for w in why):
            rows.append(AdviceLayer(t.name, str(why[0]), []))
            continue
        lay = layers[t.name]
        best = _best_per_method(candidates(lay, methods), budget * lay.macs)
        opts = [AdviceOption("dense", None, lay.params, lay.macs, (), None, 0.0)]
        opts += [AdviceOption(c.method, c.rank, c.params, c.macs, (), None, c.output_error)
                 for c in best]
        modules = [t.module] + [c.module for c in best]
        for o, m in zip(opts, modules, strict=True):
            o.rf = tuple(receptive_field(m, lay.input_shape).sizes)
        rows.append(AdviceLayer(t.name, "", opts))
        options.append(modules)
        names.append(t.name)
    total = len(options)
    for i, (name, modules) in enumerate(zip(names, options, strict=True)):
        x = layers[name].x
        calls = {str(j): functools.partial(frozen(m, x.dtype, x.device), x)
                 for j, m in enumerate(modules)}
        times = latencies_ms(calls, repeats)
        row = next(r for r in rows if r.name == name)
        for j, o in enumerate(row.options):
            o.latency_ms = times.get(str(j))
        if progress is not None:
            progress(i + 1, total)
    from convzoo.decompose.measure import conv_macs

    conv_total = conv_macs(model, shape)
    open_rows = [r for r in rows if r.options]
    fixed = conv_total - sum(r.options[0].macs for r in open_rows)
    plan = choose([[Option(j, o.macs, o.output_error) for j, o in enumerate(r.options)]
                   for r in open_rows], budget * conv_total, fixed)
    notes = []
    if plan is None:
        notes.append(f"the budget ({budget:.0%}) cannot be met with these candidates; the plan "
                     "shows the cheapest options")
        plan = [min(range(len(r.options)), key=lambda j, r=r: r.options[j].macs)
                for r in open_rows]
    for r, j in zip(open_rows, plan, strict=True):
        r.options[j].recommended = True
        r.options.sort(key=lambda o: o.macs)
    plan_macs = fixed + sum(o.macs for r in open_rows for o in r.options if o.recommended)
    dense_ms = [r.options[-1].latency_ms for r in open_rows if r.options]
    lat = sum(o.latency_ms or 0 for r in open_rows for o in r.options if o.method == "dense")
    plan_lat = sum(o.latency_ms or 0 for r in open_rows for o in r.options if o.recommended)
    notes.append("Err: relative output error of the layer on the example input; RF: receptive "
                 "field of the layer alone; ms: median, 1 thread, interleaved")
    measured = repeats > 0 and bool(dense_ms)
    return Advice(rows, budget, shape, conv_total, plan_macs, lat if measured else None,
                  plan_lat if measured else None, notes)
