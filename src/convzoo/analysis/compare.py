"""``compare(...)``: every variant of one layer configuration, counted and measured side by side.

Seed 000 section 9 compares the variants with one word each (high / medium / low); this is
that table measured. For one configuration (``C_in -> C_out``, kernel ``k``, input size,
stride) every applicable variant is built from ``convzoo.layers`` with ``'same'`` padding
(so they all give the same output shape), one row each, labelled with its variant's name:
``conv`` (the baseline), ``group`` (each ``g`` dividing both channel counts),
``shuffle_group``, ``separable``, ``flattened``, ``spatially_separable`` and ``dilated``
(d=2). With ``upscale_factor=r`` the upsampling variants are compared instead: transposed
conv (``transposed``, the baseline), sub-pixel conv (``subpixel``) and resize-conv
(``resize_conv``), all giving ``in * r``. Each row's
``kind`` is the variant's name in the one vocabulary (:class:`convzoo.arithmetic.Variant`),
as :func:`convzoo.analysis.classify` reads it from the traced layer.

Params, MACs and bias adds come from :func:`convzoo.analysis.summary`, the receptive field
from :func:`convzoo.analysis.receptive_field` (one trace for both), bytes moved from
:func:`convzoo.arithmetic.conv_cost` per conv (plus one read and one write for each copying
op: upsample, the copy of a shuffle); nothing is re-derived here. Latencies are medians of
repeats interleaved round-robin across all variants (:mod:`convzoo.analysis.timing`), each
with its spread (half the interquartile range); a ratio whose two interquartile ranges
overlap is marked as inside the noise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from typing import Any

import torch
import torch.nn as nn

from convzoo import arithmetic as ar
from convzoo.analysis.graph import Graph
from convzoo.analysis.kinds import classify
from convzoo.analysis.receptive import receptive_field
from convzoo.analysis.summary import summary
from convzoo.analysis.table import Column, Rendered, TableSpec, count
from convzoo.analysis.timing import Timing, check_repeats, environment, interleaved, within_noise
from convzoo.analysis.trace import trace
from convzoo.arithmetic import check_int, is_int, to_tuple
from convzoo.arithmetic.variants import resolve_alias
from convzoo.layers import (
    Conv,
    DepthwiseSeparable,
    Dilated,
    Flattened,
    GroupConv,
    ResizeConv,
    ShuffleGroupConv,
    SpatiallySeparable,
    SubPixelConv,
    TransposedConv,
)
from convzoo.names import did_you_mean, module_aliases, renamed_arguments, renamed_attribute
from convzoo.spec import ConvSpec

__all__ = ["ComparisonRow", "Comparison", "compare", "COMPARE_CONVENTIONS", "SEED_000"]

#: What the numbers of a comparison mean.
COMPARE_CONVENTIONS = (
    "Params, MACs: convzoo.analysis.summary (MAC = weight x input multiply-accumulate, padding "
    "included, bias excluded; transposed conv counted as its scatter, not prod(stride) more).",
    "Bytes: minimum traffic, each op's operands read and result written once (conv: input + "
    "weights + output, arithmetic.conv_cost; copies for shuffles and upsampling: input + "
    "output); intermediate tensors count twice. Intensity = 2*MACs / bytes (FLOP/byte).",
    "RF: receptive field size r per spatial axis at the output (analysis.receptive_field), "
    "in input pixels.",
    "Latency: median wall time of interleaved repeats (all variants round-robin in one loop, "
    "warm-up first) on this machine; forward under torch.no_grad, forward+backward computes "
    "the gradients of the input and every parameter. Ratios are to the baseline row. "
    "'±' is half the interquartile range of the repeats; a ratio marked '~' is inside the "
    "noise (the interquartile ranges of the row and the baseline overlap).",
)

#: Seed 000 section 9's one-word compute estimate (relative to a standard conv), per variant.
SEED_000 = {
    "conv": "-",
    "transposed": "medium",
    "dilated": "low (a large kernel's field, few params)",
    "separable": "low (about 1/9 of standard)",
    "flattened": "depends on the case",
    "group": "medium-low",
    "shuffle_group": "medium-low",
}


def _num(x: Any) -> Any:
    return str(x) if isinstance(x, Fraction) and x.denominator != 1 else (
        int(x) if isinstance(x, Fraction) else x)


@dataclass(frozen=True)
class ComparisonRow:
    """One row of a :class:`Comparison` (called ``Variant`` before 0.2, a name that clashed
    with :class:`convzoo.arithmetic.Variant`).

    Attributes:
        name: row label: the variant built (the kind ``convzoo.create`` takes), with its
            parameter (``'group g=2'``, ``'dilated d=2'``); ``comparison[label]`` also reads
            aliases (``'grouped g=2'``).
        kind: the variant, a name of the one vocabulary (``'group'``, see
            :class:`convzoo.arithmetic.Variant`), as :func:`convzoo.analysis.classify` reads
            it from the traced layer (the same word ``summary`` prints for it).
        layer: ``repr`` of the module, one line.
        output_shape, params, macs, flops, bias_adds, bytes, intensity (FLOP/byte).
        rf: receptive field size ``r`` per spatial axis.
        forward_ms, forward_backward_ms: median latencies (None when not measured).
        forward_spread_ms, forward_backward_spread_ms: half the interquartile range of the
            repeats (None when not measured).
        forward_quartiles_ms, forward_backward_quartiles_ms: first and third quartiles of
            the repeats, ms (None when not measured): the whiskers of the report's bars.
        noise: ``forward``, ``forward_backward`` -> True when the ratio to the baseline is
            inside the noise (the interquartile ranges overlap).
        ratios: ``params``, ``macs``, ``bytes``, ``forward``, ``forward_backward`` divided by
            the baseline's (None when not measured).
        note: what the variant trades. seed_000: the seed's one-word estimate, if any.
    """

    name: str
    kind: str
    layer: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    flops: int
    bias_adds: int
    bytes: int
    intensity: float
    rf: tuple[int | Fraction, ...]
    forward_ms: float | None = None
    forward_backward_ms: float | None = None
    ratios: dict[str, float | None] = field(default_factory=dict)
    note: str = ""
    seed_000: str = ""
    forward_spread_ms: float | None = None
    forward_backward_spread_ms: float | None = None
    noise: dict[str, bool] = field(default_factory=dict)
    forward_quartiles_ms: tuple[float, float] | None = None
    forward_backward_quartiles_ms: tuple[float, float] | None = None

    family = renamed_attribute("family", "kind")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        d = asdict(self)
        d["output_shape"] = list(self.output_shape)
        d["rf"] = [_num(r) for r in self.rf]
        return d


@dataclass
class Comparison(Rendered):
    """Result of :func:`compare`: one :class:`ComparisonRow` per variant, the baseline first."""

    config: dict[str, Any]
    baseline: str
    variants: list[ComparisonRow]
    measured: bool
    repeats: int
    warmup: int
    environment: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    conventions: tuple[str, ...] = COMPARE_CONVENTIONS

    def __getitem__(self, name: str) -> ComparisonRow:
        for v in self.variants:
            if v.name == name:
                return v
        wanted = _canonical(name)
        for v in self.variants:
            if v.name == wanted:
                return v
        names = [v.name for v in self.variants]
        raise KeyError(f"no variant named {name!r}{did_you_mean(name, names)}; rows: {names}")

    def subset(self, names: Sequence[str]) -> Comparison:
        """The comparison with only the baseline and the rows ``names`` (labels or aliases,
        each once, in the order given): what the report shows under one variant.

        >>> c = compare(8, 8, 3, 8, measure=False)
        >>> [v.name for v in c.subset(["grouped g=2", "conv"]).variants]
        ['conv', 'group g=2']
        """
        rows = [self[name] for name in (self.baseline, *names)]
        return replace(self, variants=list({id(v): v for v in rows}.values()))

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain Python (JSON-ready)."""
        return {
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in self.config.items()},
            "baseline": self.baseline,
            "measured": self.measured,
            "repeats": self.repeats,
            "warmup": self.warmup,
            "environment": dict(self.environment),
            "variants": [v.to_dict() for v in self.variants],
            "skipped": list(self.skipped),
            "conventions": list(self.conventions),
        }

    def table_specs(self, wide: bool = False) -> list[TableSpec]:
        """Narrow (default, fits 80 columns): a counts table and, when measured, a latency
        table, counts compact (``4.09 M``). ``wide``: one table, every digit."""
        c = self.config
        size = "x".join(map(str, c["input_shape"]))
        what = (f"x{c['upscale_factor']} upsampling" if c["upscale_factor"]
                else f"stride {'x'.join(map(str, c['stride']))}")
        title = (f"convzoo compare: {c['in_channels']} -> {c['out_channels']}, k="
                 f"{'x'.join(map(str, c['kernel_size']))}, input {size}, {what}")
        counts = [Column("Variant", "left", text=True), Column("Params"), Column("MACs"),
                  Column("Bytes"), Column("FLOP/B"), Column("RF")]
        timed = [Column("Fwd ms"), Column("Fwd+bwd ms")]
        rows, times = [], []
        for v in self.variants:
            rows.append((v.name, *(_with_ratio(count(getattr(v, k), wide), v.ratios.get(k))
                                   for k in ("params", "macs", "bytes")),
                         f"{v.intensity:.1f}", "x".join(str(_num(r)) for r in v.rf)))
            times.append((_latency(v.forward_ms, v.forward_spread_ms, v.ratios.get("forward"),
                                   v.noise.get("forward", False)),
                          _latency(v.forward_backward_ms, v.forward_backward_spread_ms,
                                   v.ratios.get("forward_backward"),
                                   v.noise.get("forward_backward", False))))
        if not self.measured:
            return [TableSpec(title, tuple(counts), rows)]
        if wide:
            return [TableSpec(title, tuple(counts + timed),
                              [(*r, *t) for r, t in zip(rows, times)])]
        latency = TableSpec("latency (median ± half the IQR; ratio to the baseline)",
                            (Column("Variant", "left", text=True), *timed),
                            [(v.name, *t) for v, t in zip(self.variants, times)])
        return [TableSpec(title, tuple(counts), rows), latency]

    def footer(self) -> str:
        """Notes, skipped variants, environment and conventions as text."""
        lines = [f"Ratios (x) are to the baseline row {self.baseline!r}."]
        lines += [f"{v.name}: {v.note}" for v in self.variants if v.note]
        lines += [f"Skipped: {s}" for s in self.skipped]
        env = self.environment
        if self.measured:
            lines.append(f"Measured: median of {self.repeats} interleaved repeats after "
                         f"{self.warmup} warm-up rounds; torch {env['torch']}, "
                         f"{env['threads']} threads, {env['device']} ({env['machine']}).")
        else:
            lines.append("Not measured (measure=False): counts only.")
        lines += [f"Convention: {c}" for c in self.conventions]
        return "\n".join(lines)


