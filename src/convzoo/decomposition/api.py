"""``convzoo.decompose(model, example_input, method=..., rank=... | energy=... | budget=...)``."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn as nn

from convzoo.analysis.timing import check_repeats
from convzoo.decomposition.advising import Interrupted, example_tensor, latency_plan
from convzoo.decomposition.budget import check_budget, check_by
from convzoo.decomposition.capture import check_example
from convzoo.decomposition.factorization import check_energy
from convzoo.decomposition.latency import check_backend, runner, time_blocks
from convzoo.decomposition.measure import copy_model, set_module
from convzoo.decomposition.methods import check_method
from convzoo.decomposition.outputs import output_error, run_model
from convzoo.decomposition.progress import Steps
from convzoo.decomposition.report import LayerReport, Report
from convzoo.decomposition.search import Choice, Layer, Search
from convzoo.decomposition.target import METHOD_NAMES, check_model
from convzoo.decomposition.tucker import tucker_ranks
from convzoo.decomposition.workers import check_workers, one_thread

__all__ = ["decompose"]


def _ranked(layer: Layer, method: str, rank: Any, energy: float | None) -> Choice:
    """The option for an explicit ``rank`` (capped at the layer's full rank) or ``energy``."""
    c = layer.curves[method]
    if rank is None:
        r = c.rank_for_energy(1.0 if energy is None else energy)
    elif method == "tucker":
        r = tucker_ranks(rank, layer.target.spec)
    else:
        r = min(int(rank), int(c.full_rank))  # type: ignore[call-overload]
    return layer.choice(method, r)


def _positive(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _check_rank(method: str, rank: Any) -> None:
    """``rank`` validated before any work (capping at each layer's full rank comes later)."""
    if rank is None or _positive(rank):
        return
    if method == "tucker":
        if isinstance(rank, tuple | list) and len(rank) == 2 and all(map(_positive, rank)):
            return
        raise ValueError(f"`rank` (={rank!r}) must be a positive int or a pair (R_out, R_in) "
                         "of positive ints for method 'tucker'")
    raise ValueError(f"`rank` (={rank!r}) must be a positive int for method {method!r}")


def decompose(
    model: nn.Module,
    example_input: torch.Tensor,
    method: str,
    rank: Any = None,
    energy: float | None = None,
    budget: float | None = None,
    by: str = "macs",
    layers: Iterable[str] | None = None,
    repeats: int = 3,
    backend: str = "torch",
    data: Any = None,
    metric: Any = None,
    sensitivity: bool = False,
    progress: bool | None = None,
    workers: int | None = None,
) -> tuple[nn.Module, Report]:
    """Replace the dense convs of a (trained) model by cheaper convzoo layers.

    Args:
        model: any ``nn.Module`` with convs; never modified (a deep copy is decomposed). Its
            outputs may be tensors, tuples, dicts or ``transformers`` ``ModelOutput``.
        example_input: ``(N, C, *spatial)`` (or its shape), the input the report's counts,
            errors and latencies are measured at.
        method: ``'separable'``, ``'spatially_separable'``, ``'flattened'``, ``'cp'``,
            ``'tucker'``, ``'svd'`` or ``'auto'`` (per layer, the method and rank meeting
            ``budget`` with the lowest error).
        rank: one rank for every layer (capped at each layer's full rank; Tucker also takes
            ``(R_out, R_in)``). energy: per layer, the cheapest rank keeping this fraction of
            the squared weight norm (``||W_hat - W||^2 <= (1 - energy) ||W||^2``, the same for
            every method; ``1.0``: full rank, exact). budget: keep at most this fraction of
            the model's conv MACs (``by='macs'``, as ``convzoo.analysis.summary`` counts them)
            or of its convs' measured latency (``by='latency'``), spent across layers. At
            most one of the three; none means ``energy=1.0``.
        by: what ``budget`` counts: ``'macs'`` (default) or ``'latency'``.
        layers: names of the convs to consider (default: all).
        repeats: rounds of timed blocks for the latencies (default 3; 0 measures nothing).
        backend: where latency is measured: ``'torch'`` (default), ``'onnxruntime'`` or
            ``'openvino'`` (through :func:`convzoo.optimize`).
        data, metric, sensitivity: as for :func:`convzoo.advise` (data-aware factorizations
            and errors on the user's inputs; a model-level metric; sensitivity-weighted
            planning, default off here).
        progress: progress bars on stderr (default: when stderr is a terminal).
        workers: threads for per-layer factorization (default: the CPU cores, at most 4).

    Returns:
        ``(new_model, report)``: the decomposed copy (same dtype, device and mode) and a
        :class:`~convzoo.decomposition.report.Report`. A replacement that costs more MACs
        than the conv it replaces (a large ``rank`` or ``energy``) is flagged in the report
        and warned about (:class:`UserWarning`); a budget never picks one.

    Raises:
        Interrupted: on Ctrl-C (a ``KeyboardInterrupt``); nothing is returned.

    Shape:
        the new model maps the same input shape to the same output shape.

    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3))
    >>> x = torch.randn(1, 3, 8, 8)
    >>> new, report = decompose(net, x, "separable", budget=0.5, repeats=0)
    >>> [layer.status for layer in report.layers], new(x).shape == net(x).shape
    (['kept', 'decomposed'], True)
    >>> report.conv_macs_after <= 0.5 * report.conv_macs_before
    True
    """
    check_model(model)
    example = check_example(model, example_tensor(example_input))
    method = check_method(method)
    given = [k for k, v in (("rank", rank), ("energy", energy), ("budget", budget))
             if v is not None]
    if len(given) > 1:
        raise ValueError(f"`{given[0]}` and `{given[1]}` were both given: pass at most one of "
                         "`rank`, `energy`, `budget`")
    if energy is not None:
        energy = check_energy(energy)
        if data is not None:
            raise ValueError(f"`energy` (={energy}) keeps a fraction of the weight norm, which "
                             "`data` does not change: with `data`, pass `budget` or `rank`")
    if budget is not None:
        budget = check_budget(budget)
    by = check_by(by)
    if method == "auto" and budget is None:
        raise ValueError("`method` (='auto') needs `budget` (it picks per layer the method and "
                         "rank that meet it)")
    if method != "auto":
        _check_rank(method, rank)
    repeats = check_repeats(repeats, "repeats", 0)
    if by == "latency" and budget is not None and repeats < 1:
        raise ValueError(f"`repeats` (={repeats}) must be >= 1 when `by` is 'latency'")
    backend = check_backend(backend)
    methods = METHOD_NAMES if method == "auto" else (method,)
    new = copy_model(model)
    with Steps(progress) as steps, one_thread():
        search = Search(new, example, methods, data, metric, steps, check_workers(workers),
                        names=layers)
        notes: list[str] = []
        try:
            chosen = _choose(search, method, rank, energy, budget, by, repeats, backend,
                             sensitivity, notes)
            return _finish(model, new, search, chosen, method, rank, energy, budget, by,
                           repeats, backend, notes)
        except KeyboardInterrupt:
            raise Interrupted(search.stage) from None


def _choose(search: Search, method: str, rank: Any, energy: float | None,
            budget: float | None, by: str, repeats: int, backend: str,
            sensitivity: bool, notes: list[str]) -> dict[str, Choice]:
    """Each open layer's option; a note for ``notes`` (and a :class:`UserWarning`) where a
    latency budget cannot be met."""
    search.factorize()
    if budget is None:
        chosen = {layer.name: _ranked(layer, method, rank, energy) for layer in search.open}
    else:
        plan = search.refine(budget)
        if plan is None:
            raise ValueError(f"`budget` (={budget}) cannot be met: the cheapest plan keeps "
                             f"{search.cheapest_fraction():.1%} of the conv macs")
        if sensitivity:
            search.sensitivities(plan)
            plan = search.refine(budget) or plan
        if by == "latency":
            missed: list[str] = []
            plan = latency_plan(search, plan, budget, repeats, backend, missed)
            for note in missed:
                warnings.warn(f"decompose: {note}", UserWarning, stacklevel=4)
            notes += missed
        chosen = plan.picks
    pending = [(layer, chosen[layer.name]) for layer in search.open
               if chosen[layer.name].method != "dense"]
    polish = [(layer, ch) for layer, ch in pending if ch.method in ("cp", "flattened", "tucker")]
    if polish:
        search.stage = "refining factors"
        step = search.steps.step("refining factors", len(polish))
        try:
            search.pool.map(lambda item: item[0].polish(item[1]), polish,
                            lambda item: step.advance(f"{item[0].name} {item[1].method}"))
        finally:
            step.close()
    if pending:
        search.stage = "building replacements"
        search.evaluate_choices(pending, "building replacements")
    return chosen


def _finish(model: nn.Module, new: nn.Module, search: Search, chosen: dict[str, Choice],
            method: str, rank: Any, energy: float | None, budget: float | None, by: str,
            repeats: int, backend: str, notes: list[str]) -> tuple[nn.Module, Report]:
    search.stage = "measuring"
    search.eval_input()  # the dense output on the (cropped) evaluation input, before `new`
    # (the model the search holds) gets its replacements: computed after, it would be the
    # decomposed model's own output and the reported error 0
    rows: list[LayerReport] = []
    timed: dict[str, tuple[Any, Any]] = {}
    replaced: dict[str, nn.Module] = {}
    warned = []
    for layer in search.layers:
        dense = layer.dense
        ch = chosen.get(layer.name)
        if ch is None or ch.method == "dense":
            status = "skipped" if layer.reason else "kept"
            reason = layer.reason or "the plan keeps it dense (the budget is met without it)"
            rows.append(LayerReport(layer.name, status, reason, None, None, dense.params,
                                    dense.params, dense.macs, dense.macs))
            if not layer.reason:
                timed[layer.name] = (layer, None)
            continue
        module = layer.module(ch)
        replacement = copy.deepcopy(module).train(new.training)
        replaced[layer.name] = replacement
        c = layer.curves[ch.method]
        warning = ""
        if ch.macs >= dense.macs:
            ratio = ch.macs / max(dense.macs, 1)
            warning = (f"{ch.method} rank {_rank(ch.rank)} costs {ratio:.2f}x the conv's MACs "
                       f"({ch.macs:,} vs {dense.macs:,})")
            warned.append(layer.name)
        rows.append(LayerReport(layer.name, "decomposed", "", ch.method, ch.rank, dense.params,
                                ch.params, dense.macs, ch.macs,
                                weight_error=c.weight_error(ch.rank),  # type: ignore[arg-type]
                                output_error=layer.estimate(ch), warning=warning))
        timed[layer.name] = (layer, replacement)
    if warned:
        warnings.warn(f"decompose: {len(warned)} replacement(s) cost more MACs than the conv "
                      f"they replace ({', '.join(warned)}): lower `rank`/`energy`, or use "
                      "`budget`", UserWarning, stacklevel=3)
    if "" in replaced:  # the model is itself the conv
        new = replaced[""]
    else:
        for name, module in replaced.items():
            set_module(new, name, module)
    _layer_latencies(search, rows, timed, repeats, backend)
    report = _report(model, new, search, rows, method, rank, energy, budget, by, repeats, backend)
    report.notes[:0] = notes
    return new, report


def _rank(rank: Any) -> str:
    return "x".join(map(str, rank)) if isinstance(rank, tuple) else str(rank)


def _layer_latencies(search: Search, rows: list[LayerReport],
                     timed: dict[str, tuple[Layer, nn.Module | None]], repeats: int,
                     backend: str) -> None:
    if repeats < 1 or not timed:
        return
    from convzoo.decomposition.advising import layer_input

    step = search.steps.step("timing layers", len(timed))
    try:
        by_name = {r.name: r for r in rows}
        for name, (layer, module) in timed.items():
            x = layer_input(layer)
            calls = {"before": runner(layer.target.module, x, backend)}
            if module is not None:
                calls["after"] = runner(module, x, backend)
            t = time_blocks(calls, repeats, 3)
            by_name[name].latency_before_ms = t["before"].median_ms
            by_name[name].latency_after_ms = t.get("after", t["before"]).median_ms
            step.advance(name)
    finally:
        step.close()


def _report(model: nn.Module, new: nn.Module, search: Search, rows: list[LayerReport],
            method: str, rank: Any, energy: float | None, budget: float | None, by: str,
            repeats: int, backend: str) -> Report:
    x = search.example
    evaluated, before = search.eval_input()
    error = output_error(run_model(new, evaluated), before)
    shape = tuple(x.shape)
    saved = sum(r.macs_before - r.macs_after for r in rows)  # counted by arithmetic
    report = Report(rows, method, rank, energy, budget, by, shape, search.conv_total,
                    search.conv_total - saved, sum(p.numel() for p in model.parameters()),
                    sum(p.numel() for p in new.parameters()), None, None, error, backend)
    if repeats > 0:
        times = time_blocks({"before": runner(model, x, backend),
                             "after": runner(new, x, backend)}, repeats, 3)
        report.latency_before_ms = times["before"].median_ms
        report.latency_after_ms = times["after"].median_ms
        report.latency_before_spread_ms = times["before"].spread_ms
        report.latency_after_spread_ms = times["after"].spread_ms
    report.error_input = search.eval_description()
    report.seconds = search.close()
    if any(r.status == "decomposed" for r in rows):
        report.notes.append("errors are relative Frobenius norms; a layer's output error is "
                            "measured on a sample of the input patches it receives from the "
                            "original model")
    return report
