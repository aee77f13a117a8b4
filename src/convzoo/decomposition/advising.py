"""``convzoo.advise``: the selection guide as a tool. For every conv of a model, the candidate
replacements with params, MACs, measured latency and output error, the per-layer sensitivity
of the model, and the recommended plan for the budget, never slower than dense."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as nn

from convzoo.analysis.timing import check_repeats
from convzoo.decomposition.advice import Advice, AdviceLayer, AdviceOption, PlanScore
from convzoo.decomposition.budget import check_budget, check_by
from convzoo.decomposition.latency import Latency, check_backend, faster, runner, time_blocks
from convzoo.decomposition.measure import swapped
from convzoo.decomposition.methods import check_method
from convzoo.decomposition.outputs import run_model
from convzoo.decomposition.plan import Option, solve
from convzoo.decomposition.progress import Steps
from convzoo.decomposition.search import Choice, Layer, Plan, Search
from convzoo.decomposition.target import METHOD_NAMES
from convzoo.decomposition.workers import check_workers, one_thread

__all__ = ["advise", "Interrupted", "example_tensor", "check_methods"]

#: Above this many conv MACs, only dense and the recommended option of each layer are timed
#: (one run per block), and the plan's latency is the sum of its convs' (not the whole model's).
LARGE_MACS = 40_000_000_000


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`advise` or :func:`convzoo.decompose`.

    Attributes:
        stage: the step it stopped in. partial: the :class:`Advice` of what was done (None
            when nothing was).
    """

    def __init__(self, stage: str, partial: Any = None) -> None:
        super().__init__(stage)
        self.stage = stage
        self.partial = partial


def example_tensor(example_input: object) -> torch.Tensor:
    """A tensor, or a shape (a seeded standard normal sample is drawn)."""
    if isinstance(example_input, torch.Tensor):
        return example_input
    rule = "must be a tensor or a shape (N, C, *spatial) of positive ints"
    try:  # operator.index: 8.7 is refused, not truncated to 8
        shape = tuple(operator.index(v) for v in example_input)  # type: ignore[union-attr]
    except TypeError:
        raise ValueError(f"`example_input` (={example_input!r}) {rule}") from None
    if any(isinstance(v, bool) or v < 1 for v in example_input):  # type: ignore[union-attr]
        raise ValueError(f"`example_input` (={shape}) {rule}")
    return torch.randn(shape, generator=torch.Generator().manual_seed(0))


def check_methods(methods: object) -> tuple[str, ...]:
    """A non-empty sequence of method names (no ``'auto'``), each once."""
    if isinstance(methods, str) or not isinstance(methods, Sequence) or not methods:
        raise ValueError(f"`methods` (={methods!r}) must be a non-empty sequence of: "
                         f"{', '.join(METHOD_NAMES)}")
    return tuple(dict.fromkeys(check_method(m, allow_auto=False) for m in methods))


