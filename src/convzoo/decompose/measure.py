"""Counting and measuring layers: params and MACs from :func:`convzoo.analysis.summary`,
latency from :func:`convzoo.analysis.timing.interleaved`, output errors on captured inputs."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping

import torch
import torch.nn as nn

from convzoo.analysis import CONV_KINDS, summary
from convzoo.analysis.timing import interleaved

__all__ = ["conv_macs", "cost", "capture_inputs", "frozen", "latencies_ms", "relative_error",
           "TIMING_THREADS"]


def conv_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """MACs of every convolution row of ``summary(model, input_shape)``.

    >>> conv_macs(nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(288, 2)),
    ...           (1, 3, 8, 8))
    7776
    """
    return sum(r.macs for r in summary(model, input_shape).rows if r.kind in CONV_KINDS)


def cost(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(params, conv MACs)`` of one layer (or replacement) at ``input_shape``.

    >>> cost(nn.Conv2d(3, 8, 3), (1, 3, 8, 8))
    (224, 7776)
    """
    s = summary(module, input_shape)
    return s.totals.params, sum(r.macs for r in s.rows if r.kind in CONV_KINDS)


@torch.no_grad()
def capture_inputs(model: nn.Module, example_input: torch.Tensor,
                   names: list[str]) -> dict[str, torch.Tensor]:
    """The input each named submodule receives when ``model`` (eval mode) runs on the example
    (the first call of each; the model's own mode is restored)."""
    modules = dict(model.named_modules())
    seen: dict[str, torch.Tensor] = {}
    hooks = []
    for name in names:
        def hook(_m: nn.Module, args: tuple, name: str = name) -> None:
            seen.setdefault(name, args[0].detach().clone())
        hooks.append(modules[name].register_forward_pre_hook(hook))
    was = model.training
    model.eval()
    try:
        model(example_input)
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    missing = [n for n in names if n not in seen]
    if missing:
        raise ValueError(f"layers {', '.join(missing)} are never called on `example_input`")
    return seen


def relative_error(approx: torch.Tensor, exact: torch.Tensor) -> float:
    """``||approx - exact|| / ||exact||`` (0 when both are zero).

    >>> relative_error(torch.tensor([1.0, 1.1]), torch.tensor([1.0, 1.0])) < 0.08
    True
    """
    den = float(exact.norm())
    num = float((approx - exact).norm())
    return num / den if den > 0 else (0.0 if num == 0 else float("inf"))


#: Intra-op threads while timing: one, so that a core taken by another process cannot stall
#: a parallel region (on a shared 2-core machine two threads made 0.05 ms convs take 16 ms).
TIMING_THREADS = 1


@torch.no_grad()
def latencies_ms(calls: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time (ms) of each call, timed interleaved (warm-up first), on
    :data:`TIMING_THREADS` threads."""
    if repeats < 1 or not calls:
        return {}
    threads = torch.get_num_threads()
    torch.set_num_threads(TIMING_THREADS)
    try:
        timings = interleaved(calls, repeats=repeats, warmup=2)
    finally:
        torch.set_num_threads(threads)
    return {k: t.median_ms for k, t in timings.items()}


def frozen(module: nn.Module, dtype: torch.dtype, device: torch.device) -> nn.Module:
    """An eval-mode copy of ``module`` at ``dtype`` and ``device`` (for timing, never trained)."""
    return copy.deepcopy(module).to(device=device, dtype=dtype).eval()
