"""Variant classification: which kind of convolution (or other layer) a group of ops is.

A single convolution gets its kind from :attr:`ConvSpec.kind` (transposed, pointwise,
depthwise, grouped, dilated, standard), with 3-D convs marked ``'3D'``. A group of ops (a
module call, or a whole block at a shallow summary depth) is classified by its pattern:
depthwise + pointwise is ``'separable'``, a conv with a pixel shuffle is ``'sub-pixel'``,
a channel shuffle makes ``'shuffle'``, convs with 1-D kernels along both spatial axes are
``'flattened'`` (with a pointwise conv, Jin et al. 2014) or ``'spatially separable'``.
"""

from __future__ import annotations

from collections.abc import Iterable

from convzoo.analysis.graph import Node
from convzoo.spec import ConvSpec

__all__ = ["CONV_KINDS", "conv_kind", "classify"]

#: Every kind a group containing convolutions can get.
CONV_KINDS = (
    "standard", "pointwise", "depthwise", "separable", "grouped", "shuffle", "dilated",
    "transposed", "sub-pixel", "resize-conv", "flattened", "spatially separable", "3D",
    "mixed",
)

_OTHER = {
    "linear": "linear", "pool": "pool", "adaptive_pool": "pool", "reduce": "pool",
    "norm": "norm", "activation": "activation", "merge": "merge", "upsample": "upsample",
    "pad": "pad", "crop": "crop", "view": "view", "elementwise": "elementwise",
    "attention": "attention", "pixel_unshuffle": "space-to-depth",
}


def conv_kind(spec: ConvSpec) -> str:
    """Kind of one convolution: :attr:`ConvSpec.kind`, or ``'3D'`` for a 3-D standard conv.

    >>> conv_kind(ConvSpec(8, 8, 3, groups=8)), conv_kind(ConvSpec(4, 4, (3, 3, 3)))
    ('depthwise', '3D')
    """
    if spec.ndim == 3 and spec.kind == "standard":
        return "3D"
    return spec.kind


def _one_dimensional(spec: ConvSpec) -> int | None:
    """The spatial axis of a 2-D kernel with exactly one extent > 1, else None."""
    long = [a for a, k in enumerate(spec.kernel_size) if k > 1]
    return long[0] if spec.ndim == 2 and len(long) == 1 else None


def _conv_group_kind(specs: list[ConvSpec]) -> str:
    kinds = [conv_kind(s) for s in specs]
    if len(specs) == 1:
        return kinds[0]
    axes = {_one_dimensional(s) for s in specs if s.kind != "pointwise"}
    if axes == {0, 1}:
        return "flattened" if "pointwise" in kinds else "spatially separable"
    if set(kinds) == {"depthwise", "pointwise"}:
        return "separable"
    if len(set(kinds)) == 1:
        return kinds[0]
    return "mixed"


def classify(nodes: Iterable[Node]) -> str:
    """Kind of a group of traced ops (one summary row).

    >>> from convzoo.analysis.graph import Node
    >>> dw = Node(1, "convolution", "conv", (0,), (1, 8, 8, 8), spec=ConvSpec(8, 8, 3, groups=8))
    >>> pw = Node(2, "convolution", "conv", (1,), (1, 16, 8, 8), spec=ConvSpec(8, 16, 1))
    >>> classify([dw, pw]), classify([pw]), classify([])
    ('separable', 'pointwise', 'other')
    """
    items = list(nodes)
    categories = {n.category for n in items}
    specs = [n.spec for n in items if n.spec is not None]
    if "pixel_shuffle" in categories:
        return "sub-pixel"
    if "channel_shuffle" in categories:
        return "shuffle"
    if specs:
        if "upsample" in categories and not any(s.transposed for s in specs):
            return "resize-conv"
        return _conv_group_kind(specs)
    named = {_OTHER.get(c, "other") for c in categories - {"view"}} or {
        _OTHER.get(c, "other") for c in categories}
    if len(named) == 1:
        return named.pop()
    return "other"
