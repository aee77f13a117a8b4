"""Who produces and who consumes each tensor of one forward pass (for exact graph rewrites).

One eager run of the model with module hooks (which module is running, what each module
returned) and a ``TorchFunctionMode`` (every torch call and the tensors it reads). A rewrite
such as folding a BatchNorm into the conv before it is exact only when the conv's output
feeds that BatchNorm and nothing else; :class:`Usage` answers such questions for any
model, whatever its forward does (residual adds, concatenations, chunking).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

__all__ = ["Usage", "record_usage"]


@dataclass
class Usage:
    """What one forward pass did.

    Attributes:
        calls: module -> number of times its forward ran.
        inputs: module -> id of the first positional input tensor of its (last) call.
        outputs: module -> id of its (last) output tensor.
        consumers: tensor id -> ``(call number, innermost module running)`` of each torch
            call that read it (module ``None`` for calls outside every module).
        ends: module -> the call number at which its (last) forward returned.
        in_place: modules whose output is their input tensor (in-place ops, Identity).
        model_output: ids of the tensors the model returned.
        output: what the model returned.
    """

    calls: dict[nn.Module, int] = field(default_factory=lambda: defaultdict(int))
    inputs: dict[nn.Module, int] = field(default_factory=dict)
    outputs: dict[nn.Module, int] = field(default_factory=dict)
    consumers: dict[int, list[tuple[int, nn.Module | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    ends: dict[nn.Module, int] = field(default_factory=dict)
    in_place: set[nn.Module] = field(default_factory=set)
    model_output: set[int] = field(default_factory=set)
    output: object = None

    def only_consumer(self, producer: nn.Module, consumer: nn.Module) -> bool:
        """Whether ``producer`` ran once, ``consumer`` ran once on its output, and every torch
        call reading that output ran inside ``consumer``.

        >>> conv, bn = nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)
        >>> usage = record_usage(nn.Sequential(conv, bn), torch.randn(1, 1, 2, 2))
        >>> usage.only_consumer(conv, bn), usage.only_consumer(bn, conv)
        (True, False)
        """
        if self.calls.get(producer, 0) != 1 or self.calls.get(consumer, 0) != 1:
            return False
        out = self.outputs.get(producer)
        if out is None or out in self.model_output or self.inputs.get(consumer) != out:
            return False
        done = self.ends[producer]  # reads while producing it don't count
        readers = [(n, r) for n, r in self.consumers.get(out, []) if n > done]
        if consumer in self.in_place:  # later reads see the consumer's output, same tensor
            readers = [(n, r) for n, r in readers if n <= self.ends[consumer]]
        return bool(readers) and all(r is consumer for _, r in readers)


class _Recorder(TorchFunctionMode):
    def __init__(self, usage: Usage, stack: list[nn.Module], keep: list[object],
                 count: list[int]) -> None:
        super().__init__()
        self.usage, self.stack, self.keep = usage, stack, keep
        self.count = count

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if isinstance(result, torch.Tensor) or (
            isinstance(result, (tuple, list)) and any(isinstance(r, torch.Tensor) for r in result)
        ):  # a call computing tensors (metadata reads such as .shape or .dim() are skipped)
            owner = self.stack[-1] if self.stack else None
            self.count[0] += 1
            for a in _tensors((args, kwargs)):
                self.usage.consumers[id(a)].append((self.count[0], owner))
        self.keep.append(result)  # keep ids unique for the whole run
        return result


def _tensors(obj: object) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def record_usage(model: nn.Module, example: torch.Tensor) -> Usage:
    """Run ``model(example)`` once (no grad) and record producers and consumers.

    Args:
        model: any module. example: an input it accepts.

    Shape:
        any; the returned :class:`Usage` is keyed by module and tensor id.

    >>> model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU())
    >>> usage = record_usage(model, torch.randn(1, 1, 3, 3))
    >>> usage.calls[model[0]], usage.only_consumer(model[0], model[1])
    (1, True)
    """
    usage = Usage()
    stack: list[nn.Module] = []
    keep: list[object] = [example]
    count = [0]  # torch calls so far

    def pre(module: nn.Module, args: tuple) -> None:
        stack.append(module)
        usage.calls[module] += 1
        if args and isinstance(args[0], torch.Tensor):
            usage.inputs[module] = id(args[0])

    def post(module: nn.Module, args: tuple, output: object) -> None:
        stack.pop()
        usage.ends[module] = count[0]
        if isinstance(output, torch.Tensor):
            usage.outputs[module] = id(output)
            if any(output is a for a in args):
                usage.in_place.add(module)
        keep.append(output)

    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    try:
        with torch.no_grad(), _Recorder(usage, stack, keep, count):
            out = model(example)
    finally:
        for h in handles:
            h.remove()
    usage.model_output = {id(t) for t in _tensors(out)}
    usage.output = out
    return usage
