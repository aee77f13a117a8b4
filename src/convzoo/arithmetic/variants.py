"""The one vocabulary of convolution variants: :class:`Variant`, with its aliases.

Every layer of the package speaks it: ``convzoo.create``, ``convzoo.viz.animate``,
``convzoo.compare`` rows (their ``family``), the report's sections, the playground and the
CLI. A name is normalized once (:func:`variant`): lower case, spaces and hyphens read as
underscores, then the alias table (``grouped`` -> ``group``, ``atrous`` -> ``dilated``,
``sub-pixel`` -> ``subpixel``, ``standard`` -> ``conv``...).

>>> variant("Grouped"), variant("atrous"), variant("sub-pixel"), variant("standard")
(<Variant.GROUP: 'group'>, <Variant.DILATED: 'dilated'>, <Variant.SUBPIXEL: 'subpixel'>, \
<Variant.CONV: 'conv'>)
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from convzoo.names import unknown_name

__all__ = ["Variant", "ALIASES", "ALIAS_NOTE", "MISNOMERS", "variant", "variant_among",
           "suggestion_for", "variant_names", "resolve_alias"]


class Variant(StrEnum):
    """Every variant convzoo knows, by its canonical name (a ``str``).

    The values are the kinds of ``convzoo.available()``, plus ``conv3d`` (a conv over 3
    spatial axes, animated as depth slices) and ``wavenet`` (a stack of dilated causal 1-D
    convs), which are configurations of ``conv`` rather than layers of their own.
    """

    CONV = "conv"
    CONV3D = "conv3d"
    POINTWISE = "pointwise"
    DEPTHWISE = "depthwise"
    SEPARABLE = "separable"
    GROUP = "group"
    SHUFFLE = "shuffle"
    SHUFFLE_GROUP = "shuffle_group"
    SHUFFLE_UNIT = "shuffle_unit"
    DILATED = "dilated"
    ASPP = "aspp"
    WAVENET = "wavenet"
    TRANSPOSED = "transposed"
    SUBPIXEL = "subpixel"
    PIXEL_SHUFFLE = "pixel_shuffle"
    PIXEL_UNSHUFFLE = "pixel_unshuffle"
    RESIZE_CONV = "resize_conv"
    FLATTENED = "flattened"
    SPATIALLY_SEPARABLE = "spatially_separable"
    R2PLUS1D = "r2plus1d"


#: Other names for a variant (already normalized: lower case, ``_`` for spaces and hyphens).
ALIASES: dict[str, Variant] = {
    "standard": Variant.CONV, "dense": Variant.CONV, "conv1d": Variant.CONV,
    "conv2d": Variant.CONV,
    "conv_3d": Variant.CONV3D, "3d": Variant.CONV3D,
    "1x1": Variant.POINTWISE,
    "depthwise_separable": Variant.SEPARABLE, "separable_conv": Variant.SEPARABLE,
    "grouped": Variant.GROUP, "groups": Variant.GROUP, "group_conv": Variant.GROUP,
    "channel_shuffle": Variant.SHUFFLE,
    "shuffled_group": Variant.SHUFFLE_GROUP, "shuffled_group_conv": Variant.SHUFFLE_GROUP,
    "shufflenet_unit": Variant.SHUFFLE_UNIT,
    "atrous": Variant.DILATED,
    "transpose": Variant.TRANSPOSED, "conv_transpose": Variant.TRANSPOSED,
    "fractionally_strided": Variant.TRANSPOSED,
    "sub_pixel": Variant.SUBPIXEL, "espcn": Variant.SUBPIXEL,
    "depth_to_space": Variant.PIXEL_SHUFFLE, "space_to_depth": Variant.PIXEL_UNSHUFFLE,
    "resize": Variant.RESIZE_CONV,
    "spatial_separable": Variant.SPATIALLY_SEPARABLE,
    "(2+1)d": Variant.R2PLUS1D, "r(2+1)d": Variant.R2PLUS1D,
}


#: Names that are not aliases (a deconvolution inverts a convolution, another operation) but
#: that usually mean a variant: suggested in the error, never accepted.
MISNOMERS: dict[str, Variant] = {
    "deconv": Variant.TRANSPOSED, "deconvolution": Variant.TRANSPOSED,
}

#: What error messages say about the aliases (they are not all listed).
ALIAS_NOTE = " (or an alias such as grouped, atrous, sub-pixel)"


def _normal(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def variant(name: str | Variant, argument: str = "kind") -> Variant:
    """The :class:`Variant` called ``name`` (a canonical name or an alias, any case).

    Args:
        name: e.g. ``'grouped'``, ``'Sub-pixel'``, ``'depthwise separable'``.
        argument: the argument name used in the error message (default ``'kind'``).

    Raises:
        ValueError: naming the value, the closest accepted name (aliases included) and the
            canonical names.

    >>> variant("seperable")
    Traceback (most recent call last):
    ...
    ValueError: `kind` (='seperable') is not a variant name; did you mean 'separable'? Valid: \
conv, conv3d, pointwise, depthwise, separable, group, shuffle, shuffle_group, shuffle_unit, \
dilated, aspp, wavenet, transposed, subpixel, pixel_shuffle, pixel_unshuffle, resize_conv, \
flattened, spatially_separable, r2plus1d (or an alias such as grouped, atrous, sub-pixel)

    >>> variant("depthwise separable").value
    'separable'
    """
    if isinstance(name, Variant):
        return name
    if not isinstance(name, str):
        raise ValueError(f"`{argument}` (={name!r}) must be a variant name (a str)")
    key = _normal(name)
    try:
        return Variant(key)
    except ValueError:
        pass
    if key in ALIASES:
        return ALIASES[key]
    raise ValueError(unknown_name(argument, name, variant_names(), "variant name", ALIASES,
                                  ALIAS_NOTE, suggestion_for(name)))


def variant_among(name: str | Variant, allowed: Sequence[str], argument: str) -> str:
    """The canonical name of ``name`` (an alias works too), which must be one of ``allowed``;
    the ValueError names the closest allowed name.

    >>> variant_among("resize", ("transposed", "subpixel", "resize_conv"), "upsampler")
    'resize_conv'
    >>> variant_among("bilinear", ("transposed", "resize_conv"), "upsampler")
    Traceback (most recent call last):
    ...
    ValueError: `upsampler` (='bilinear') must be one of: transposed, resize_conv
    """
    key = resolve_alias(name) if isinstance(name, str) else None
    if key in allowed:
        return key
    raise ValueError(unknown_name(argument, name, allowed, f"{argument} name",
                                  [a for a, v in ALIASES.items() if v in allowed],
                                  suggestion=None if not isinstance(name, str) else
                                  suggestion_for(name)))


def suggestion_for(name: str) -> str | None:
    """The variant a misnomer usually means (:data:`MISNOMERS`), for an error message.

    >>> suggestion_for("Deconv"), suggestion_for("conv")
    ('transposed', None)
    """
    hint = MISNOMERS.get(_normal(name))
    return None if hint is None else hint.value


def resolve_alias(name: str) -> str:
    """``name`` normalized, and read through the alias table; unchanged otherwise (for
    callers with their own closed set and error, such as the layer registry).

    >>> resolve_alias("Grouped"), resolve_alias("depthwise separable"), resolve_alias("xyz")
    ('group', 'separable', 'xyz')
    """
    key = _normal(name)
    return str(ALIASES.get(key, key))


def variant_names() -> tuple[str, ...]:
    """The canonical names, in :class:`Variant` order.

    >>> variant_names()[:3]
    ('conv', 'conv3d', 'pointwise')
    """
    return tuple(v.value for v in Variant)
