"""What an ``Optimized`` call hands back: fresh tensors, laid out as the original's.

A captured graph may return a constant (``self.base * 8`` folded once), the input itself,
a view, or one tensor twice; the channels_last plan may leave an output in another layout
than the original's (``flatten(2)`` of an NHWC tensor is not contiguous, so the caller's
``.view(N, -1)`` would fail). :func:`finish` makes every tensor leaf a tensor of its own —
copied when it shares memory with the input, a constant of the graph or another leaf, or is
a view — and gives it the strides the original's output had at that input (recorded once
per input shape and layout, :func:`strides_of`), wherever those strides describe a
non-overlapping layout. An output the original expanded (stride 0 along an axis) comes
back expanded the same way (a view of a fresh compact tensor), provided its values do not
vary along that axis; otherwise it stays dense.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.utils._pytree as pytree

from convzoo.arithmetic.strided import non_overlapping

__all__ = ["expanded", "finish", "layable", "same_strides", "storages", "strides_of"]


def strides_of(reference: object) -> tuple[tuple[int, ...] | None, ...]:
    """The strides of every tensor leaf of an output (None for other leaves).

    >>> strides_of((torch.zeros(2, 3), 4, torch.zeros(3, 2).t()))
    ((3, 1), None, (1, 2))
    """
    return tuple(tuple(t.stride()) if isinstance(t, torch.Tensor) and t.layout == torch.strided
                 else None for t in pytree.tree_leaves(reference))


def same_strides(shape: torch.Size, a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether two stride tuples lay out ``shape`` the same (axes of size 1 ignored).

    >>> same_strides(torch.Size([1, 4, 2]), (8, 2, 1), (1, 2, 1))
    True
    """
    return all(x == y for n, x, y in zip(shape, a, b) if n > 1)


def layable(shape: torch.Size, strides: tuple[int, ...]) -> bool:
    """Whether ``strides`` give every element of ``shape`` its own place (no overlap).

    >>> layable(torch.Size([2, 3]), (1, 2)), layable(torch.Size([2, 3]), (0, 1))
    (True, False)
    """
    return non_overlapping(shape, strides)


def expanded(t: torch.Tensor, want: tuple[int, ...]) -> torch.Tensor | None:
    """``t`` as a view of a fresh compact tensor with exactly the strides ``want``, where
    ``want`` expands (stride 0 on axes longer than 1) an otherwise non-overlapping layout
    and ``t`` does not vary along those axes (NaN equal to NaN); None otherwise.

    >>> y = expanded(torch.ones(1, 3).expand(2, 3).clone(), (0, 1))
    >>> y.stride(), y.tolist()
    ((0, 1), [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    """
    axes = [i for i, (n, s) in enumerate(zip(t.shape, want)) if n > 1 and s == 0]
    if not axes or len(want) != t.dim():
        return None
    compact = [1 if i in axes else n for i, n in enumerate(t.shape)]
    if not layable(torch.Size(compact), want):
        return None
    part = t[tuple(slice(0, 1) if i in axes else slice(None) for i in range(t.dim()))]
    if not all(t.stride()[i] == 0 for i in axes):
        same = t == part
        if t.is_floating_point() or t.is_complex():
            same |= t.isnan() & part.isnan()
        if not bool(same.all()):
            return None
    new = torch.empty_strided(compact, want, dtype=t.dtype, device=t.device)
    return new.copy_(part).expand(t.shape)


def storages(module: nn.Module) -> set[int]:
    """The data pointers of every tensor a module holds (parameters, buffers, plain tensor
    attributes of its submodules): an output sharing one must be copied."""
    found: set[int] = set()
    tensors = [*module.parameters(), *module.buffers()]
    for m in module.modules():
        tensors += [v for v in vars(m).values() if isinstance(v, torch.Tensor)]
        tensors += [v for v in getattr(m, "leaves", ()) if isinstance(v, torch.Tensor)]
    for t in tensors:
        try:
            if t.layout == torch.strided and t.numel():
                found.add(t.untyped_storage().data_ptr())
        except (RuntimeError, NotImplementedError):  # an opaque (oneDNN-prepacked) tensor
            continue
    return found


def finish(out: object, strides: tuple[tuple[int, ...] | None, ...], x: torch.Tensor,
           held: set[int]) -> tuple[list[object], pytree.TreeSpec]:
    """``out``'s leaves made fresh and laid out as the original's (see the module
    docstring), with its tree spec. ``held``: storages of the module's own tensors.

    >>> base = torch.ones(3)
    >>> leaves, _ = finish((base, base[:2]), ((1,), (1,)), torch.zeros(1), set())
    >>> [t.data_ptr() != base.data_ptr() for t in leaves]
    [False, True]
    """
    leaves, spec = pytree.tree_flatten(out)
    seen = set(held)
    if x.layout == torch.strided and x.numel():
        seen.add(x.untyped_storage().data_ptr())
    for i, t in enumerate(leaves):
        if not isinstance(t, torch.Tensor) or t.layout != torch.strided:
            continue
        want = strides[i] if i < len(strides) else None
        ptr = t.untyped_storage().data_ptr() if t.numel() else None
        copy = t._base is not None or (ptr is not None and ptr in seen)
        lay = want is not None and len(want) == t.dim() and layable(t.shape, want)
        if copy or (lay and not same_strides(t.shape, tuple(t.stride()), want)):  # type: ignore
            if lay:
                new = torch.empty_strided(t.shape, want, dtype=t.dtype, device=t.device)
                t = leaves[i] = new.copy_(t)
            else:
                t = leaves[i] = t.clone()
        if want is not None and not lay and tuple(t.stride()) != want:
            view = expanded(t, want)  # the original expanded this output: so do we
            if view is not None:
                t = leaves[i] = view
        if t.numel():
            seen.add(t.untyped_storage().data_ptr())
    return leaves, spec