def advise(
    model: nn.Module,
    example_input: torch.Tensor | Sequence[int],
    budget: float = 0.5,
    methods: Sequence[str] = METHOD_NAMES,
    repeats: int = 3,
    by: str = "macs",
    backend: str = "torch",
    data: Any = None,
    metric: Any = None,
    sensitivity: bool = True,
    progress: bool | None = None,
    workers: int | None = None,
) -> Advice:
    """Candidate replacements for every conv of ``model`` and the plan for ``budget``.

    Args:
        model: any ``nn.Module`` with convs (not modified; its outputs may be tensors, tuples,
            dicts or ``transformers`` ``ModelOutput``).
        example_input: a tensor ``(N, C, *spatial)`` or its shape (a seeded normal sample is
            drawn); costs and latencies are at its shape.
        budget: the fraction of the model's conv MACs (``by='macs'``) or of its convs'
            measured latency (``by='latency'``) the plan may keep (default 0.5), spent across
            layers where it buys the most.
        methods: the methods to consider (default all six).
        repeats: rounds of timed blocks per candidate (default 3; 0 measures no latency).
        by: ``'macs'`` (default) or ``'latency'`` (the planner budgets measured time).
        backend: where latency is measured: ``'torch'`` (eager, default), ``'onnxruntime'`` or
            ``'openvino'`` (through :func:`convzoo.optimize`).
        data: a few batches of the user's inputs (a tensor or an iterable of tensors or of
            ``(input, ...)`` tuples): the factorizations minimise the output error on them
            (data-aware ``svd``, ``tucker``, ``cp``, ``flattened``), and errors and the
            model-level metric are measured on them.
        metric: ``metric(outputs, dense_outputs) -> float``, lower is better (default: the
            relative error of the whole output); plans are compared on it.
        sensitivity: measure each layer's sensitivity (one forward pass per conv) and plan
            with it (default True).

    Everything runs on one torch intra-op thread (factorizations on ``workers`` threads of
    one each): on a small or shared CPU, torch's spinning thread pool made the same search
    several times slower.
        progress: progress bars on stderr (default: when stderr is a terminal).
        workers: threads for per-layer factorization (default: the CPU cores, at most 4).

    Returns:
        an :class:`~convzoo.decomposition.advice.Advice`.

    Raises:
        Interrupted: on Ctrl-C, with what was done in ``.partial``.

    >>> net = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 8, 1))
    >>> a = advise(net, (1, 8, 8, 8), budget=0.5, methods=("tucker", "separable"), repeats=0)
    >>> a.plan_macs <= 0.5 * a.conv_macs, [layer.reason for layer in a.layers][1]
    (True, "1x1 conv: no spatial extent to factor (method 'svd' splits it into two 1x1 convs)")
    """
    budget = check_budget(budget)
    methods = check_methods(methods)
    repeats = check_repeats(repeats, "repeats", 0)
    by = check_by(by)
    backend = check_backend(backend)
    if by == "latency" and repeats < 1:
        raise ValueError(f"`repeats` (={repeats}) must be >= 1 when `by` is 'latency'")
    if not isinstance(sensitivity, bool):
        raise ValueError(f"`sensitivity` (={sensitivity!r}) must be True or False")
    example = example_tensor(example_input)
    with Steps(progress) as steps, one_thread():
        search = Search(model, example, methods, data, metric, steps, check_workers(workers))
        state: dict[str, Any] = {"plan": None}
        try:
            return _advise(search, budget, repeats, by, backend, sensitivity, state)
        except KeyboardInterrupt:
            stage = search.stage
            partial = _advice(search, budget, by, backend, state["plan"], interrupted=stage)
            partial.seconds = search.close()
            raise Interrupted(stage, partial) from None


def _advise(search: Search, budget: float, repeats: int, by: str, backend: str,
            sensitivity: bool, state: dict[str, Any]) -> Advice:
    notes: list[str] = []
    search.factorize()
    target = budget
    plan = search.refine(target)
    if plan is None:
        target = search.cheapest_fraction() * (1 + 1e-9)
        notes.append(f"the budget ({budget:.0%}) cannot be met: the cheapest plan keeps "
                     f"{target:.1%} of the conv MACs; it is shown instead")
        plan = search.refine(target)
    assert plan is not None
    state["plan"] = plan
    if sensitivity:
        search.sensitivities(plan)
        plan = search.refine(target) or plan
        state["plan"] = plan
    scores = _compare_plans(search, plan, target, sensitivity)
    best = min(scores, key=lambda s: s[1])
    plan = best[2]
    state["plan"] = plan
    if by == "latency":
        plan = latency_plan(search, plan, budget, repeats, backend, notes)
        state["plan"] = plan
    search.stage = "evaluating options"
    advice = _advice(search, budget, by, backend, plan, notes=notes)
    advice.plans = [PlanScore(name, p.macs, err, _plan_dict(p)) for name, err, p in
                    sorted(scores, key=lambda s: s[1])]
    advice.model_error = best[1] if by == "macs" else search.model_error(plan.picks)
    if repeats > 0:
        _measure(search, advice, plan, repeats, backend)
    advice.seconds = search.close()
    return advice


def _plan_dict(plan: Plan) -> dict[str, list[Any]]:
    return {name: [ch.method, list(ch.rank) if isinstance(ch.rank, tuple) else ch.rank]
            for name, ch in plan.picks.items() if ch.method != "dense"}


