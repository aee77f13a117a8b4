"""Benchmarks of the fast paths (not tests): convzoo vs PyTorch native, interleaved medians.

``bench_layers``: every layer kind of ``convzoo.layers.REGISTRY`` (its first example at
batch 8 and 4x and 8x its spatial size; 2x and 4x for 3-D) plus the fast-path sweeps
(depthwise k 3..31, dense k 19/31 with few channels, a MobileNetV2-style separable stack),
forward and forward+backward: the ratio native/convzoo (> 1 = convzoo faster; native = the
same module under :func:`~convzoo.functional.dispatch.native_only`, NCHW) and the roofline
fraction.

``bench_models``: zoo models (and any others given) at batch 1 and 8: eager, ``convzoo.optimize``
(backends torch and auto, precision fp32 and bf16; onnxruntime and openvino, f32 and bf16:
each runtime after convzoo's rewrites), ``torch.compile`` (inductor, freezing; compile time
reported), ONNX Runtime and OpenVINO (f32, bf16) alone on the exported original, threads of
every runtime set from ``torch.get_num_threads()`` (``optimize`` then picks 1 or N itself);
all candidates timed in interleaved blocks (:func:`convzoo.fast.auto.blocks`), FLOPs
counted (``torch.utils.flop_counter``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
import torch.nn as nn

from convzoo.analysis.timing import Timing, interleaved
from convzoo.fast.roofline import Roofline, count_flops, min_bytes
from convzoo.functional.dispatch import native_only, set_native_only

__all__ = ["bench_layers", "bench_models", "layer_cases", "spread"]


def spread(t: Timing) -> float:
    """Relative spread of a timing: (p75 - p25) / median.

    >>> round(spread(Timing((1.0, 2.0, 3.0, 4.0))), 3)
    1.0
    """
    q = statistics.quantiles(t.samples, n=4)
    return (q[2] - q[0]) / t.median


def layer_cases() -> list[tuple[str, nn.Module, tuple[int, ...]]]:
    """(name, module, input shape) of every benchmarked layer variant."""
    from convzoo.layers import REGISTRY, Conv2d, Depthwise, DepthwiseSeparable

    torch.manual_seed(0)
    cases: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    for kind, entry in sorted(REGISTRY.items()):
        module, shape = entry.examples()[0]
        for scale in (4, 8) if len(shape) <= 4 else (2, 4):  # two sizes per kind
            big = (8, shape[1], *[scale * s for s in shape[2:]])
            cases.append((f"{kind} {tuple(big)}", module, big))
    for k in (3, 7, 14, 21, 31):
        cases.append((f"depthwise k{k} 64ch 8x56x56", Depthwise(64, k, padding=k // 2),
                      (8, 64, 56, 56)))
    for c, k in ((3, 19), (3, 31), (4, 21)):
        cases.append((f"dense k{k} {c}ch 8x64x64", Conv2d(c, c, k, padding=k // 2),
                      (8, c, 64, 64)))
    stack = nn.Sequential(*[
        DepthwiseSeparable(c, c, 3, padding=1, mid_norm=nn.BatchNorm2d, norm=nn.BatchNorm2d,
                           mid_activation=nn.ReLU6, activation=nn.ReLU6, bias=False)
        for c in (32, 32, 32)
    ])
    cases.append(("mobilenetv2-style separable stack 32ch 8x56x56 (channels_last input)",
                  stack, (8, 32, 56, 56)))
    return cases


def _inner_loops(candidates: dict[str, Callable[[], None]], target: float = 5e-3) -> int:
    """Calls per timed sample so that the fastest candidate's sample lasts ~``target`` s
    (microsecond-sized layers are otherwise dominated by clock and scheduler noise)."""
    fastest = min(min(interleaved({"c": fn}, repeats=3, warmup=1)["c"].samples)
                  for fn in candidates.values())
    return max(1, min(200, int(target / max(fastest, 1e-7))))


def _looped(fn: Callable[[], None], inner: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(inner):
            fn()
    return run


def _case(name: str, module: nn.Module, shape: tuple[int, ...], roof: Roofline,
          repeats: int) -> dict:
    module.eval()
    x = torch.randn(shape)
    if "channels_last input" in name:
        x = x.contiguous(memory_format=torch.channels_last)
    x_nchw = x.contiguous()  # the native baseline's input: NCHW, converted outside timing
    xg = x.clone().requires_grad_()
    xg_nchw = x_nchw.clone().requires_grad_()

    # set_native_only flips the dispatch switch in both candidates: the same call overhead
    def fwd() -> None:
        set_native_only(False)
        with torch.no_grad():
            module(x)

    def fwd_native() -> None:
        set_native_only(True)  # PyTorch native NCHW
        with torch.no_grad():
            module(x_nchw)
        set_native_only(False)

    def train(native: bool) -> Callable[[], None]:
        def run() -> None:
            set_native_only(native)
            module(xg_nchw if native else xg).sum().backward()
            set_native_only(False)
        return run

    with torch.no_grad():
        y = module(x)
    flops = count_flops(module, x)
    flops_train = count_flops(lambda t: module(t).sum().backward(), xg)
    nbytes = min_bytes(module, x, y)
    heavy = flops > 2e10
    candidates = {"fwd": fwd, "fwd_native": fwd_native, "train": train(False),
                  "train_native": train(True)}
    inner = _inner_loops(candidates)
    t: dict[str, Timing] = {}
    for pair in (("fwd", "fwd_native"), ("train", "train_native")):
        # two candidates at a time: each always runs right after the other, so neither
        # inherits the cache/allocator state of a heavy backward pass more than the other
        measured = interleaved(
            {k: _looped(candidates[k], inner) for k in pair},
            repeats=max(3, repeats // 3) if heavy else repeats, warmup=1,
        )
        t.update({k: Timing(tuple(v / inner for v in m.samples)) for k, m in measured.items()})
    row = {"variant": name, "input": list(shape), "flops_fwd": flops, "flops_train": flops_train,
           "min_bytes": nbytes, "calls_per_sample": inner}
    for key, native in (("fwd", "fwd_native"), ("train", "train_native")):
        row[f"{key}_ms"] = t[key].median_ms
        row[f"{key}_native_ms"] = t[native].median_ms
        row[f"{key}_ratio"] = t[native].median / t[key].median
        row[f"{key}_spread"] = max(spread(t[key]), spread(t[native]))
    row["fwd_roofline_fraction"] = roof.time(flops, nbytes) / t["fwd"].median
    row["train_roofline_fraction"] = roof.time(flops_train, 3 * nbytes) / t["train"].median
    return row


def bench_layers(roof: Roofline, repeats: int = 15, only: str | None = None,
                 log: Callable[[str], None] = print) -> list[dict]:
    """Benchmark every layer case (those whose name contains ``only``, if given)."""
    rows = []
    for name, module, shape in layer_cases():
        if only is not None and only not in name:
            continue
        row = _case(name, module, shape, roof, repeats)
        log(f"{name}: fwd {row['fwd_ratio']:.2f}x train {row['train_ratio']:.2f}x "
            f"(spread {row['fwd_spread']:.0%})")
        rows.append(row)
    return rows


def _candidates(model: nn.Module, x: torch.Tensor, compile_: bool, onnx: bool,
                row: dict, zoo_model: bool) -> dict[str, Callable[[], object]]:
    """Every contender, built (and its build time written to ``row``)."""
    import importlib.util

    import torch._inductor.config as inductor_config

    from convzoo.fast.backends import (
        BackendModule,
        export_onnx,
        onnxruntime_session,
        openvino_session,
    )
    from convzoo.fast.optimizer import optimize
    from convzoo.fast.precision import bf16_flags

    def timed(key: str, build: Callable[[], object]) -> object:
        start = time.perf_counter()
        made = build()
        row[f"{key}_s"] = time.perf_counter() - start
        return made

    def call(fn: Callable[[torch.Tensor], object]) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                return fn(x)
        return run

    def eager(t: torch.Tensor) -> object:
        if zoo_model:  # convzoo layers take their own fast paths unless told not to
            with native_only():
                return model(t)
        return model(t)

    def note(key: str, fast: object) -> None:
        r = fast.report  # type: ignore[attr-defined]
        row[f"{key}_picked"] = f"{r.backend}@{r.threads.describe() if r.threads else '-'}"
        row[f"{key}_decision"] = r.decision
        row[f"{key}_candidates_ms"] = r.candidates_ms
        row[f"{key}_fresh_error"] = r.fresh_error

    out: dict[str, Callable[[], object]] = {"eager": call(eager)}
    fast = timed("optimize", lambda: optimize(model, x))
    note("optimize", fast)
    out["optimize"] = call(fast)
    auto = timed("optimize_auto", lambda: optimize(model, x, backend="auto"))
    note("optimize_auto", auto)
    row["optimize_auto_timings_ms"] = auto.report.timings_ms  # type: ignore[attr-defined]
    out["optimize_auto"] = call(auto)
    bf16 = bool(bf16_flags())
    if bf16:
        fast16 = timed("optimize_bf16", lambda: optimize(model, x, precision="bf16"))
        note("optimize_bf16", fast16)
        out["optimize_bf16"] = call(fast16)
    if compile_:
        inductor_config.freezing = True
        torch._dynamo.reset()
        compiled = torch.compile(model)
        timed("torch_compile", call(compiled))  # the first call compiles
        out["torch_compile"] = call(compiled)
    if onnx:  # the runtimes alone: the original model exported, their own optimizations
        shape = tuple(x.shape)
        with native_only():
            ref = model(x)
            proto = timed("onnx_export", lambda: export_onnx(model, x))
        row["output_max_abs"] = ref.abs().max().item()  # the scale of the errors above
        ort = BackendModule(onnxruntime_session(proto, static=False), shape, ref,
                           "onnxruntime")
        out["onnxruntime"] = call(ort)
        # the same runtime on the graph after convzoo's rewrites (the moonshot's A/B)
        ort_cz = timed("optimize_onnxruntime", lambda: optimize(model, x, backend="onnxruntime"))
        out["optimize_onnxruntime"] = call(ort_cz)
        if importlib.util.find_spec("openvino") is not None:
            ov32 = BackendModule(openvino_session(proto, "fp32", static=False), shape, ref,
                                 "openvino")
            out["openvino_f32"] = call(ov32)
            ov_cz = timed("optimize_openvino", lambda: optimize(model, x, backend="openvino"))
            out["optimize_openvino"] = call(ov_cz)
            if bf16:
                ov16 = BackendModule(openvino_session(proto, "bf16", static=False), shape,
                                     ref, "openvino")
                row["openvino_bf16_error"] = (ov16(x) - ref).abs().max().item()
                out["openvino_bf16"] = call(ov16)
                ov_cz16 = timed("optimize_openvino_bf16", lambda: optimize(
                    model, x, backend="openvino", precision="bf16"))
                note("optimize_openvino_bf16", ov_cz16)
                out["optimize_openvino_bf16"] = call(ov_cz16)
        note("optimize_onnxruntime", ort_cz)
        if "optimize_openvino" in out:
            note("optimize_openvino", ov_cz)
    return out


def _bench_model(model: nn.Module, x: torch.Tensor, repeats: int, compile_: bool,
                 onnx: bool, zoo_model: bool = True) -> tuple[dict, dict[str, Timing]]:
    from convzoo.fast.auto import blocks

    row: dict = {}
    candidates = _candidates(model, x, compile_, onnx, row, zoo_model)
    with native_only():
        row["flops"] = count_flops(model, x)
    # blocks, not call by call: the runtimes' spin-waiting pools distort each other
    return row, blocks(candidates, rounds=repeats)


def bench_models(names: list[str], batches: tuple[int, ...] = (1, 8), repeats: int = 10,
                 size: int = 224, compile_: bool = True, onnx: bool = True,
                 log: Callable[[str], None] = print,
                 extra: dict[str, Callable[[], nn.Module]] | None = None) -> list[dict]:
    """Eager vs ``optimize`` (torch, auto, bf16) vs ``torch.compile(freezing)`` vs ONNX Runtime
    and OpenVINO (f32, bf16) alone, interleaved; ``extra``: non-zoo models by name."""
    import convzoo.models as zoo

    rows = []
    factories: dict[str, tuple[Callable[[], nn.Module], bool]] = {}
    for name in names:
        if name in zoo.MODELS:
            factories[name] = ((lambda n=name: zoo.create(n)), True)
        elif name not in (extra or {}):
            log(f"{name}: not in the zoo, skipped")
    for name, make in (extra or {}).items():
        factories[name] = (make, False)
    for name, (make, zoo_model) in factories.items():
        torch.manual_seed(0)
        model = make().eval()
        for batch in batches:
            x = torch.randn(batch, 3, size, size)
            row, t = _bench_model(model, x, repeats, compile_, onnx, zoo_model)
            row = {"model": name, "batch": batch, "input": list(x.shape), **row}
            for key, timing in t.items():
                row[f"{key}_ms"] = timing.median_ms
                row[f"{key}_spread"] = spread(timing)
                row[f"{key}_speedup"] = t["eager"].median / timing.median
            log(f"{name} b{batch}: " + ", ".join(
                f"{k} {v.median_ms:.1f}ms ({t['eager'].median / v.median:.2f}x)"
                for k, v in t.items()))
            rows.append(row)
    return rows