def _canonical(label: str) -> str:
    """A row label with its variant read through the aliases: ``'grouped g=2'`` -> ``'group
    g=2'``, ``'standard'`` -> ``'conv'``."""
    match = re.fullmatch(r"(.*?)((?:\s+[a-z]=\d+)?)", str(label).strip())
    assert match is not None  # the pattern matches every string
    return resolve_alias(match.group(1)) + match.group(2)


def _latency(ms: float | None, spread: float | None, ratio: float | None, noise: bool) -> str:
    """``'0.123±0.004 (1.52x)'``; ``'~'`` after a ratio inside the noise."""
    if ms is None:
        return "-"
    digits = 0 if ms >= 100 else 1 if ms >= 10 else 2 if ms >= 1 else 3
    text = f"{ms:.{digits}f}" + ("" if spread is None else f"±{spread:.{digits}f}")
    return _with_ratio(text, ratio, "~" if noise else "")


def _with_ratio(text: str, ratio: float | None, mark: str = "") -> str:
    return text if ratio is None else f"{text} ({ratio:.2f}x{mark})"


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return value / base


# ---------------------------------------------------------------------- counting
def _bytes(graph: Graph) -> int:
    """Minimum bytes of a traced variant (see :data:`COMPARE_CONVENTIONS`)."""
    total = 0
    for n in graph.nodes[1:]:
        if n.spec is not None:
            total += n.spec.cost(n.input_shape, graph.dtype).bytes
        elif n.allocates and (n.category != "view" or n.op == "clone"):
            total += ar.bytes_moved((math.prod(n.input_shape), math.prod(n.shape)), graph.dtype)
    return total


