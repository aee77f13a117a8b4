"""The one vocabulary: every layer kind is a Variant, aliases resolve, errors are pinned."""

from __future__ import annotations

import pytest

from convzoo.arithmetic import ALIASES, Variant, resolve_alias, variant, variant_names


def test_every_registered_layer_kind_is_a_variant():
    import convzoo

    assert set(convzoo.available()) <= set(variant_names())
    assert set(variant_names()) - set(convzoo.available()) == {"conv3d", "wavenet"}


@pytest.mark.parametrize("name, expected", [
    ("grouped", "group"), ("Group", "group"), ("atrous", "dilated"), ("sub-pixel", "subpixel"),
    ("Sub Pixel", "subpixel"), ("standard", "conv"), ("depthwise-separable", "separable"),
    ("depthwise separable", "separable"), ("resize-conv", "resize_conv"),
    ("spatially separable", "spatially_separable"), ("R(2+1)D", "r2plus1d"),
    ("fractionally strided", "transposed"), ("depth_to_space", "pixel_shuffle"),
])
def test_aliases_and_spellings_resolve(name, expected):
    assert variant(name) == expected == resolve_alias(name)
    assert variant(variant(name)) is variant(name)


def test_aliases_point_at_variants_and_never_shadow_a_name():
    assert all(isinstance(v, Variant) for v in ALIASES.values())
    assert not set(ALIASES) & set(variant_names())
    assert "deconv" not in ALIASES  # a deconvolution is another operation


def test_unknown_names_are_pinned():
    with pytest.raises(ValueError) as e:
        variant("convolution", "variants")
    message = str(e.value)
    assert message.startswith("`variants` (='convolution') must be one of: conv, conv3d, ")
    assert "(aliases: " in message and "grouped" in message and "\n" not in message
    with pytest.raises(ValueError, match=r"^`kind` \(=3\) must be a variant name \(a str\)$"):
        variant(3)
    assert resolve_alias("nope") == "nope"