def _compare_plans(search: Search, plan: Plan, budget: float,
                   sensitivity: bool) -> list[tuple[str, float, Plan]]:
    """The plan, the plan without sensitivity weights and the two single-method plans with
    the lowest estimated error, scored by the model-level metric (one forward pass each;
    identical plans scored once)."""
    search.stage = "comparing plans"
    named = [("planned" if not sensitivity else "sensitivity-weighted", plan)]
    if sensitivity:
        unweighted = search.plan(budget, weighted=False)
        if unweighted is not None:
            named.append(("unweighted", unweighted))
    singles = []
    for method in search.methods:
        only = search.plan(budget, only=method)
        if only is not None:
            singles.append((search.objective(only), f"{method} only", only))
    named += [(name, p) for _, name, p in sorted(singles, key=lambda s: s[0])[:2]]
    seen: dict[tuple, float] = {}
    out = []
    step = search.steps.step("comparing plans", len(named))
    try:
        for name, p in named:
            key = tuple(sorted((k, c.key) for k, c in p.picks.items()))
            if key not in seen:
                seen[key] = search.model_error(p.picks)
                out.append((name, seen[key], p))
            step.advance(name)
    finally:
        step.close()
    return out


def _table_choices(search: Search, layer: Layer, plan: Plan) -> list[Choice]:
    """Dense, the planned option, and each other method at the plan's multiplier."""
    chosen = plan.picks[layer.name]
    out = [layer.dense, chosen] if chosen.method != "dense" else [layer.dense]
    for method in layer.curves:
        ch = search.at_lambda(layer, method, plan.lam)
        if ch is not None and ch.method != chosen.method and ch.macs < layer.dense.macs:
            out.append(ch)
    return out


def _advice(search: Search, budget: float, by: str, backend: str, plan: Plan | None,
            notes: list[str] | None = None, interrupted: str | None = None) -> Advice:
    """The Advice of the search's current state (partial when interrupted)."""
    if plan is not None and interrupted is None:
        pending = [(layer, ch) for layer in search.open
                   for ch in _table_choices(search, layer, plan)
                   if ch.method != "dense" and ch.output_error is None]
        if pending:
            search.evaluate_choices(pending, "evaluating options")
    rows = []
    for layer in search.layers:
        width = min(layer.target.spec.in_channels, layer.target.spec.out_channels)
        if layer.reason or plan is None:
            rows.append(AdviceLayer(layer.name, layer.reason or "not reached", width,
                                    layer.sensitivity, []))
            continue
        chosen = plan.picks[layer.name]
        options = []
        for ch in sorted(_table_choices(search, layer, plan), key=lambda c: -c.macs):
            options.append(AdviceOption(ch.method, ch.rank, ch.params, ch.macs,
                                        layer.estimate(ch), ch.output_error is not None
                                        or ch.method == "dense",
                                        recommended=ch is chosen))
        rows.append(AdviceLayer(layer.name, "", width, layer.sensitivity, options))
    plan_macs = plan.macs if plan is not None else search.conv_total
    return Advice(rows, budget, by, backend, search.shape, search.conv_total, plan_macs,
                  notes=list(notes or []), interrupted=interrupted)


def layer_input(layer: Layer) -> torch.Tensor:
    info = layer.info
    assert info is not None
    g = torch.Generator().manual_seed(0)
    return torch.randn(info.input_shape, generator=g, dtype=torch.float32).to(
        dtype=info.dtype, device=info.device)


def _time_layer(search: Search, layer: Layer, choices: list[Choice], repeats: int,
                block: int, backend: str) -> None:
    x = layer_input(layer)
    calls = {}
    for ch in choices:
        module = layer.target.module if ch.method == "dense" else layer.module(ch)
        calls[ch.method + str(ch.rank)] = runner(module, x, backend)
    times = time_blocks(calls, repeats, block)
    for ch in choices:
        ch.latency = times[ch.method + str(ch.rank)]


