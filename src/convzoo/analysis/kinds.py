"""Variant classification: which kind of convolution (or other layer) a group of ops is.

Every kind is a name of the one vocabulary (:class:`convzoo.arithmetic.Variant`), the words
``convzoo.create``, ``convzoo.viz.animate``, the zoo's tags and ``compare`` use, so a summary
row of a ``create('separable', ...)`` layer says ``'separable'``. A single convolution gets
its kind from :attr:`ConvSpec.kind <convzoo.spec.ConvSpec.kind>` (``transposed``,
``pointwise``, ``depthwise``, ``group``, ``dilated``, ``conv3d``, ``conv``). A group of ops (a
module call, or a whole block at a shallow summary depth) is classified by its pattern:

- depthwise + pointwise is ``separable``;
- a conv with a pixel shuffle is ``subpixel`` (a pixel shuffle alone: ``pixel_shuffle``);
- a channel shuffle with a depthwise conv is ``shuffle_unit`` (ShuffleNet's unit), with other
  convs ``shuffle_group`` (a channel shuffle alone: ``shuffle``);
- an upsampling then a conv is ``resize_conv``;
- 1-D kernels along every spatial axis of a 2-D or 3-D conv are ``flattened`` (with a
  pointwise conv, Jin et al. 2014) or ``spatially_separable``; a ``(1, k, k)`` and a
  ``(k, 1, 1)`` 3-D conv are ``r2plus1d``;
- dilated convs side by side with other convs (none feeding another, as DeepLab's atrous
  spatial pyramid pooling reads one input with several rates) are ``aspp``;
- convs of one kind keep it; anything else is :data:`MIXED`.

Groups without convs get a layer category (``linear``, ``pool``, ``norm``...).
"""

from __future__ import annotations

from collections.abc import Iterable

from convzoo.analysis.graph import Node
from convzoo.arithmetic.variants import Variant
from convzoo.spec import ConvSpec

__all__ = ["CONV_KINDS", "MIXED", "conv_kind", "classify"]

_V = Variant

#: The kind of a group of convolutions of different kinds and no known pattern.
MIXED = "mixed"

#: Every kind a group containing convolutions can get: the variants of
#: :class:`convzoo.arithmetic.Variant` that are convolutions, and :data:`MIXED`.
CONV_KINDS: tuple[str, ...] = tuple(v.value for v in (
    _V.CONV, _V.CONV3D, _V.POINTWISE, _V.DEPTHWISE, _V.SEPARABLE, _V.GROUP, _V.SHUFFLE_GROUP,
    _V.SHUFFLE_UNIT, _V.DILATED, _V.ASPP, _V.TRANSPOSED, _V.SUBPIXEL, _V.RESIZE_CONV,
    _V.FLATTENED, _V.SPATIALLY_SEPARABLE, _V.R2PLUS1D,
)) + (MIXED,)

_OTHER = {
    "linear": "linear", "pool": "pool", "adaptive_pool": "pool", "reduce": "pool",
    "norm": "norm", "activation": "activation", "merge": "merge", "upsample": "upsample",
    "pad": "pad", "crop": "crop", "view": "view", "elementwise": "elementwise",
    "attention": "attention", "channel_shuffle": _V.SHUFFLE.value,
    "pixel_shuffle": _V.PIXEL_SHUFFLE.value, "pixel_unshuffle": _V.PIXEL_UNSHUFFLE.value,
}


def conv_kind(spec: ConvSpec) -> str:
    """Kind of one convolution: :attr:`ConvSpec.kind`, as a plain ``str``.

    >>> conv_kind(ConvSpec(8, 8, 3, groups=8)), conv_kind(ConvSpec(4, 4, (3, 3, 3)))
    ('depthwise', 'conv3d')
    """
    return spec.kind.value


def _long_axes(spec: ConvSpec) -> frozenset[int]:
    """The spatial axes along which the kernel extends beyond one tap."""
    return frozenset(a for a, k in enumerate(spec.kernel_size) if k > 1)