def _count(name: str, module: nn.Module, shape: tuple[int, ...], note: str) -> ComparisonRow:
    graph = trace(module, shape)  # once: the summary and the field both read it
    if graph.partial:
        raise ValueError(f"variant {name!r} could not be traced: {graph.reason}")
    s = summary(graph)
    rf = receptive_field(graph)
    moved = _bytes(graph)
    flops = s.totals.flops
    kind = classify(graph.nodes[1:])  # the one vocabulary (arithmetic.Variant)
    return ComparisonRow(
        name=name, kind=kind, layer=" ".join(repr(module).split()),
        output_shape=graph.nodes[graph.outputs[0]].shape,
        params=s.totals.params, macs=s.totals.macs, flops=flops, bias_adds=s.totals.bias_adds,
        bytes=moved, intensity=ar.arithmetic_intensity(flops, moved), rf=rf.sizes, note=note,
        seed_000=SEED_000.get(kind, ""),
    )


# ---------------------------------------------------------------------- building
#: (row name, builder, note)
Builder = tuple[str, Callable[[], nn.Module], str]


def _same_variants(cin: int, cout: int, k: tuple[int, ...], stride: tuple[int, ...],
                   groups: Sequence[int], skipped: list[str]) -> list[Builder]:
    n = len(k)
    rows: list[Builder] = [("conv", lambda: Conv(cin, cout, k, stride, "same", ndim=n),
                            "dense C_in x C_out x prod(k) weights")]
    for g in groups:
        if cin % g or cout % g:
            skipped.append(f"group/shuffle_group g={g}: `groups` (={g}) must divide C_in (={cin}) "
                           f"and C_out (={cout})")
            continue
        rows.append((f"group g={g}",
                     lambda g=g: GroupConv(cin, cout, k, g, stride, "same", ndim=n),
                     f"each output sees C_in/{g} channels: 1/{g} of the weights and MACs"))
    for g in groups:
        if cin % g or cout % g:
            continue
        rows.append((f"shuffle_group g={g}",
                     lambda g=g: ShuffleGroupConv(cin, cout, k, g, stride, "same", ndim=n),
                     f"group g={g} + channel shuffle (a permutation: 0 params, 0 MACs, "
                     "one copy)"))
    rows.append(("separable", lambda: DepthwiseSeparable(cin, cout, k, stride, "same", ndim=n),
                 "depthwise k per channel + pointwise 1x1 (C_in -> C_out)"))
    if all(v == 1 for v in k):
        skipped.append("flattened, spatially separable, dilated: the kernel is 1x1 (nothing "
                       "to factor or dilate)")
        return rows
    rows.append(("flattened", lambda: Flattened(cin, cout, k, stride, "same", ndim=n),
                 "pointwise C_in -> C_out, then a 1-D depthwise conv along each axis "
                 "(rank-1 filters, Jin et al. 2014)"))
    rows.append(("spatially_separable",
                 lambda: SpatiallySeparable(cin, cout, k, None, stride, "same", ndim=n),
                 "one dense 1-D conv per axis (k x 1 then 1 x k), C_out channels between"))
    eff = tuple(ar.effective_kernel(v, 2) for v in k)
    big = ConvSpec(cin, cout, eff).params
    rows.append(("dilated d=2", lambda: Dilated(cin, cout, k, 2, stride, ndim=n),
                 f"the standard conv's weights and MACs with a field of {'x'.join(map(str, eff))}"
                 f" per output: a standard conv with that field has {big:,} params"))
    return rows


