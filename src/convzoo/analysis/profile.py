"""``profile(model, input_shape)``: real forward (and backward) wall time per layer.

The model runs for real, ``repeats`` times after ``warmup`` rounds, with a forward pre-hook
and a forward hook (``time.perf_counter``) on every leaf module; each module call's median
time is merged into the :func:`convzoo.analysis.summary` row of that call (shapes, params,
MACs, kind), and the times are added up per variant kind. Ops that run outside any leaf
module (a residual add in a block's ``forward``, ``torch.flatten``...) and the hooks' own
overhead form the ``'(outside leaf modules)'`` group: median end-to-end forward time minus
the sum of the per-module medians, so the groups add up to the total.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn
from torch.utils._pytree import tree_flatten

from convzoo.analysis.summary import Row, Summary, summary
from convzoo.analysis.table import Column, Rendered, TableSpec, count
from convzoo.analysis.timing import check_repeats, environment, spread_ms
from convzoo.analysis.trace import check_input_shape

__all__ = ["ProfileRow", "Profile", "profile", "OUTSIDE"]

#: Name of the group holding the time spent outside leaf modules (and the hook overhead).
OUTSIDE = "(outside leaf modules)"


@dataclass(frozen=True)
class ProfileRow:
    """One summary row with its measured time.

    Attributes:
        name, type, kind, depth, output_shape, params, macs: from the summary row (a leaf
            module that ran no traced op, or never ran, gets zeros and kind ``'other'``).
        call: which call of the module (0 for the first); -1 for a module never called.
        module: True for a leaf-module call (timed), False for an op run in a container's
            own ``forward`` (its time is in :data:`OUTSIDE`).
        forward_ms: median forward time of the call (None when not timed).
        share: ``forward_ms`` over the profile's total (0.0 when not timed).
        forward_spread_ms: half the interquartile range of the call's times (None when not
            timed), printed as ``±`` beside the median.
    """

    name: str
    type: str
    kind: str
    depth: int
    call: int
    module: bool
    output_shape: tuple[int, ...]
    params: int
    macs: int
    forward_ms: float | None
    share: float
    forward_spread_ms: float | None = None

    @property
    def gmacs_per_s(self) -> float | None:
        """Achieved GMAC/s (MACs over median time), None when untimed or zero."""
        if not self.forward_ms or not self.macs:
            return None
        return self.macs / (self.forward_ms * 1e-3) / 1e9

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        d = asdict(self)
        d["output_shape"] = list(self.output_shape)
        d["gmacs_per_s"] = self.gmacs_per_s
        return d


@dataclass
class Profile(Rendered):
    """Result of :func:`profile`.

    Attributes:
        rows: one :class:`ProfileRow` per summary row, then leaf modules without one.
        by_kind: kind -> summed median time (ms), :data:`OUTSIDE` included; sums to
            :attr:`total_ms`.
        total_ms: the sum of :attr:`by_kind`: the median end-to-end forward time (hooks
            installed), or the sum of the per-call medians when that is larger (ms).
        wall_ms: the median end-to-end forward time (hooks installed), ms.
        wall_spread_ms: half the interquartile range of the end-to-end forward times, ms.
        backward_ms: median backward time (ms) when ``backward=True``, else None.
        summary: the :class:`~convzoo.analysis.Summary` the rows come from.
    """

    rows: list[ProfileRow]
    by_kind: dict[str, float]
    total_ms: float
    wall_ms: float
    backward_ms: float | None
    input_shape: tuple[int, ...]
    repeats: int
    warmup: int
    environment: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    summary: Summary | None = field(default=None, repr=False)
    wall_spread_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain Python (JSON-ready)."""
        return {
            "input_shape": list(self.input_shape),
            "repeats": self.repeats,
            "warmup": self.warmup,
            "total_ms": self.total_ms,
            "wall_ms": self.wall_ms,
            "wall_spread_ms": self.wall_spread_ms,
            "backward_ms": self.backward_ms,
            "by_kind": dict(self.by_kind),
            "rows": [r.to_dict() for r in self.rows],
            "environment": dict(self.environment),
            "notes": list(self.notes),
        }

    def table_specs(self, wide: bool = False) -> list[TableSpec]:
        """The per-layer and the per-kind tables. Narrow (default, fits 80 columns): no Type
        column, MACs compact (``51.4 M``); ``wide``: the Type column and every digit."""
        layer = [Column("Layer", "left", name=True), Column("Type", "left", text=True),
                 Column("Kind", "left", text=True), Column("Output shape", "left"),
                 Column("MACs"), Column("ms ± IQR/2"), Column("%"), Column("GMAC/s")]
        rows = []
        for r in self.rows:
            rate = r.gmacs_per_s
            rows.append(["  " * max(r.depth - 1, 0) + r.name, r.type, r.kind,
                         "x".join(map(str, r.output_shape)), count(r.macs, wide),
                         _ms(r.forward_ms, r.forward_spread_ms),
                         "-" if r.forward_ms is None else f"{100 * r.share:.1f}",
                         "-" if rate is None else f"{rate:.1f}"])
        if not wide:
            layer[3] = Column("Output", "left")
            del layer[1]
            for row in rows:
                del row[1]
        kinds = [(kind, f"{ms:.3f}", f"{100 * (ms / self.total_ms if self.total_ms else 0):.1f}")
                 for kind, ms in sorted(self.by_kind.items(), key=lambda kv: -kv[1])]
        return [
            TableSpec("convzoo profile (forward, median per call)", tuple(layer),
                      [tuple(row) for row in rows]),
            TableSpec("time by kind", (Column("Kind", "left", text=True), Column("ms"),
                                       Column("%")), kinds),
        ]

    def footer(self) -> str:
        """Totals, environment and notes as text."""
        env = self.environment
        spread = "" if self.wall_spread_ms is None else f" ± {self.wall_spread_ms:.3f}"
        lines = [f"Input: {'x'.join(map(str, self.input_shape))}; forward {self.total_ms:.3f} "
                 f"ms (median of {self.repeats} after {self.warmup} warm-up; end to end "
                 f"{self.wall_ms:.3f}{spread} ms, ± half the interquartile range)"
                 + ("" if self.backward_ms is None else
                    f"; backward {self.backward_ms:.3f} ms")
                 + f"; torch {env['torch']}, {env['threads']} threads, {env['device']} "
                 f"({env['machine']})."]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------------- measuring
