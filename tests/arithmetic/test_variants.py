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
    assert message == ("`variants` (='convolution') must be one of: " + ", ".join(variant_names())
                       + " (or an alias such as grouped, atrous, sub-pixel)")
    with pytest.raises(ValueError, match=r"^`kind` \(=3\) must be a variant name \(a str\)$"):
        variant(3)
    assert resolve_alias("nope") == "nope"


@pytest.mark.parametrize("typed, closest", [
    ("seperable", "separable"), ("depthwize", "depthwise"), ("trasnposed", "transposed"),
    ("atrus", "atrous"), ("Sub-Pixle", "sub_pixel"), ("shufle", "shuffle"),
    ("deconv", "transposed"), ("Deconvolution", "transposed"),  # misnomers, never aliases
])
def test_a_misspelled_name_gets_the_closest_one_not_fifty(typed, closest):
    with pytest.raises(ValueError) as e:
        variant(typed)
    message = str(e.value)
    assert message.startswith(f"`kind` (={typed!r}) is not a variant name; did you mean "
                              f"{closest!r}? Valid: conv, conv3d, ")
    assert message.count(", ") < len(variant_names()) + 3  # the 20 names, not the ~50 aliases
    assert "\n" not in message


def test_every_kind_label_is_a_variant_name():
    """ConvSpec.kind, the summary's conv kinds, the zoo's tags, compare's rows and the report
    sections all speak the vocabulary's canonical names."""
    import convzoo.models as zoo
    from convzoo.analysis.kinds import CONV_KINDS, MIXED
    from convzoo.spec import ConvSpec
    from convzoo.viz.connectivity import CONNECTIVITY_KINDS
    from convzoo.viz.sections import SECTION_NAMES

    names = set(variant_names())
    assert set(CONV_KINDS) - {MIXED} <= names and set(SECTION_NAMES) <= names
    assert set(CONNECTIVITY_KINDS) <= names
    assert all(set(e.variants) <= names for e in zoo.MODELS.values())
    specs = [ConvSpec(4, 4, 3), ConvSpec(4, 4, 1), ConvSpec(4, 4, 3, groups=4),
             ConvSpec(4, 8, 3, groups=2), ConvSpec(4, 4, 3, dilation=2),
             ConvSpec(4, 4, 3, transposed=True), ConvSpec(4, 4, (3, 3, 3))]
    assert [s.kind for s in specs] == ["conv", "pointwise", "depthwise", "group", "dilated",
                                       "transposed", "conv3d"]
    assert all(isinstance(s.kind, Variant) for s in specs)