def _upsample_variants(cin: int, cout: int, k: tuple[int, ...], r: int) -> list[Builder]:
    n = len(k)
    uneven = any(v % r for v in k)
    return [
        ("transposed", lambda: TransposedConv(cin, cout, k, r, "same", ndim=n),
         f"stride {r}, padding 'same' (out = in*{r}); "
         + ("k not divisible by the stride: uneven overlap, checkerboard risk" if uneven
            else "k divisible by the stride: even overlap")),
        ("subpixel", lambda: SubPixelConv(cin, cout, r, k, ndim=n),
         f"conv at input resolution to C_out*{r}^{n} channels, then pixel shuffle (ICNR init)"),
        ("resize_conv", lambda: ResizeConv(cin, cout, r, k, ndim=n),
         f"nearest upsampling x{r}, then a 'same' conv at output resolution"),
    ]


# ---------------------------------------------------------------------- timing
def _measure(modules: dict[str, nn.Module], shape: tuple[int, ...], repeats: int, warmup: int
             ) -> dict[str, tuple[Timing, Timing]]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen)
    xg = x.clone().requires_grad_(True)
    candidates: dict[tuple[str, str], Callable[[], object]] = {}
    for name, m in modules.items():
        m.eval()
        with torch.no_grad():
            out_shape = m(x).shape
        grad = torch.ones(out_shape)
        inputs = [xg, *(p for p in m.parameters() if p.requires_grad)]

        def forward(m: nn.Module = m) -> object:
            with torch.no_grad():
                return m(x)

        def forward_backward(m: nn.Module = m, inputs: list = inputs, grad: Any = grad
                             ) -> object:
            return torch.autograd.grad(m(xg), inputs, grad)

        candidates[name, "forward"] = forward
        candidates[name, "forward_backward"] = forward_backward
    times = interleaved(candidates, repeats, warmup)
    return {name: (times[name, "forward"], times[name, "forward_backward"]) for name in modules}


