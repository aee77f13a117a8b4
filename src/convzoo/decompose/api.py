"""``convzoo.decompose(model, example_input, method=..., rank=... | energy=... | budget=...)``."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn as nn

from convzoo.analysis.timing import check_repeats
from convzoo.decompose.candidates import Candidate, Layer, candidates, evaluate
from convzoo.decompose.factorization import check_energy
from convzoo.decompose.measure import (
    capture_inputs,
    conv_macs,
    cost,
    frozen,
    latencies_ms,
    relative_error,
)
from convzoo.decompose.methods import check_method, factorize
from convzoo.decompose.plan import Option, choose
from convzoo.decompose.report import LayerReport, Report
from convzoo.decompose.target import METHOD_NAMES, Target, find_targets, refusal

__all__ = ["decompose", "check_budget", "check_by", "prepare_layers", "BY"]

#: What a budget counts.
BY = ("macs", "latency")


def check_budget(budget: object) -> float:
    """``budget``: a number in ``(0, 1]``, the fraction of the model's conv cost kept.

    >>> check_budget(0.34)
    0.34
    """
    ok = isinstance(budget, int | float) and not isinstance(budget, bool)
    if not ok or not 0 < budget <= 1:  # type: ignore[operator]
        raise ValueError(f"`budget` (={budget!r}) must be a number in (0, 1] (the fraction of "
                         "the model's conv MACs, or latency, kept)")
    return float(budget)  # type: ignore[arg-type]


def check_by(by: object) -> str:
    """``by``: ``'macs'`` or ``'latency'``."""
    if by not in BY:
        raise ValueError(f"`by` (={by!r}) must be one of: {', '.join(BY)}")
    return str(by)


def _check_input(model: object, example_input: object) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"`model` (={type(model).__name__}) must be a torch.nn.Module")
    if not isinstance(example_input, torch.Tensor) or example_input.dim() < 3:
        shape = tuple(example_input.shape) if isinstance(example_input, torch.Tensor) else \
            type(example_input).__name__
        raise ValueError(f"`example_input` (={shape}) must be a torch.Tensor of shape "
                         "(N, C, *spatial)")


def prepare_layers(model: nn.Module, example_input: torch.Tensor,
                   layers: Iterable[str] | None = None) -> tuple[list[Target], dict[str, Layer]]:
    """Every conv target of ``model`` and, for those called on the example, a :class:`Layer`
    (input, float64 output, own params and MACs)."""
    targets = find_targets(model)
    if layers is not None:
        wanted = list(layers) if not isinstance(layers, str) else [layers]
        names = {t.name for t in targets}
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise ValueError(f"`layers` (={unknown!r}) must name conv modules of the model; "
                             f"valid: {', '.join(sorted(names))}")
        targets = [t for t in targets if t.name in wanted]
    inputs = capture_inputs(model, example_input, [t.name for t in targets])
    out: dict[str, Layer] = {}
    for t in targets:
        x = inputs[t.name]
        with torch.no_grad():
            y = frozen(t.module, torch.float64, x.device)(x.to(torch.float64))
        params, macs = cost(t.module, tuple(x.shape))
        out[t.name] = Layer(t, x, y, params, macs)
    return targets, out


def _timed(module: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    """A call of an eval-mode copy of ``module`` (at ``x``'s dtype) on ``x``, for timing."""
    return functools.partial(frozen(module, x.dtype, x.device), x)


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def _plan(layers: dict[str, Layer], open_: list[str], methods: tuple[str, ...], budget: float,
          by: str, total: float, fixed: float, repeats: int,
          latency: dict[str, float]) -> dict[str, Candidate | None]:
    options, keys = [], []
    for name in open_:
        layer = layers[name]
        cands = candidates(layer, methods)
        if by == "latency":
            calls = {str(i): _timed(c.module, layer.x) for i, c in enumerate(cands)}
            for i, ms in latencies_ms(calls, repeats).items():
                cands[int(i)].latency_ms = ms
        keep = Option(None, latency[name] if by == "latency" else layer.macs, 0.0)
        opts = [keep] + [Option(c, c.latency_ms if by == "latency" else c.macs,
                                c.output_error) for c in cands]
        options.append(opts)
        keys.append(name)
    picks = choose(options, budget * total, fixed)
    if picks is None:
        cheapest = fixed + sum(min(o.cost for o in opts) for opts in options)
        raise ValueError(f"`budget` (={budget}) cannot be met: the cheapest plan keeps "
                         f"{cheapest / total:.1%} of the conv {by}")
    return {name: opts[j].key for name, opts, j in zip(keys, options, picks, strict=True)}


def decompose(
    model: nn.Module,
    example_input: torch.Tensor,
    method: str,
    rank: Any = None,
    energy: float | None = None,
    budget: float | None = None,
    by: str = "macs",
    layers: Iterable[str] | None = None,
    repeats: int = 10,
) -> tuple[nn.Module, Report]:
    """Replace the dense convs of a (trained) model by cheaper convzoo layers.

    Args:
        model: any ``nn.Module``; never modified (a deep copy is decomposed).
        example_input: ``(N, C, *spatial)``, the input the report's errors, counts and
            latencies are measured on.
        method: ``'separable'``, ``'spatially_separable'``, ``'flattened'``, ``'cp'``,
            ``'tucker'`` or ``'auto'`` (per layer, the method and rank meeting ``budget`` with
            the lowest output error).
        rank: one rank for every layer (capped at each layer's full rank; Tucker also takes
            ``(R_out, R_in)``). energy: keep this fraction of the squared spectrum
            (``1.0``: full rank, exact). budget: keep at most this fraction of the model's
            conv MACs (as ``convzoo.analysis.summary`` counts them), choosing ranks per layer.
            At most one of the three; none means ``energy=1.0``.
        by: what ``budget`` counts: ``'macs'`` (default) or ``'latency'`` (measured).
        layers: names of the convs to consider (default: all).
        repeats: timed runs per latency median (default 10; 0 measures nothing).

    Returns:
        ``(new_model, report)``: the decomposed copy (same dtype, device and mode) and a
        :class:`~convzoo.decompose.report.Report`.

    Shape:
        the new model maps the same input shape to the same output shape.

    >>> net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3))
    >>> new, report = decompose(net, torch.randn(1, 3, 8, 8), "separable", repeats=0)
    >>> [layer.status for layer in report.layers], report.output_error < 1e-5
    (['decomposed', 'decomposed'], True)
    """
    _check_input(model, example_input)
    method = check_method(method)
    given = [k for k, v in (("rank", rank), ("energy", energy), ("budget", budget))
             if v is not None]
    if len(given) > 1:
        raise ValueError(f"`{given[0]}` and `{given[1]}` were both given: pass at most one of "
                         "`rank`, `energy`, `budget`")
    if energy is not None:
        energy = check_energy(energy)
    if budget is not None:
        budget = check_budget(budget)
    by = check_by(by)
    if method == "auto" and budget is None:
        raise ValueError("`method` (='auto') needs `budget` (it picks per layer the method and "
                         "rank that meet it)")
    repeats = check_repeats(repeats, "repeats", 0)
    if by == "latency" and budget is not None and repeats < 1:
        raise ValueError(f"`repeats` (={repeats}) must be >= 1 when `by` is 'latency'")
    new = copy.deepcopy(model)
    shape = tuple(example_input.shape)
    targets, prepared = prepare_layers(new, example_input, layers)
    methods = METHOD_NAMES if method == "auto" else (method,)
    reasons: dict[str, str] = {}
    for t in targets:
        why = [refusal(t.spec, m) for m in methods]
        if all(w is not None for w in why):
            reasons[t.name] = str(why[0])
    open_ = [t.name for t in targets if t.name not in reasons]
    latency_before = latencies_ms(
        {n: _timed(lay.target.module, lay.x) for n, lay in prepared.items()}, repeats)
    chosen: dict[str, Candidate | None] = {}
    if budget is None:
        for name in open_:
            lay = prepared[name]
            chosen[name] = evaluate(lay, factorize(lay.target, method, rank, energy))
    else:
        total = conv_macs(model, shape) if by == "macs" else sum(latency_before.values())
        opened = sum(prepared[n].macs if by == "macs" else latency_before[n] for n in open_)
        chosen = _plan(prepared, open_, methods, budget, by, total, total - opened, repeats,
                       latency_before)
    rows: list[LayerReport] = []
    after = latencies_ms({n: _timed(c.module, prepared[n].x) for n, c in chosen.items()
                          if c is not None}, repeats)
    for t in targets:
        lay, cand = prepared[t.name], chosen.get(t.name)
        before = latency_before.get(t.name)
        if cand is None:
            status = "skipped" if t.name in reasons else "kept"
            reason = reasons.get(t.name, "the plan keeps it dense (budget met without it)")
            rows.append(LayerReport(t.name, status, reason, None, None, lay.params, lay.params,
                                    lay.macs, lay.macs, before, before))
            continue
        dtype = next(t.module.parameters()).dtype  # the model's, not the float64 factors'
        replacement = copy.deepcopy(cand.module).to(dtype=dtype, device=lay.x.device)
        replacement.train(new.training)
        _set(new, t.name, replacement)
        rows.append(LayerReport(t.name, "decomposed", "", cand.method, cand.rank, lay.params,
                                cand.params, lay.macs, cand.macs, before, after.get(t.name),
                                cand.weight_error, cand.output_error))
    return new, _finish(model, new, example_input, rows, method, rank, energy, budget, by,
                        repeats)


def _finish(model: nn.Module, new: nn.Module, x: torch.Tensor, rows: list[LayerReport],
            method: str, rank: Any, energy: float | None, budget: float | None, by: str,
            repeats: int) -> Report:
    shape = tuple(x.shape)
    old_eval, new_eval = frozen(model, x.dtype, x.device), frozen(new, x.dtype, x.device)
    with torch.no_grad():
        error = relative_error(new_eval(x).to(torch.float64), old_eval(x).to(torch.float64))
    times = latencies_ms({"before": lambda: old_eval(x), "after": lambda: new_eval(x)}, repeats)
    notes = []
    if any(r.status == "decomposed" for r in rows):
        notes.append("errors are relative Frobenius norms; layer output errors are measured on "
                     "the input each layer receives from the original model on the example")
    return Report(
        rows, method, rank, energy, budget, by, shape, conv_macs(model, shape),
        conv_macs(new, shape), sum(p.numel() for p in model.parameters()),
        sum(p.numel() for p in new.parameters()), times.get("before"), times.get("after"),
        error, notes)
