"""What each conv sees when the model runs: its input shape on the example, a sample of its
input patches, and, with data, the second moment of its input channels
(:class:`~convzoo.decomposition.stats.LayerSample`). One forward pass of the model on the
example, and one per data batch; no layer input is kept whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from convzoo.decomposition.outputs import run_model
from convzoo.decomposition.stats import LayerSample, sample_patches
from convzoo.decomposition.target import Target

__all__ = ["LayerInfo", "capture", "check_data", "check_example", "check_finite", "first_line"]

#: Patches sampled per layer (output positions) for errors; more with data (see capture).
SAMPLES = 512


def first_line(exc: BaseException, limit: int = 240) -> str:
    """``'Type: first line of the message'``, at most ``limit`` characters.

    >>> first_line(RuntimeError("bad\\nmore"))
    'RuntimeError: bad'
    """
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return line if len(line) <= limit else line[:limit - 4].rsplit(" ", 1)[0] + " ..."


@dataclass
class LayerInfo:
    """A conv as the model uses it.

    Attributes:
        target: the conv. input_shape: its input on the example ``(N, C_in, *spatial)``.
        calls: how many times the model calls it per forward pass (a shared module counts
            each call). dtype, device: of its input. sample: its sampled patches and outputs.
        shapes: its input shape at each call.
    """

    target: Target
    input_shape: tuple[int, ...]
    calls: int
    dtype: torch.dtype
    device: torch.device
    sample: LayerSample
    shapes: tuple[tuple[int, ...], ...] = ()


def check_example(model: nn.Module, example_input: object) -> torch.Tensor:
    """``example_input`` as a tensor ``(N, C, *spatial)``; ValueError naming it otherwise."""
    if not isinstance(example_input, torch.Tensor) or example_input.dim() < 3:
        shape = tuple(example_input.shape) if isinstance(example_input, torch.Tensor) else \
            type(example_input).__name__
        raise ValueError(f"`example_input` (={shape}) must be a torch.Tensor of shape "
                         "(N, C, *spatial)")
    check_finite(example_input, "example_input")
    return example_input


def check_finite(x: torch.Tensor, what: str, where: str = "") -> None:
    """A one-line ValueError naming ``what`` if ``x`` holds a NaN or an infinity.

    >>> check_finite(torch.tensor([1.0, float("nan")]), "data")
    Traceback (most recent call last):
    ...
    ValueError: `data` (shape (2,)) holds NaN or Inf: every value must be finite
    """
    if (x.is_floating_point() or x.is_complex()) and not bool(torch.isfinite(x).all()):
        raise ValueError(f"`{what}` ({where}shape {tuple(x.shape)}) holds NaN or Inf: every "
                         "value must be finite")


def check_data(data: object) -> list[torch.Tensor] | None:
    """``data`` (a tensor, or an iterable of tensors or of ``(input, ...)`` tuples, as a
    DataLoader yields) as a list of input batches; None stays None.

    >>> [b.shape for b in check_data([(torch.zeros(2, 1, 4, 4), 0)])]
    [torch.Size([2, 1, 4, 4])]
    """
    if data is None:
        return None
    items: Iterable[Any] = [data] if isinstance(data, torch.Tensor) else data  # type: ignore
    batches = []
    try:
        for item in items:
            x = item[0] if isinstance(item, list | tuple) and item else item
            if not isinstance(x, torch.Tensor):
                raise TypeError
            batches.append(x)
    except TypeError:
        raise ValueError(f"`data` (={type(data).__name__}) must be a tensor or an iterable of "
                         "input batches (tensors, or (input, ...) tuples)") from None
    if not batches:
        raise ValueError("`data` (=empty) must hold at least one batch")
    for i, x in enumerate(batches):
        check_finite(x, "data", f"batch {i}, " if len(batches) > 1 else "")
    return batches


def _run(model: nn.Module, x: torch.Tensor, what: str) -> Any:
    try:
        return run_model(model, x)
    except Exception as e:  # noqa: BLE001 - the user's model on the user's input: one line
        raise ValueError(f"`{what}` (shape {tuple(x.shape)}) does not run through `model` "
                         f"({type(model).__name__}): {first_line(e)}") from None


def capture(model: nn.Module, example: torch.Tensor, targets: list[Target],
            data: list[torch.Tensor] | None = None, samples: int = SAMPLES,
            seed: int = 0) -> tuple[dict[str, LayerInfo], Any, list[Any] | None]:
    """Run ``model`` on the example (and on each data batch) with pre-hooks on the targets.

    Returns:
        ``(infos, example_output, data_outputs)``: a :class:`LayerInfo` per target called on
        the example (targets never called are left out), the model's output on the example,
        and its output on each data batch (None without data).
    """
    generator = torch.Generator().manual_seed(seed)
    shapes: dict[str, list[tuple[int, ...]]] = {t.name: [] for t in targets}
    kinds: dict[str, tuple[torch.dtype, torch.device]] = {}
    patches: dict[str, list[torch.Tensor]] = {t.name: [] for t in targets}
    moments: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    phase = {"data": False, "per_batch": samples}

    def hook_for(t: Target):  # noqa: ANN202 - a forward pre-hook
        def hook(_m: nn.Module, args: tuple) -> None:
            x = args[0]
            if not isinstance(x, torch.Tensor):
                return
            x = x.detach()
            if t.spec.transposed or t.spec.groups != 1:  # never decomposed: its shape only
                if not phase["data"]:
                    shapes[t.name].append(tuple(x.shape))
                    kinds.setdefault(t.name, (x.dtype, x.device))
                return
            if not phase["data"]:
                shapes[t.name].append(tuple(x.shape))
                kinds.setdefault(t.name, (x.dtype, x.device))
                if data is not None:
                    return
            elif x.shape[1] == t.spec.in_channels:
                flat = x.transpose(0, 1).reshape(x.shape[1], -1).to(torch.float64)
                moment = (flat @ flat.T).cpu()
                total = moments.get(t.name)
                moments[t.name] = moment if total is None else total + moment
                counts[t.name] = counts.get(t.name, 0) + flat.shape[1]
            patches[t.name].append(sample_patches(x.cpu(), t.spec, phase["per_batch"],
                                                  generator))
        return hook

    handles = [t.module.register_forward_pre_hook(hook_for(t)) for t in targets]
    try:
        example_output = _run(model, example, "example_input")
        data_outputs = None
        if data is not None:
            phase["data"] = True
            phase["per_batch"] = max(samples // len(data), 1) * 2
            data_outputs = [_run(model, x, "data") for x in data]
    finally:
        for h in handles:
            h.remove()
    infos: dict[str, LayerInfo] = {}
    for t in targets:
        if not shapes[t.name]:
            continue
        width = t.spec.in_channels * t.weight[0, 0].numel()
        found = torch.cat(patches[t.name]) if patches[t.name] else torch.zeros(0, width)
        limit = samples * 2 if data is not None else samples
        if found.shape[0] > limit:
            found = found[torch.randperm(found.shape[0], generator=generator)[:limit]]
        if found.shape[0] and not t.spec.transposed and t.spec.groups == 1:
            out = found @ t.weight.reshape(t.weight.shape[0], -1).to(torch.float32).T
            if t.bias is not None:
                out = out + t.bias.to(torch.float32)
        else:
            out = torch.zeros(0, t.spec.out_channels)
        moment = None
        if t.name in moments:
            moment = moments[t.name] / counts[t.name]
        sample = LayerSample(found, out, moment, data is not None, tuple(t.spec.kernel_size))
        dtype, device = kinds[t.name]
        infos[t.name] = LayerInfo(t, shapes[t.name][0], len(shapes[t.name]), dtype, device,
                                  sample, tuple(shapes[t.name]))
    return infos, example_output, data_outputs