# ---------------------------------------------------------------------- entry point
def _check_groups(groups: Any) -> tuple[int, ...]:
    values = (groups,) if is_int(groups) else groups
    if (
        not isinstance(values, Sequence) or isinstance(values, str)
        or not all(is_int(g) and g >= 2 for g in values)
    ):
        raise ValueError(f"`groups` (={groups!r}) must be an int or a sequence of ints >= 2")
    return tuple(dict.fromkeys(int(g) for g in values))


@renamed_arguments(upsample="upscale_factor")
def compare(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    input_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    batch: int = 1,
    groups: int | Sequence[int] = (2, 4),
    upscale_factor: int | None = None,
    repeats: int = 20,
    measure: bool = True,
    warmup: int = 3,
) -> Comparison:
    """Count and time every variant of one layer configuration.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        kernel_size: int or per-axis tuple (its length, or ``input_size``'s, sets the number
            of spatial dims; 2 when both are ints).
        input_size: spatial input size, int or per-axis tuple.
        stride: of every variant (default 1); must be 1 with ``upscale_factor``.
        batch: ``N`` (default 1).
        groups: group counts tried for the group and shuffle_group variants (default ``(2, 4)``);
            a ``g`` not dividing both channel counts is skipped (listed in ``skipped``).
        upscale_factor: None (default) for the same-resolution variants, or the integer
            ``r >= 2`` by which each spatial size grows (as ``nn.PixelShuffle`` names it), to
            compare transposed conv (the baseline), sub-pixel conv and resize-conv, all
            producing ``in * r``. Called ``upsample`` before 0.2 (still accepted, with a
            warning).
        repeats: timed repeats (default 20); warmup: untimed rounds first (default 3).
        measure: time the variants (default True); False gives the counts only.

    Returns:
        A :class:`Comparison`; ``comparison['separable'].ratios['macs']`` etc.

    >>> c = compare(64, 128, 3, 56, measure=False)
    >>> [v.name for v in c.variants][:3], c["conv"].params
    (['conv', 'group g=2', 'group g=4'], 73856)
    >>> c["grouped g=2"] is c["group g=2"]  # row labels read through the aliases
    True
    >>> c["separable"].macs, round(c["separable"].ratios["macs"], 4)
    (27496448, 0.1189)
    """
    ndim = next((len(v) for v in (kernel_size, input_size, stride)
                 if isinstance(v, Sequence) and not isinstance(v, str)), 2)
    k = to_tuple(kernel_size, ndim, "kernel_size", "positive")
    size = to_tuple(input_size, ndim, "input_size", "positive")
    s = to_tuple(stride, ndim, "stride", "positive")
    check_int("batch", batch)
    gs = _check_groups(groups)
    repeats = check_repeats(repeats)
    warmup = check_repeats(warmup, "warmup", 0)
    ConvSpec(in_channels, out_channels, k, s)  # validates the channel counts
    shape = (int(batch), in_channels, *size)
    skipped: list[str] = []
    if upscale_factor is not None:
        if not is_int(upscale_factor) or upscale_factor < 2:
            raise ValueError(f"`upscale_factor` (={upscale_factor!r}) must be None or an int "
                             ">= 2")
        if any(v != 1 for v in s):
            raise ValueError(f"`stride` (={stride!r}) must be 1 with `upscale_factor` "
                             f"(={upscale_factor}): the upscale factor sets the stride of the "
                             "transposed conv")
        builders = _upsample_variants(in_channels, out_channels, k, int(upscale_factor))
    else:
        builders = _same_variants(in_channels, out_channels, k, s, gs, skipped)
    torch.manual_seed(0)
    modules = {name: build() for name, build, _ in builders}
    rows = [_count(name, modules[name], shape, note) for name, _, note in builders]
    timed = _measure(modules, shape, repeats, warmup) if measure else {}
    base = rows[0]
    variants = []
    for v in rows:
        ratios = {
            "params": _ratio(v.params, base.params),
            "macs": _ratio(v.macs, base.macs),
            "bytes": _ratio(v.bytes, base.bytes),
        }
        times: dict[str, Any] = {}
        if v.name in timed:
            (fwd, fb), (base_fwd, base_fb) = timed[v.name], timed[base.name]
            ratios["forward"] = _ratio(fwd.median_ms, base_fwd.median_ms)
            ratios["forward_backward"] = _ratio(fb.median_ms, base_fb.median_ms)
            times = dict(
                forward_ms=fwd.median_ms, forward_backward_ms=fb.median_ms,
                forward_spread_ms=fwd.spread_ms, forward_backward_spread_ms=fb.spread_ms,
                forward_quartiles_ms=fwd.quartiles_ms,
                forward_backward_quartiles_ms=fb.quartiles_ms,
                noise={} if v is base else {
                    "forward": within_noise(fwd.samples, base_fwd.samples),
                    "forward_backward": within_noise(fb.samples, base_fb.samples)})
        else:
            ratios["forward"] = ratios["forward_backward"] = None
        variants.append(replace(v, ratios=ratios, **times))
    config = {
        "in_channels": in_channels, "out_channels": out_channels, "kernel_size": k,
        "input_size": size, "input_shape": shape, "stride": s, "batch": int(batch),
        "groups": gs, "upscale_factor": upscale_factor, "dtype": "float32",
    }
    return Comparison(config, base.name, variants, bool(measure), repeats, warmup,
                      environment(), skipped)


#: Names kept for one release (a warning names the new one).
__getattr__ = module_aliases("convzoo.analysis.compare", {
    "Variant": ("ComparisonRow", lambda: ComparisonRow),
})