def _factored(specs: list[ConvSpec], kinds: list[str]) -> str | None:
    """flattened, spatially_separable or r2plus1d: a 2-D/3-D kernel split into lower-dim ones."""
    spatial = [s for s in specs if _long_axes(s)]
    if not spatial or len({s.ndim for s in specs}) != 1 or specs[0].ndim < 2:
        return None
    ndim, axes = specs[0].ndim, [_long_axes(s) for s in spatial]
    if all(len(a) == 1 for a in axes) and set().union(*axes) == set(range(ndim)):
        return (_V.FLATTENED if _V.POINTWISE in kinds else _V.SPATIALLY_SEPARABLE).value
    if ndim == 3 and {frozenset({1, 2}), frozenset({0})} == set(axes):
        return _V.R2PLUS1D.value
    return None


def _atrous_pyramid(convs: list[Node], nodes: list[Node]) -> bool:
    """Dilated convs side by side with other convs (ASPP): no dilated conv feeds another
    (through the group's own ops), and each has a conv beside it (neither feeds the other)."""
    dilated = [n for n in convs if n.spec is not None and n.spec.kind == _V.DILATED]
    if not dilated:
        return False
    before: dict[int, set[int]] = {}  # node -> the nodes it reads, directly or not
    for n in nodes:  # execution order: every input's set is complete before its readers
        before[n.index] = set().union(*(before.get(i, set()) | {i} for i in n.inputs))
    indices = {n.index for n in dilated}
    if any(before[d.index] & indices for d in dilated):
        return False
    return all(any(c is not d and d.index not in before[c.index] and c.index not in
                   before[d.index] for c in convs) for d in dilated)


def _conv_group_kind(convs: list[Node], nodes: list[Node]) -> str:
    specs = [n.spec for n in convs if n.spec is not None]
    kinds = [conv_kind(s) for s in specs]
    if len(specs) == 1:
        return kinds[0]
    factored = _factored(specs, kinds)
    if factored is not None:
        return factored
    if set(kinds) == {_V.DEPTHWISE, _V.POINTWISE}:
        return _V.SEPARABLE.value
    if _atrous_pyramid(convs, nodes):
        return _V.ASPP.value
    if len(set(kinds)) == 1:
        return kinds[0]
    return MIXED


def classify(nodes: Iterable[Node]) -> str:
    """Kind of a group of traced ops (one summary row): a name of the one vocabulary
    (:class:`convzoo.arithmetic.Variant`) or :data:`MIXED` when it holds convolutions, a layer
    category (``'linear'``, ``'pool'``, ``'activation'``...) when it does not.

    >>> from convzoo.analysis.graph import Node
    >>> dw = Node(1, "convolution", "conv", (0,), (1, 8, 8, 8), spec=ConvSpec(8, 8, 3, groups=8))
    >>> pw = Node(2, "convolution", "conv", (1,), (1, 16, 8, 8), spec=ConvSpec(8, 16, 1))
    >>> classify([dw, pw]), classify([pw]), classify([])
    ('separable', 'pointwise', 'other')
    """
    items = list(nodes)
    categories = {n.category for n in items}
    convs = [n for n in items if n.spec is not None]
    if convs:
        specs = [n.spec for n in convs if n.spec is not None]
        if "pixel_shuffle" in categories:
            return _V.SUBPIXEL.value
        if "channel_shuffle" in categories:
            depthwise = any(s.kind == _V.DEPTHWISE for s in specs)
            return (_V.SHUFFLE_UNIT if depthwise else _V.SHUFFLE_GROUP).value
        kind = _conv_group_kind(convs, items)
        if kind != _V.ASPP and "upsample" in categories and not any(s.transposed for s in specs):
            return _V.RESIZE_CONV.value
        return kind
    for category in ("pixel_shuffle", "pixel_unshuffle", "channel_shuffle"):
        if category in categories:
            return _OTHER[category]
    named = {_OTHER.get(c, "other") for c in categories - {"view"}} or {
        _OTHER.get(c, "other") for c in categories}
    if len(named) == 1:
        return named.pop()
    return "other"