def latency_plan(search: Search, plan: Plan, budget: float, repeats: int, backend: str,
                  notes: list[str]) -> Plan:
    """``by='latency'``: each layer's options around the MAC plan (every method at a quarter,
    one and four times the plan's multiplier) timed, then planned on measured time."""
    search.stage = "timing candidates"
    per_layer: list[list[Choice]] = []
    for layer in search.open:
        found = {layer.dense.key: layer.dense}
        for method in layer.curves:
            for scale in (0.25, 1.0, 4.0):
                ch = search.at_lambda(layer, method, plan.lam * scale)
                if ch is not None:
                    found[ch.key] = ch
        per_layer.append(list(found.values()))
    step = search.steps.step("timing candidates", len(per_layer))
    try:
        for layer, choices in zip(search.open, per_layer, strict=True):
            _time_layer(search, layer, choices, repeats, 3, backend)
            step.advance(layer.name)
    finally:
        step.close()
    options = [[Option(ch, ch.latency.median_ms if ch.latency else 0.0,
                       ((layer.sensitivity or 1.0) * layer.estimate(ch)) ** 2)
                for ch in choices] for layer, choices in zip(search.open, per_layer, strict=True)]
    dense_ms = sum(layer.dense.latency.median_ms for layer in search.open
                   if layer.dense.latency is not None)
    solved = solve(options, budget * dense_ms)
    if solved is None:
        least = sum(min(o.cost for o in opts) for opts in options)
        notes.append(f"the latency budget ({budget:.0%}) cannot be met: the fastest options "
                     f"keep {least / max(dense_ms, 1e-12):.1%} of the convs' latency; they are "
                     "shown instead")
        solved = solve(options, least * (1 + 1e-9))
    assert solved is not None
    picks, lam = solved
    chosen = {layer.name: opts[j].key for layer, opts, j in
              zip(search.open, options, picks, strict=True)}
    macs = search.fixed_macs() + sum(ch.macs for ch in chosen.values())
    return Plan(chosen, plan.lam, macs)  # type: ignore[arg-type]


def _measure(search: Search, advice: Advice, plan: Plan, repeats: int, backend: str) -> None:
    """Time each layer's dense conv and recommended option (and, where that option is slower
    than dense, the layer's other options), then the whole model dense and with the plan;
    replace an option slower than dense by the fastest faster one (or dense), and recommend
    nothing rather than a plan slower than dense. Blocks of 2 runs (1 on large models)."""
    search.stage = "timing"
    large = search.conv_total > LARGE_MACS
    block = 1 if large else 2
    step = search.steps.step("timing layers", len(search.open))
    try:
        for layer, row in zip(search.open, [r for r in advice.layers if r.options],
                              strict=True):
            chosen = plan.picks[layer.name]
            choices = [layer.dense] + ([chosen] if chosen.method != "dense" else [])
            _time_layer(search, layer, choices, repeats, block, backend)
            if chosen.latency is not None and chosen.method != "dense" and \
                    faster(chosen.latency, layer.dense.latency) is False:  # type: ignore[arg-type]
                others = [ch for ch in _table_choices(search, layer, plan)
                          if ch.method not in ("dense", chosen.method)]
                if others:
                    _time_layer(search, layer, [layer.dense, chosen, *others], repeats, block,
                                backend)
            _fill_row(row, _table_choices(search, layer, plan), chosen, layer.dense.latency)
            step.advance(layer.name)
    finally:
        step.close()
    _guard_layers(search, advice, plan)
    _time_model(search, advice, plan, repeats, block, backend, large)
    _crossover(search, advice)


def _fill_row(row: AdviceLayer, choices: list[Choice], chosen: Choice,
              dense: Latency | None) -> None:
    by_key = {(c.method, c.rank): c for c in choices}
    for o in row.options:
        ch = by_key.get((o.method, o.rank))
        if ch is None or ch.latency is None:
            continue
        o.latency_ms, o.latency_spread_ms = ch.latency.median_ms, ch.latency.spread_ms
        if o.method != "dense" and dense is not None:
            o.speedup = dense.median_ms / max(ch.latency.median_ms, 1e-12)
            o.faster = faster(ch.latency, dense)


def _guard_layers(search: Search, advice: Advice, plan: Plan) -> None:
    """A recommended option measured slower than dense (beyond noise) gives way to the
    fastest option measured faster than dense, or to dense."""
    changed = []
    for layer, row in zip(search.open, [r for r in advice.layers if r.options], strict=True):
        rec = row.recommended()
        if rec is None or rec.method == "dense" or rec.faster is not False:
            continue
        quicker = [o for o in row.options if o.method != "dense" and o.faster]
        new = min(quicker, key=lambda o: o.latency_ms or 0.0) if quicker else row.options[0]
        rec.recommended, new.recommended = False, True
        plan.picks[layer.name] = layer.choice(new.method, new.rank)
        changed.append(f"{layer.name} ({rec.label} -> {new.label})")
    if changed:
        plan.macs = search.fixed_macs() + sum(ch.macs for ch in plan.picks.values())
        advice.plan_macs = plan.macs
        advice.notes.append("options measured slower than dense were replaced: "
                            + ", ".join(changed))
        if plan.macs > advice.budget * advice.conv_macs and advice.by == "macs":
            advice.notes.append(f"the plan now keeps {plan.macs / advice.conv_macs:.1%} of the "
                                f"conv MACs, above the budget, because the options that met "
                                "it ran slower than dense on this machine")
        advice.model_error = search.model_error(plan.picks)