def _leaves(model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules()
            if n and next(iter(m.children()), None) is None}


def _device(model: nn.Module) -> torch.device:
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def _floats(out: Any) -> list[torch.Tensor]:
    return [t for t in tree_flatten(out)[0]
            if isinstance(t, torch.Tensor) and t.is_floating_point() and t.requires_grad]


def _run(model: nn.Module, shape: tuple[int, ...], backward: bool, repeats: int, warmup: int
         ) -> tuple[dict[tuple[str, int], list[float]], list[float], list[float], dict]:
    device = _device(model)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    clock = time.perf_counter
    leaves = _leaves(model)
    calls: dict[str, int] = {}
    starts: dict[tuple[str, int], float] = {}
    current: dict[tuple[str, int], float] = {}
    shapes: dict[tuple[str, int], tuple[int, ...]] = {}

    def pre(name: str) -> Any:
        def hook(mod: nn.Module, inputs: Any) -> None:
            call = calls.get(name, -1) + 1
            calls[name] = call
            sync()
            starts[(name, call)] = clock()
        return hook

    def post(name: str) -> Any:
        def hook(mod: nn.Module, inputs: Any, output: Any) -> None:
            sync()
            key = (name, calls[name])
            current[key] = clock() - starts.pop(key)
            if isinstance(output, torch.Tensor):
                shapes[key] = tuple(output.shape)
        return hook

    handles = []
    for name, m in leaves.items():
        handles.append(m.register_forward_pre_hook(pre(name)))
        handles.append(m.register_forward_hook(post(name)))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to(device)
    if backward:
        x.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.grad for p in params]
    per_call: dict[tuple[str, int], list[float]] = {}
    forward: list[float] = []
    backward_times: list[float] = []
    try:
        for r in range(warmup + repeats):
            calls.clear()
            current.clear()
            with torch.set_grad_enabled(backward):
                sync()
                t0 = clock()
                out = model(x)
                sync()
                t1 = clock()
                if backward:
                    outs = _floats(out)
                    if not outs:
                        raise ValueError("`backward` (=True) needs a model output that "
                                         "requires grad")
                    grads = [torch.ones_like(o) for o in outs]
                    sync()
                    t2 = clock()
                    torch.autograd.backward(outs, grads)
                    sync()
                    t3 = clock()
                    x.grad = None
                    for p in params:
                        p.grad = None
            del out
            if r < warmup:
                continue
            forward.append(t1 - t0)
            if backward:
                backward_times.append(t3 - t2)
            for key, value in current.items():
                per_call.setdefault(key, []).append(value)
    finally:
        for h in handles:
            h.remove()
        for p, g in zip(params, saved):
            p.grad = g
    return per_call, forward, backward_times, shapes


