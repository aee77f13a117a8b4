"""Which convolutions of a model can be decomposed, and why the others cannot.

A *target* is one forward convolution module of the model (``torch.nn.Conv1d/2d/3d`` or a
convzoo :class:`~convzoo.layers.Conv`), with its :class:`~convzoo.spec.ConvSpec` and its weight
and bias as float64 tensors on the CPU (the factorizations are computed there, in float64 where
they are small; the replacements are cast back to the model's dtype and moved to its device).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from convzoo.layers.base import ConvBase
from convzoo.spec import ConvSpec

__all__ = ["Target", "find_targets", "refusal", "METHOD_NAMES", "check_model"]

#: The factorization methods, in the order reports list them (``"auto"`` chooses among them).
METHOD_NAMES = ("separable", "spatially_separable", "flattened", "cp", "tucker", "svd")

#: Methods whose layers (Flattened, SpatiallySeparable) take no dilation and pad with zeros.
_PER_AXIS = ("spatially_separable", "flattened", "cp")


@dataclass
class Target:
    """One convolution of a model.

    Attributes:
        name: qualified module name in the model (``'features.0'``).
        module: the module itself. spec: its ConvSpec.
        weight: ``(C_out, C_in/g, *k)`` float64 copy (CPU). bias: ``(C_out,)`` float64 copy or
            None. problem: why the module is not just its kernel (a forward of its own, hooks,
            shared under several names), one line; empty when it is.
    """

    name: str
    module: nn.Module
    spec: ConvSpec
    weight: torch.Tensor
    bias: torch.Tensor | None
    problem: str = ""

    @property
    def dtype(self) -> torch.dtype:
        """The module's own parameter dtype (what its replacement is cast back to)."""
        return self.module.weight.dtype  # type: ignore[union-attr,return-value]


def _spec(module: nn.Module) -> ConvSpec | None:
    if isinstance(module, ConvBase):
        return module.spec
    if isinstance(module, nn.modules.conv._ConvNd):
        return ConvSpec.from_module(module)
    return None


def find_targets(model: nn.Module) -> list[Target]:
    """Every forward or transposed convolution module of ``model``, in ``named_modules`` order
    (convs nested inside another conv module are not listed).

    >>> [t.name for t in find_targets(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()))]
    ['0']
    """
    out: list[Target] = []
    inside: list[str] = []
    aliases: dict[int, list[str]] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        aliases.setdefault(id(module), []).append(name)
    for name, module in model.named_modules():
        if any(name.startswith(p + ".") for p in inside):
            continue
        spec = _spec(module)
        if spec is None:
            continue
        inside.append(name)
        weight = module.weight.detach().to("cpu", torch.float64).clone()
        bias = getattr(module, "bias", None)
        bias = bias.detach().to("cpu", torch.float64).clone() if bias is not None else None
        others = [n for n in aliases[id(module)] if n != name]
        out.append(Target(name, module, spec, weight, bias, _problem(module, others)))
    return out


def _problem(module: nn.Module, others: list[str]) -> str:
    """Why replacing ``module`` by a factorization of its ``weight`` would not compute what
    the model computes (or would break a tie), one line; ``''`` when nothing is in the way.

    >>> class WS(nn.Conv2d):
    ...     def forward(self, x):
    ...         return super().forward(x)
    >>> _problem(WS(3, 8, 3), [])
    'forward overridden (WS.forward): the kernel it applies is not its weight; left alone'
    >>> _problem(nn.Conv2d(3, 8, 3), ["seq.0"])
    "shared module (also reachable as 'seq.0'): replaced under one name it would break the \
tie and leave the other calls dense; left alone"
    """
    cls = type(module)
    home = "convzoo." if isinstance(module, ConvBase) else "torch.nn.modules.conv"
    for attr in ("forward", "_conv_forward"):
        fn = getattr(cls, attr, None)
        if fn is not None and not getattr(fn, "__module__", "").startswith(home):
            return (f"forward overridden ({cls.__name__}.{attr}): the kernel it applies is not "
                    "its weight; left alone")
    hooks = [*module._forward_pre_hooks.values(), *module._forward_hooks.values()]
    if hooks:
        names = ", ".join(sorted({getattr(h, "__name__", type(h).__name__) for h in hooks}))
        return (f"forward hooks ({names}; e.g. torch.nn.utils.weight_norm / spectral_norm) "
                "change or watch what it computes; left alone (torch.nn.utils.parametrizations"
                " are decomposed)")
    if others:
        return (f"shared module (also reachable as {', '.join(map(repr, others))}): replaced "
                "under one name it would break the tie and leave the other calls dense; left "
                "alone")
    return ""


def check_model(model: object) -> list[Target]:
    """``model``'s targets; a one-line ValueError if it is not a module or holds no conv.

    >>> check_model(nn.Linear(3, 4))
    Traceback (most recent call last):
    ...
    ValueError: `model` (=Linear) has no convolution to decompose: no torch.nn.Conv1d/2d/3d \
or convzoo conv module in it
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"`model` (={type(model).__name__}) must be a torch.nn.Module")
    targets = find_targets(model)
    if not targets:
        raise ValueError(f"`model` (={type(model).__name__}) has no convolution to decompose: "
                         "no torch.nn.Conv1d/2d/3d or convzoo conv module in it")
    return targets


def refusal(spec: ConvSpec, method: str) -> str | None:
    """Why ``method`` cannot decompose a conv of ``spec`` exactly (one line), or None if it can.

    >>> refusal(ConvSpec(8, 8, 1), "cp")
    "1x1 conv: no spatial extent to factor (method 'svd' splits it into two 1x1 convs)"
    >>> refusal(ConvSpec(8, 8, 1), "svd") is None
    True
    >>> refusal(ConvSpec(8, 8, 3, dilation=2), "spatially_separable")
    'dilation (2, 2): the per-axis layers take no dilation (use separable, tucker or svd)'
    """
    if spec.transposed:
        return "transposed conv: not decomposed (only forward convs are)"
    if spec.groups > 1:
        if spec.groups == spec.in_channels:
            return (f"depthwise conv (groups={spec.groups}): each filter reads one channel, "
                    "there is no channel mixing to factor; left alone")
        return (f"grouped conv (groups={spec.groups}): every method factors filters that read "
                "all input channels (groups=1); left alone")
    if method == "svd":
        return None
    if all(k == 1 for k in spec.kernel_size):
        return "1x1 conv: no spatial extent to factor (method 'svd' splits it into two 1x1 convs)"
    if method in _PER_AXIS:
        if any(d != 1 for d in spec.dilation):
            return (f"dilation {spec.dilation}: the per-axis layers take no dilation "
                    "(use separable, tucker or svd)")
        if spec.padding_mode != "zeros":
            return (f"padding_mode={spec.padding_mode!r}: the per-axis layers pad with zeros "
                    "(use separable, tucker or svd)")
    if method == "spatially_separable":
        if spec.ndim == 1:
            return "1-D conv: a k x 1 then 1 x k split needs two spatial axes"
        if spec.ndim == 3:
            return "3-D conv: three-stage separable has no closed form (use cp or tucker)"
    return None
