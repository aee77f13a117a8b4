"""The independent oracle of receptive-field spans: the support of input gradients.

For an input axis and a coordinate along it in the output (``rf.places`` says which output
elements sit at which coordinate: a plain dim's index, the coordinate of a flattened token,
or "outside the axis" for a class token), the oracle is the first and last input index
along that axis where the gradient of a random positive combination of all those output
elements is nonzero (None when it is zero everywhere). With positive weights, identity
activations and a positive input no two paths cancel, so that is exactly where the
elements depend on the input; for models with their own weights, the union over a few
random inputs is taken (a dead ReLU could hide a dependency on one of them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
from torch.utils._pytree import tree_flatten

from convzoo.analysis import receptive_field, spatial_dims
from convzoo.analysis.receptive import layer_output

Span = tuple[int, int] | None


def positive_(module: nn.Module, gen: torch.Generator) -> nn.Module:
    """Parameters (biases too: a gate by a zero output would cut paths) drawn in
    [0.2, 1.0), float64."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=torch.float64) * 0.8 + 0.2)
    return module.double()


_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish,
                nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.ELU, nn.Softplus)


def identity_activations(model: nn.Module) -> nn.Module:
    """``model`` with every activation module replaced by the identity (in place): a dead
    ReLU of random weights would hide a dependency the structure has. Spans do not change
    (an activation is pointwise); the attention's softmax is kept (it mixes positions)."""
    for name, module in list(model.named_modules()):
        kind = type(module).__name__
        if isinstance(module, _ACTIVATIONS) or (kind.endswith("Activation") and not list(
                module.children())):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, nn.Identity())
    return model


def _output(model: nn.Module, x: torch.Tensor, shape: Sequence[int], layer: str | None = None
            ) -> torch.Tensor:
    """The model's output (or ``layer``'s, first call) of ``shape``."""
    flat = [t for t in tree_flatten(layer_output(model, x, layer))[0]
            if isinstance(t, torch.Tensor)]
    for t in flat:
        if tuple(t.shape) == tuple(shape) and t.requires_grad:
            return t
    raise AssertionError(f"no output of shape {tuple(shape)} depending on the input")


def _groups(rf, axis: int) -> dict[object, torch.Tensor]:
    """Output elements by their coordinate along ``axis`` (masks of ``rf.shape``)."""
    place = rf.places[axis]
    if place is None:
        return {"all": torch.ones(rf.shape, dtype=torch.bool)}
    keys = torch.tensor([place.coordinate(i) for i in range(rf.shape[place.dim])])
    view = [1] * len(rf.shape)
    view[place.dim] = -1
    keys = keys.view(view).expand(rf.shape)
    return {int(k): keys == k for k in torch.unique(keys)}


def gradient_support(model: nn.Module, shape: Sequence[int], rf, inputs: int = 1,
                     make_input: Callable[[torch.Generator], torch.Tensor] | None = None,
                     layer: str | None = None) -> list[dict[object, Span]]:
    """Per axis, per coordinate key (``'all'`` for a removed axis, -1 for elements outside
    the axis): the gradient support along that input axis."""
    dims = spatial_dims(shape)
    gen = torch.Generator().manual_seed(1)
    out: list[dict[object, Span]] = [dict() for _ in dims]
    for _ in range(inputs):
        x = (make_input(gen) if make_input is not None else
             torch.rand(tuple(shape), dtype=torch.float64, generator=gen) + 0.5)
        x = x.detach().requires_grad_(True)
        y = _output(model, x, rf.shape, layer)
        y = y * (torch.rand(y.shape, dtype=y.dtype, generator=gen) + 0.5)
        for axis, d in enumerate(dims):
            for key, mask in _groups(rf, axis).items():
                (g,) = torch.autograd.grad((y * mask).sum(), x, retain_graph=True)
                g = (g != 0).sum(tuple(e for e in range(g.dim()) if e != d))
                inside = torch.nonzero(g).flatten().tolist()
                span = (inside[0], inside[-1]) if inside else None
                old = out[axis].get(key)
                out[axis][key] = span if old is None else (
                    old if span is None else (min(old[0], span[0]), max(old[1], span[1])))
    return out


def ours(rf, axis: int, key: object) -> Span:
    """The span ``rf`` claims for coordinate ``key`` of ``axis``."""
    if key == "all":
        return rf.fields[axis].span(0)
    if key == -1:
        return rf.foreign[axis]
    return rf.fields[axis].span(key)


def _inside(small: Span, big: Span) -> bool:
    return small is None or (big is not None and big[0] <= small[0] and small[1] <= big[1])


def check(model: nn.Module, shape: Sequence[int], dtype: torch.dtype = torch.float64,
          inputs: int = 1, rf=None, make_input=None, layer: str | None = None
          ) -> tuple[int, int, object]:
    """Compare every coordinate with the gradient support: exact results must equal it,
    inexact ones contain it (soundness). Returns ``(right, checked, rf)``: coordinates whose
    span equals the support, and coordinates checked, over all axes."""
    rf = rf if rf is not None else receptive_field(model, shape, layer=layer, dtype=dtype)
    oracle = gradient_support(model, shape, rf, inputs, make_input, layer)
    right = total = 0
    for axis, groups in enumerate(oracle):
        for key, support in groups.items():
            claim = ours(rf, axis, key)
            total += 1
            right += claim == support
            if rf.exact:
                assert claim == support, (axis, key, claim, support, rf.notes)
            else:
                assert _inside(support, claim), (axis, key, claim, support, rf.notes)
    return right, total, rf