# ---------------------------------------------------------------------- merging
def _row_call(s: Summary, row: Row) -> tuple[bool, int]:
    """Whether a summary row is a leaf-module call, and which call."""
    graph = s.graph
    assert graph is not None
    for frame in graph.nodes[row.nodes[0]].frames:
        if frame.name == row.name and frame.leaf:
            return True, frame.call
    return False, 0


def profile(
    model: nn.Module,
    input_shape: Sequence[int],
    backward: bool = False,
    repeats: int = 10,
    warmup: int = 2,
) -> Profile:
    """Run ``model`` for real and time every leaf-module call.

    Args:
        model: any ``nn.Module``, run in its current mode (call ``.eval()`` for inference
            numbers; a training-mode BatchNorm updates its running statistics) on the device
            of its first parameter; its ``.grad`` fields are restored afterwards.
        input_shape: ``(N, C, *spatial)``; the input is ``torch.randn`` (seed 0).
        backward: also run a backward pass (gradients of ones) and time it as a whole
            (default False; forward only, under ``torch.no_grad``).
        repeats: timed runs (default 10); warmup: untimed runs first (default 2).

    Returns:
        A :class:`Profile`.

    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    >>> p = profile(net, (1, 3, 16, 16), repeats=2, warmup=0)
    >>> [(r.name, r.kind, r.forward_ms > 0) for r in p.rows], sorted(p.by_kind)
    ([('0', 'conv', True), ('1', 'activation', True)], ['(outside leaf modules)', \
'activation', 'conv'])
    """
    shape = check_input_shape(input_shape)
    repeats = check_repeats(repeats)
    warmup = check_repeats(warmup, "warmup", 0)
    s = summary(model, shape)
    per_call, forward, backward_times, shapes = _run(model, shape, bool(backward), repeats,
                                                     warmup)
    medians = {k: statistics.median(v) * 1e3 for k, v in per_call.items()}
    spreads = {k: spread_ms(v) for k, v in per_call.items()}
    wall = statistics.median(forward) * 1e3
    inside = sum(medians.values())
    outside = max(wall - inside, 0.0)
    total = inside + outside
    rows: list[ProfileRow] = []
    seen: set[tuple[str, int]] = set()
    for r in s.rows:
        is_module, call = _row_call(s, r)
        ms = medians.get((r.name, call)) if is_module else None
        if is_module:
            seen.add((r.name, call))
        rows.append(ProfileRow(
            name=r.name, type=r.type, kind=r.kind, depth=r.depth, call=call,
            module=is_module, output_shape=r.output_shape, params=r.params, macs=r.macs,
            forward_ms=ms, share=(ms / total if ms and total else 0.0),
            forward_spread_ms=spreads.get((r.name, call)) if is_module else None,
        ))
    leaves = _leaves(model)
    called = {name for name, _ in medians}
    for (name, call), ms in medians.items():
        if (name, call) not in seen:  # ran, but no traced op of its own (an identity...)
            rows.append(ProfileRow(
                name, type(leaves[name]).__name__, "other", name.count(".") + 1, call, True,
                shapes.get((name, call), ()),
                sum(p.numel() for p in leaves[name].parameters()), 0, ms,
                ms / total if total else 0.0, spreads[(name, call)],
            ))
    notes = ["Per-row times are forward medians of each leaf-module call; "
             f"'{OUTSIDE}' is the median forward time minus their sum (ops in container "
             "forwards, Python glue, hook overhead)."]
    for name, module in leaves.items():
        if name not in called:
            rows.append(ProfileRow(name, type(module).__name__, "other",
                                   name.count(".") + 1, -1, True, (),
                                   sum(p.numel() for p in module.parameters()), 0, None, 0.0))
    unused = [n for n in leaves if n not in called]
    if unused:
        notes.append(f"leaf modules never called: {', '.join(unused)}.")
    if backward:
        notes.append("The backward pass is timed as a whole (per-layer times are forward).")
    by_kind: dict[str, float] = {}
    for r in rows:
        if r.forward_ms is not None:
            by_kind[r.kind] = by_kind.get(r.kind, 0.0) + r.forward_ms
    by_kind[OUTSIDE] = outside
    return Profile(
        rows=rows, by_kind=by_kind, total_ms=total, wall_ms=wall,
        backward_ms=statistics.median(backward_times) * 1e3 if backward else None,
        input_shape=shape, repeats=repeats, warmup=warmup, environment=environment(_device(model)),
        notes=notes + list(s.notes), summary=s, wall_spread_ms=spread_ms(forward),
    )


def _ms(ms: float | None, spread: float | None) -> str:
    """``'0.123±0.004'``, or ``'-'`` for an untimed row."""
    if ms is None:
        return "-"
    return f"{ms:.3f}" + ("" if spread is None else f"±{spread:.3f}")