def _time_model(search: Search, advice: Advice, plan: Plan, repeats: int, block: int,
                backend: str, large: bool) -> None:
    """Dense and the plan: the whole model (or, on large models, the sum of the convs)."""
    modules = {name: search.layers[[la.name for la in search.layers].index(name)].module(ch)
               for name, ch in plan.picks.items() if ch.method != "dense"}
    if large or "" in modules:
        dense = sum(la.dense.latency.median_ms for la in search.open if la.dense.latency)
        planned = sum((plan.picks[la.name].latency or la.dense.latency).median_ms
                      for la in search.open if la.dense.latency)
        advice.latency_ms, advice.plan_latency_ms = dense, planned
        advice.latency_scope = "layers"
        if planned >= dense and modules:
            _recommend_dense(search, advice, plan, "the sum of the planned convs' latencies")
        return
    x = search.example
    if not modules:  # the plan is the dense model: nothing to compare
        times = time_blocks({"dense": runner(search.model, x, backend)}, repeats, block)
        advice.latency_ms = advice.plan_latency_ms = times["dense"].median_ms
        advice.latency_spread_ms = advice.plan_latency_spread_ms = times["dense"].spread_ms
        advice.latency_scope = "model"
        return
    if backend == "torch":
        def planned_call() -> object:
            with swapped(search.model, modules):
                return run_model(search.model, x)
        calls = {"dense": lambda: run_model(search.model, x), "plan": planned_call}
    else:
        with swapped(search.model, modules):
            plan_call = runner(search.model, x, backend)
        calls = {"dense": runner(search.model, x, backend), "plan": plan_call}
    times = time_blocks(calls, repeats, block)
    advice.latency_ms, advice.latency_spread_ms = times["dense"].median_ms, \
        times["dense"].spread_ms
    advice.plan_latency_ms, advice.plan_latency_spread_ms = times["plan"].median_ms, \
        times["plan"].spread_ms
    advice.latency_scope = "model"
    if modules and times["plan"].median_ms >= times["dense"].median_ms:
        _recommend_dense(search, advice, plan, "the whole model with the plan")


def _recommend_dense(search: Search, advice: Advice, plan: Plan, what: str) -> None:
    for row in advice.layers:
        for o in row.options:
            o.recommended = o.method == "dense"
    for layer in search.open:
        plan.picks[layer.name] = layer.dense
    advice.notes.append(f"no plan is recommended: {what} measured no faster than dense on this "
                        f"machine ({advice.plan_latency_ms:.3f} vs {advice.latency_ms:.3f} ms); "
                        "the table keeps the options and their timings")
    advice.plan_macs = advice.conv_macs
    advice.plan_latency_ms = advice.latency_ms
    advice.model_error = 0.0


def _crossover(search: Search, advice: Advice) -> None:
    """Per method: the widths where its timed options were faster and slower than dense."""
    seen: dict[str, dict[str, list[int]]] = {}
    for row in advice.layers:
        for o in row.options:
            if o.method == "dense" or o.faster is None:
                continue
            side = "faster" if o.faster else "slower"
            seen.setdefault(o.method, {"faster": [], "slower": []})[side].append(row.width)
    def span(widths: list[int]) -> str:
        return f"{widths[0]} channels" if widths[0] == widths[-1] else \
            f"{widths[0]} to {widths[-1]} channels"

    for method, sides in seen.items():
        fast, slow = sorted(set(sides["faster"])), sorted(set(sides["slower"]))
        if fast and not slow:
            text = f"faster than dense at every width timed ({span(fast)})"
        elif slow and not fast:
            text = f"slower than dense at every width timed ({span(slow)})"
        elif max(slow) < min(fast):
            text = (f"slower up to {max(slow)} channels, faster from {min(fast)}: the crossover "
                    f"lies between on this machine")
        else:
            text = (f"no clean crossover: faster at widths {', '.join(map(str, fast))}; slower "
                    f"at {', '.join(map(str, slow))}")
        advice.crossover[method] = text
