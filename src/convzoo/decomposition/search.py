"""The search behind :func:`convzoo.advise` and ``convzoo.decompose(budget=...)``.

1. **Capture** (:mod:`~convzoo.decomposition.capture`): one forward pass; each conv's input
   shape and a sample of its input patches (and, with data, its channel moments).
2. **Factorize** (:class:`Search.factorize`): per layer and method, one decomposition
   (:mod:`~convzoo.decomposition.curve`), in parallel over layers on one torch thread per
   worker. Every rank's cost is counted and every SVD-based rank's error is exact from it.
3. **Plan** (:meth:`Search.plan`): one option per layer (dense or a method at a rank) for the
   whole model's MAC budget, minimising the summed squared errors weighted by each layer's
   sensitivity (:mod:`~convzoo.decomposition.plan`; no per-layer cap).
4. **Refine around the plan** (:meth:`Search.refine`): CP-ALS for the ``cp``/``flattened``
   ranks whose cost is near the plan's, then each planned option and its neighbours evaluated
   on the sampled patches (float32); planned again until the plan stops changing.
5. **Sensitivity** (:meth:`Search.sensitivities`): the model-level metric with only one layer
   decomposed, per layer, divided by that layer's error: how much the model moves per unit of
   the layer's error.

Errors of options never evaluated are the method's curve errors scaled by the ratio of
evaluated to curve error for that layer and method (1 until one is evaluated).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from convzoo.decomposition.capture import LayerInfo, capture, check_data, check_example
from convzoo.decomposition.curve import Curve
from convzoo.decomposition.factorization import Rank
from convzoo.decomposition.latency import Latency
from convzoo.decomposition.measure import conv_macs, swapped
from convzoo.decomposition.methods import curve
from convzoo.decomposition.outputs import float_leaves, output_error, run_model
from convzoo.decomposition.plan import Option, pick, solve
from convzoo.decomposition.progress import Steps
from convzoo.decomposition.replacement import Decomposed
from convzoo.decomposition.stats import sampled_error
from convzoo.decomposition.target import Target, check_model, refusal
from convzoo.decomposition.workers import Pool

__all__ = ["Choice", "Layer", "Search", "Metric", "check_metric", "SENSITIVITY_POSITIONS"]

#: A model-level metric: ``metric(outputs, dense_outputs) -> float``, lower is better.
Metric = Callable[[Any, Any], float]

#: Sensitivities are measured on an input of at most this many spatial positions per sample:
#: larger inputs are centre-cropped (each spatial side halved until it fits) when the model
#: takes the crop, so that a 512x512 U-Net needs one 256x256 forward pass per layer.
SENSITIVITY_POSITIONS = 65_536


def check_metric(metric: object) -> Metric:
    """``metric``: None (the relative error of the whole output) or a callable."""
    if metric is None:
        return output_error
    if not callable(metric):
        raise ValueError(f"`metric` (={type(metric).__name__}) must be a callable "
                         "metric(outputs, dense_outputs) -> float (lower is better)")
    return metric  # type: ignore[return-value]


@dataclass
class Choice:
    """One way to run a layer.

    Attributes:
        method: ``'dense'`` (the conv as it is) or a method. rank: its rank (None for dense).
        params, macs: counted (MACs summed over the model's calls of the layer).
        curve_error: the method's own error for the rank (weight error, or with data the
            output error on the data sample). output_error: the relative error of the layer's
            output on the sampled patches, once evaluated (None before).
        latency: measured, or None.
    """

    method: str
    rank: Rank | None
    params: int
    macs: int
    curve_error: float
    output_error: float | None = None
    latency: Latency | None = None

    @property
    def key(self) -> tuple[str, Rank | None]:
        """``(method, rank)``."""
        return self.method, self.rank


@dataclass
class Layer:
    """One conv in the search: what it saw, its curves, its options.

    Attributes:
        name, target, info: the conv and what it saw (None when never called).
        reason: why it is not searched ('' when it is). methods: the methods that accept it.
        curves: method -> :class:`~convzoo.decomposition.curve.Curve` (after factorizing).
        sensitivity: model-level error per unit of this layer's output error (None until
            measured).
    """

    name: str
    target: Target
    info: LayerInfo | None
    reason: str
    methods: tuple[str, ...]
    curves: dict[str, Curve] = field(default_factory=dict)
    sensitivity: float | None = None
    choices: dict[tuple[str, Rank | None], Choice] = field(default_factory=dict)
    modules: dict[tuple[str, Rank | None], nn.Module] = field(default_factory=dict)

    @property
    def dense(self) -> Choice:
        """The layer as it is."""
        key = ("dense", None)
        if key not in self.choices:
            params, macs = self.target.spec.params, 0
            if self.info is not None:
                first = self.target.spec.macs(self.info.input_shape)
                macs = first * self.info.calls
            self.choices[key] = Choice("dense", None, params, macs, 0.0, 0.0)
        return self.choices[key]

    def choice(self, method: str, rank: Rank) -> Choice:
        """The option ``(method, rank)`` (counted once, cached)."""
        if method == "dense":
            return self.dense
        key = (method, rank)
        if key not in self.choices:
            c = self.curves[method]
            params, macs = c.cost(rank)
            calls = self.info.calls if self.info is not None else 1
            self.choices[key] = Choice(method, rank, params, macs * calls, c.error(rank))
        return self.choices[key]

    def options(self) -> list[Choice]:
        """Dense and every known rank of every curve cheaper than dense."""
        out = [self.dense]
        for method, c in self.curves.items():
            out += [self.choice(method, r) for r in c.grid() if c.known(r)]
        return out

    def ratio(self, method: str) -> float:
        """Evaluated output error / curve error for this layer and method (1 before any)."""
        pairs = [(ch.output_error, ch.curve_error) for ch in self.choices.values()
                 if ch.method == method and ch.output_error is not None and ch.curve_error > 0]
        if not pairs:
            return 1.0
        return sum(o for o, _ in pairs) / max(sum(c for _, c in pairs), 1e-300)

    def estimate(self, choice: Choice, ratios: dict[str, float] | None = None) -> float:
        """The layer's output error for ``choice``: evaluated, or estimated from its curve
        (``ratios``: :meth:`ratio` per method, when the caller has them)."""
        if choice.output_error is not None:
            return choice.output_error
        ratio = ratios[choice.method] if ratios is not None else self.ratio(choice.method)
        return choice.curve_error * ratio

    def ratios(self) -> dict[str, float]:
        """:meth:`ratio` of every method."""
        return {m: self.ratio(m) for m in self.curves}

    def polish(self, choice: Choice) -> None:
        """Refine a choice's factors (CP-ALS to convergence for ``cp``/``flattened``, HOOI for
        ``tucker``; its module and error redone)."""
        c = self.curves.get(choice.method)
        if c is None or not hasattr(c, "polish") or not c.polish(choice.rank):
            return
        choice.curve_error = c.error(choice.rank)
        choice.output_error = None
        self.modules.pop(choice.key, None)

    def module(self, choice: Choice) -> nn.Module:
        """The replacement of ``choice`` (built once, on the layer's device)."""
        if choice.key not in self.modules:
            f = self.curves[choice.method].build(choice.rank)  # type: ignore[arg-type]
            device = self.info.device if self.info is not None else torch.device("cpu")
            stages = list(f.module) if type(f.module) is nn.Sequential else [f.module]
            self.modules[choice.key] = Decomposed(self.target.module, *stages).to(device).eval()
            if choice.output_error is None and self.info is not None:
                choice.output_error = sampled_error(self.info.sample,
                                                    f.weight - self.target.weight)
        return self.modules[choice.key]

    def neighbours(self, choice: Choice) -> list[Choice]:
        """The next cheaper and dearer known ranks of the same method."""
        if choice.method == "dense":
            return []
        c = self.curves[choice.method]
        ranks = [r for r in c.grid() if c.known(r)]
        if choice.rank not in ranks:
            return []
        i = ranks.index(choice.rank)
        return [self.choice(choice.method, r) for r in ranks[max(i - 1, 0):i + 2]
                if r != choice.rank]


@dataclass
class Plan:
    """One option per searched layer, and the multiplier the planner ended at."""

    picks: dict[str, Choice]
    lam: float
    macs: int


class Search:
    """The state of one search (see the module docstring); partial results stay readable
    after an interruption.

    Args:
        model: the model (never modified: replacements are swapped in and out).
        example: ``(N, C, *spatial)`` input; costs and latencies are at its shape.
        methods: the methods to consider.
        data: batches of the user's inputs (data-aware factorizations, errors and the
            model-level metric on them) or None. metric: model-level metric (None: relative
            output error). steps: the progress bars. workers: threads for per-layer work.
    """

    def __init__(self, model: nn.Module, example: torch.Tensor, methods: Sequence[str],
                 data: object = None, metric: object = None, steps: Steps | None = None,
                 workers: int = 1, seed: int = 0, names: Iterable[str] | None = None) -> None:
        targets = _restrict(check_model(model), names)
        for t in targets:
            for kind, w in (("weight", t.weight), ("bias", t.bias)):
                if w is not None and not bool(torch.isfinite(w).all()):
                    raise ValueError(f"`model` conv {t.name!r} holds NaN or Inf in its {kind}: "
                                     "every value must be finite")
        self.seconds: dict[str, float] = {}
        self._stage, self._since = "", time.perf_counter()
        self.model = model
        self.example = check_example(model, example)
        self.methods = tuple(methods)
        self.data = check_data(data)
        self.metric = check_metric(metric)
        self.steps = steps if steps is not None else Steps(False)
        self.pool = Pool(workers)
        self.stage = "capturing layer inputs"
        self.infos, self.example_output, self.data_outputs = capture(
            model, self.example, targets, self.data, seed=seed)
        for out in float_leaves(self.example_output):
            if not bool(torch.isfinite(out).all()):
                raise ValueError(f"`model` ({type(model).__name__}) gives NaN or Inf on "
                                 f"`example_input` (shape {tuple(self.example.shape)}): the "
                                 "errors would be meaningless")
        self.shape = tuple(self.example.shape)
        self.conv_total = conv_macs(model, self.shape)
        self.layers: list[Layer] = []
        for t in targets:
            info = self.infos.get(t.name)
            why = [refusal(t.spec, m) for m in self.methods]
            ok = tuple(m for m, w in zip(self.methods, why, strict=True) if w is None)
            if t.problem:
                reason = t.problem
            elif info is None:
                reason = "never called on the example input"
            elif len(set(info.shapes)) > 1:
                sizes = ", ".join(str(tuple(s[1:])) for s in dict.fromkeys(info.shapes))
                reason = (f"called at {len(set(info.shapes))} input sizes ({sizes}) per "
                          "forward pass: the MACs differ per call; left alone")
            elif not ok:
                reason = str(next(w for w in why if w is not None))
            else:
                reason = ""
            self.layers.append(Layer(t.name, t, info, reason, ok if not reason else ()))
        self.open = [layer for layer in self.layers if not layer.reason]
        self._eval_input: tuple[torch.Tensor, Any] | None = None
        self._probed: set[tuple[str, str]] = set()

    @property
    def stage(self) -> str:
        """The step running now (Ctrl-C reports it)."""
        return self._stage

    @stage.setter
    def stage(self, name: str) -> None:
        now = time.perf_counter()
        if self._stage:
            self.seconds[self._stage] = self.seconds.get(self._stage, 0.0) + now - self._since
        self._stage, self._since = name, now

    def close(self) -> dict[str, float]:
        """End the current step; seconds spent per step."""
        self.stage = ""
        return dict(self.seconds)

    # -- 2. factorize ------------------------------------------------------------------------
    def factorize(self) -> None:
        """Every open layer's curves, in parallel over layers."""
        self.stage = "factorizing"
        jobs = [(layer, m) for layer in self.open for m in layer.methods
                if m not in layer.curves]
        step = self.steps.step("factorizing", len(jobs))

        def one(job: tuple[Layer, str]) -> Curve:
            layer, method = job
            assert layer.info is not None
            return curve(layer.target, method, layer.info.input_shape, layer.info.sample,
                         self.pool.stop)

        try:
            results = self.pool.map(one, jobs, lambda job: step.advance(f"{job[0].name} "
                                                                        f"{job[1]}"))
        finally:
            step.close()
        for (layer, method), c in zip(jobs, results, strict=True):
            layer.curves[method] = c

    # -- 3. plan ---------------------------------------------------------------------------
    def fixed_macs(self) -> int:
        """Conv MACs outside the searched layers (kept whatever the plan)."""
        return self.conv_total - sum(layer.dense.macs for layer in self.open)

    def _weight(self, layer: Layer) -> float:
        return layer.sensitivity if layer.sensitivity is not None else 1.0

    def plan(self, budget: float, only: str | None = None,
             weighted: bool = True) -> Plan | None:
        """The options meeting ``budget`` (a fraction of the conv MACs) with the lowest summed
        squared (sensitivity-weighted) error; None when even the cheapest cannot. ``only``
        restricts it to one method (and dense)."""
        per_layer = []
        for layer in self.open:
            s = self._weight(layer) if weighted else 1.0
            ratios = layer.ratios()
            opts = [ch for ch in layer.options() if only is None or ch.method in (only, "dense")]
            per_layer.append([Option(ch, ch.macs, (s * layer.estimate(ch, ratios)) ** 2)
                              for ch in opts])
        limit = budget * self.conv_total
        fixed = self.fixed_macs()
        solved = solve(per_layer, limit, fixed)
        if solved is None:
            return None
        picks, lam = solved
        chosen = {layer.name: opts[j].key for layer, opts, j in
                  zip(self.open, per_layer, picks, strict=True)}
        macs = fixed + sum(ch.macs for ch in chosen.values())
        return Plan(chosen, lam, macs)  # type: ignore[arg-type]

    def objective(self, plan: Plan) -> float:
        """The planner's estimate of ``plan``'s model-level error: the root of the summed
        squared, sensitivity-weighted layer errors."""
        total = 0.0
        for layer in self.open:
            ch = plan.picks[layer.name]
            total += (self._weight(layer) * layer.estimate(ch)) ** 2
        return math.sqrt(total)

    def cheapest_fraction(self) -> float:
        """The smallest fraction of the conv MACs any plan reaches."""
        least = self.fixed_macs() + sum(min(ch.macs for ch in layer.options())
                                        for layer in self.open)
        return least / max(self.conv_total, 1)

    def at_lambda(self, layer: Layer, method: str, lam: float) -> Choice | None:
        """The option of ``method`` that layer would take at multiplier ``lam`` (its best
        trade-off of that method), or None if the method has no known option."""
        s = self._weight(layer)
        ratios = layer.ratios()
        opts = [ch for ch in layer.options() if ch.method == method]
        if not opts:
            return None
        return opts[pick([Option(ch, ch.macs, (s * layer.estimate(ch, ratios)) ** 2)
                          for ch in opts], lam)]

    # -- 4. refine around the plan -----------------------------------------------------------
    def _terms_near(self, plan: Plan | None, budget: float) -> list[tuple[Layer, str, int]]:
        """For each layer not probed yet, the CP/flattened rank that costs most within the
        planned option's MACs (before any plan: ``budget`` of the layer's; or the smallest
        rank): one ALS per layer and method, where the plan is (a CP-ALS sweep of a wide
        layer costs as much as its SVDs)."""
        jobs = []
        for layer in self.open:
            target = plan.picks[layer.name].macs if plan is not None else \
                int(budget * layer.dense.macs)
            for method in ("cp", "flattened"):
                c = layer.curves.get(method)
                if c is None or (layer.name, method) in self._probed:
                    continue
                self._probed.add((layer.name, method))
                grid = c.grid()
                calls = layer.info.calls if layer.info is not None else 1
                below = [r for r in grid if c.cost(r)[1] * calls <= max(target, 1)]
                for r in (below[-1:] or grid[:1]):
                    if not c.known(r):
                        jobs.append((layer, method, r))
        return jobs

    def _to_evaluate(self, plan: Plan) -> list[tuple[Layer, Choice]]:
        out = []
        for layer in self.open:
            chosen = plan.picks[layer.name]
            for ch in [chosen, *layer.neighbours(chosen)]:
                if ch.method != "dense" and ch.output_error is None:
                    out.append((layer, ch))
        return out

    def refine(self, budget: float, rounds: int = 2) -> Plan | None:
        """Plan, then solve CP/flattened near the plan and evaluate the planned options and
        their neighbours on the samples, and plan again, until the plan is stable."""
        self.stage = "searching ranks"
        plan = self.plan(budget)
        if plan is None:  # CP/flattened options may make it feasible: probe them first
            jobs = self._terms_near(None, budget)
            if jobs:
                self._solve_terms(jobs)
                plan = self.plan(budget)
        for _ in range(rounds):
            if plan is None:
                return None
            jobs = self._terms_near(plan, budget)
            if jobs:
                self._solve_terms(jobs)
                plan = self.plan(budget) or plan
            pending = self._to_evaluate(plan)
            if pending:
                self.evaluate_choices(pending, "evaluating candidates")
            again = self.plan(budget)
            if again is None or {k: c.key for k, c in again.picks.items()} == \
                    {k: c.key for k, c in plan.picks.items()}:
                return again or plan
            plan = again
        return plan

    def _solve_terms(self, jobs: list[tuple[Layer, str, int]]) -> None:
        step = self.steps.step("CP-ALS near the plan", len(jobs))
        try:
            self.pool.map(lambda job: job[0].curves[job[1]].error(job[2]), jobs,
                          lambda job: step.advance(f"{job[0].name} {job[1]} r{job[2]}"))
        finally:
            step.close()

    def evaluate_choices(self, pending: list[tuple[Layer, Choice]], what: str) -> None:
        """Build each option (once) and evaluate its error on the layer's samples."""
        step = self.steps.step(what, len(pending))
        try:
            self.pool.map(lambda item: item[0].module(item[1]), pending,
                          lambda item: step.advance(f"{item[0].name} {item[1].method}"))
        finally:
            step.close()

    # -- 5. model-level -----------------------------------------------------------------------
    def eval_input(self) -> tuple[torch.Tensor, Any]:
        """The input model-level errors are measured on and the dense model's output there:
        the first data batch (else the example), centre-cropped when it has more than
        :data:`SENSITIVITY_POSITIONS` positions per sample and the model takes the crop."""
        if self._eval_input is None:
            x = self.data[0] if self.data is not None else self.example
            ref = self.data_outputs[0] if self.data_outputs is not None else self.example_output
            crop = _crop(x)
            if crop is not None:
                try:
                    out = run_model(self.model, crop)
                    if len(_leaves_shapes(out)) == len(_leaves_shapes(ref)):
                        x, ref = crop, out
                except (RuntimeError, ValueError, IndexError):
                    pass
            self._eval_input = (x, ref)
        return self._eval_input

    def eval_description(self) -> str:
        """What :meth:`eval_input` is, in words."""
        x, _ = self.eval_input()
        what = "the first data batch" if self.data is not None else "the example"
        full = self.data[0] if self.data is not None else self.example
        if tuple(x.shape) != tuple(full.shape):
            what += f" (centre crop {'x'.join(map(str, x.shape[2:]))})"
        return what

    def model_error(self, picks: dict[str, Choice]) -> float:
        """The model-level metric with the options of ``picks`` swapped in."""
        x, ref = self.eval_input()
        modules = {name: layer.module(picks[name]) for layer in self.open
                   for name in [layer.name] if picks.get(name) is not None
                   and picks[name].method != "dense"}
        if "" in modules:  # the model is itself the conv
            out = run_model(modules[""], x)
        else:
            with swapped(self.model, modules):
                out = run_model(self.model, x)
        return float(self.metric(out, ref))

    def sensitivities(self, plan: Plan) -> None:
        """Per open layer: the model-level metric with only that layer decomposed (to its
        planned option, or its best option at the plan's multiplier when the plan keeps it
        dense) divided by the layer's own output error there."""
        self.stage = "measuring sensitivity"
        todo = [layer for layer in self.open if layer.sensitivity is None]
        step = self.steps.step("sensitivity", len(todo))
        try:
            for layer in todo:
                ch = plan.picks[layer.name]
                if ch.method == "dense":
                    found = [self.at_lambda(layer, m, plan.lam) for m in layer.curves]
                    found = [c for c in found if c is not None]
                    if not found:
                        step.advance(layer.name)
                        continue
                    ch = min(found, key=lambda c: (layer.estimate(c), c.macs))
                layer.module(ch)
                err = self.model_error({layer.name: ch})
                own = layer.estimate(ch)
                layer.sensitivity = err / own if own > 0 else 0.0
                step.advance(layer.name)
        finally:
            step.close()


def _restrict(targets: list[Target], names: Iterable[str] | None) -> list[Target]:
    """The targets named by ``layers`` (all when None); ValueError for an unknown name."""
    if names is None:
        return targets
    wanted = [names] if isinstance(names, str) else list(names)
    known = {t.name for t in targets}
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        raise ValueError(f"`layers` (={(unknown or wanted)!r}) must name conv modules of the "
                         f"model (at least one); valid: {', '.join(sorted(known))}")
    return [t for t in targets if t.name in wanted]


def _crop(x: torch.Tensor) -> torch.Tensor | None:
    """``x`` centre-cropped to at most :data:`SENSITIVITY_POSITIONS` positions per sample
    (each spatial side halved in turn), or None when it already fits."""
    sizes = list(x.shape[2:])
    if math.prod(sizes) <= SENSITIVITY_POSITIONS:
        return None
    axis = 0
    while math.prod(sizes) > SENSITIVITY_POSITIONS and max(sizes) > 1:
        if sizes[axis] > 1:
            sizes[axis] = max(1, sizes[axis] // 2)
        axis = (axis + 1) % len(sizes)
    index = [slice(None), slice(None)] + [slice((full - s) // 2, (full - s) // 2 + s)
                                          for full, s in zip(x.shape[2:], sizes, strict=True)]
    return x[tuple(index)]


def _leaves_shapes(out: Any) -> list[tuple[int, ...]]:
    from convzoo.decomposition.outputs import float_leaves

    return [tuple(t.shape) for t in float_leaves(out)]
