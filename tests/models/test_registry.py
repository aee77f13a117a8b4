"""The zoo registry: names, config fields and declared variants are checked, messages pinned."""

from __future__ import annotations

import dataclasses

import pytest
import torch.nn as nn

import convzoo.models as zoo
from convzoo.models.registry import register_model


@dataclasses.dataclass(frozen=True)
class _Config:
    width: int = 4


def test_unknown_name_lists_the_zoo():
    with pytest.raises(ValueError, match=r"^`name` \(='vgg19'\) is not a zoo model; did you "
                                         r"mean 'vgg16'\? Valid: c3d, "):
        zoo.create("vgg19")
    with pytest.raises(ValueError, match=r"^`name` \(='alexnet'\) must be one of: c3d, "):
        zoo.create("alexnet")


def test_unknown_config_field_lists_the_valid_ones():
    with pytest.raises(ValueError) as e:
        zoo.create("mobilenet_v2", widht=0.5)
    assert str(e.value) == (
        "unknown config field widht for model 'mobilenet_v2' (MobileNetV2Config); valid: "
        + ", ".join(f.name for f in dataclasses.fields(zoo.entry("mobilenet_v2").config))
    )


def test_declared_variants_are_names_of_the_one_vocabulary():
    with pytest.raises(ValueError, match=r"^`variants` \(='depthwise-separabel'\) is not a "
                       r"variant name; did you mean 'depthwise_separable'\? Valid: conv, .* "
                       r"\(model 'tiny'\)$"):
        register_model("tiny", config=_Config, description="a tiny model",
                       input_shape=(1, 1, 8, 8), variants=("depthwise-separabel",),
                       source="nowhere")(lambda c: nn.Identity())
    with pytest.raises(ValueError, match=r"^`variants` \(='separable'\) of model 'tiny' must be "
                                         r"a non-empty tuple of variant names$"):
        register_model("tiny", config=_Config, description="a tiny model",
                       input_shape=(1, 1, 8, 8), variants="separable", source="nowhere")
    assert "tiny" not in zoo.MODELS
    try:  # aliases are stored under their canonical names, once
        register_model("tiny", config=_Config, description="a tiny model",
                       input_shape=(1, 1, 8, 8), variants=("depthwise-separable", "grouped",
                                                           "separable"),
                       source="nowhere")(lambda c: nn.Identity())
        assert zoo.entry("tiny").variants == ("separable", "group")
    finally:
        zoo.MODELS.pop("tiny", None)


def test_register_model_takes_the_builder_name_and_keyword_only_metadata():
    meta = dict(config=_Config, description="a tiny model", input_shape=(1, 1, 8, 8),
                variants=("standard",), source="nowhere")
    with pytest.raises(TypeError):
        register_model("tiny", _Config, "a tiny model", (1, 1, 8, 8), ("standard",), "x")

    def tiny_zoo_test_model(config):
        return nn.Identity()

    try:
        assert register_model(**meta)(tiny_zoo_test_model) is tiny_zoo_test_model
        assert zoo.entry("tiny_zoo_test_model").input_shape == (1, 1, 8, 8)
        with pytest.raises(ValueError, match="model 'tiny_zoo_test_model' is registered twice"):
            register_model(**meta)(tiny_zoo_test_model)
    finally:
        zoo.MODELS.pop("tiny_zoo_test_model", None)


def test_available_describes_every_model():
    names = zoo.available()
    assert list(names) == sorted(zoo.MODELS) and all(names.values())
    assert {"vgg16", "resnet50", "resnext50_32x4d", "mobilenet_v1", "mobilenet_v2",
            "shufflenet_v1", "shufflenet_v2", "xception", "unet", "deeplabv3", "wavenet",
            "c3d", "r2plus1d", "dcgan_generator", "espcn"} <= set(names)


_SLOW = {"c3d", "vgg16", "wavenet"}  # seconds of tracing at their reference inputs


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in _SLOW else n for n in sorted(zoo.MODELS)])
def test_declared_variants_are_what_summary_finds(name):
    """The zoo's tags are summary's own words for the model's layers (at the leaves or at a
    shallower depth); a model whose upsampler is configurable shows each with its option."""
    from convzoo.analysis import summary, trace

    e = zoo.entry(name)
    options = {"espcn": ["subpixel", "transposed", "resize_conv"],
               "unet": ["transposed", "subpixel", "resize_conv"]}.get(name, [None])
    found: set[str] = set()
    for upsampler in options:
        config = {} if upsampler is None else {"upsampler": upsampler}
        graph = trace(zoo.create(name, **config), e.input_shape)
        for depth in (None, 1, 2, 3, 4):
            found |= {row.kind for row in summary(graph, depth=depth).rows}
    assert set(e.variants) <= found, (name, e.variants, sorted(found))
